//! Policy metadata: the TOML front matter at the top of each policy file, in `//!` lines.
//!
//! ```text
//! //! id = "import-readiness"
//! //! severity = "error"
//! //! title = "Dataverse can import the package"
//! //! description = "What it checks and why."
//! //! help = "https://learn.microsoft.com/…"
//! //! hint = "How to fix what it finds."
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::diagnostic::{is_kebab_case, line_column, Severity};

/// What a policy declares about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    /// Unique kebab-case id, e.g. `version-compatibility`.
    pub id: String,
    /// Severity of its findings unless a finding or the config says otherwise.
    pub severity: Severity,
    pub title: String,
    /// What it checks and why.
    pub description: String,
    /// A link to documentation.
    #[serde(default)]
    pub help: Option<String>,
    /// How to fix what it finds, when findings carry no hint of their own.
    #[serde(default)]
    pub hint: Option<String>,
    /// `[codes]`: every finding code it emits, with what it means (and its severity when it
    /// differs from the policy's), for `solguard explain` and the SARIF rules.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeInfo>,
    /// `[params]`: the `[rules.ID.params]` keys it reads, with what each does.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// `needs = ["environments"]`: context entries without which the policy finds nothing.
    /// It is not run (nor compiled) unless at least one of them is present and not empty.
    #[serde(default)]
    pub needs: Vec<String>,
}

/// The context entries a policy's `needs` may name (what [`crate::eval`] puts in `context`).
pub const CONTEXT_KEYS: &[&str] = &[
    "previous",
    "installed",
    "twin",
    "other_form",
    "parent",
    "patches",
    "history",
    "targets",
    "environments",
    "deployment_settings",
];

/// What a finding code means: a sentence, or a table with its severity too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CodeInfo {
    Summary(String),
    Detailed {
        summary: String,
        #[serde(default)]
        severity: Option<Severity>,
    },
}

impl CodeInfo {
    pub fn summary(&self) -> &str {
        match self {
            Self::Summary(summary) | Self::Detailed { summary, .. } => summary,
        }
    }

    /// The code's own severity, if it differs from the policy's.
    pub fn severity(&self) -> Option<Severity> {
        match self {
            Self::Summary(_) => None,
            Self::Detailed { severity, .. } => *severity,
        }
    }
}

/// A problem in the front matter, at a line and column of the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads the front matter: the consecutive `//!` lines at the top of `source` (blank lines
/// may precede them). TOML line N is file line `first + N`.
pub fn parse_front_matter(source: &str) -> Result<PolicyMeta, MetaError> {
    let mut toml_text = String::new();
    let mut first_line = None;
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("//!") {
            first_line.get_or_insert(index);
            toml_text.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            toml_text.push('\n');
        } else if trimmed.is_empty() && first_line.is_none() {
            continue;
        } else {
            break;
        }
    }
    let Some(first_line) = first_line else {
        return Err(MetaError {
            line: 1,
            column: 1,
            message: "no metadata: a policy starts with `//!` lines holding id, severity, title, description and help or hint (TOML)".into(),
        });
    };
    let meta: PolicyMeta = toml::from_str(&toml_text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_column(&toml_text, span.start))
            .unwrap_or((1, 1));
        MetaError {
            line: first_line + line,
            column: column + 3,
            message: e.message().trim().to_owned(),
        }
    })?;
    let at_top = |message: String| MetaError {
        line: first_line + 1,
        column: 1,
        message,
    };
    if !is_kebab_case(&meta.id) {
        return Err(at_top(format!("policy id {:?} is not kebab-case", meta.id)));
    }
    if meta.help.is_none() && meta.hint.is_none() {
        return Err(at_top(
            "metadata needs a `help` link or a fix `hint`".into(),
        ));
    }
    if let Some(code) = meta.codes.keys().find(|c| !is_kebab_case(c)) {
        return Err(at_top(format!(
            "code {code:?} in [codes] is not kebab-case"
        )));
    }
    if let Some(key) = meta
        .needs
        .iter()
        .find(|k| !CONTEXT_KEYS.contains(&k.as_str()))
    {
        return Err(at_top(format!(
            "`needs` names {key:?}, which is not a context entry (known: {})",
            CONTEXT_KEYS.join(", ")
        )));
    }
    if meta.title.trim().is_empty() || meta.description.trim().is_empty() {
        return Err(at_top(
            "metadata needs a non-empty title and description".into(),
        ));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "//! id = \"demo-rule\"\n//! severity = \"warning\"\n//! title = \"Demo\"\n//! description = \"\"\"\n//! Checks a thing.\n//! \"\"\"\n//! hint = \"Fix it\"\n\nfn check(pkg, context) { [] }\n";

    #[test]
    fn front_matter_is_read() {
        let meta = parse_front_matter(GOOD).expect("valid");
        assert_eq!(meta.id, "demo-rule");
        assert_eq!(meta.severity, Severity::Warning);
        assert_eq!(meta.description.trim(), "Checks a thing.");
    }

    #[test]
    fn errors_name_the_file_line() {
        let bad = GOOD.replace("severity = \"warning\"", "severity = \"fatal\"");
        let error = parse_front_matter(&bad).expect_err("bad severity");
        assert_eq!(error.line, 2, "{error:?}");
        let unknown = GOOD.replace("//! hint", "//! colour = \"red\"\n//! hint");
        let error = parse_front_matter(&unknown).expect_err("unknown key");
        assert_eq!(error.line, 7, "{error:?}");
        assert!(error.message.contains("colour"), "{error:?}");
        let not_kebab = GOOD.replace("demo-rule", "Demo_Rule");
        assert!(parse_front_matter(&not_kebab)
            .expect_err("id")
            .message
            .contains("kebab"));
        assert!(parse_front_matter("fn check(p, c) {}").is_err());
        let needs = GOOD.replace("//! hint", "//! needs = [\"environment\"]\n//! hint");
        let error = parse_front_matter(&needs).expect_err("unknown context entry");
        assert!(error.message.contains("\"environment\""), "{error:?}");
        let needs = GOOD.replace("//! hint", "//! needs = [\"environments\"]\n//! hint");
        assert_eq!(
            parse_front_matter(&needs).expect("valid").needs,
            ["environments"]
        );
    }

    #[test]
    fn kebab_case() {
        assert!(is_kebab_case("newer-platform"));
        assert!(is_kebab_case("v2-check"));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b"] {
            assert!(!is_kebab_case(bad), "{bad}");
        }
    }
}
