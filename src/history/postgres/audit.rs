//! Audit caches and baselines in PostgreSQL (see the SQLite backend's `audit` for what they
//! keep).

use std::collections::HashSet;

use super::{PostgresStore, Queries};
use crate::history::HistoryError;

impl PostgresStore {
    pub fn cached_hash(
        &self,
        path: &str,
        size: u64,
        modified_ns: i64,
    ) -> Result<Option<String>, HistoryError> {
        self.run(|client| {
            let row = client.query_opt(
                "SELECT sha256 FROM audit_files WHERE path = $1 AND size = $2 AND modified_ns = $3",
                &[&path, &(size as i64), &modified_ns],
            )?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    pub fn remember_hash(
        &self,
        path: &str,
        size: u64,
        modified_ns: i64,
        sha256: &str,
    ) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "INSERT INTO audit_files (path, size, modified_ns, sha256) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (path) DO UPDATE SET size = EXCLUDED.size, modified_ns = EXCLUDED.modified_ns, sha256 = EXCLUDED.sha256",
                &[&path, &(size as i64), &modified_ns, &sha256],
            )?;
            Ok(())
        })
    }

    pub fn parsed_outcome(&self, sha256: &str) -> Result<Option<String>, HistoryError> {
        self.run(|client| {
            let row =
                client.query_opt("SELECT outcome FROM parsed WHERE sha256 = $1", &[&sha256])?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    pub fn remember_outcome(&self, sha256: &str, outcome_json: &str) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "INSERT INTO parsed (sha256, outcome) VALUES ($1, $2)
                 ON CONFLICT (sha256) DO UPDATE SET outcome = EXCLUDED.outcome",
                &[&sha256, &outcome_json],
            )?;
            Ok(())
        })
    }

    pub fn baseline(&self, repository: &str) -> Result<HashSet<String>, HistoryError> {
        self.run(|client| {
            let rows = client.query(
                "SELECT finding_key FROM audit_baselines WHERE repository = $1",
                &[&repository],
            )?;
            Ok(rows.iter().map(|row| row.get(0)).collect())
        })
    }

    pub fn replace_baseline(
        &self,
        repository: &str,
        keys: &HashSet<String>,
    ) -> Result<(), HistoryError> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.run(|client| {
            let mut tx = client.transaction()?;
            tx.execute(
                "DELETE FROM audit_baselines WHERE repository = $1",
                &[&repository],
            )?;
            tx.execute(
                "INSERT INTO audit_baselines (repository, finding_key) SELECT $1, UNNEST($2::TEXT[])",
                &[&repository, &keys],
            )?;
            tx.commit()?;
            Ok(())
        })
    }
}
