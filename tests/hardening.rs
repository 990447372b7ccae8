//! Hardening regressions, end to end through the CLI and the daemon: special files (FIFOs,
//! sockets) are never read and never block `check` or the daemon's workers, and links in drop
//! folders are never followed (each logged once, however many rescans); one `solguard watch` per
//! state folder; webhook deliveries never follow a redirect; webhook URLs, header names, SMTP
//! plaintext logins and `[rules.X]` for an unknown policy are checked when the config loads,
//! with the file and line but never the URL; report names carry 16 hex digits of the hash and
//! never overwrite a report of other bytes; the `file` sink repairs a partial last line; and
//! control or bidirectional characters from a package reach neither the terminal (human output,
//! `history`) raw nor JUnit as XML 1.0-forbidden characters.

mod support;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::daemon::{wait_until, Root};
use support::receivers::HttpReceiver;
use support::{Manifest, ZipBuilder};
use tempfile::TempDir;

const WATCH_DROP: &str = "[[watch]]\npath = \"drop\"\n";

/// What a guarded run left: exit status, standard output and standard error.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "JSON report: {e}\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `solguard ARGS` with a hang guard: killed and failed if still running after
/// `seconds`. Output goes to files, so a large report never blocks on a full pipe.
fn solguard_within(seconds: u64, args: &[&str]) -> Run {
    let dir = TempDir::new().expect("tmp");
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("run solguard");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "solguard {args:?} still running after {seconds} s (killed); stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        status,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

fn solguard(args: &[&str]) -> Run {
    solguard_within(120, args)
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn named(name: &str) -> ZipBuilder {
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some(name.into()),
        ..Manifest::default()
    })
}

/// A package that fails (no `[Content_Types].xml`: an import-readiness error).
fn failing(name: &str) -> ZipBuilder {
    named(name).without("[Content_Types].xml")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn codes(package: &Value) -> Vec<String> {
    package["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| format!("{}/{}", f["rule"].as_str().unwrap_or(""), f["code"]))
                .map(|c| c.replace('"', ""))
                .collect()
        })
        .unwrap_or_default()
}

