//! What every rule in a run is: the policies (with their effective default severity) and
//! solguard's own checks (`package-format`, `waivers`). Reports use it to describe rules (SARIF
//! rule entries, JUnit test cases, HTML legends) without reaching into the policy engine.

use super::Evaluator;
use crate::diagnostic::{RuleInfo, PACKAGE_FORMAT_RULE, WAIVERS_RULE};
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
            })
            .collect();
        rules.push(RuleInfo::builtin(
            PACKAGE_FORMAT_RULE,
            Severity::Error,
            "The package can be read",
            "solguard reads the package before any policy runs: a file that is not a whole, valid solution package (corrupt or truncated zip, not a solution, malformed XML, unsafe entry names, zip bombs) cannot be imported or checked.",
            "Export the solution again from Dataverse, or repack it with `pac solution pack`.",
        ));
        rules.push(RuleInfo::builtin(
            WAIVERS_RULE,
            Severity::Warning,
            "Waivers are current and used",
            "Waivers in the configuration that have expired or that matched nothing in the run.",
            "Renew or remove the waiver in the configuration.",
        ));
        rules
    }
}
