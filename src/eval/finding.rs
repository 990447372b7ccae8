//! Findings and verdicts: the outcome of evaluating policies on one package.

use serde::{Deserialize, Serialize};

use crate::package::Location;
use crate::policy::Severity;

/// Rule id of findings about packages that cannot be read at all.
pub const PACKAGE_FORMAT_RULE: &str = "package-format";
/// Code of findings about a policy that failed to run.
pub const POLICY_ERROR_CODE: &str = "policy-error";
/// Rule id of findings about waivers themselves.
pub const WAIVERS_RULE: &str = "waivers";

/// One thing a policy found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
    pub hint: Option<String>,
    /// Set when a waiver in the config covers this finding.
    pub waived: Option<Waived>,
}

/// Why a finding does not count against the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waived {
    pub reason: String,
    pub expires: Option<String>,
}

impl Finding {
    pub fn counts(&self) -> bool {
        self.waived.is_none()
    }
}

/// The overall result for one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    /// `fail` with an unwaived error, `warn` with an unwaived warning, else `pass`.
    pub fn of(findings: &[Finding]) -> Self {
        let worst = findings
            .iter()
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

/// A package is accepted (becomes `previous` for later releases) when nothing unwaived is an
/// error.
pub fn is_accepted(findings: &[Finding]) -> bool {
    !findings
        .iter()
        .any(|f| f.counts() && f.severity == Severity::Error)
}
