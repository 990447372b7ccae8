//! `solguard watch`: runs the rules daemon on the configured drop folders until SIGINT or
//! SIGTERM, or with `--once` processes what is there now and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use solguard::watch::{run, ConfigSource, StatusServer, WatchOptions};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Configuration file. Without it: $SOLGUARD_CONFIG, else `solguard.toml` or `config.toml`
    /// in the current folder if present, else the shipped defaults (folders `drop/`,
    /// `reports/`, `state/` here).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Process the packages in the folders now, then exit (for cron and tests).
    #[arg(long)]
    once: bool,
    /// Do not start the status server.
    #[arg(long, conflicts_with = "status")]
    no_status: bool,
    /// Status server address, overriding the config (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDRESS")]
    status: Option<SocketAddr>,
}

/// `human_summary`: print a closing line for people (not when logs are JSON lines).
pub fn run_watch(args: &WatchArgs, human_summary: bool) -> anyhow::Result<ExitCode> {
    let source = match super::rules::config_path(args.config.as_deref()) {
        Some(path) => ConfigSource::File(path),
        None if std::path::Path::new("config.toml").is_file() => {
            ConfigSource::File(PathBuf::from("config.toml"))
        }
        None => ConfigSource::Shipped {
            base: PathBuf::from("."),
        },
    };
    let status = match (args.no_status, args.status) {
        (true, _) => StatusServer::Off,
        (false, Some(address)) => StatusServer::At(address),
        (false, None) => StatusServer::Configured,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(run(WatchOptions {
        source,
        once: args.once,
        status,
    }));
    // Workers still running after the grace time are abandoned: their work is not recorded,
    // so it is redone at the next start.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let summary = summary?;
    if args.once && human_summary {
        eprintln!(
            "watch --once: {} evaluated, {} already seen, {} not complete yet, {} failed",
            summary.evaluated, summary.skipped, summary.incomplete, summary.failed
        );
    }
    // A package that could not be processed (disk, database) is not done: a cron job says so.
    Ok(if args.once && summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
