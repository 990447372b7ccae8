//! Claims and heartbeats in SQLite. Only daemons on one machine can share an SQLite file, but
//! the daemon works the same way on both backends: it claims each package before evaluating it.

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::history::{unix_ms, Claim, ClaimKey, ClaimToken, DaemonBeat, HistoryError, Holder};

impl SqliteStore {
    pub fn claim(&self, key: &ClaimKey, holder: &Holder) -> Result<Claim, HistoryError> {
        let now = unix_ms();
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sqlite(e))?;
        let taken = tx
            .execute(
                "INSERT INTO leases (key, scope, owner, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key, scope) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
                 WHERE leases.done = 0 AND (leases.owner = excluded.owner OR leases.expires_ms < ?5)",
                params![key.key, key.scope, holder.owner, holder.until(now), now],
            )
            .map_err(|e| self.sqlite(e))?;
        let claim = if taken == 1 {
            Claim::Acquired(ClaimToken {
                key: key.clone(),
                owner: holder.owner.clone(),
            })
        } else {
            let (owner, until_ms, done): (String, i64, bool) = tx
                .query_row(
                    "SELECT owner, expires_ms, done FROM leases WHERE key = ?1 AND scope = ?2",
                    params![key.key, key.scope],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(|e| self.sqlite(e))?;
            if done {
                Claim::Done
            } else {
                Claim::HeldBy { owner, until_ms }
            }
        };
        tx.commit().map_err(|e| self.sqlite(e))?;
        Ok(claim)
    }

    /// Marks the claim done on `conn` (a transaction of the caller); `false` when another
    /// holder took it over.
    pub(super) fn finish_claim_on(
        &self,
        conn: &Connection,
        token: &ClaimToken,
    ) -> Result<bool, HistoryError> {
        let changed = conn
            .execute(
                "INSERT INTO leases (key, scope, owner, expires_ms, done) VALUES (?1, ?2, ?3, 0, 1)
                 ON CONFLICT (key, scope) DO UPDATE SET done = 1, owner = excluded.owner
                 WHERE leases.done = 0 AND (leases.owner = excluded.owner OR leases.expires_ms < ?4)",
                params![token.key.key, token.key.scope, token.owner, unix_ms()],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(changed == 1)
    }

    pub fn finish_claim(&self, token: &ClaimToken) -> Result<bool, HistoryError> {
        self.finish_claim_on(&self.conn, token)
    }

    pub fn release_claim(&self, token: &ClaimToken) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "UPDATE leases SET expires_ms = 0 WHERE key = ?1 AND scope = ?2 AND owner = ?3 AND done = 0",
                params![token.key.key, token.key.scope, token.owner],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    pub fn end_all_leases(&self) -> Result<(), HistoryError> {
        self.conn
            .execute_batch(
                "UPDATE leases SET expires_ms = 0 WHERE done = 0;
                 UPDATE outbox SET lease_owner = NULL WHERE lease_owner IS NOT NULL;",
            )
            .map_err(|e| self.sqlite(e))
    }

    pub fn heartbeat(&self, beat: &DaemonBeat) -> Result<(), HistoryError> {
        self.conn
            .execute(
                "INSERT INTO daemons (name, host, pid, version, policy_set, started_at, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                     version = excluded.version, policy_set = excluded.policy_set,
                     started_at = excluded.started_at, last_seen_ms = excluded.last_seen_ms",
                params![
                    beat.name,
                    beat.host,
                    beat.pid,
                    beat.version,
                    beat.policy_set,
                    beat.started_at,
                    beat.last_seen_ms
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    pub fn leave(&self, name: &str) -> Result<(), HistoryError> {
        self.conn
            .execute("DELETE FROM daemons WHERE name = ?1", [name])
            .map_err(|e| self.sqlite(e))?;
        Ok(())
    }

    pub fn daemons_since(&self, since_ms: i64) -> Result<Vec<DaemonBeat>, HistoryError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT name, host, pid, version, policy_set, started_at, last_seen_ms FROM daemons
                 WHERE last_seen_ms >= ?1 ORDER BY name",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([since_ms], |row| {
                Ok(DaemonBeat {
                    name: row.get(0)?,
                    host: row.get(1)?,
                    pid: row.get(2)?,
                    version: row.get(3)?,
                    policy_set: row.get(4)?,
                    started_at: row.get(5)?,
                    last_seen_ms: row.get(6)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))
    }
}
