//! `solguard audit DIR...`: audits release repositories. Exit codes as for `check`; with
//! `--baseline`, only findings new since the previous audit count against `--fail-on`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use solguard::audit::{audit, AuditOptions, Order};
use solguard::eval::Evaluator;
use solguard::history::HistoryStore;

use super::check::{load_rules, today};
use super::output::{write_report, OutputArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// File modification time: the order releases were made.
    Mtime,
    /// Solution version.
    Version,
    /// File path.
    Path,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Repository folders (searched recursively for zips, unpacked solutions and bundles).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Order of releases within a solution's stream.
    #[arg(long, value_enum, default_value_t = OrderArg::Mtime)]
    order: OrderArg,
    /// Configuration file (policy settings, targets, waivers, report formats).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of extra policies; they override shipped ones by id.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Target environment as NAME=VERSION, or a bare VERSION; repeatable.
    #[arg(long = "target", value_name = "NAME=VERSION")]
    targets: Vec<String>,
    /// History database: caches parsed packages, so unchanged files are not read again.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Baseline database: findings of the previous audit of these folders are kept here; only
    /// new ones are listed as new and count against --fail-on.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Parallel readers (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let (config, policies, settings) = load_rules(
        args.config.as_deref(),
        args.policies.as_deref(),
        &args.targets,
    )?;
    let mut evaluator = Evaluator::new(&policies, settings, today());
    // One database for the cache and the baseline: --history, else the baseline file.
    let database = args.history.as_ref().or(args.baseline.as_ref());
    let store = database
        .map(|p| HistoryStore::open(p))
        .transpose()?
        .map(std::sync::Mutex::new);
    let repository = args.baseline.as_ref().map(|_| {
        let mut dirs: Vec<String> = args
            .dirs
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
    });
    let options = AuditOptions {
        order: match args.order {
            OrderArg::Mtime => Order::Mtime,
            OrderArg::Version => Order::Version,
            OrderArg::Path => Order::Path,
        },
        workers: args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)),
        baseline: repository,
    };
    let report = audit(&mut evaluator, &args.dirs, store.as_ref(), &options)?;
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