/// Lines of `log` that mention `needle`.
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `text` holds `PATH:LINE:` for this config path (any line number).
fn names_place(text: &str, config: &Path) -> bool {
    let prefix = format!("{}:", config.display());
    text.match_indices(&prefix).any(|(at, _)| {
        let rest = &text[at + prefix.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    })
}

// --- 1. Special files ------------------------------------------------------------------------

#[test]
fn a_fifo_named_as_config_snapshot_or_settings_is_refused_without_blocking() {
    let dir = TempDir::new().expect("tmp");
    let fifo = dir.path().join("pipe.json");
    mkfifo(&fifo);
    let package = named("Plain").write(dir.path(), "Plain.zip");
    let settings = format!("prod={}", path_str(&fifo));
    for args in [
        vec!["check", "--config", path_str(&fifo)],
        vec!["check", "--environment", path_str(&fifo)],
        vec!["check", "--deployment-settings", settings.as_str()],
    ] {
        let mut all = args.clone();
        all.push(path_str(&package));
        let run = solguard_within(30, &all);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("pipe.json") && run.stderr.contains("named pipe (FIFO)"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn check_reports_a_fifo_and_a_socket_as_special_files_without_blocking() {
    let dir = TempDir::new().expect("tmp");
    let fifo = dir.path().join("pipe.zip");
    mkfifo(&fifo);
    let socket = dir.path().join("sock.zip");
    let _listener = UnixListener::bind(&socket).expect("bind socket");

    for special in [&fifo, &socket] {
        let run = solguard_within(30, &["check", "--format", "json", path_str(special)]);
        assert_eq!(
            run.status.code(),
            Some(1),
            "{}: {}",
            special.display(),
            run.stderr
        );
        let report = run.json();
        let package = &report["packages"][0];
        assert_eq!(package["verdict"], "fail", "{package:#}");
        assert!(
            codes(package).contains(&"package-format/special-file".to_owned()),
            "{}: {:?}",
            special.display(),
            codes(package)
        );
    }
}

#[test]
fn the_daemon_skips_special_files_and_links_once_and_still_evaluates_packages() {
    let root = Root::new("rescan_s = 1", WATCH_DROP, None);
    let drop = root.path("drop");
    mkfifo(&drop.join("pipe.zip"));
    let _listener = UnixListener::bind(drop.join("sock.zip")).expect("bind socket");
    // A link to a real package outside the drop folder: following it would evaluate it.
    let outside = TempDir::new().expect("tmp");
    let target = named("LinkTarget").write(outside.path(), "LinkTarget.zip");
    std::os::unix::fs::symlink(&target, drop.join("link.zip")).expect("symlink");

    let daemon = root.start();
    named("RealPackage").write(&drop, "RealPackage.zip");
    daemon.wait_for(30, || root.report_for("RealPackage").is_some());
    // Several full rescans (rescan_s = 1) over the same special files.
    std::thread::sleep(Duration::from_millis(3500));
    let log = daemon.log();

    let reports = root.reports();
    assert_eq!(
        reports.len(),
        1,
        "only the real package has a report: {:?}\n{log}",
        reports.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    assert!(root.report_for("LinkTarget").is_none(), "link followed");
    let names: Vec<String> = std::fs::read_dir(root.path("reports"))
        .expect("reports folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for special in ["pipe", "sock", "link"] {
        assert!(
            !names.iter().any(|n| n.starts_with(special)),
            "a report for {special}.zip: {names:?}"
        );
    }

    for (file, what) in [
        ("pipe.zip", "not a regular file"),
        ("sock.zip", "not a regular file"),
        ("link.zip", "symbolic link"),
    ] {
        let mentions = lines_with(&log, file);
        assert_eq!(
            mentions.len(),
            1,
            "{file} must be logged exactly once:\n{log}"
        );
        assert!(mentions[0].contains(what), "{file}: {}", mentions[0]);
    }
    assert!(daemon.stop().success());
}

// --- 2. Single instance ----------------------------------------------------------------------

#[test]
fn a_second_watch_on_the_same_state_folder_exits_2_until_the_first_stops() {
    let root = Root::new("", WATCH_DROP, None);
    let first = root.start();
    let config = root.config();
    let second = solguard_within(30, &["watch", "--config", path_str(&config)]);
    assert_eq!(second.status.code(), Some(2), "{}", second.stderr);
    assert!(
        second.stderr.contains("another solguard watch is running"),
        "{}",
        second.stderr
    );
    assert!(first.stop().success());

    let again = root.start();
    named("AfterRestart").write(&root.path("drop"), "AfterRestart.zip");
    again.wait_for(30, || root.report_for("AfterRestart").is_some());
    assert!(again.stop().success());
}

// --- 3. No redirects for webhooks ------------------------------------------------------------

#[test]
fn webhook_deliveries_never_follow_a_redirect() {
    let elsewhere = HttpReceiver::start(&[]);
    let redirector = HttpReceiver::redirecting(&elsewhere.url("/"));
    let dir = TempDir::new().expect("tmp");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[alerts]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\nsecret = \"s3cr3t-key\"\nheaders = {{ \"X-Team\" = \"governance\" }}\n",
            redirector.url("/hook")
        ),
    )
    .expect("config");
    let package = failing("Redirected").write(dir.path(), "Redirected.zip");
    let history = dir.path().join("history.db");
    let run = solguard(&[
        "check",
        "--alert",
        "--config",
        path_str(&config),
        "--history",
        path_str(&history),
        path_str(&package),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        wait_until(10, || !redirector.requests().is_empty()),
        "the webhook was never tried: {}",
        run.stderr
    );
    // Time for a follow-up request, were one ever sent.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(redirector.requests().len(), 1, "one attempt, no retry loop");
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect target got a request (body, headers, signature): {:?}",
        elsewhere.requests()
    );
    assert!(
        run.stderr.contains("not delivered") && run.stderr.contains("HTTP 302"),
        "{}",
        run.stderr
    );
    let db = rusqlite::Connection::open(&history).expect("open history");
    let (delivered, last_error): (Option<String>, Option<String>) = db
        .query_row(
            "SELECT delivered_at, last_error FROM outbox WHERE sink = 'hook'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the alert is in the outbox");
    assert_eq!(delivered, None, "a redirected alert is not delivered");
    assert!(
        last_error.as_deref().is_some_and(|e| e.contains("302")),
        "{last_error:?}"
    );
}

// --- 4. URLs and header names checked at load ------------------------------------------------

#[test]
fn bad_webhook_urls_and_header_names_are_config_errors_without_the_url() {
    let dir = TempDir::new().expect("tmp");
    let package = named("ConfigCheck").write(dir.path(), "ConfigCheck.zip");
    let cases = [
        (
            "ftp",
            "url = \"ftp://example.invalid/x\"\n",
            "alerts[0].url",
            &["ftp://example.invalid/x", "example.invalid"][..],
        ),
        (
            "not-a-url",
            "url = \"not a url\"\n",
            "alerts[0].url",
            &["not a url"][..],
        ),
        (
            "header",
            "url = \"https://hooks.example.invalid/t0ken-in-url\"\nheaders = { \"Bad Header\" = \"x\" }\n",
            "alerts[0].headers",
            &["hooks.example.invalid", "t0ken-in-url"][..],
        ),
    ];
    for (name, body, key, secret) in cases {
        let config = dir.path().join(format!("{name}.toml"));
        // Line 3 holds the offending key (line 4 for the header).
        std::fs::write(&config, format!("[[alerts]]\ntype = \"webhook\"\n{body}")).expect("config");
        let line = if name == "header" { 4 } else { 3 };
        let run = solguard(&["check", "--config", path_str(&config), path_str(&package)]);
        assert_eq!(run.status.code(), Some(2), "{name}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("{}:{line}:", config.display())),
            "{name}: no {}:{line}: in\n{}",
            config.display(),
            run.stderr
        );
        assert!(
            run.stderr.contains(key),
            "{name}: no {key} in\n{}",
            run.stderr
        );
        for text in secret {
            assert!(
                !run.stderr.contains(text),
                "{name}: the URL text {text:?} is in the error:\n{}",
                run.stderr
            );
        }
    }
}

// --- 5. SMTP plaintext login -----------------------------------------------------------------

#[test]
fn a_plain_smtp_login_needs_allow_plaintext_auth() {
    let dir = TempDir::new().expect("tmp");
    let package = named("MailConfig").write(dir.path(), "MailConfig.zip");
    let sink = "[[alerts]]\ntype = \"email\"\nname = \"mail\"\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"plain\"\nusername = \"relay-user\"\npassword = \"hunter2-pw\"\nfrom = \"solguard@example.test\"\nto = [\"governance@example.test\"]\n";
    let config = dir.path().join("plain.toml");
    std::fs::write(&config, sink).expect("config");
    let run = solguard(&["check", "--config", path_str(&config), path_str(&package)]);
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("allow_plaintext_auth"),
        "{}",
        run.stderr
    );
    assert!(
        names_place(&run.stderr, &config),
        "no place in the config:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2-pw"), "{}", run.stderr);

    let allowed = dir.path().join("allowed.toml");
    std::fs::write(&allowed, format!("{sink}allow_plaintext_auth = true\n")).expect("config");
    let run = solguard(&["check", "--config", path_str(&allowed), path_str(&package)]);
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "the config loads: {:?}\n{}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2-pw"), "{}", run.stderr);
}

