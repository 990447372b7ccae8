//! Where the daemon learns that something changed: file events from the operating system
//! (inotify on Linux) for each drop folder and for the config and policies, or timed scans for
//! folders in polling mode. Events only mark a folder for a rescan; the scan decides what is
//! there, so lost or merged events cannot lose a package.
//!
//! A folder whose events cannot be watched (out of inotify watches, a share without events)
//! falls back to polling with a warning; a folder that disappears is checked again on a timer
//! and watched again when it comes back.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::shared::lock;
use crate::config::{is_referenced_file, WatchFolder};

/// What event handlers tell the daemon loop.
#[derive(Default)]
pub struct Signals {
    dirty: Mutex<HashSet<String>>,
    config_changed: AtomicBool,
    pub wake: tokio::sync::Notify,
}

impl Signals {
    fn mark(&self, name: &str) {
        lock(&self.dirty).insert(name.to_owned());
        self.wake.notify_one();
    }

    /// Whether an event arrived for the folder named `name` since the last call.
    pub fn take_dirty(&self, name: &str) -> bool {
        lock(&self.dirty).remove(name)
    }

    /// Whether the config or a policy file changed since the last call.
    pub fn take_config_changed(&self) -> bool {
        self.config_changed.swap(false, Ordering::SeqCst)
    }
}

fn relevant(event: &notify::Event) -> bool {
    // Opening or reading a file (the daemon's own reads among them) changes nothing.
    !matches!(
        event.kind,
        EventKind::Access(AccessKind::Open(_) | AccessKind::Read | AccessKind::Any)
    )
}

/// One drop folder's source of change.
pub struct FolderSource {
    pub name: String,
    pub path: PathBuf,
    recursive: bool,
    folders: bool,
    /// Configured for polling.
    poll: bool,
    watcher: Option<RecommendedWatcher>,
    pub present: bool,
    last_scan: Option<Instant>,
}

impl FolderSource {
    pub fn new(watch: &WatchFolder, signals: &Arc<Signals>) -> Self {
        let mut source = Self {
            name: watch.name.clone(),
            path: watch.path.clone(),
            recursive: watch.recursive,
            folders: watch.folders,
            poll: watch.poll,
            watcher: None,
            present: watch.path.is_dir(),
            last_scan: None,
        };
        if source.present {
            source.start_events(signals);
        } else {
            tracing::warn!(folder = %source.path.display(), "Watch folder is missing; checking again until it appears");
        }
        source
    }

    /// Whether `watch` needs a new source (its folder or the way it is watched changed).
    pub fn differs(&self, watch: &WatchFolder) -> bool {
        self.path != watch.path
            || self.recursive != watch.recursive
            || self.folders != watch.folders
            || self.poll != watch.poll
    }

    pub fn polling(&self) -> bool {
        self.watcher.is_none()
    }

    fn start_events(&mut self, signals: &Arc<Signals>) {
        self.watcher = None;
        if self.poll {
            return;
        }
        let handler_signals = Arc::clone(signals);
        let name = self.name.clone();
        let handler = move |event: notify::Result<notify::Event>| match event {
            Ok(event) if !relevant(&event) => {}
            // An error (e.g. the event queue overflowed) may hide changes: rescan.
            _ => handler_signals.mark(&name),
        };
        // Unpacked solution folders fill up below the drop folder: their changes must reach
        // us too, so folder packages need recursive events even when the scan is shallow.
        let mode = if self.recursive || self.folders {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        let started = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher.watch(&self.path, mode)?;
            Ok(watcher)
        });
        match started {
            Ok(watcher) => self.watcher = Some(watcher),
            Err(error) => {
                let why = match error.kind {
                    notify::ErrorKind::MaxFilesWatch => {
                        "the system is out of inotify watches (raise fs.inotify.max_user_watches)"
                            .to_owned()
                    }
                    _ => error.to_string(),
                };
                tracing::warn!(folder = %self.path.display(), reason = %why, "File events unavailable; polling this folder instead");
            }
        }
    }

    /// Whether the folder should be scanned now: an event came, its polling interval or the
    /// safety rescan interval passed, or it is missing and due for a presence check.
    pub fn scan_due(
        &mut self,
        signals: &Signals,
        poll_interval: Duration,
        rescan: Duration,
        now: Instant,
    ) -> bool {
        let dirty = signals.take_dirty(&self.name);
        let since = self.last_scan.map(|at| now.saturating_duration_since(at));
        let interval = if self.polling() || !self.present {
            poll_interval
        } else {
            rescan
        };
        let due = dirty || since.is_none_or(|s| s >= interval);
        if due {
            self.last_scan = Some(now);
        }
        due
    }

    /// Notes the outcome of listing the folder; starts watching again when it came back.
    pub fn listed(&mut self, ok: bool, signals: &Arc<Signals>) {
        if ok && !self.present {
            tracing::info!(folder = %self.path.display(), "Watch folder is back; watching it again");
            self.present = true;
            self.start_events(signals);
        } else if !ok && self.present {
            tracing::warn!(folder = %self.path.display(), "Watch folder disappeared; checking again until it comes back");
            self.present = false;
            self.watcher = None;
        }
    }
}

/// Watches the config file and the policies folder; changes set the signals' config flag.
pub fn watch_rules(
    config: Option<&Path>,
    policies: Option<&Path>,
    referenced: &[PathBuf],
    signals: &Arc<Signals>,
) -> Option<RecommendedWatcher> {
    // Event paths are the watched paths joined with names: compare in one (canonical) form.
    let canonical = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            // A file replaced by a rename may be missing for a moment: resolve its folder.
            match (
                p.parent().and_then(|d| std::fs::canonicalize(d).ok()),
                p.file_name(),
            ) {
                (Some(dir), Some(name)) => dir.join(name),
                _ => p.to_path_buf(),
            }
        })
    };
    let config_file = config.map(canonical);
    let policies_dir = policies.map(canonical);
    let referenced: Vec<PathBuf> = referenced.iter().map(|p| canonical(p)).collect();
    let handler_signals = Arc::clone(signals);
    let handler_config = config_file.clone();
    let handler_policies = policies_dir.clone();
    let handler_referenced = referenced.clone();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        if !relevant(&event) {
            return;
        }
        let touches = event.paths.iter().any(|path| {
            let is_config = handler_config
                .as_ref()
                .is_some_and(|c| path.file_name() == c.file_name());
            let in_policies = handler_policies
                .as_ref()
                .is_some_and(|dir| path.parent() == Some(dir.as_path()))
                && path.extension().is_some_and(|e| e == "rhai" || e == "toml");
            let is_referenced = handler_referenced
                .iter()
                .any(|referenced| is_referenced_file(referenced, path));
            is_config || in_policies || is_referenced
        });
        if touches {
            handler_signals.config_changed.store(true, Ordering::SeqCst);
            handler_signals.wake.notify_one();
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "Cannot watch the config and policies for changes; reload with SIGHUP");
            return None;
        }
    };
    // Editors replace files by renaming over them, so watch the folder, not the file.
    let config_dir = config_file
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty());
    let mut folders: Vec<&Path> = config_dir
        .into_iter()
        .chain(policies_dir.as_deref())
        .collect();
    for dir in referenced.iter().filter_map(|f| f.parent()) {
        if !folders.contains(&dir) {
            folders.push(dir);
        }
    }
    for dir in folders {
        if let Err(error) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %dir.display(), %error, "Cannot watch for rule changes; reload with SIGHUP");
        }
    }
    Some(watcher)
}
