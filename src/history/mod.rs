//! The history store: every package checked, with its verdict, findings and a snapshot of its
//! model, so later runs find the last accepted release of a solution without the original zip;
//! what the daemon evaluated (by content hash), its alert outbox, audit caches and, for several
//! daemons on one history, the leases and heartbeats that share the work among them.
//!
//! One interface, [`HistoryStore`], over two backends chosen by [`HistoryLocation`]: SQLite
//! (the embedded default, one file, no server) and PostgreSQL (shared by daemons on several
//! machines). Both keep the same tables, versioned and migrated forward on open; a schema newer
//! than this binary knows is refused.

mod fleet;
mod migrate;
mod postgres;
mod rows;
mod sqlite;

use std::path::PathBuf;

use crate::assessment::Assessment;
pub use crate::config::HistoryLocation;
use crate::diagnostic::Verdict;
use crate::eval::HistoryEntry;
use crate::package::Package;

pub use fleet::{Claim, ClaimKey, ClaimToken, DaemonBeat, Holder};
pub use migrate::{migrate, MigrationCount};
pub use rows::{parse_rfc3339, rfc3339, unix_ms, OutboxEntry, Processed, SinkCounts};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: history database: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{location}: history database: {detail}")]
    Postgres {
        location: String,
        detail: String,
        /// The server could not be reached or the connection broke: the daemon pauses and
        /// tries again, nothing is wrong with the work itself.
        unavailable: bool,
    },
    #[error("{location}: history database: stored data is unreadable: {source}")]
    Corrupt {
        location: String,
        source: serde_json::Error,
    },
    #[error("{location}: history database is damaged ({detail}); restore it from a backup, or move it aside to start a new history")]
    Damaged { location: String, detail: String },
    #[error("{location}: history database has schema version {found}, newer than this solguard understands ({supported}); upgrade solguard")]
    TooNew {
        location: String,
        found: i64,
        supported: i64,
    },
    #[error("{location}: {detail}")]
    Migration { location: String, detail: String },
}

impl HistoryError {
    /// Whether the database is out of reach for now (a PostgreSQL server down or a broken
    /// connection), as opposed to a fault that retrying will not mend.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Postgres {
                unavailable: true,
                ..
            }
        )
    }
}

/// One accepted release as the lineage reads it: its row (the order releases were accepted
/// in) and what policies see of it; the model is loaded only when needed
/// ([`HistoryStore::snapshot_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRelease {
    pub id: i64,
    pub unique_name: String,
    pub entry: HistoryEntry,
}

/// An evaluation the daemon commits at once: the package bytes `sha256` from watch folder
/// `watch` as processed with their `reports`, the release (when the package could be read),
/// its alerts (one per `(sink, key, payload)`) and the end of the claim it was evaluated
/// under.
pub struct ProcessedRecord<'a> {
    pub sha256: &'a str,
    pub watch: &'a str,
    pub assessment: &'a Assessment,
    pub reports: &'a [String],
    pub package: Option<&'a Package>,
    pub alerts: &'a [(String, String, String)],
    /// The claim this evaluation ran under; `None` for a single process that claims nothing.
    pub claim: Option<&'a ClaimToken>,
    /// The daemon that evaluated it.
    pub daemon: Option<&'a str>,
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    // Boxed: its connection is large, and most stores are SQLite files.
    Postgres(Box<postgres::PostgresStore>),
}

/// The history database, whichever backend holds it.
pub struct HistoryStore {
    backend: Backend,
    location: HistoryLocation,
}

