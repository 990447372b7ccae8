//! The daemon's index of recent packages in its reports folder: `index.json` for tools and
//! `index.html` for people, newest first, each entry linking to the package's reports.

use std::io;
use std::path::Path;

use maud::{html, PreEscaped, DOCTYPE};
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
}

const STYLE: &str = "body{font:14px/1.5 system-ui,sans-serif;margin:24px;color:#101828}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaecf0}\
th{font-size:12px;color:#667085;text-transform:uppercase}.fail{color:#b42318;font-weight:600}\
.warn{color:#b54708;font-weight:600}.pass{color:#067647;font-weight:600}code{font:12px ui-monospace,monospace}";

/// Writes `index.html` then `index.json` into `dir` (atomically each): a tool that sees a new
/// `index.json` finds the page already up to date.
pub fn write_index(dir: &Path, entries: &[IndexEntry]) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "schema_version": super::SCHEMA_VERSION,
        "packages": entries,
    }))?;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "solguard: recent packages" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Recent packages" }
                table {
                    thead { tr { th { "Checked" } th { "Solution" } th { "Version" } th { "Verdict" } th { "File" } th { "Reports" } } }
                    tbody {
                        @for entry in entries {
                            tr {
                                td { (crate::history::rfc3339(entry.summary.checked_at)) }
                                td { (entry.summary.unique_name.clone().unwrap_or_else(|| "(unreadable)".into())) }
                                td { (entry.summary.version.clone().unwrap_or_default()) }
                                td class=(entry.summary.verdict.as_str()) { (entry.summary.verdict.as_str()) }
                                td { code { (entry.summary.path) } }
                                td {
                                    @for report in &entry.reports {
                                        a href=(report) { (report.rsplit('.').next().unwrap_or(report)) } " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    write_atomic(&dir.join("index.html"), page.into_string().as_bytes())?;
    write_atomic(&dir.join("index.json"), &json)
}
