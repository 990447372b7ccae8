//! Runs every enabled policy of a policy set on one package in its lineage (the releases it is
//! compared with), with targets and per-policy parameters, applies severities, and passes
//! findings through the configured waivers. Synchronous and deterministic: the same inputs give
//! the same findings in the same order.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::config::EvalSettings;
use crate::diagnostic::POLICY_ERROR_CODE;
use crate::diagnostic::{Finding, Location, Severity, Waived, PACKAGE_FORMAT_RULE, WAIVERS_RULE};
use crate::package::{ManagedState, Package, PackageError};
use crate::policy::{PolicySet, ScriptPackage};

/// One accepted release of a solution, as policies see it in `context.history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: String,
    pub publisher: String,
    pub managed: ManagedState,
    pub sha256: Option<String>,
    /// When the release was accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub when: OffsetDateTime,
    /// Export time read from the zip (no time zone), when known.
    pub exported_at: Option<PrimitiveDateTime>,
    /// For a patch: the unique name of its parent solution.
    pub patch_of: Option<String>,
}

/// The releases a package is evaluated against: its place in its solution's lineage. Built by
/// the pipeline from the history (or the run); what each field holds is in `lib.rs`'s lineage
/// notes and the README.
#[derive(Debug, Clone, Default)]
pub struct Related {
    /// The last accepted release of the same unique name in the same form (managed or
    /// unmanaged): what versions are compared with.
    pub previous: Option<Arc<Package>>,
    /// What the target holds before this release: `previous`, plus for a new base release the
    /// accepted patches of that base merged in. What data-loss checks compare with.
    pub installed: Option<Arc<Package>>,
    /// The accepted release of the same version in the other form (its managed/unmanaged twin).
    pub twin: Option<Arc<Package>>,
    /// The last accepted release of the same unique name in the other form.
    pub other_form: Option<Arc<Package>>,
    /// For a patch: the current accepted base release of its parent solution.
    pub parent: Option<Arc<Package>>,
    /// Accepted patches of the same base (for a patch: its parent's other patches; for a base
    /// release: the patches of the base it replaces), newest version of each.
    pub patches: Vec<Arc<Package>>,
    /// Accepted releases of the same unique name, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Evaluates packages against a policy set; keeps which waivers were used.
pub struct Evaluator<'a> {
    policies: &'a PolicySet,
    settings: EvalSettings,
    today: Date,
    waivers_used: Vec<bool>,
    policy_set: String,
}

fn script(package: Option<&Arc<Package>>) -> Dynamic {
    package.map_or(Dynamic::UNIT, |p| {
        Dynamic::from(ScriptPackage(Arc::clone(p)))
    })
}

impl<'a> Evaluator<'a> {
    pub fn new(policies: &'a PolicySet, settings: EvalSettings, today: Date) -> Self {
        let waivers_used = vec![false; settings.waivers.len()];
        let policy_set = policy_set_hash(policies, &settings);
        Self {
            policies,
            settings,
            today,
            waivers_used,
            policy_set,
        }
    }

    /// Identifies everything that changes a verdict (hex SHA-256): the policies, the engine and
    /// its limits, the per-policy settings, the targets and the waivers. The same hash means
    /// the same rules were applied.
    pub fn policy_set_hash(&self) -> String {
        self.policy_set.clone()
    }

    pub fn settings(&self) -> &EvalSettings {
        &self.settings
    }

    pub fn policies(&self) -> &PolicySet {
        self.policies
    }

    pub(super) fn enabled(&self, id: &str) -> bool {
        self.settings
            .rules
            .get(id)
            .and_then(|r| r.enabled)
            .unwrap_or(true)
    }

    /// Compiles now the enabled policies that will run whatever the package's lineage holds
    /// (those without `needs`, or needing settings this run has), so that a driver can do it
    /// while its first package is read. A policy that fails to compile is reported when run.
    pub fn prepare(&self) {
        let context = self.context_base(&Related::default());
        let _ = self.policies.compile_where(|policy| {
            self.enabled(&policy.meta.id) && needs_met(&context, &policy.meta.needs)
        });
    }

