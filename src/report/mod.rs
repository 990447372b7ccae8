//! Reports: the outcome of a run (`check`, `watch`, later `audit`) as one serializable model,
//! rendered as JSON for pipelines, or as text or Markdown for people. Rendering is pure; the
//! only file I/O is the atomic write of a finished report.

mod files;
mod human;
mod junit;
mod markdown;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::eval::{Finding, Verdict};
use crate::policy::Severity;

pub use files::{report_stem, write_atomic};
pub use human::write_human;
pub use junit::write_case_junit;
pub use markdown::write_markdown;

/// Version of the JSON report schema; bumped when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    /// Identifies the exact policies, engine version and rule settings used.
    pub policy_set: String,
    pub packages: Vec<PackageReport>,
    /// Findings about the run rather than one package (e.g. unused waivers).
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageReport {
    pub path: PathBuf,
    /// Null when the package could not be read.
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub managed: Option<String>,
    pub sha256: Option<String>,
    pub verdict: Verdict,
    /// Whether it became the `previous` release for later packages of the same solution.
    pub accepted: bool,
    pub previous_version: Option<String>,
    pub findings: Vec<Finding>,
}

impl PackageReport {
    /// The entry for a package that could not be read (or evaluated), with the findings that
    /// say why.
    pub fn unread(path: PathBuf, findings: Vec<Finding>) -> Self {
        Self {
            path,
            unique_name: None,
            version: None,
            managed: None,
            sha256: None,
            verdict: Verdict::of(&findings),
            accepted: false,
            previous_version: None,
            findings,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub packages: usize,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    /// Unwaived findings by severity.
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub waived: usize,
}

impl Report {
    pub fn new(policy_set: String, packages: Vec<PackageReport>, findings: Vec<Finding>) -> Self {
        let mut summary = Summary {
            packages: packages.len(),
            ..Summary::default()
        };
        for package in &packages {
            match package.verdict {
                Verdict::Pass => summary.passed += 1,
                Verdict::Warn => summary.warned += 1,
                Verdict::Fail => summary.failed += 1,
            }
        }
        let all = packages.iter().flat_map(|p| &p.findings).chain(&findings);
        for finding in all {
            if !finding.counts() {
                summary.waived += 1;
                continue;
            }
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
        Self {
            schema_version: SCHEMA_VERSION,
            tool: concat!("solguard ", env!("CARGO_PKG_VERSION")).into(),
            policy_set,
            packages,
            findings,
            summary,
        }
    }

    /// The worst unwaived severity in the report, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.packages
            .iter()
            .flat_map(|p| &p.findings)
            .chain(&self.findings)
            .filter(|f| f.counts())
            .map(|f| f.severity)
            .max()
    }
}
