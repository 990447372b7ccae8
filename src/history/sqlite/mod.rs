//! The SQLite backend: one file, no server, readable with the `sqlite3` tool, in WAL mode (one
//! writer and concurrent readers; a killed process never leaves it corrupt). The schema is
//! versioned in `user_version` and migrated forward on open.

mod audit;
mod fleet;
mod outbox;
mod processed;
mod tables;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{
    snapshot_package, AcceptedRow, ReleaseRow, ReleaseText, ACCEPTED_COLUMNS, RELEASE_COLUMNS,
};
use super::{AcceptedRelease, HistoryError};
use crate::assessment::Assessment;
use crate::package::Package;

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
    // Release lineage: which solution a patch patches, the export time, what a release was
    // compared with. Earlier rows get their parent from the stored model.
    r#"
ALTER TABLE releases ADD COLUMN patch_of TEXT COLLATE NOCASE;
ALTER TABLE releases ADD COLUMN exported_at TEXT;
ALTER TABLE releases ADD COLUMN previous_version TEXT;
UPDATE releases SET patch_of = json_extract(snapshot, '$.parent.unique_name');
CREATE INDEX releases_by_parent ON releases (patch_of, id) WHERE patch_of IS NOT NULL;
ALTER TABLE processed ADD COLUMN previous_version TEXT;
ALTER TABLE processed ADD COLUMN managed TEXT;
-- The reader now keeps export times: cached models from before lack them.
DELETE FROM parsed;
"#,
    // The watch folder a package came from, for the dashboard after a restart.
    r#"
ALTER TABLE processed ADD COLUMN watch TEXT;
"#,
    // Several daemons on one history: claims on work, leased alert deliveries, heartbeats,
    // and which daemon evaluated each package.
    r#"
CREATE TABLE leases (
    key        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    owner      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, scope)
);
CREATE TABLE daemons (
    name         TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    policy_set   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
ALTER TABLE processed ADD COLUMN daemon TEXT;
"#,
];

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`. A file that is not a
    /// database (or a corrupt one) is [`HistoryError::Damaged`].
    pub(in crate::history) fn open(path: &Path) -> Result<Self, HistoryError> {
        Self::open_unchecked(path).map_err(|error| match error {
            HistoryError::Sqlite { path, source }
                if matches!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
                ) =>
            {
                HistoryError::Damaged {
                    location: path.display().to_string(),
                    detail: source.to_string(),
                }
            }
            other => other,
        })
    }

    fn open_unchecked(path: &Path) -> Result<Self, HistoryError> {
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
                location: path.display().to_string(),
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
            location: self.path.display().to_string(),
            source,
        }
    }

    /// Whether the database answers (a file always does once open).
    pub fn ping(&self) -> Result<(), HistoryError> {
        self.conn
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(|e| self.sqlite(e))
    }

    /// Checks the database's structure (`PRAGMA quick_check`).
    pub fn verify(&self) -> Result<(), HistoryError> {
        let mut statement = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| self.damaged(e.to_string()))?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.damaged(e.to_string()))?;
        let problems: Vec<String> = rows
            .filter_map(Result::ok)
            .filter(|line| line != "ok")
            .take(3)
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(self.damaged(problems.join("; ")))
        }
    }

    fn damaged(&self, detail: String) -> HistoryError {
        HistoryError::Damaged {
            location: self.path.display().to_string(),
            detail,
        }
    }

    /// Records an assessed package, with the model snapshot later runs compare against.
    pub fn record(&self, assessment: &Assessment, package: &Package) -> Result<(), HistoryError> {
        self.insert_release(&self.conn, assessment, package)
    }

    fn insert_release(
        &self,
        conn: &Connection,
        assessment: &Assessment,
        package: &Package,
    ) -> Result<(), HistoryError> {
        let text = ReleaseText::of(assessment, package).map_err(|e| self.corrupt(e))?;
        conn.execute(
                "INSERT INTO releases (sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set, snapshot, patch_of, exported_at, previous_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    assessment.sha256,
                    assessment.path.display().to_string(),
                    package.unique_name,
                    package.version,
                    package.publisher.unique_name,
                    package.managed.as_str(),
                    assessment.verdict.as_str(),
                    assessment.accepted,
                    text.findings,
                    text.checked_at,
                    assessment.policy_set,
                    text.snapshot,
                    assessment.patch_of,
                    text.exported_at,
                    assessment.previous_version,
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
            .map(|json| snapshot_package(&json).map_err(|e| self.corrupt(e)))
            .transpose()
    }

    /// Accepted releases of `unique_name`, oldest first.
    pub fn accepted_releases(
        &self,
        unique_name: &str,
    ) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.accepted_where("unique_name = ?1", unique_name)
    }

    /// Accepted patches whose parent is `parent` (any patch unique name), oldest first.
    pub fn accepted_patches_of(&self, parent: &str) -> Result<Vec<AcceptedRelease>, HistoryError> {
        self.accepted_where("patch_of = ?1", parent)
    }

    fn accepted_where(
        &self,
        condition: &str,
        name: &str,
    ) -> Result<Vec<AcceptedRelease>, HistoryError> {
        let sql = format!(
            "SELECT {ACCEPTED_COLUMNS} FROM releases WHERE {condition} AND accepted = 1 ORDER BY id"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([name], |row| {
                Ok(AcceptedRow {
                    id: row.get(0)?,
                    unique_name: row.get(1)?,
                    version: row.get(2)?,
                    publisher: row.get(3)?,
                    managed: row.get(4)?,
                    sha256: row.get(5)?,
                    checked_at: row.get(6)?,
                    exported_at: row.get(7)?,
                    patch_of: row.get(8)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.map(|row| row.map(AcceptedRelease::from))
            .collect::<Result<_, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// The model stored with the release in row `id`.
    pub fn snapshot_of(&self, id: i64) -> Result<Option<Package>, HistoryError> {
        self.snapshot("SELECT snapshot FROM releases WHERE id = ?1", [id])
    }

    /// Every recorded release, optionally of one solution, oldest first.
    pub fn releases(&self, unique_name: Option<&str>) -> Result<Vec<Assessment>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases WHERE ?1 IS NULL OR unique_name = ?1 ORDER BY unique_name, id"
            ))
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([unique_name], |row| {
                Ok(ReleaseRow {
                    sha256: row.get(0)?,
                    path: row.get(1)?,
                    unique_name: row.get(2)?,
                    version: row.get(3)?,
                    publisher: row.get(4)?,
                    managed: row.get(5)?,
                    verdict: row.get(6)?,
                    accepted: row.get(7)?,
                    findings: row.get(8)?,
                    checked_at: row.get(9)?,
                    policy_set: row.get(10)?,
                    exported_at: row.get(11)?,
                    patch_of: row.get(12)?,
                    previous_version: row.get(13)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        let mut records = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.sqlite(e))?;
            records.push(row.into_assessment().map_err(|e| self.corrupt(e))?);
        }
        Ok(records)
    }
}