// --- 6. Report names -------------------------------------------------------------------------

#[test]
fn report_names_carry_16_hex_digits_and_never_overwrite_other_bytes() {
    let root = Root::new("", WATCH_DROP, None);
    let plain = named("PlainName");
    let plain_hash = sha256_hex(&plain.bytes());
    plain.write(&root.path("drop"), "PlainName.zip");

    let taken = named("TakenName");
    let taken_hash = sha256_hex(&taken.bytes());
    let short = format!("TakenName_1.0.0.0_{}.json", &taken_hash[..16]);
    let other_hash = if taken_hash.starts_with('0') {
        "1".repeat(64)
    } else {
        "0".repeat(64)
    };
    let fake = serde_json::json!({
        "schema_version": 2,
        "packages": [{ "unique_name": "TakenName", "version": "1.0.0.0", "sha256": other_hash }],
    })
    .to_string();
    std::fs::create_dir_all(root.path("reports")).expect("reports folder");
    std::fs::write(root.path("reports").join(&short), &fake).expect("fake report");
    taken.write(&root.path("drop"), "TakenName.zip");

    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    let names: Vec<String> = root.reports().into_iter().map(|r| r.0).collect();
    let plain_name = format!("PlainName_1.0.0.0_{}.json", &plain_hash[..16]);
    assert!(
        names.contains(&plain_name),
        "{plain_name} in {names:?}\n{log}"
    );
    let full = format!("TakenName_1.0.0.0_{taken_hash}.json");
    assert!(names.contains(&full), "{full} in {names:?}\n{log}");
    assert_eq!(
        std::fs::read_to_string(root.path("reports").join(&short)).expect("fake report"),
        fake,
        "the report of other bytes is unchanged"
    );
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(root.path("reports").join(&full)).expect("full-hash report"),
    )
    .expect("JSON");
    assert_eq!(written["packages"][0]["sha256"], taken_hash.as_str());
}

