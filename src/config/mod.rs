//! `config.toml`: policy settings, targets, waivers, and for the daemon its folders, outputs and
//! alert sinks. Every problem in the file is reported at once, each with its line, column and
//! key; unknown keys are rejected.
//!
//! The file is read in two steps: a spanned TOML tree is validated key by key (so errors point
//! at the exact place), then the checked values become typed settings. Relative paths are
//! resolved against the config file's folder.

mod alerts;
mod audits;
mod checker;
mod daemon;
mod deployment;
mod environment;
mod history_location;
mod json_file;
mod schema;
mod settings;
mod time_zone;

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

/// Report files when the config names none.
pub const DEFAULT_REPORT_FORMATS: [ReportFormat; 3] = [
    ReportFormat::Json,
    ReportFormat::Markdown,
    ReportFormat::Html,
];

pub use alerts::{
    expand_env, AlertSinkConfig, AlertSinkKind, DeliveryPolicy, Route, Secret, SmtpSecurity,
};
pub use audits::AuditConfig;
use checker::Checker;
pub use daemon::{DaemonSettings, Disposition, WatchFolder, DEFAULT_STATUS};
pub use deployment::{is_referenced_file, DeploymentSettings, SettingConnection, SettingVariable};
pub use environment::{Environment, InstalledPublisher, InstalledSolution};
pub use history_location::{is_postgres_url, HistoryLocation, LocationError, PostgresUrl};
pub use json_file::JsonFileError;
pub use schema::config_schema;
pub use settings::{
    EvalSettings, ReleaseOrder, ReportFormat, RuleSettings, Target, Targets, Waiver,
};
pub use time_zone::{ScheduleZone, ZoneOffset};

/// The largest config file, environment snapshot or settings file read (a snapshot of an
/// environment with thousands of solutions is a few MiB).
pub const MAX_CONFIG_FILE_BYTES: u64 = 64 << 20;

/// The shipped `config.toml`, used by `solguard watch` when no config file exists.
pub const SHIPPED_CONFIG: &str = include_str!("../../config.toml");

/// The validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it was read from, if any.
    pub path: Option<PathBuf>,
    /// Extra policies folder, resolved against the config file's folder.
    pub policies_dir: Option<PathBuf>,
    /// Wall-clock budget per policy per package.
    pub time_budget: Option<Duration>,
    pub eval: EvalSettings,
    /// `[daemon]`: where `solguard watch` keeps reports and state, and how it paces work.
    pub daemon: DaemonSettings,
    /// `[[watch]]`: the drop folders.
    pub watches: Vec<WatchFolder>,
    /// `[[alerts]]`: where alerts go.
    pub alerts: Vec<AlertSinkConfig>,
    /// `[[audit]]`: repositories audited on a schedule by the daemon.
    pub audits: Vec<AuditConfig>,
    /// `[report] formats`: report files written per package (daemon) or per run
    /// (`check --report-dir`).
    pub report_formats: Vec<ReportFormat>,
    /// Every `[rules.ID]` section (global, per folder, per audit) with where it was written:
    /// once the policies are loaded, one naming no rule is an error at that place.
    pub rule_sections: Vec<RuleSection>,
    /// Files the config reads besides itself (environment snapshots, deployment settings):
    /// the daemon reloads when one changes.
    pub referenced_files: Vec<PathBuf>,
    /// Alert secrets whose `${VAR}` is unset: only commands that deliver alerts need them.
    pub unset_alert_secrets: Vec<ConfigProblem>,
}

/// A `[rules.ID]` section as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSection {
    pub id: String,
    /// The dotted key (`rules.monotonic-version`, `watch[0].rules.x`).
    pub key: String,
    /// `file:line:column`.
    pub at: String,
}

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

fn render_problems(path: &Path, problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            let key = if p.key.is_empty() {
                String::new()
            } else {
                format!("`{}`: ", p.key)
            };
            format!(
                "{}:{}:{}: {key}{}",
                path.display(),
                p.line,
                p.column,
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads and validates the config file at `path`; relative paths in it are resolved against
    /// its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            crate::package::read_text_file(path, MAX_CONFIG_FILE_BYTES).map_err(|source| {
                ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Self::parse_in(&text, path, base)?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses config text; `origin` names the file in messages and relative paths stay as
    /// written.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        Self::parse_in(text, origin, Path::new(""))
    }

    /// Parses config text, resolving relative paths against `base`.
    pub fn parse_in(text: &str, origin: &Path, base: &Path) -> Result<Self, ConfigError> {
        let mut checker = Checker::new(text, origin, base);
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                checker.problem(&span, "", error.message().trim());
                return Err(checker.into_error(origin));
            }
        };
        let values: toml::Table = toml::from_str(text).unwrap_or_default();
        let mut config = Config {
            daemon: DaemonSettings::defaults_in(base),
            report_formats: DEFAULT_REPORT_FORMATS.to_vec(),
            ..Config::default()
        };
        let mut audits = Vec::new();
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "policies" => checker.policies(value, &mut config),
                "rules" => config.eval.rules = checker.rules(value, values.get("rules"), "rules"),
                "targets" => config.eval.targets = checker.targets(value, "targets"),
                "waivers" => checker.waivers(value, &mut config),
                "daemon" => checker.daemon(value, &mut config.daemon),
                "watch" => config.watches = checker.watches(value, values.get("watch")),
                "alerts" => config.alerts = checker.alerts(value),
                "report" => checker.report(value, &mut config.report_formats),
                "audit" => audits = checker.audits(value, values.get("audit")),
                other => checker.problem(
                    &key.span(),
                    other,
                    "unknown key (expected policies, rules, targets, waivers, report, daemon, watch, alerts or audit)",
                ),
            }
        }
        for (audit, span) in audits {
            for sink in audit.alerts.iter().flatten() {
                if !config.alerts.iter().any(|s| &s.name == sink) {
                    checker.problem(
                        &span,
                        "audit.alerts",
                        &format!("no [[alerts]] sink is named {sink:?}"),
                    );
                }
            }
            config.audits.push(audit);
        }
        checker.finish(config, origin)
    }

    /// Refuses the config for a command that delivers alerts when an alert secret's variable
    /// is unset, naming each at its place.
    pub fn require_alert_secrets(&self) -> Result<(), ConfigError> {
        if self.unset_alert_secrets.is_empty() {
            return Ok(());
        }
        Err(ConfigError::Invalid {
            path: self.path.clone().unwrap_or_default(),
            problems: self.unset_alert_secrets.clone(),
        })
    }

    /// Evaluation settings for the scheduled audit `audit`: its rules and targets over the
    /// global ones.
    pub fn eval_for_audit(&self, audit: &AuditConfig) -> EvalSettings {
        self.merged(&audit.rules, &audit.targets)
    }

    /// Evaluation settings for packages from `watch`: its rules over the global ones, its
    /// targets replacing global ones of the same name.
    pub fn eval_for(&self, watch: &WatchFolder) -> EvalSettings {
        self.merged(&watch.rules, &watch.targets)
    }

    /// The global settings with `rules` over them and `targets` replacing same-named ones.
    fn merged(
        &self,
        rules: &std::collections::BTreeMap<String, RuleSettings>,
        targets: &Targets,
    ) -> EvalSettings {
        let mut settings = self.eval.clone();
        for (id, rule) in rules {
            settings.rules.insert(id.clone(), rule.clone());
        }
        settings.targets.apply(targets);
        settings
    }
}
