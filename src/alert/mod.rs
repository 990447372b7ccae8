//! Alerts: what a governance team is told about a package that did not pass, and the sinks that
//! carry it. Building an alert is pure; sinks only deliver a finished alert.
//!
//! Every alert carries an idempotency key derived from the package bytes and its findings, so
//! the same findings on the same bytes are one alert however often they are evaluated, and a
//! receiver can drop a repeated delivery.

mod cards;
mod deliver;
mod email;
mod file;
mod http;
mod sink;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Route;
use crate::diagnostic::{Finding, Verdict};
use crate::report::Assessment;

pub use cards::{email_body, slack_message, teams_card};
pub use deliver::{deliver_due, Backoff, Outbox, RoundOutcome, Unrecorded};
pub use file::FileSink;
pub use sink::Sink;

/// One alert about one package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub idempotency_key: String,
    /// Where the package came from (the watch folder's name, or the command).
    pub source: String,
    pub path: String,
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub sha256: Option<String>,
    pub verdict: Verdict,
    /// The findings that count against the verdict (waived ones are left out).
    pub findings: Vec<Finding>,
    /// Report files for the package.
    pub reports: Vec<String>,
    /// Hash of everything that decided the verdict, as in the reports.
    #[serde(default)]
    pub policy_set: String,
    /// RFC 3339 time the package was evaluated.
    pub created_at: String,
}

/// The alert for `package`, or `None` when it passed.
pub fn alert_for(
    package: &Assessment,
    content_hash: &str,
    source: &str,
    reports: &[String],
    created_at: &str,
) -> Option<Alert> {
    if package.verdict == Verdict::Pass {
        return None;
    }
    let findings: Vec<Finding> = package
        .findings
        .iter()
        .filter(|f| f.counts())
        .cloned()
        .collect();
    Some(Alert {
        idempotency_key: idempotency_key(content_hash, &findings),
        source: source.to_owned(),
        path: package.path.display().to_string(),
        unique_name: package.unique_name.clone(),
        version: package.version.clone(),
        sha256: Some(content_hash.to_owned()),
        verdict: package.verdict,
        findings,
        reports: reports.to_vec(),
        policy_set: package.policy_set.clone(),
        created_at: created_at.to_owned(),
    })
}

/// Hex key over the package bytes' hash and the findings' rule, code and message, in a stable
/// order: equal for the same findings on the same bytes, different when a finding changes.
pub fn idempotency_key(content_hash: &str, findings: &[Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| format!("{}\u{1f}{}\u{1f}{}", f.rule, f.code, f.message))
        .collect();
    lines.sort();
    let mut hasher = Sha256::new();
    hasher.update(content_hash.as_bytes());
    for line in lines {
        hasher.update(b"\n");
        hasher.update(line.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

/// The alert as `sink` should see it: only the findings its route takes (by rule and minimum
/// severity), with a key for those findings; `None` when nothing is left for it or the
/// solution is filtered out.
pub fn route(alert: &Alert, route: &Route) -> Option<Alert> {
    if !route.solutions.is_empty() {
        let name = alert.unique_name.as_deref().unwrap_or("");
        let options = glob::MatchOptions {
            case_sensitive: false,
            ..glob::MatchOptions::new()
        };
        if !route
            .solutions
            .iter()
            .any(|p| p.matches_with(name, options))
        {
            return None;
        }
    }
    let findings: Vec<Finding> = alert
        .findings
        .iter()
        .filter(|f| f.severity >= route.min_severity)
        .filter(|f| route.rules.is_empty() || route.rules.contains(&f.rule))
        .cloned()
        .collect();
    if findings.is_empty() {
        return None;
    }
    let sha = alert.sha256.as_deref().unwrap_or(&alert.path);
    Some(Alert {
        idempotency_key: idempotency_key(sha, &findings),
        findings,
        ..alert.clone()
    })
}

/// Outbox rows `(sink, idempotency key, alert JSON)` for `alert`: one per sink whose route
/// takes it, carrying what that route lets through.
pub fn outbox_rows(
    alert: &Alert,
    sinks: &[crate::config::AlertSinkConfig],
) -> Result<Vec<(String, String, String)>, serde_json::Error> {
    let mut rows = Vec::new();
    for sink in sinks {
        if let Some(routed) = route(alert, &sink.route) {
            rows.push((
                sink.name.clone(),
                routed.idempotency_key.clone(),
                serde_json::to_string(&routed)?,
            ));
        }
    }
    Ok(rows)
}

/// What one delivery carries: one alert, or a digest of several, under one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub idempotency_key: String,
    pub alerts: Vec<Alert>,
}

impl Delivery {
    /// A digest of `alerts`, keyed by their keys together.
    pub fn digest(alerts: Vec<Alert>) -> Self {
        let mut hasher = Sha256::new();
        for alert in &alerts {
            hasher.update(alert.idempotency_key.as_bytes());
        }
        Self {
            idempotency_key: format!("digest-{}", hex::encode(&hasher.finalize()[..12])),
            alerts,
        }
    }

    pub fn is_digest(&self) -> bool {
        self.alerts.len() != 1 || self.idempotency_key.starts_with("digest-")
    }

    /// The JSON a webhook receives: the alert itself, or `{idempotency_key, digest, alerts}`.
    pub fn json(&self) -> serde_json::Value {
        match self.alerts.as_slice() {
            [one] if !self.is_digest() => serde_json::to_value(one).unwrap_or_default(),
            alerts => serde_json::json!({
                "idempotency_key": self.idempotency_key,
                "digest": true,
                "alerts": alerts,
            }),
        }
    }
}

/// A delivery that failed. The outbox keeps it as the sink's last error and tries again with
/// backoff: the daemon logs it and goes on.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{sink}: cannot deliver alert: {source}")]
    Delivery {
        sink: String,
        #[source]
        source: DeliveryError,
    },
}

/// Why one delivery to one sink failed. Never carries a webhook URL (chat URLs hold their
/// token) or a password.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(String),
    #[error("cannot encode the alert: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the email: {0}")]
    Message(String),
    #[error("SMTP {host}: {reason}")]
    Smtp { host: String, reason: String },
}
