//! `solguard audit`: a whole release repository at once. Every package is read (through the
//! cache), grouped into release streams by unique name, ordered (modification time by default,
//! or version, or path), and every policy runs along each stream, each release compared with the
//! last accepted one before it. Files that are not solutions are listed as skipped; file names
//! that disagree with their manifest's version are flagged. With a baseline, the findings not
//! seen by the previous audit of the same repository are listed as new.

mod names;
mod scan;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use time::format_description::well_known::Rfc3339;

use crate::eval::{Evaluator, Finding, HistoryEntry, RuleInfo};
use crate::history::{HistoryError, HistoryStore};
use crate::package::{Location, Package};
use crate::policy::Severity;
use crate::report::{
    AuditSummary, NewFinding, PackageReport, Release, Report, Skipped, SolutionHistory, Stream,
    StreamPosition, StreamRelease,
};
use crate::run::{assess, Assessment, Prior};

pub use names::file_name_version;
pub use scan::{scan, Outcome, ScanCounts, Scanned};

/// Rule id of findings about the repository's files themselves.
pub const REPOSITORY_RULE: &str = "repository";

/// How releases of a stream are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// File modification time: the order releases were made.
    Mtime,
    /// Solution version.
    Version,
    /// File path.
    Path,
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Self::Mtime => "mtime",
            Self::Version => "version",
            Self::Path => "path",
        }
    }
}

/// How to audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub order: Order,
    /// Parallel readers.
    pub workers: usize,
    /// Compare with (and then keep) the findings of the last audit of this repository.
    pub baseline: Option<String>,
}

fn date(modified: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(modified)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Identity of a finding across audits: where, which rule and code, what it says.
fn finding_key(package: &PackageReport, finding: &Finding) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        package.unique_name.as_deref().unwrap_or(""),
        package.version.as_deref().unwrap_or(""),
        finding.rule,
        finding.code,
        finding.message
    )
}

fn file_name_finding(package: &Package, path: &std::path::Path) -> Option<Finding> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let named = file_name_version(&name)?;
    let actual = package.solution_version.as_ref()?;
    if named == *actual {
        return None;
    }
    Some(Finding {
        rule: REPOSITORY_RULE.into(),
        code: "file-name-mismatch".into(),
        severity: Severity::Info,
        message: format!(
            "the file name {name} says version {}, but the package inside is {} {}",
            named, package.unique_name, package.version
        ),
        location: Some(Location {
            file: package.location.file.clone(),
            line: package.location.line,
        }),
        hint: Some(
            "Name release files after the version they hold, so a repository lists what it ships."
                .into(),
        ),
        waived: None,
    })
}

