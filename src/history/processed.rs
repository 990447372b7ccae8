//! What the daemon needs from the store: which package bytes it has already evaluated (so a
//! restart, a touch or a rename never evaluates them twice), and an outbox of alerts written in
//! the same transaction as the evaluation, so an alert is never lost between the two.

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

/// An alert waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub sink: String,
    pub idempotency_key: String,
    /// The alert as JSON.
    pub payload: String,
    pub attempts: i64,
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
        for (sink, key, payload) in alerts {
            tx.execute(
                "INSERT OR IGNORE INTO outbox (sink, idempotency_key, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![sink, key, payload, processed.processed_at],
            )
            .map_err(|e| self.sqlite(e))?;
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// Alerts not yet delivered to `sink`, oldest first.
    pub fn pending_alerts(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, sink, idempotency_key, payload, attempts FROM outbox
                 WHERE sink = ?1 AND delivered_at IS NULL ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map(params![sink, limit as i64], |row| {
                Ok(OutboxEntry {
                    id: row.get(0)?,
                    sink: row.get(1)?,
                    idempotency_key: row.get(2)?,
                    payload: row.get(3)?,
                    attempts: row.get(4)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// Marks an outbox entry delivered at `when` (RFC 3339).
    pub fn mark_delivered(&self, id: i64, when: &str) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "UPDATE outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
                params![id, when],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Notes a failed delivery attempt; the entry stays pending.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    /// Number of alerts not yet delivered, over all sinks.
    pub fn pending_alert_count(&self) -> Result<i64, HistoryError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL",
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }
}
