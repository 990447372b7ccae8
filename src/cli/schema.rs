//! `solguard schema report | config`: JSON Schemas (draft 2020-12) generated from the types:
//! the JSON report every command writes, and `config.toml` read as TOML data.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The JSON report (`--format json`, the daemon's report files).
    Report,
    /// The config file, as TOML data.
    Config,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    kind: SchemaKind,
}

pub fn run(args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    let schema = match args.kind {
        SchemaKind::Report => solguard::report::report_schema(),
        SchemaKind::Config => solguard::config::config_schema(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema).context("writing the schema")?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}