/// Audits the repository folders `dirs`.
pub fn audit(
    evaluator: &mut Evaluator<'_>,
    dirs: &[PathBuf],
    store: Option<&Mutex<HistoryStore>>,
    options: &AuditOptions,
) -> Result<Report, HistoryError> {
    let (scanned, counts) = scan(dirs, store, options.workers)?;
    let mut summary = AuditSummary {
        order: options.order.name().into(),
        files: scanned.len(),
        read: counts.read,
        cached: counts.cached,
        ..AuditSummary::default()
    };
    let mut reports: Vec<(PathBuf, PackageReport)> = Vec::new();
    let mut streams: HashMap<String, Vec<(Scanned, Arc<Package>)>> = HashMap::new();
    for item in scanned {
        match &item.outcome {
            Outcome::Package { package } => {
                let package = Arc::new((**package).clone());
                streams
                    .entry(package.unique_name.to_lowercase())
                    .or_default()
                    .push((item, package));
            }
            Outcome::NotSolution { reason } => summary.skipped.push(Skipped {
                path: item.path.display().to_string(),
                reason: reason.clone(),
            }),
            Outcome::Bundle { .. } => {}
            Outcome::Unreadable {
                code,
                message,
                file,
                line,
            } => {
                let location = file.as_ref().map(|f| Location {
                    file: f.as_str().into(),
                    line: line.unwrap_or(1),
                });
                let name = item
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let findings = evaluator.unreadable_as(&name, code, message, location);
                reports.push((
                    item.path.clone(),
                    PackageReport::unread(item.path.clone(), findings),
                ));
            }
        }
    }
    // Base solutions first, so a patch finds its parent's last accepted release.
    let mut names: Vec<String> = streams.keys().cloned().collect();
    names.sort_by_key(|name| {
        let is_patch = streams[name].iter().any(|(_, p)| p.parent.is_some());
        (is_patch, name.clone())
    });
    let mut last_accepted: HashMap<String, Arc<Package>> = HashMap::new();
    let mut stream_list = Vec::new();
    let mut history = Vec::new();
    for name in names {
        let mut releases = streams.remove(&name).unwrap_or_default();
        // Ties (files copied at once share a modification time) fall back to the version,
        // then the path.
        let by_version = |a: &(Scanned, Arc<Package>), b: &(Scanned, Arc<Package>)| {
            match (&a.1.solution_version, &b.1.solution_version) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| a.0.path.cmp(&b.0.path))
        };
        match options.order {
            Order::Mtime => releases.sort_by(|a, b| {
                a.0.modified
                    .cmp(&b.0.modified)
                    .then_with(|| by_version(a, b))
            }),
            Order::Path => releases.sort_by(|a, b| a.0.path.cmp(&b.0.path)),
            Order::Version => releases.sort_by(by_version),
        }
        let total = releases.len();
        let mut accepted: Vec<HistoryEntry> = Vec::new();
        let mut stream = Stream {
            unique_name: releases
                .first()
                .map_or_else(|| name.clone(), |(_, p)| p.unique_name.clone()),
            releases: Vec::new(),
        };
        let mut solution_history = SolutionHistory {
            unique_name: stream.unique_name.clone(),
            releases: Vec::new(),
        };
        for (position, (item, package)) in releases.into_iter().enumerate() {
            let prior = Prior {
                previous: last_accepted.get(&name).cloned(),
                history: accepted.clone(),
                parent: package
                    .parent
                    .as_ref()
                    .and_then(|p| last_accepted.get(&p.unique_name.to_lowercase()).cloned()),
            };
            let Assessment { mut report, record } = assess(evaluator, &item.path, &package, &prior);
            if let Some(finding) = file_name_finding(&package, &item.path) {
                report.findings.push(finding);
            }
            report.stream = Some(StreamPosition {
                solution: stream.unique_name.clone(),
                position: position + 1,
                of: total,
            });
            let when = date(item.modified);
            if record.accepted {
                accepted.push(HistoryEntry {
                    version: record.version.clone(),
                    publisher: record.publisher.clone(),
                    managed: record.managed.clone(),
                    sha256: record.sha256.clone(),
                    when: when.clone(),
                });
                last_accepted.insert(name.clone(), Arc::clone(&package));
            }
            stream.releases.push(StreamRelease {
                version: package.version.clone(),
                date: when.clone(),
                file: item.path.display().to_string(),
                publisher: package.publisher.unique_name.clone(),
                managed: package.managed.as_str().to_owned(),
                platform_version: package.export.version.clone(),
                verdict: report.verdict,
                accepted: report.accepted,
                findings: report
                    .findings
                    .iter()
                    .filter(|f| f.counts())
                    .map(|f| format!("{}/{}", f.rule, f.code))
                    .collect(),
            });
            solution_history.releases.push(Release {
                version: package.version.clone(),
                verdict: report.verdict,
                accepted: report.accepted,
                checked_at: when,
                path: item.path.display().to_string(),
                sha256: item.sha256.clone(),
            });
            reports.push((item.path.clone(), report));
        }
        stream_list.push(stream);
        history.push(solution_history);
    }
    reports.sort_by(|a, b| {
        let stream = |r: &PackageReport| {
            r.stream
                .as_ref()
                .map(|s| (s.solution.to_lowercase(), s.position))
        };
        // Streams in name order, then the files that could not be read.
        (stream(&a.1).is_none(), stream(&a.1), &a.0).cmp(&(
            stream(&b.1).is_none(),
            stream(&b.1),
            &b.0,
        ))
    });
    let packages: Vec<PackageReport> = reports.into_iter().map(|(_, r)| r).collect();
    if let (Some(repository), Some(store)) = (&options.baseline, store) {
        let store = store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = store.baseline(repository)?;
        let mut current = HashSet::new();
        let mut new_findings = Vec::new();
        for package in &packages {
            for finding in package.findings.iter().filter(|f| f.counts()) {
                let key = finding_key(package, finding);
                if !known.contains(&key) {
                    new_findings.push(NewFinding {
                        path: package.path.display().to_string(),
                        solution: package.unique_name.clone(),
                        version: package.version.clone(),
                        rule: finding.rule.clone(),
                        code: finding.code.clone(),
                        severity: finding.severity,
                        message: finding.message.clone(),
                    });
                }
                current.insert(key);
            }
        }
        store.replace_baseline(repository, &current)?;
        summary.new_findings = Some(new_findings);
    }
    let mut rules = evaluator.rules();
    rules.push(RuleInfo {
        id: REPOSITORY_RULE.into(),
        title: "Release files say what they hold".into(),
        description: "In an audit: a release file whose name carries a version different from the solution version inside it.".into(),
        severity: Severity::Info,
        help: None,
        hint: Some("Name release files after the version they hold.".into()),
        policy: false,
    });
    stream_list.sort_by(|a, b| {
        a.unique_name
            .to_lowercase()
            .cmp(&b.unique_name.to_lowercase())
    });
    let mut report = Report::new(
        evaluator.policy_set_hash(),
        packages,
        evaluator.unused_waivers(),
    )
    .with_rules(rules)
    .with_history(history);
    report.streams = stream_list;
    report.audit = Some(summary);
    Ok(report)
}
