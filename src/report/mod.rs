//! Reports: the outcome of a run (`check`, `watch`, later `audit`) as one serializable model,
//! rendered for pipelines (JSON, SARIF, JUnit) and for people (terminal text, Markdown, a
//! self-contained HTML page). Rendering is pure; the only file I/O is the atomic write of a
//! finished report.

mod annotations;
mod charts;
mod dashboard;
mod files;
mod format;
mod html;
mod human;
mod index;
mod junit;
mod markdown;
mod sarif;

use serde::{Deserialize, Serialize};

pub use crate::assessment::{Assessment, AssessmentSummary, ReleaseAlarm, StreamPosition};
use crate::config::ReleaseOrder;
use crate::diagnostic::{Finding, RuleInfo, Severity, Verdict};
use crate::package::{ExportTime, ManagedState};

pub use annotations::{write_azure, write_github};
pub use charts::{bar_chart, release_timeline, timeline_legend, Bar, CHART_STYLE};
pub use dashboard::{render_dashboard, AuditLine, Dashboard, OutboxLine};
pub use files::{report_stem, report_stem_with, write_atomic, STEM_HASH_DIGITS};
pub use format::{render, RenderOptions, ReportFormat};
pub use html::write_html;
pub use human::write_human;
pub use index::{write_index, IndexEntry};
pub use junit::{write_case_junit, write_junit};
pub use markdown::write_markdown;
pub use sarif::write_sarif;

/// The outcome of one policy test case (`solguard policy test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub policy: String,
    pub name: String,
    pub origin: String,
    pub passed: bool,
    /// `rule/code[ severity]`, sorted.
    pub expected: Vec<String>,
    pub actual: Vec<String>,
    /// Set when the case itself is broken (bad file, unreadable fixture).
    pub error: Option<String>,
}

/// The JSON Schema (draft 2020-12) of the JSON report every command writes.
pub fn report_schema() -> schemars::Schema {
    let mut schema = schemars::schema_for!(Report);
    schema.insert("title".into(), "solguard JSON report".into());
    schema
}

/// Version of the JSON report schema; bumped when a field changes meaning, form or disappears
/// (3: a waiver's `expires` is an ISO date, no longer `[year, day of year]`).
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: String,
    /// Identifies the exact policies, engine version and rule settings used.
    pub policy_set: String,
    pub packages: Vec<Assessment>,
    /// Findings about the run rather than one package (e.g. unused waivers).
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// Every rule the run applied: enabled policies and solguard's own checks.
    #[serde(default)]
    pub rules: Vec<RuleInfo>,
    /// Per solution in the report, its releases oldest first (from the history database when
    /// there is one, else from this run), accepted and rejected.
    #[serde(default)]
    pub history: Vec<SolutionHistory>,
    /// In an audit: every release stream of the repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<Stream>,
    /// In an audit: counters, skipped files, new findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSummary>,
}

/// The releases of one solution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SolutionHistory {
    pub unique_name: String,
    pub releases: Vec<AssessmentSummary>,
}

/// One solution's releases in a repository, in release order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stream {
    pub unique_name: String,
    pub releases: Vec<StreamRelease>,
}

/// One release in an audited stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StreamRelease {
    pub version: String,
    /// Export time read from the zip (null for unpacked trees).
    pub exported_at: Option<ExportTime>,
    pub file: String,
    pub publisher: String,
    pub managed: ManagedState,
    /// For a patch: the solution it patches.
    pub patch_of: Option<String>,
    /// Platform version it was exported from (`ImportExportXml version`).
    pub platform_version: Option<String>,
    pub verdict: Verdict,
    pub accepted: bool,
    /// Codes of its counting findings, `rule/code`.
    pub findings: Vec<String>,
}

impl StreamRelease {
    /// The stream entry of an assessed package (None for one that could not be read).
    pub fn of(assessment: &Assessment, platform_version: Option<String>) -> Option<Self> {
        Some(Self {
            version: assessment.version.clone()?,
            exported_at: assessment.exported_at,
            file: assessment.path.display().to_string(),
            publisher: assessment.publisher.clone().unwrap_or_default(),
            managed: assessment.managed?,
            patch_of: assessment.patch_of.clone(),
            platform_version,
            verdict: assessment.verdict,
            accepted: assessment.accepted,
            findings: assessment
                .counting()
                .map(|f| format!("{}/{}", f.rule, f.code))
                .collect(),
        })
    }
}

