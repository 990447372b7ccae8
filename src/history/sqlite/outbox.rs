//! The alert outbox: every alert is written here first (in the transaction that records its
//! package), then delivered by a sink. Each entry keeps its attempts, when to try next, and
//! whether it was delivered or given up (dead). `(sink, idempotency_key)` is unique, so the same
//! alert is never queued twice for a sink, across restarts too.

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::history::{unix_ms, HistoryError, Holder, OutboxEntry, SinkCounts};

impl SqliteStore {
    /// Queues `(sink, key, payload)` alerts on `conn` (a transaction of the caller); an alert
    /// whose key its sink already has is ignored.
    pub(super) fn queue_alerts(
        &self,
        conn: &Connection,
        alerts: &[(String, String, String)],
        created_at: &str,
    ) -> Result<(), HistoryError> {
        let now = unix_ms();
        for (sink, key, payload) in alerts {
            conn.execute(
                "INSERT OR IGNORE INTO outbox (sink, idempotency_key, payload, created_at, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sink, key, payload, created_at, now],
            )
            .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }

    /// Queues alerts outside any package record (`check --alert`).
    pub fn enqueue_alerts(
        &self,
        alerts: &[(String, String, String)],
        created_at: &str,
    ) -> Result<(), HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        self.queue_alerts(&tx, alerts, created_at)?;
        tx.commit().map_err(|e| self.sqlite(e))
    }

    pub fn due_alerts(
        &self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        holder: &Holder,
    ) -> Result<Vec<OutboxEntry>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "UPDATE outbox SET lease_owner = ?4, lease_until_ms = ?5
                 WHERE id IN (SELECT id FROM outbox
                     WHERE sink = ?1 AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_ms <= ?2
                       AND (lease_owner IS NULL OR lease_owner = ?4 OR lease_until_ms < ?2)
                     ORDER BY id LIMIT ?3)
                 RETURNING id, sink, idempotency_key, payload, attempts, created_ms",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map(
                params![
                    sink,
                    now_ms,
                    limit as i64,
                    holder.owner,
                    holder.until(now_ms)
                ],
                |row| {
                    Ok(OutboxEntry {
                        id: row.get(0)?,
                        sink: row.get(1)?,
                        idempotency_key: row.get(2)?,
                        payload: row.get(3)?,
                        attempts: row.get(4)?,
                        created_ms: row.get(5)?,
                    })
                },
            )
            .map_err(|e| self.sqlite(e))?;
        let mut due = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        due.sort_by_key(|e| e.id);
        Ok(due)
    }

    /// Runs `update` for each id in one transaction.
    fn update_each(
        &self,
        ids: &[i64],
        update: impl Fn(&Connection, i64) -> rusqlite::Result<usize>,
    ) -> Result<(), HistoryError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        for id in ids {
            update(&tx, *id).map_err(|e| self.sqlite(e))?;
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// Marks entries delivered at `when` (RFC 3339).
    pub fn mark_delivered(&self, ids: &[i64], when: &str) -> Result<(), HistoryError> {
        self.update_each(ids, |tx, id| {
            tx.execute(
                "UPDATE outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL, lease_owner = NULL WHERE id = ?1",
                params![id, when],
            )
        })
    }

    /// Notes a failed attempt; the entries are tried again from `next_attempt_ms`.
    pub fn mark_failed(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_ms: i64,
    ) -> Result<(), HistoryError> {
        self.update_each(ids, |tx, id| {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3, lease_owner = NULL WHERE id = ?1",
                params![id, error, next_attempt_ms],
            )
        })
    }

    /// Gives entries up: they stay in the outbox, marked dead at `when`.
    pub fn mark_dead(&self, ids: &[i64], when: &str) -> Result<(), HistoryError> {
        self.update_each(ids, |tx, id| {
            tx.execute(
                "UPDATE outbox SET dead_at = ?2, lease_owner = NULL WHERE id = ?1",
                params![id, when],
            )
        })
    }

    /// Pending, delivered and dead alerts per sink, with each sink's latest error.
    pub fn sink_counts(&self) -> Result<Vec<SinkCounts>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT sink,
                        SUM(delivered_at IS NULL AND dead_at IS NULL),
                        SUM(delivered_at IS NOT NULL),
                        SUM(dead_at IS NOT NULL),
                        (SELECT last_error FROM outbox o2 WHERE o2.sink = outbox.sink AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)
                 FROM outbox GROUP BY sink ORDER BY sink",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(SinkCounts {
                    sink: row.get(0)?,
                    pending: row.get(1)?,
                    delivered: row.get(2)?,
                    dead: row.get(3)?,
                    last_error: row.get(4)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }
}
