//! The daemon's index of recent packages in its reports folder: `index.json` for tools and
//! `index.html` for people (the dashboard as a static snapshot), newest first, each entry
//! linking to the package's reports.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomic;
use crate::assessment::AssessmentSummary;

/// One package in the index: its assessment's summary and its report files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    #[serde(flatten)]
    pub summary: AssessmentSummary,
    /// Report file names, relative to the reports folder.
    pub reports: Vec<String>,
    /// The watch folder it came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// The daemon that evaluated it, when daemons share the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<String>,
}

/// Writes `index.html` (the dashboard as a static snapshot, links relative) then
/// `index.json` into `dir` (atomically each): a tool that sees a new `index.json` finds the
/// page already up to date.
pub fn write_index(dir: &Path, dashboard: &super::Dashboard) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "schema_version": super::SCHEMA_VERSION,
        "packages": dashboard.recent,
    }))?;
    write_atomic(
        &dir.join("index.html"),
        super::render_dashboard(dashboard).as_bytes(),
    )?;
    write_atomic(&dir.join("index.json"), &json)
}
