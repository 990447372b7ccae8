//! State the daemon's tasks share: the history store, metrics, the status board the status
//! server shows, and keyed locks that keep releases of one solution in order and the same bytes evaluated once.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use super::metrics::Metrics;
use crate::assessment::AssessmentSummary;
use crate::history::{DaemonBeat, HistoryStore, Holder, SinkCounts};

/// How many recent packages `/status` lists.
const RECENT: usize = 50;

/// A package the daemon finished, as `/status` lists it: its assessment's summary, the folder
/// it came from, its reports and where it was moved.
#[derive(Debug, Clone, Serialize)]
pub struct RecentPackage {
    #[serde(flatten)]
    pub summary: AssessmentSummary,
    pub watch: String,
    /// The daemon that evaluated it (`None` in rows from before it was recorded).
    pub daemon: Option<String>,
    pub reports: Vec<String>,
    pub moved_to: Option<String>,
}

/// The last packages recorded in the history database, newest first, as `/status` lists
/// them.
pub fn recent_from(store: &HistoryStore) -> VecDeque<RecentPackage> {
    match store.recent_processed(RECENT) {
        Ok(processed) => processed
            .into_iter()
            .map(|p| RecentPackage {
                summary: p.summary,
                watch: p.watch.unwrap_or_default(),
                daemon: p.daemon,
                reports: p.reports,
                moved_to: None,
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "Cannot read the recent packages back from the history");
            VecDeque::new()
        }
    }
}

/// A scheduled audit as `/status` and the dashboard show it.
pub use crate::report::AuditLine as AuditStatus;

#[derive(Debug, Clone, Serialize)]
pub struct FolderStatus {
    pub name: String,
    pub path: String,
    /// `events` or `polling`.
    pub mode: String,
    pub present: bool,
    pub pending: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    pub at: String,
    pub success: bool,
    pub errors: Vec<String>,
}

/// What `/status` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusBoard {
    pub version: String,
    pub started_at: String,
    pub workers: usize,
    pub config: Option<String>,
    /// Hash of the policies and engine.
    pub policy_set: String,
    /// Per watch folder: the hash of everything that decides its verdicts, as in its reports.
    pub policy_sets: std::collections::BTreeMap<String, String>,
    pub policies: Vec<String>,
    pub last_reload: ReloadStatus,
    pub folders: Vec<FolderStatus>,
    pub queue_depth: usize,
    pub in_flight: usize,
    /// Scheduled audits: next and last run.
    pub audits: Vec<AuditStatus>,
    /// Alert outbox per sink: pending, delivered, dead, last error.
    pub alerts: Vec<SinkCounts>,
    /// This daemon's name among those sharing the history.
    pub name: String,
    /// The daemons sharing the history whose heartbeat is recent, this one included.
    pub daemons: Vec<DaemonBeat>,
    /// The latest packages, evaluated by any daemon on the history, newest first.
    pub recent: VecDeque<RecentPackage>,
}

pub struct Shared {
    /// Connections to the history database: one for a file (SQLite has one writer anyway),
    /// one per worker for a server, so workers do not wait on each other's round trips.
    stores: Vec<Mutex<HistoryStore>>,
    /// This daemon as it holds leases on shared work (its name and lease length).
    pub holder: Holder,
    /// Whether other daemons share the store, so work is claimed before it is done.
    pub claims_work: bool,
    pub metrics: Metrics,
    status: Mutex<StatusBoard>,
    keyed_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Alerts delivered whose delivery is not recorded yet (the database went away).
    pub unrecorded: crate::alert::Unrecorded,
    /// Wakes the alert deliverer when the outbox has new entries.
    pub outbox_wake: tokio::sync::Notify,
    pub reports_dir: PathBuf,
    /// Why writing reports or the database fails right now (`None` while writes succeed):
    /// `/healthz` answers 503 with it.
    failing: Mutex<Option<String>>,
    /// Why the history database is out of reach, while it is (processing pauses).
    store_down: Mutex<Option<String>>,
    /// The bearer token `/status` and `/metrics` require, if one is configured.
    status_token: Option<crate::config::Secret>,
    /// `POST /reload` asked for a reload (the daemon takes it at its next turn).
    reload_requested: std::sync::atomic::AtomicBool,
}

