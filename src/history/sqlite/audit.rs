//! What audits keep between runs: each file's content hash by path, size and modification time
//! (so an unchanged file is not even hashed again), the parse outcome of each content hash (so
//! it is not read again), and per repository the findings already seen (the baseline that
//! decides which findings are new).

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::history::HistoryError;

impl SqliteStore {
    /// The content hash recorded for `path` when it had this size and modification time.
    pub fn cached_hash(
        &self,
        path: &str,
        size: u64,
        modified_ns: i64,
    ) -> Result<Option<String>, HistoryError> {
        self.conn
            .query_row(
                "SELECT sha256 FROM audit_files WHERE path = ?1 AND size = ?2 AND modified_ns = ?3",
                params![path, size as i64, modified_ns],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    pub fn remember_hash(
        &self,
        path: &str,
        size: u64,
        modified_ns: i64,
        sha256: &str,
    ) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO audit_files (path, size, modified_ns, sha256) VALUES (?1, ?2, ?3, ?4)",
                params![path, size as i64, modified_ns, sha256],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// The stored parse outcome (JSON) of the content `sha256`.
    pub fn parsed_outcome(&self, sha256: &str) -> Result<Option<String>, HistoryError> {
        self.conn
            .query_row(
                "SELECT outcome FROM parsed WHERE sha256 = ?1",
                [sha256],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    pub fn remember_outcome(&self, sha256: &str, outcome_json: &str) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO parsed (sha256, outcome) VALUES (?1, ?2)",
                params![sha256, outcome_json],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Finding keys seen by earlier audits of `repository`.
    pub fn baseline(&self, repository: &str) -> Result<HashSet<String>, HistoryError> {
        let mut statement = self
            .conn
            .prepare("SELECT finding_key FROM audit_baselines WHERE repository = ?1")
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([repository], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<HashSet<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// Replaces the baseline of `repository` with `keys`.
    pub fn replace_baseline(
        &self,
        repository: &str,
        keys: &HashSet<String>,
    ) -> Result<(), HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        tx.execute(
            "DELETE FROM audit_baselines WHERE repository = ?1",
            [repository],
        )
        .map_err(|e| self.sqlite(e))?;
        for key in keys {
            tx.execute(
                "INSERT INTO audit_baselines (repository, finding_key) VALUES (?1, ?2)",
                params![repository, key],
            )
            .map_err(|e| self.sqlite(e))?;
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }
}
