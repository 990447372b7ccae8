//! Reads a list of packages ahead of whoever consumes them, on as many background threads as
//! the machine has cores, and hands them over in the order given.
//!
//! A one-shot run spends most of its time reading; reading the next packages while the current
//! one is evaluated, and the first ones while the policies compile, keeps every core busy (one
//! reader alone left the second core idle through a run of many small packages). Readers claim
//! paths in order and never run more than `readers + 1` paths ahead of the consumer, so a run
//! of large packages holds at most that many in memory besides the one being evaluated. Every
//! path yields exactly one result, in order, even if no reader can be started or a reader stops
//! early: a path no reader delivers is then read on the consumer's thread.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::{read_package_with, Package, PackageError, ReadLimits};

/// One path and what reading it gave.
pub type ReadResult = (PathBuf, Result<Package, PackageError>);

/// The packages at a list of paths, read ahead in order; an iterator of [`ReadResult`].
pub struct ReadAhead {
    shared: Arc<Shared>,
    /// The index of the next result to hand over.
    position: usize,
}

/// What the readers and the consumer share.
struct Shared {
    paths: Vec<PathBuf>,
    limits: ReadLimits,
    /// How far past `position` a reader may claim.
    window: usize,
    state: Mutex<State>,
    /// Signalled when a result is delivered or a reader stops.
    delivered: Condvar,
    /// Signalled when the consumer takes a result or goes away.
    room: Condvar,
}

#[derive(Default)]
struct State {
    /// The index of the next path a reader claims.
    next_claim: usize,
    /// The consumer's position, as readers see it.
    consumed: usize,
    /// Read and not yet handed over, by index.
    ready: BTreeMap<usize, Result<Package, PackageError>>,
    /// Claimed by a reader that stopped before delivering it (it panicked).
    abandoned: Vec<usize>,
    readers_running: usize,
    /// The consumer was dropped: readers stop claiming.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every field stays consistent across a panic (a reader panics only while reading,
        // outside the lock).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ReadAhead {
    /// Starts reading `paths` on one background thread per core (at most one per path).
    pub fn start(paths: Vec<PathBuf>, limits: ReadLimits) -> Self {
        // Asking for the core count reads the cgroup files: not worth it for one path.
        let cores = if paths.len() > 1 {
            std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
        } else {
            1
        };
        Self::with_readers(paths, limits, cores)
    }

    /// Starts reading `paths` on `readers` background threads (at least one, at most one per
    /// path).
    pub fn with_readers(paths: Vec<PathBuf>, limits: ReadLimits, readers: usize) -> Self {
        let readers = readers.clamp(1, paths.len().max(1));
        let shared = Arc::new(Shared {
            paths,
            limits,
            window: readers + 1,
            state: Mutex::new(State::default()),
            delivered: Condvar::new(),
            room: Condvar::new(),
        });
        for _ in 0..readers {
            shared.lock().readers_running += 1;
            let reader = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name("solguard-read".into())
                .spawn(move || read_claimed(&reader));
            if let Err(error) = spawned {
                shared.lock().readers_running -= 1;
                tracing::warn!(%error, "Cannot start a reading thread; reading on fewer");
                break;
            }
        }
        Self {
            shared,
            position: 0,
        }
    }
}

/// A reader's loop: claims the next path while the window has room, reads it, delivers it.
fn read_claimed(shared: &Shared) {
    let _running = Running(shared);
    loop {
        let index = {
            let mut state = shared.lock();
            while !state.closed
                && state.next_claim < shared.paths.len()
                && state.next_claim >= state.consumed + shared.window
            {
                state = shared
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.closed || state.next_claim >= shared.paths.len() {
                return;
            }
            state.next_claim += 1;
            state.next_claim - 1
        };
        let claim = Claim {
            shared,
            index: Some(index),
        };
        let read = read_package_with(&shared.paths[index], &shared.limits);
        claim.deliver(read);
    }
}

/// A path a reader has claimed: delivered when read, or given up when the reader unwinds.
struct Claim<'a> {
    shared: &'a Shared,
    index: Option<usize>,
}

impl Claim<'_> {
    fn deliver(mut self, read: Result<Package, PackageError>) {
        if let Some(index) = self.index.take() {
            self.shared.lock().ready.insert(index, read);
            self.shared.delivered.notify_all();
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.index.take() {
            self.shared.lock().abandoned.push(index);
            self.shared.delivered.notify_all();
        }
    }
}

/// Counts a reader out however it stops, so the consumer never waits on none.
struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.lock().readers_running -= 1;
        self.0.delivered.notify_all();
    }
}

impl Iterator for ReadAhead {
    type Item = ReadResult;

    fn next(&mut self) -> Option<ReadResult> {
        let shared = &*self.shared;
        let index = self.position;
        let path = shared.paths.get(index)?.clone();
        self.position += 1;
        let mut state = shared.lock();
        let read = loop {
            if let Some(read) = state.ready.remove(&index) {
                break Some(read);
            }
            let unclaimed = index >= state.next_claim;
            if state.abandoned.contains(&index) || (unclaimed && state.readers_running == 0) {
                if unclaimed {
                    tracing::warn!("The reading threads stopped early; reading in turn");
                    state.next_claim = index + 1;
                }
                break None;
            }
            state = shared
                .delivered
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        };
        state.consumed = self.position;
        drop(state);
        shared.room.notify_all();
        let read = read.unwrap_or_else(|| read_package_with(&path, &shared.limits));
        Some((path, read))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.shared.paths.len() - self.position;
        (left, Some(left))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.room.notify_all();
    }
}
