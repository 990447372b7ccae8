//! `solguard diff OLD NEW`: what an upgrade from OLD to NEW adds, removes and changes, with every
//! removal that deletes data flagged. OLD may be a release in the history database
//! (`NAME` for its last accepted release, or `NAME@VERSION`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use serde::Serialize;
use solguard::history::HistoryStore;
use solguard::package::{diff, read_package, ComponentDiff, Package};

use super::history::HistoryArg;
use super::Format;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older package (path), or with --history a stored release: NAME or NAME@VERSION.
    old: String,
    /// The newer package (path).
    new: PathBuf,
    /// History database (a file, or a postgres:// URL) to find OLD in when it is not a path.
    #[arg(long, value_name = "FILE|URL")]
    history: Option<HistoryArg>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Serialize)]
struct Side<'a> {
    unique_name: &'a str,
    version: &'a str,
    managed: &'a str,
}

#[derive(Serialize)]
struct DiffReport<'a> {
    old: Side<'a>,
    new: Side<'a>,
    changes: &'a ComponentDiff,
    /// What the upgrade would delete with its data.
    deletes_data: Vec<String>,
}

fn load_old(args: &DiffArgs) -> anyhow::Result<Package> {
    let path = Path::new(&args.old);
    if path.exists() || args.history.is_none() {
        return Ok(read_package(path)?);
    }
    let Some(history) = &args.history else {
        bail!("{} is not a package", args.old);
    };
    let history = history.location()?;
    let store = HistoryStore::open(&history)?;
    let found = match args.old.split_once('@') {
        Some((name, version)) => store.release(name, version)?,
        None => store.last_accepted(&args.old)?,
    };
    found.with_context(|| format!("{} is not in {history}", args.old))
}

pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let old = load_old(args)?;
    let new = read_package(&args.new)?;
    let changes = diff(&old, &new);
    let report = DiffReport {
        old: Side {
            unique_name: &old.unique_name,
            version: &old.version,
            managed: old.managed.as_str(),
        },
        new: Side {
            unique_name: &new.unique_name,
            version: &new.version,
            managed: new.managed.as_str(),
        },
        changes: &changes,
        deletes_data: changes
            .data_losses()
            .into_iter()
            .map(|l| l.detail)
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Human => write_human(&mut out, &report)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_human(out: &mut impl Write, report: &DiffReport<'_>) -> std::io::Result<()> {
    let c = report.changes;
    writeln!(
        out,
        "{} {} ({}) -> {} {} ({})",
        report.old.unique_name,
        report.old.version,
        report.old.managed,
        report.new.unique_name,
        report.new.version,
        report.new.managed
    )?;
    if c.is_empty() {
        writeln!(out, "  no component changes")?;
    }
    let flag = |deletes: bool| if deletes { "  DELETES DATA" } else { "" };
    for e in &c.entities_removed {
        writeln!(
            out,
            "  - table {} ({} custom columns){}",
            e.schema_name,
            e.custom_attributes,
            flag(e.deletes_data())
        )?;
    }
    for e in &c.entities_added {
        writeln!(out, "  + table {}", e.schema_name)?;
    }
    for a in &c.attributes_removed {
        writeln!(
            out,
            "  - column {}.{} ({}){}",
            a.entity,
            a.attribute,
            a.old_type.as_deref().unwrap_or("?"),
            flag(a.custom)
        )?;
    }
    for a in &c.attributes_added {
        writeln!(
            out,
            "  + column {}.{} ({})",
            a.entity,
            a.attribute,
            a.new_type.as_deref().unwrap_or("?")
        )?;
    }
    for a in &c.attribute_type_changes {
        writeln!(
            out,
            "  ~ column {}.{} type {} -> {}{}",
            a.entity,
            a.attribute,
            a.old_type.as_deref().unwrap_or("?"),
            a.new_type.as_deref().unwrap_or("?"),
            flag(true)
        )?;
    }
    for a in &c.attribute_length_changes {
        writeln!(
            out,
            "  ~ column {}.{} length {} -> {}",
            a.entity,
            a.attribute,
            a.old_max_length.unwrap_or(0),
            a.new_max_length.unwrap_or(0)
        )?;
    }
    for o in &c.option_values_removed {
        writeln!(
            out,
            "  - choice {} value {} '{}'{}",
            o.option_set,
            o.value,
            o.label.as_deref().unwrap_or(""),
            flag(o.custom)
        )?;
    }
    for o in &c.option_values_added {
        writeln!(
            out,
            "  + choice {} value {} '{}'",
            o.option_set,
            o.value,
            o.label.as_deref().unwrap_or("")
        )?;
    }
    for r in &c.relationships_removed {
        writeln!(out, "  - relationship {}", r.name)?;
    }
    for r in &c.relationships_added {
        writeln!(out, "  + relationship {}", r.name)?;
    }
    for r in &c.root_components_removed {
        writeln!(
            out,
            "  - {} {}",
            r.kind,
            r.schema_name.as_deref().or(r.id.as_deref()).unwrap_or("?")
        )?;
    }
    for r in &c.root_components_added {
        writeln!(
            out,
            "  + {} {}",
            r.kind,
            r.schema_name.as_deref().or(r.id.as_deref()).unwrap_or("?")
        )?;
    }
    if !report.deletes_data.is_empty() {
        writeln!(
            out,
            "An upgrade deletes: {}",
            report.deletes_data.join("; ")
        )?;
    }
    Ok(())
}
