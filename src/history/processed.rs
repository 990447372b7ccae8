//! What the daemon needs from the store: which package bytes it has already evaluated (so a
//! restart, a touch or a rename never evaluates them twice), and an outbox of alerts written in
//! the same transaction as the evaluation (see `outbox`), so an alert is never lost between
//! the two.

use rusqlite::{params, OptionalExtension};

use super::{managed_state, parse_rfc3339, rfc3339, HistoryError, HistoryStore};
use crate::assessment::{Assessment, AssessmentSummary};
use crate::diagnostic::Verdict;
use crate::package::Package;

/// A package the daemon has evaluated, by content hash: the summary of its assessment and the
/// report files written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub sha256: String,
    pub summary: AssessmentSummary,
    pub reports: Vec<String>,
    /// The watch folder it came from (`None` for rows from before it was recorded).
    pub watch: Option<String>,
}

const COLUMNS: &str = "sha256, path, unique_name, version, verdict, accepted, policy_set, reports, processed_at, previous_version, managed, watch";

/// A `processed` row, with its reports still as JSON text.
fn processed_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Processed, String)> {
    let sha256: String = row.get(0)?;
    Ok((
        Processed {
            summary: AssessmentSummary {
                path: row.get(1)?,
                unique_name: row.get(2)?,
                version: row.get(3)?,
                previous_version: row.get(9)?,
                managed: row.get::<_, Option<String>>(10)?.map(|m| managed_state(&m)),
                sha256: Some(sha256.clone()),
                verdict: Verdict::from_stored(&row.get::<_, String>(4)?),
                accepted: row.get(5)?,
                checked_at: parse_rfc3339(&row.get::<_, String>(8)?),
                policy_set: row.get(6)?,
                exported_at: None,
                patch_of: None,
                alarms: Vec::new(),
            },
            sha256,
            reports: Vec::new(),
            watch: row.get(11)?,
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
                &format!("SELECT {COLUMNS} FROM processed WHERE sha256 = ?1"),
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
            .prepare(&format!(
                "SELECT {COLUMNS} FROM processed ORDER BY processed_at DESC, rowid DESC LIMIT ?1"
            ))
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

    /// How many packages were processed since `since`, by verdict (`pass`, `warn`, `fail`).
    pub fn verdicts_since(
        &self,
        since: time::OffsetDateTime,
    ) -> Result<[(Verdict, usize); 3], HistoryError> {
        let mut counts = [(Verdict::Pass, 0), (Verdict::Warn, 0), (Verdict::Fail, 0)];
        let mut statement = self
            .conn
            .prepare(
                "SELECT verdict, COUNT(*) FROM processed WHERE processed_at >= ?1 GROUP BY verdict",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([super::rfc3339(since)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|e| self.sqlite(e))?;
        for row in rows {
            let (verdict, count) = row.map_err(|e| self.sqlite(e))?;
            let verdict = Verdict::from_stored(&verdict);
            if let Some(slot) = counts.iter_mut().find(|(v, _)| *v == verdict) {
                slot.1 += count.max(0) as usize;
            }
        }
        Ok(counts)
    }

    /// Records an evaluation in one transaction: the package bytes `sha256` from watch folder
    /// `watch` as processed with their `reports`, the release (when the package could be
    /// read) and its alerts, one per `(sink, key, payload)`. An alert whose key the sink
    /// already has is not queued again.
    pub fn record_processed(
        &self,
        sha256: &str,
        watch: &str,
        assessment: &Assessment,
        reports: &[String],
        package: Option<&Package>,
        alerts: &[(String, String, String)],
    ) -> Result<(), HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        if let Some(package) = package {
            self.insert_release(&tx, assessment, package)?;
        }
        let reports = serde_json::to_string(reports).map_err(|e| self.corrupt(e))?;
        let processed_at = rfc3339(assessment.checked_at);
        tx.execute(
            &format!("INSERT OR REPLACE INTO processed ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            params![
                sha256,
                assessment.path.display().to_string(),
                assessment.unique_name,
                assessment.version,
                assessment.verdict.as_str(),
                assessment.accepted,
                assessment.policy_set,
                reports,
                processed_at,
                assessment.previous_version,
                assessment.managed.map(|m| m.as_str()),
                watch,
            ],
        )
        .map_err(|e| self.sqlite(e))?;
        self.queue_alerts(&tx, alerts, &processed_at)?;
        tx.commit().map_err(|e| self.sqlite(e))
    }
}
