//! `solguard check PATH...`: the CI gate. Evaluates packages in argument order (a folder's
//! packages in release order, export time by default) and exits 0 when nothing reaches
//! `--fail-on`, 1 when something does (a policy that fails at run time is a `policy-error`
//! finding, so it counts as an error), 2 on usage, config or policy loading errors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use solguard::alert::{alert_for, deliver_due, outbox_rows};
use solguard::config::Config;
use solguard::history::HistoryStore;

use super::history::HistoryArg;
use solguard::package::{discover, ReadAhead, ReadLimits, ReadResult};
use solguard::pipeline::check_packages;
use solguard::pipeline::order::{names_a_folder, read_in_order};
use solguard::report::Report;

use super::output::{write_report, OrderArg, OutputArgs};
use super::rules::RuleArgs;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Packages (zip or unpacked folder) or folders to search for packages.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// History database (an SQLite file, or a postgres:// URL): previous releases are read from
    /// it and results recorded to it.
    #[arg(long, value_name = "FILE|URL")]
    history: Option<HistoryArg>,
    /// Release order of the packages found in a folder argument (packages named one by one
    /// keep argument order).
    #[arg(long, value_enum, default_value_t = OrderArg::Exported)]
    order: OrderArg,
    /// Send alerts for packages that did not pass through the config's [[alerts]] sinks. With
    /// --history, alerts are kept in its outbox: each is sent once, and one that could not be
    /// delivered is sent by the next run.
    #[arg(long)]
    alert: bool,
    #[command(flatten)]
    output: OutputArgs,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    // Packages named one by one are read while the policies compile; a folder's packages are
    // read in full first, to be put in release order.
    let packages: Box<dyn Iterator<Item = ReadResult>> = if names_a_folder(&args.paths) {
        Box::new(read_in_order(&args.paths, args.order.into(), &ReadLimits::default()).into_iter())
    } else {
        Box::new(ReadAhead::start(
            discover(&args.paths),
            ReadLimits::default(),
        ))
    };
    let (config, rules, settings) = args.rules.load()?;
    let mut pipeline = rules.pipeline(settings);
    // While the first package is read.
    pipeline.prepare();
    let store = args.history.as_ref().map(HistoryArg::open).transpose()?;
    if args.alert && config.alerts.is_empty() {
        bail!("--alert needs [[alerts]] sinks in the config (--config FILE)");
    }
    if args.alert {
        config.require_alert_secrets()?;
    }
    let report = check_packages(&mut pipeline, packages, store.as_ref())?;
    write_report(&args.output, &config, &report, "solguard-report")?;
    if args.alert {
        let store = match store {
            Some(store) => store,
            None => HistoryStore::open(&std::path::Path::new(":memory:").into())?,
        };
        send_alerts(&config, &report, store)?;
    }
    let failed = args.output.failed(report.worst());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Queues an alert per package that did not pass for every sink whose route takes it, then
/// makes one delivery round per sink; failures are reported and stay queued in the outbox.
fn send_alerts(config: &Config, report: &Report, store: HistoryStore) -> anyhow::Result<()> {
    let now = solguard::diagnostic::now_rfc3339();
    let mut rows = Vec::new();
    for package in &report.packages {
        let identity = package
            .sha256
            .clone()
            .unwrap_or_else(|| package.path.display().to_string());
        if let Some(alert) = alert_for(package, &identity, "check", &[], &now) {
            rows.extend(outbox_rows(&alert, &config.alerts)?);
        }
    }
    store.enqueue_alerts(&rows, &now)?;
    let store = std::sync::Mutex::new(store);
    let holder = solguard::history::Holder::new(
        format!("check-{}", std::process::id()),
        config.daemon.lease,
    );
    let unrecorded = solguard::alert::Unrecorded::default();
    let outbox = solguard::alert::Outbox {
        store: &store,
        holder: &holder,
        unrecorded: &unrecorded,
    };
    for sink in &config.alerts {
        let outcome = deliver_due(&outbox, sink, true)?;
        if let Some(error) = outcome.error {
            eprintln!(
                "warning: alerts to {}: {} delivered, {} not delivered ({error}); they stay queued",
                sink.name, outcome.delivered, outcome.failed
            );
        }
    }
    Ok(())
}
