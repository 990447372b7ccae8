//! Claims and heartbeats in PostgreSQL. A claim is one row per piece of work: inserted by the
//! first daemon to ask, taken over only when its lease has ended and it is not done, marked
//! done in the transaction that commits the work. The row lock of `INSERT ... ON CONFLICT`
//! makes two daemons asking at once see one winner.

use super::{Failure, PostgresStore, Queries};
use crate::history::{unix_ms, Claim, ClaimKey, ClaimToken, DaemonBeat, HistoryError, Holder};

/// Marks the claim done on `client`; `false` when another holder took it over. A claim whose
/// row is gone (a server restored from a backup) is done by whoever commits first.
pub(super) fn finish_claim_on(
    client: &mut impl Queries,
    token: &ClaimToken,
) -> Result<bool, Failure> {
    let changed = client.execute(
        "INSERT INTO leases (key, scope, owner, expires_ms, done) VALUES ($1, $2, $3, 0, TRUE)
         ON CONFLICT (key, scope) DO UPDATE SET done = TRUE, owner = EXCLUDED.owner
         WHERE NOT leases.done AND (leases.owner = EXCLUDED.owner OR leases.expires_ms < $4)",
        &[&token.key.key, &token.key.scope, &token.owner, &unix_ms()],
    )?;
    Ok(changed == 1)
}

impl PostgresStore {
    pub fn claim(&self, key: &ClaimKey, holder: &Holder) -> Result<Claim, HistoryError> {
        let now = unix_ms();
        self.run(|client| {
            let taken = client.execute(
                "INSERT INTO leases (key, scope, owner, expires_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key, scope) DO UPDATE SET owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms
                 WHERE NOT leases.done AND (leases.owner = EXCLUDED.owner OR leases.expires_ms < $5)",
                &[&key.key, &key.scope, &holder.owner, &holder.until(now), &now],
            )?;
            if taken == 1 {
                return Ok(Claim::Acquired(ClaimToken {
                    key: key.clone(),
                    owner: holder.owner.clone(),
                }));
            }
            let row = client.query_one(
                "SELECT owner, expires_ms, done FROM leases WHERE key = $1 AND scope = $2",
                &[&key.key, &key.scope],
            )?;
            Ok(if row.get::<_, bool>(2) {
                Claim::Done
            } else {
                Claim::HeldBy {
                    owner: row.get(0),
                    until_ms: row.get(1),
                }
            })
        })
    }

    pub fn finish_claim(&self, token: &ClaimToken) -> Result<bool, HistoryError> {
        self.run(|client| finish_claim_on(client, token))
    }

    pub fn release_claim(&self, token: &ClaimToken) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "UPDATE leases SET expires_ms = 0 WHERE key = $1 AND scope = $2 AND owner = $3 AND NOT done",
                &[&token.key.key, &token.key.scope, &token.owner],
            )?;
            Ok(())
        })
    }

    pub fn end_all_leases(&self) -> Result<(), HistoryError> {
        self.run(|client| {
            client.batch_execute(
                "UPDATE leases SET expires_ms = 0 WHERE NOT done;
                 UPDATE outbox SET lease_owner = NULL WHERE lease_owner IS NOT NULL;",
            )?;
            Ok(())
        })
    }

    pub fn heartbeat(&self, beat: &DaemonBeat) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute(
                "INSERT INTO daemons (name, host, pid, version, policy_set, started_at, last_seen_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
                     version = EXCLUDED.version, policy_set = EXCLUDED.policy_set,
                     started_at = EXCLUDED.started_at, last_seen_ms = EXCLUDED.last_seen_ms",
                &[
                    &beat.name,
                    &beat.host,
                    &i64::from(beat.pid),
                    &beat.version,
                    &beat.policy_set,
                    &beat.started_at,
                    &beat.last_seen_ms,
                ],
            )?;
            Ok(())
        })
    }

    pub fn leave(&self, name: &str) -> Result<(), HistoryError> {
        self.run(|client| {
            client.execute("DELETE FROM daemons WHERE name = $1", &[&name])?;
            Ok(())
        })
    }

    pub fn daemons_since(&self, since_ms: i64) -> Result<Vec<DaemonBeat>, HistoryError> {
        self.run(|client| {
            let rows = client.query(
                "SELECT name, host, pid, version, policy_set, started_at, last_seen_ms FROM daemons
                 WHERE last_seen_ms >= $1 ORDER BY name",
                &[&since_ms],
            )?;
            Ok(rows
                .iter()
                .map(|row| DaemonBeat {
                    name: row.get(0),
                    host: row.get(1),
                    pid: u32::try_from(row.get::<_, i64>(2)).unwrap_or_default(),
                    version: row.get(3),
                    policy_set: row.get(4),
                    started_at: row.get(5),
                    last_seen_ms: row.get(6),
                })
                .collect())
        })
    }
}
