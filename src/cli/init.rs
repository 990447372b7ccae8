//! `solguard init [DIR]`: a starting point for a governance repository: a commented config
//! (`solguard.toml`), and a `policies/` folder with one example policy and its test cases.
//! Existing files are never overwritten; what is already there is kept and said so.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to set up (created if missing); the current folder by default.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// What `init` writes, relative to the folder.
const FILES: [(&str, &str); 3] = [
    (
        super::rules::LOCAL_CONFIG,
        include_str!("init/solguard.toml"),
    ),
    (
        "policies/example-description.rhai",
        include_str!("init/example-description.rhai"),
    ),
    (
        "policies/example-description.tests.toml",
        include_str!("init/example-description.tests.toml"),
    ),
];

pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    for (relative, text) in FILES {
        let path = args.dir.join(relative);
        if write_new(&path, text)? {
            eprintln!("wrote {}", path.display());
        } else {
            eprintln!("kept {} (it exists)", path.display());
        }
    }
    eprintln!(
        "next: solguard check --config {} PATH, or solguard policy test {}",
        args.dir.join(super::rules::LOCAL_CONFIG).display(),
        args.dir.join("policies").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` unless something is there (created exclusively, so a file that
/// appears meanwhile is not overwritten either); whether it wrote.
fn write_new(path: &Path, text: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}