// --- 7. Alert file repair --------------------------------------------------------------------

#[test]
fn the_file_sink_cuts_a_partial_last_line_before_appending() {
    let root = Root::new("", WATCH_DROP, None);
    let first = r#"{"idempotency_key": "earlier", "unique_name": "Earlier"}"#;
    std::fs::create_dir_all(root.path("state")).expect("state folder");
    std::fs::write(
        root.path("state/alerts.jsonl"),
        format!("{first}\n{{\"idempotency_key\": \"x\", \"unique_na"),
    )
    .expect("alerts file");
    failing("Appended").write(&root.path("drop"), "Appended.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");

    let text = std::fs::read_to_string(root.path("state/alerts.jsonl")).expect("alerts file");
    assert!(text.ends_with('\n'), "{text}");
    assert!(
        !text.contains("\"unique_na\n") && !text.contains("\"x\""),
        "{text}"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{text}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["unique_name"], "Earlier");
    assert_eq!(lines[1]["unique_name"], "Appended");
}

// --- 8. Unknown rules ------------------------------------------------------------------------

#[test]
fn rules_for_an_unknown_policy_are_a_config_error_with_their_place() {
    let dir = TempDir::new().expect("tmp");
    let package = named("RulesCheck").write(dir.path(), "RulesCheck.zip");
    for (name, body) in [
        ("bare", "# settings\n\n[rules.no-such-rule]\n"),
        (
            "disabled",
            "# settings\n\n[rules.no-such-rule]\nenabled = false\n",
        ),
    ] {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, body).expect("config");
        let run = solguard(&["check", "--config", path_str(&config), path_str(&package)]);
        assert_eq!(run.status.code(), Some(2), "{name}: {}", run.stderr);
        assert!(
            names_place(&run.stderr, &config),
            "{name}: no {}:LINE: in\n{}",
            config.display(),
            run.stderr
        );
        assert!(
            run.stderr.contains("no policy has the id \"no-such-rule\""),
            "{name}: {}",
            run.stderr
        );
    }
}

// --- 9. Control and bidirectional characters -------------------------------------------------

