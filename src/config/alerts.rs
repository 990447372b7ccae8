//! `[[alerts]]`: alert sinks (file, webhook, Teams, Slack, email), each with its routing
//! (minimum severity, rule and solution filters, one alert per package or a digest) and its
//! delivery policy (timeout, retries, maximum age). Secrets come from environment variables
//! written `${VAR}`; a variable that is not set is a config error, and secrets never appear in
//! `Debug` output or logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::checker::{Checker, Value};
use crate::diagnostic::Severity;

/// A value that must not be shown: webhook URLs (they embed tokens), HMAC keys, passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// `[[alerts]]`: one alert sink.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSinkConfig {
    pub name: String,
    pub kind: AlertSinkKind,
    pub route: Route,
    pub delivery: DeliveryPolicy,
}

/// Which alerts a sink takes, and how they are grouped.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Only findings at least this severe count (default `warning`: every package that is not
    /// `pass`).
    pub min_severity: Severity,
    /// Only findings of these rules (empty: all).
    pub rules: Vec<String>,
    /// Only these solutions, by unique-name glob, case-insensitive (empty: all).
    pub solutions: Vec<glob::Pattern>,
    /// `None`: one alert per package; `Some(every)`: one digest of all alerts every interval.
    pub digest: Option<Duration>,
}

/// How hard a sink tries.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Per request (HTTP, SMTP).
    pub timeout: Duration,
    /// First retry delay; doubled on each failure (with jitter) up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// An alert not delivered after this long is marked dead.
    pub max_age: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(15 * 60),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// How an email sink connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption: only for a relay on the local machine or network.
    Plain,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlertSinkKind {
    /// JSON lines appended to `path`, rotated to `path.1` ... `path.keep` past `max_bytes`.
    File {
        path: PathBuf,
        max_bytes: u64,
        keep: u32,
    },
    /// The alert as JSON, POSTed to `url`, signed with HMAC-SHA256 when `secret` is set.
    Webhook {
        url: Secret,
        headers: Vec<(String, Secret)>,
        secret: Option<Secret>,
    },
    /// An Adaptive Card for a Teams incoming webhook or Workflows URL.
    Teams { url: Secret },
    /// A Slack incoming-webhook message with blocks.
    Slack { url: Secret },
    /// An email, plain text and HTML, over SMTP.
    Email {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<Secret>,
        password: Option<Secret>,
        from: String,
        to: Vec<String>,
    },
}

impl AlertSinkKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::File { .. } => "file",
            Self::Webhook { .. } => "webhook",
            Self::Teams { .. } => "teams",
            Self::Slack { .. } => "slack",
            Self::Email { .. } => "email",
        }
    }
}

/// Replaces every `${VAR}` with the variable's value; `Err(VAR)` names the first one unset.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        match std::env::var(name) {
            Ok(value) => out.push_str(&value),
            Err(_) => return Err(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

const KEYS: &str = "type, name, min_severity, rules, solutions, mode, digest_minutes, timeout_s, retry_initial_ms, max_age_minutes, and per type: path, max_bytes, keep (file); url, headers, secret (webhook); url (teams, slack); host, port, security, username, password, from, to, allow_plaintext_auth (email)";

/// Why `url` cannot be a webhook address (never quoting it: chat webhook URLs hold a token).
fn url_problem(url: &str) -> Option<&'static str> {
    let Ok(uri) = ureq::http::Uri::try_from(url) else {
        return Some("not a valid URL");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Some("the URL must start with https:// (or http://)");
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("the URL has no host");
    }
    None
}

