//! The report formats and one entry point that renders a report in any of them.

use std::io;

use super::Report;
pub use crate::config::ReportFormat;
use crate::diagnostic::Severity;

/// How to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Findings at or above this severity fail (JUnit failures); `None`: nothing fails.
    pub fail_on: Option<Severity>,
    /// ANSI colours in human output.
    pub color: bool,
    /// Human output: only packages that did not pass, and their warnings and errors.
    pub quiet: bool,
    /// Annotations: paths are shown relative to this folder (the CI workspace).
    pub base: Option<std::path::PathBuf>,
    /// Azure annotations end with `##vso[task.complete]`.
    pub azure_complete: bool,
    /// Markdown cut to fit a comment says where the whole report is.
    pub full_report: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            fail_on: Some(Severity::Error),
            color: false,
            quiet: false,
            base: None,
            azure_complete: false,
            full_report: None,
        }
    }
}

/// Renders `report` as `format`.
pub fn render(
    report: &Report,
    format: ReportFormat,
    options: &RenderOptions,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        ReportFormat::Human => super::write_human(&mut out, report, options)?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            out.push(b'\n');
        }
        ReportFormat::Markdown => super::write_markdown(&mut out, report, options)?,
        ReportFormat::Github => super::write_github(&mut out, report, options)?,
        ReportFormat::Azure => super::write_azure(&mut out, report, options)?,
        ReportFormat::Html => super::write_html(&mut out, report)?,
        ReportFormat::Sarif => super::write_sarif(&mut out, report)?,
        ReportFormat::Junit => super::write_junit(&mut out, report, options.fail_on)?,
    }
    Ok(out)
}
