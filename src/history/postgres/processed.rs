//! Processed packages in PostgreSQL, committed with their release, alerts and the end of their
//! claim in one transaction: a claim taken over by another daemon commits nothing.

use super::{outbox::queue_alerts, releases::insert_release, PostgresStore, Queries};
use crate::diagnostic::Verdict;
use crate::history::rows::{verdict_counts, ProcessedRow, PROCESSED_COLUMNS};
use crate::history::{HistoryError, Processed, ProcessedRecord};

fn processed_row(row: &postgres::Row) -> ProcessedRow {
    ProcessedRow {
        sha256: row.get(0),
        path: row.get(1),
        unique_name: row.get(2),
        version: row.get(3),
        verdict: row.get(4),
        accepted: row.get(5),
        policy_set: row.get(6),
        reports: row.get(7),
        processed_at: row.get(8),
        previous_version: row.get(9),
        managed: row.get(10),
        watch: row.get(11),
        daemon: row.get(12),
    }
}

impl PostgresStore {
    pub fn processed(&self, sha256: &str) -> Result<Option<Processed>, HistoryError> {
        let sql = format!("SELECT {PROCESSED_COLUMNS} FROM processed WHERE sha256 = $1");
        self.run(|client| {
            let row = client.query_opt(&sql, &[&sha256])?;
            Ok(row
                .map(|row| processed_row(&row).into_processed())
                .transpose()?)
        })
    }

    pub fn recent_processed(&self, limit: usize) -> Result<Vec<Processed>, HistoryError> {
        let sql = format!(
            "SELECT {PROCESSED_COLUMNS} FROM processed ORDER BY processed_at DESC, seq DESC LIMIT $1"
        );
        self.run(|client| {
            let rows = client.query(&sql, &[&(limit as i64)])?;
            let mut recent = Vec::with_capacity(rows.len());
            for row in &rows {
                recent.push(processed_row(row).into_processed()?);
            }
            Ok(recent)
        })
    }

    pub fn verdicts_since(
        &self,
        since: time::OffsetDateTime,
    ) -> Result<[(Verdict, usize); 3], HistoryError> {
        let since = crate::history::rfc3339(since);
        self.run(|client| {
            let rows = client.query(
                "SELECT verdict, COUNT(*) FROM processed WHERE processed_at >= $1 GROUP BY verdict",
                &[&since],
            )?;
            Ok(verdict_counts(
                rows.iter().map(|row| (row.get::<_, String>(0), row.get(1))),
            ))
        })
    }

    pub fn record_processed(&self, record: &ProcessedRecord<'_>) -> Result<bool, HistoryError> {
        let row = ProcessedRow::of(record).map_err(|source| HistoryError::Corrupt {
            location: self.url.to_string(),
            source,
        })?;
        let sql = format!(
            "INSERT INTO processed ({PROCESSED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (sha256) DO UPDATE SET path = EXCLUDED.path, unique_name = EXCLUDED.unique_name,
                 version = EXCLUDED.version, verdict = EXCLUDED.verdict, accepted = EXCLUDED.accepted,
                 policy_set = EXCLUDED.policy_set, reports = EXCLUDED.reports,
                 processed_at = EXCLUDED.processed_at, previous_version = EXCLUDED.previous_version,
                 managed = EXCLUDED.managed, watch = EXCLUDED.watch, daemon = EXCLUDED.daemon"
        );
        self.run(|client| {
            let mut tx = client.transaction()?;
            if let Some(claim) = record.claim {
                if !super::fleet::finish_claim_on(&mut tx, claim)? {
                    return Ok(false);
                }
            }
            if let Some(package) = record.package {
                insert_release(&mut tx, record.assessment, package)?;
            }
            tx.execute(
                &sql,
                &[
                    &row.sha256,
                    &row.path,
                    &row.unique_name,
                    &row.version,
                    &row.verdict,
                    &row.accepted,
                    &row.policy_set,
                    &row.reports,
                    &row.processed_at,
                    &row.previous_version,
                    &row.managed,
                    &row.watch,
                    &row.daemon,
                ],
            )?;
            queue_alerts(&mut tx, record.alerts, &row.processed_at)?;
            tx.commit()?;
            Ok(true)
        })
    }
}
