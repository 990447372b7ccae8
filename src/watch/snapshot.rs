//! The daemon's rules as one immutable snapshot: the validated config and the compiled policy
//! set. Loading builds and validates everything before anything is swapped, and each package is
//! evaluated with the one snapshot it started with, so a reload never mixes old and new rules.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, WatchFolder, SHIPPED_CONFIG};
use crate::pipeline::{Rules, RulesError};

/// Where the config comes from: a file, or the shipped defaults with paths under a folder.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(PathBuf),
    Shipped { base: PathBuf },
}

impl ConfigSource {
    /// The file to watch for changes, if any.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Shipped { .. } => None,
        }
    }

    pub fn load(&self) -> Result<Config, ConfigError> {
        match self {
            Self::File(path) => Config::load(path),
            Self::Shipped { base } => {
                Config::parse_in(SHIPPED_CONFIG, Path::new("(shipped config.toml)"), base)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Policies(#[from] RulesError),
}

pub struct Snapshot {
    pub config: Config,
    pub policies: Rules,
}

impl Snapshot {
    /// Loads the config and compiles the policies it names.
    pub fn load(source: &ConfigSource) -> Result<Self, SnapshotError> {
        let config = source.load()?;
        // The daemon delivers alerts: every secret they need must be there.
        config.require_alert_secrets()?;
        // Compiled in full now: no package waits for a policy's first compilation.
        let policies = Rules::load(&config, None)?.compiled()?;
        Ok(Self { config, policies })
    }

    /// Per watch folder, the hash of everything that decides its verdicts (as its reports
    /// show it).
    pub fn policy_sets(&self) -> Vec<(String, String)> {
        self.config
            .watches
            .iter()
            .map(|w| {
                (
                    w.name.clone(),
                    self.policies.policy_set(&self.config.eval_for(w)),
                )
            })
            .collect()
    }

    pub fn watch(&self, name: &str) -> Option<&WatchFolder> {
        self.config.watches.iter().find(|w| w.name == name)
    }
}