#[test]
fn control_and_bidi_characters_from_a_package_never_reach_the_terminal_raw() {
    let dir = TempDir::new().expect("tmp");
    let forged = named("Evil&#10;::error file=x::forged").write(dir.path(), "forged.zip");
    let rlo = named("Evil\u{202e}txt.exe").write(dir.path(), "rlo.zip");
    let history = dir.path().join("history.db");

    let check = |args: &[&str]| {
        let run = solguard(args);
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{:?}\n{}",
            run.status,
            run.stderr
        );
        run
    };
    let outputs = [
        (
            "check",
            check(&["check", path_str(&forged), path_str(&rlo)]).stdout,
        ),
        (
            "check --history",
            check(&[
                "check",
                "--history",
                path_str(&history),
                path_str(&forged),
                path_str(&rlo),
            ])
            .stdout,
        ),
        (
            "history",
            check(&["history", "--history", path_str(&history)]).stdout,
        ),
    ];
    for (what, output) in outputs {
        assert!(
            !output
                .lines()
                .any(|l| l.trim_start().starts_with("::error")),
            "{what}: a forged workflow command line:\n{output}"
        );
        assert!(
            output.contains("Evil\\u{a}::error file=x::forged"),
            "{what}: the line feed is not shown as \\u{{a}}:\n{output}"
        );
        assert!(
            !output.contains('\u{202e}'),
            "{what}: a raw right-to-left override:\n{output}"
        );
        assert!(
            output.contains("Evil\\u{202e}txt.exe"),
            "{what}: the override is not shown as \\u{{202e}}:\n{output}"
        );
        assert!(
            !output.chars().any(|c| c.is_control() && c != '\n'),
            "{what}: a raw control character:\n{output:?}"
        );
    }
}

// --- 10. JUnit stays XML 1.0 -----------------------------------------------------------------

