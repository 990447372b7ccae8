//! The daemon's config sections through the library: the shipped `config.toml` parses to the
//! documented defaults, every problem is reported at once with its line, and per-folder rules
//! merge over the global ones. Also the file-name and move rules the daemon applies.

use std::path::Path;
use std::time::Duration;

use solguard::config::{AlertSinkKind, Config, Disposition, SHIPPED_CONFIG};
use solguard::policy::Severity;
use solguard::watch::{is_temporary_name, move_into};

#[test]
fn the_shipped_config_is_valid_and_says_what_the_defaults_are() {
    let base = Path::new("/srv/solguard");
    let config = Config::parse_in(SHIPPED_CONFIG, Path::new("config.toml"), base).unwrap();
    let daemon = &config.daemon;
    assert_eq!(daemon.reports_dir, base.join("reports"));
    assert_eq!(
        daemon.history,
        solguard::config::HistoryLocation::Sqlite(base.join("state/history.db"))
    );
    assert_eq!(daemon.settle, Duration::from_secs(2));
    assert_eq!(daemon.incomplete_timeout, Duration::from_secs(600));
    assert_eq!(daemon.status, Some("127.0.0.1:9464".parse().unwrap()));
    assert!(daemon.worker_count() >= 1);
    assert!(!daemon.recheck_on_policy_change);
    assert_eq!(config.watches.len(), 1);
    let drop = &config.watches[0];
    assert_eq!(drop.path, base.join("drop"));
    assert_eq!(drop.disposition, Disposition::Leave);
    assert!(drop.folders && !drop.recursive && !drop.poll);
    assert_eq!(config.alerts.len(), 1);
    assert!(matches!(
        &config.alerts[0].kind,
        AlertSinkKind::File { path, .. } if path == &base.join("state/alerts.jsonl")
    ));
    // The same file is what `Config::default()` means for a daemon without a config.
    assert_eq!(
        Config::parse_in("", Path::new("empty.toml"), base)
            .unwrap()
            .daemon,
        config.daemon
    );
}

#[test]
fn every_daemon_problem_is_reported_at_once_with_its_line() {
    let text = r#"
[daemon]
settle_ms = "soon"
status = "localhost"
colour = "blue"

[[watch]]
include = ["[unclosed"]
disposition = "shred"

[[watch]]
path = "a"
[[watch]]
path = "b"
name = "a"

[[alerts]]
type = "pager"
"#;
    let error = Config::parse(text, Path::new("daemon.toml")).unwrap_err();
    let message = error.to_string();
    for expected in [
        "daemon.toml:3:13: `daemon.settle_ms`: expected a whole number of milliseconds",
        "daemon.toml:4:10: `daemon.status`: expected an address",
        "daemon.toml:5:1: `daemon.colour`: unknown key",
        "`watch[0].include`: \"[unclosed\" is not a valid glob",
        "`watch[0].disposition`: expected \"leave\" or \"move\"",
        "`watch[0].path`: required",
        "`watch[2].name`: another [[watch]] is already named \"a\"",
        "`alerts[0].type`: unknown sink type \"pager\"",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[test]
fn folders_have_their_own_targets_rules_and_move_folders() {
    let text = r#"
[rules.data-loss-risk]
severity = "warning"
[targets.prod]
version = "9.2.0.0"

[[watch]]
path = "prod-drop"
disposition = "move"
accepted = "ok"
[watch.targets.prod]
version = "9.1.0.0"
[watch.rules.data-loss-risk]
severity = "error"
[watch.rules.data-loss-risk.params]
ignore = ["con_legacy"]
"#;
    let config = Config::parse_in(text, Path::new("c.toml"), Path::new("/r")).unwrap();
    let watch = &config.watches[0];
    assert_eq!(watch.name, "prod-drop");
    assert_eq!(
        watch.disposition,
        Disposition::Move {
            accepted: Path::new("/r/prod-drop/ok").into(),
            rejected: Path::new("/r/prod-drop/rejected").into(),
        }
    );
    let settings = config.eval_for(watch);
    assert_eq!(settings.targets.targets.len(), 1);
    assert_eq!(settings.targets.targets[0].version, "9.1.0.0");
    let rule = &settings.rules["data-loss-risk"];
    assert_eq!(rule.severity, Some(Severity::Error));
    assert!(rule.params.contains_key("ignore"));
    // The global settings are untouched for other folders.
    assert_eq!(
        config.eval.rules["data-loss-risk"].severity,
        Some(Severity::Warning)
    );
}

#[test]
fn names_of_copies_in_progress_are_recognised() {
    for name in [
        "Sol.zip.tmp",
        "Sol.zip.part",
        "Sol.zip.crdownload",
        "~$Sol.zip",
        ".Sol.zip",
        "SOL.ZIP.PART",
    ] {
        assert!(is_temporary_name(name), "{name}");
    }
    for name in ["Sol.zip", "Sol_1_0_managed.zip", "tmp.zip", "part-2.zip"] {
        assert!(!is_temporary_name(name), "{name}");
    }
}

#[test]
fn moves_never_overwrite_and_number_the_newcomer() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("accepted");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("Sol.zip"), b"first").unwrap();
    std::fs::write(dest.join("Sol (2).zip"), b"second").unwrap();
    let incoming = dir.path().join("Sol.zip");
    std::fs::write(&incoming, b"third").unwrap();
    let moved = move_into(&incoming, &dest).unwrap();
    assert_eq!(moved, dest.join("Sol (3).zip"));
    assert!(!incoming.exists());
    assert_eq!(std::fs::read(dest.join("Sol.zip")).unwrap(), b"first");
    assert_eq!(std::fs::read(dest.join("Sol (2).zip")).unwrap(), b"second");
    assert_eq!(std::fs::read(&moved).unwrap(), b"third");
    // Folders (unpacked packages) move the same way.
    let tree = dir.path().join("Unpacked");
    std::fs::create_dir_all(tree.join("Other")).unwrap();
    let moved = move_into(&tree, &dest).unwrap();
    assert!(moved.join("Other").is_dir());
}