/// What an audit read and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditSummary {
    /// How releases were put in order.
    pub order: ReleaseOrder,
    /// Files considered (zips, unpacked folders, solutions inside bundles).
    pub files: usize,
    /// Packages read (parsed) in this run.
    pub read: usize,
    /// Packages whose model came from the cache, not read again.
    pub cached: usize,
    /// Files that are not solution packages, with what they are.
    pub skipped: Vec<Skipped>,
    /// With a baseline: findings not seen by the previous audit.
    pub new_findings: Option<Vec<NewFinding>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewFinding {
    pub path: String,
    pub solution: Option<String>,
    pub version: Option<String>,
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// How a package fits an environment, in the words of the package x environment matrix.
pub fn fit_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "fits",
        Verdict::Warn => "warns",
        Verdict::Fail => "fails",
    }
}

/// The package's verdict against `environment`, if it was judged against it.
pub fn fit_in(package: &Assessment, environment: &str) -> Option<Verdict> {
    package
        .environments
        .iter()
        .find(|e| e.name == environment)
        .map(|e| e.verdict)
}

impl Report {
    pub fn new(policy_set: String, packages: Vec<Assessment>, findings: Vec<Finding>) -> Self {
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
            rules: Vec::new(),
            history: Vec::new(),
            streams: Vec::new(),
            audit: None,
        }
    }

    pub fn with_rules(mut self, rules: Vec<RuleInfo>) -> Self {
        self.rules = rules;
        self
    }

    pub fn with_history(mut self, history: Vec<SolutionHistory>) -> Self {
        self.history = history;
        self
    }

    /// The rule with `id`, if the run described it.
    pub fn rule(&self, id: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Up to `limit` counting findings, most severe first (package order within a severity).
    pub fn worst_findings(&self, limit: usize) -> Vec<(&Assessment, &Finding)> {
        let mut all: Vec<(&Assessment, &Finding)> = self
            .packages
            .iter()
            .flat_map(|p| {
                p.findings
                    .iter()
                    .filter(|f| f.counts())
                    .map(move |f| (p, f))
            })
            .collect();
        all.sort_by_key(|(_, f)| std::cmp::Reverse(f.severity));
        all.truncate(limit);
        all
    }

    /// The target environments packages were judged against, in order of first appearance.
    pub fn environments(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for verdict in self.packages.iter().flat_map(|p| &p.environments) {
            if !names.contains(&verdict.name.as_str()) {
                names.push(&verdict.name);
            }
        }
        names
    }

    /// The worst verdict of any package (`pass` for an empty report).
    pub fn verdict(&self) -> Verdict {
        self.packages
            .iter()
            .map(|p| p.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }

    /// The run's figures as CI step outputs (`verdict`, `packages`, `errors`, `warnings`,
    /// `infos`, `waived`), for GitHub's `$GITHUB_OUTPUT` and Azure's output variables.
    pub fn step_outputs(&self) -> Vec<(&'static str, String)> {
        let s = &self.summary;
        vec![
            ("verdict", self.verdict().to_string()),
            ("packages", s.packages.to_string()),
            ("errors", s.errors.to_string()),
            ("warnings", s.warnings.to_string()),
            ("infos", s.infos.to_string()),
            ("waived", s.waived.to_string()),
        ]
    }

    /// How the run ends for a CI task with `fail_on`: `fail` when a finding reaches it, `warn`
    /// when errors or warnings remain below it, else `pass`.
    pub fn outcome(&self, fail_on: Option<Severity>) -> Verdict {
        match (self.worst(), fail_on) {
            (Some(worst), Some(threshold)) if worst >= threshold => Verdict::Fail,
            (Some(Severity::Error | Severity::Warning), _) => Verdict::Warn,
            _ => Verdict::Pass,
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