#[test]
fn junit_output_stays_well_formed_xml_with_control_characters_in_messages() {
    let dir = TempDir::new().expect("tmp");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(
        policies.join("noisy.rhai"),
        "//! id = \"noisy\"\n//! severity = \"error\"\n//! title = \"Noisy\"\n//! description = \"Test policy: a message with control characters.\"\n//! hint = \"h\"\nfn check(pkg, context) { [finding(\"noise\", \"red \\x1b[31m bell \\x07 end\")] }\n",
    )
    .expect("write policy");
    let package = named("JunitCheck").write(dir.path(), "JunitCheck.zip");
    let run = solguard(&[
        "check",
        "--format",
        "junit",
        "--policies",
        path_str(&policies),
        path_str(&package),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let xml = &run.stdout;
    assert!(xml.contains("noise"), "the finding is in the JUnit:\n{xml}");
    assert!(
        !xml.contains('\u{1b}') && !xml.contains('\u{7}'),
        "XML 1.0 forbids these characters:\n{xml:?}"
    );
    assert!(xml.contains("\\u{1b}"), "shown visibly:\n{xml}");
    assert!(xml.contains("\\u{7}"), "shown visibly:\n{xml}");

    let mut reader = quick_xml::Reader::from_str(xml);
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                elements += 1;
                for attribute in e.attributes() {
                    attribute.unwrap_or_else(|err| panic!("bad attribute: {err}\n{xml}"));
                }
            }
            Ok(_) => {}
            Err(err) => panic!(
                "not well-formed at {}: {err}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
    assert!(elements > 2, "{xml}");
}

// --- Storage failures ---------------------------------------------------------------------------

#[test]
fn a_damaged_history_database_stops_the_daemon_at_start() {
    let root = Root::new("", WATCH_DROP, None);
    std::fs::create_dir_all(root.path("state")).expect("state folder");
    std::fs::write(
        root.path("state/history.db"),
        b"this is not an SQLite database, but it is where the history should be",
    )
    .expect("damaged database");
    let (status, log) = root.once();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("history.db") && log.contains("damaged"),
        "names the file and says what is wrong: {log}"
    );
}

#[test]
fn an_empty_history_beside_old_reports_is_a_warning_not_a_silent_fresh_start() {
    let root = Root::new("", WATCH_DROP, None);
    std::fs::create_dir_all(root.path("state")).expect("state folder");
    std::fs::create_dir_all(root.path("reports")).expect("reports folder");
    std::fs::write(root.path("state/history.db"), b"").expect("empty database");
    std::fs::write(root.path("reports/Old_1.0.0.0_0123456789abcdef.json"), "{}").expect("report");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    assert_eq!(
        lines_with(
            &log,
            "missing or empty but the reports folder holds reports"
        )
        .len(),
        1,
        "{log}"
    );
}

/// A folder where `package`'s JSON report must go, so writing its reports fails.
fn block_reports_of(root: &Root, package: &ZipBuilder, name: &str) {
    let hash = sha256_hex(&package.bytes());
    let target = root
        .path("reports")
        .join(format!("{name}_1.0.0.0_{}.json", &hash[..16]));
    std::fs::create_dir_all(target.join("blocker")).expect("blocking folder");
}

#[test]
fn a_package_that_cannot_be_recorded_makes_watch_once_fail() {
    let root = Root::new("", WATCH_DROP, None);
    let package = named("Blocked");
    block_reports_of(&root, &package, "Blocked");
    package.write(&root.path("drop"), "Blocked.zip");
    let (status, log) = root.once();
    assert_eq!(status.code(), Some(1), "a cron job notices: {log}");
    assert!(log.contains("cannot write report"), "{log}");
    assert_eq!(
        root.rows("processed"),
        0,
        "nothing recorded without its reports"
    );
}

#[test]
fn healthz_is_unhealthy_while_reports_cannot_be_written() {
    let address = support::daemon::free_address();
    let root = Root::new("", WATCH_DROP, Some(address));
    let daemon = root.start();
    let healthy = support::daemon::http_get(address, "/healthz").expect("healthz");
    assert_eq!(healthy.0, 200);
    let package = named("Blocked");
    block_reports_of(&root, &package, "Blocked");
    package.write(&root.path("drop"), "Blocked.zip");
    daemon.wait_for(30, || {
        support::daemon::http_get(address, "/healthz").is_some_and(|(code, _)| code == 503)
    });
    let (_, body) = support::daemon::http_get(address, "/healthz").expect("healthz");
    assert!(body.contains("cannot write report"), "{body}");
    std::fs::remove_dir_all(root.path("reports").join(format!(
        "Blocked_1.0.0.0_{}.json",
        &sha256_hex(&package.bytes())[..16]
    )))
    .expect("unblock");
    daemon.wait_for(60, || {
        support::daemon::http_get(address, "/healthz").is_some_and(|(code, _)| code == 200)
    });
    assert!(
        root.report_for("Blocked").is_some(),
        "retried once writes work again"
    );
}

// --- Status server limits ------------------------------------------------------------------------

#[test]
fn a_status_token_guards_every_route_but_healthz() {
    use support::daemon::{free_address, http_get, http_get_with};
    let address = free_address();
    let mut root = Root::new(
        "status_token = \"${SOLGUARD_TEST_STATUS_TOKEN}\"",
        WATCH_DROP,
        Some(address),
    );
    root.env.push((
        "SOLGUARD_TEST_STATUS_TOKEN".into(),
        "s3cr3t-status-token".into(),
    ));
    let daemon = root.start();
    named("Guarded").write(&root.path("drop"), "Guarded.zip");
    daemon.wait_for(30, || root.report_for("Guarded").is_some());
    let report = root
        .reports()
        .into_iter()
        .map(|(name, _)| name)
        .next()
        .expect("a report");
    let report_path = format!("/reports/{report}");
    for path in ["/status", "/metrics", "/", report_path.as_str()] {
        assert_eq!(http_get(address, path).map(|r| r.0), Some(401), "{path}");
        let wrong = http_get_with(address, path, "Authorization: Bearer guess\r\n");
        assert_eq!(wrong.map(|r| r.0), Some(401), "{path} with a wrong token");
        let right = http_get_with(
            address,
            path,
            "Authorization: Bearer s3cr3t-status-token\r\n",
        );
        assert_eq!(right.map(|r| r.0), Some(200), "{path} with the token");
    }
    let reload = support::daemon::http_exchange(address, "POST", "/reload", "");
    assert_eq!(
        reload.map(|r| r.0),
        Some(401),
        "POST /reload without the token"
    );
    assert_eq!(http_get(address, "/healthz").map(|r| r.0), Some(200));
    assert!(
        !daemon.log().contains("s3cr3t-status-token"),
        "the token never reaches the log"
    );
}

#[test]
fn idle_connections_to_the_status_server_neither_exhaust_it_nor_stop_packages() {
    use std::io::Read;
    use support::daemon::{free_address, http_get};
    let address = free_address();
    let root = Root::new("status_max_connections = 16", WATCH_DROP, Some(address));
    let daemon = root.start();
    // Far more idle connections than the cap: the excess is closed at once.
    let idle: Vec<std::net::TcpStream> = (0..400)
        .filter_map(|_| std::net::TcpStream::connect(address).ok())
        .collect();
    assert!(idle.len() > 100, "connections opened: {}", idle.len());
    named("StillProcessed").write(&root.path("drop"), "StillProcessed.zip");
    daemon.wait_for(30, || root.report_for("StillProcessed").is_some());
    assert!(!daemon.log().contains("disappeared"), "{}", daemon.log());
    // A client that sends no request headers is cut off after the header timeout.
    let mut silent = idle.into_iter().next().expect("one connection");
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = silent.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err() && started.elapsed() < Duration::from_secs(25),
        "the silent connection is closed: {read:?} after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "within the header timeout"
    );
    // With the idle connections gone, the server answers again.
    daemon.wait_for(30, || {
        http_get(address, "/healthz").is_some_and(|r| r.0 == 200)
    });
}

