//! Delivers alerts from the outbox in the history database to their sinks, off the workers'
//! path: an evaluation only queues its alerts (in the same transaction as its record), and this
//! task delivers them, marks each delivered, and retries failures on the next round. A restart
//! resumes where it stopped, since the outbox is durable.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::shared::Shared;
use super::snapshot::Snapshot;
use crate::alert::FileSink;
use crate::config::AlertSinkKind;
use crate::run::now_rfc3339;

/// Pause between rounds when nothing wakes the deliverer (and after a failed delivery).
const ROUND: Duration = Duration::from_secs(5);

/// Delivers every pending alert once; returns how many were delivered.
pub fn deliver_pending(shared: &Shared, snapshot: &Snapshot) -> usize {
    let mut delivered = 0;
    for sink in &snapshot.config.alerts {
        let AlertSinkKind::File {
            path,
            max_bytes,
            keep,
        } = &sink.kind;
        let file = FileSink {
            name: sink.name.clone(),
            path: path.clone(),
            max_bytes: *max_bytes,
            keep: *keep,
        };
        let pending = match shared.store().pending_alerts(&sink.name, 500) {
            Ok(pending) => pending,
            Err(error) => {
                shared.metrics.error("history");
                tracing::error!(%error, "Cannot read the alert outbox");
                return delivered;
            }
        };
        for entry in pending {
            match file.deliver(&entry.payload) {
                Ok(()) => {
                    shared.metrics.alert_delivered(&sink.name);
                    delivered += 1;
                    if let Err(error) = shared.store().mark_delivered(entry.id, &now_rfc3339()) {
                        tracing::error!(%error, "Cannot mark an alert delivered");
                    }
                }
                Err(error) => {
                    shared.metrics.alert_failed(&sink.name);
                    tracing::warn!(sink = %sink.name, %error, attempts = entry.attempts + 1, "Alert delivery failed; will retry");
                    let _ = shared.store().mark_failed(entry.id, &error.to_string());
                    break;
                }
            }
        }
    }
    if let Ok(pending) = shared.store().pending_alert_count() {
        shared.metrics.alerts_pending.set(pending);
        shared.status().alerts_pending = pending;
    }
    delivered
}

/// Runs delivery rounds until `stop` turns true, then delivers what is left once more.
pub async fn run(
    shared: Arc<Shared>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let snapshot = Arc::clone(&snapshots.borrow());
        let round_shared = Arc::clone(&shared);
        let _ =
            tokio::task::spawn_blocking(move || deliver_pending(&round_shared, &snapshot)).await;
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = shared.outbox_wake.notified() => {}
            () = tokio::time::sleep(ROUND) => {}
            _ = stop.changed() => {}
        }
    }
}
