//! Runs every enabled policy of a policy set on one package, with its previous release,
//! history, targets and per-policy parameters, then applies severities and waivers.
//! Synchronous and deterministic: the same inputs give the same findings in the same order.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Map};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Date;

use super::finding::{Finding, Waived, PACKAGE_FORMAT_RULE, POLICY_ERROR_CODE, WAIVERS_RULE};
use super::waiver::Waiver;
use crate::package::{Location, Package, PackageError};
use crate::policy::{PolicySet, ScriptPackage, Severity};

/// A configured target environment: policies compare packages against its platform version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub version: String,
}

/// Per-policy settings from the config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleSettings {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub params: toml::Table,
}

/// One accepted release of a solution, as policies see it in `context.history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: String,
    pub publisher: String,
    pub managed: String,
    pub sha256: Option<String>,
    /// RFC 3339 time the release was checked.
    pub when: String,
}

/// Releases related to the package being evaluated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Related<'a> {
    /// The last accepted release of the same solution.
    pub previous: Option<&'a Arc<Package>>,
    /// Accepted releases of the same solution, oldest first.
    pub history: &'a [HistoryEntry],
    /// For a patch: the last accepted release of its parent solution.
    pub parent: Option<&'a Arc<Package>>,
}

/// Everything an evaluation needs besides the packages.
#[derive(Debug, Clone, Default)]
pub struct EvalSettings {
    pub rules: BTreeMap<String, RuleSettings>,
    pub targets: Vec<Target>,
    pub waivers: Vec<Waiver>,
}

/// Evaluates packages against a policy set; keeps which waivers were used.
pub struct Evaluator<'a> {
    policies: &'a PolicySet,
    settings: EvalSettings,
    today: Date,
    waivers_used: Vec<bool>,
}

impl<'a> Evaluator<'a> {
    pub fn new(policies: &'a PolicySet, settings: EvalSettings, today: Date) -> Self {
        let waivers_used = vec![false; settings.waivers.len()];
        Self {
            policies,
            settings,
            today,
            waivers_used,
        }
    }

    /// Identifies the policies, engine, limits and effective per-policy settings (hex SHA-256):
    /// the same hash means the same rules were applied.
    pub fn policy_set_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.policies.hash().as_bytes());
        for (id, rule) in &self.settings.rules {
            hasher.update(format!("\n{id}:{rule:?}"));
        }
        hex::encode(hasher.finalize())
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

    /// Runs every enabled policy on `package`. `previous` is the last accepted release of the
    /// same solution; `history` lists its accepted releases, oldest first.
    pub fn evaluate(
        &mut self,
        package: &Arc<Package>,
        previous: Option<&Arc<Package>>,
        history: &[HistoryEntry],
    ) -> Vec<Finding> {
        let related = Related {
            previous,
            history,
            parent: None,
        };
        self.evaluate_related(package, &related)
    }

    /// Like [`Evaluator::evaluate`], with the parent solution's last accepted release for a
    /// patch (`context.parent`).
    pub fn evaluate_related(
        &mut self,
        package: &Arc<Package>,
        related: &Related<'_>,
    ) -> Vec<Finding> {
        let script = |p: Option<&Arc<Package>>| {
            p.map_or(Dynamic::UNIT, |p| {
                Dynamic::from(ScriptPackage(Arc::clone(p)))
            })
        };
        let script_package = script(Some(package));
        let previous = script(related.previous);
        let parent = script(related.parent);
        let history = rhai::serde::to_dynamic(related.history).unwrap_or(Dynamic::UNIT);
        let targets = rhai::serde::to_dynamic(&self.settings.targets).unwrap_or(Dynamic::UNIT);
        let mut findings = Vec::new();
        for policy in self.policies.policies() {
            let id = policy.meta.id.as_str();
            if !self.enabled(id) {
                continue;
            }
            let rule = self.settings.rules.get(id);
            let params = rule
                .map(|r| rhai::serde::to_dynamic(&r.params).unwrap_or(Dynamic::UNIT))
                .unwrap_or_else(|| Dynamic::from_map(Map::new()));
            let mut context = Map::new();
            context.insert("previous".into(), previous.clone());
            context.insert("parent".into(), parent.clone());
            context.insert("history".into(), history.clone());
            context.insert("targets".into(), targets.clone());
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
                        waived: None,
                    }
                })),
                Err(failure) => findings.push(Finding {
                    rule: id.to_owned(),
                    code: POLICY_ERROR_CODE.into(),
                    severity: Severity::Error,
                    message: format!("policy {id} failed: {failure}"),
                    location: None,
                    hint: Some(format!(
                        "Fix the policy script {}; the other policies still ran.",
                        policy.origin
                    )),
                    waived: None,
                }),
            }
        }
        self.apply_waivers(&package.unique_name, &package.version, findings)
    }

    /// The finding for a package that cannot be read at all.
    pub fn unreadable(&mut self, error: &PackageError) -> Vec<Finding> {
        let location = error.file().map(|file| Location {
            file: file.into(),
            line: error.line().unwrap_or(1),
        });
        let name = error
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.unreadable_as(&name, error.code(), &error.to_string(), location)
    }

    /// The `package-format` finding for the file `name` that could not be read, from the
    /// error's code, message and location (as kept by a cache).
    pub fn unreadable_as(
        &mut self,
        name: &str,
        code: &str,
        message: &str,
        location: Option<Location>,
    ) -> Vec<Finding> {
        let finding = Finding {
            rule: PACKAGE_FORMAT_RULE.into(),
            code: code.into(),
            severity: Severity::Error,
            message: message.into(),
            location,
            hint: Some("Check the file: it must be a solution exported from Dataverse, complete and unmodified.".into()),
            waived: None,
        };
        self.apply_waivers(name, "", vec![finding])
    }

    fn apply_waivers(
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
                        extra.push(Finding {
                            rule: WAIVERS_RULE.into(),
                            code: "waiver-expired".into(),
                            severity: Severity::Warning,
                            message: format!(
                                "{} expired on {}; it no longer applies to {} {}",
                                waiver.describe(),
                                waiver.expires.map(|d| d.to_string()).unwrap_or_default(),
                                finding.rule,
                                finding.code
                            ),
                            location: None,
                            hint: Some("Fix the finding, or renew the waiver with a new reason and expiry date.".into()),
                            waived: None,
                        });
                    }
                    continue;
                }
                self.waivers_used[index] = true;
                finding.waived = Some(Waived {
                    reason: waiver.reason.clone(),
                    expires: waiver.expires.map(|d| d.to_string()),
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
            .map(|(waiver, _)| Finding {
                rule: WAIVERS_RULE.into(),
                code: "waiver-unused".into(),
                severity: Severity::Info,
                message: format!("{} matched no finding in this run", waiver.describe()),
                location: None,
                hint: Some("Remove the waiver if the finding it covered is gone.".into()),
                waived: None,
            })
            .collect()
    }
}