/// Locks a mutex, taking over one a panicked thread held: every guarded value here stays
/// consistent between statements, so the data is still good.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(
        store: HistoryStore,
        holder: Holder,
        reports_dir: PathBuf,
        board: StatusBoard,
    ) -> Self {
        Self {
            claims_work: store.is_shared(),
            holder,
            stores: vec![Mutex::new(store)],
            metrics: Metrics::new(),
            status: Mutex::new(board),
            keyed_locks: Mutex::new(HashMap::new()),
            unrecorded: crate::alert::Unrecorded::default(),
            outbox_wake: tokio::sync::Notify::new(),
            reports_dir,
            failing: Mutex::new(None),
            store_down: Mutex::new(None),
            status_token: None,
            reload_requested: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Asks the daemon to load its config and policies again (`POST /reload`; Windows has no
    /// SIGHUP).
    pub fn request_reload(&self) {
        self.reload_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether a reload was asked for since the last call.
    pub fn take_reload_requested(&self) -> bool {
        self.reload_requested
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    /// Requires `token` on `/status` and `/metrics`.
    pub fn with_status_token(mut self, token: Option<crate::config::Secret>) -> Self {
        self.status_token = token;
        self
    }

    pub fn status_token(&self) -> Option<&str> {
        self.status_token
            .as_ref()
            .map(crate::config::Secret::expose)
    }

    /// Records that writing failed (`Some(why)`) or works again (`None`).
    pub fn set_failing(&self, why: Option<String>) {
        *lock(&self.failing) = why;
    }

    /// Records that the history database is out of reach (`Some(why)`) or answers again.
    pub fn set_store_down(&self, why: Option<String>) {
        *lock(&self.store_down) = why;
    }

    /// Why the daemon cannot work now, if it cannot: the history database out of reach, or
    /// writes failing.
    pub fn failing(&self) -> Option<String> {
        lock(&self.store_down)
            .clone()
            .or_else(|| lock(&self.failing).clone())
    }

    /// More connections to the same history, for the workers.
    pub fn with_connections(mut self, more: Vec<HistoryStore>) -> Self {
        self.stores.extend(more.into_iter().map(Mutex::new));
        self
    }

    /// A connection to the history database: a free one if there is one.
    pub fn store(&self) -> MutexGuard<'_, HistoryStore> {
        for store in &self.stores {
            if let Ok(guard) = store.try_lock() {
                return guard;
            }
        }
        lock(self.store_mutex())
    }

    /// A connection's lock itself, for code that locks it briefly and often (alert delivery,
    /// publishing): one that is free now, else this thread's.
    pub fn store_mutex(&self) -> &Mutex<HistoryStore> {
        let free = self.stores.iter().find(|s| s.try_lock().is_ok());
        free.unwrap_or_else(|| {
            let thread = std::thread::current().id();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&thread, &mut hasher);
            let index = std::hash::Hasher::finish(&hasher) as usize % self.stores.len();
            &self.stores[index]
        })
    }

    pub fn status(&self) -> MutexGuard<'_, StatusBoard> {
        lock(&self.status)
    }

    /// The lock named `key`, shared by every job that asks for the same key (a solution's
    /// name, a content hash). Unused locks are dropped as the map grows.
    pub fn keyed_lock(&self, key: &str) -> Arc<Mutex<()>> {
        let mut locks = lock(&self.keyed_locks);
        if locks.len() > 4096 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    pub fn remember(&self, package: RecentPackage) {
        let mut board = self.status();
        board.recent.push_front(package);
        board.recent.truncate(RECENT);
    }
}