impl Checker<'_> {
    /// A string with `${VAR}` expanded; a missing variable is a problem at this value.
    pub(super) fn secret_string(&mut self, value: &Value<'_>, key: &str) -> Option<String> {
        let text = self.string(value, key)?;
        match expand_env(&text) {
            Ok(expanded) => Some(expanded),
            Err(name) => {
                self.problem(
                    &value.span(),
                    key,
                    &format!("environment variable {name} is not set"),
                );
                None
            }
        }
    }

    /// An alert sink's secret: like [`Self::secret_string`], but an unset variable is only
    /// recorded (an empty value stands in): commands that deliver no alerts do not need it,
    /// and those that do refuse the config then ([`super::Config::require_alert_secrets`]).
    /// The flag says whether the value stands in for an unset variable.
    fn alert_secret(&mut self, value: &Value<'_>, key: &str) -> Option<(String, bool)> {
        let text = self.string(value, key)?;
        match expand_env(&text) {
            Ok(expanded) => Some((expanded, false)),
            Err(name) => {
                self.defer(
                    &value.span(),
                    key,
                    &format!("environment variable {name} is not set"),
                );
                Some((String::new(), true))
            }
        }
    }

    fn minutes(&mut self, value: &Value<'_>, key: &str) -> Option<Duration> {
        let number = match value.get_ref() {
            toml::de::DeValue::Integer(i) => i.as_str().parse::<f64>().ok(),
            toml::de::DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match number {
            Some(minutes) if minutes > 0.0 && minutes < 1e6 => {
                Some(Duration::from_secs_f64(minutes * 60.0))
            }
            _ => {
                self.problem(&value.span(), key, "expected a positive number of minutes");
                None
            }
        }
    }

    pub(super) fn alerts(&mut self, value: &Value<'_>) -> Vec<AlertSinkConfig> {
        let Some(list) = value.get_ref().as_array() else {
            self.problem(&value.span(), "alerts", "expected [[alerts]] entries");
            return Vec::new();
        };
        let mut sinks: Vec<AlertSinkConfig> = Vec::new();
        for (index, entry) in list.iter().enumerate() {
            let key = format!("alerts[{index}]");
            let Some(sink) = self.alert(entry, &key, index) else {
                continue;
            };
            if sinks.iter().any(|s| s.name == sink.name) {
                self.problem(
                    &entry.span(),
                    &format!("{key}.name"),
                    &format!("another [[alerts]] sink is already named {:?}", sink.name),
                );
            }
            sinks.push(sink);
        }
        sinks
    }

    fn alert(&mut self, entry: &Value<'_>, key: &str, index: usize) -> Option<AlertSinkConfig> {
        let table = self.table(entry, key)?;
        let mut text: BTreeMap<&str, String> = BTreeMap::new();
        let mut route = Route {
            min_severity: Severity::Warning,
            rules: Vec::new(),
            solutions: Vec::new(),
            digest: None,
        };
        let mut delivery = DeliveryPolicy::default();
        let (mut max_bytes, mut keep, mut port) = (10 * 1024 * 1024, 5, None);
        let (mut headers, mut to, mut mode) = (Vec::new(), Vec::new(), None);
        let mut allow_plaintext_auth = false;
        let mut digest_every = None;
        for (field, value) in table {
            let field_key = format!("{key}.{}", field.get_ref());
            let name = field.get_ref().as_ref();
            match name {
                "type" | "name" | "path" | "from" | "security" => {
                    if let Some(v) = self.string(value, &field_key) {
                        text.insert(leak_key(name), v);
                    }
                }
                "url" | "secret" | "host" | "username" | "password" => {
                    if let Some((v, unset)) = self.alert_secret(value, &field_key) {
                        if name == "url" && !unset {
                            if let Some(problem) = url_problem(&v) {
                                self.problem(&value.span(), &field_key, problem);
                            }
                        }
                        text.insert(leak_key(name), v);
                    }
                }
                "allow_plaintext_auth" => match value.get_ref().as_bool() {
                    Some(flag) => allow_plaintext_auth = flag,
                    None => self.problem(&value.span(), &field_key, "expected true or false"),
                },
                "min_severity" => match value.get_ref().as_str().and_then(Severity::parse) {
                    Some(severity) => route.min_severity = severity,
                    None => self.problem(
                        &value.span(),
                        &field_key,
                        "expected \"error\", \"warning\" or \"info\"",
                    ),
                },
                "rules" => {
                    route.rules = value
                        .get_ref()
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| self.string(i, &field_key))
                                .collect()
                        })
                        .unwrap_or_else(|| {
                            self.problem(
                                &value.span(),
                                &field_key,
                                "expected a list of policy ids",
                            );
                            Vec::new()
                        });
                }
                "solutions" => route.solutions = self.globs(value, &field_key).unwrap_or_default(),
                "to" => {
                    to = value
                        .get_ref()
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(|i| self.alert_secret(i, &field_key))
                                .map(|(address, _)| address)
                                .collect()
                        })
                        .unwrap_or_else(|| {
                            self.problem(&value.span(), &field_key, "expected a list of addresses");
                            Vec::new()
                        });
                }
                "headers" => {
                    if let Some(table) = self.table(value, &field_key) {
                        for (header, header_value) in table {
                            let header_key = format!("{field_key}.{}", header.get_ref());
                            if ureq::http::HeaderName::from_bytes(header.get_ref().as_bytes())
                                .is_err()
                            {
                                self.problem(
                                    &header.span(),
                                    &header_key,
                                    "not a valid HTTP header name",
                                );
                                continue;
                            }
                            if let Some((v, _)) = self.alert_secret(header_value, &header_key) {
                                if ureq::http::HeaderValue::from_str(&v).is_err() {
                                    // The value may be a secret: never echoed.
                                    self.problem(
                                        &header_value.span(),
                                        &header_key,
                                        "not a valid HTTP header value (control characters?)",
                                    );
                                    continue;
                                }
                                headers.push((header.get_ref().to_string(), Secret::new(v)));
                            }
                        }
                    }
                }
                "mode" => match self.string(value, &field_key).as_deref() {
                    Some("package") => mode = Some(false),
                    Some("digest") => mode = Some(true),
                    Some(_) => self.problem(
                        &value.span(),
                        &field_key,
                        "expected \"package\" or \"digest\"",
                    ),
                    None => {}
                },
                "digest_minutes" => digest_every = self.minutes(value, &field_key),
                "max_age_minutes" => {
                    if let Some(age) = self.minutes(value, &field_key) {
                        delivery.max_age = age;
                    }
                }
                "timeout_s" => match self.whole(value, &field_key, "seconds") {
                    Some(0) => self.problem(&value.span(), &field_key, "must be at least 1"),
                    Some(n) => delivery.timeout = Duration::from_secs(n),
                    None => {}
                },
                "retry_initial_ms" => match self.whole(value, &field_key, "milliseconds") {
                    Some(0) => self.problem(&value.span(), &field_key, "must be at least 1"),
                    Some(n) => delivery.retry_initial = Duration::from_millis(n),
                    None => {}
                },
                "max_bytes" => {
                    max_bytes = self.whole(value, &field_key, "bytes").unwrap_or(max_bytes)
                }
                "keep" => keep = self.whole(value, &field_key, "files").unwrap_or(keep),
                "port" => match self.whole(value, &field_key, "") {
                    Some(n) if (1..=65535).contains(&n) => port = Some(n as u16),
                    _ => self.problem(&value.span(), &field_key, "expected a port number"),
                },
                _ => self.problem(
                    &field.span(),
                    &field_key,
                    &format!("unknown key (expected {KEYS})"),
                ),
            }
        }
        if mode == Some(true) {
            route.digest = Some(digest_every.unwrap_or(Duration::from_secs(15 * 60)));
        }
        let sink_type = text.get("type").cloned();
        let security_text = text.get("security").cloned();
        let span = entry.span();
        let required = |this: &mut Self, text: &mut BTreeMap<&str, String>, field: &str| {
            let found = text.remove(field);
            if found.is_none() {
                this.problem(&span, &format!("{key}.{field}"), "required");
            }
            found
        };
        let kind = match sink_type.as_deref() {
            Some("file") => required(self, &mut text, "path").map(|path| AlertSinkKind::File {
                path: self.resolve(&path),
                max_bytes,
                keep: keep.min(100) as u32,
            }),
            Some("webhook") => required(self, &mut text, "url").map(|url| AlertSinkKind::Webhook {
                url: Secret::new(url),
                headers,
                secret: text.remove("secret").map(Secret::new),
            }),
            Some("teams") => required(self, &mut text, "url").map(|url| AlertSinkKind::Teams {
                url: Secret::new(url),
            }),
            Some("slack") => required(self, &mut text, "url").map(|url| AlertSinkKind::Slack {
                url: Secret::new(url),
            }),
            Some("email") => {
                let security = match security_text.as_deref() {
                    None | Some("starttls") => Some(SmtpSecurity::StartTls),
                    Some("tls") => Some(SmtpSecurity::Tls),
                    Some("plain") => Some(SmtpSecurity::Plain),
                    Some(_) => {
                        self.problem(
                            &entry.span(),
                            &format!("{key}.security"),
                            "expected \"starttls\", \"tls\" or \"plain\"",
                        );
                        None
                    }
                };
                let host = required(self, &mut text, "host");
                let from = required(self, &mut text, "from");
                let credentials = text.contains_key("username") || text.contains_key("password");
                if security == Some(SmtpSecurity::Plain) && credentials {
                    if allow_plaintext_auth {
                        tracing::warn!(sink = %key, "SMTP login over an unencrypted connection (security = \"plain\", allow_plaintext_auth = true): the password crosses the network in the clear");
                    } else {
                        self.problem(
                            &entry.span(),
                            &format!("{key}.security"),
                            "\"plain\" would send the SMTP password unencrypted; use \"starttls\" or \"tls\", or set allow_plaintext_auth = true for a trusted local relay",
                        );
                    }
                }
                if to.is_empty() {
                    self.problem(
                        &entry.span(),
                        &format!("{key}.to"),
                        "required: a list of recipient addresses",
                    );
                }
                match (host, from, security) {
                    (Some(host), Some(from), Some(security)) if !to.is_empty() => {
                        Some(AlertSinkKind::Email {
                            port: port.unwrap_or(match security {
                                SmtpSecurity::StartTls => 587,
                                SmtpSecurity::Tls => 465,
                                SmtpSecurity::Plain => 25,
                            }),
                            host,
                            security,
                            username: text.remove("username").map(Secret::new),
                            password: text.remove("password").map(Secret::new),
                            from,
                            to,
                        })
                    }
                    _ => None,
                }
            }
            Some(other) => {
                self.problem(
                    &entry.span(),
                    &format!("{key}.type"),
                    &format!("unknown sink type {other:?} (expected \"file\", \"webhook\", \"teams\", \"slack\" or \"email\")"),
                );
                None
            }
            None => {
                self.problem(&entry.span(), &format!("{key}.type"), "required");
                None
            }
        }?;
        let name = text
            .remove("name")
            .unwrap_or_else(|| format!("{}-{index}", kind.type_name()));
        Some(AlertSinkConfig {
            name,
            kind,
            route,
            delivery,
        })
    }
}

/// Keys are a fixed set of literals; this maps the matched one to its `'static` spelling.
fn leak_key(name: &str) -> &'static str {
    match name {
        "type" => "type",
        "name" => "name",
        "path" => "path",
        "from" => "from",
        "security" => "security",
        "url" => "url",
        "secret" => "secret",
        "host" => "host",
        "username" => "username",
        _ => "password",
    }
}
