//! The shape of `config.toml` as types, for `solguard schema config`: a JSON Schema (draft
//! 2020-12) generated from them, which editors with TOML schema support (Taplo, Even Better
//! TOML) and CI linters check the file against. The checker in this module's siblings stays
//! the authority (it reports every problem with its line); these types state the same keys,
//! and a test keeps the shipped config valid against them.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use super::{ReleaseOrder, ReportFormat};
use crate::diagnostic::Severity;

/// `config.toml`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)] // the types exist for their schema
pub struct ConfigFile {
    pub policies: Option<PoliciesSection>,
    /// Per-policy settings by policy id.
    pub rules: Option<BTreeMap<String, RuleSection>>,
    /// Target environments by name.
    pub targets: Option<BTreeMap<String, TargetSection>>,
    pub waivers: Option<Vec<WaiverEntry>>,
    pub report: Option<ReportSection>,
    pub daemon: Option<DaemonSection>,
    /// Drop folders of `solguard watch`.
    pub watch: Option<Vec<WatchEntry>>,
    /// Alert sinks.
    pub alerts: Option<Vec<AlertEntry>>,
    /// Repositories audited on a schedule by the daemon.
    pub audit: Option<Vec<AuditEntry>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PoliciesSection {
    /// Folder of extra policies (*.rhai), relative to the config file.
    pub dir: Option<String>,
    /// Wall-clock budget of one policy on one package, in milliseconds.
    #[schemars(range(min = 1))]
    pub time_budget_ms: Option<u64>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RuleSection {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    /// Values the policy reads as `context.params`.
    pub params: Option<BTreeMap<String, serde_json::Value>>,
}

/// A target: a platform `version`, or an `environment` snapshot (not both).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TargetSection {
    /// Platform version, e.g. "9.2.24104.196".
    #[schemars(regex(pattern = r"^\d+(\.\d+){1,3}$"))]
    pub version: Option<String>,
    /// Environment snapshot file (the installed solutions).
    pub environment: Option<String>,
    /// Deployment settings file; `{solution}` in the name gives one file per solution.
    pub deployment_settings: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WaiverEntry {
    pub rule: String,
    pub code: Option<String>,
    /// Solution unique name; `*` and `?` globs allowed.
    pub solution: String,
    pub version: Option<String>,
    pub reason: String,
    /// A TOML date (2027-03-31).
    pub expires: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReportSection {
    pub formats: Option<Vec<ReportFormat>>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DaemonSection {
    pub reports: Option<String>,
    /// SQLite database path, or a `postgres://` URL several daemons share (`${VAR}` expanded).
    pub history: Option<String>,
    /// Seconds a claim on a package, a leased alert or an audit run holds (default 60).
    #[schemars(range(min = 5))]
    pub lease_s: Option<u64>,
    /// This daemon's name among several sharing one history.
    pub name: Option<String>,
    /// Packages evaluated at once; 0 = one per CPU core.
    pub workers: Option<u64>,
    pub settle_ms: Option<u64>,
    pub incomplete_timeout_s: Option<u64>,
    pub rescan_s: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub shutdown_grace_s: Option<u64>,
    pub recheck_on_policy_change: Option<bool>,
    /// Status server address (`127.0.0.1:9464`), or "off".
    pub status: Option<String>,
    /// Bearer token for /status, /metrics and /reload; `${VAR}` expanded.
    pub status_token: Option<String>,
    pub status_max_connections: Option<u64>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WatchEntry {
    pub path: String,
    pub name: Option<String>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub folders: Option<bool>,
    pub recursive: Option<bool>,
    /// Scan on a timer (network shares; the default for UNC paths).
    pub poll: Option<bool>,
    pub disposition: Option<Disposition>,
    pub accepted: Option<String>,
    pub rejected: Option<String>,
    pub rules: Option<BTreeMap<String, RuleSection>>,
    pub targets: Option<BTreeMap<String, TargetSection>>,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Disposition {
    Leave,
    Move,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SinkType {
    File,
    Webhook,
    Teams,
    Slack,
    Email,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AlertMode {
    Package,
    Digest,
}

#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    Plain,
}

/// An alert sink; which keys apply depends on `type`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AlertEntry {
    #[serde(rename = "type")]
    pub sink_type: SinkType,
    pub name: String,
    pub min_severity: Option<Severity>,
    pub rules: Option<Vec<String>>,
    pub solutions: Option<Vec<String>>,
    pub mode: Option<AlertMode>,
    pub digest_minutes: Option<f64>,
    pub timeout_s: Option<u64>,
    pub retry_initial_ms: Option<u64>,
    pub max_age_minutes: Option<f64>,
    /// file: the JSON-lines file.
    pub path: Option<String>,
    pub max_bytes: Option<u64>,
    pub keep: Option<u64>,
    /// webhook, teams, slack: the address (`${VAR}` expanded).
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    /// webhook: HMAC key for the signature header.
    pub secret: Option<String>,
    pub host: Option<String>,
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    pub security: Option<SmtpSecurity>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
    pub allow_plaintext_auth: Option<bool>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AuditEntry {
    pub name: String,
    pub folders: Vec<String>,
    /// Cron expression with seconds (`0 0 6 * * Mon-Fri`).
    pub schedule: String,
    /// IANA time zone, e.g. "Europe/Amsterdam".
    pub time_zone: Option<String>,
    pub order: Option<ReleaseOrder>,
    pub targets: Option<BTreeMap<String, TargetSection>>,
    pub rules: Option<BTreeMap<String, RuleSection>>,
    /// Names of [[alerts]] sinks told about findings that are new.
    pub alerts: Option<Vec<String>>,
}

/// The JSON Schema of `config.toml` (as TOML data).
pub fn config_schema() -> schemars::Schema {
    let mut schema = schemars::schema_for!(ConfigFile);
    schema.insert("title".into(), "solguard config.toml".into());
    schema
}
