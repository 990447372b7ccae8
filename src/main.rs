//! The `solguard` command: parses arguments and dispatches to the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
