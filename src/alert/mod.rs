//! Alerts: what a governance team is told about a package that did not pass, and the sinks that
//! carry it. Building an alert is pure; sinks only deliver a finished alert.
//!
//! Every alert carries an idempotency key derived from the package bytes and its findings, so
//! the same findings on the same bytes are one alert however often they are evaluated, and a
//! receiver can drop a repeated delivery.

mod file;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::eval::{Finding, Verdict};
use crate::report::PackageReport;

pub use file::FileSink;

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
    /// RFC 3339 time the package was evaluated.
    pub created_at: String,
}

/// The alert for `package`, or `None` when it passed.
pub fn alert_for(
    package: &PackageReport,
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

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{sink}: cannot deliver alert: {message}")]
    Delivery { sink: String, message: String },
}
