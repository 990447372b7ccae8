//! This daemon among others on one history: its name, and a heartbeat task that says it is
//! alive every few seconds and reads back which daemons are, and (on a shared history) the
//! latest packages any of them evaluated, for `/status` and the dashboard.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::shared::{recent_from, Shared};
use crate::history::{unix_ms, DaemonBeat};

/// How often a daemon says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A daemon silent for this long counts as gone.
const ALIVE_WITHIN: Duration = Duration::from_secs(15);

/// This machine's name, as the operating system gives it.
pub fn host_name() -> String {
    let from_os = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    from_os
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The daemon's name: the configured one, else host name and process id.
pub fn daemon_name(configured: Option<&str>) -> String {
    configured.map_or_else(
        || format!("{}-{}", host_name(), std::process::id()),
        str::to_owned,
    )
}

/// One heartbeat: records this daemon, then reads back the fleet.
fn beat(shared: &Shared, started_at: &str) {
    let policy_set = shared.status().policy_set.clone();
    let now = unix_ms();
    let beat = DaemonBeat {
        name: shared.holder.owner.clone(),
        host: host_name(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        policy_set,
        started_at: started_at.to_owned(),
        last_seen_ms: now,
    };
    let store = shared.store();
    match store.heartbeat(&beat) {
        Ok(()) => shared.set_store_down(None),
        Err(error) => {
            tracing::debug!(%error, "Cannot record the heartbeat");
            if error.is_unavailable() {
                // `/healthz` says so even when no package is being processed.
                shared.set_store_down(Some(error.to_string()));
            }
            return;
        }
    }
    let alive = store.daemons_since(now - ALIVE_WITHIN.as_millis() as i64);
    let recent = shared.claims_work.then(|| recent_from(&store));
    drop(store);
    let mut board = shared.status();
    if let Ok(alive) = alive {
        board.daemons = alive;
    }
    if let Some(recent) = recent {
        board.recent = recent;
    }
}

/// Beats until `stop` turns true, then leaves the fleet.
pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let started_at = shared.status().started_at.clone();
    loop {
        let (beating, started) = (Arc::clone(&shared), started_at.clone());
        super::outbox::joined(
            "heartbeat",
            tokio::task::spawn_blocking(move || beat(&beating, &started)).await,
        );
        tokio::select! {
            () = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.changed() => break,
        }
    }
    let leaving = Arc::clone(&shared);
    let left = tokio::task::spawn_blocking(move || {
        let name = leaving.holder.owner.clone();
        if let Err(error) = leaving.store().leave(&name) {
            tracing::debug!(%error, "Cannot remove this daemon from the daemons alive");
        }
    })
    .await;
    super::outbox::joined("heartbeat", left);
}
