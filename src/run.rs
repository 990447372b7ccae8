//! One-shot runs: read each package in order, evaluate it against the last accepted release of
//! the same solution seen earlier in the run, and build the report. `check` uses it; `audit`
//! will run it along each release stream.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;

use crate::eval::{is_accepted, Evaluator, HistoryEntry, Related, Verdict};
use crate::history::{HistoryError, HistoryStore, ReleaseRecord};
use crate::package::{diff, Package, PackageError, ReadResult};
use crate::report::{PackageReport, Release, Report, SolutionHistory};

/// Accepted releases seen so far in this run, by lower-cased unique name.
#[derive(Default)]
struct Releases {
    last_accepted: HashMap<String, Arc<Package>>,
    history: HashMap<String, Vec<HistoryEntry>>,
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// What a package is compared against: the last accepted release of its solution, the
/// solution's accepted releases, and for a patch the parent's last accepted release.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub previous: Option<Arc<Package>>,
    pub history: Vec<HistoryEntry>,
    pub parent: Option<Arc<Package>>,
}

impl Prior {
    /// The prior releases of `package` recorded in `store`.
    pub fn from_store(store: &HistoryStore, package: &Package) -> Result<Self, HistoryError> {
        let parent = match &package.parent {
            Some(parent) => store.last_accepted(&parent.unique_name)?.map(Arc::new),
            None => None,
        };
        Ok(Self {
            previous: store.last_accepted(&package.unique_name)?.map(Arc::new),
            history: store.accepted_history(&package.unique_name)?,
            parent,
        })
    }
}

/// A package's evaluation: its report entry and the record the history keeps of it.
pub struct Assessment {
    pub report: PackageReport,
    pub record: ReleaseRecord,
}

/// Evaluates `package` (read from `path`) against `prior`.
pub fn assess(
    evaluator: &mut Evaluator<'_>,
    path: &Path,
    package: &Arc<Package>,
    prior: &Prior,
) -> Assessment {
    let related = Related {
        previous: prior.previous.as_ref(),
        history: &prior.history,
        parent: prior.parent.as_ref(),
    };
    let findings = evaluator.evaluate_related(package, &related);
    let accepted = is_accepted(&findings);
    let verdict = Verdict::of(&findings);
    tracing::debug!(path = %path.display(), solution = %package.unique_name, version = %package.version, verdict = verdict.as_str(), "Package checked");
    let record = ReleaseRecord {
        sha256: package.source.sha256.clone(),
        path: path.display().to_string(),
        unique_name: package.unique_name.clone(),
        version: package.version.clone(),
        publisher: package.publisher.unique_name.clone(),
        managed: package.managed.as_str().to_owned(),
        verdict,
        accepted,
        findings: findings.clone(),
        checked_at: now_rfc3339(),
        policy_set: evaluator.policy_set_hash(),
    };
    let report = PackageReport {
        path: path.to_path_buf(),
        unique_name: Some(package.unique_name.clone()),
        version: Some(package.version.clone()),
        managed: Some(package.managed.as_str().to_owned()),
        sha256: package.source.sha256.clone(),
        verdict,
        accepted,
        previous_version: prior.previous.as_ref().map(|p| p.version.clone()),
        findings,
        data_loss: prior
            .previous
            .as_ref()
            .map(|previous| diff(previous, package).data_losses())
            .unwrap_or_default(),
        stream: None,
    };
    Assessment { report, record }
}

/// The report entry for a package that could not be read.
pub fn unreadable_report(
    evaluator: &mut Evaluator<'_>,
    path: &Path,
    error: &PackageError,
) -> PackageReport {
    tracing::debug!(path = %path.display(), code = error.code(), "Package unreadable");
    let findings = evaluator.unreadable(error);
    PackageReport::unread(path.to_path_buf(), findings)
}

/// Evaluates packages in the order they were read (for example by a
/// [`crate::package::ReadAhead`] started before the policies were compiled) and reports on
/// them. A package's `previous` is the last accepted release of the same solution earlier in
/// the run, else in `history`; every package read is recorded in `history` when one is given.
pub fn check_packages(
    evaluator: &mut Evaluator<'_>,
    read: impl IntoIterator<Item = ReadResult>,
    history: Option<&HistoryStore>,
) -> Result<Report, HistoryError> {
    let policy_set = evaluator.policy_set_hash();
    let mut releases = Releases::default();
    let read = read.into_iter();
    let mut reports = Vec::with_capacity(read.size_hint().0);
    for (path, result) in read {
        let path = &path;
        let package = match result {
            Ok(package) => Arc::new(package),
            Err(error) => {
                reports.push(unreadable_report(evaluator, path, &error));
                continue;
            }
        };
        let key = package.unique_name.to_lowercase();
        let mut prior = match history {
            Some(store) => Prior::from_store(store, &package)?,
            None => Prior::default(),
        };
        // What this run accepted is newer than anything stored.
        if let Some(previous) = releases.last_accepted.get(&key) {
            prior.previous = Some(Arc::clone(previous));
        }
        prior
            .history
            .extend(releases.history.get(&key).cloned().unwrap_or_default());
        if let Some(parent) = &package.parent {
            if let Some(found) = releases
                .last_accepted
                .get(&parent.unique_name.to_lowercase())
            {
                prior.parent = Some(Arc::clone(found));
            }
        }
        let Assessment { report, record } = assess(evaluator, path, &package, &prior);
        if let Some(store) = history {
            store.record(&record, &package)?;
        } else if record.accepted {
            // Without a store, the run itself remembers what it accepted.
            releases
                .history
                .entry(key.clone())
                .or_default()
                .push(HistoryEntry {
                    version: record.version.clone(),
                    publisher: record.publisher.clone(),
                    managed: record.managed.clone(),
                    sha256: record.sha256.clone(),
                    when: record.checked_at.clone(),
                });
        }
        if record.accepted {
            releases.last_accepted.insert(key, Arc::clone(&package));
        }
        reports.push(report);
    }
    let history = solution_histories(&reports, history)?;
    Ok(Report::new(policy_set, reports, evaluator.unused_waivers())
        .with_rules(evaluator.rules())
        .with_history(history))
}

/// The releases of each solution in `reports`: from the store when there is one (it holds this
/// run's releases too), else from the run itself.
pub fn solution_histories(
    reports: &[PackageReport],
    store: Option<&HistoryStore>,
) -> Result<Vec<SolutionHistory>, HistoryError> {
    let mut names: Vec<&str> = Vec::new();
    for name in reports.iter().filter_map(|r| r.unique_name.as_deref()) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    let mut histories = Vec::with_capacity(names.len());
    for name in names {
        let releases = match store {
            Some(store) => store
                .releases(Some(name))?
                .into_iter()
                .map(|r| Release {
                    version: r.version,
                    verdict: r.verdict,
                    accepted: r.accepted,
                    checked_at: r.checked_at,
                    path: r.path,
                    sha256: r.sha256,
                })
                .collect(),
            None => reports
                .iter()
                .filter(|r| {
                    r.unique_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .map(|r| Release {
                    version: r.version.clone().unwrap_or_default(),
                    verdict: r.verdict,
                    accepted: r.accepted,
                    checked_at: String::new(),
                    path: r.path.display().to_string(),
                    sha256: r.sha256.clone(),
                })
                .collect(),
        };
        histories.push(SolutionHistory {
            unique_name: name.to_owned(),
            releases,
        });
    }
    Ok(histories)
}
