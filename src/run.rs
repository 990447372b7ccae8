//! One-shot runs: read each package in order, evaluate it against the last accepted release of
//! the same solution seen earlier in the run, and build the report. `check` uses it; `audit`
//! will run it along each release stream.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;

use crate::eval::{is_accepted, Evaluator, HistoryEntry, Verdict};
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

/// Evaluates the packages at `paths` in order and reports on them.
pub fn check_packages(evaluator: &mut Evaluator<'_>, paths: &[PathBuf]) -> Report {
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
        let previous = releases.last_accepted.get(&key).cloned();
        let history = releases.history.get(&key).cloned().unwrap_or_default();
        let findings = evaluator.evaluate(&package, previous.as_ref(), &history);
        let accepted = is_accepted(&findings);
        let verdict = Verdict::of(&findings);
        tracing::info!(path = %path.display(), solution = %package.unique_name, version = %package.version, verdict = verdict.as_str(), "Package checked");
        if accepted {
            releases
                .history
                .entry(key.clone())
                .or_default()
                .push(HistoryEntry {
                    version: package.version.clone(),
                    publisher: package.publisher.unique_name.clone(),
                    managed: package.managed.as_str().to_owned(),
                    sha256: package.source.sha256.clone(),
                    when: now_rfc3339(),
                });
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
    Report::new(
        evaluator.policy_set_hash(),
        reports,
        evaluator.unused_waivers(),
    )
}
