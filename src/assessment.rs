//! One package's outcome, typed, in one place: which release it is, what it was compared with,
//! its findings and verdict, when and under which rules it was checked. The pipeline produces
//! it; every output derives from it: the report entry is the assessment itself, the history
//! record and the daemon's index and `/status` entries take its [`AssessmentSummary`], and
//! alerts are built from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::diagnostic::{Finding, Severity, Verdict};
use crate::package::{DataLoss, ExportTime, ManagedState, Package};

/// The outcome of evaluating one package in its lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assessment {
    pub path: PathBuf,
    /// Null when the package could not be read.
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub managed: Option<ManagedState>,
    pub publisher: Option<String>,
    /// Export time read from the zip entries (null for unpacked trees and unread packages).
    #[serde(default)]
    pub exported_at: Option<ExportTime>,
    /// For a patch: the unique name of the solution it patches.
    #[serde(default)]
    pub patch_of: Option<String>,
    pub sha256: Option<String>,
    pub verdict: Verdict,
    /// Whether it joined its solution's lineage (later releases are compared with it).
    pub accepted: bool,
    /// Version of the release it was compared with (same solution, same form).
    pub previous_version: Option<String>,
    pub findings: Vec<Finding>,
    /// The verdict against each target environment, in the order the targets are given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvironmentVerdict>,
    /// What upgrading from what the target holds would delete with its data.
    #[serde(default)]
    pub data_loss: Vec<DataLoss>,
    /// In an audit: where the package stands in its solution's release stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamPosition>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub checked_at: OffsetDateTime,
    /// Hash of everything that decided the verdict (policies, settings, targets, waivers).
    #[serde(default)]
    pub policy_set: String,
}

/// A package's verdict against one target environment: from the findings about that
/// environment and those about the package wherever it goes (fits, warns or fails there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnvironmentVerdict {
    pub name: String,
    pub verdict: Verdict,
}

/// A package's place in its release stream (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StreamPosition {
    pub solution: String,
    pub position: usize,
    pub of: usize,
}

/// What lists of packages show of an assessment (history rows, the daemon's index, `/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssessmentSummary {
    pub path: String,
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub previous_version: Option<String>,
    pub managed: Option<ManagedState>,
    pub sha256: Option<String>,
    pub verdict: Verdict,
    pub accepted: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub checked_at: OffsetDateTime,
    pub policy_set: String,
    /// Export time read from the zip entries, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<ExportTime>,
    /// For a patch: the solution it patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_of: Option<String>,
    /// What makes the release stand out in a timeline (a downgrade, a data-loss upgrade).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<ReleaseAlarm>,
}

/// Something about a release that a timeline marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseAlarm {
    /// Its version is lower than the release before it.
    Downgrade,
    /// Its managed upgrade deletes data.
    DataLoss,
}

impl ReleaseAlarm {
    pub fn label(self) -> &'static str {
        match self {
            Self::Downgrade => "downgrade",
            Self::DataLoss => "data loss",
        }
    }
}

impl Assessment {
    /// The assessment of `package` (read from `path`), not yet judged: [`Assessment::judged`]
    /// sets the findings and the verdict.
    pub fn of_package(path: PathBuf, package: &Package, policy_set: &str) -> Self {
        Self {
            unique_name: Some(package.unique_name.clone()),
            version: Some(package.version.clone()),
            managed: Some(package.managed),
            publisher: Some(package.publisher.unique_name.clone()),
            exported_at: package.exported_at,
            patch_of: package.parent.as_ref().map(|p| p.unique_name.clone()),
            sha256: package.source.sha256.clone(),
            ..Self::blank(path, policy_set)
        }
    }

    /// The assessment of a file that could not be read (or evaluated), with the findings that
    /// say why.
    pub fn unread(path: PathBuf, findings: Vec<Finding>, policy_set: &str) -> Self {
        Self::blank(path, policy_set).judged(findings)
    }

    /// An assessment of `path` that knows nothing of a package yet.
    fn blank(path: PathBuf, policy_set: &str) -> Self {
        Self {
            path,
            unique_name: None,
            version: None,
            managed: None,
            publisher: None,
            exported_at: None,
            patch_of: None,
            sha256: None,
            verdict: Verdict::Pass,
            accepted: false,
            previous_version: None,
            findings: Vec::new(),
            environments: Vec::new(),
            data_loss: Vec::new(),
            stream: None,
            checked_at: OffsetDateTime::now_utc(),
            policy_set: policy_set.to_owned(),
        }
    }

    /// Sets the findings and what they add up to: the verdict, and whether the release is
    /// accepted (nothing unwaived is an error; unread packages never are).
    pub fn judged(mut self, findings: Vec<Finding>) -> Self {
        self.verdict = Verdict::of(&findings);
        self.accepted = self.unique_name.is_some() && crate::diagnostic::is_accepted(&findings);
        self.findings = findings;
        self
    }

    /// Sets the verdict against each of `environments` from the findings.
    pub fn judged_in(mut self, environments: &[String]) -> Self {
        self.environments = environments
            .iter()
            .map(|name| EnvironmentVerdict {
                name: name.clone(),
                verdict: Verdict::of_each(self.findings.iter().filter(|f| f.concerns(name))),
            })
            .collect();
        self
    }

    /// The findings that count against the verdict (no waiver covers them).
    pub fn counting(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.counts())
    }

    /// The worst unwaived severity, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.counting().map(|f| f.severity).max()
    }

    pub fn summary(&self) -> AssessmentSummary {
        AssessmentSummary {
            path: self.path.display().to_string(),
            unique_name: self.unique_name.clone(),
            version: self.version.clone(),
            previous_version: self.previous_version.clone(),
            managed: self.managed,
            sha256: self.sha256.clone(),
            verdict: self.verdict,
            accepted: self.accepted,
            checked_at: self.checked_at,
            policy_set: self.policy_set.clone(),
            exported_at: self.exported_at,
            patch_of: self.patch_of.clone(),
            alarms: self.alarms(),
        }
    }

    /// What a timeline marks about this release, from its counting findings (records read
    /// back from the history keep their findings, not their data-loss list).
    pub fn alarms(&self) -> Vec<ReleaseAlarm> {
        let mut alarms = Vec::new();
        if self.counting().any(|f| f.code == "downgrade") {
            alarms.push(ReleaseAlarm::Downgrade);
        }
        let deletes = !self.data_loss.is_empty()
            || self
                .counting()
                .any(|f| f.rule == "data-loss-risk" && f.severity == Severity::Error);
        if deletes {
            alarms.push(ReleaseAlarm::DataLoss);
        }
        alarms
    }
}
