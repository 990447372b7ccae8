//! Reads a list of packages in order on a background thread, one package ahead of whoever
//! consumes them.
//!
//! A one-shot run spends most of its time reading; reading the next package while the current
//! one is evaluated, and the first one while the policies compile, keeps both cores busy. The
//! channel holds one package, so at most three are in memory at once. Every path yields exactly
//! one result, in order, even if the thread cannot be started or stops early: the rest are then
//! read on the consumer's thread.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};

use super::{read_package_with, Package, PackageError, ReadLimits};

/// One path and what reading it gave.
pub type ReadResult = (PathBuf, Result<Package, PackageError>);

/// The packages at a list of paths, read ahead in order; an iterator of [`ReadResult`].
pub struct ReadAhead {
    pending: VecDeque<PathBuf>,
    limits: ReadLimits,
    results: Option<Receiver<ReadResult>>,
}

impl ReadAhead {
    /// Starts reading `paths` on a background thread.
    pub fn start(paths: Vec<PathBuf>, limits: ReadLimits) -> Self {
        let (sender, receiver) = sync_channel(1);
        let queue = paths.clone();
        let thread_limits = limits.clone();
        let spawned = std::thread::Builder::new()
            .name("solguard-read".into())
            .spawn(move || {
                for path in queue {
                    let read = read_package_with(&path, &thread_limits);
                    if sender.send((path, read)).is_err() {
                        return;
                    }
                }
            });
        if let Err(error) = &spawned {
            tracing::warn!(%error, "Cannot start the reading thread; reading in turn");
        }
        Self {
            pending: paths.into(),
            limits,
            results: spawned.ok().map(|_| receiver),
        }
    }
}

impl Iterator for ReadAhead {
    type Item = ReadResult;

    fn next(&mut self) -> Option<ReadResult> {
        if let Some(results) = &self.results {
            match results.recv() {
                Ok(result) => {
                    self.pending.pop_front();
                    return Some(result);
                }
                Err(_) => {
                    if !self.pending.is_empty() {
                        tracing::warn!("The reading thread stopped early; reading in turn");
                    }
                    self.results = None;
                }
            }
        }
        let path = self.pending.pop_front()?;
        let read = read_package_with(&path, &self.limits);
        Some((path, read))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}
