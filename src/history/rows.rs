//! What both backends store and read alike: the rows as plain values, and their conversion
//! to and from the typed records (assessments, accepted releases, processed packages), so
//! the two backends differ only in their SQL.

use std::path::PathBuf;

use crate::assessment::{Assessment, AssessmentSummary};
use crate::diagnostic::Verdict;
use crate::eval::HistoryEntry;
use crate::package::{ExportTime, ManagedState, Package};

use super::AcceptedRelease;

/// A package the daemon has evaluated, by content hash: the summary of its assessment and the
/// report files written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub sha256: String,
    pub summary: AssessmentSummary,
    pub reports: Vec<String>,
    /// The watch folder it came from (`None` for rows from before it was recorded).
    pub watch: Option<String>,
    /// The daemon that evaluated it (`None` for rows from before several daemons could share
    /// a history).
    pub daemon: Option<String>,
}

/// An alert waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub sink: String,
    pub idempotency_key: String,
    /// The alert as JSON.
    pub payload: String,
    pub attempts: i64,
    /// Unix milliseconds when it was queued.
    pub created_ms: i64,
}

/// Outbox totals of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SinkCounts {
    pub sink: String,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub last_error: Option<String>,
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 text of a time, as stored.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A stored RFC 3339 time; rows written before times were typed may hold anything, and read
/// as the Unix epoch rather than failing the whole history.
pub fn parse_rfc3339(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn managed_state(text: &str) -> ManagedState {
    match text {
        "managed" => ManagedState::Managed,
        "both" => ManagedState::Both,
        _ => ManagedState::Unmanaged,
    }
}

fn export_time(text: Option<String>) -> Option<ExportTime> {
    text.and_then(|t| serde_json::from_value(serde_json::Value::String(t)).ok())
}

/// A stored model snapshot, read back.
pub(super) fn snapshot_package(json: &str) -> Result<Package, serde_json::Error> {
    let mut package: Package = serde_json::from_str(json)?;
    package.solution_version = crate::package::SolutionVersion::parse(&package.version).ok();
    Ok(package)
}

/// The columns of a `releases` row that are encoded from the assessment and model.
pub(super) struct ReleaseText {
    pub findings: String,
    pub snapshot: String,
    pub exported_at: Option<String>,
    pub checked_at: String,
}

impl ReleaseText {
    pub fn of(assessment: &Assessment, package: &Package) -> Result<Self, serde_json::Error> {
        let exported_at = package
            .exported_at
            .map(serde_json::to_value)
            .transpose()?
            .and_then(|v| v.as_str().map(str::to_owned));
        Ok(Self {
            findings: serde_json::to_string(&assessment.findings)?,
            snapshot: serde_json::to_string(package)?,
            exported_at,
            checked_at: rfc3339(assessment.checked_at),
        })
    }
}

/// A `releases` row as stored, without its snapshot.
pub(super) struct ReleaseRow {
    pub sha256: Option<String>,
    pub path: String,
    pub unique_name: String,
    pub version: String,
    pub publisher: String,
    pub managed: String,
    pub verdict: String,
    pub accepted: bool,
    pub findings: String,
    pub checked_at: String,
    pub policy_set: String,
    pub exported_at: Option<String>,
    pub patch_of: Option<String>,
    pub previous_version: Option<String>,
}

/// The columns [`ReleaseRow`] reads, in order.
pub(super) const RELEASE_COLUMNS: &str = "sha256, path, unique_name, version, publisher, managed, verdict, accepted, findings, checked_at, policy_set, exported_at, patch_of, previous_version";

impl ReleaseRow {
    pub fn into_assessment(self) -> Result<Assessment, serde_json::Error> {
        Ok(Assessment {
            path: PathBuf::from(self.path),
            unique_name: Some(self.unique_name),
            version: Some(self.version),
            managed: Some(managed_state(&self.managed)),
            publisher: Some(self.publisher),
            exported_at: export_time(self.exported_at),
            patch_of: self.patch_of,
            sha256: self.sha256,
            verdict: Verdict::from_stored(&self.verdict),
            accepted: self.accepted,
            previous_version: self.previous_version,
            findings: serde_json::from_str(&self.findings)?,
            // Recorded releases are read back as lineage, not re-judged per environment.
            environments: Vec::new(),
            data_loss: Vec::new(),
            stream: None,
            checked_at: parse_rfc3339(&self.checked_at),
            policy_set: self.policy_set,
        })
    }
}

/// The columns [`AcceptedRow`] reads, in order.
pub(super) const ACCEPTED_COLUMNS: &str =
    "id, unique_name, version, publisher, managed, sha256, checked_at, exported_at, patch_of";

/// An accepted release as the lineage lists it.
pub(super) struct AcceptedRow {
    pub id: i64,
    pub unique_name: String,
    pub version: String,
    pub publisher: String,
    pub managed: String,
    pub sha256: Option<String>,
    pub checked_at: String,
    pub exported_at: Option<String>,
    pub patch_of: Option<String>,
}

impl From<AcceptedRow> for AcceptedRelease {
    fn from(row: AcceptedRow) -> Self {
        AcceptedRelease {
            id: row.id,
            unique_name: row.unique_name,
            entry: HistoryEntry {
                version: row.version,
                publisher: row.publisher,
                managed: managed_state(&row.managed),
                sha256: row.sha256,
                when: parse_rfc3339(&row.checked_at),
                exported_at: export_time(row.exported_at).map(|t| t.0),
                patch_of: row.patch_of,
            },
        }
    }
}

/// The columns [`ProcessedRow`] reads and writes, in order.
pub(super) const PROCESSED_COLUMNS: &str = "sha256, path, unique_name, version, verdict, accepted, policy_set, reports, processed_at, previous_version, managed, watch, daemon";

/// A `processed` row as stored.
pub(super) struct ProcessedRow {
    pub sha256: String,
    pub path: String,
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub verdict: String,
    pub accepted: bool,
    pub policy_set: String,
    pub reports: String,
    pub processed_at: String,
    pub previous_version: Option<String>,
    pub managed: Option<String>,
    pub watch: Option<String>,
    pub daemon: Option<String>,
}

impl ProcessedRow {
    /// The row a record writes.
    pub fn of(record: &super::ProcessedRecord<'_>) -> Result<Self, serde_json::Error> {
        let assessment = record.assessment;
        Ok(Self {
            sha256: record.sha256.to_owned(),
            path: assessment.path.display().to_string(),
            unique_name: assessment.unique_name.clone(),
            version: assessment.version.clone(),
            verdict: assessment.verdict.as_str().to_owned(),
            accepted: assessment.accepted,
            policy_set: assessment.policy_set.clone(),
            reports: serde_json::to_string(record.reports)?,
            processed_at: rfc3339(assessment.checked_at),
            previous_version: assessment.previous_version.clone(),
            managed: assessment.managed.map(|m| m.as_str().to_owned()),
            watch: Some(record.watch.to_owned()),
            daemon: record.daemon.map(str::to_owned),
        })
    }

    pub fn into_processed(self) -> Result<Processed, serde_json::Error> {
        Ok(Processed {
            summary: AssessmentSummary {
                path: self.path,
                unique_name: self.unique_name,
                version: self.version,
                previous_version: self.previous_version,
                managed: self.managed.map(|m| managed_state(&m)),
                sha256: Some(self.sha256.clone()),
                verdict: Verdict::from_stored(&self.verdict),
                accepted: self.accepted,
                checked_at: parse_rfc3339(&self.processed_at),
                policy_set: self.policy_set,
                exported_at: None,
                patch_of: None,
                alarms: Vec::new(),
            },
            sha256: self.sha256,
            reports: serde_json::from_str(&self.reports)?,
            watch: self.watch,
            daemon: self.daemon,
        })
    }
}

/// Verdict counts in the order the dashboard shows them, from `(verdict, count)` rows.
pub(super) fn verdict_counts(
    rows: impl IntoIterator<Item = (String, i64)>,
) -> [(Verdict, usize); 3] {
    let mut counts = [(Verdict::Pass, 0), (Verdict::Warn, 0), (Verdict::Fail, 0)];
    for (verdict, count) in rows {
        let verdict = Verdict::from_stored(&verdict);
        if let Some(slot) = counts.iter_mut().find(|(v, _)| *v == verdict) {
            slot.1 += count.max(0) as usize;
        }
    }
    counts
}