    /// Runs every enabled policy on `package` in its lineage. The findings are not waived yet:
    /// the caller adds its own checks and passes them all through [`Evaluator::waive`].
    pub fn evaluate(&mut self, package: &Arc<Package>, related: &Related) -> Vec<Finding> {
        let base = self.context_base(related);
        let script_package = script(Some(package));
        let mut findings = Vec::new();
        for policy in self.policies.policies() {
            let id = policy.meta.id.as_str();
            if !self.enabled(id) || !needs_met(&base, &policy.meta.needs) {
                continue;
            }
            let rule = self.settings.rules.get(id);
            let params = rule
                .map(|r| rhai::serde::to_dynamic(&r.params).unwrap_or(Dynamic::UNIT))
                .unwrap_or_else(|| Dynamic::from_map(Map::new()));
            let mut context = base.clone();
            context.insert("params".into(), params);
            let started = std::time::Instant::now();
            let outcome = self.policies.run(policy, script_package.clone(), context);
            tracing::debug!(
                policy = id,
                elapsed_us = started.elapsed().as_micros() as u64,
                "Policy ran"
            );
            match outcome {
                Ok(emitted) => findings.extend(emitted.into_iter().map(|e| {
                    Finding {
                        rule: id.to_owned(),
                        code: e.code,
                        severity: rule
                            .and_then(|r| r.severity)
                            .or(e.severity)
                            .unwrap_or(policy.meta.severity),
                        message: e.message,
                        location: e.location,
                        hint: e.hint.or_else(|| policy.meta.hint.clone()),
                        environment: e.environment,
                        waived: None,
                    }
                })),
                Err(failure) => findings.push(
                    Finding::new(
                        id,
                        POLICY_ERROR_CODE,
                        Severity::Error,
                        format!("policy {id} failed: {failure}"),
                    )
                    .with_hint(format!(
                        "Fix the policy script {}; the other policies still ran.",
                        policy.origin
                    )),
                ),
            }
        }
        findings
    }

    /// The context map every policy shares, before its own `params` (its keys are
    /// [`crate::policy::CONTEXT_KEYS`]).
    fn context_base(&self, related: &Related) -> Map {
        let mut context = Map::new();
        context.insert("previous".into(), script(related.previous.as_ref()));
        context.insert("installed".into(), script(related.installed.as_ref()));
        context.insert("twin".into(), script(related.twin.as_ref()));
        context.insert("other_form".into(), script(related.other_form.as_ref()));
        context.insert("parent".into(), script(related.parent.as_ref()));
        let patches: Array = related.patches.iter().map(|p| script(Some(p))).collect();
        context.insert("patches".into(), patches.into());
        context.insert(
            "history".into(),
            rhai::serde::to_dynamic(&related.history).unwrap_or(Dynamic::UNIT),
        );
        context.insert(
            "targets".into(),
            rhai::serde::to_dynamic(&self.settings.targets.targets).unwrap_or(Dynamic::UNIT),
        );
        context.insert(
            "environments".into(),
            rhai::serde::to_dynamic(&self.settings.targets.environments).unwrap_or(Dynamic::UNIT),
        );
        context.insert(
            "deployment_settings".into(),
            rhai::serde::to_dynamic(&self.settings.targets.deployment_settings)
                .unwrap_or(Dynamic::UNIT),
        );
        context
    }

    /// The `package-format` finding for a package that cannot be read at all (not waived yet).
    pub fn unreadable(error: &PackageError) -> Finding {
        let location = error.file().map(|file| Location {
            package: None,
            file: file.into(),
            line: error.line().unwrap_or(1),
        });
        Self::unreadable_as(error.code(), &error.to_string(), location)
    }

    /// The `package-format` finding from an error's code, message and location (as kept by a
    /// cache).
    pub fn unreadable_as(code: &str, message: &str, location: Option<Location>) -> Finding {
        Finding::new(PACKAGE_FORMAT_RULE, code, Severity::Error, message)
            .at(location)
            .with_hint(
                "Check the file: it must be a solution exported from Dataverse, complete and unmodified.",
            )
    }

