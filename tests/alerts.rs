//! Alerts end to end: the real daemon (and `check --alert`) delivering to real servers the
//! tests start on 127.0.0.1: an HTTP receiver for the webhook, Teams and Slack formats, and an
//! SMTP server for email. Retries, restarts, routing, digests, dead alerts and secrets.

mod support;

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::daemon::{free_address, http_get, wait_until, Root};
use support::receivers::{HttpReceiver, SmtpReceiver};
use support::{Manifest, ZipBuilder};

const WATCH: &str = "[[watch]]\npath = \"drop\"\n";

/// A package that fails (no `[Content_Types].xml`: import-readiness error).
fn failing(name: &str) -> ZipBuilder {
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some(name.into()),
        ..Manifest::default()
    })
    .without("[Content_Types].xml")
}

fn passing(name: &str) -> ZipBuilder {
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some(name.into()),
        ..Manifest::default()
    })
}

fn outbox(root: &Root, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(root.path("state/history.db")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn webhook_teams_and_slack_receive_signed_formatted_alerts() {
    let receiver = HttpReceiver::start(&[]);
    let sinks = format!(
        r#"{WATCH}
[[alerts]]
type = "webhook"
name = "hook"
url = "{}"
secret = "${{SOLGUARD_TEST_SECRET}}"
headers = {{ "X-Team" = "governance" }}

[[alerts]]
type = "teams"
name = "teams"
url = "{}"

[[alerts]]
type = "slack"
name = "slack"
url = "{}"
"#,
        receiver.url("/hook"),
        receiver.url("/teams"),
        receiver.url("/slack")
    );
    let mut root = Root::new("", &sinks, None);
    root.env
        .push(("SOLGUARD_TEST_SECRET".into(), "s3cr3t-key".into()));
    failing("Alerted").write(&root.path("drop"), "Alerted.zip");
    passing("Quiet").write(&root.path("drop"), "Quiet.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    assert!(wait_until(10, || receiver.requests().len() == 3), "{log}");
    let requests = receiver.requests();
    let by_path = |path: &str| requests.iter().find(|r| r.path == path).unwrap();

    let hook = by_path("/hook");
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    assert_eq!(hook.header("x-team"), Some("governance"));
    let body = hook.json();
    assert_eq!(body["unique_name"], "Alerted");
    assert_eq!(body["verdict"], "fail");
    assert_eq!(body["findings"][0]["code"], "missing-content-types");
    assert!(body["reports"][0].as_str().unwrap().ends_with(".json"));
    assert_eq!(
        hook.header("idempotency-key"),
        body["idempotency_key"].as_str()
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cr3t-key").unwrap();
    mac.update(&hook.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hook.header("x-solguard-signature"), Some(expected.as_str()));

    let teams = by_path("/teams").json();
    assert_eq!(teams["type"], "message");
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    assert!(attachment["content"]["body"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Alerted 1.0.0.0 FAIL"));

    let slack = by_path("/slack").json();
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert!(slack["text"].as_str().unwrap().contains("Alerted"));
    assert!(slack["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("missing-content-types"));
    assert!(!log.contains("s3cr3t-key"));
}

#[test]
fn a_500_then_200_is_delivered_once_after_a_retry() {
    let receiver = HttpReceiver::start(&[500, 200]);
    let sinks = format!(
        "{WATCH}\n[[alerts]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\nretry_initial_ms = 300\n",
        receiver.url("/hook")
    );
    let root = Root::new("", &sinks, None);
    let daemon = root.start();
    failing("Retried").write(&root.path("drop"), "Retried.zip");
    daemon.wait_for(20, || receiver.requests().len() >= 2);
    std::thread::sleep(Duration::from_millis(1500));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one failure, one delivery, nothing more");
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
    assert!(daemon.log().contains("the receiver answered HTTP 500"));
    assert_eq!(
        outbox(&root, "SELECT COUNT(*) FROM outbox WHERE sink = 'hook' AND delivered_at IS NOT NULL AND attempts = 2"),
        1
    );
    assert!(daemon.stop().success());
}

#[test]
fn a_receiver_down_until_after_a_restart_gets_the_alert_once() {
    let address = free_address();
    let sinks = format!(
        "{WATCH}\n[[alerts]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"http://{address}/hook/tok3n-in-url\"\nretry_initial_ms = 200\n"
    );
    let root = Root::new("", &sinks, None);
    let daemon = root.start();
    failing("Later").write(&root.path("drop"), "Later.zip");
    daemon.wait_for(20, || daemon.log().contains("Alert delivery failed"));
    assert!(daemon.stop().success());
    let receiver = HttpReceiver::start_at(address, &[]);
    let daemon = root.start();
    daemon.wait_for(20, || receiver.requests().len() == 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.requests().len(), 1, "delivered once");
    assert_eq!(receiver.requests()[0].json()["unique_name"], "Later");
    assert!(
        !daemon.log().contains("tok3n-in-url"),
        "webhook URLs are never logged"
    );
    assert!(daemon.stop().success());
}

#[test]
fn email_arrives_with_subject_and_both_bodies() {
    let smtp = SmtpReceiver::start();
    let sinks = format!(
        "{WATCH}\n[[alerts]]\ntype = \"email\"\nname = \"mail\"\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nfrom = \"solguard@example.test\"\nto = [\"governance@example.test\"]\n",
        smtp.address.port()
    );
    let root = Root::new("", &sinks, None);
    failing("Mailed").write(&root.path("drop"), "Mailed.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    assert!(wait_until(10, || smtp.messages().len() == 1), "{log}");
    let message = &smtp.messages()[0];
    assert!(
        message.contains("RCPT TO:<governance@example.test>"),
        "{message}"
    );
    assert!(
        message.contains("Subject: solguard: Mailed 1.0.0.0 FAIL"),
        "{message}"
    );
    assert!(
        message.contains("text/plain") && message.contains("text/html"),
        "{message}"
    );
    assert!(message.contains("missing-content-types"), "{message}");
}

#[test]
fn routing_filters_by_severity_rule_and_solution() {
    let sinks = r#"
[[watch]]
path = "drop"

[[alerts]]
type = "file"
name = "errors-only"
path = "state/errors.jsonl"
min_severity = "error"

[[alerts]]
type = "file"
name = "publisher"
path = "state/publisher.jsonl"
rules = ["publisher-consistency"]

[[alerts]]
type = "file"
name = "contoso"
path = "state/contoso.jsonl"
solutions = ["contoso*"]
"#;
    let root = Root::new("", sinks, None);
    // Warns only: a table outside the publisher's prefix.
    support::ZipBuilder::with_manifest(&Manifest {
        unique_name: Some("Warned".into()),
        ..Manifest::default()
    })
    .file(
        "customizations.xml",
        support::customizations(
            &[support::entity(
                "new_table",
                &[support::attribute("new_name", "nvarchar", true)],
            )],
            "",
        ),
    )
    .write(&root.path("drop"), "Warned.zip");
    failing("ContosoBroken").write(&root.path("drop"), "ContosoBroken.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    let lines = |file: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(root.path(file))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let names = |file: &str| -> Vec<String> {
        let mut names: Vec<String> = lines(file)
            .iter()
            .map(|a| a["unique_name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("state/errors.jsonl"), ["ContosoBroken"]);
    assert_eq!(names("state/publisher.jsonl"), ["Warned"]);
    assert!(lines("state/publisher.jsonl")[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rule"] == "publisher-consistency"));
    assert_eq!(names("state/contoso.jsonl"), ["ContosoBroken"]);
    // The shipped-style catch-all sink takes both.
    assert_eq!(names("state/alerts.jsonl"), ["ContosoBroken", "Warned"]);
}

#[test]
fn digests_group_alerts_and_dead_alerts_show_in_status_and_metrics() {
    let address = free_address();
    let closed = free_address();
    let sinks = format!(
        r#"{WATCH}
[[alerts]]
type = "file"
name = "digest"
path = "state/digest.jsonl"
mode = "digest"
digest_minutes = 0.03

[[alerts]]
type = "webhook"
name = "down"
url = "http://{closed}/never"
retry_initial_ms = 100
max_age_minutes = 0.02
"#
    );
    let root = Root::new("", &sinks, Some(address));
    let daemon = root.start();
    for name in ["DigestA", "DigestB", "DigestC"] {
        failing(name).write(&root.path("drop"), &format!("{name}.zip"));
    }
    daemon.wait_for(30, || {
        std::fs::read_to_string(root.path("state/digest.jsonl"))
            .is_ok_and(|t| t.contains("DigestA") && t.contains("DigestB") && t.contains("DigestC"))
    });
    let digest_lines: Vec<serde_json::Value> =
        std::fs::read_to_string(root.path("state/digest.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert!(
        digest_lines.len() <= 2,
        "grouped, not one per package: {digest_lines:?}"
    );
    assert!(digest_lines.iter().all(|d| d["digest"] == true));
    let status = || {
        http_get(address, "/status")
            .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
    };
    daemon.wait_for(30, || {
        status().is_some_and(|s| {
            s["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["sink"] == "down" && a["dead"] == 3)
        })
    });
    let (_, metrics) = http_get(address, "/metrics").unwrap();
    assert!(
        metrics.contains("solguard_alerts_dead{sink=\"down\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("solguard_alert_delivery_failures_total{sink=\"down\"}"));
    assert!(daemon.stop().success());
}

#[test]
fn a_missing_secret_variable_stops_the_start() {
    let sinks =
        format!("{WATCH}\n[[alerts]]\ntype = \"slack\"\nurl = \"${{SOLGUARD_UNSET_WEBHOOK}}\"\n");
    let root = Root::new("", &sinks, None);
    let (status, log) = root.once();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("`alerts[1].url`: environment variable SOLGUARD_UNSET_WEBHOOK is not set"),
        "{log}"
    );
}

#[test]
fn check_alert_sends_once_per_history() {
    let receiver = HttpReceiver::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[alerts]]\ntype = \"webhook\"\nurl = \"{}\"\n",
            receiver.url("/ci")
        ),
    )
    .unwrap();
    let package = failing("FromCi").write(dir.path(), "FromCi.zip");
    let history = dir.path().join("history.db");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
            .args(["check", "--alert", "--config"])
            .arg(&config)
            .arg("--history")
            .arg(&history)
            .arg(&package)
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(receiver.requests()[0].json()["source"], "check");
    run();
    assert_eq!(receiver.requests().len(), 1, "the same findings alert once");
}
