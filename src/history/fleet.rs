//! Sharing work among daemons on one history: leases (a claim on a package's evaluation, a
//! scheduled audit's run or an alert's delivery, held until it is done or its lease ends, so a
//! daemon that dies leaves work another takes over) and heartbeats (which daemons are alive).

use std::time::Duration;

use serde::Serialize;

/// Who holds leases, and for how long each holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The daemon's name, unique among those sharing the history.
    pub owner: String,
    pub lease: Duration,
}

impl Holder {
    pub fn new(owner: impl Into<String>, lease: Duration) -> Self {
        Self {
            owner: owner.into(),
            lease,
        }
    }

    /// When a lease taken at `now_ms` ends.
    pub fn until(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.lease.as_millis().min(i64::MAX as u128) as i64)
    }
}

/// A piece of work claimed by name: a package's content hash under a policy set, or a
/// scheduled audit under its schedule tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimKey {
    pub key: String,
    pub scope: String,
}

impl ClaimKey {
    /// The evaluation of the bytes `sha256` under `policy_set`.
    pub fn package(sha256: &str, policy_set: &str) -> Self {
        Self {
            key: format!("sha256:{sha256}"),
            scope: policy_set.to_owned(),
        }
    }

    /// The turn of a solution family (a solution and its patches, by lower-case name):
    /// its releases are assessed one at a time across daemons, each seeing those before.
    pub fn family(name: &str) -> Self {
        Self {
            key: format!("family:{name}"),
            scope: String::new(),
        }
    }

    /// The run of scheduled audit `name` at schedule tick `tick` (RFC 3339).
    pub fn audit(name: &str, tick: &str) -> Self {
        Self {
            key: format!("audit:{name}"),
            scope: tick.to_owned(),
        }
    }
}

/// A claim held: the proof a holder shows when it commits the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken {
    pub key: ClaimKey,
    pub owner: String,
}

/// What claiming work found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This holder does the work now.
    Acquired(ClaimToken),
    /// The work is done (by whichever daemon).
    Done,
    /// Another daemon holds it until `until_ms` (Unix milliseconds).
    HeldBy { owner: String, until_ms: i64 },
}

/// One daemon's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaemonBeat {
    pub name: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub policy_set: String,
    pub started_at: String,
    /// Unix milliseconds of its last heartbeat.
    pub last_seen_ms: i64,
}
