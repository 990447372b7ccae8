//! One-shot runs: read each package in order, evaluate it against the last accepted release of
//! the same solution seen earlier in the run, and build the report. `check` uses it; `audit`
//! will run it along each release stream.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;

use crate::eval::{is_accepted, Evaluator, HistoryEntry, Related, Verdict};
use crate::history::{HistoryError, HistoryStore, ReleaseRecord};
use crate::package::{read_package, Package};
use crate::report::{PackageReport, Report};

/// Accepted releases seen so far, by lower-cased unique name.
#[derive(Default)]
struct Releases {
    last_accepted: HashMap<String, Arc<Package>>,
    history: HashMap<String, Vec<HistoryEntry>>,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Evaluates the packages at `paths` in order and reports on them. A package's `previous` is
/// the last accepted release of the same solution earlier in the run, else in `history`; every
/// package read is recorded in `history` when one is given.
pub fn check_packages(
    evaluator: &mut Evaluator<'_>,
    paths: &[PathBuf],
    history: Option<&HistoryStore>,
) -> Result<Report, HistoryError> {
    let policy_set = evaluator.policy_set_hash();
    let mut releases = Releases::default();
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let package = match read_package(path) {
            Ok(package) => Arc::new(package),
            Err(error) => {
                tracing::info!(path = %path.display(), code = error.code(), "Package unreadable");
                let findings = evaluator.unreadable(&error);
                reports.push(PackageReport {
                    path: path.clone(),
                    unique_name: None,
                    version: None,
                    managed: None,
                    sha256: None,
                    verdict: Verdict::of(&findings),
                    accepted: false,
                    previous_version: None,
                    findings,
                });
                continue;
            }
        };
        let key = package.unique_name.to_lowercase();
        let mut previous = releases.last_accepted.get(&key).cloned();
        let mut accepted_before = releases.history.get(&key).cloned().unwrap_or_default();
        if let Some(store) = history {
            if previous.is_none() {
                previous = store.last_accepted(&package.unique_name)?.map(Arc::new);
            }
            let mut stored = store.accepted_history(&package.unique_name)?;
            stored.extend(accepted_before);
            accepted_before = stored;
        }
        let parent = match &package.parent {
            Some(parent) => {
                let parent_key = parent.unique_name.to_lowercase();
                match (releases.last_accepted.get(&parent_key), history) {
                    (Some(found), _) => Some(Arc::clone(found)),
                    (None, Some(store)) => store.last_accepted(&parent.unique_name)?.map(Arc::new),
                    (None, None) => None,
                }
            }
            None => None,
        };
        let related = Related {
            previous: previous.as_ref(),
            history: &accepted_before,
            parent: parent.as_ref(),
        };
        let findings = evaluator.evaluate_related(&package, &related);
        let accepted = is_accepted(&findings);
        let verdict = Verdict::of(&findings);
        tracing::info!(path = %path.display(), solution = %package.unique_name, version = %package.version, verdict = verdict.as_str(), "Package checked");
        let checked_at = now_rfc3339();
        if let Some(store) = history {
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
                checked_at: checked_at.clone(),
                policy_set: policy_set.clone(),
            };
            store.record(&record, &package)?;
        } else if accepted {
            // Without a store, the run itself remembers what it accepted.
            releases
                .history
                .entry(key.clone())
                .or_default()
                .push(HistoryEntry {
                    version: package.version.clone(),
                    publisher: package.publisher.unique_name.clone(),
                    managed: package.managed.as_str().to_owned(),
                    sha256: package.source.sha256.clone(),
                    when: checked_at,
                });
        }
        if accepted {
            releases.last_accepted.insert(key, Arc::clone(&package));
        }
        reports.push(PackageReport {
            path: path.clone(),
            unique_name: Some(package.unique_name.clone()),
            version: Some(package.version.clone()),
            managed: Some(package.managed.as_str().to_owned()),
            sha256: package.source.sha256.clone(),
            verdict,
            accepted,
            previous_version: previous.map(|p| p.version.clone()),
            findings,
        });
    }
    Ok(Report::new(policy_set, reports, evaluator.unused_waivers()))
}
