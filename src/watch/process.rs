//! One package through the daemon, on a worker thread: check it is whole, name it by its
//! bytes, skip it when those bytes were evaluated before, read and evaluate it, write its
//! reports, record it with its alerts in one transaction, then apply the folder's disposition.
//!
//! Order matters for crash safety: reports are written before the record commits, so a
//! package recorded as processed always has its reports; a crash before the commit means the
//! package is evaluated again after restart and its reports rewritten under the same names.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::candidates::Ready;
use super::disposition::move_into;
use super::shared::{lock, RecentPackage, Shared};
use super::snapshot::Snapshot;
use crate::assessment::Assessment;
use crate::config::{Disposition, WatchFolder};
use crate::diagnostic::{shown, visible, Finding, Severity, Verdict, PACKAGE_FORMAT_RULE};
use crate::history::{Claim, ClaimKey, ClaimToken, HistoryError};
use crate::package::{completeness, content_hash, read_package, Completeness};
use crate::pipeline::{
    publish_package, Assessed, Input, Outputs, Pipeline, PipelineError, ResolvedLineage,
    StoredLineage,
};

/// How one package went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Evaluated(Verdict),
    /// The same bytes were evaluated before.
    Seen,
    /// Not whole yet: look again later.
    Incomplete(String),
    /// It disappeared before it could be read.
    Gone,
    /// Something outside the package failed (disk, database): try again later. The text is
    /// the typed error, rendered for the log.
    Failed(String),
    /// The history database is out of reach (PostgreSQL down): the daemon pauses until it
    /// answers, then tries again.
    Unavailable(String),
    /// Another daemon on the shared history is evaluating it: look again after this long.
    Deferred(Duration),
}

/// Least and most time before looking again at a package another daemon is evaluating: it
/// is usually done in milliseconds; one that died leaves its claim until the lease ends.
const DEFER_LEAST: Duration = Duration::from_millis(500);
const DEFER_MOST: Duration = Duration::from_secs(5);

/// The content hash a package claim names.
fn key_hash(key: &ClaimKey) -> String {
    key.key.trim_start_matches("sha256:").to_owned()
}

/// Widens the window between hashing a package and reading it when
/// `SOLGUARD_TEST_READ_DELAY_MS` is set, so tests can swap or delete the file in it; the race
/// it opens happens in real drop folders, only rarer.
fn pause_between_hash_and_read() {
    static DELAY: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    let delay = DELAY.get_or_init(|| {
        std::env::var("SOLGUARD_TEST_READ_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis)
    });
    if let Some(delay) = delay {
        std::thread::sleep(*delay);
    }
}

/// What reading a package led to.
enum Read {
    Evaluated(Box<Finished>),
    /// Its claim was taken over by another daemon (this one took longer than its lease): the
    /// other's record is kept.
    TakenOver,
    /// The bytes read are not the bytes hashed: look again later.
    Changed,
    /// It disappeared while it was read.
    Gone,
}

/// An evaluated package, before its disposition.
struct Finished {
    verdict: Verdict,
    accepted: bool,
    entry: RecentPackage,
}

/// Everything one job needs.
pub struct Job<'a> {
    pub ready: &'a Ready,
    pub snapshot: &'a Snapshot,
    pub shared: &'a Shared,
    pub incomplete_timeout: Duration,
    pub recheck_on_policy_change: bool,
}

