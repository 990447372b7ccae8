//! `--color auto|always|never`, for every command: `auto` colours a terminal unless
//! `NO_COLOR` is set (https://no-color.org), and `CLICOLOR_FORCE` colours even a pipe
//! (https://bixense.com/clicolors).

use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records the choice of this run (once, at start).
pub fn choose(choice: ColorChoice) {
    let _first = CHOICE.set(choice);
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether output to a stream that `is_terminal` (or not) gets colours.
fn wanted(is_terminal: bool) -> bool {
    match CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("CLICOLOR_FORCE") => true,
        ColorChoice::Auto => is_terminal && !set("NO_COLOR"),
    }
}

/// Whether standard output gets colours.
pub fn enabled() -> bool {
    wanted(std::io::stdout().is_terminal())
}

/// Whether the log on standard error gets colours.
pub fn for_log() -> bool {
    wanted(std::io::stderr().is_terminal())
}
