//! Which files in a drop folder are packages, and when each one is ready to read.
//!
//! A scan lists a folder's packages (by the folder's globs, skipping names that copy tools use
//! while writing). The tracker follows each package through its life: settling until its size
//! and modification time have held still for the settle time, queued, in flight, then done;
//! or waiting when it settled but did not read as complete (a stalled copy), retried until it
//! does or until the incomplete timeout makes it a `package-format` report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Disposition, WatchFolder};
use crate::diagnostic::shown;
use crate::package::is_package_folder;

/// Names copy tools and editors use while a file is being written.
pub fn is_temporary_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".tmp", ".part", ".crdownload", ".partial", ".download"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}

/// A package found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub is_dir: bool,
}

fn matches_any(patterns: &[glob::Pattern], name: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    patterns.iter().any(|p| p.matches_with(name, options))
}

/// Logs `what` about `path` once per process: a link or a special file in a drop folder is
/// worth one warning, not one per rescan.
pub fn notice_once(path: &Path, what: &str) {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> =
        std::sync::OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.len() > 100_000 {
        seen.clear();
    }
    if seen.insert(path.to_path_buf()) {
        tracing::warn!(path = %shown(path), "{what}");
    }
}

/// The packages in `watch`'s folder now, in path order. Fails when the folder cannot be listed.
pub fn scan(watch: &WatchFolder) -> std::io::Result<Vec<Found>> {
    let mut found = Vec::new();
    let skip: Vec<&Path> = match &watch.disposition {
        Disposition::Move { accepted, rejected } => vec![accepted, rejected],
        Disposition::Leave => Vec::new(),
    };
    let entries = std::fs::read_dir(&watch.path)?;
    walk(watch, entries, &skip, &mut found);
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn walk(watch: &WatchFolder, entries: std::fs::ReadDir, skip: &[&Path], found: &mut Vec<Found>) {
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if is_temporary_name(&name) || skip.contains(&path.as_path()) {
            continue;
        }
        if kind.is_symlink() {
            // A link could point anywhere (outside the drop folder, at a device): never followed.
            notice_once(
                &path,
                "is a symbolic link; links in drop folders are never followed",
            );
            continue;
        }
        if !kind.is_dir() && !kind.is_file() {
            if matches_any(&watch.include, &name) {
                let what = crate::package::special_kind(&kind);
                notice_once(&path, &format!("is a {what}, not a regular file; skipped"));
            }
            continue;
        }
        if kind.is_dir() {
            if watch.folders && is_package_folder(&path) {
                if !matches_any(&watch.exclude, &name) {
                    found.push(Found { path, is_dir: true });
                }
            } else if watch.recursive {
                if let Ok(inner) = std::fs::read_dir(&path) {
                    walk(watch, inner, skip, found);
                }
            }
        } else if matches_any(&watch.include, &name) && !matches_any(&watch.exclude, &name) {
            found.push(Found {
                path,
                is_dir: false,
            });
        }
    }
}

/// What changes while a package is being written: size, modification time, and for a folder
/// the number of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub size: u64,
    pub files: u64,
    pub modified: SystemTime,
}

impl Observation {
    /// Reads the observation of a file or of a folder tree (its newest file).
    pub fn of(path: &Path, is_dir: bool) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        let mut observation = Self {
            size: metadata.len(),
            files: 1,
            modified: metadata.modified()?,
        };
        if is_dir {
            observation.size = 0;
            observation.files = 0;
            add_tree(path, &mut observation)?;
        }
        Ok(observation)
    }
}

fn add_tree(dir: &Path, observation: &mut Observation) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = std::fs::symlink_metadata(entry.path())?;
        if metadata.is_dir() {
            add_tree(&entry.path(), observation)?;
        } else {
            observation.size += metadata.len();
            observation.files += 1;
        }
        if let Ok(modified) = metadata.modified() {
            observation.modified = observation.modified.max(modified);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Settling,
    Queued,
    InFlight,
    /// Settled but incomplete; checked again at the instant given.
    Waiting(Instant),
    Done,
}

