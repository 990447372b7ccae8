//! Command-line interface: argument parsing, logging setup and dispatch to subcommands.
//! Exit codes: 0 success, 1 the command's check failed, 2 usage or input error.

mod audit;
mod check;
mod color;
mod diff;
mod environment;
mod explain;
mod history;
mod init;
mod inspect;
mod output;
mod policy;
mod rules;
mod schema;
mod shell;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Governs Microsoft Dataverse / Dynamics 365 solution packages.
#[derive(Debug, Parser)]
#[command(name = "solguard", version, about, propagate_version = true)]
struct Cli {
    /// Log format on standard error: `human`, or `json` (one object per line) for log shippers.
    /// The level is set with the SOLGUARD_LOG environment variable (e.g. `debug`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Colours: `auto` (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces them),
    /// `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = color::ColorChoice::Auto)]
    color: color::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read a solution package (zip or folder) and print its model.
    Inspect(inspect::InspectArgs),
    /// Evaluate policies on packages; exit 1 when findings reach --fail-on.
    Check(check::CheckArgs),
    /// Audit release repositories: every solution's release stream at once.
    Audit(audit::AuditArgs),
    /// Compare two packages component by component (what an upgrade deletes).
    Diff(diff::DiffArgs),
    /// List solutions and their accepted and rejected releases in the history database.
    History(history::HistoryArgs),
    /// Run the rules daemon on the configured drop folders (until SIGINT/SIGTERM, or --once).
    Watch(watch::WatchArgs),
    /// List, explain and test policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Save target environments' installed solutions for --environment.
    #[command(subcommand)]
    Environment(environment::EnvironmentCommand),
    /// Explain a rule or a finding code (`environment-fit/mode-conflict`, `waiver-expired`).
    Explain(explain::ExplainArgs),
    /// Write a starter config (solguard.toml) and an example policy with its test cases.
    Init(init::InitArgs),
    /// Print the JSON Schema of the JSON report or of the config file.
    Schema(schema::SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff).
    Man,
}

/// How a command prints its result: for people, or as JSON for pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    color::choose(cli.color);
    // The daemon tells what it does; one-shot commands only warn.
    let level = if matches!(cli.command, Command::Watch(_)) {
        "info"
    } else {
        "warn"
    };
    init_logging(level, cli.log_format);
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Policy(command) => policy::run(&command),
        Command::Environment(command) => environment::run(&command),
        Command::Diff(args) => diff::run(&args),
        Command::History(args) => history::run(&args),
        Command::Watch(args) => watch::run_watch(&args, cli.log_format == LogFormat::Human),
        Command::Completions(args) => shell::completions(&args),
        Command::Init(args) => init::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Man => shell::man(),
        Command::Schema(args) => schema::run(&args),
    };
    match result {
        Ok(code) => code,
        // `solguard inspect X | head`: the reader has all it wanted; nothing went wrong.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().map(|e| e.kind()) == pipe
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == pipe
    })
}

fn init_logging(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SOLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.with_ansi(color::for_log()).init(),
    }
}
