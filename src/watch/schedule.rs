//! Scheduled audits in the daemon: each `[[audit]]` runs on its cron schedule in its time zone,
//! on a blocking thread, with the rules current at its start. Its report goes to the reports
//! folder (`audit-<name>.<ext>`), and alerts go only for findings new since its previous run
//! (the baseline kept in the history database under `schedule:<name>`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::shared::Shared;
use super::snapshot::Snapshot;
use crate::alert::{alert_for, outbox_rows};
use crate::audit::{audit, AuditOptions};
use crate::config::AuditConfig;
use crate::eval::{Evaluator, Verdict};
use crate::report::{render, write_atomic, PackageReport, RenderOptions, ReportFormat};
use crate::run::now_rfc3339;

/// An audit as `/status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditStatus {
    pub name: String,
    pub next_run: Option<String>,
    pub last_run: Option<String>,
    pub last_result: Option<String>,
}

fn next_after(audit: &AuditConfig, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    audit
        .schedule
        .after(&after.with_timezone(&audit.time_zone))
        .next()
        .map(|at| at.with_timezone(&Utc))
}

/// Runs one audit now; returns a line for logs and `/status`.
pub fn run_audit(
    shared: &Shared,
    snapshot: &Snapshot,
    config: &AuditConfig,
) -> Result<String, String> {
    let mut evaluator = Evaluator::new(
        &snapshot.policies,
        snapshot.config.eval_for_audit(config),
        time::OffsetDateTime::now_utc().date(),
    );
    let options = AuditOptions {
        order: config.order,
        workers: snapshot.config.daemon.worker_count(),
        baseline: Some(format!("schedule:{}", config.name)),
    };
    let report = audit(
        &mut evaluator,
        &config.folders,
        Some(shared.store_mutex()),
        &options,
    )
    .map_err(|e| e.to_string())?;
    let mut formats = vec![ReportFormat::Json];
    formats.extend(
        snapshot
            .config
            .report_formats
            .iter()
            .filter(|f| **f != ReportFormat::Json),
    );
    let mut written = Vec::new();
    for format in formats {
        let path = shared
            .reports_dir
            .join(format!("audit-{}.{}", config.name, format.extension()));
        let bytes =
            render(&report, format, &RenderOptions::default()).map_err(|e| e.to_string())?;
        write_atomic(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    let new = report
        .audit
        .as_ref()
        .and_then(|a| a.new_findings.clone())
        .unwrap_or_default();
    let sinks: Vec<_> = snapshot
        .config
        .alerts
        .iter()
        .filter(|s| {
            config
                .alerts
                .as_ref()
                .is_none_or(|names| names.contains(&s.name))
        })
        .cloned()
        .collect();
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
        let only_new = PackageReport {
            verdict: Verdict::of(&findings).max(Verdict::Warn),
            findings,
            ..package.clone()
        };
        let identity = package.sha256.clone().unwrap_or_else(|| path.clone());
        let source = format!("audit:{}", config.name);
        if let Some(alert) = alert_for(&only_new, &identity, &source, &written, &now) {
            rows.extend(outbox_rows(&alert, &sinks).map_err(|e| e.to_string())?);
        }
    }
    shared
        .store()
        .enqueue_alerts(&rows, &now)
        .map_err(|e| e.to_string())?;
    shared.outbox_wake.notify_one();
    Ok(format!(
        "{} packages in {} streams, {} new findings, {} alerts queued",
        report.packages.len(),
        report.streams.len(),
        new.len(),
        rows.len()
    ))
}

/// Fires every configured audit on its schedule until `stop` turns true.
pub async fn run(
    shared: Arc<Shared>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut next: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let snapshot = Arc::clone(&snapshots.borrow());
        let now = Utc::now();
        next.retain(|name, _| snapshot.config.audits.iter().any(|a| &a.name == name));
        for config in &snapshot.config.audits {
            let due = next
                .entry(config.name.clone())
                .or_insert_with(|| next_after(config, now).unwrap_or(DateTime::<Utc>::MAX_UTC));
            if *due > now || running.get(&config.name).is_some_and(|r| !r.is_finished()) {
                continue;
            }
            *due = next_after(config, now).unwrap_or(DateTime::<Utc>::MAX_UTC);
            let (shared, snapshot, config) =
                (Arc::clone(&shared), Arc::clone(&snapshot), config.clone());
            running.insert(
                config.name.clone(),
                tokio::task::spawn_blocking(move || {
                    tracing::info!(audit = %config.name, "Scheduled audit started");
                    let result = run_audit(&shared, &snapshot, &config);
                    let line = match &result {
                        Ok(line) => {
                            tracing::info!(audit = %config.name, result = %line, "Scheduled audit done");
                            line.clone()
                        }
                        Err(error) => {
                            shared.metrics.error("audit");
                            tracing::error!(audit = %config.name, %error, "Scheduled audit failed");
                            format!("failed: {error}")
                        }
                    };
                    let mut board = shared.status();
                    if let Some(entry) = board.audits.iter_mut().find(|a| a.name == config.name) {
                        entry.last_run = Some(now_rfc3339());
                        entry.last_result = Some(line);
                    }
                }),
            );
        }
        {
            let mut board = shared.status();
            board.audits = snapshot
                .config
                .audits
                .iter()
                .map(|a| {
                    let old = board.audits.iter().find(|s| s.name == a.name).cloned();
                    AuditStatus {
                        name: a.name.clone(),
                        next_run: next.get(&a.name).map(|t| t.to_rfc3339()),
                        last_run: old.as_ref().and_then(|o| o.last_run.clone()),
                        last_result: old.and_then(|o| o.last_result),
                    }
                })
                .collect();
        }
        let wait = next
            .values()
            .map(|at| (*at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .min()
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
