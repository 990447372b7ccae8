//! What every rule in a run is: the policies (with their effective default severity) and
//! solguard's own checks (`package-format`, `waivers`). Reports use it to describe rules (SARIF
//! rule entries, JUnit test cases, HTML legends) without reaching into the policy engine.

use super::Evaluator;
use crate::diagnostic::{CodeDoc, RuleInfo, PACKAGE_FORMAT_RULE, POLICY_ERROR_CODE, WAIVERS_RULE};
use crate::package::PackageErrorKind;
use crate::policy::Severity;

impl Evaluator<'_> {
    /// The enabled policies, then solguard's own checks.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let mut rules: Vec<RuleInfo> = self
            .policies()
            .policies()
            .iter()
            .filter(|p| self.enabled(&p.meta.id))
            .map(|p| RuleInfo {
                id: p.meta.id.clone(),
                title: p.meta.title.clone(),
                description: p.meta.description.trim().to_owned(),
                severity: self
                    .settings()
                    .rules
                    .get(&p.meta.id)
                    .and_then(|r| r.severity)
                    .unwrap_or(p.meta.severity),
                help: p.meta.help.clone(),
                hint: p.meta.hint.clone(),
                policy: true,
                codes: policy_codes(&p.meta),
                params: p.meta.params.clone(),
            })
            .collect();
        rules.push(RuleInfo::builtin(
            PACKAGE_FORMAT_RULE,
            Severity::Error,
            "The package can be read",
            "solguard reads the package before any policy runs: a file that is not a whole, valid solution package (corrupt or truncated zip, not a solution, malformed XML, unsafe entry names, zip bombs) cannot be imported or checked.",
            "Export the solution again from Dataverse, or repack it with `pac solution pack`.",
        ).with_codes(
            PackageErrorKind::CODES
                .iter()
                .map(|(code, summary)| CodeDoc::new(code, summary, None))
                .collect(),
        ));
        rules.push(RuleInfo::builtin(
            WAIVERS_RULE,
            Severity::Warning,
            "Waivers are current and used",
            "Waivers in the configuration that have expired or that matched nothing in the run.",
            "Renew or remove the waiver in the configuration.",
        ).with_codes(vec![
            CodeDoc::new("waiver-expired", "A waiver's `expires` date has passed: it no longer applies, and the finding it covered counts again.", None),
            CodeDoc::new("waiver-unused", "A waiver matched no finding in the run: the problem it covered is gone, or the waiver is mistyped.", Some(Severity::Info)),
        ]));
        rules
    }
}

/// A policy's declared codes, then the two every policy can have: the engine's own.
fn policy_codes(meta: &crate::policy::PolicyMeta) -> Vec<CodeDoc> {
    let mut codes: Vec<CodeDoc> = meta
        .codes
        .iter()
        .map(|(code, info)| CodeDoc::new(code, info.summary(), info.severity()))
        .collect();
    codes.push(CodeDoc::new(
        POLICY_ERROR_CODE,
        "The policy failed while it ran (a script error, or its time, output or memory budget exceeded); the other policies still ran.",
        Some(Severity::Error),
    ));
    codes.push(CodeDoc::new(
        "findings-truncated",
        "The policy returned more findings than the limit for one package; the first ones are kept.",
        Some(Severity::Warning),
    ));
    codes
}
