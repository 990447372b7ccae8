//! Settings as the config states them, typed: targets, per-rule settings, waivers, the release
//! order, report formats. The layers above read these; the config module fills them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{DeploymentSettings, Environment};
use crate::diagnostic::{Finding, Severity};

/// A configured target environment: policies compare packages against its platform version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub version: String,
}

/// Per-policy settings from the config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleSettings {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub params: toml::Table,
}

/// Target environments as a config section (`[targets.NAME]`) or the command line states
/// them: platform versions, environment snapshots, deployment settings files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub targets: Vec<Target>,
    /// Target environments as their snapshots show them (`context.environments`).
    pub environments: Vec<Environment>,
    /// Deployment settings per environment (`context.deployment_settings`).
    pub deployment_settings: Vec<DeploymentSettings>,
}

impl Targets {
    /// Adds or replaces the target of the same name.
    pub fn add_target(&mut self, target: Target) {
        self.targets.retain(|t| t.name != target.name);
        self.targets.push(target);
    }

    /// Adds an environment; it is a target too, replacing one of the same name.
    pub fn add_environment(&mut self, environment: Environment) {
        self.add_target(environment.target());
        self.environments.retain(|e| e.name != environment.name);
        self.environments.push(environment);
    }

    /// Adds the settings files of an environment (all for one path: a file, or those a
    /// `{solution}` pattern found), replacing those given before for the same environment.
    pub fn set_deployment_settings(&mut self, environment: &str, files: Vec<DeploymentSettings>) {
        self.deployment_settings.retain(|s| s.name != environment);
        self.deployment_settings.extend(files);
    }

    /// Everything in `other` over what is here, name by name.
    pub fn apply(&mut self, other: &Targets) {
        for target in &other.targets {
            self.add_target(target.clone());
        }
        for environment in &other.environments {
            self.environments.retain(|e| e.name != environment.name);
            self.environments.push(environment.clone());
        }
        let mut environments: Vec<&str> = Vec::new();
        for settings in &other.deployment_settings {
            if !environments.contains(&settings.name.as_str()) {
                environments.push(&settings.name);
            }
        }
        for environment in environments {
            let files = other
                .deployment_settings
                .iter()
                .filter(|s| s.name == environment)
                .cloned()
                .collect();
            self.set_deployment_settings(environment, files);
        }
    }

    /// The environments a package's fit is judged against, in the order given: every target,
    /// then settings files for environments that are no target.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.targets.iter().map(|t| t.name.clone()).collect();
        for settings in &self.deployment_settings {
            if !names.contains(&settings.name) {
                names.push(settings.name.clone());
            }
        }
        names
    }
}

/// Everything an evaluation needs besides the packages.
#[derive(Debug, Clone, Default)]
pub struct EvalSettings {
    pub rules: BTreeMap<String, RuleSettings>,
    pub targets: Targets,
    pub waivers: Vec<Waiver>,
}

/// A waiver: a configured exception that keeps a finding in reports but stops it from failing
/// a run. It names a rule, optionally a code, a solution (glob) and a version, a required
/// reason, and an optional expiry date after which it no longer applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    pub rule: String,
    pub code: Option<String>,
    /// Solution unique name; `*` and `?` globs allowed; case-insensitive.
    pub solution: String,
    pub version: Option<String>,
    pub reason: String,
    pub expires: Option<Date>,
    /// Where the waiver is written (`config.toml:12`), for messages.
    pub origin: String,
}

impl Waiver {
    /// Whether the waiver covers `finding` on solution `unique_name` at `version`, ignoring
    /// expiry.
    pub fn covers(&self, finding: &Finding, unique_name: &str, version: &str) -> bool {
        let options = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        self.rule == finding.rule
            && self.code.as_ref().is_none_or(|c| *c == finding.code)
            && self
                .version
                .as_ref()
                .is_none_or(|v| v.trim() == version.trim())
            && glob::Pattern::new(&self.solution)
                .map(|p| p.matches_with(unique_name, options))
                .unwrap_or(false)
    }

    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|expires| expires < today)
    }

    pub fn describe(&self) -> String {
        let mut text = format!("waiver for {} on {}", self.rule, self.solution);
        if let Some(code) = &self.code {
            text = format!("waiver for {}/{code} on {}", self.rule, self.solution);
        }
        if let Some(version) = &self.version {
            text.push_str(&format!(" {version}"));
        }
        format!("{text} ({})", self.origin)
    }
}

/// How the releases of a solution are put in order when several are checked at once.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseOrder {
    /// Export time, read from the zip entries' timestamps; ties (and packages without one,
    /// such as unpacked trees) by version, then path.
    #[default]
    Exported,
    /// Solution version, then path.
    Version,
    /// File modification time (a git checkout or a copy resets it), then version.
    Mtime,
    /// File path.
    Path,
}

impl std::fmt::Display for ReleaseOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl ReleaseOrder {
    pub const ALL: [Self; 4] = [Self::Exported, Self::Version, Self::Mtime, Self::Path];

    pub fn name(self) -> &'static str {
        match self {
            Self::Exported => "exported",
            Self::Version => "version",
            Self::Mtime => "mtime",
            Self::Path => "path",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == text)
    }
}

/// A report format.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Text for a terminal.
    Human,
    Json,
    Markdown,
    /// One self-contained page.
    Html,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
    /// JUnit XML, for CI test reporters.
    Junit,
    /// GitHub Actions workflow commands: one annotation per finding.
    Github,
    /// Azure Pipelines logging commands: one issue per error and warning, output variables.
    Azure,
}

impl ReportFormat {
    pub const ALL: [Self; 8] = [
        Self::Human,
        Self::Json,
        Self::Markdown,
        Self::Html,
        Self::Sarif,
        Self::Junit,
        Self::Github,
        Self::Azure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Json => "json",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
            Self::Github => "github",
            Self::Azure => "azure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "md" => Some(Self::Markdown),
            _ => Self::ALL.into_iter().find(|f| f.name() == text),
        }
    }

    /// File-name extension of a report in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Human => "txt",
            Self::Json => "json",
            Self::Markdown => "md",
            Self::Html => "html",
            Self::Sarif => "sarif",
            Self::Junit => "junit.xml",
            Self::Github => "github.txt",
            Self::Azure => "azure.txt",
        }
    }
}
