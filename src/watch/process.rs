//! One package through the daemon, on a worker thread: check it is whole, name it by its
//! bytes, skip it when those bytes were evaluated before, read and evaluate it, write its
//! reports, record it with its alerts in one transaction, then apply the folder's disposition.
//!
//! Order matters for crash safety: reports are written before the record commits, so a
//! package recorded as processed always has its reports; a crash before the commit means the
//! package is evaluated again after restart and its reports rewritten under the same names.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::candidates::Ready;
use super::disposition::move_into;
use super::shared::{lock, RecentPackage, Shared};
use super::snapshot::Snapshot;
use crate::alert::{alert_for, outbox_rows};
use crate::config::{Disposition, WatchFolder};
use crate::eval::RuleInfo;
use crate::eval::{Evaluator, Finding, Verdict, PACKAGE_FORMAT_RULE};
use crate::history::{Processed, ReleaseRecord};
use crate::package::{completeness, content_hash, read_package, Completeness, Package};
use crate::policy::Severity;
use crate::report::{
    render, report_stem, write_atomic, PackageReport, Release, RenderOptions, Report, ReportFormat,
    SolutionHistory,
};
use crate::run::{assess, now_rfc3339, solution_histories, unreadable_report, Assessment, Prior};

/// How one package went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Evaluated(Verdict),
    /// The same bytes were evaluated before.
    Seen,
    /// Not whole yet: look again later.
    Incomplete(String),
    /// It disappeared before it could be read.
    Gone,
    /// Something outside the package failed (disk, database): try again later.
    Failed(String),
}

/// An evaluated package, before its disposition.
struct Finished {
    verdict: Verdict,
    accepted: bool,
    entry: RecentPackage,
}

/// Everything one job needs.
pub struct Job<'a> {
    pub ready: &'a Ready,
    pub snapshot: &'a Snapshot,
    pub shared: &'a Shared,
    pub incomplete_timeout: Duration,
    pub recheck_on_policy_change: bool,
}