/// Declares methods of [`HistoryStore`] that each backend implements alike.
macro_rules! both_backends {
    ($( $(#[$doc:meta])* $vis:vis fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl HistoryStore {
            $(
                $(#[$doc])*
                $vis fn $name(&self $(, $arg: $ty)*) -> Result<$ret, HistoryError> {
                    match &self.backend {
                        Backend::Sqlite(store) => store.$name($($arg),*),
                        Backend::Postgres(store) => store.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

both_backends! {
    /// Checks the database's structure: a damaged database is refused at start, instead of
    /// failing every package later.
    pub fn verify(&self) -> ();
    /// Whether the database answers now.
    pub fn ping(&self) -> ();
    /// Records an assessed package, with the model snapshot later runs compare against.
    pub fn record(&self, assessment: &Assessment, package: &Package) -> ();
    /// The model of the last accepted release of `unique_name` (case-insensitive).
    pub fn last_accepted(&self, unique_name: &str) -> Option<Package>;
    /// The model of the latest record of `unique_name` at `version`, accepted or not.
    pub fn release(&self, unique_name: &str, version: &str) -> Option<Package>;
    /// Accepted releases of `unique_name`, oldest first.
    pub fn accepted_releases(&self, unique_name: &str) -> Vec<AcceptedRelease>;
    /// Accepted patches whose parent is `parent` (any patch unique name), oldest first.
    pub fn accepted_patches_of(&self, parent: &str) -> Vec<AcceptedRelease>;
    /// The model stored with the release in row `id`.
    pub fn snapshot_of(&self, id: i64) -> Option<Package>;
    /// Every recorded release, optionally of one solution, oldest first, as assessed (without
    /// the data-loss detail, which reports keep).
    pub fn releases(&self, unique_name: Option<&str>) -> Vec<Assessment>;
    /// The evaluation of the package with content hash `sha256`, if there was one.
    pub fn processed(&self, sha256: &str) -> Option<Processed>;
    /// The `limit` most recently processed packages, by any daemon, newest first.
    pub fn recent_processed(&self, limit: usize) -> Vec<Processed>;
    /// How many packages were processed since `since`, by verdict (`pass`, `warn`, `fail`).
    pub fn verdicts_since(&self, since: time::OffsetDateTime) -> [(Verdict, usize); 3];
    /// Commits an evaluation in one transaction ([`ProcessedRecord`]). An alert whose key the
    /// sink already has is not queued again. When the claim it ran under was taken over by
    /// another daemon, nothing is written and the answer is `false`.
    pub fn record_processed(&self, record: &ProcessedRecord<'_>) -> bool;
    /// Queues alerts outside any package record (`check --alert`, scheduled audits).
    pub fn enqueue_alerts(&self, alerts: &[(String, String, String)], created_at: &str) -> ();
    /// Leases alerts of `sink` that are neither delivered nor dead, whose next attempt is due
    /// at `now_ms` and that no other live holder has leased, oldest first: only `holder`
    /// delivers them until its lease ends.
    pub fn due_alerts(&self, sink: &str, now_ms: i64, limit: usize, holder: &Holder) -> Vec<OutboxEntry>;
    /// Marks entries delivered at `when` (RFC 3339).
    pub fn mark_delivered(&self, ids: &[i64], when: &str) -> ();
    /// Notes a failed attempt; the entries are tried again from `next_attempt_ms`.
    pub fn mark_failed(&self, ids: &[i64], error: &str, next_attempt_ms: i64) -> ();
    /// Gives entries up: they stay in the outbox, marked dead at `when`.
    pub fn mark_dead(&self, ids: &[i64], when: &str) -> ();
    /// Pending, delivered and dead alerts per sink, with each sink's latest error.
    pub fn sink_counts(&self) -> Vec<SinkCounts>;
    /// The content hash recorded for `path` when it had this size and modification time.
    pub fn cached_hash(&self, path: &str, size: u64, modified_ns: i64) -> Option<String>;
    /// Remembers the content hash of `path` at this size and modification time.
    pub fn remember_hash(&self, path: &str, size: u64, modified_ns: i64, sha256: &str) -> ();
    /// The stored parse outcome (JSON) of the content `sha256`.
    pub fn parsed_outcome(&self, sha256: &str) -> Option<String>;
    /// Remembers the parse outcome (JSON) of the content `sha256`.
    pub fn remember_outcome(&self, sha256: &str, outcome_json: &str) -> ();
    /// Finding keys seen by earlier audits of `repository`.
    pub fn baseline(&self, repository: &str) -> std::collections::HashSet<String>;
    /// Replaces the baseline of `repository` with `keys`.
    pub fn replace_baseline(&self, repository: &str, keys: &std::collections::HashSet<String>) -> ();
    /// Claims the work `key` for `holder` until its lease ends: only one holder at a time
    /// does it, and work marked done is never claimed again.
    pub fn claim(&self, key: &ClaimKey, holder: &Holder) -> Claim;
    /// Marks claimed work done (a scheduled audit's run); `false` when the claim was lost.
    pub fn finish_claim(&self, token: &ClaimToken) -> bool;
    /// Records that a daemon is alive now.
    pub fn heartbeat(&self, beat: &DaemonBeat) -> ();
    /// Removes a daemon that stops from the daemons alive.
    pub fn leave(&self, name: &str) -> ();
    /// The daemons whose last heartbeat is at or after `since_ms`, by name.
    pub fn daemons_since(&self, since_ms: i64) -> Vec<DaemonBeat>;
}

impl HistoryStore {
    /// Opens (creating if needed) and migrates the database at `location`. A file that is not
    /// a database (or a corrupt one) is [`HistoryError::Damaged`]; a PostgreSQL server out of
    /// reach is an error that [`HistoryError::is_unavailable`].
    pub fn open(location: &HistoryLocation) -> Result<Self, HistoryError> {
        let backend = match location {
            HistoryLocation::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(path)?),
            HistoryLocation::Postgres(url) => {
                Backend::Postgres(Box::new(postgres::PostgresStore::open(url)?))
            }
        };
        Ok(Self {
            backend,
            location: location.clone(),
        })
    }

    /// Where this store lives (a password in a URL is masked when shown).
    pub fn location(&self) -> &HistoryLocation {
        &self.location
    }
}

both_backends! {
    fn count_rows(&self, table: &migrate::Table) -> i64;
    fn dump_rows(&self, table: &migrate::Table, offset: usize, limit: usize) -> Vec<Vec<migrate::Cell>>;
    fn begin_import(&self) -> ();
    fn load_rows(&self, table: &migrate::Table, rows: &[Vec<migrate::Cell>]) -> ();
    fn end_import(&self, commit: bool) -> ();
    fn continue_sequences(&self) -> ();
}

both_backends! {
    /// Gives a claim up before its lease ends (work not done, such as a solution family's
    /// turn): the next holder need not wait.
    pub fn release_claim(&self, token: &ClaimToken) -> ();
}

impl HistoryStore {
    /// Whether several daemons may share this store (PostgreSQL): only then do they claim work
    /// from each other. A daemon on an SQLite file holds the instance lock beside it.
    pub fn is_shared(&self) -> bool {
        self.location.is_shared()
    }
}

both_backends! {
    /// Ends every lease still held (claims not done, alerts being delivered): for a daemon
    /// that holds the store alone (an SQLite file, under its instance lock), whatever leases
    /// it finds at start were left by a daemon that died.
    pub fn end_all_leases(&self) -> ();
}
