//! The daemon's main loop: one task owns the folders, the package tracker and the queue; it
//! scans what changed, hands settled packages to a bounded pool of blocking workers, takes
//! their outcomes back, reloads rules on request, and on a stop signal finishes what is in
//! flight and returns.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::candidates::{scan, Ready, Tracker};
use super::os_signals::{OsRequest, OsSignals};
use super::process::{Job, Outcome};
use super::shared::{FolderStatus, ReloadStatus, Shared};
use super::snapshot::{ConfigSource, Snapshot};
use super::sources::{watch_rules, FolderSource, Signals};
use super::{unix_now, RunSummary, WatchError};
use crate::config::DaemonSettings;
use crate::diagnostic::{now_rfc3339, shown};
use crate::report::write_index;

/// How often the loop wakes without events, to observe settling packages.
const TICK: Duration = Duration::from_millis(200);
/// Past a package's settle time when the daemon wakes for it: timers may fire a little early.
const SETTLE_SLACK: Duration = Duration::from_millis(1);
/// Least time between two scans: a burst of file events must not rescan per event.
const MIN_OBSERVE_GAP: Duration = Duration::from_millis(100);
/// Quiet time after a config or policy change before reloading (editors write in steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(300);
/// Least time between two rewrites of the reports index.
const INDEX_GAP: Duration = Duration::from_secs(1);
/// Wait before retrying a package whose evaluation failed for reasons outside it.
const RETRY_FAILED: Duration = Duration::from_secs(30);
/// While the history database is out of reach: how often it is asked again.
const PROBE_STORE: Duration = Duration::from_secs(1);

pub(super) struct Daemon {
    source: ConfigSource,
    shared: Arc<Shared>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// Settings fixed at start (paths, workers, status); reloads change only rules and folders.
    settings: DaemonSettings,
    workers: usize,
    once: bool,
    signals: Arc<Signals>,
    folders: Vec<FolderSource>,
    tracker: Tracker,
    ready: VecDeque<Ready>,
    in_flight: JoinSet<(Ready, Outcome)>,
    /// Kept alive: dropping it stops rule-change events.
    rules_watcher: Option<notify::RecommendedWatcher>,
    summary: RunSummary,
    /// The index needs rewriting; when it was last written.
    index_stale: bool,
    index_written: Option<Instant>,
    /// Since when the history database has been out of reach (no package starts meanwhile),
    /// and when it was last asked.
    store_down: Option<(Instant, Instant)>,
}

impl Daemon {
    pub fn new(
        source: ConfigSource,
        shared: Arc<Shared>,
        snapshots: watch::Sender<Arc<Snapshot>>,
        once: bool,
    ) -> Self {
        let snapshot = Arc::clone(&snapshots.borrow());
        let settings = snapshot.config.daemon.clone();
        let signals = Arc::new(Signals::default());
        let folders = snapshot
            .config
            .watches
            .iter()
            .map(|w| FolderSource::new(w, &signals))
            .collect();
        let rules_watcher = if once {
            None
        } else {
            watch_rules(
                source.file(),
                snapshot.config.policies_dir.as_deref(),
                &snapshot.config.referenced_files,
                &signals,
            )
        };
        Self {
            source,
            shared,
            snapshots,
            workers: settings.worker_count(),
            settings,
            once,
            signals,
            folders,
            tracker: Tracker::default(),
            ready: VecDeque::new(),
            in_flight: JoinSet::new(),
            rules_watcher,
            summary: RunSummary::default(),
            index_stale: false,
            index_written: None,
            store_down: None,
        }
    }