// --- The bytes hashed are the bytes evaluated ------------------------------------------------------

/// How many `processed` rows carry this content hash.
fn processed_rows_of(root: &Root, hash: &str) -> i64 {
    let db = rusqlite::Connection::open(root.path("state/history.db")).expect("open db");
    db.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    db.query_row(
        "SELECT COUNT(*) FROM processed WHERE sha256 = ?1",
        [hash],
        |r| r.get(0),
    )
    .expect("count rows")
}

#[test]
fn a_package_swapped_or_deleted_after_hashing_is_never_judged_under_the_old_hash() {
    // The daemon waits between hashing a package and reading it, so the test can act there.
    let mut root = Root::new("", WATCH_DROP, None);
    root.env
        .push(("SOLGUARD_TEST_READ_DELAY_MS".into(), "1500".into()));
    let daemon = root.start();
    let first = named("FirstRelease");
    let second = failing("SecondRelease");
    let (first_hash, second_hash) = (sha256_hex(&first.bytes()), sha256_hex(&second.bytes()));
    first.write(&root.path("drop"), "release.zip");
    std::thread::sleep(Duration::from_millis(1200));
    // Renamed over the file the daemon has hashed but not read yet.
    let staged = second.write(&root.path("."), "staged.zip");
    std::fs::rename(&staged, root.path("drop/release.zip")).expect("swap");
    // Reports are written before the record commits: wait for the record.
    daemon.wait_for(30, || processed_rows_of(&root, &second_hash) == 1);
    assert_eq!(
        processed_rows_of(&root, &first_hash),
        0,
        "the first bytes were never evaluated, so nothing is recorded under their hash"
    );
    let report = root.report_for("SecondRelease").expect("report");
    assert_eq!(report["packages"][0]["sha256"], second_hash.as_str());
    assert!(root.report_for("FirstRelease").is_none());

    // Deleted in the same window: no verdict at all, not a permanent failure.
    let third = named("ThirdRelease");
    let third_hash = sha256_hex(&third.bytes());
    third.write(&root.path("drop"), "gone.zip");
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::remove_file(root.path("drop/gone.zip")).expect("delete");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(processed_rows_of(&root, &third_hash), 0, "{}", daemon.log());
    assert!(root.report_for("ThirdRelease").is_none());
}
