//! `solguard audit`: a whole release repository at once. Every package is read (through the
//! cache); releases are grouped into families (a solution with its patches), put in release
//! order (export time by default, or version, modification time or path), and handed to the
//! pipeline in that order with one lineage for the repository, so twins, patches and roll-ups
//! are compared as Dataverse would import them. Files that are not solutions are listed as
//! skipped; file names that disagree with their manifest's version are flagged (a finding like
//! any other, so it can be waived). With a baseline, the findings not seen by the baseline are
//! listed as new; the baseline moves forward only when asked.

mod names;
mod scan;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::assessment::{Assessment, StreamPosition};
use crate::config::ReleaseOrder;
use crate::diagnostic::{Finding, Location, RuleInfo, Severity, REPOSITORY_RULE};
use crate::history::{HistoryError, HistoryStore};
use crate::package::Package;
use crate::pipeline::order::{compare, OrderKey};
use crate::pipeline::{InRunLineage, Input, Pipeline};
use crate::report::{
    AuditSummary, NewFinding, Report, Skipped, SolutionHistory, Stream, StreamRelease,
};

pub use names::file_name_version;
pub use scan::{scan, Outcome, ScanCounts, Scanned};

/// A baseline: the findings of an earlier audit of the same repository, kept in a database.
#[derive(Debug, Clone)]
pub struct BaselineOptions {
    /// Identifies the repository (its folders) in the baseline database.
    pub repository: String,
    /// Replace the baseline with this audit's findings (otherwise it stays as it was, so a
    /// failing CI job fails again when re-run).
    pub update: bool,
}

/// How to audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub order: ReleaseOrder,
    /// Parallel readers.
    pub workers: usize,
    pub baseline: Option<BaselineOptions>,
}

/// The databases an audit uses: a cache of parsed packages, and where the baseline is kept
/// (often the same database, never required to be).
#[derive(Default, Clone, Copy)]
pub struct AuditStores<'a> {
    pub cache: Option<&'a Mutex<HistoryStore>>,
    pub baseline: Option<&'a Mutex<HistoryStore>>,
}

/// Identity of a finding across audits: where, which rule and code, what it says.
fn finding_key(package: &Assessment, finding: &Finding) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        package.unique_name.as_deref().unwrap_or(""),
        package.version.as_deref().unwrap_or(""),
        finding.rule,
        finding.code,
        finding.message
    )
}

fn file_name_finding(package: &Package, path: &Path) -> Option<Finding> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let named = file_name_version(&name)?;
    let actual = package.solution_version.as_ref()?;
    if named == *actual {
        return None;
    }
    let message = format!(
        "the file name {name} says version {named}, but the package inside is {} {}",
        package.unique_name, package.version
    );
    Some(
        Finding::new(
            REPOSITORY_RULE,
            "file-name-mismatch",
            Severity::Info,
            message,
        )
        .at(Some(package.location.clone()))
        .with_hint(
            "Name release files after the version they hold, so a repository lists what it ships.",
        ),
    )
}

/// The rule describing `repository` findings.
pub fn repository_rule() -> RuleInfo {
    RuleInfo::builtin(
        REPOSITORY_RULE,
        Severity::Info,
        "Release files say what they hold",
        "In an audit: a release file whose name carries a version different from the solution version inside it.",
        "Name release files after the version they hold.",
    )
    .with_codes(vec![crate::diagnostic::CodeDoc::new(
        "file-name-mismatch",
        "A release file's name carries a version other than the solution version inside it.",
        None,
    )])
}

/// One release in its family, with what ordering needs.
struct Candidate {
    item: Scanned,
    package: Arc<Package>,
}

impl Candidate {
    fn order_key(&self) -> OrderKey<'_> {
        OrderKey::of(
            &self.item.path,
            Some(&self.package),
            Some(self.item.modified),
        )
    }
}

/// Families by the solution they belong to (a patch belongs to its parent), each in release
/// order; families in name order.
fn families(candidates: Vec<Candidate>, order: ReleaseOrder) -> Vec<Vec<Candidate>> {
    let mut by_family: HashMap<String, Vec<Candidate>> = HashMap::new();
    for candidate in candidates {
        let family = candidate
            .package
            .parent
            .as_ref()
            .map_or(&candidate.package.unique_name, |p| &p.unique_name)
            .to_lowercase();
        by_family.entry(family).or_default().push(candidate);
    }
    let mut families: Vec<(String, Vec<Candidate>)> = by_family.into_iter().collect();
    families.sort_by(|a, b| a.0.cmp(&b.0));
    families
        .into_iter()
        .map(|(_, mut releases)| {
            releases.sort_by(|a, b| compare(order, &a.order_key(), &b.order_key()));
            releases
        })
        .collect()
}

