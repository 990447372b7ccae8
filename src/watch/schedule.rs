//! Scheduled audits in the daemon: each `[[audit]]` runs on its cron schedule in its time zone,
//! on a blocking thread, with the rules current at its start. Its report goes to the reports
//! folder (`audit-<name>.<ext>`), and alerts go only for findings new since its previous run
//! (the baseline kept in the history database under `schedule:<name>`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::shared::{AuditStatus, Shared};
use super::snapshot::Snapshot;
use crate::audit::{audit, AuditOptions, AuditStores, BaselineOptions};
use crate::config::AuditConfig;
use crate::diagnostic::now_rfc3339;
use crate::history::{Claim, ClaimKey, ClaimToken};
use crate::pipeline::{publish_audit, Outputs, PipelineError};

fn next_after(audit: &AuditConfig, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    audit
        .schedule
        .after(&after.with_timezone(&audit.time_zone))
        .next()
        .map(|at| at.with_timezone(&Utc))
}

/// Runs one audit now; returns a line for logs and `/status`. Each run compares with the
/// previous run's findings and moves the baseline on, so alerts go only for new findings.
pub fn run_audit(
    shared: &Shared,
    snapshot: &Snapshot,
    config: &AuditConfig,
) -> Result<String, PipelineError> {
    let mut pipeline = snapshot
        .policies
        .pipeline(snapshot.config.eval_for_audit(config));
    let options = AuditOptions {
        order: config.order,
        workers: snapshot.config.daemon.worker_count(),
        baseline: Some(BaselineOptions {
            repository: format!("schedule:{}", config.name),
            update: true,
        }),
    };
    let stores = AuditStores {
        cache: Some(shared.store_mutex()),
        baseline: Some(shared.store_mutex()),
    };
    let report = audit(&mut pipeline, &config.folders, stores, &options)?;
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
    let outputs = Outputs {
        store: shared.store_mutex(),
        reports_dir: &shared.reports_dir,
        config: &snapshot.config,
        daemon: Some(&shared.holder.owner),
    };
    let published = publish_audit(&outputs, &report, &config.name, &sinks)?;
    shared.outbox_wake.notify_one();
    let new = report
        .audit
        .as_ref()
        .and_then(|a| a.new_findings.as_ref())
        .map_or(0, Vec::len);
    Ok(format!(
        "{} packages in {} streams, {new} new findings, {} alerts queued",
        report.packages.len(),
        report.streams.len(),
        published.alerts
    ))
}

/// Takes the run of audit `name` at schedule tick `tick` when daemons share the history: one
/// of them runs it. `None` when another daemon has it; `Some(None)` when nothing needs
/// claiming (a daemon on its own file).
fn take_tick(shared: &Shared, name: &str, tick: &str) -> Option<Option<ClaimToken>> {
    if !shared.claims_work {
        return Some(None);
    }
    let claimed = shared
        .store()
        .claim(&ClaimKey::audit(name, tick), &shared.holder);
    let why = match claimed {
        Ok(Claim::Acquired(token)) => return Some(Some(token)),
        Ok(Claim::Done) => "already run by another daemon".to_owned(),
        Ok(Claim::HeldBy { owner, .. }) => format!("run by daemon {owner}"),
        Err(error) => {
            tracing::error!(audit = %name, %error, "Cannot claim the scheduled audit's run; skipped");
            format!("skipped: {error}")
        }
    };
    tracing::info!(audit = %name, tick, "Scheduled audit {why}");
    let mut board = shared.status();
    if let Some(entry) = board.audits.iter_mut().find(|a| a.name == name) {
        entry.last_run = Some(now_rfc3339());
        entry.last_result = Some(why);
    }
    None
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
            let tick = due.to_rfc3339();
            *due = next_after(config, now).unwrap_or(DateTime::<Utc>::MAX_UTC);
            let (shared, snapshot, config) =
                (Arc::clone(&shared), Arc::clone(&snapshot), config.clone());
            running.insert(
                config.name.clone(),
                tokio::task::spawn_blocking(move || {
                    let Some(turn) = take_tick(&shared, &config.name, &tick) else {
                        return;
                    };
                    tracing::info!(audit = %config.name, "Scheduled audit started");
                    let result = run_audit(&shared, &snapshot, &config);
                    if let Some(token) = turn {
                        if let Err(error) = shared.store().finish_claim(&token) {
                            tracing::warn!(audit = %config.name, %error, "Cannot mark the audit's run done");
                        }
                    }
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
