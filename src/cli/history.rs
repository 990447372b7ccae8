//! `solguard history [UNIQUE_NAME]`: the solutions in the history database with their accepted
//! and rejected releases; `solguard history migrate --from A --to B`: the whole history moved
//! to another store (an SQLite file into PostgreSQL, typically).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand};

use serde::Serialize;
use solguard::assessment::Assessment;
use solguard::diagnostic::{visible, Severity};
use solguard::history::{migrate, rfc3339, HistoryLocation, HistoryStore};

use super::Format;

/// Where `check --history` and the daemon keep the database unless told otherwise.
pub const DEFAULT_HISTORY: &str = "state/history.db";

/// A history database named on the command line: a file or a PostgreSQL URL. Taken as text
/// and checked when used, so a bad URL is reported with its password masked (a parse error
/// at argument time would echo the argument whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryArg(String);

impl From<String> for HistoryArg {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl HistoryArg {
    pub fn location(&self) -> anyhow::Result<HistoryLocation> {
        Ok(self.0.parse::<HistoryLocation>()?)
    }

    /// Opens the store it names.
    pub fn open(&self) -> anyhow::Result<HistoryStore> {
        Ok(HistoryStore::open(&self.location()?)?)
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    /// Only this solution (unique name, case-insensitive).
    unique_name: Option<String>,
    /// The history database: an SQLite file, or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL", default_value = DEFAULT_HISTORY)]
    history: HistoryArg,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Copy a whole history into another, empty store (for example an SQLite file into
    /// PostgreSQL, so several daemons can share it). The source is only read; the copy is one
    /// transaction, checked row for row by count.
    Migrate {
        /// The history to copy (file or URL).
        #[arg(long, value_name = "FILE|URL")]
        from: HistoryArg,
        /// The empty history to copy into (file or URL; created and migrated if new).
        #[arg(long, value_name = "FILE|URL")]
        to: HistoryArg,
    },
}

fn migrate_history(from: &HistoryArg, to: &HistoryArg) -> anyhow::Result<ExitCode> {
    let (from, to) = (&from.location()?, &to.location()?);
    if from == to {
        bail!("--from and --to name the same history ({from})");
    }
    if let HistoryLocation::Sqlite(path) = from {
        if !path.is_file() {
            bail!("no history database at {}", path.display());
        }
    }
    let source = HistoryStore::open(from)?;
    source.verify()?;
    let target = HistoryStore::open(to)?;
    let counts = migrate(&source, &target)?;
    let mut out = std::io::stdout().lock();
    for count in &counts {
        writeln!(out, "{:<16} {:>8} rows", count.table, count.rows)?;
    }
    writeln!(out, "history copied from {from} to {to}")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Solution<'a> {
    unique_name: &'a str,
    releases: Vec<&'a Assessment>,
}

pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    if let Some(HistoryCommand::Migrate { from, to }) = &args.command {
        return migrate_history(from, to);
    }
    let location = args.history.location()?;
    if let HistoryLocation::Sqlite(path) = &location {
        if !path.is_file() {
            bail!(
                "no history database at {} (create one with `solguard check --history {} PATH...`)",
                path.display(),
                path.display()
            );
        }
    }
    let store = HistoryStore::open(&location)?;
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