/// Audits the repository folders `dirs`.
pub fn audit(
    pipeline: &mut Pipeline<'_>,
    dirs: &[PathBuf],
    stores: AuditStores<'_>,
    options: &AuditOptions,
) -> Result<Report, HistoryError> {
    let (scanned, counts) = scan(dirs, stores.cache, options.workers)?;
    let mut summary = AuditSummary {
        order: options.order,
        files: scanned.len(),
        read: counts.read,
        cached: counts.cached,
        ..AuditSummary::default()
    };
    let mut assessments: Vec<Assessment> = Vec::new();
    let mut candidates = Vec::new();
    for item in scanned {
        match item.outcome {
            Outcome::Package { ref package } => {
                let package = Arc::new((**package).clone());
                candidates.push(Candidate { item, package });
            }
            Outcome::NotSolution { ref reason } => summary.skipped.push(Skipped {
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
                let location = file.map(|f| Location {
                    package: None,
                    file: f.as_str().into(),
                    line: line.unwrap_or(1),
                });
                let input = Input::unreadable_as(item.path, &code, &message, location);
                assessments.push(pipeline.assess(input, &mut InRunLineage::new())?.assessment);
            }
        }
    }
    let mut lineage = InRunLineage::new();
    let mut platform_versions: HashMap<PathBuf, Option<String>> = HashMap::new();
    for family in families(candidates, options.order) {
        for Candidate { item, package } in family {
            let checks = file_name_finding(&package, &item.path)
                .into_iter()
                .collect();
            platform_versions.insert(item.path.clone(), package.export.version.clone());
            let mut assessed = pipeline.assess(
                Input::package(item.path, package).with_checks(checks),
                &mut lineage,
            )?;
            if assessed.assessment.sha256.is_none() {
                assessed.assessment.sha256 = item.sha256;
            }
            assessments.push(assessed.assessment);
        }
    }
    let (streams, history) = streams(&mut assessments, &platform_versions);
    assessments.sort_by(|a, b| {
        let stream = |r: &Assessment| {
            r.stream
                .as_ref()
                .map(|s| (s.solution.to_lowercase(), s.position))
        };
        // Streams in name order, then the files that could not be read.
        (stream(a).is_none(), stream(a), &a.path).cmp(&(stream(b).is_none(), stream(b), &b.path))
    });
    if let (Some(baseline), Some(store)) = (&options.baseline, stores.baseline) {
        summary.new_findings = Some(compare_baseline(&assessments, baseline, store)?);
    }
    let mut report = pipeline.report(assessments, history);
    report.rules.push(repository_rule());
    report.streams = streams;
    report.audit = Some(summary);
    Ok(report)
}

/// Sets each assessment's place in its release stream (same unique name, in the order
/// assessed) and builds the streams and release histories, in name order.
fn streams(
    assessments: &mut [Assessment],
    platform_versions: &HashMap<PathBuf, Option<String>>,
) -> (Vec<Stream>, Vec<SolutionHistory>) {
    let mut names: Vec<String> = Vec::new();
    for name in assessments.iter().filter_map(|a| a.unique_name.as_deref()) {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    names.sort_by_key(|n| n.to_lowercase());
    let mut streams = Vec::with_capacity(names.len());
    let mut history = Vec::with_capacity(names.len());
    for name in names {
        let members: Vec<usize> = (0..assessments.len())
            .filter(|&i| {
                assessments[i]
                    .unique_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
            })
            .collect();
        let total = members.len();
        let mut stream = Stream {
            unique_name: name.clone(),
            releases: Vec::with_capacity(total),
        };
        let mut releases = Vec::with_capacity(total);
        for (position, &index) in members.iter().enumerate() {
            let assessment = &mut assessments[index];
            assessment.stream = Some(StreamPosition {
                solution: name.clone(),
                position: position + 1,
                of: total,
            });
            let platform = platform_versions.get(&assessment.path).cloned().flatten();
            stream
                .releases
                .extend(StreamRelease::of(assessment, platform));
            releases.push(assessment.summary());
        }
        streams.push(stream);
        history.push(SolutionHistory {
            unique_name: name,
            releases,
        });
    }
    (streams, history)
}

/// The counting findings the baseline does not have; the baseline becomes this audit's
/// findings only when the options say so.
fn compare_baseline(
    assessments: &[Assessment],
    baseline: &BaselineOptions,
    store: &Mutex<HistoryStore>,
) -> Result<Vec<NewFinding>, HistoryError> {
    let store = store.lock().unwrap_or_else(PoisonError::into_inner);
    let known = store.baseline(&baseline.repository)?;
    let mut current = HashSet::new();
    let mut new_findings = Vec::new();
    for package in assessments {
        for finding in package.counting() {
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
    if baseline.update {
        store.replace_baseline(&baseline.repository, &current)?;
    }
    Ok(new_findings)
}
