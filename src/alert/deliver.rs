//! Delivery rounds over the outbox for one sink: alerts past the sink's maximum age are marked
//! dead, the rest are delivered oldest first (or, for a digest sink, together as one message
//! when the digest is due). A failure schedules the next attempt with exponential backoff and
//! jitter and ends the round, so a receiver that is down is not hammered.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{Alert, Delivery, Sink};
use crate::config::{AlertSinkConfig, DeliveryPolicy};
use crate::history::{unix_ms, HistoryError, HistoryStore, Holder, OutboxEntry};

/// Exponential backoff with ±25% jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    pub fn of(policy: &DeliveryPolicy) -> Self {
        Self {
            initial: policy.retry_initial,
            max: policy.retry_max,
        }
    }

    /// Delay before the attempt after `failures` failed ones; `unit` in [0, 1) picks the
    /// jitter.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << failures.min(20))
            .min(self.max);
        base.mul_f64(0.75 + unit.clamp(0.0, 1.0) * 0.5)
    }
}

/// A number in [0, 1) that differs per call (jitter; not for anything secret).
fn jitter_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
    pub error: Option<String>,
}

fn now_rfc3339() -> String {
    crate::diagnostic::now_rfc3339()
}

/// Alerts a receiver took whose delivery could not be recorded (the database went away right
/// after): kept in memory and recorded first thing in the next round, so this process never
/// sends them again. After the database was out of reach, a daemon waits [`RESUME_GRACE`]
/// before it leases alerts again, so another daemon's leases that ended during the outage are
/// left to their owner, which records its own deliveries first.
#[derive(Debug, Default)]
pub struct Unrecorded {
    marks: Mutex<std::collections::BTreeMap<i64, String>>,
    failed_at: Mutex<Option<std::time::Instant>>,
}

/// How long after its last failure to reach the database a daemon only records its own
/// deliveries (a round every second records them within this).
pub const RESUME_GRACE: Duration = Duration::from_secs(3);

impl Unrecorded {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<i64, String>> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn failed(&self) {
        *self
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(std::time::Instant::now());
    }

    fn resuming(&self) -> bool {
        self.failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < RESUME_GRACE)
    }

    /// Records the deliveries still unrecorded; they stay here when that fails again.
    fn record(&self, store: &Mutex<HistoryStore>) -> Result<(), HistoryError> {
        let pending: Vec<(i64, String)> =
            self.lock().iter().map(|(i, w)| (*i, w.clone())).collect();
        for (id, when) in pending {
            store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .mark_delivered(&[id], &when)?;
            self.lock().remove(&id);
        }
        Ok(())
    }
}

/// Where one delivery round works: the store and the holder of its leases (no other daemon on
/// a shared history delivers the same alerts meanwhile), and the deliveries not yet recorded.
pub struct Outbox<'a> {
    pub store: &'a Mutex<HistoryStore>,
    pub holder: &'a Holder,
    pub unrecorded: &'a Unrecorded,
}

/// Delivers what is due for `sink`. A digest sink sends only when `digest_due`.
pub fn deliver_due(
    outbox: &Outbox<'_>,
    sink: &AlertSinkConfig,
    digest_due: bool,
) -> Result<RoundOutcome, HistoryError> {
    let round = deliver_round(outbox, sink, digest_due);
    if round.is_err() {
        outbox.unrecorded.failed();
    }
    round
}

fn deliver_round(
    outbox: &Outbox<'_>,
    sink: &AlertSinkConfig,
    digest_due: bool,
) -> Result<RoundOutcome, HistoryError> {
    let (store, holder) = (outbox.store, outbox.holder);
    let lock = || store.lock().unwrap_or_else(PoisonError::into_inner);
    outbox.unrecorded.record(store)?;
    if outbox.unrecorded.resuming() {
        return Ok(RoundOutcome::default());
    }
    let now = unix_ms();
    let mut outcome = RoundOutcome::default();
    if sink.route.digest.is_some() && !digest_due {
        // Leasing them would only keep other daemons from a digest that is due for them.
        return Ok(outcome);
    }
    let due = lock().due_alerts(&sink.name, now, 500, holder)?;
    let max_age = sink.delivery.max_age.as_millis() as i64;
    let (expired, live): (Vec<OutboxEntry>, Vec<OutboxEntry>) =
        due.into_iter().partition(|e| now - e.created_ms > max_age);
    if !expired.is_empty() {
        let ids: Vec<i64> = expired.iter().map(|e| e.id).collect();
        lock().mark_dead(&ids, &now_rfc3339())?;
        outcome.dead = ids.len();
    }
    let mut parsed = Vec::with_capacity(live.len());
    for entry in live {
        match serde_json::from_str::<Alert>(&entry.payload) {
            Ok(alert) => parsed.push((entry, alert)),
            Err(error) => {
                lock().mark_failed(&[entry.id], &format!("unreadable alert: {error}"), i64::MAX)?;
                outcome.dead += 1;
            }
        }
    }
    if parsed.is_empty() {
        return Ok(outcome);
    }
    let backoff = Backoff::of(&sink.delivery);
    let deliverer = Sink { config: sink };
    let batches: Vec<(Vec<&OutboxEntry>, Delivery)> = if sink.route.digest.is_some() {
        if !digest_due {
            return Ok(outcome);
        }
        let alerts = parsed.iter().map(|(_, a)| a.clone()).collect();
        vec![(
            parsed.iter().map(|(e, _)| e).collect(),
            Delivery::digest(alerts),
        )]
    } else {
        parsed
            .iter()
            .map(|(entry, alert)| {
                (
                    vec![entry],
                    Delivery {
                        idempotency_key: entry.idempotency_key.clone(),
                        alerts: vec![alert.clone()],
                    },
                )
            })
            .collect()
    };
    for (entries, delivery) in batches {
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        match deliverer.deliver(&delivery) {
            Ok(()) => {
                let when = now_rfc3339();
                if let Err(error) = lock().mark_delivered(&ids, &when) {
                    outbox
                        .unrecorded
                        .lock()
                        .extend(ids.iter().map(|id| (*id, when.clone())));
                    return Err(error);
                }
                outcome.delivered += ids.len();
            }
            Err(error) => {
                let failures = entries.iter().map(|e| e.attempts).max().unwrap_or(0) as u32;
                let next = now + backoff.delay(failures, jitter_unit()).as_millis() as i64;
                let message = error.to_string();
                lock().mark_failed(&ids, &message, next)?;
                outcome.failed += ids.len();
                outcome.error = Some(message);
                break;
            }
        }
    }
    Ok(outcome)
}
