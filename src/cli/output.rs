//! Report output shared by `check` and `audit`: formats, report folder, output file, quiet
//! terminal output and the fail-on threshold.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use solguard::config::{Config, ReleaseOrder};
use solguard::diagnostic::Severity;
use solguard::report::{render, write_atomic, RenderOptions, Report, ReportFormat};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format: human, json, markdown, html, sarif, junit, github (workflow-command
    /// annotations) or azure (logging commands); repeatable with --report-dir (annotations are
    /// then printed, the other formats written to the folder).
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
    /// With `GITHUB_STEP_SUMMARY` set (GitHub Actions): append the Markdown report to the job
    /// summary.
    #[arg(long)]
    pub step_summary: bool,
    /// Azure annotations end with `##vso[task.complete result=...]` (Failed when --fail-on is
    /// reached, SucceededWithIssues with errors or warnings below it).
    #[arg(long)]
    pub azure_complete: bool,
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
        let names: Vec<&str> = ReportFormat::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format {text:?} (expected {})", names.join(", "))
    })
}

/// Formats that are commands for the CI service reading standard output, not files.
fn is_annotation(format: ReportFormat) -> bool {
    matches!(format, ReportFormat::Github | ReportFormat::Azure)
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

/// Writes `report` as the options say; `name` is the report files' base name. In GitHub
/// Actions (`GITHUB_OUTPUT` set) the run's figures become step outputs, and with
/// `--step-summary` the Markdown report joins the job summary.
pub fn write_report(
    args: &OutputArgs,
    config: &Config,
    report: &Report,
    name: &str,
) -> anyhow::Result<()> {
    let workspace = std::env::var_os("GITHUB_WORKSPACE")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let options = RenderOptions {
        fail_on: args.fail_on.threshold(),
        color: false,
        quiet: args.quiet,
        base: workspace,
        azure_complete: args.azure_complete,
        full_report: whole_report(args, config, name),
    };
    write_formats(args, config, report, name, &options)?;
    write_step_outputs(args, report, &options)?;
    Ok(())
}

/// The formats written into `--report-dir`: those given, else the config's.
fn folder_formats(args: &OutputArgs, config: &Config) -> Vec<ReportFormat> {
    if args.formats.is_empty() {
        config.report_formats.clone()
    } else {
        args.formats.clone()
    }
}

/// Where a cut Markdown report says the whole one is: the HTML (else JSON) file this run
/// writes into `--report-dir`, if it writes one.
fn whole_report(args: &OutputArgs, config: &Config, name: &str) -> Option<String> {
    let dir = args.report_dir.as_ref()?;
    let formats = folder_formats(args, config);
    let whole = [ReportFormat::Html, ReportFormat::Json]
        .into_iter()
        .find(|f| formats.contains(f))?;
    Some(
        dir.join(format!("{name}.{}", whole.extension()))
            .display()
            .to_string(),
    )
}

fn write_formats(
    args: &OutputArgs,
    config: &Config,
    report: &Report,
    name: &str,
    options: &RenderOptions,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(dir) = &args.report_dir {
        let formats = folder_formats(args, config);
        let mut printed = false;
        for format in formats
            .iter()
            .copied()
            .filter(|f| *f != ReportFormat::Human)
        {
            let bytes = render(report, format, options)?;
            if is_annotation(format) {
                stdout.write_all(&bytes)?;
                printed = true;
                continue;
            }
            let path = dir.join(format!("{name}.{}", format.extension()));
            write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        if !printed || formats.contains(&ReportFormat::Human) {
            let human = RenderOptions {
                color: super::color::enabled(),
                ..options.clone()
            };
            stdout.write_all(&render(report, ReportFormat::Human, &human)?)?;
        }
        return Ok(());
    }
    let format = match args.formats.as_slice() {
        [] => ReportFormat::Human,
        [one] => *one,
        _ => bail!("several --format values need --report-dir DIR (one file per format)"),
    };
    let bytes = render(
        report,
        format,
        &RenderOptions {
            color: format == ReportFormat::Human
                && args.output.is_none()
                && super::color::enabled(),
            ..options.clone()
        },
    )?;
    match &args.output {
        Some(path) => {
            write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => stdout.write_all(&bytes)?,
    }
    Ok(())
}

/// GitHub Actions: the figures to `$GITHUB_OUTPUT` (`name=value` lines), and with
/// `--step-summary` the Markdown report to `$GITHUB_STEP_SUMMARY`. Both files are appended to,
/// as other steps write them too.
fn write_step_outputs(
    args: &OutputArgs,
    report: &Report,
    options: &RenderOptions,
) -> anyhow::Result<()> {
    let append = |path: &std::path::Path, text: &[u8]| -> anyhow::Result<()> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(text))
            .with_context(|| format!("appending to {}", path.display()))
    };
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let mut lines = String::new();
        for (key, value) in report.step_outputs() {
            lines.push_str(&format!("{key}={value}\n"));
        }
        if let Some(dir) = &args.report_dir {
            // A path with a line break would end the value early: such a folder is not listed.
            let dir = dir.display().to_string();
            if !dir.contains(['\n', '\r']) {
                lines.push_str(&format!("report-dir={dir}\n"));
            }
        }
        append(std::path::Path::new(&path), lines.as_bytes())?;
    }
    if args.step_summary {
        match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            Some(path) => {
                let markdown = render(report, ReportFormat::Markdown, options)?;
                append(std::path::Path::new(&path), &markdown)?;
            }
            None => eprintln!(
                "warning: --step-summary: GITHUB_STEP_SUMMARY is not set; no summary written"
            ),
        }
    }
    Ok(())
}