#[derive(Debug, Clone)]
struct Entry {
    watch: String,
    is_dir: bool,
    observed: Observation,
    /// When the observation last changed (backdated by the file's age when first seen).
    changed: Instant,
    phase: Phase,
    /// Times it settled without being complete since it last changed.
    waits: u32,
}

/// A package ready to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub path: PathBuf,
    pub watch: String,
    pub is_dir: bool,
    /// How long it has been unchanged: past the incomplete timeout an unreadable package is
    /// reported rather than waited for.
    pub unchanged_for: Duration,
}

/// Follows every package the scans found.
#[derive(Debug, Default)]
pub struct Tracker {
    entries: HashMap<PathBuf, Entry>,
}

impl Tracker {
    /// Merges a scan of the folder watched as `watch`: new packages start settling, changed
    /// done ones settle again, and packages no longer there are forgotten.
    pub fn merge_scan(&mut self, watch: &str, found: &[Found], now: Instant) {
        let present: std::collections::HashSet<&Path> =
            found.iter().map(|f| f.path.as_path()).collect();
        self.entries.retain(|path, entry| {
            entry.watch != watch
                || present.contains(path.as_path())
                || entry.phase == Phase::InFlight
        });
        for item in found {
            let Ok(observed) = Observation::of(&item.path, item.is_dir) else {
                continue;
            };
            match self.entries.get_mut(&item.path) {
                Some(entry) => {
                    if entry.observed != observed {
                        entry.observed = observed;
                        entry.changed = now;
                        if entry.phase != Phase::InFlight {
                            entry.phase = Phase::Settling;
                        }
                    }
                }
                None => {
                    let age = SystemTime::now()
                        .duration_since(observed.modified)
                        .unwrap_or_default();
                    let changed = now.checked_sub(age).unwrap_or(now);
                    self.entries.insert(
                        item.path.clone(),
                        Entry {
                            watch: watch.to_owned(),
                            is_dir: item.is_dir,
                            observed,
                            changed,
                            phase: Phase::Settling,
                            waits: 0,
                        },
                    );
                }
            }
        }
    }

    /// Returns the packages now due, oldest change first, marked queued: those settling whose
    /// settle time has passed and that are unchanged when looked at again, and those waiting
    /// whose retry time came. A package whose time is not up is not looked at (scans see
    /// changes, and it is looked at when its time is up), so calling this often is cheap.
    pub fn due(&mut self, settle: Duration, now: Instant) -> Vec<Ready> {
        let mut ready = Vec::new();
        for (path, entry) in &mut self.entries {
            match entry.phase {
                Phase::Settling if now.saturating_duration_since(entry.changed) < settle => {
                    continue
                }
                Phase::Settling => {}
                Phase::Waiting(at) if at <= now => {}
                // Not looked at before its retry either: this runs on every pass of the
                // daemon's loop, and the folder's scans see a copy that resumes.
                Phase::Waiting(_) | Phase::Queued | Phase::InFlight | Phase::Done => continue,
            }
            Self::reobserve(path, entry, now);
            let unchanged_for = now.saturating_duration_since(entry.changed);
            let due = match entry.phase {
                Phase::Settling => unchanged_for >= settle,
                _ => true,
            };
            if due {
                entry.phase = Phase::Queued;
                ready.push(Ready {
                    path: path.clone(),
                    watch: entry.watch.clone(),
                    is_dir: entry.is_dir,
                    unchanged_for,
                });
            }
        }
        ready.sort_by_key(|r| std::cmp::Reverse(r.unchanged_for));
        ready
    }

