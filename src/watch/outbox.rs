//! Runs alert delivery for the daemon, off the workers' path: an evaluation only queues its
//! alerts (in the transaction that records it), and this task starts a delivery round per sink
//! whenever the outbox has news, each on its own blocking thread, so a slow or failing sink
//! never holds up evaluation or the other sinks. Outbox totals feed `/metrics` and `/status`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::shared::Shared;
use super::snapshot::Snapshot;
use crate::alert::{deliver_due, Outbox};
use crate::config::AlertSinkConfig;

/// Pause between rounds when nothing wakes the deliverer (retries come due on this tick).
const TICK: Duration = Duration::from_secs(1);
/// How long shutdown waits for rounds in progress.
const FINAL_ROUND: Duration = Duration::from_secs(10);

fn round(shared: &Shared, sink: &AlertSinkConfig, digest_due: bool) {
    let outbox = Outbox {
        store: shared.store_mutex(),
        holder: &shared.holder,
        unrecorded: &shared.unrecorded,
    };
    match deliver_due(&outbox, sink, digest_due) {
        Ok(outcome) => {
            if outcome.delivered > 0 {
                shared
                    .metrics
                    .alerts_delivered(&sink.name, outcome.delivered);
                tracing::info!(sink = %sink.name, delivered = outcome.delivered, "Alerts delivered");
            }
            if let Some(error) = &outcome.error {
                shared.metrics.alert_failed(&sink.name);
                tracing::warn!(sink = %sink.name, %error, "Alert delivery failed; will retry");
            }
            if outcome.dead > 0 {
                tracing::error!(sink = %sink.name, dead = outcome.dead, "Alerts given up after their maximum age");
            }
        }
        Err(error) if error.is_unavailable() => {
            // The daemon's main loop reports the outage once; delivery resumes with it.
            tracing::debug!(sink = %sink.name, %error, "Cannot reach the alert outbox");
        }
        Err(error) => {
            shared.metrics.error("history");
            tracing::error!(sink = %sink.name, %error, "Cannot read the alert outbox");
        }
    }
}

fn publish_counts(shared: &Shared) {
    let counts = shared.store().sink_counts();
    if let Ok(counts) = counts {
        for sink in &counts {
            shared
                .metrics
                .alert_counts(&sink.sink, sink.pending, sink.dead);
        }
        shared.status().alerts = counts;
    }
}

/// Starts delivery rounds until `stop` turns true, then runs a last round for every sink.
pub async fn run(
    shared: Arc<Shared>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut last_digest: HashMap<String, Instant> = HashMap::new();
    // Totals are read at most once per tick: a burst wakes this loop per package.
    let mut counts_read: Option<Instant> = None;
    loop {
        let stopping = *stop.borrow();
        let snapshot = Arc::clone(&snapshots.borrow());
        for sink in &snapshot.config.alerts {
            if running.get(&sink.name).is_some_and(|r| !r.is_finished()) {
                continue;
            }
            let digest_due = sink.route.digest.is_some_and(|every| {
                let last = last_digest
                    .entry(sink.name.clone())
                    .or_insert_with(Instant::now);
                let due = last.elapsed() >= every;
                if due {
                    *last = Instant::now();
                }
                due
            });
            let (shared, sink) = (Arc::clone(&shared), sink.clone());
            let name = sink.name.clone();
            running.insert(
                name,
                tokio::task::spawn_blocking(move || round(&shared, &sink, digest_due)),
            );
        }
        if counts_read.is_none_or(|at| at.elapsed() >= TICK) {
            counts_read = Some(Instant::now());
            let counts_shared = Arc::clone(&shared);
            joined(
                "alert counts",
                tokio::task::spawn_blocking(move || publish_counts(&counts_shared)).await,
            );
        }
        if stopping {
            let all = futures_join(running.into_values().collect());
            if tokio::time::timeout(FINAL_ROUND, all).await.is_err() {
                tracing::warn!(
                    seconds = FINAL_ROUND.as_secs(),
                    "Final alert delivery round cut short; undelivered alerts stay queued"
                );
            }
            let counts_shared = Arc::clone(&shared);
            joined(
                "alert counts",
                tokio::task::spawn_blocking(move || publish_counts(&counts_shared)).await,
            );
            return;
        }
        tokio::select! {
            () = shared.outbox_wake.notified() => {}
            () = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Waits for every handle.
async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for handle in handles {
        joined("alert delivery round", handle.await);
    }
}

/// Logs a blocking task that panicked or was cancelled; the outbox keeps its alerts, so the
/// next round delivers them.
pub(super) fn joined(task: &str, result: Result<(), tokio::task::JoinError>) {
    if let Err(error) = result {
        tracing::error!(task, %error, "A daemon task ended abnormally");
    }
}
