//! The report formats and one entry point that renders a report in any of them.

use std::io;

use serde::{Deserialize, Serialize};

use super::Report;
use crate::policy::Severity;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Text for a terminal.
    Human,
    Json,
    Markdown,
    /// One self-contained page.
    Html,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
    /// JUnit XML, for CI test reporters.
    Junit,
}

impl ReportFormat {
    pub const ALL: [Self; 6] = [
        Self::Human,
        Self::Json,
        Self::Markdown,
        Self::Html,
        Self::Sarif,
        Self::Junit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Json => "json",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "md" => Some(Self::Markdown),
            _ => Self::ALL.into_iter().find(|f| f.name() == text),
        }
    }

    /// File-name extension of a report in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Human => "txt",
            Self::Json => "json",
            Self::Markdown => "md",
            Self::Html => "html",
            Self::Sarif => "sarif",
            Self::Junit => "junit.xml",
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Findings at or above this severity fail (JUnit failures); `None`: nothing fails.
    pub fail_on: Option<Severity>,
    /// ANSI colours in human output.
    pub color: bool,
    /// Human output: only packages that did not pass, and their warnings and errors.
    pub quiet: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            fail_on: Some(Severity::Error),
            color: false,
            quiet: false,
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
        ReportFormat::Markdown => super::write_markdown(&mut out, report)?,
        ReportFormat::Html => super::write_html(&mut out, report)?,
        ReportFormat::Sarif => super::write_sarif(&mut out, report)?,
        ReportFormat::Junit => super::write_junit(&mut out, report, options.fail_on)?,
    }
    Ok(out)
}
