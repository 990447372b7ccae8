//! `solguard policy list | explain ID | test [DIR]`: what the policies are, what each checks,
//! and whether they still find what their test cases expect.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use solguard::config::Config;
use solguard::pipeline::{run_cases, CaseFile, Rules};
use solguard::policy::extract_shipped;
use solguard::report::write_case_junit;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the policies: id, default severity, title, origin.
    List(ListArgs),
    /// Print a policy's metadata and description.
    Explain(ExplainArgs),
    /// Run the test cases kept beside the policies (`<id>.tests.toml`).
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Folder of extra policies; they override shipped ones by id.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The policy id.
    id: String,
    #[arg(long)]
    policies: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Folder with policies and their test cases; the shipped policies when omitted.
    dir: Option<PathBuf>,
    /// Also write the results as JUnit XML.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Configuration file: its sandbox limits (the policy time budget) apply to the cases.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The config for sandbox limits (defaults without one), never its policies folder: the folder
/// to test is named on the command line.
fn limits_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = super::rules::load_config(path)?;
    config.policies_dir = None;
    Ok(config)
}

pub fn run(command: &PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::List(args) => list(args),
        PolicyCommand::Explain(args) => explain(args),
        PolicyCommand::Test(args) => test(args),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let rules = Rules::load(&Config::default(), args.policies.as_deref())?;
    let policies = rules.policies();
    let mut out = std::io::stdout().lock();
    if args.json {
        let metas: Vec<_> = policies
            .policies()
            .iter()
            .map(
                |p| serde_json::json!({ "meta": p.meta, "origin": p.origin, "shipped": p.shipped }),
            )
            .collect();
        serde_json::to_writer_pretty(&mut out, &metas)?;
        writeln!(out)?;
    } else {
        for policy in policies.policies() {
            writeln!(
                out,
                "{:<28} {:<8} {}  ({})",
                policy.meta.id, policy.meta.severity, policy.meta.title, policy.origin
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `policy explain ID` is `solguard explain ID`: one description of rules and their codes.
fn explain(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    super::explain::run(&super::explain::ExplainArgs::of(
        &args.id,
        args.policies.clone(),
    ))
}

fn case_files(dir: &Path, origin_prefix: &str) -> anyhow::Result<Vec<CaseFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(policy_id) = name.strip_suffix(".tests.toml") else {
            continue;
        };
        files.push(CaseFile {
            origin: format!("{origin_prefix}{name}"),
            policy_id: policy_id.to_owned(),
            text: std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
            base: dir.to_path_buf(),
        });
    }
    files.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(files)
}

fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let config = limits_config(args.config.as_deref())?;
    let extracted;
    let (rules, dir, prefix) = match &args.dir {
        Some(dir) => (
            Rules::load(&config, Some(dir))?,
            dir.clone(),
            format!("{}/", dir.display()),
        ),
        None => {
            extracted = tempfile::tempdir()?;
            extract_shipped(extracted.path())?;
            (
                Rules::load(&config, None)?,
                extracted.path().to_path_buf(),
                "shipped:".to_owned(),
            )
        }
    };
    let policies = rules.policies();
    let files = case_files(&dir, &prefix)?;
    let today = time::OffsetDateTime::now_utc().date();
    let results = run_cases(policies, &files, today);
    let tested_layer = args.dir.is_none();
    let untested: Vec<String> = policies
        .policies()
        .iter()
        .filter(|p| p.shipped == tested_layer)
        .filter(|p| !results.iter().any(|r| r.policy == p.meta.id))
        .map(|p| p.meta.id.clone())
        .collect();
    let mut out = std::io::stdout().lock();
    for result in &results {
        if result.passed {
            writeln!(out, "ok   {}: {}", result.policy, result.name)?;
            continue;
        }
        writeln!(
            out,
            "FAIL {}: {} ({})",
            result.policy, result.name, result.origin
        )?;
        writeln!(out, "  expected: [{}]", result.expected.join(", "))?;
        writeln!(out, "  actual:   [{}]", result.actual.join(", "))?;
        if let Some(error) = &result.error {
            writeln!(out, "  error:    {error}")?;
        }
    }
    for id in &untested {
        writeln!(
            out,
            "warning: policy {id} has no test cases ({id}.tests.toml)"
        )?;
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    writeln!(
        out,
        "policy tests: {} passed, {failed} failed",
        results.len() - failed
    )?;
    if let Some(path) = &args.junit {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        write_case_junit(std::io::BufWriter::new(file), &results, &untested)?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
