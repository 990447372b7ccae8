//! `solguard check PATH...`: the CI gate. Evaluates packages in argument order and exits 0 when
//! nothing reaches `--fail-on`, 1 when something does, 2 on usage, config or policy errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use solguard::config::Config;
use solguard::eval::{Evaluator, Target};
use solguard::history::HistoryStore;
use solguard::package::discover;
use solguard::policy::Severity;
use solguard::report::{write_human, Report};
use solguard::run::check_packages;

use super::Format;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Packages (zip or unpacked folder) or folders to search for packages.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Configuration file (policy settings, targets, waivers).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of extra policies; they override shipped ones by id.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Target environment as NAME=VERSION, or a bare VERSION; repeatable.
    #[arg(long = "target", value_name = "NAME=VERSION")]
    targets: Vec<String>,
    /// History database (SQLite): previous releases are read from it and results recorded to it.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Fail (exit 1) when a finding has this severity or worse.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            Self::Error => Some(Severity::Error),
            Self::Warning => Some(Severity::Warning),
            Self::Info => Some(Severity::Info),
            Self::Never => None,
        }
    }
}

/// `NAME=VERSION`, or a bare `VERSION` that names itself.
fn parse_target(text: &str) -> anyhow::Result<Target> {
    let (name, version) = match text.split_once('=') {
        Some((name, version)) => (name.trim(), version.trim()),
        None => (text.trim(), text.trim()),
    };
    if name.is_empty() {
        bail!("--target {text:?}: the name is empty");
    }
    solguard::package::SolutionVersion::parse(version)
        .with_context(|| format!("--target {text:?}"))?;
    Ok(Target {
        name: name.to_owned(),
        version: version.to_owned(),
    })
}

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let policies = config.load_policies(args.policies.as_deref())?;
    let mut settings = config.eval.clone();
    for text in &args.targets {
        let target = parse_target(text)?;
        settings.targets.retain(|t| t.name != target.name);
        settings.targets.push(target);
    }
    let mut evaluator = Evaluator::new(&policies, settings, today());
    let packages = discover(&args.paths);
    let store = args
        .history
        .as_deref()
        .map(HistoryStore::open)
        .transpose()?;
    let report = check_packages(&mut evaluator, &packages, store.as_ref())?;
    write_report(args, &report)?;
    let failed = match (args.fail_on.threshold(), report.worst()) {
        (Some(threshold), Some(worst)) => worst >= threshold,
        _ => false,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn write_report(args: &CheckArgs, report: &Report) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut buffer, report)?;
            buffer.push(b'\n');
        }
        Format::Human => write_human(&mut buffer, report)?,
    }
    match &args.output {
        Some(path) => solguard::report::write_atomic(path, &buffer)
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&buffer)?,
    }
    Ok(())
}
