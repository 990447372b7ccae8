//! The alert outbox in PostgreSQL. Daemons lease due alerts with `FOR UPDATE SKIP LOCKED`, so
//! each alert is delivered by one daemon; a lease left by a daemon that died ends, and another
//! delivers the alert under the same idempotency key.

use super::{Failure, PostgresStore, Queries};
use crate::history::{unix_ms, HistoryError, Holder, OutboxEntry, SinkCounts};

/// Queues `(sink, key, payload)` alerts on `client`; a key its sink already has is ignored.
pub(super) fn queue_alerts(
    client: &mut impl Queries,
    alerts: &[(String, String, String)],
    created_at: &str,
) -> Result<(), Failure> {
    let now = unix_ms();
    for (sink, key, payload) in alerts {
        client.execute(
            "INSERT INTO outbox (sink, idempotency_key, payload, created_at, created_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sink, idempotency_key) DO NOTHING",
            &[sink, key, payload, &created_at, &now],
        )?;
    }
    Ok(())
}

impl PostgresStore {
    pub fn enqueue_alerts(
        &self,
        alerts: &[(String, String, String)],
        created_at: &str,
    ) -> Result<(), HistoryError> {
        self.run(|client| {
            let mut tx = client.transaction()?;
            queue_alerts(&mut tx, alerts, created_at)?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn due_alerts(
        &self,
        sink: &str,
        now_ms: i64,
        limit: usize,
        holder: &Holder,
    ) -> Result<Vec<OutboxEntry>, HistoryError> {
        let until = holder.until(now_ms);
        self.run(|client| {
            let rows = client.query(
                "UPDATE outbox SET lease_owner = $4, lease_until_ms = $5
                 WHERE id IN (SELECT id FROM outbox
                     WHERE sink = $1 AND delivered_at IS NULL AND dead_at IS NULL AND next_attempt_ms <= $2
                       AND (lease_owner IS NULL OR lease_owner = $4 OR lease_until_ms < $2)
                     ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, sink, idempotency_key, payload, attempts, created_ms",
                &[&sink, &now_ms, &(limit as i64), &holder.owner, &until],
            )?;
            let mut due: Vec<OutboxEntry> = rows
                .iter()
                .map(|row| OutboxEntry {
                    id: row.get(0),
                    sink: row.get(1),
                    idempotency_key: row.get(2),
                    payload: row.get(3),
                    attempts: row.get(4),
                    created_ms: row.get(5),
                })
                .collect();
            due.sort_by_key(|e| e.id);
            Ok(due)
        })
    }

    pub fn mark_delivered(&self, ids: &[i64], when: &str) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1, last_error = NULL, lease_owner = NULL WHERE id = ANY($1)",
                &[&ids, &when],
            )?;
            Ok(())
        })
    }

    pub fn mark_failed(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_ms: i64,
    ) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_ms = $3, lease_owner = NULL WHERE id = ANY($1)",
                &[&ids, &error, &next_attempt_ms],
            )?;
            Ok(())
        })
    }

    pub fn mark_dead(&self, ids: &[i64], when: &str) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "UPDATE outbox SET dead_at = $2, lease_owner = NULL WHERE id = ANY($1)",
                &[&ids, &when],
            )?;
            Ok(())
        })
    }

    pub fn sink_counts(&self) -> Result<Vec<SinkCounts>, HistoryError> {
        self.run(|client| {
            let rows = client.query(
                "SELECT sink,
                        COUNT(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL),
                        COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                        COUNT(*) FILTER (WHERE dead_at IS NOT NULL),
                        (SELECT last_error FROM outbox o2 WHERE o2.sink = outbox.sink AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1)
                 FROM outbox GROUP BY sink ORDER BY sink",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|row| SinkCounts {
                    sink: row.get(0),
                    pending: row.get(1),
                    delivered: row.get(2),
                    dead: row.get(3),
                    last_error: row.get(4),
                })
                .collect())
        })
    }
}
