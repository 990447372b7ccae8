//! The history store: every package checked, with its verdict, findings and a snapshot of its
//! model, so later runs find the last accepted release of a solution without the original zip.
//!
//! SQLite (one file, no server, readable with the `sqlite3` tool) in WAL mode: one writer and
//! concurrent readers, and a killed process never leaves it corrupt. The schema is versioned
//! and migrated forward on open.

mod audit;
mod outbox;
mod processed;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::eval::{Finding, HistoryEntry, Verdict};
use crate::package::Package;

pub use outbox::{unix_ms, OutboxEntry, SinkCounts};
pub use processed::Processed;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: history database: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: history database: stored data is unreadable: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: history database has schema version {found}, newer than this solguard understands ({supported}); upgrade solguard")]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
}

/// Schema migrations, applied in order; index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE releases (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT,
    path        TEXT NOT NULL,
    unique_name TEXT NOT NULL COLLATE NOCASE,
    version     TEXT NOT NULL,
    publisher   TEXT NOT NULL,
    managed     TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    accepted    INTEGER NOT NULL,
    findings    TEXT NOT NULL,
    checked_at  TEXT NOT NULL,
    policy_set  TEXT NOT NULL,
    snapshot    TEXT NOT NULL
);
CREATE INDEX releases_by_name ON releases (unique_name, id);
CREATE INDEX releases_by_sha ON releases (sha256);
"#,
    r#"
CREATE TABLE processed (
    sha256       TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    unique_name  TEXT,
    version      TEXT,
    verdict      TEXT NOT NULL,
    accepted     INTEGER NOT NULL,
    policy_set   TEXT NOT NULL,
    reports      TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    sink            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    delivered_at    TEXT,
    dead_at         TEXT,
    last_error      TEXT,
    UNIQUE (sink, idempotency_key)
);
CREATE INDEX processed_recent ON processed (processed_at);
CREATE INDEX outbox_pending ON outbox (sink, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
"#,
    r#"
CREATE TABLE audit_files (
    path        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    modified_ns INTEGER NOT NULL,
    sha256      TEXT NOT NULL
);
CREATE TABLE parsed (
    sha256  TEXT PRIMARY KEY,
    outcome TEXT NOT NULL
);
CREATE TABLE audit_baselines (
    repository  TEXT NOT NULL,
    finding_key TEXT NOT NULL,
    PRIMARY KEY (repository, finding_key)
);
"#,
];

/// One package as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub sha256: Option<String>,
    pub path: String,
    pub unique_name: String,
    pub version: String,
    pub publisher: String,
    pub managed: String,
    pub verdict: Verdict,
    pub accepted: bool,
    pub findings: Vec<Finding>,
    pub checked_at: String,
    pub policy_set: String,
}

pub struct HistoryStore {
    conn: Connection,
    path: PathBuf,
}

impl HistoryStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let sqlite = |source| HistoryError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A missing folder is reported by SQLite below with the path; no need to fail here.
            let _ = std::fs::create_dir_all(parent);
        }
        let mut conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sqlite)?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(HistoryError::TooNew {
                path: path.to_path_buf(),
                found: version,
                supported,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(sqlite)?;
            tx.execute_batch(migration).map_err(sqlite)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(sqlite)?;
            tx.commit().map_err(sqlite)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, source: serde_json::Error) -> HistoryError {
        HistoryError::Corrupt {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a checked package, with the model snapshot later runs compare against.
    pub fn record(&self, record: &ReleaseRecord, package: &Package) -> Result<(), HistoryError> {
        self.insert_release(&self.conn, record, package)
    }

    fn insert_release(
        &self,
        conn: &Connection,
        record: &ReleaseRecord,
        package: &Package,
    ) -> Result<(), HistoryError> {
        let findings = serde_json::to_string(&record.findings).map_err(|e| self.corrupt(e))?;
        let snapshot = serde_json::to_string(package).map_err(|e| self.corrupt(e))?;
        conn.execute(
                "INSERT INTO releases (sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set, snapshot)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    record.sha256,
                    record.path,
                    record.unique_name,
                    record.version,
                    record.publisher,
                    record.managed,
                    record.verdict.as_str(),
                    record.accepted,
                    findings,
                    record.checked_at,
                    record.policy_set,
                    snapshot
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// The model of the last accepted release of `unique_name` (case-insensitive).
    pub fn last_accepted(&self, unique_name: &str) -> Result<Option<Package>, HistoryError> {
        self.snapshot(
            "SELECT snapshot FROM releases WHERE unique_name = ?1 AND accepted = 1 ORDER BY id DESC LIMIT 1",
            [unique_name],
        )
    }

    /// The model of the latest record of `unique_name` at `version`, accepted or not.
    pub fn release(
        &self,
        unique_name: &str,
        version: &str,
    ) -> Result<Option<Package>, HistoryError> {
        self.snapshot(
            "SELECT snapshot FROM releases WHERE unique_name = ?1 AND version = ?2 ORDER BY id DESC LIMIT 1",
            [unique_name, version],
        )
    }

    fn snapshot<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> Result<Option<Package>, HistoryError> {
        let snapshot: Option<String> = self
            .conn
            .query_row(sql, params, |row| row.get(0))
            .optional()
            .map_err(|e| self.sqlite(e))?;
        snapshot
            .map(|json| {
                let mut package: Package =
                    serde_json::from_str(&json).map_err(|e| self.corrupt(e))?;
                package.solution_version =
                    crate::package::SolutionVersion::parse(&package.version).ok();
                Ok(package)
            })
            .transpose()
    }

    /// Accepted releases of `unique_name`, oldest first.
    pub fn accepted_history(&self, unique_name: &str) -> Result<Vec<HistoryEntry>, HistoryError> {
        let mut statement = self
            .conn
            .prepare("SELECT version, publisher, managed, sha256, checked_at FROM releases WHERE unique_name = ?1 AND accepted = 1 ORDER BY id")
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([unique_name], |row| {
                Ok(HistoryEntry {
                    version: row.get(0)?,
                    publisher: row.get(1)?,
                    managed: row.get(2)?,
                    sha256: row.get(3)?,
                    when: row.get(4)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// Every recorded release, optionally of one solution, oldest first.
    pub fn releases(&self, unique_name: Option<&str>) -> Result<Vec<ReleaseRecord>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set
                 FROM releases WHERE ?1 IS NULL OR unique_name = ?1 ORDER BY unique_name, id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([unique_name], |row| {
                Ok((
                    ReleaseRecord {
                        sha256: row.get(0)?,
                        path: row.get(1)?,
                        unique_name: row.get(2)?,
                        version: row.get(3)?,
                        publisher: row.get(4)?,
                        managed: row.get(5)?,
                        verdict: Verdict::Pass,
                        accepted: row.get(7)?,
                        findings: Vec::new(),
                        checked_at: row.get(9)?,
                        policy_set: row.get(10)?,
                    },
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(8)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut records = Vec::new();
        for row in rows {
            let (mut record, verdict, findings) = row.map_err(|e| self.sqlite(e))?;
            record.verdict = Verdict::from_stored(&verdict);
            record.findings = serde_json::from_str(&findings).map_err(|e| self.corrupt(e))?;
            records.push(record);
        }
        Ok(records)
    }
}
