//! The key-by-key validator behind [`super::Config`]: walks the spanned TOML tree, collects
//! every problem with its position, and builds the typed settings of the policy sections.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::settings::{RuleSettings, Target, Targets, Waiver};
use super::RuleSection;
use super::{Config, ConfigError, ConfigProblem};
use super::{DeploymentSettings, Environment};
use crate::diagnostic::{is_kebab_case, line_column, Severity};

pub(super) struct Checker<'t> {
    text: &'t str,
    origin: String,
    base: PathBuf,
    problems: Vec<ConfigProblem>,
    /// Where each `[rules.ID]` section was written, for checks once the policies are known.
    rule_sections: Vec<RuleSection>,
    /// Files read for the config (environment snapshots, deployment settings).
    referenced_files: Vec<PathBuf>,
    /// Problems only commands that deliver alerts have (an unset alert secret).
    deferred: Vec<ConfigProblem>,
}

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

impl<'t> Checker<'t> {
    pub(super) fn new(text: &'t str, origin: &Path, base: &Path) -> Self {
        Self {
            text,
            origin: origin.display().to_string(),
            base: base.to_path_buf(),
            problems: Vec::new(),
            rule_sections: Vec::new(),
            referenced_files: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// `config` when no problem was found, else every problem in file order.
    pub(super) fn finish(self, mut config: Config, origin: &Path) -> Result<Config, ConfigError> {
        if self.problems.is_empty() {
            config.rule_sections = self.rule_sections;
            config.referenced_files = self.referenced_files;
            config.unset_alert_secrets = self.deferred;
            Ok(config)
        } else {
            Err(self.into_error(origin))
        }
    }

    /// `path` resolved against the config file's folder.
    pub(super) fn resolve(&self, path: &str) -> PathBuf {
        self.base.join(path)
    }
    /// A problem that only commands delivering alerts have.
    pub(super) fn defer(&mut self, span: &Range<usize>, key: &str, message: &str) {
        let (line, column) = line_column(self.text, span.start);
        self.deferred.push(ConfigProblem {
            line,
            column,
            key: key.to_owned(),
            message: message.to_owned(),
        });
    }

    pub(super) fn problem(&mut self, span: &Range<usize>, key: &str, message: &str) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(ConfigProblem {
            line,
            column,
            key: key.to_owned(),
            message: message.to_owned(),
        });
    }

    pub(super) fn into_error(mut self, path: &Path) -> ConfigError {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            problems: self.problems,
        }
    }

    pub(super) fn table<'v, 'i>(
        &mut self,
        value: &'v Value<'i>,
        key: &str,
    ) -> Option<&'v DeTable<'i>> {
        let table = value.get_ref().as_table();
        if table.is_none() {
            self.problem(&value.span(), key, "expected a table");
        }
        table
    }

    pub(super) fn string(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let text = value.get_ref().as_str().map(str::to_owned);
        if text.is_none() {
            self.problem(&value.span(), key, "expected a string");
        }
        text
    }

    pub(super) fn policies(&mut self, value: &Value<'_>, config: &mut Config) {
        let Some(table) = self.table(value, "policies") else {
            return;
        };
        for (key, value) in table {
            let name = format!("policies.{}", key.get_ref());
            match key.get_ref().as_ref() {
                "dir" => config.policies_dir = self.string(value, &name).map(|d| self.resolve(&d)),
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

    /// A `rules` table; `plain` is the same table as plain values (for `params`), `prefix` its
    /// key in messages.
    pub(super) fn rules(
        &mut self,
        value: &Value<'_>,
        plain: Option<&toml::Value>,
        prefix: &str,
    ) -> BTreeMap<String, RuleSettings> {
        let mut rules = BTreeMap::new();
        let Some(table) = self.table(value, prefix) else {
            return rules;
        };
        for (id, rule) in table {
            let id_text = id.get_ref().to_string();
            let (line, column) = line_column(self.text, id.span().start);
            self.rule_sections.push(RuleSection {
                id: id_text.clone(),
                key: format!("{prefix}.{id_text}"),
                at: format!("{}:{line}:{column}", self.origin),
            });
            if !is_kebab_case(&id_text) {
                self.problem(
                    &id.span(),
                    &format!("{prefix}.{id_text}"),
                    "policy ids are kebab-case",
                );
            }
            let Some(rule_table) = self.table(rule, &format!("{prefix}.{id_text}")) else {
                continue;
            };
            let mut settings = RuleSettings::default();
            for (key, value) in rule_table {
                let name = format!("{prefix}.{id_text}.{}", key.get_ref());
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
                            settings.params = plain
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
            rules.insert(id_text, settings);
        }
        rules
    }

    /// A `targets` table; `prefix` is its key in messages. Each target names a platform
    /// `version` or an `environment` snapshot (whose version it takes), and optionally the
    /// `deployment_settings` for it (a file, or a `{solution}` pattern for one file per
    /// solution); the files are read now, so a broken one is a problem at its key.
    pub(super) fn targets(&mut self, value: &Value<'_>, prefix: &str) -> Targets {
        let mut targets = Targets::default();
        let Some(table) = self.table(value, prefix) else {
            return targets;
        };
        for (name, target) in table {
            let name = name.get_ref().to_string();
            let key = format!("{prefix}.{name}");
            let Some(target_table) = self.table(target, &key) else {
                continue;
            };
            let (mut version, mut environment, mut settings) = (None, None, None);
            // A snapshot that failed to load is reported at its key, not as a missing one.
            let mut names_environment = false;
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
                    "environment" => {
                        names_environment = true;
                        environment = self.referenced(value, &field_key, |path| {
                            Environment::load(path).map_err(|e| e.to_string())
                        })
                    }
                    "deployment_settings" => {
                        settings = self.referenced(value, &field_key, |path| {
                            DeploymentSettings::load_all(path, &name).map_err(|e| e.to_string())
                        })
                    }
                    _ => self.problem(
                        &field.span(),
                        &field_key,
                        "unknown key (expected version, environment or deployment_settings)",
                    ),
                }
            }
            if let Some(files) = settings {
                targets.set_deployment_settings(&name, files);
            }
            match (version, environment) {
                (Some(_), _) if names_environment => self.problem(
                    &target.span(),
                    &key,
                    "give a version or an environment snapshot (which states the version), not both",
                ),
                (Some(version), _) => targets.add_target(Target { name, version }),
                (None, Some(mut environment)) => {
                    // The config's name is the target's name, whatever the snapshot calls it.
                    environment.name = name;
                    targets.add_environment(environment);
                }
                (None, None) if names_environment => {}
                (None, None) => self.problem(
                    &target.span(),
                    &key,
                    "a target needs a version (version = \"9.2.24102.194\") or an environment snapshot (environment = \"envs/prod.json\")",
                ),
            }
        }
        targets
    }

    /// A file the config names at `key`, resolved and read with `load`; remembered so the
    /// daemon reloads when it changes.
    fn referenced<T>(
        &mut self,
        value: &Value<'_>,
        key: &str,
        load: impl FnOnce(&Path) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.string(value, key)?;
        let path = self.resolve(&text);
        self.referenced_files.push(path.clone());
        match load(&path) {
            Ok(loaded) => Some(loaded),
            Err(message) => {
                self.problem(&value.span(), key, &message);
                None
            }
        }
    }

    pub(super) fn waivers(&mut self, value: &Value<'_>, config: &mut Config) {
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
            let (line, _) = line_column(self.text, entry.span().start);
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

    pub(super) fn date(&mut self, value: &Value<'_>, key: &str) -> Option<time::Date> {
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