#[test]
fn alert_sinks_parse_with_routes_and_hidden_secrets() {
    use solguard::config::{AlertSinkKind, SmtpSecurity};
    std::env::set_var(
        "SOLGUARD_CONFIG_TEST_URL",
        "https://hooks.example.test/T0/B0/tok3n",
    );
    let text = r#"
[[alerts]]
type = "webhook"
name = "hook"
url = "${SOLGUARD_CONFIG_TEST_URL}"
secret = "${SOLGUARD_CONFIG_TEST_URL}"
headers = { "X-Team" = "gov" }
min_severity = "error"
rules = ["data-loss-risk"]
solutions = ["Contoso*"]
timeout_s = 3

[[alerts]]
type = "slack"
url = "https://hooks.slack.example.test/plain"
mode = "digest"
digest_minutes = 30

[[alerts]]
type = "email"
host = "smtp.example.test"
security = "tls"
from = "solguard@example.test"
to = ["a@example.test", "b@example.test"]
"#;
    let config = Config::parse(text, Path::new("alerts.toml")).unwrap();
    let hook = &config.alerts[0];
    assert_eq!(hook.route.min_severity, Severity::Error);
    assert_eq!(hook.route.rules, ["data-loss-risk"]);
    assert!(hook.route.solutions[0].matches("ContosoCore"));
    assert_eq!(hook.delivery.timeout, Duration::from_secs(3));
    let AlertSinkKind::Webhook { url, headers, .. } = &hook.kind else {
        panic!("webhook expected");
    };
    assert_eq!(url.expose(), "https://hooks.example.test/T0/B0/tok3n");
    assert_eq!(headers[0].0, "X-Team");
    assert!(
        !format!("{config:?}").contains("tok3n"),
        "secrets stay out of Debug"
    );
    assert_eq!(config.alerts[1].name, "slack-1");
    assert_eq!(
        config.alerts[1].route.digest,
        Some(Duration::from_secs(1800))
    );
    assert!(matches!(
        config.alerts[2].kind,
        AlertSinkKind::Email { port: 465, security: SmtpSecurity::Tls, ref to, .. } if to.len() == 2
    ));

    let broken = "[[alerts]]\ntype = \"email\"\nhost = \"h\"\nsecurity = \"ssl\"\n[[alerts]]\ntype = \"webhook\"\nmode = \"burst\"\n";
    let message = Config::parse(broken, Path::new("b.toml"))
        .unwrap_err()
        .to_string();
    for expected in [
        "`alerts[0].security`: expected \"starttls\", \"tls\" or \"plain\"",
        "`alerts[0].from`: required",
        "`alerts[0].to`: required",
        "`alerts[1].mode`: expected \"package\" or \"digest\"",
        "`alerts[1].url`: required",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in:\n{message}"
        );
    }
}

#[test]
fn a_unc_share_is_polled_unless_the_config_says_otherwise() {
    let text = r#"
[[watch]]
path = '\\fileserver\drops\releases'

[[watch]]
path = '//fileserver/drops/hotfixes'
name = "hotfixes"

[[watch]]
path = '\\fileserver\drops\events'
name = "events"
poll = false

[[watch]]
path = 'C:\Releases\Drop'
name = "local"
"#;
    let config = Config::parse(text, Path::new("config.toml")).expect("valid");
    let polled: Vec<(&str, bool)> = config
        .watches
        .iter()
        .map(|w| (w.name.as_str(), w.poll))
        .collect();
    assert_eq!(
        polled,
        [
            (r"\\fileserver\drops\releases", true),
            ("hotfixes", true),
            ("events", false),
            ("local", false)
        ]
    );
}
