//! The daemon's sections of `config.toml`: `[daemon]` (outputs, state, pacing, status server),
//! `[[watch]]` (drop folders with their own targets, rules and dispositions) and `[report]`.
//! Validated by the same checker as the policy sections.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checker::{Checker, Value};
use super::settings::{ReportFormat, RuleSettings, Targets};
use super::HistoryLocation;

/// Status server address when the config names none.
pub const DEFAULT_STATUS: &str = "127.0.0.1:9464";

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Folder for per-package reports.
    pub reports_dir: PathBuf,
    /// History database: an SQLite file, or a PostgreSQL URL several daemons share.
    pub history: HistoryLocation,
    /// How long a claim on a package (or a leased alert, or a scheduled audit's run) holds
    /// before another daemon may take the work over from one that died.
    pub lease: Duration,
    /// This daemon's name among several on one history (default: host name and process id).
    pub name: Option<String>,
    /// Packages read and evaluated at once; 0 means one per core.
    pub workers: usize,
    /// How long a file's size and modification time must hold still before it is read.
    pub settle: Duration,
    /// How long a settled file may stay unreadable before it is reported as `package-format`.
    pub incomplete_timeout: Duration,
    /// Interval of full rescans that catch events the operating system dropped.
    pub rescan: Duration,
    /// Interval between scans of folders in polling mode.
    pub poll_interval: Duration,
    /// Status server address; `None` turns it off.
    pub status: Option<SocketAddr>,
    /// Bearer token `/status` and `/metrics` require (`/healthz` stays open).
    pub status_token: Option<super::Secret>,
    /// Connections the status server serves at once; more are closed at once.
    pub status_max_connections: usize,
    /// Evaluate already-seen packages again when the policy set changes.
    pub recheck_on_policy_change: bool,
    /// How long shutdown waits for in-flight packages.
    pub shutdown_grace: Duration,
}

impl DaemonSettings {
    /// The defaults, with relative paths under `base`.
    pub fn defaults_in(base: &Path) -> Self {
        Self {
            reports_dir: base.join("reports"),
            history: HistoryLocation::Sqlite(base.join("state/history.db")),
            lease: Duration::from_secs(60),
            name: None,
            workers: 0,
            settle: Duration::from_secs(2),
            incomplete_timeout: Duration::from_secs(600),
            rescan: Duration::from_secs(60),
            poll_interval: Duration::from_secs(2),
            status: DEFAULT_STATUS.parse().ok(),
            status_token: None,
            status_max_connections: 256,
            recheck_on_policy_change: false,
            shutdown_grace: Duration::from_secs(30),
        }
    }

    /// Worker count with 0 resolved to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(2, usize::from)
    }
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self::defaults_in(Path::new(""))
    }
}

/// What happens to a package after evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Leave it where it landed.
    Leave,
    /// Move accepted packages to `accepted`, the others to `rejected`.
    Move {
        accepted: PathBuf,
        rejected: PathBuf,
    },
}

/// `[[watch]]`: one drop folder.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchFolder {
    pub name: String,
    pub path: PathBuf,
    /// File-name globs of packages (case-insensitive); default `*.zip`.
    pub include: Vec<glob::Pattern>,
    /// File-name globs never read, checked after `include`.
    pub exclude: Vec<glob::Pattern>,
    /// Also take unpacked solution folders.
    pub folders: bool,
    /// Search subfolders too.
    pub recursive: bool,
    /// Scan on a timer instead of relying on file events (network shares; the default for a
    /// UNC path such as `\\server\share`).
    pub poll: bool,
    pub disposition: Disposition,
    pub rules: BTreeMap<String, RuleSettings>,
    pub targets: Targets,
}