    pub async fn run(mut self) -> Result<RunSummary, WatchError> {
        let mut os = OsSignals::listen().map_err(|source| WatchError::Signals { source })?;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reload_at: Option<Instant> = None;
        let mut last_observe: Option<Instant> = None;
        loop {
            if self.signals.take_config_changed() {
                reload_at = Some(Instant::now() + RELOAD_DEBOUNCE);
            }
            if self.shared.take_reload_requested() {
                self.reload("POST /reload");
            }
            if reload_at.is_some_and(|at| at <= Instant::now()) {
                reload_at = None;
                self.reload("a config or policy file changed");
            }
            if last_observe.is_none_or(|at| at.elapsed() >= MIN_OBSERVE_GAP) {
                last_observe = Some(Instant::now());
                tokio::task::block_in_place(|| self.observe());
            }
            tokio::task::block_in_place(|| self.collect_due());
            self.dispatch();
            self.publish_status();
            self.refresh_index(false);
            if self.once && self.tracker.pending() == 0 && self.in_flight.is_empty() {
                for path in self.tracker.waiting() {
                    tracing::warn!(path = %shown(&path), "Not complete yet; left for a later run");
                    self.summary.incomplete += 1;
                }
                break;
            }
            // Woken when the next package settles, not on the next tick after it did.
            let next_due = self.tracker.next_due(self.settings.settle);
            let settled = async move {
                match next_due {
                    Some(at) => tokio::time::sleep_until((at + SETTLE_SLACK).into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {}
                () = settled => {}
                () = self.signals.wake.notified() => {}
                Some(joined) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    self.finished(joined);
                }
                request = os.next() => match request {
                    OsRequest::Reload(name) => self.reload(name),
                    OsRequest::Stop(name) => {
                        tracing::info!(signal = name, "{name}: finishing packages in flight, then stopping");
                        break;
                    }
                },
            }
        }
        self.drain(&mut os).await;
        self.refresh_index(true);
        Ok(self.summary)
    }

    /// Scans the folders that are due and queues the packages that settled.
    fn observe(&mut self) {
        let now = Instant::now();
        let snapshot = Arc::clone(&self.snapshots.borrow());
        for folder in &mut self.folders {
            if !folder.scan_due(
                &self.signals,
                self.settings.poll_interval,
                self.settings.rescan,
                now,
            ) {
                continue;
            }
            let Some(watch) = snapshot.watch(&folder.name) else {
                continue;
            };
            match scan(watch) {
                Ok(found) => {
                    folder.listed(true, &self.signals);
                    self.tracker.merge_scan(&folder.name, &found, now);
                }
                Err(error) => {
                    if folder.present {
                        tracing::debug!(folder = %folder.path.display(), %error, "Cannot list folder");
                    }
                    folder.listed(false, &self.signals);
                    self.tracker.merge_scan(&folder.name, &[], now);
                }
            }
        }
    }

    /// Queues the packages that settled (and the waiting ones whose retry came).
    fn collect_due(&mut self) {
        self.ready
            .extend(self.tracker.due(self.settings.settle, Instant::now()));
    }

    /// Whether the history database answers; while it does not, it is asked once per
    /// [`PROBE_STORE`] and no package starts (nothing could be recorded).
    fn store_reachable(&mut self) -> bool {
        let Some((since, asked)) = self.store_down else {
            return true;
        };
        if asked.elapsed() < PROBE_STORE {
            return false;
        }
        let shared = Arc::clone(&self.shared);
        match tokio::task::block_in_place(|| shared.store().ping()) {
            Ok(()) => {
                self.store_down = None;
                self.shared.set_store_down(None);
                tracing::info!(
                    paused_s = since.elapsed().as_secs_f64(),
                    "The history database answers again; resuming"
                );
                true
            }
            Err(error) => {
                self.store_down = Some((since, Instant::now()));
                self.shared.set_store_down(Some(error.to_string()));
                false
            }
        }
    }

    /// Starts queued packages while workers are free.
    fn dispatch(&mut self) {
        if !self.store_reachable() {
            return;
        }
        while self.in_flight.len() < self.workers {
            let Some(ready) = self.ready.pop_front() else {
                break;
            };
            if !self.tracker.start(&ready.path) {
                continue;
            }
            let snapshot = Arc::clone(&self.snapshots.borrow());
            let shared = Arc::clone(&self.shared);
            let incomplete_timeout = self.settings.incomplete_timeout;
            let recheck = self.settings.recheck_on_policy_change;
            self.in_flight.spawn_blocking(move || {
                let job = Job {
                    ready: &ready,
                    snapshot: &snapshot,
                    shared: &shared,
                    incomplete_timeout,
                    recheck_on_policy_change: recheck,
                };
                let outcome = catch_unwind(AssertUnwindSafe(|| job.run())).unwrap_or_else(|_| {
                    shared.metrics.error("panic");
                    Outcome::Failed("internal error (panic) while processing".into())
                });
                (ready, outcome)
            });
        }
    }

    fn finished(&mut self, joined: Result<(Ready, Outcome), tokio::task::JoinError>) {
        let Ok((ready, outcome)) = joined else {
            tracing::error!("A worker was lost");
            return;
        };
        let path: PathBuf = ready.path;
        match outcome {
            Outcome::Evaluated(_) => {
                self.summary.evaluated += 1;
                self.index_stale = true;
                self.tracker.finished(&path);
            }
            Outcome::Seen => {
                self.summary.skipped += 1;
                self.tracker.finished(&path);
            }
            Outcome::Incomplete(reason) => {
                let retry = self.settings.settle.max(Duration::from_millis(500));
                if self.tracker.incomplete(&path, Instant::now() + retry) == 1 {
                    tracing::info!(path = %shown(&path), %reason, "Settled but not complete; waiting");
                } else {
                    tracing::debug!(path = %shown(&path), %reason, "Still not complete");
                }
            }
            Outcome::Gone => self.tracker.forget(&path),
            Outcome::Deferred(wait) => {
                let _ = self.tracker.incomplete(&path, Instant::now() + wait);
            }
            Outcome::Unavailable(error) => {
                if self.store_down.is_none() {
                    tracing::error!(%error, "The history database is out of reach: processing pauses until it answers");
                    self.store_down = Some((Instant::now(), Instant::now()));
                }
                let _ = self.tracker.incomplete(&path, Instant::now() + PROBE_STORE);
            }
            Outcome::Failed(error) => {
                self.summary.failed += 1;
                tracing::error!(path = %shown(&path), %error, "Cannot process package; will retry");
                let _ = self
                    .tracker
                    .incomplete(&path, Instant::now() + RETRY_FAILED);
                if self.once {
                    self.tracker.forget(&path);
                }
            }
        }
    }

    /// Loads the config and policies again; swaps them in only when all of it is valid.
    fn reload(&mut self, why: &str) {
        let loaded = tokio::task::block_in_place(|| Snapshot::load(&self.source));
        let now = now_rfc3339();
        match loaded {
            Ok(new) => {
                let old = Arc::clone(&self.snapshots.borrow());
                if new.config.daemon != self.settings {
                    tracing::warn!("[daemon] settings changed; they take effect after a restart");
                }
                // Anything that changes a verdict: policies, rule settings, targets, waivers.
                let policies_changed = new.policy_sets() != old.policy_sets();
                self.rebuild_folders(&new);
                let watched_moved = new.config.policies_dir != old.config.policies_dir
                    || new.config.referenced_files != old.config.referenced_files;
                if watched_moved && !self.once {
                    self.rules_watcher = watch_rules(
                        self.source.file(),
                        new.config.policies_dir.as_deref(),
                        &new.config.referenced_files,
                        &self.signals,
                    );
                }
                tracing::info!(
                    reason = why,
                    policies = new.policies.ids().len(),
                    policy_set = new.policies.hash(),
                    "Rules reloaded"
                );
                let policy_sets = new.policy_sets();
                self.shared
                    .metrics
                    .reloaded(true, Some(&policy_sets), unix_now());
                {
                    let mut board = self.shared.status();
                    board.policy_set = new.policies.hash().to_owned();
                    board.policy_sets = policy_sets.into_iter().collect();
                    board.policies = new.policies.ids().iter().map(|s| (*s).to_owned()).collect();
                    board.last_reload = ReloadStatus {
                        at: now,
                        success: true,
                        errors: Vec::new(),
                    };
                }
                self.snapshots.send_replace(Arc::new(new));
                if policies_changed && self.settings.recheck_on_policy_change {
                    tracing::info!("Policies changed: re-checking the packages in the folders");
                    self.tracker.reset_done();
                }
            }
            Err(error) => {
                let errors: Vec<String> = error.to_string().lines().map(str::to_owned).collect();
                tracing::error!(reason = why, errors = %errors.join("; "), "Reload failed; keeping the previous rules");
                self.shared.metrics.reloaded(false, None, unix_now());
                self.shared.metrics.error("reload");
                self.shared.status().last_reload = ReloadStatus {
                    at: now,
                    success: false,
                    errors,
                };
            }
        }
    }

    fn rebuild_folders(&mut self, new: &Snapshot) {
        let mut folders = Vec::new();
        for watch in &new.config.watches {
            let kept = self
                .folders
                .iter()
                .position(|f| f.name == watch.name && !f.differs(watch));
            match kept {
                Some(index) => folders.push(self.folders.swap_remove(index)),
                None => {
                    tracing::info!(folder = %watch.path.display(), name = %watch.name, "Watching folder");
                    folders.push(FolderSource::new(watch, &self.signals));
                }
            }
        }
        for gone in &self.folders {
            tracing::info!(folder = %gone.path.display(), "No longer watching folder");
            self.tracker.merge_scan(&gone.name, &[], Instant::now());
        }
        self.folders = folders;
    }

    /// Rewrites `index.json` and `index.html` in the reports folder when packages were
    /// evaluated since the last write (at most once per second unless `now`).
    fn refresh_index(&mut self, now: bool) {
        let due = self
            .index_written
            .is_none_or(|at| at.elapsed() >= INDEX_GAP);
        if !self.index_stale || !(now || due) {
            return;
        }
        self.index_stale = false;
        self.index_written = Some(Instant::now());
        let dir = self.shared.reports_dir.clone();
        let shared = &self.shared;
        let read = tokio::task::block_in_place(|| super::dashboard::dashboard(shared, "", false));
        let snapshot = match read {
            Ok(snapshot) => snapshot,
            Err(error) => {
                if error.is_unavailable() {
                    tracing::debug!(%error, "Cannot read recent packages for the index now");
                } else {
                    tracing::error!(%error, "Cannot read recent packages for the index");
                }
                // Written again once the database answers.
                self.index_stale = true;
                return;
            }
        };
        if let Err(error) = tokio::task::block_in_place(|| write_index(&dir, &snapshot)) {
            self.shared.metrics.error("report");
            tracing::error!(dir = %dir.display(), %error, "Cannot write the reports index");
        }
    }

    fn publish_status(&self) {
        let queued = self.ready.len();
        self.shared.metrics.queue_depth.set(queued as i64);
        self.shared
            .metrics
            .in_flight
            .set(self.in_flight.len() as i64);
        let mut board = self.shared.status();
        board.queue_depth = queued;
        board.in_flight = self.in_flight.len();
        board.folders = self
            .folders
            .iter()
            .map(|f| FolderStatus {
                name: f.name.clone(),
                path: f.path.display().to_string(),
                mode: if f.polling() { "polling" } else { "events" }.into(),
                present: f.present,
                pending: self.tracker.pending_in(&f.name),
            })
            .collect();
    }

    /// Lets packages in flight finish (up to the grace time, or a second signal), then returns.
    async fn drain(&mut self, os: &mut OsSignals) {
        self.ready.clear();
        if self.in_flight.is_empty() {
            return;
        }
        tracing::info!(
            in_flight = self.in_flight.len(),
            "Waiting for packages in flight"
        );
        let deadline = tokio::time::sleep(self.settings.shutdown_grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = self.in_flight.join_next() => match joined {
                    Some(joined) => self.finished(joined),
                    None => return,
                },
                () = &mut deadline => {
                    tracing::warn!(in_flight = self.in_flight.len(), "Grace time over; stopping with packages in flight (they are evaluated again at the next start)");
                    return;
                }
                // A second stop request stops at once; a reload waits for the next start.
                request = os.next() => if matches!(request, OsRequest::Stop(_)) { return },
            }
        }
    }
}
