//! What the daemon needs from the store: which package bytes it has already evaluated (so a
//! restart, a touch or a rename never evaluates them twice), and an outbox of alerts written in
//! the same transaction as the evaluation (see `outbox`), so an alert is never lost between
//! the two.

use rusqlite::{params, OptionalExtension};

use super::{HistoryError, HistoryStore, ReleaseRecord};
use crate::eval::Verdict;
use crate::package::Package;

/// A package the daemon has evaluated, by content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub sha256: String,
    pub path: String,
    /// Null when the package could not be read.
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub verdict: Verdict,
    pub accepted: bool,
    pub policy_set: String,
    /// Report files written for it.
    pub reports: Vec<String>,
    pub processed_at: String,
}

/// A `processed` row, with its reports still as JSON text.
fn processed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Processed, String)> {
    Ok((
        Processed {
            sha256: row.get(0)?,
            path: row.get(1)?,
            unique_name: row.get(2)?,
            version: row.get(3)?,
            verdict: Verdict::from_stored(&row.get::<_, String>(4)?),
            accepted: row.get(5)?,
            policy_set: row.get(6)?,
            reports: Vec::new(),
            processed_at: row.get(8)?,
        },
        row.get(7)?,
    ))
}

impl HistoryStore {
    /// The evaluation of the package with content hash `sha256`, if there was one.
    pub fn processed(&self, sha256: &str) -> Result<Option<Processed>, HistoryError> {
        let row = self
            .conn
            .query_row(
                "SELECT sha256, path, unique_name, version, verdict, accepted, policy_set, reports, processed_at FROM processed WHERE sha256 = ?1",
                [sha256],
                processed_row,
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        row.map(|(processed, reports)| self.with_reports(processed, &reports))
            .transpose()
    }

    fn with_reports(
        &self,
        mut processed: Processed,
        reports: &str,
    ) -> Result<Processed, HistoryError> {
        processed.reports = serde_json::from_str(reports).map_err(|e| self.corrupt(e))?;
        Ok(processed)
    }

    /// The `limit` most recently processed packages, newest first.
    pub fn recent_processed(&self, limit: usize) -> Result<Vec<Processed>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT sha256, path, unique_name, version, verdict, accepted, policy_set, reports, processed_at
                 FROM processed ORDER BY processed_at DESC, rowid DESC LIMIT ?1",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([limit as i64], processed_row)
            .map_err(|e| self.sqlite(e))?;
        let mut recent = Vec::new();
        for row in rows {
            let (processed, reports) = row.map_err(|e| self.sqlite(e))?;
            recent.push(self.with_reports(processed, &reports)?);
        }
        Ok(recent)
    }

    /// Records an evaluation in one transaction: the package as processed, its release (when
    /// it could be read) and its alerts, one per `(sink, key, payload)`. An alert whose key the
    /// sink already has is not queued again.
    pub fn record_processed(
        &self,
        processed: &Processed,
        release: Option<(&ReleaseRecord, &Package)>,
        alerts: &[(String, String, String)],
    ) -> Result<(), HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        if let Some((record, package)) = release {
            self.insert_release(&tx, record, package)?;
        }
        let reports = serde_json::to_string(&processed.reports).map_err(|e| self.corrupt(e))?;
        tx.execute(
            "INSERT OR REPLACE INTO processed (sha256, path, unique_name, version, verdict, accepted, policy_set, reports, processed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                processed.sha256,
                processed.path,
                processed.unique_name,
                processed.version,
                processed.verdict.as_str(),
                processed.accepted,
                processed.policy_set,
                reports,
                processed.processed_at
            ],
        )
        .map_err(|e| self.sqlite(e))?;
        self.queue_alerts(&tx, alerts, &processed.processed_at)?;
        tx.commit().map_err(|e| self.sqlite(e))
    }
}
