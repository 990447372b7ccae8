//! What the daemon needs from the store: which package bytes it has already evaluated (so a
//! restart, a touch or a rename never evaluates them twice), committed in one transaction with
//! the release, its alerts (see `outbox`) and the end of its claim (see `fleet`).

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::diagnostic::Verdict;
use crate::history::rows::{verdict_counts, ProcessedRow, PROCESSED_COLUMNS};
use crate::history::{HistoryError, Processed, ProcessedRecord};

fn processed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ProcessedRow> {
    Ok(ProcessedRow {
        sha256: row.get(0)?,
        path: row.get(1)?,
        unique_name: row.get(2)?,
        version: row.get(3)?,
        verdict: row.get(4)?,
        accepted: row.get(5)?,
        policy_set: row.get(6)?,
        reports: row.get(7)?,
        processed_at: row.get(8)?,
        previous_version: row.get(9)?,
        managed: row.get(10)?,
        watch: row.get(11)?,
        daemon: row.get(12)?,
    })
}

impl SqliteStore {
    pub fn processed(&self, sha256: &str) -> Result<Option<Processed>, HistoryError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {PROCESSED_COLUMNS} FROM processed WHERE sha256 = ?1"),
                [sha256],
                processed_row,
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        row.map(|row| row.into_processed().map_err(|e| self.corrupt(e)))
            .transpose()
    }

    pub fn recent_processed(&self, limit: usize) -> Result<Vec<Processed>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {PROCESSED_COLUMNS} FROM processed ORDER BY processed_at DESC, rowid DESC LIMIT ?1"
            ))
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([limit as i64], processed_row)
            .map_err(|e| self.sqlite(e))?;
        let mut recent = Vec::new();
        for row in rows {
            let row = row.map_err(|e| self.sqlite(e))?;
            recent.push(row.into_processed().map_err(|e| self.corrupt(e))?);
        }
        Ok(recent)
    }

    pub fn verdicts_since(
        &self,
        since: time::OffsetDateTime,
    ) -> Result<[(Verdict, usize); 3], HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT verdict, COUNT(*) FROM processed WHERE processed_at >= ?1 GROUP BY verdict",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([crate::history::rfc3339(since)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|e| self.sqlite(e))?;
        let rows = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        Ok(verdict_counts(rows))
    }

    pub fn record_processed(&self, record: &ProcessedRecord<'_>) -> Result<bool, HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        if let Some(claim) = record.claim {
            if !self.finish_claim_on(&tx, claim)? {
                return Ok(false);
            }
        }
        if let Some(package) = record.package {
            self.insert_release(&tx, record.assessment, package)?;
        }
        let row = ProcessedRow::of(record).map_err(|e| self.corrupt(e))?;
        tx.execute(
            &format!("INSERT OR REPLACE INTO processed ({PROCESSED_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![
                row.sha256,
                row.path,
                row.unique_name,
                row.version,
                row.verdict,
                row.accepted,
                row.policy_set,
                row.reports,
                row.processed_at,
                row.previous_version,
                row.managed,
                row.watch,
                row.daemon,
            ],
        )
        .map_err(|e| self.sqlite(e))?;
        self.queue_alerts(&tx, record.alerts, &row.processed_at)?;
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(true)
    }
}