impl Job<'_> {
    pub fn run(&self) -> Outcome {
        let path = &self.ready.path;
        let Some(watch) = self.snapshot.watch(&self.ready.watch) else {
            return Outcome::Gone;
        };
        if !self.ready.is_dir && self.ready.unchanged_for < self.incomplete_timeout {
            match completeness(path) {
                Ok(Completeness::Complete) => {}
                Ok(Completeness::Incomplete(reason)) => return Outcome::Incomplete(reason),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
                Err(error) => return Outcome::Incomplete(error.to_string()),
            }
        }
        let hash = match content_hash(path) {
            Ok(hash) => hash,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
            Err(error) => return Outcome::Failed(format!("{}: {error}", path.display())),
        };
        let mut evaluator = Evaluator::new(
            &self.snapshot.policies,
            self.snapshot.config.eval_for(watch),
            time::OffsetDateTime::now_utc().date(),
        );
        let policy_set = evaluator.policy_set_hash();
        // One job per content at a time: the same bytes dropped under two names at once are
        // evaluated once, the second finds the first's record.
        let same_bytes = self.shared.keyed_lock(&format!("sha256:{hash}"));
        let _same_bytes = lock(&same_bytes);
        let seen = self.shared.store().processed(&hash);
        match seen {
            Ok(Some(seen)) if !(self.recheck_on_policy_change && seen.policy_set != policy_set) => {
                tracing::info!(path = %path.display(), first_seen_as = %seen.path, "Already evaluated; skipped");
                self.shared.metrics.skipped("seen");
                // A crash between the record and the move leaves the package behind: move it now.
                self.dispose(watch, path, seen.accepted);
                return Outcome::Seen;
            }
            Ok(_) => {}
            Err(error) => return Outcome::Failed(error.to_string()),
        }
        match self.evaluate(&mut evaluator, watch, &hash, &policy_set) {
            Ok(mut recent) => {
                let verdict = recent.verdict;
                let moved = self.dispose(watch, path, recent.accepted);
                recent.entry.moved_to = moved.map(|p| p.display().to_string());
                self.shared.remember(recent.entry);
                self.shared.outbox_wake.notify_one();
                Outcome::Evaluated(verdict)
            }
            Err(error) => Outcome::Failed(error),
        }
    }

    /// Reads and evaluates the package, then reports and records it.
    fn evaluate(
        &self,
        evaluator: &mut Evaluator<'_>,
        watch: &WatchFolder,
        hash: &str,
        policy_set: &str,
    ) -> Result<Finished, String> {
        let path = &self.ready.path;
        let started = Instant::now();
        let rules = evaluator.rules();
        let done = |report, release| {
            self.finish(report, release, hash, watch, (policy_set, &rules), started)
        };
        match catch_unwind(AssertUnwindSafe(|| read_package(path))) {
            Ok(Ok(mut package)) => {
                if package.source.sha256.is_none() {
                    package.source.sha256 = Some(hash.to_owned());
                }
                let package = Arc::new(package);
                // Releases of one solution are evaluated and recorded in turn, so each sees the
                // one before it as `previous`.
                let order = self.shared.keyed_lock(&package.unique_name.to_lowercase());
                let _in_order = lock(&order);
                let prior =
                    Prior::from_store(&self.shared.store(), &package).map_err(|e| e.to_string())?;
                match catch_unwind(AssertUnwindSafe(|| {
                    assess(evaluator, path, &package, &prior)
                })) {
                    Ok(Assessment { report, record }) => done(report, Some((&record, &package))),
                    Err(panic) => done(crashed(path, "evaluating", &panic), None),
                }
            }
            Ok(Err(error)) => done(unreadable_report(evaluator, path, &error), None),
            Err(panic) => done(crashed(path, "reading", &panic), None),
        }
    }

    /// Writes the reports, then records the package, its release and its alerts at once.
    fn finish(
        &self,
        package: PackageReport,
        release: Option<(&ReleaseRecord, &Package)>,
        hash: &str,
        watch: &WatchFolder,
        (policy_set, rules): (&str, &[RuleInfo]),
        started: Instant,
    ) -> Result<Finished, String> {
        let path = &self.ready.path;
        let (verdict, accepted) = (package.verdict, package.accepted);
        let stem = report_stem(&package, hash);
        let now = now_rfc3339();
        let history = self.history_with(&package, &now)?;
        let report = Report::new(policy_set.to_owned(), vec![package], Vec::new())
            .with_rules(rules.to_vec())
            .with_history(history);
        let reports = self.write_reports(&report, &stem).map_err(|error| {
            self.shared.metrics.error("report");
            format!(
                "{}: cannot write report: {error}",
                self.shared.reports_dir.display()
            )
        })?;
        let json_path = &reports[0];
        let package = &report.packages[0];
        let alerts = match alert_for(package, hash, &watch.name, &reports, &now) {
            Some(alert) => {
                outbox_rows(&alert, &self.snapshot.config.alerts).map_err(|e| e.to_string())?
            }
            None => Vec::new(),
        };
        let processed = Processed {
            sha256: hash.to_owned(),
            path: path.display().to_string(),
            unique_name: package.unique_name.clone(),
            version: package.version.clone(),
            verdict,
            accepted,
            policy_set: policy_set.to_owned(),
            reports: reports.clone(),
            processed_at: now.clone(),
        };
        self.shared
            .store()
            .record_processed(&processed, release, &alerts)
            .map_err(|e| {
                self.shared.metrics.error("history");
                e.to_string()
            })?;
        let seconds = started.elapsed().as_secs_f64();
        self.shared
            .metrics
            .processed(verdict.as_str(), &package.findings, seconds);
        tracing::info!(path = %path.display(), solution = package.unique_name.as_deref().unwrap_or("-"), version = package.version.as_deref().unwrap_or("-"), verdict = verdict.as_str(), seconds, report = %json_path, "Package evaluated");
        Ok(Finished {
            verdict,
            accepted,
            entry: RecentPackage {
                path: path.display().to_string(),
                watch: watch.name.clone(),
                unique_name: package.unique_name.clone(),
                version: package.version.clone(),
                verdict: verdict.as_str().to_owned(),
                reports,
                moved_to: None,
                at: now,
            },
        })
    }

    /// The solution's releases from the history, with this one (not recorded yet) last.
    fn history_with(
        &self,
        package: &PackageReport,
        now: &str,
    ) -> Result<Vec<SolutionHistory>, String> {
        let mut history =
            solution_histories(std::slice::from_ref(package), Some(&self.shared.store()))
                .map_err(|e| e.to_string())?;
        if let (Some(entry), Some(version)) = (history.first_mut(), &package.version) {
            entry.releases.push(Release {
                version: version.clone(),
                verdict: package.verdict,
                accepted: package.accepted,
                checked_at: now.to_owned(),
                path: package.path.display().to_string(),
                sha256: package.sha256.clone(),
            });
        }
        Ok(history)
    }

    /// Writes the report in every configured format (JSON always); returns the paths, JSON
    /// first.
    fn write_reports(&self, report: &Report, stem: &str) -> std::io::Result<Vec<String>> {
        let mut formats = vec![ReportFormat::Json];
        formats.extend(
            self.snapshot
                .config
                .report_formats
                .iter()
                .filter(|f| **f != ReportFormat::Json),
        );
        let mut written = Vec::with_capacity(formats.len());
        for format in formats {
            let path = self
                .shared
                .reports_dir
                .join(format!("{stem}.{}", format.extension()));
            write_atomic(&path, &render(report, format, &RenderOptions::default())?)?;
            written.push(path.display().to_string());
        }
        Ok(written)
    }

    /// Applies the folder's disposition; returns where the package went.
    fn dispose(&self, watch: &WatchFolder, path: &Path, accepted: bool) -> Option<PathBuf> {
        let Disposition::Move {
            accepted: yes,
            rejected: no,
        } = &watch.disposition
        else {
            return None;
        };
        let dest = if accepted { yes } else { no };
        match move_into(path, dest) {
            Ok(to) => {
                tracing::info!(from = %path.display(), to = %to.display(), "Package moved");
                Some(to)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                self.shared.metrics.error("io");
                tracing::error!(path = %path.display(), dest = %dest.display(), %error, "Cannot move package");
                None
            }
        }
    }
}

/// The report entry for a package that made the reader or a policy panic: a bug in solguard,
/// reported as a finding so the daemon goes on.
fn crashed(path: &Path, stage: &str, panic: &Box<dyn std::any::Any + Send>) -> PackageReport {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(path = %path.display(), stage, %message, "solguard crashed on a package");
    let findings = vec![Finding {
        rule: PACKAGE_FORMAT_RULE.into(),
        code: "internal-error".into(),
        severity: Severity::Error,
        message: format!("solguard failed while {stage} this package ({message}); please report it with the package"),
        location: None,
        hint: None,
        waived: None,
    }];
    PackageReport::unread(path.to_path_buf(), findings)
}