impl Checker<'_> {
    pub(super) fn bool(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        let flag = value.get_ref().as_bool();
        if flag.is_none() {
            self.problem(&value.span(), key, "expected true or false");
        }
        flag
    }

    pub(super) fn whole(&mut self, value: &Value<'_>, key: &str, unit: &str) -> Option<u64> {
        let number = value
            .get_ref()
            .as_integer()
            .and_then(|i| i.as_str().parse::<u64>().ok());
        if number.is_none() {
            self.problem(
                &value.span(),
                key,
                &format!("expected a whole number of {unit}"),
            );
        }
        number
    }

    pub(super) fn globs(&mut self, value: &Value<'_>, key: &str) -> Option<Vec<glob::Pattern>> {
        let Some(items) = value.get_ref().as_array() else {
            self.problem(&value.span(), key, "expected a list of glob patterns");
            return None;
        };
        let mut patterns = Vec::new();
        for item in items {
            let pattern = self
                .string(item, key)
                .map(|text| (glob::Pattern::new(&text), text));
            match pattern {
                Some((Ok(pattern), _)) => patterns.push(pattern),
                Some((Err(error), text)) => self.problem(
                    &item.span(),
                    key,
                    &format!("{text:?} is not a valid glob: {error}"),
                ),
                None => {}
            }
        }
        Some(patterns)
    }

    /// A history location: a file path (relative to the config's folder) or a PostgreSQL URL,
    /// whose `${VAR}`s are expanded so a password can come from the environment.
    fn history_location(&mut self, value: &Value<'_>, key: &str) -> Option<HistoryLocation> {
        let text = self.string(value, key)?;
        let text = if super::is_postgres_url(&text) {
            self.secret_string(value, key)?
        } else {
            text
        };
        match HistoryLocation::parse_in(&text, &self.resolve("")) {
            Ok(location) => Some(location),
            Err(error) => {
                self.problem(&value.span(), key, &error.to_string());
                None
            }
        }
    }

    pub(super) fn daemon(&mut self, value: &Value<'_>, daemon: &mut DaemonSettings) {
        let Some(table) = self.table(value, "daemon") else {
            return;
        };
        let millis = Duration::from_millis;
        let seconds = Duration::from_secs;
        for (key, value) in table {
            let name = format!("daemon.{}", key.get_ref());
            match key.get_ref().as_ref() {
                "reports" => {
                    if let Some(dir) = self.string(value, &name) {
                        daemon.reports_dir = self.resolve(&dir);
                    }
                }
                "history" => {
                    if let Some(location) = self.history_location(value, &name) {
                        daemon.history = location;
                    }
                }
                "lease_s" => match self.whole(value, &name, "seconds") {
                    Some(n) if n < 5 => self.problem(&value.span(), &name, "must be at least 5"),
                    Some(n) => daemon.lease = seconds(n),
                    None => {}
                },
                "name" => match self.string(value, &name) {
                    Some(text) if text.trim().is_empty() || text.len() > 200 => self.problem(
                        &value.span(),
                        &name,
                        "expected a name of 1 to 200 characters",
                    ),
                    Some(text) => daemon.name = Some(text),
                    None => {}
                },
                "workers" => {
                    if let Some(n) = self.whole(value, &name, "workers") {
                        daemon.workers = n as usize;
                    }
                }
                "settle_ms" => {
                    if let Some(n) = self.whole(value, &name, "milliseconds") {
                        daemon.settle = millis(n);
                    }
                }
                "incomplete_timeout_s" => {
                    if let Some(n) = self.whole(value, &name, "seconds") {
                        daemon.incomplete_timeout = seconds(n);
                    }
                }
                "rescan_s" => match self.whole(value, &name, "seconds") {
                    Some(0) => self.problem(&value.span(), &name, "must be at least 1"),
                    Some(n) => daemon.rescan = seconds(n),
                    None => {}
                },
                "poll_interval_ms" => match self.whole(value, &name, "milliseconds") {
                    Some(n) if n < 50 => self.problem(&value.span(), &name, "must be at least 50"),
                    Some(n) => daemon.poll_interval = millis(n),
                    None => {}
                },
                "shutdown_grace_s" => {
                    if let Some(n) = self.whole(value, &name, "seconds") {
                        daemon.shutdown_grace = seconds(n);
                    }
                }
                "recheck_on_policy_change" => {
                    if let Some(flag) = self.bool(value, &name) {
                        daemon.recheck_on_policy_change = flag;
                    }
                }
                "status_token" => {
                    if let Some(token) = self.secret_string(value, &name) {
                        if token.is_empty() {
                            self.problem(&value.span(), &name, "the token is empty (is the variable set?)");
                        } else {
                            daemon.status_token = Some(super::Secret::new(token));
                        }
                    }
                }
                "status_max_connections" => {
                    if let Some(n) = self.whole(value, &name, "connections") {
                        if n == 0 {
                            self.problem(&value.span(), &name, "at least 1");
                        } else {
                            daemon.status_max_connections = n as usize;
                        }
                    }
                }
                "status" => match self.string(value, &name) {
                    Some(text) if text == "off" => daemon.status = None,
                    Some(text) => match text.parse::<SocketAddr>() {
                        Ok(address) => daemon.status = Some(address),
                        Err(_) => self.problem(
                            &value.span(),
                            &name,
                            "expected an address like \"127.0.0.1:9464\", or \"off\"",
                        ),
                    },
                    None => {}
                },
                _ => self.problem(
                    &key.span(),
                    &name,
                    "unknown key (expected reports, history, lease_s, name, workers, settle_ms, incomplete_timeout_s, rescan_s, poll_interval_ms, shutdown_grace_s, recheck_on_policy_change, status, status_token or status_max_connections)",
                ),
            }
        }
    }

    pub(super) fn report(&mut self, value: &Value<'_>, formats: &mut Vec<ReportFormat>) {
        let Some(table) = self.table(value, "report") else {
            return;
        };
        for (key, value) in table {
            let name = format!("report.{}", key.get_ref());
            if key.get_ref().as_ref() != "formats" {
                self.problem(&key.span(), &name, "unknown key (expected formats)");
                continue;
            }
            let Some(items) = value.get_ref().as_array() else {
                self.problem(&value.span(), &name, "expected a list of formats");
                continue;
            };
            formats.clear();
            for item in items {
                match self.string(item, &name).map(|t| (ReportFormat::parse(&t), t)) {
                    Some((Some(ReportFormat::Human), _)) => self.problem(
                        &item.span(),
                        &name,
                        "human is for terminals; report files are json, markdown, html, sarif or junit",
                    ),
                    Some((Some(format), _)) => formats.push(format),
                    Some((None, text)) => self.problem(
                        &item.span(),
                        &name,
                        &format!("unknown format {text:?} (expected json, markdown, html, sarif or junit)"),
                    ),
                    None => {}
                }
            }
        }
    }

    pub(super) fn watches(
        &mut self,
        value: &Value<'_>,
        plain: Option<&toml::Value>,
    ) -> Vec<WatchFolder> {
        let Some(list) = value.get_ref().as_array() else {
            self.problem(&value.span(), "watch", "expected [[watch]] entries");
            return Vec::new();
        };
        let mut watches: Vec<WatchFolder> = Vec::new();
        for (index, entry) in list.iter().enumerate() {
            let key = format!("watch[{index}]");
            let Some(table) = self.table(entry, &key) else {
                continue;
            };
            let plain_rules = plain
                .and_then(|w| w.get(index))
                .and_then(|w| w.get("rules"));
            let Some(watch) = self.watch(entry, table, &key, plain_rules) else {
                continue;
            };
            if watches.iter().any(|w| w.name == watch.name) {
                self.problem(
                    &entry.span(),
                    &format!("{key}.name"),
                    &format!("another [[watch]] is already named {:?}", watch.name),
                );
            }
            watches.push(watch);
        }
        watches
    }

    fn watch(
        &mut self,
        entry: &Value<'_>,
        table: &toml::de::DeTable<'_>,
        key: &str,
        plain_rules: Option<&toml::Value>,
    ) -> Option<WatchFolder> {
        let mut path = None;
        let mut name = None;
        let mut watch = WatchFolder {
            name: String::new(),
            path: PathBuf::new(),
            include: vec![glob::Pattern::new("*.zip").ok()?],
            exclude: Vec::new(),
            folders: true,
            recursive: false,
            poll: false,
            disposition: Disposition::Leave,
            rules: BTreeMap::new(),
            targets: Targets::default(),
        };
        let mut disposition = None;
        let mut poll = None;
        let (mut accepted, mut rejected) = ("accepted".to_owned(), "rejected".to_owned());
        for (field, value) in table {
            let field_key = format!("{key}.{}", field.get_ref());
            match field.get_ref().as_ref() {
                "path" => path = self.string(value, &field_key),
                "name" => name = self.string(value, &field_key),
                "include" => {
                    if let Some(globs) = self.globs(value, &field_key) {
                        watch.include = globs;
                    }
                }
                "exclude" => watch.exclude = self.globs(value, &field_key).unwrap_or_default(),
                "folders" => watch.folders = self.bool(value, &field_key).unwrap_or(true),
                "recursive" => watch.recursive = self.bool(value, &field_key).unwrap_or(false),
                "poll" => poll = self.bool(value, &field_key),
                "disposition" => match self.string(value, &field_key).as_deref() {
                    Some("leave") => disposition = Some(false),
                    Some("move") => disposition = Some(true),
                    Some(_) => self.problem(
                        &value.span(),
                        &field_key,
                        "expected \"leave\" or \"move\"",
                    ),
                    None => {}
                },
                "accepted" => accepted = self.string(value, &field_key).unwrap_or(accepted),
                "rejected" => rejected = self.string(value, &field_key).unwrap_or(rejected),
                "rules" => watch.rules = self.rules(value, plain_rules, &field_key),
                "targets" => watch.targets = self.targets(value, &field_key),
                _ => self.problem(
                    &field.span(),
                    &field_key,
                    "unknown key (expected path, name, include, exclude, folders, recursive, poll, disposition, accepted, rejected, rules or targets)",
                ),
            }
        }
        let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
            self.problem(&entry.span(), &format!("{key}.path"), "required");
            return None;
        };
        watch.path = self.resolve(&path);
        // File events do not cross SMB: a UNC share is polled unless the config says not to.
        watch.poll = poll.unwrap_or_else(|| is_unc_path(&path));
        watch.name = name.unwrap_or(path);
        if disposition == Some(true) {
            // Relative to the drop folder, so `accepted/` and `rejected/` sit inside it.
            watch.disposition = Disposition::Move {
                accepted: watch.path.join(accepted),
                rejected: watch.path.join(rejected),
            };
        }
        Some(watch)
    }
}

/// A Windows network path: `\\server\share\…` (or `//server/share/…`).
pub fn is_unc_path(path: &str) -> bool {
    path.starts_with("\\\\") || path.starts_with("//")
}
