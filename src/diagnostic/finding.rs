//! Findings and verdicts: what a rule found on one package, whether a waiver covers it, and the
//! overall result it adds up to; and how a rule describes itself to reports.

use serde::{Deserialize, Serialize};

use super::{Location, Severity};

/// Rule id of findings about packages that cannot be read at all.
pub const PACKAGE_FORMAT_RULE: &str = "package-format";
/// Code of findings about a policy that failed to run.
pub const POLICY_ERROR_CODE: &str = "policy-error";
/// Rule id of findings about waivers themselves.
pub const WAIVERS_RULE: &str = "waivers";
/// Rule id of findings about a repository's files themselves (audits).
pub const REPOSITORY_RULE: &str = "repository";

/// One thing a rule found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    pub hint: Option<String>,
    /// The target environment the finding is about (`None`: about the package wherever it
    /// goes); it decides the package's verdict against that environment only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Set when a waiver in the config covers this finding.
    pub waived: Option<Waived>,
}

/// Why a finding does not count against the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Waived {
    pub reason: String,
    /// The waiver's last day, `2027-03-31`.
    #[serde(default, with = "expiry")]
    #[schemars(with = "Option<String>", extend("format" = "date"))]
    pub expires: Option<time::Date>,
}

/// A waiver's expiry as an ISO date. Reports and history rows before schema version 3 wrote
/// `time`'s default `[year, day of year]`; both read back.
mod expiry {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        iso_date::option::serialize(date, serializer)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Iso(String),
        Ordinal(i32, u16),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Date>, D::Error> {
        let written: Option<Written> = Option::deserialize(deserializer)?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        match written {
            None => Ok(None),
            Some(Written::Iso(text)) => Date::parse(&text, format)
                .map(Some)
                .map_err(serde::de::Error::custom),
            Some(Written::Ordinal(year, day)) => Date::from_ordinal_date(year, day)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Finding {
    /// A finding of `rule`/`code` with no location, hint or waiver yet.
    pub fn new(rule: &str, code: &str, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            code: code.into(),
            severity,
            message: message.into(),
            location: None,
            hint: None,
            environment: None,
            waived: None,
        }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Whether it bears on a package's fit for `environment`: it is about that environment, or
    /// about the package wherever it goes.
    pub fn concerns(&self, environment: &str) -> bool {
        self.environment.as_deref().is_none_or(|e| e == environment)
    }

    /// Whether it counts against the verdict (no waiver covers it).
    pub fn counts(&self) -> bool {
        self.waived.is_none()
    }
}

/// The overall result for one package.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    /// `fail` with an unwaived error, `warn` with an unwaived warning, else `pass`.
    pub fn of(findings: &[Finding]) -> Self {
        Self::of_each(findings)
    }

    /// [`Verdict::of`] over any selection of findings.
    pub fn of_each<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Self {
        let worst = findings
            .into_iter()
            .filter(|f| f.counts())
            .map(|f| f.severity)
            .max();
        match worst {
            Some(Severity::Error) => Self::Fail,
            Some(Severity::Warning) => Self::Warn,
            _ => Self::Pass,
        }
    }

    /// The verdict [`Verdict::as_str`] wrote (anything unknown reads as `pass`).
    pub fn from_stored(text: &str) -> Self {
        match text {
            "fail" => Self::Fail,
            "warn" => Self::Warn,
            _ => Self::Pass,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A package is accepted (becomes part of its solution's lineage for later releases) when
/// nothing unwaived is an error, an error about a target environment included: a release that
/// cannot go to the target is not what the target will hold, so the next release is compared
/// with the last one that could.
pub fn is_accepted(findings: &[Finding]) -> bool {
    !findings
        .iter()
        .any(|f| f.counts() && f.severity == Severity::Error)
}

/// One rule as reports describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Severity of its findings unless a finding says otherwise (after config overrides).
    pub severity: Severity,
    pub help: Option<String>,
    pub hint: Option<String>,
    /// A policy (false for solguard's own checks).
    pub policy: bool,
    /// Every finding code the rule emits, with what it means.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<CodeDoc>,
    /// The `[rules.ID.params]` keys it reads, with what each does.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub params: std::collections::BTreeMap<String, String>,
}

/// One finding code of a rule, as `solguard explain` and the SARIF rules describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CodeDoc {
    pub code: String,
    pub summary: String,
    /// The code's severity when it differs from the rule's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl CodeDoc {
    pub fn new(code: &str, summary: &str, severity: Option<Severity>) -> Self {
        Self {
            code: code.into(),
            summary: summary.into(),
            severity,
        }
    }
}

impl RuleInfo {
    /// One of solguard's own checks.
    pub fn builtin(
        id: &str,
        severity: Severity,
        title: &str,
        description: &str,
        hint: &str,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            description: description.into(),
            severity,
            help: None,
            hint: Some(hint.into()),
            policy: false,
            codes: Vec::new(),
            params: std::collections::BTreeMap::new(),
        }
    }

    pub fn with_codes(mut self, codes: Vec<CodeDoc>) -> Self {
        self.codes = codes;
        self
    }

    /// The documentation of `code`, if the rule declares it.
    pub fn code(&self, code: &str) -> Option<&CodeDoc> {
        self.codes.iter().find(|c| c.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::Waived;

    #[test]
    fn an_expiry_is_written_as_an_iso_date_and_read_in_either_form() {
        let date = time::Date::from_calendar_date(2099, time::Month::March, 31).ok();
        let waived = Waived {
            reason: "r".into(),
            expires: date,
        };
        let text = serde_json::to_string(&waived).expect("json");
        assert_eq!(text, r#"{"reason":"r","expires":"2099-03-31"}"#);
        let back: Waived = serde_json::from_str(&text).expect("iso");
        assert_eq!(back.expires, date);
        // Rows written before schema version 3: [year, day of year].
        let old: Waived =
            serde_json::from_str(r#"{"reason":"r","expires":[2099,90]}"#).expect("ordinal");
        assert_eq!(old.expires, date);
        let none: Waived = serde_json::from_str(r#"{"reason":"r"}"#).expect("no expiry");
        assert_eq!(none.expires, None);
    }
}
