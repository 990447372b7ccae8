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

use crate::assessment::Assessment;
use crate::diagnostic::Verdict;
use crate::eval::HistoryEntry;
use crate::package::{ExportTime, ManagedState, Package};

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
    #[error("{path}: history database is damaged ({detail}); restore it from a backup, or move it aside to start a new history")]
    Damaged { path: PathBuf, detail: String },
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
];

/// One accepted release as the lineage reads it: its row (the order releases were accepted
/// in) and what policies see of it; the model is loaded only when needed
/// ([`HistoryStore::snapshot_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRelease {
    pub id: i64,
    pub unique_name: String,
    pub entry: HistoryEntry,
}

pub struct HistoryStore {
    conn: Connection,
    path: PathBuf,
}

impl HistoryStore {
    /// Opens (creating if needed) and migrates the database at `path`. A file that is not a
    /// database (or a corrupt one) is [`HistoryError::Damaged`].
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        Self::open_unchecked(path).map_err(|error| match error {
            HistoryError::Sqlite { path, source }
                if matches!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
                ) =>
            {
                HistoryError::Damaged {
                    path,
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

    /// Checks the database's structure (`PRAGMA quick_check`): a damaged file is refused at
    /// start, instead of failing every package later.
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
            path: self.path.clone(),
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
        let findings = serde_json::to_string(&assessment.findings).map_err(|e| self.corrupt(e))?;
        let snapshot = serde_json::to_string(package).map_err(|e| self.corrupt(e))?;
        let exported_at = package
            .exported_at
            .map(|t| serde_json::to_value(t).map_err(|e| self.corrupt(e)))
            .transpose()?
            .and_then(|v| v.as_str().map(str::to_owned));
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
                    findings,
                    rfc3339(assessment.checked_at),
                    assessment.policy_set,
                    snapshot,
                    assessment.patch_of,
                    exported_at,
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
            "SELECT id, unique_name, version, publisher, managed, sha256, checked_at, exported_at, patch_of
             FROM releases WHERE {condition} AND accepted = 1 ORDER BY id"
        );
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([name], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, Option<String>>(8)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut releases = Vec::new();
        for row in rows {
            let (
                id,
                unique_name,
                version,
                publisher,
                managed,
                sha256,
                checked_at,
                exported_at,
                patch_of,
            ) = row.map_err(|e| self.sqlite(e))?;
            releases.push(AcceptedRelease {
                id,
                unique_name,
                entry: HistoryEntry {
                    version,
                    publisher,
                    managed: managed_state(&managed),
                    sha256,
                    when: parse_rfc3339(&checked_at),
                    exported_at: exported_at
                        .and_then(|t| {
                            serde_json::from_value::<ExportTime>(serde_json::Value::String(t)).ok()
                        })
                        .map(|t| t.0),
                    patch_of,
                },
            });
        }
        Ok(releases)
    }

    /// The model stored with the release in row `id`.
    pub fn snapshot_of(&self, id: i64) -> Result<Option<Package>, HistoryError> {
        self.snapshot("SELECT snapshot FROM releases WHERE id = ?1", [id])
    }

    /// Every recorded release, optionally of one solution, oldest first, as assessed (without
    /// the data-loss detail, which reports keep).
    pub fn releases(&self, unique_name: Option<&str>) -> Result<Vec<Assessment>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set, exported_at, patch_of, previous_version
                 FROM releases WHERE ?1 IS NULL OR unique_name = ?1 ORDER BY unique_name, id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([unique_name], |row| {
                Ok(StoredRow {
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
            records.push(Assessment {
                path: PathBuf::from(row.path),
                unique_name: Some(row.unique_name),
                version: Some(row.version),
                managed: Some(managed_state(&row.managed)),
                publisher: Some(row.publisher),
                exported_at: row
                    .exported_at
                    .and_then(|t| serde_json::from_value(serde_json::Value::String(t)).ok()),
                patch_of: row.patch_of,
                sha256: row.sha256,
                verdict: Verdict::from_stored(&row.verdict),
                accepted: row.accepted,
                previous_version: row.previous_version,
                findings: serde_json::from_str(&row.findings).map_err(|e| self.corrupt(e))?,
                // Recorded releases are read back as lineage, not re-judged per environment.
                environments: Vec::new(),
                data_loss: Vec::new(),
                stream: None,
                checked_at: parse_rfc3339(&row.checked_at),
                policy_set: row.policy_set,
            });
        }
        Ok(records)
    }
}

/// A `releases` row as stored.
struct StoredRow {
    sha256: Option<String>,
    path: String,
    unique_name: String,
    version: String,
    publisher: String,
    managed: String,
    verdict: String,
    accepted: bool,
    findings: String,
    checked_at: String,
    policy_set: String,
    exported_at: Option<String>,
    patch_of: Option<String>,
    previous_version: Option<String>,
}

fn managed_state(text: &str) -> ManagedState {
    match text {
        "managed" => ManagedState::Managed,
        "both" => ManagedState::Both,
        _ => ManagedState::Unmanaged,
    }
}

/// RFC 3339 text of a time, as stored.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A stored RFC 3339 time; rows written before times were typed may hold anything, and read
/// as the Unix epoch rather than failing the whole history.
pub fn parse_rfc3339(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
