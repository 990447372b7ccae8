//! The second step of the pipeline: what is kept of an assessment. For the daemon, a package's
//! report files are written first, then its history record, its `processed` row and its queued
//! alerts commit in one transaction (so a package recorded as processed always has its
//! reports, and an alert is never lost between evaluation and delivery). For a scheduled
//! audit, the audit's reports and alerts for its new findings.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::alert::{alert_for, outbox_rows};
use crate::assessment::Assessment;
use crate::config::{AlertSinkConfig, Config, ReportFormat};
use crate::diagnostic::{now_rfc3339, RuleInfo, Verdict};
use crate::history::{ClaimToken, HistoryError, HistoryStore, ProcessedRecord};
use crate::report::{render, report_stem, report_stem_with, write_atomic, RenderOptions, Report};

use super::{solution_histories, Assessed};

/// Why what was assessed could not be kept. The daemon logs it and tries the package again
/// later; nothing about the package itself is wrong.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("{path}: cannot write report: {source}")]
    Report {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode an alert: {0}")]
    Alert(#[from] serde_json::Error),
}

impl PipelineError {
    /// The metrics label of the failing part.
    pub fn part(&self) -> &'static str {
        match self {
            Self::History(_) => "history",
            Self::Report { .. } => "report",
            Self::Alert(_) => "alert",
        }
    }
}

fn locked(store: &Mutex<HistoryStore>) -> std::sync::MutexGuard<'_, HistoryStore> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The formats a daemon writes: JSON always (first), then the configured ones.
pub fn report_formats(config: &Config) -> Vec<ReportFormat> {
    let mut formats = vec![ReportFormat::Json];
    formats.extend(
        config
            .report_formats
            .iter()
            .filter(|f| **f != ReportFormat::Json && **f != ReportFormat::Human),
    );
    formats
}

fn write_formats(
    report: &Report,
    dir: &Path,
    stem: &str,
    formats: &[ReportFormat],
) -> Result<Vec<String>, PipelineError> {
    let mut written = Vec::with_capacity(formats.len());
    for format in formats {
        let path = dir.join(format!("{stem}.{}", format.extension()));
        let write = render(report, *format, &RenderOptions::default())
            .and_then(|bytes| write_atomic(&path, &bytes));
        if let Err(source) = write {
            return Err(PipelineError::Report { path, source });
        }
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// The report name for these bytes: the usual stem, unless a report of other bytes already
/// holds it (a crafted hash prefix), then the stem with the whole hash. A report is never
/// overwritten by one of different bytes.
fn free_stem(dir: &Path, assessment: &Assessment, hash: &str) -> String {
    let stem = report_stem(assessment, hash);
    let existing = dir.join(format!("{stem}.{}", ReportFormat::Json.extension()));
    let holder = std::fs::read(&existing).ok().and_then(|bytes| {
        let report: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        report["packages"][0]["sha256"].as_str().map(str::to_owned)
    });
    match holder {
        Some(other) if other != hash => {
            tracing::warn!(report = %existing.display(), "A report of other bytes has this name; writing under the whole hash");
            report_stem_with(assessment, hash, hash.len())
        }
        _ => stem,
    }
}

/// What publishing a package left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Report files, JSON first.
    pub reports: Vec<String>,
    /// Alerts queued (one per sink that takes it).
    pub alerts: usize,
}

/// Where a daemon keeps what it publishes.
pub struct Outputs<'a> {
    pub store: &'a Mutex<HistoryStore>,
    pub reports_dir: &'a Path,
    pub config: &'a Config,
    /// The daemon publishing, as its records name it.
    pub daemon: Option<&'a str>,
}

/// Publishes one package the daemon assessed (bytes `hash`, found by watch folder `source`,
/// evaluated under `claim`): its report files, then its release, `processed` row and alerts
/// in one transaction. `None` when the claim was taken over by another daemon meanwhile
/// (its lease ended): that daemon's record is the one kept.
pub fn publish_package(
    outputs: &Outputs<'_>,
    rules: &[RuleInfo],
    assessed: &Assessed,
    (hash, source): (&str, &str),
    claim: Option<&ClaimToken>,
) -> Result<Option<Published>, PipelineError> {
    let assessment = &assessed.assessment;
    let stem = free_stem(outputs.reports_dir, assessment, hash);
    let mut history = solution_histories(
        std::slice::from_ref(assessment),
        Some(&locked(outputs.store)),
    )?;
    // The store does not hold this release yet: it commits after the reports are written.
    if let Some(entry) = history.first_mut() {
        entry.releases.push(assessment.summary());
    }
    let report = Report::new(
        assessment.policy_set.clone(),
        vec![assessment.clone()],
        Vec::new(),
    )
    .with_rules(rules.to_vec())
    .with_history(history);
    let reports = write_formats(
        &report,
        outputs.reports_dir,
        &stem,
        &report_formats(outputs.config),
    )?;
    let now = now_rfc3339();
    let rows = match alert_for(assessment, hash, source, &reports, &now) {
        Some(alert) => outbox_rows(&alert, &outputs.config.alerts)?,
        None => Vec::new(),
    };
    let committed = locked(outputs.store).record_processed(&ProcessedRecord {
        sha256: hash,
        watch: source,
        assessment,
        reports: &reports,
        package: assessed.package.as_deref(),
        alerts: &rows,
        claim,
        daemon: outputs.daemon,
    })?;
    Ok(committed.then_some(Published {
        reports,
        alerts: rows.len(),
    }))
}

/// Publishes a scheduled audit named `name`: its report files (`audit-<name>.<ext>`) and an
/// alert per package for the findings new since its previous run, to `sinks`.
pub fn publish_audit(
    outputs: &Outputs<'_>,
    report: &Report,
    name: &str,
    sinks: &[AlertSinkConfig],
) -> Result<Published, PipelineError> {
    let reports = write_formats(
        report,
        outputs.reports_dir,
        &format!("audit-{name}"),
        &report_formats(outputs.config),
    )?;
    let new = report
        .audit
        .as_ref()
        .and_then(|a| a.new_findings.as_deref())
        .unwrap_or_default();
    let now = now_rfc3339();
    let mut rows = Vec::new();
    for package in &report.packages {
        let path = package.path.display().to_string();
        let findings: Vec<_> = package
            .findings
            .iter()
            .filter(|f| {
                new.iter().any(|n| {
                    n.path == path && n.rule == f.rule && n.code == f.code && n.message == f.message
                })
            })
            .cloned()
            .collect();
        if findings.is_empty() {
            continue;
        }
        let only_new = Assessment {
            verdict: Verdict::of(&findings).max(Verdict::Warn),
            findings,
            ..package.clone()
        };
        let identity = package.sha256.clone().unwrap_or_else(|| path.clone());
        if let Some(alert) = alert_for(
            &only_new,
            &identity,
            &format!("audit:{name}"),
            &reports,
            &now,
        ) {
            rows.extend(outbox_rows(&alert, sinks)?);
        }
    }
    locked(outputs.store).enqueue_alerts(&rows, &now)?;
    Ok(Published {
        reports,
        alerts: rows.len(),
    })
}