    /// Passes `findings` about solution `unique_name` at `version` through the waivers: a
    /// covering waiver marks a finding waived; an expired one adds a `waiver-expired` warning.
    pub fn waive(
        &mut self,
        unique_name: &str,
        version: &str,
        mut findings: Vec<Finding>,
    ) -> Vec<Finding> {
        let mut expired_reported = Vec::new();
        let mut extra = Vec::new();
        for finding in &mut findings {
            for (index, waiver) in self.settings.waivers.iter().enumerate() {
                if !waiver.covers(finding, unique_name, version) {
                    continue;
                }
                if waiver.is_expired(self.today) {
                    if !expired_reported.contains(&index) {
                        expired_reported.push(index);
                        self.waivers_used[index] = true;
                        extra.push(
                            Finding::new(
                                WAIVERS_RULE,
                                "waiver-expired",
                                Severity::Warning,
                                format!(
                                    "{} expired on {}; it no longer applies to {} {}",
                                    waiver.describe(),
                                    waiver.expires.map(|d| d.to_string()).unwrap_or_default(),
                                    finding.rule,
                                    finding.code
                                ),
                            )
                            .with_hint("Fix the finding, or renew the waiver with a new reason and expiry date."),
                        );
                    }
                    continue;
                }
                self.waivers_used[index] = true;
                finding.waived = Some(Waived {
                    reason: waiver.reason.clone(),
                    expires: waiver.expires,
                });
                break;
            }
        }
        findings.extend(extra);
        findings
    }

    /// Info findings for waivers that matched nothing in this run.
    pub fn unused_waivers(&self) -> Vec<Finding> {
        self.settings
            .waivers
            .iter()
            .zip(&self.waivers_used)
            .filter(|(_, used)| !**used)
            .map(|(waiver, _)| {
                Finding::new(
                    WAIVERS_RULE,
                    "waiver-unused",
                    Severity::Info,
                    format!("{} matched no finding in this run", waiver.describe()),
                )
                .with_hint("Remove the waiver if the finding it covered is gone.")
            })
            .collect()
    }
}

/// The hash of everything that decides a verdict: see [`Evaluator::policy_set_hash`].
pub fn policy_set_hash(policies: &PolicySet, settings: &EvalSettings) -> String {
    let mut hasher = Sha256::new();
    hasher.update(policies.hash().as_bytes());
    for (id, rule) in &settings.rules {
        hasher.update(format!("\nrule {id}:{rule:?}"));
    }
    let mut targets: Vec<String> = settings
        .targets
        .targets
        .iter()
        .map(|t| format!("\ntarget {}={}", t.name, t.version))
        .collect();
    targets.sort();
    for target in targets {
        hasher.update(target);
    }
    for environment in &settings.targets.environments {
        // What is installed decides environment findings: the whole snapshot counts.
        hasher.update(format!("\nenvironment {environment:?}"));
    }
    for deployment in &settings.targets.deployment_settings {
        // Only whether each value is filled in is kept, so no secret reaches the hash input.
        hasher.update(format!("\ndeployment settings {deployment:?}"));
    }
    for waiver in &settings.waivers {
        // The origin (file:line) moves with edits elsewhere in the file; what it waives does not.
        hasher.update(format!(
            "\nwaiver {}|{:?}|{}|{:?}|{}|{:?}",
            waiver.rule,
            waiver.code,
            waiver.solution,
            waiver.version,
            waiver.reason,
            waiver.expires
        ));
    }
    hex::encode(hasher.finalize())
}

/// Whether the context holds at least one of a policy's `needs` (none declared: always), that
/// is present and not empty.
fn needs_met(context: &Map, needs: &[String]) -> bool {
    needs.is_empty()
        || needs.iter().any(|key| {
            context.get(key.as_str()).is_some_and(|value| {
                if value.is_unit() {
                    false
                } else if let Some(array) = value.read_lock::<Array>() {
                    !array.is_empty()
                } else if let Some(map) = value.read_lock::<Map>() {
                    !map.is_empty()
                } else {
                    true
                }
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_holds_exactly_the_entries_needs_may_name() {
        let policies = PolicySet::from_files(Vec::new(), Vec::new(), Default::default())
            .expect("an empty set loads");
        let evaluator = Evaluator::new(&policies, EvalSettings::default(), Date::MIN);
        let mut keys: Vec<String> = evaluator
            .context_base(&Related::default())
            .keys()
            .map(|k| k.to_string())
            .collect();
        keys.sort();
        let mut known: Vec<&str> = crate::policy::CONTEXT_KEYS.to_vec();
        known.sort_unstable();
        assert_eq!(keys, known);
    }
}
