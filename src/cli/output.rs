//! Report output shared by `check` and `audit`: formats, report folder, output file, quiet
//! terminal output and the fail-on threshold.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use solguard::config::{Config, ReleaseOrder};
use solguard::diagnostic::Severity;
use solguard::report::{render, write_atomic, RenderOptions, Report, ReportFormat};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format: human, json, markdown, html, sarif or junit; repeatable with --report-dir.
    #[arg(long = "format", value_name = "FORMAT", value_parser = parse_format)]
    pub formats: Vec<ReportFormat>,
    /// Write one report file per format here (solguard-report.json or solguard-audit.json, .md, .html,
    /// .sarif, .junit.xml; formats from --format, else the config's [report] formats) and print the
    /// human summary.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Write the report to this file instead of standard output (one format only).
    #[arg(long, conflicts_with = "report_dir")]
    pub output: Option<PathBuf>,
    /// Human output: only packages that did not pass.
    #[arg(long, short)]
    pub quiet: bool,
    /// Fail (exit 1) when a finding has this severity or worse (JUnit reports fail the same).
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

impl OutputArgs {
    /// Whether `report` fails the run: an unwaived finding at or above `--fail-on`.
    pub fn failed(&self, worst: Option<Severity>) -> bool {
        match (self.fail_on.threshold(), worst) {
            (Some(threshold), Some(worst)) => worst >= threshold,
            _ => false,
        }
    }
}

fn parse_format(text: &str) -> Result<ReportFormat, String> {
    ReportFormat::parse(text).ok_or_else(|| {
        format!("unknown format {text:?} (expected human, json, markdown, html, sarif or junit)")
    })
}

/// Release order of packages checked together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Export time read from the zip entries; ties by version (the default).
    Exported,
    /// Solution version.
    Version,
    /// File modification time (a git checkout or a copy resets it).
    Mtime,
    /// File path.
    Path,
}

impl From<OrderArg> for ReleaseOrder {
    fn from(order: OrderArg) -> Self {
        match order {
            OrderArg::Exported => Self::Exported,
            OrderArg::Version => Self::Version,
            OrderArg::Mtime => Self::Mtime,
            OrderArg::Path => Self::Path,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            Self::Error => Some(Severity::Error),
            Self::Warning => Some(Severity::Warning),
            Self::Info => Some(Severity::Info),
            Self::Never => None,
        }
    }
}

/// Colours for people at a terminal, unless `NO_COLOR` is set (https://no-color.org).
fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `report` as the options say; `name` is the report files' base name.
pub fn write_report(
    args: &OutputArgs,
    config: &Config,
    report: &Report,
    name: &str,
) -> anyhow::Result<()> {
    let options = RenderOptions {
        fail_on: args.fail_on.threshold(),
        color: false,
        quiet: args.quiet,
    };
    if let Some(dir) = &args.report_dir {
        let formats = if args.formats.is_empty() {
            config.report_formats.clone()
        } else {
            args.formats.clone()
        };
        for format in formats.into_iter().filter(|f| *f != ReportFormat::Human) {
            let path = dir.join(format!("{name}.{}", format.extension()));
            let bytes = render(report, format, &options)?;
            write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        let human = RenderOptions {
            color: use_color(),
            ..options
        };
        std::io::stdout()
            .lock()
            .write_all(&render(report, ReportFormat::Human, &human)?)?;
        return Ok(());
    }
    let format = match args.formats.as_slice() {
        [] => ReportFormat::Human,
        [one] => *one,
        _ => bail!("several --format values need --report-dir DIR (one file per format)"),
    };
    match &args.output {
        Some(path) => {
            let bytes = render(report, format, &options)?;
            write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            let options = RenderOptions {
                color: format == ReportFormat::Human && use_color(),
                ..options
            };
            std::io::stdout()
                .lock()
                .write_all(&render(report, format, &options)?)?;
        }
    }
    Ok(())
}
