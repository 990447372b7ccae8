//! `[[audit]]`: release repositories the daemon audits on a cron schedule, each with its folders,
//! time zone, release order, targets and rules, and the alert sinks told about findings that are
//! new since its previous audit.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;

use super::checker::{Checker, Value};
use super::settings::{ReleaseOrder, RuleSettings, Targets};
use super::time_zone::ScheduleZone;

/// One scheduled audit.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Unique; names its reports (`audit-<name>.<ext>`) and its baseline.
    pub name: String,
    pub folders: Vec<PathBuf>,
    /// Cron expression with seconds: `sec min hour day-of-month month day-of-week [year]`.
    pub schedule: cron::Schedule,
    pub time_zone: ScheduleZone,
    pub order: ReleaseOrder,
    pub targets: Targets,
    pub rules: BTreeMap<String, RuleSettings>,
    /// Sinks told about new findings (`None`: every sink).
    pub alerts: Option<Vec<String>>,
}

impl PartialEq for AuditConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.folders == other.folders
            && self.schedule.to_string() == other.schedule.to_string()
            && self.time_zone == other.time_zone
            && self.order == other.order
            && self.targets == other.targets
            && self.rules == other.rules
            && self.alerts == other.alerts
    }
}

impl Checker<'_> {
    /// The `[[audit]]` entries with the span of each (to place later cross-checks).
    pub(super) fn audits(
        &mut self,
        value: &Value<'_>,
        plain: Option<&toml::Value>,
    ) -> Vec<(AuditConfig, Range<usize>)> {
        let Some(list) = value.get_ref().as_array() else {
            self.problem(&value.span(), "audit", "expected [[audit]] entries");
            return Vec::new();
        };
        let mut audits: Vec<(AuditConfig, Range<usize>)> = Vec::new();
        for (index, entry) in list.iter().enumerate() {
            let key = format!("audit[{index}]");
            let plain_rules = plain
                .and_then(|a| a.get(index))
                .and_then(|a| a.get("rules"));
            let Some(audit) = self.audit(entry, &key, plain_rules) else {
                continue;
            };
            if audits.iter().any(|(a, _)| a.name == audit.name) {
                self.problem(
                    &entry.span(),
                    &format!("{key}.name"),
                    &format!("another [[audit]] is already named {:?}", audit.name),
                );
            }
            audits.push((audit, entry.span()));
        }
        audits
    }

    fn audit(
        &mut self,
        entry: &Value<'_>,
        key: &str,
        plain_rules: Option<&toml::Value>,
    ) -> Option<AuditConfig> {
        let table = self.table(entry, key)?;
        let (mut name, mut folders, mut schedule) = (None, Vec::new(), None);
        let mut time_zone = ScheduleZone::utc();
        let mut order = ReleaseOrder::Exported;
        let (mut targets, mut rules, mut alerts) = (Targets::default(), BTreeMap::new(), None);
        let mut schedule_given = false;
        for (field, value) in table {
            let field_key = format!("{key}.{}", field.get_ref());
            match field.get_ref().as_ref() {
                "name" => name = self.string(value, &field_key),
                "folders" => match value.get_ref().as_array() {
                    Some(items) => {
                        let names: Vec<String> = items
                            .iter()
                            .filter_map(|i| self.string(i, &field_key))
                            .collect();
                        folders = names.iter().map(|f| self.resolve(f)).collect();
                    }
                    None => self.problem(&value.span(), &field_key, "expected a list of folders"),
                },
                "schedule" => {
                    schedule_given = true;
                    if let Some(text) = self.string(value, &field_key) {
                        match cron::Schedule::from_str(&text) {
                            Ok(parsed) => schedule = Some(parsed),
                            Err(error) => self.problem(
                                &value.span(),
                                &field_key,
                                &format!(
                                    "not a cron expression with seconds (e.g. \"0 0 6 * * Mon-Fri\"): {}",
                                    error.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
                                ),
                            ),
                        }
                    }
                }
                "time_zone" => {
                    if let Some(text) = self.string(value, &field_key) {
                        match ScheduleZone::named(&text) {
                            Some(zone) => time_zone = zone,
                            None => self.problem(
                                &value.span(),
                                &field_key,
                                "not an IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")",
                            ),
                        }
                    }
                }
                "order" => {
                    if let Some(text) = self.string(value, &field_key) {
                        match ReleaseOrder::parse(&text) {
                            Some(parsed) => order = parsed,
                            None => self.problem(&value.span(), &field_key, "expected \"exported\", \"version\", \"mtime\" or \"path\""),
                        }
                    }
                }
                "targets" => targets = self.targets(value, &field_key),
                "rules" => rules = self.rules(value, plain_rules, &field_key),
                "alerts" => match value.get_ref().as_array() {
                    Some(items) => {
                        alerts = Some(items.iter().filter_map(|i| self.string(i, &field_key)).collect());
                    }
                    None => self.problem(&value.span(), &field_key, "expected a list of [[alerts]] sink names"),
                },
                _ => self.problem(
                    &field.span(),
                    &field_key,
                    "unknown key (expected name, folders, schedule, time_zone, order, targets, rules or alerts)",
                ),
            }
        }
        let mut missing = |field: &str| {
            self.problem(&entry.span(), &format!("{key}.{field}"), "required");
        };
        if folders.is_empty() {
            missing("folders");
        }
        let (Some(name), Some(schedule)) = (
            name.or_else(|| {
                missing("name");
                None
            }),
            schedule.or_else(|| {
                if !schedule_given {
                    missing("schedule");
                }
                None
            }),
        ) else {
            return None;
        };
        if folders.is_empty() {
            return None;
        }
        Some(AuditConfig {
            name,
            folders,
            schedule,
            time_zone,
            order,
            targets,
            rules,
            alerts,
        })
    }
}
