//! `solguard history [UNIQUE_NAME]`: the solutions in the history database with their accepted
//! and rejected releases.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use serde::Serialize;
use solguard::assessment::Assessment;
use solguard::diagnostic::{visible, Severity};
use solguard::history::{rfc3339, HistoryStore};

use super::Format;

/// Where `check --history` and the daemon keep the database unless told otherwise.
pub const DEFAULT_HISTORY: &str = "state/history.db";

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this solution (unique name, case-insensitive).
    unique_name: Option<String>,
    /// The history database.
    #[arg(long, default_value = DEFAULT_HISTORY)]
    history: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Serialize)]
struct Solution<'a> {
    unique_name: &'a str,
    releases: Vec<&'a Assessment>,
}

pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    if !args.history.is_file() {
        bail!(
            "no history database at {} (create one with `solguard check --history {} PATH...`)",
            args.history.display(),
            args.history.display()
        );
    }
    let store = HistoryStore::open(&args.history)?;
    let records = store.releases(args.unique_name.as_deref())?;
    let mut solutions: BTreeMap<String, Solution<'_>> = BTreeMap::new();
    for record in &records {
        let name = record.unique_name.as_deref().unwrap_or_default();
        solutions
            .entry(name.to_lowercase())
            .or_insert_with(|| Solution {
                unique_name: name,
                releases: Vec::new(),
            })
            .releases
            .push(record);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let list: Vec<&Solution<'_>> = solutions.values().collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        Format::Human => {
            if solutions.is_empty() {
                writeln!(out, "no releases recorded")?;
            }
            for solution in solutions.values() {
                let accepted = solution.releases.iter().filter(|r| r.accepted).count();
                writeln!(
                    out,
                    "{} ({} releases, {accepted} accepted)",
                    visible(solution.unique_name),
                    solution.releases.len()
                )?;
                for release in &solution.releases {
                    let errors = release
                        .findings
                        .iter()
                        .filter(|f| f.counts() && f.severity == Severity::Error)
                        .count();
                    writeln!(
                        out,
                        "  {:<14} {:<8} {:<4} {}  {}  {}{}",
                        visible(release.version.as_deref().unwrap_or_default()),
                        if release.accepted {
                            "accepted"
                        } else {
                            "rejected"
                        },
                        release.verdict.as_str(),
                        rfc3339(release.checked_at),
                        visible(release.publisher.as_deref().unwrap_or_default()),
                        visible(&release.path.display().to_string()),
                        if errors > 0 {
                            format!("  ({errors} errors)")
                        } else {
                            String::new()
                        }
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
