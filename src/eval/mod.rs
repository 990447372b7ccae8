//! Evaluation: runs a policy set on a package with its previous accepted release, history,
//! targets and per-policy settings, applies severities and waivers, and yields findings and a
//! verdict. Policy outcomes are findings, never errors: a failing policy is a `policy-error`
//! finding and an unreadable package a `package-format` finding.

mod cases;
mod evaluator;
mod finding;
mod rules;
mod waiver;

pub use cases::{fixture_package, run_cases, CaseFile, CaseResult};
pub use evaluator::{EvalSettings, Evaluator, HistoryEntry, Related, RuleSettings, Target};
pub use finding::{
    is_accepted, Finding, Verdict, Waived, PACKAGE_FORMAT_RULE, POLICY_ERROR_CODE, WAIVERS_RULE,
};
pub use rules::RuleInfo;
pub use waiver::Waiver;
