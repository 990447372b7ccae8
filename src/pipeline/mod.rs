//! The one place that evaluates a package in its context. Every driver (`check`, `watch`,
//! `audit`, the daemon's scheduled audits, `policy test`) goes through it:
//!
//! 1. [`Rules::load`] compiles the rules once, always with the configured sandbox limits;
//! 2. [`Pipeline::assess`] finds the package's place in its [`Lineage`] (store-backed,
//!    in-run, or per audit stream), runs the policies, passes **every** finding (policies',
//!    `package-format`, the drivers' own such as `file-name-mismatch`) through the waivers,
//!    and yields one [`Assessment`];
//! 3. [`publish`] writes what a driver keeps of it: report files, queued alerts and the history
//!    record, in one transaction where the daemon needs it.
//!
//! Drivers only choose which packages, in what [`order`], against which history.

mod cases;
mod lineage;
pub mod order;
mod publish;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::assessment::Assessment;
use crate::config::{Config, EvalSettings};
use crate::diagnostic::{Finding, Location, RuleInfo};
use crate::eval::{policy_set_hash, Evaluator, Related};
use crate::history::HistoryError;
use crate::package::{diff, ManagedState, Package, PackageError};
use crate::policy::{PolicySet, SandboxLimits};
use crate::report::{Report, SolutionHistory};

pub use cases::{fixture_package, run_cases, CaseFile};
pub use lineage::{
    history_entry, related_from, same_form, InRunLineage, Lineage, ReleaseSource, ResolvedLineage,
    StoredLineage,
};
pub use publish::{
    publish_audit, publish_package, report_formats, Outputs, PipelineError, Published,
};
pub use run::{check_packages, solution_histories};

/// Why the rules of a run cannot be loaded: the run stops (exit 2; the daemon keeps its
/// previous rules on a reload).
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Policies(#[from] crate::policy::PolicyLoadError),
    #[error("{at}: `{key}`: no policy has the id {id:?} (known: {known})")]
    UnknownRule {
        at: String,
        key: String,
        id: String,
        known: String,
    },
}

/// A compiled policy set, loaded once for a run (or a daemon's rules snapshot).
pub struct Rules {
    policies: PolicySet,
}

impl Rules {
    /// Compiles the shipped policies plus those in `override_dir`, else in the configured
    /// folder, with the sandbox limits the config sets.
    pub fn load(config: &Config, override_dir: Option<&Path>) -> Result<Self, RulesError> {
        let policies = PolicySet::load(
            override_dir.or(config.policies_dir.as_deref()),
            sandbox_limits(config),
        )?;
        // A setting for a rule that does not exist is a typo that would silently do nothing.
        if let Some(section) = config
            .rule_sections
            .iter()
            .find(|s| policies.get(&s.id).is_none())
        {
            return Err(RulesError::UnknownRule {
                at: section.at.clone(),
                key: section.key.clone(),
                id: section.id.clone(),
                known: policies.ids().join(", "),
            });
        }
        Ok(Self { policies })
    }

    /// These rules with every policy compiled now, for a process that runs them many times.
    pub fn compiled(self) -> Result<Self, RulesError> {
        self.policies.compile_all()?;
        Ok(self)
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The hash of the policies and engine alone.
    pub fn hash(&self) -> &str {
        self.policies.hash()
    }

    pub fn ids(&self) -> Vec<&str> {
        self.policies.ids()
    }

    /// The hash of everything that decides a verdict under `settings` (as reports show it).
    pub fn policy_set(&self, settings: &EvalSettings) -> String {
        policy_set_hash(&self.policies, settings)
    }

    /// A pipeline that evaluates with these rules and `settings`.
    pub fn pipeline(&self, settings: EvalSettings) -> Pipeline<'_> {
        Pipeline::new(
            &self.policies,
            settings,
            time::OffsetDateTime::now_utc().date(),
        )
    }
}

/// The default sandbox limits with the config's time budget.
pub fn sandbox_limits(config: &Config) -> SandboxLimits {
    let mut limits = SandboxLimits::default();
    if let Some(budget) = config.time_budget {
        limits.time_budget = budget;
    }
    limits
}

/// One package to assess: where it was found, what reading it gave, and the driver's own
/// findings about it (they are waived like any other).
pub struct Input {
    pub path: PathBuf,
    pub read: Result<Arc<Package>, Finding>,
    pub checks: Vec<Finding>,
}

