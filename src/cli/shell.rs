//! `solguard completions SHELL` and `solguard man`: shell completion scripts and a roff manual
//! page, both generated from the same argument definitions as the parser, so they never drift.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    shell: Shell,
}

/// Prints the completion script for the shell (`solguard completions bash > /etc/bash_completion.d/solguard`).
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "solguard", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the manual page as roff (`solguard man > solguard.1`).
pub fn man() -> anyhow::Result<ExitCode> {
    let command = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command).render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
