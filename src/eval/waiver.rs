//! Waivers: configured exceptions that keep a finding in reports but stop it from failing a
//! run. A waiver names a rule, optionally a code, a solution (glob) and a version, a required
//! reason, and an optional expiry date after which it no longer applies.

use serde::{Deserialize, Serialize};
use time::Date;

use super::finding::Finding;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub rule: String,
    pub code: Option<String>,
    /// Solution unique name; `*` and `?` globs allowed; case-insensitive.
    pub solution: String,
    pub version: Option<String>,
    pub reason: String,
    pub expires: Option<Date>,
    /// Where the waiver is written (`config.toml:12`), for messages.
    pub origin: String,
}

impl Waiver {
    /// Whether the waiver covers `finding` on solution `unique_name` at `version`, ignoring
    /// expiry.
    pub fn covers(&self, finding: &Finding, unique_name: &str, version: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.rule == finding.rule
            && self.code.as_ref().is_none_or(|c| *c == finding.code)
            && self
                .version
                .as_ref()
                .is_none_or(|v| v.trim() == version.trim())
            && glob::Pattern::new(&self.solution)
                .map(|p| p.matches_with(unique_name, options))
                .unwrap_or(false)
    }

    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|expires| expires < today)
    }

    pub fn describe(&self) -> String {
        let mut text = format!("waiver for {} on {}", self.rule, self.solution);
        if let Some(code) = &self.code {
            text = format!("waiver for {}/{code} on {}", self.rule, self.solution);
        }
        if let Some(version) = &self.version {
            text.push_str(&format!(" {version}"));
        }
        format!("{text} ({})", self.origin)
    }
}
