//! `solguard watch`: the rules daemon on shared drop folders.
//!
//! It watches each `[[watch]]` folder (file events, or polling for network shares), waits until
//! a package is whole (settled and, for a zip, its central directory reads), names it by its
//! content hash so the same bytes are evaluated once across renames and restarts, evaluates it
//! on a bounded pool of worker threads, writes a JSON and a Markdown report, records it with
//! its alerts in the history database in one transaction, delivers the alerts, and moves the
//! package by verdict when the folder says so. Rules reload on SIGHUP or when the config or a
//! policy changes, only when all of the new rules are valid. A status server answers
//! `/healthz`, `/metrics` and `/status`. `[[audit]]` entries audit release repositories on a cron
//! schedule, alerting only on findings new since their previous run.

mod candidates;
mod daemon;
mod dashboard;
mod disposition;
mod fleet;
mod metrics;
mod os_signals;
mod outbox;
mod process;
mod schedule;
mod shared;
mod snapshot;
mod sources;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::diagnostic::now_rfc3339;
use crate::history::{HistoryError, HistoryStore, Holder};

pub use candidates::is_temporary_name;
pub use disposition::move_into;
pub use snapshot::{ConfigSource, Snapshot, SnapshotError};

use shared::{ReloadStatus, Shared, StatusBoard};

/// How to run the daemon.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub source: ConfigSource,
    /// Process what is in the folders now, then return.
    pub once: bool,
    pub status: StatusServer,
}

/// Whether and where the status server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusServer {
    /// As the config says.
    Configured,
    Off,
    At(SocketAddr),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub evaluated: usize,
    /// Already evaluated (same bytes); not evaluated again.
    pub skipped: usize,
    /// Not complete yet when a `--once` run ended.
    pub incomplete: usize,
    /// Failed for reasons outside the package (disk, database); retried.
    pub failed: usize,
}

/// Errors that stop the daemon (at start: the rules, the database, the folders, the status
/// address, the signals). Everything that goes wrong with one package, one delivery or one
/// scheduled audit afterwards is a [`crate::pipeline::PipelineError`] or an
/// [`crate::alert::AlertError`]: logged, counted in `/metrics`, retried, and the daemon goes on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Rules(#[from] SnapshotError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(
        "no [[watch]] folders are configured; add one to the config (see the shipped config.toml)"
    )]
    NoFolders,
    #[error("{path}: cannot create folder: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("status server: cannot listen on {address}: {source} (set [daemon] status, or use --no-status)")]
    Status {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {source}")]
    Signals { source: std::io::Error },
    #[error("{lock}: another solguard watch is running on this state folder; stop it first (several daemons on one history are not supported yet)")]
    AlreadyRunning { lock: PathBuf },
    #[error("{lock}: cannot take the instance lock: {source}")]
    Lock {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// Warns when the history is missing or empty although the reports folder shows that this
/// state folder was used before: starting afresh would evaluate everything again.
fn warn_on_lost_history(history: &std::path::Path, reports: &std::path::Path) {
    let empty = std::fs::metadata(history).map_or(true, |m| m.len() == 0);
    if !empty {
        return;
    }
    let used = std::fs::read_dir(reports).is_ok_and(|mut entries| {
        entries.any(|e| {
            e.is_ok_and(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".json") && name != "index.json"
            })
        })
    });
    if used {
        tracing::warn!(history = %history.display(), reports = %reports.display(), "The history database is missing or empty but the reports folder holds reports: starting a new history; every package is evaluated again");
    }
}

/// Takes the instance lock beside the history database (`solguard.lock`, held with `flock`
/// for the daemon's lifetime; the kernel releases it when the process dies, however it dies).
fn instance_lock(history: &std::path::Path) -> Result<std::fs::File, WatchError> {
    let lock = history
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join("solguard.lock");
    let failed = |source| WatchError::Lock {
        lock: lock.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(failed)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{flock, FlockOperation};
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(WatchError::AlreadyRunning { lock }),
            Err(errno) => return Err(failed(errno.into())),
        }
    }
    Ok(file)
}

pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the daemon until SIGINT or SIGTERM (or, with `once`, until the folders' current
/// packages are done). Needs a multi-threaded Tokio runtime.
pub async fn run(options: WatchOptions) -> Result<RunSummary, WatchError> {
    let snapshot = Snapshot::load(&options.source)?;
    let config = &snapshot.config;
    if config.watches.is_empty() {
        return Err(WatchError::NoFolders);
    }
    let sqlite = config.daemon.history.sqlite_path();
    let history_dir = sqlite.and_then(|file| file.parent()).map(PathBuf::from);
    let folders = [Some(config.daemon.reports_dir.clone()), history_dir]
        .into_iter()
        .flatten()
        .chain(config.watches.iter().map(|w| w.path.clone()));
    for folder in folders.filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(&folder).map_err(|source| WatchError::Folder {
            path: folder.clone(),
            source,
        })?;
    }
    // Held until the daemon returns: one daemon per SQLite file. Daemons on PostgreSQL share
    // the work through claims in the database instead.
    let _instance = sqlite.map(instance_lock).transpose()?;
    if let Some(file) = sqlite {
        warn_on_lost_history(file, &config.daemon.reports_dir);
    }
    let store = tokio::task::block_in_place(|| -> Result<HistoryStore, HistoryError> {
        let store = HistoryStore::open(&config.daemon.history)?;
        store.verify()?;
        if !store.is_shared() {
            // This daemon holds the instance lock: no other is alive on this file.
            store.end_all_leases()?;
        }
        Ok(store)
    })?;
    let name = fleet::daemon_name(config.daemon.name.as_deref());
    let address = match options.status {
        _ if options.once => None,
        StatusServer::Configured => config.daemon.status,
        StatusServer::Off => None,
        StatusServer::At(address) => Some(address),
    };
    let listener = match address {
        Some(address) => Some(
            status::bind(address)
                .await
                .map_err(|source| WatchError::Status { address, source })?,
        ),
        None => None,
    };
    let board = StatusBoard {
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: now_rfc3339(),
        workers: config.daemon.worker_count(),
        config: options.source.file().map(|p| p.display().to_string()),
        policy_set: snapshot.policies.hash().to_owned(),
        policy_sets: snapshot.policy_sets().into_iter().collect(),
        policies: snapshot
            .policies
            .ids()
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        last_reload: ReloadStatus {
            at: now_rfc3339(),
            success: true,
            errors: Vec::new(),
        },
        // What the daemon processed before this start, so `/status` does not forget it.
        recent: tokio::task::block_in_place(|| shared::recent_from(&store)),
        name: name.clone(),
        ..StatusBoard::default()
    };
    if let Some(address) = address.filter(|a| !a.ip().is_loopback()) {
        if config.daemon.status_token.is_none() {
            tracing::warn!(%address, "The status server listens beyond this machine without a token: anyone who reaches it reads /status and /metrics; set [daemon] status_token");
        }
    }
    // A server answers several connections at once: one per worker (the first is open).
    let more = if store.is_shared() {
        tokio::task::block_in_place(|| {
            (1..config.daemon.worker_count())
                .map(|_| HistoryStore::open(&config.daemon.history))
                .collect::<Result<Vec<_>, _>>()
        })?
    } else {
        Vec::new()
    };
    let shared = Arc::new(
        Shared::new(
            store,
            Holder::new(name.clone(), config.daemon.lease),
            config.daemon.reports_dir.clone(),
            board,
        )
        .with_connections(more)
        .with_status_token(config.daemon.status_token.clone()),
    );
    shared
        .metrics
        .reloaded(true, Some(&snapshot.policy_sets()), unix_now());
    let folders = config
        .watches
        .iter()
        .map(|w| w.path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let (reports, history) = (
        config.daemon.reports_dir.clone(),
        config.daemon.history.clone(),
    );
    let (workers, policy_set) = (
        config.daemon.worker_count(),
        snapshot.policies.hash().to_owned(),
    );
    let max_connections = config.daemon.status_max_connections;
    let (snapshots, snapshot_updates) = tokio::sync::watch::channel(Arc::new(snapshot));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = listener.map(|listener| {
        if let Ok(local) = listener.local_addr() {
            tracing::info!(address = %local, "Status server listening (/healthz, /metrics, /status)");
        }
        tokio::spawn(status::serve(
            listener,
            Arc::clone(&shared),
            stopped.clone(),
            max_connections,
        ))
    });
    let audits = (!options.once).then(|| {
        tokio::spawn(schedule::run(
            Arc::clone(&shared),
            snapshot_updates.clone(),
            stopped.clone(),
        ))
    });
    let heartbeat =
        (!options.once).then(|| tokio::spawn(fleet::run(Arc::clone(&shared), stopped.clone())));
    let deliverer = tokio::spawn(outbox::run(Arc::clone(&shared), snapshot_updates, stopped));
    let daemon = daemon::Daemon::new(options.source, Arc::clone(&shared), snapshots, options.once);
    // Said once the folder and rules watchers exist: an edit made after this line is seen.
    tracing::info!(
        %folders,
        reports = %reports.display(),
        %history,
        daemon = %name,
        workers,
        %policy_set,
        "solguard watch started"
    );
    let summary = daemon.run().await;
    // Every task holds a receiver until it returns, so the stop always reaches them.
    stop.send_replace(true);
    if let Some(audits) = audits {
        outbox::joined("scheduled audits", audits.await);
    }
    outbox::joined("alert delivery", deliverer.await);
    if let Some(heartbeat) = heartbeat {
        outbox::joined("heartbeat", heartbeat.await);
    }
    if let Some(server) = server {
        outbox::joined("status server", server.await);
    }
    let summary = summary?;
    tracing::info!(
        evaluated = summary.evaluated,
        skipped = summary.skipped,
        incomplete = summary.incomplete,
        failed = summary.failed,
        "solguard watch stopped"
    );
    Ok(summary)
}
