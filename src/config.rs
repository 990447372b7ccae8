//! `config.toml`: policy settings, targets and waivers. Every problem in the file is reported
//! at once, each with its line, column and key; unknown keys are rejected.
//!
//! The file is read in two steps: a spanned TOML tree is validated key by key (so errors point
//! at the exact place), then the checked values become typed settings.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::eval::{EvalSettings, RuleSettings, Target, Waiver};
use crate::policy::{is_kebab_case, Severity};

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
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        config.path = Some(path.to_path_buf());
        let base = path.parent().unwrap_or(Path::new("."));
        config.policies_dir = config.policies_dir.map(|dir| base.join(dir));
        Ok(config)
    }

    /// Parses config text; `origin` names the file in messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let mut checker = Checker {
            text,
            origin: origin.display().to_string(),
            problems: Vec::new(),
        };
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                checker.problem(&span, "", error.message().trim());
                return Err(checker.into_error(origin));
            }
        };
        let values: toml::Table = toml::from_str(text).unwrap_or_default();
        let mut config = Config::default();
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "policies" => checker.policies(value, &mut config),
                "rules" => checker.rules(value, &values, &mut config),
                "targets" => checker.targets(value, &mut config),
                "waivers" => checker.waivers(value, &mut config),
                other => checker.problem(
                    &key.span(),
                    other,
                    "unknown key (expected policies, rules, targets or waivers)",
                ),
            }
        }
        if checker.problems.is_empty() {
            Ok(config)
        } else {
            Err(checker.into_error(origin))
        }
    }
}

