//! `solguard audit DIR...`: audits release repositories. Exit codes as for `check`; with
//! `--baseline`, only findings new since the previous audit count against `--fail-on`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use solguard::audit::{audit, AuditOptions, AuditStores, BaselineOptions};

use super::history::HistoryArg;
use super::output::{write_report, OrderArg, OutputArgs};
use super::rules::RuleArgs;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Repository folders (searched recursively for zips, unpacked solutions and bundles).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Order of releases within a solution's stream.
    #[arg(long, value_enum, default_value_t = OrderArg::Exported)]
    order: OrderArg,
    #[command(flatten)]
    rules: RuleArgs,
    /// History database (a file, or a postgres:// URL): caches parsed packages, so unchanged
    /// files are not read again.
    #[arg(long, value_name = "FILE|URL")]
    history: Option<HistoryArg>,
    /// Baseline database: the findings an earlier audit of these folders recorded. Only
    /// findings it lacks are listed as new and count against --fail-on. Works with or without
    /// --history (the two may be the same file).
    #[arg(long, value_name = "FILE|URL")]
    baseline: Option<HistoryArg>,
    /// Replace the baseline with this audit's findings. Without it the baseline never moves,
    /// so re-running a failing CI job fails again.
    #[arg(long, requires = "baseline")]
    update_baseline: bool,
    /// Parallel readers (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    output: OutputArgs,
}

/// The repository's identity in a baseline database: its folders, resolved and sorted.
fn repository_key(dirs: &[PathBuf]) -> String {
    let mut dirs: Vec<String> = dirs
        .iter()
        .map(|d| {
            std::fs::canonicalize(d)
                .unwrap_or_else(|_| d.clone())
                .display()
                .to_string()
        })
        .collect();
    dirs.sort();
    dirs.join("\n")
}

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let (config, rules, settings) = args.rules.load()?;
    let mut pipeline = rules.pipeline(settings);
    let open = |arg: &HistoryArg| arg.open().map(std::sync::Mutex::new);
    let cache = args.history.as_ref().map(open).transpose()?;
    let same_file = args.history.is_some() && args.history == args.baseline;
    let baseline_store = match &args.baseline {
        Some(path) if !same_file => Some(open(path)?),
        _ => None,
    };
    let stores = AuditStores {
        cache: cache.as_ref(),
        baseline: baseline_store
            .as_ref()
            .or(if same_file { cache.as_ref() } else { None }),
    };
    let options = AuditOptions {
        order: args.order.into(),
        workers: args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
        baseline: args.baseline.as_ref().map(|_| BaselineOptions {
            repository: repository_key(&args.dirs),
            update: args.update_baseline,
        }),
    };
    let report = audit(&mut pipeline, &args.dirs, stores, &options)?;
    write_report(&args.output, &config, &report, "solguard-audit")?;
    let worst = match report.audit.as_ref().and_then(|a| a.new_findings.as_ref()) {
        Some(new) => new.iter().map(|f| f.severity).max(),
        None => report.worst(),
    };
    Ok(if args.output.failed(worst) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