impl Input {
    pub fn read(path: PathBuf, result: Result<Package, PackageError>) -> Self {
        let read = result
            .map(Arc::new)
            .map_err(|error| Evaluator::unreadable(&error));
        if let Err(finding) = &read {
            tracing::debug!(path = %path.display(), code = %finding.code, "Package unreadable");
        }
        Self {
            path,
            read,
            checks: Vec::new(),
        }
    }

    pub fn package(path: PathBuf, package: Arc<Package>) -> Self {
        Self {
            path,
            read: Ok(package),
            checks: Vec::new(),
        }
    }

    /// A package that could not be read, from the error's code, message and location as a
    /// cache kept them.
    pub fn unreadable_as(
        path: PathBuf,
        code: &str,
        message: &str,
        location: Option<Location>,
    ) -> Self {
        Self::unreadable(path, Evaluator::unreadable_as(code, message, location))
    }

    pub fn unreadable(path: PathBuf, finding: Finding) -> Self {
        Self {
            path,
            read: Err(finding),
            checks: Vec::new(),
        }
    }

    pub fn with_checks(mut self, checks: Vec<Finding>) -> Self {
        self.checks = checks;
        self
    }
}

/// An assessment with the model it was made of (absent for unreadable packages), which the
/// history keeps.
pub struct Assessed {
    pub assessment: Assessment,
    pub package: Option<Arc<Package>>,
}

/// Evaluates packages under one policy set and one set of settings.
pub struct Pipeline<'p> {
    evaluator: Evaluator<'p>,
    /// The target environments each package gets a verdict against.
    environments: Vec<String>,
}

impl<'p> Pipeline<'p> {
    pub fn new(policies: &'p PolicySet, settings: EvalSettings, today: time::Date) -> Self {
        Self {
            environments: settings.targets.names(),
            evaluator: Evaluator::new(policies, settings, today),
        }
    }

    /// Compiles the policies every package will run (see [`Evaluator::prepare`]).
    pub fn prepare(&self) {
        self.evaluator.prepare();
    }

    /// The hash of everything that decides a verdict; in every output.
    pub fn policy_set(&self) -> String {
        self.evaluator.policy_set_hash()
    }

    /// Every rule the run applies: enabled policies, then solguard's own checks.
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.evaluator.rules()
    }

    /// Info findings for waivers that matched nothing so far.
    pub fn unused_waivers(&self) -> Vec<Finding> {
        self.evaluator.unused_waivers()
    }

    /// Assesses one package in its lineage; an accepted release joins the lineage.
    pub fn assess(
        &mut self,
        input: Input,
        lineage: &mut dyn Lineage,
    ) -> Result<Assessed, HistoryError> {
        let policy_set = self.policy_set();
        let package = match input.read {
            Ok(package) => package,
            Err(finding) => {
                let name = input
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut findings = vec![finding];
                findings.extend(input.checks);
                let findings = self.evaluator.waive(&name, "", findings);
                return Ok(Assessed {
                    assessment: Assessment::unread(input.path, findings, &policy_set)
                        .judged_in(&self.environments),
                    package: None,
                });
            }
        };
        let related = lineage.related(&package)?;
        let mut findings = self.evaluator.evaluate(&package, &related);
        findings.extend(input.checks);
        let findings = self
            .evaluator
            .waive(&package.unique_name, &package.version, findings);
        let mut assessment = Assessment::of_package(input.path, &package, &policy_set)
            .judged(findings)
            .judged_in(&self.environments);
        assessment.previous_version = related.previous.as_ref().map(|p| p.version.clone());
        assessment.data_loss = data_loss(&package, &related);
        tracing::debug!(path = %assessment.path.display(), solution = %package.unique_name, version = %package.version, verdict = %assessment.verdict, "Package checked");
        if assessment.accepted {
            lineage.accept(&assessment, &package);
        }
        Ok(Assessed {
            assessment,
            package: Some(package),
        })
    }

    /// The run's report: its assessments, the rules, unused waivers and release histories.
    pub fn report(&self, packages: Vec<Assessment>, history: Vec<SolutionHistory>) -> Report {
        Report::new(self.policy_set(), packages, self.unused_waivers())
            .with_rules(self.rules())
            .with_history(history)
    }
}

/// What importing `package` as an upgrade would delete with its data: only a managed upgrade
/// deletes (unmanaged imports and patches add or update, never remove), and it removes what
/// the target holds (`installed`) but the package lacks.
fn data_loss(package: &Package, related: &Related) -> Vec<crate::package::DataLoss> {
    let deletes = package.managed != ManagedState::Unmanaged && !package.is_patch();
    match &related.installed {
        Some(installed) if deletes && installed.solution_version < package.solution_version => {
            diff(installed, package).data_losses()
        }
        _ => Vec::new(),
    }
}