struct Checker<'t> {
    text: &'t str,
    origin: String,
    problems: Vec<ConfigProblem>,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Checker<'_> {
    fn problem(&mut self, span: &Range<usize>, key: &str, message: &str) {
        let (line, column) = crate::policy::line_column(self.text, span.start);
        self.problems.push(ConfigProblem {
            line,
            column,
            key: key.to_owned(),
            message: message.to_owned(),
        });
    }

    fn into_error(mut self, path: &Path) -> ConfigError {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            problems: self.problems,
        }
    }

    fn table<'v, 'i>(&mut self, value: &'v Value<'i>, key: &str) -> Option<&'v DeTable<'i>> {
        let table = value.get_ref().as_table();
        if table.is_none() {
            self.problem(&value.span(), key, "expected a table");
        }
        table
    }

    fn string(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let text = value.get_ref().as_str().map(str::to_owned);
        if text.is_none() {
            self.problem(&value.span(), key, "expected a string");
        }
        text
    }

    fn policies(&mut self, value: &Value<'_>, config: &mut Config) {
        let Some(table) = self.table(value, "policies") else {
            return;
        };
        for (key, value) in table {
            let name = format!("policies.{}", key.get_ref());
            match key.get_ref().as_ref() {
                "dir" => config.policies_dir = self.string(value, &name).map(PathBuf::from),
                "time_budget_ms" => match value
                    .get_ref()
                    .as_integer()
                    .and_then(|i| i.as_str().parse::<u64>().ok())
                {
                    Some(ms) if ms > 0 => config.time_budget = Some(Duration::from_millis(ms)),
                    _ => self.problem(
                        &value.span(),
                        &name,
                        "expected a positive whole number of milliseconds",
                    ),
                },
                _ => self.problem(
                    &key.span(),
                    &name,
                    "unknown key (expected dir or time_budget_ms)",
                ),
            }
        }
    }

    fn rules(&mut self, value: &Value<'_>, values: &toml::Table, config: &mut Config) {
        let Some(table) = self.table(value, "rules") else {
            return;
        };
        for (id, rule) in table {
            let id_text = id.get_ref().to_string();
            if !is_kebab_case(&id_text) {
                self.problem(
                    &id.span(),
                    &format!("rules.{id_text}"),
                    "policy ids are kebab-case",
                );
            }
            let Some(rule_table) = self.table(rule, &format!("rules.{id_text}")) else {
                continue;
            };
            let mut settings = RuleSettings::default();
            for (key, value) in rule_table {
                let name = format!("rules.{id_text}.{}", key.get_ref());
                match key.get_ref().as_ref() {
                    "enabled" => match value.get_ref().as_bool() {
                        Some(enabled) => settings.enabled = Some(enabled),
                        None => self.problem(&value.span(), &name, "expected true or false"),
                    },
                    "severity" => match value.get_ref().as_str().and_then(Severity::parse) {
                        Some(severity) => settings.severity = Some(severity),
                        None => self.problem(
                            &value.span(),
                            &name,
                            "expected \"error\", \"warning\" or \"info\"",
                        ),
                    },
                    "params" => {
                        if self.table(value, &name).is_some() {
                            settings.params = values
                                .get("rules")
                                .and_then(|r| r.get(id_text.as_str()))
                                .and_then(|r| r.get("params"))
                                .and_then(|p| p.as_table())
                                .cloned()
                                .unwrap_or_default();
                        }
                    }
                    _ => self.problem(
                        &key.span(),
                        &name,
                        "unknown key (expected enabled, severity or params)",
                    ),
                }
            }
            config.eval.rules.insert(id_text, settings);
        }
    }

    fn targets(&mut self, value: &Value<'_>, config: &mut Config) {
        let Some(table) = self.table(value, "targets") else {
            return;
        };
        for (name, target) in table {
            let key = format!("targets.{}", name.get_ref());
            let Some(target_table) = self.table(target, &key) else {
                continue;
            };
            let mut version = None;
            for (field, value) in target_table {
                let field_key = format!("{key}.{}", field.get_ref());
                match field.get_ref().as_ref() {
                    "version" => {
                        version = self.string(value, &field_key);
                        if let Some(text) = &version {
                            if let Err(error) = crate::package::SolutionVersion::parse(text) {
                                self.problem(&value.span(), &field_key, &error.to_string());
                            }
                        }
                    }
                    _ => self.problem(&field.span(), &field_key, "unknown key (expected version)"),
                }
            }
            match version {
                Some(version) => config.eval.targets.push(Target {
                    name: name.get_ref().to_string(),
                    version,
                }),
                None => self.problem(
                    &target.span(),
                    &key,
                    "a target needs a version, e.g. version = \"9.2.24102.194\"",
                ),
            }
        }
    }

    fn waivers(&mut self, value: &Value<'_>, config: &mut Config) {
        let Some(list) = value.get_ref().as_array() else {
            self.problem(&value.span(), "waivers", "expected [[waivers]] entries");
            return;
        };
        for (index, entry) in list.iter().enumerate() {
            let key = format!("waivers[{index}]");
            let Some(table) = self.table(entry, &key) else {
                continue;
            };
            let mut fields: BTreeMap<String, String> = BTreeMap::new();
            let mut expires = None;
            for (field, value) in table {
                let field_key = format!("{key}.{}", field.get_ref());
                let name = field.get_ref().as_ref();
                match name {
                    "rule" | "code" | "solution" | "version" | "reason" => {
                        if let Some(text) = self.string(value, &field_key) {
                            fields.insert(name.to_owned(), text);
                        }
                    }
                    "expires" => expires = self.date(value, &field_key),
                    _ => self.problem(
                        &field.span(),
                        &field_key,
                        "unknown key (expected rule, code, solution, version, reason or expires)",
                    ),
                }
            }
            for required in ["rule", "solution", "reason"] {
                if fields.get(required).is_none_or(|v| v.trim().is_empty()) {
                    self.problem(&entry.span(), &format!("{key}.{required}"), "required");
                }
            }
            if let Some(pattern) = fields.get("solution") {
                if glob::Pattern::new(pattern).is_err() {
                    self.problem(
                        &entry.span(),
                        &format!("{key}.solution"),
                        "not a valid glob pattern",
                    );
                }
            }
            let (line, _) = crate::policy::line_column(self.text, entry.span().start);
            config.eval.waivers.push(Waiver {
                rule: fields.remove("rule").unwrap_or_default(),
                code: fields.remove("code"),
                solution: fields.remove("solution").unwrap_or_default(),
                version: fields.remove("version"),
                reason: fields.remove("reason").unwrap_or_default(),
                expires,
                origin: format!("{}:{line}", self.origin),
            });
        }
    }

    fn date(&mut self, value: &Value<'_>, key: &str) -> Option<time::Date> {
        let date = value
            .get_ref()
            .as_datetime()
            .and_then(|d| d.date)
            .and_then(|d| {
                time::Month::try_from(d.month)
                    .ok()
                    .map(|m| (d.year, m, d.day))
            })
            .and_then(|(year, month, day)| {
                time::Date::from_calendar_date(i32::from(year), month, day).ok()
            });
        if date.is_none() {
            self.problem(&value.span(), key, "expected a date, e.g. 2027-01-31");
        }
        date
    }
}
