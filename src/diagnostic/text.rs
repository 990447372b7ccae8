//! Package text made safe to show: a solution name or message from a package may hold control
//! characters (newlines that forge CI workflow commands such as `::error` or `##vso[...]`,
//! escape sequences that move a terminal's cursor) or bidirectional overrides that make text
//! read differently than it is. Shown visibly instead, as `\u{1b}`.

use std::borrow::Cow;

/// True for characters never shown raw: C0 and C1 controls, DEL, and bidirectional
/// formatting characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control and bidirectional character written as `\u{…}`.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            shown.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A path as logs and terminals show it: [`visible`], since a file name in a drop folder is
/// the dropper's text.
pub fn shown(path: &std::path::Path) -> String {
    visible(&path.display().to_string()).into_owned()
}

/// `text` fit for XML 1.0: characters it forbids (C0 controls other than tab, line feed and
/// carriage return, and U+FFFE/U+FFFF) written as `\u{…}`; markup is escaped by the writer.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    if !text.chars().any(forbidden) {
        return Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if forbidden(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_show_as_escapes() {
        assert_eq!(visible("Core"), "Core");
        assert_eq!(
            visible("a\n::error file=x::forged\u{1b}[2J\u{202e}"),
            "a\\u{a}::error file=x::forged\\u{1b}[2J\\u{202e}"
        );
        assert_eq!(xml_safe("bell\u{7}\ttab"), "bell\\u{7}\ttab");
    }
}