    /// When the next package's settle time ends or a waiting one's retry comes: the daemon
    /// sleeps until then rather than noticing on its next tick.
    pub fn next_due(&self, settle: Duration) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|entry| match entry.phase {
                Phase::Settling => Some(entry.changed + settle),
                Phase::Waiting(at) => Some(at),
                Phase::Queued | Phase::InFlight | Phase::Done => None,
            })
            .min()
    }

    fn reobserve(path: &Path, entry: &mut Entry, now: Instant) {
        if let Ok(observed) = Observation::of(path, entry.is_dir) {
            if observed != entry.observed {
                entry.observed = observed;
                entry.changed = now;
                entry.phase = Phase::Settling;
                entry.waits = 0;
            }
        }
    }

    /// Marks a queued package in flight; false when it changed or went away since it was
    /// queued (it must not be read now).
    pub fn start(&mut self, path: &Path) -> bool {
        match self.entries.get_mut(path) {
            Some(entry) if entry.phase == Phase::Queued => {
                entry.phase = Phase::InFlight;
                true
            }
            _ => false,
        }
    }

    /// The package was evaluated (or found already seen).
    pub fn finished(&mut self, path: &Path) {
        if let Some(entry) = self.entries.get_mut(path) {
            entry.phase = Phase::Done;
            if let Ok(observed) = Observation::of(path, entry.is_dir) {
                entry.observed = observed;
            }
        }
    }

    /// The package is not readable yet; look again at `retry_at`. Returns how many times in a
    /// row it was found incomplete.
    pub fn incomplete(&mut self, path: &Path, retry_at: Instant) -> u32 {
        match self.entries.get_mut(path) {
            Some(entry) => {
                entry.phase = Phase::Waiting(retry_at);
                entry.waits += 1;
                entry.waits
            }
            None => 0,
        }
    }

    /// The package went away while queued or in flight (moved, deleted).
    pub fn forget(&mut self, path: &Path) {
        self.entries.remove(path);
    }

    /// Forgets that done packages were done, so the next scan evaluates (or skips as seen)
    /// each again: used after a policy change when re-checks are configured.
    pub fn reset_done(&mut self) {
        for entry in self.entries.values_mut() {
            if entry.phase == Phase::Done {
                entry.phase = Phase::Settling;
            }
        }
    }

    /// Packages settling, queued or in flight: work the daemon still has to do.
    pub fn pending(&self) -> usize {
        self.entries
            .values()
            .filter(|e| matches!(e.phase, Phase::Settling | Phase::Queued | Phase::InFlight))
            .count()
    }

    /// Packages waiting to become readable.
    pub fn waiting(&self) -> Vec<PathBuf> {
        self.entries
            .iter()
            .filter(|(_, e)| matches!(e.phase, Phase::Waiting(_)))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Number of packages the folder named `watch` has pending (settling, queued, waiting).
    pub fn pending_in(&self, watch: &str) -> usize {
        self.entries
            .values()
            .filter(|e| e.watch == watch && e.phase != Phase::Done)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_is_due_when_its_settle_time_ends_and_not_if_it_changed_meanwhile() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a.zip");
        std::fs::write(&path, b"first").expect("write");
        let settle = Duration::from_secs(2);
        let now = Instant::now();
        let mut tracker = Tracker::default();
        let found = [Found {
            path: path.clone(),
            is_dir: false,
        }];
        tracker.merge_scan("drop", &found, now);
        let deadline = tracker.next_due(settle).expect("settling");
        assert!(deadline > now && deadline <= now + settle, "from its mtime");
        assert!(tracker.due(settle, now).is_empty(), "not settled yet");
        // Changed during the settle time, unseen by any scan: found when its time is up, and it
        // settles again from then.
        std::fs::write(&path, b"second, longer").expect("rewrite");
        assert!(tracker.due(settle, deadline).is_empty());
        let again = tracker.next_due(settle).expect("settling again");
        assert_eq!(again, deadline + settle);
        let ready = tracker.due(settle, again);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].path, path);
        assert_eq!(
            tracker.next_due(settle),
            None,
            "queued: nothing left to wake for"
        );
    }
}
