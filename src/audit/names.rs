//! The version a release file's name claims, as exports and release scripts name them:
//! `Contoso_1_2_0_3_managed.zip`, `Theming_1_1.zip`, `Contoso_1.2.0.3.zip`. Suffixes that
//! are not part of the version (`_managed`, `_unmanaged`, `_target_CRM_8.0`, a trailing
//! `__<commit>`) are ignored.

use crate::package::SolutionVersion;

fn strip_suffix_ci<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(split) && text[split..].eq_ignore_ascii_case(suffix))
        .then(|| &text[..split])
}

/// The version in a release file name, if it carries one (two to four parts).
pub fn file_name_version(file_name: &str) -> Option<SolutionVersion> {
    let mut stem = strip_suffix_ci(file_name, ".zip").unwrap_or(file_name);
    if let Some((head, tail)) = stem.rsplit_once("__") {
        if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_hexdigit()) {
            stem = head;
        }
    }
    if let Some(at) = stem.to_ascii_lowercase().find("_target_") {
        stem = &stem[..at];
    }
    for suffix in ["_unmanaged", "_managed"] {
        if let Some(head) = strip_suffix_ci(stem, suffix) {
            stem = head;
            break;
        }
    }
    let tokens: Vec<&str> = stem.split('_').collect();
    if let Some(last) = tokens.last().filter(|t| t.contains('.')) {
        return SolutionVersion::parse(last).ok();
    }
    let numeric: Vec<&str> = tokens
        .iter()
        .rev()
        .take_while(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .copied()
        .collect();
    if !(2..=4).contains(&numeric.len()) || numeric.len() == tokens.len() {
        return None;
    }
    let dotted: Vec<&str> = numeric.into_iter().rev().collect();
    SolutionVersion::parse(&dotted.join(".")).ok()
}