impl Job<'_> {
    pub fn run(&self) -> Outcome {
        let path = &self.ready.path;
        let Some(watch) = self.snapshot.watch(&self.ready.watch) else {
            return Outcome::Gone;
        };
        if !self.ready.is_dir && self.ready.unchanged_for < self.incomplete_timeout {
            match completeness(path) {
                Ok(Completeness::Complete) => {}
                Ok(Completeness::Incomplete(reason)) => return Outcome::Incomplete(reason),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
                Err(error) => return Outcome::Incomplete(error.to_string()),
            }
        }
        let hash = match content_hash(path) {
            Ok(hash) => hash,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Outcome::Gone,
            Err(error) => return Outcome::Failed(format!("{}: {error}", path.display())),
        };
        pause_between_hash_and_read();
        let mut pipeline = self
            .snapshot
            .policies
            .pipeline(self.snapshot.config.eval_for(watch));
        let policy_set = pipeline.policy_set();
        // One job per content at a time: the same bytes dropped under two names at once are
        // evaluated once, the second finds the first's record.
        let same_bytes = self.shared.keyed_lock(&format!("sha256:{hash}"));
        let _same_bytes = lock(&same_bytes);
        let seen = self.shared.store().processed(&hash);
        match seen {
            Ok(Some(seen))
                if !(self.recheck_on_policy_change && seen.summary.policy_set != policy_set) =>
            {
                return self.seen_before(watch, &seen);
            }
            Ok(_) => {}
            Err(error) => return self.store_failed(&error),
        }
        let claim = match self.claim(&ClaimKey::package(&hash, &policy_set)) {
            Ok(Ok(claim)) => claim,
            Ok(Err(outcome)) => return outcome,
            Err(error) => return self.store_failed(&error),
        };
        match self.evaluate(&mut pipeline, watch, &hash, claim.as_ref()) {
            Ok(Read::TakenOver) => {
                tracing::warn!(path = %shown(path), "Another daemon took this package over while it was evaluated here (evaluation outlasted the lease); its record is kept");
                Outcome::Seen
            }
            Ok(Read::Changed) => {
                tracing::info!(path = %shown(path), "The package changed while it was read; it is read again later");
                Outcome::Incomplete("it changed while it was read".into())
            }
            Ok(Read::Gone) => Outcome::Gone,
            Ok(Read::Evaluated(mut recent)) => {
                self.shared.set_failing(None);
                let verdict = recent.verdict;
                let moved = self.dispose(watch, path, recent.accepted);
                recent.entry.moved_to = moved.map(|p| p.display().to_string());
                self.shared.remember(recent.entry);
                self.shared.outbox_wake.notify_one();
                Outcome::Evaluated(verdict)
            }
            Err(PipelineError::History(error)) => self.store_failed(&error),
            Err(error) => {
                self.shared.metrics.error(error.part());
                self.shared.set_failing(Some(error.to_string()));
                Outcome::Failed(error.to_string())
            }
        }
    }

    /// The same bytes were evaluated before (by this daemon or another on the history).
    fn seen_before(&self, watch: &WatchFolder, seen: &crate::history::Processed) -> Outcome {
        let path = &self.ready.path;
        tracing::info!(path = %shown(path), first_seen_as = %visible(&seen.summary.path), by = %seen.daemon.as_deref().unwrap_or("-"), "Already evaluated; skipped");
        self.shared.metrics.skipped("seen");
        // A crash between the record and the move leaves the package behind: move it now.
        self.dispose(watch, path, seen.summary.accepted);
        Outcome::Seen
    }

    /// A history failure: the store out of reach pauses the daemon, anything else is retried
    /// later.
    fn store_failed(&self, error: &HistoryError) -> Outcome {
        self.shared.metrics.error("history");
        if error.is_unavailable() {
            self.shared.set_store_down(Some(error.to_string()));
            Outcome::Unavailable(error.to_string())
        } else {
            self.shared.set_failing(Some(error.to_string()));
            Outcome::Failed(error.to_string())
        }
    }

    /// Claims the package's evaluation when daemons share the history: `Ok(Ok(None))` when
    /// nothing needs claiming (one daemon on its own file), `Ok(Err(outcome))` when another
    /// daemon holds it or has done it.
    fn claim(&self, key: &ClaimKey) -> Result<Result<Option<ClaimToken>, Outcome>, HistoryError> {
        if !self.shared.claims_work {
            return Ok(Ok(None));
        }
        let claim = self.shared.store().claim(key, &self.shared.holder)?;
        Ok(match claim {
            Claim::Acquired(token) => Ok(Some(token)),
            Claim::Done => {
                tracing::debug!(path = %shown(&self.ready.path), "Evaluated by another daemon meanwhile");
                match self.snapshot.watch(&self.ready.watch) {
                    Some(watch) => match self.shared.store().processed(&key_hash(key)) {
                        Ok(Some(seen)) => Err(self.seen_before(watch, &seen)),
                        _ => Err(Outcome::Seen),
                    },
                    None => Err(Outcome::Gone),
                }
            }
            Claim::HeldBy { owner, until_ms } => {
                let left = until_ms.saturating_sub(crate::history::unix_ms()).max(0) as u64;
                tracing::debug!(path = %shown(&self.ready.path), %owner, "Another daemon is evaluating it");
                Err(Outcome::Deferred(
                    Duration::from_millis(left).clamp(DEFER_LEAST, DEFER_MOST),
                ))
            }
        })
    }

    /// Reads and assesses the package, then publishes it (reports, then its record and alerts
    /// in one transaction).
    fn evaluate(
        &self,
        pipeline: &mut Pipeline<'_>,
        watch: &WatchFolder,
        hash: &str,
        claim: Option<&ClaimToken>,
    ) -> Result<Read, PipelineError> {
        let path = &self.ready.path;
        let started = Instant::now();
        let policy_set = pipeline.policy_set();
        let read = catch_unwind(AssertUnwindSafe(|| read_package(path)));
        // A verdict is recorded only for the bytes that were hashed: a zip is hashed while it
        // is read, from the same open file; a folder (or a failed read) is hashed again.
        let read_hash = match &read {
            Ok(Ok(package)) if package.source.sha256.is_some() => package.source.sha256.clone(),
            _ => match content_hash(path) {
                Ok(now) => Some(now),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Read::Gone)
                }
                Err(_) => None,
            },
        };
        if read_hash.as_deref() != Some(hash) {
            return Ok(Read::Changed);
        }
        let published = match read {
            Ok(Ok(mut package)) => {
                if package.source.sha256.is_none() {
                    package.source.sha256 = Some(hash.to_owned());
                }
                // Releases of one solution family (a solution and its patches) are assessed
                // and recorded in turn, so each sees the ones before it in its lineage.
                let family = package
                    .parent
                    .as_ref()
                    .map_or(&package.unique_name, |p| &p.unique_name)
                    .to_lowercase();
                let order = self.shared.keyed_lock(&family);
                let _in_order = lock(&order);
                let _family_turn = self.family_turn(&family)?;
                let package = Arc::new(package);
                // The lineage is read with the database locked; evaluation runs without it.
                let mut lineage =
                    ResolvedLineage::of(&StoredLineage::new(&self.shared.store()), &package)?;
                let input = Input::package(path.clone(), package);
                let assessed =
                    catch_unwind(AssertUnwindSafe(|| pipeline.assess(input, &mut lineage)));
                let assessed = match assessed {
                    Ok(assessed) => assessed?,
                    Err(panic) => crashed(path, "evaluating", &panic, &policy_set),
                };
                self.publish(pipeline, assessed, (watch, hash, claim), started)
            }
            Ok(Err(error)) => {
                let input = Input::read(path.clone(), Err(error));
                let assessed = pipeline.assess(input, &mut ResolvedLineage::default())?;
                self.publish(pipeline, assessed, (watch, hash, claim), started)
            }
            Err(panic) => {
                let assessed = crashed(path, "reading", &panic, &policy_set);
                self.publish(pipeline, assessed, (watch, hash, claim), started)
            }
        };
        published.map(|finished| match finished {
            Some(finished) => Read::Evaluated(Box::new(finished)),
            None => Read::TakenOver,
        })
    }

    /// Waits for the family's turn across daemons (none needed on a file of one's own): a
    /// release sees the releases of its family recorded before it, whichever daemon recorded
    /// them. The turn ends when the returned guard drops.
    fn family_turn(&self, family: &str) -> Result<Option<FamilyTurn<'_>>, PipelineError> {
        if !self.shared.claims_work {
            return Ok(None);
        }
        let key = ClaimKey::family(family);
        let waited = Instant::now();
        loop {
            let claim = self.shared.store().claim(&key, &self.shared.holder)?;
            match claim {
                Claim::Acquired(token) => {
                    return Ok(Some(FamilyTurn {
                        shared: self.shared,
                        token,
                    }))
                }
                Claim::Done | Claim::HeldBy { .. }
                    if waited.elapsed() < self.shared.holder.lease =>
                {
                    std::thread::sleep(FAMILY_POLL);
                }
                // A turn never ends only when its holder died; its lease ends first, so this
                // is a holder that renews it: go on rather than wait forever.
                Claim::Done | Claim::HeldBy { .. } => return Ok(None),
            }
        }
    }

    /// Writes the reports, then records the package, its release and its alerts at once.
    fn publish(
        &self,
        pipeline: &Pipeline<'_>,
        mut assessed: Assessed,
        (watch, hash, claim): (&WatchFolder, &str, Option<&ClaimToken>),
        started: Instant,
    ) -> Result<Option<Finished>, PipelineError> {
        // Even an unreadable file is named by its bytes in its report.
        assessed
            .assessment
            .sha256
            .get_or_insert_with(|| hash.to_owned());
        let outputs = Outputs {
            store: self.shared.store_mutex(),
            reports_dir: &self.shared.reports_dir,
            config: &self.snapshot.config,
            daemon: Some(&self.shared.holder.owner),
        };
        let Some(published) = publish_package(
            &outputs,
            &pipeline.rules(),
            &assessed,
            (hash, &watch.name),
            claim,
        )?
        else {
            return Ok(None);
        };
        let assessment = &assessed.assessment;
        let seconds = started.elapsed().as_secs_f64();
        self.shared
            .metrics
            .processed(assessment.verdict.as_str(), &assessment.findings, seconds);
        tracing::info!(path = %shown(&self.ready.path), solution = %visible(assessment.unique_name.as_deref().unwrap_or("-")), version = %visible(assessment.version.as_deref().unwrap_or("-")), verdict = %assessment.verdict, seconds, report = %published.reports[0], "Package evaluated");
        Ok(Some(Finished {
            verdict: assessment.verdict,
            accepted: assessment.accepted,
            entry: RecentPackage {
                summary: assessment.summary(),
                watch: watch.name.clone(),
                daemon: Some(self.shared.holder.owner.clone()),
                reports: published.reports,
                moved_to: None,
            },
        }))
    }

    /// Applies the folder's disposition; returns where the package went.
    fn dispose(&self, watch: &WatchFolder, path: &Path, accepted: bool) -> Option<PathBuf> {
        let Disposition::Move {
            accepted: yes,
            rejected: no,
        } = &watch.disposition
        else {
            return None;
        };
        let dest = if accepted { yes } else { no };
        match move_into(path, dest) {
            Ok(to) => {
                tracing::info!(from = %shown(path), to = %shown(&to), "Package moved");
                Some(to)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                self.shared.metrics.error("io");
                tracing::error!(path = %shown(path), dest = %dest.display(), %error, "Cannot move package");
                None
            }
        }
    }
}

/// How often a release waits for its family's turn held by another daemon.
const FAMILY_POLL: Duration = Duration::from_millis(20);

/// A solution family's turn, given up when dropped.
struct FamilyTurn<'a> {
    shared: &'a Shared,
    token: ClaimToken,
}

impl Drop for FamilyTurn<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.shared.store().release_claim(&self.token) {
            // Its lease ends by itself; the next release of the family waits until then.
            tracing::warn!(%error, "Cannot give up a solution family's turn");
        }
    }
}

/// The assessment of a package that made the reader or a policy panic: a bug in solguard,
/// reported as a finding so the daemon goes on.
fn crashed(
    path: &Path,
    stage: &str,
    panic: &Box<dyn std::any::Any + Send>,
    policy_set: &str,
) -> Assessed {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(path = %shown(path), stage, %message, "solguard crashed on a package");
    let finding = Finding::new(
        PACKAGE_FORMAT_RULE,
        "internal-error",
        Severity::Error,
        format!("solguard failed while {stage} this package ({message}); please report it with the package"),
    );
    Assessed {
        assessment: Assessment::unread(path.to_path_buf(), vec![finding], policy_set),
        package: None,
    }
}
