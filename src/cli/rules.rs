//! The arguments `check` and `audit` share to choose their rules and targets: the config,
//! extra policies, and target environments (versions, snapshots, deployment settings), and
//! how they are loaded into one evaluation setting.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use solguard::config::{Config, DeploymentSettings, Environment, EvalSettings, Target};
use solguard::pipeline::Rules;

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Configuration file (policy settings, targets, waivers, report formats). Without it:
    /// $SOLGUARD_CONFIG, else ./solguard.toml if present, else the built-in defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder of extra policies; they override shipped ones by id.
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Target environment as NAME=VERSION, or a bare VERSION; repeatable.
    #[arg(long = "target", value_name = "NAME=VERSION")]
    targets: Vec<String>,
    /// Environment snapshot (JSON of the installed solutions, see README); repeatable. The
    /// environment is also a target (its platform version).
    #[arg(long = "environment", value_name = "FILE")]
    environments: Vec<PathBuf>,
    /// Deployment settings file (`pac solution create-settings` format) as ENVIRONMENT=FILE,
    /// or a bare FILE for the only target given; repeatable. `{solution}` in the file name
    /// (`settings/prod/{solution}.json`) gives one file per solution. Checked by the
    /// `deployment-settings` policy; values are never shown.
    #[arg(long = "deployment-settings", value_name = "[ENVIRONMENT=]FILE")]
    deployment_settings: Vec<String>,
}

impl RuleArgs {
    /// The config (or defaults), its rules (with `--policies` overriding the configured
    /// folder, compiled with the configured sandbox limits), and its evaluation settings with
    /// the command line's targets over the config's.
    pub fn load(&self) -> anyhow::Result<(Config, Rules, EvalSettings)> {
        let config = load_config(self.config.as_deref())?;
        let rules = Rules::load(&config, self.policies.as_deref())?;
        let mut settings = config.eval.clone();
        for text in &self.targets {
            settings.targets.add_target(parse_target(text)?);
        }
        for path in &self.environments {
            settings.targets.add_environment(Environment::load(path)?);
        }
        for text in &self.deployment_settings {
            let (name, path) = settings_for(text, &settings.targets.names())?;
            let files = DeploymentSettings::load_all(&path, &name)?;
            settings.targets.set_deployment_settings(&name, files);
        }
        Ok((config, rules, settings))
    }
}

/// The config file to use: `explicit` (`--config`), else `$SOLGUARD_CONFIG`, else
/// `./solguard.toml` when it exists; `None`: the built-in defaults.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("SOLGUARD_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = Path::new(LOCAL_CONFIG);
    local.is_file().then(|| local.to_path_buf())
}

/// The config file `solguard init` writes and commands find in the current folder.
pub const LOCAL_CONFIG: &str = "solguard.toml";

/// The config [`config_path`] names, or the defaults.
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match config_path(explicit) {
        Some(path) => Config::load(&path)?,
        None => Config::default(),
    })
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

/// `ENVIRONMENT=FILE`, or a bare `FILE` for the one target there is.
fn settings_for(text: &str, targets: &[String]) -> anyhow::Result<(String, PathBuf)> {
    if let Some((name, path)) = text.split_once('=') {
        if !name.trim().is_empty() && !Path::new(text).exists() {
            return Ok((name.trim().to_owned(), PathBuf::from(path)));
        }
    }
    match targets {
        [only] => Ok((only.clone(), PathBuf::from(text))),
        [] => bail!(
            "--deployment-settings {text:?}: name the environment it is for (ENVIRONMENT=FILE), or give one --target or --environment"
        ),
        _ => bail!(
            "--deployment-settings {text:?}: several targets are given ({}); name the one it is for (ENVIRONMENT=FILE)",
            targets.join(", ")
        ),
    }
}
