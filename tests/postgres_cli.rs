//! The commands on a PostgreSQL history (a real server the tests start on 127.0.0.1): the
//! lineage across `check --history URL` runs, `history` and `diff` reading it, moving an SQLite
//! history in with `history migrate`, passwords from the URL or `PGPASSWORD` never shown, and
//! a server out of reach named in a clear error.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::pg::{shared_server, PASSWORD};
use support::releases::{codes, manifest, Releases};

fn solguard(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .env_remove("PGPASSWORD")
        .envs(env.iter().copied())
        .output()
        .expect("run solguard")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One `check --history` run on `path`; its one package.
fn check_one(history: &str, path: &str) -> Value {
    let output = solguard(
        &[
            "check",
            "--history",
            history,
            "--format",
            "json",
            "--fail-on",
            "never",
            path,
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report["packages"][0].clone()
}

fn history_json(history: &str) -> Value {
    let output = solguard(&["history", "--history", history, "--format", "json"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn releases_checked_in_separate_runs_are_one_lineage_on_postgres() {
    let url = shared_server().create_database();
    let releases = Releases::new();
    let first = releases.add(&manifest("Core", "1.0.0.0", true), &["con_cost"]);
    let second = releases.add(&manifest("Core", "1.1.0.0", true), &[]);
    assert_eq!(codes(&check_one(&url, &first)), Vec::<String>::new());
    let upgrade = check_one(&url, &second);
    assert_eq!(upgrade["previous_version"], "1.0.0.0", "{upgrade:#}");
    assert_eq!(codes(&upgrade), ["data-loss-risk/attribute-removed"]);

    let listed = history_json(&url);
    assert_eq!(listed[0]["unique_name"], "Core");
    assert_eq!(listed[0]["releases"].as_array().map(Vec::len), Some(2));
    // `diff` finds the stored release in the same database.
    let output = solguard(
        &[
            "diff",
            "Core",
            &second,
            "--history",
            &url,
            "--format",
            "json",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let diff: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(diff["old"]["version"], "1.0.0.0");
    assert!(!diff["deletes_data"].as_array().expect("list").is_empty());
}

#[test]
fn an_sqlite_history_moves_into_postgres_whole() {
    let releases = Releases::new();
    let db = releases.dir.path().join("history.db");
    let db = db.to_str().expect("utf-8");
    for version in ["1.0.0.0", "1.1.0.0", "1.2.0.0"] {
        let path = releases.add(&manifest("Core", version, true), &["con_cost"]);
        check_one(db, &path);
    }
    check_one(db, &releases.add(&manifest("Other", "2.0.0.0", false), &[]));
    let url = shared_server().create_database();
    let output = solguard(&["history", "migrate", "--from", db, "--to", &url], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.lines()
            .any(|l| l.starts_with("releases") && l.contains(" 4 rows")),
        "{said}"
    );
    assert!(
        !said.contains(PASSWORD),
        "the password is never shown: {said}"
    );
    assert!(said.contains(":***@"), "{said}");
    assert_eq!(
        history_json(&url),
        history_json(db),
        "every release, as it was"
    );

    // The lineage goes on in PostgreSQL where it stopped in SQLite.
    let next = check_one(
        &url,
        &releases.add(&manifest("Core", "1.3.0.0", true), &["con_cost"]),
    );
    assert_eq!(next["previous_version"], "1.2.0.0");

    // A second migration into the same database is refused and changes nothing.
    let again = solguard(&["history", "migrate", "--from", db, "--to", &url], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("migrate into a new, empty database"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        history_json(&url)[0]["releases"].as_array().map(Vec::len),
        Some(4)
    );
}

#[test]
fn passwords_come_from_the_url_or_pgpassword_and_are_never_shown() {
    let url = shared_server().create_database();
    let without = url.replace(&format!(":{PASSWORD}@"), "@");
    assert_ne!(url, without);
    let releases = Releases::new();
    let path = releases.add(&manifest("Core", "1.0.0.0", true), &[]);

    let refused = solguard(&["check", "--history", &without, &path], &[]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "no password: {}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("history database"),
        "{}",
        stderr(&refused)
    );

    let from_env = solguard(
        &["check", "--history", &without, "--format", "json", &path],
        &[("PGPASSWORD", PASSWORD)],
    );
    assert!(from_env.status.code() == Some(0), "{}", stderr(&from_env));

    let wrong = url.replace(PASSWORD, "not-the-password");
    let rejected = solguard(&["check", "--history", &wrong, &path], &[]);
    assert_eq!(rejected.status.code(), Some(2));
    let message = stderr(&rejected);
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
    assert!(message.contains(":***@127.0.0.1"), "{message}");
}

#[test]
fn a_server_out_of_reach_is_a_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let url = format!("postgres://solguard:{PASSWORD}@{closed}/solguard");
    let releases = Releases::new();
    let path = releases.add(&manifest("Core", "1.0.0.0", true), &[]);
    let output = solguard(&["check", "--history", &url, &path], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("postgres://solguard:***@{closed}/solguard")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(!message.contains(PASSWORD));

    let bad = solguard(
        &[
            "check",
            "--history",
            "postgres://u:p@h/db?sslmode=sometimes",
            &path,
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("not a valid PostgreSQL URL"),
        "{}",
        stderr(&bad)
    );
}

/// A test certificate authority and a server certificate it signed for 127.0.0.1, made with
/// the `openssl` tool in `dir`; the server options that use them.
fn certificates(dir: &std::path::Path) -> String {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl (Debian's openssl package)");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            stderr(&output)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=solguard test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("key mode");
    format!(
        "-c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
        dir.display()
    )
}

#[test]
fn sslmode_require_connects_with_tls_and_verifies_the_server() {
    let server = support::pg::Postgres::start_tls_only(certificates);
    let ca = server.root_path().join("ca.pem");
    let ca = ca.to_str().expect("utf-8");
    let base = server.url("postgres");
    let releases = Releases::new();
    let path = releases.add(&manifest("Core", "1.0.0.0", true), &[]);
    let check = |url: &str, env: &[(&str, &str)]| {
        solguard(&["check", "--history", url, "--format", "json", &path], env)
    };

    let secured = check(&format!("{base}?sslmode=require"), &[("PGSSLROOTCERT", ca)]);
    assert_eq!(secured.status.code(), Some(0), "{}", stderr(&secured));
    // The server takes no plain connection: the one above was TLS.
    let plain = check(&format!("{base}?sslmode=disable"), &[]);
    assert_eq!(plain.status.code(), Some(2));
    assert!(
        stderr(&plain).contains("no encryption"),
        "{}",
        stderr(&plain)
    );
    // A certificate no trusted authority signed is refused, never accepted silently.
    let unverified = check(&format!("{base}?sslmode=require"), &[]);
    assert_eq!(unverified.status.code(), Some(2));
    assert!(
        stderr(&unverified).to_lowercase().contains("certificate"),
        "{}",
        stderr(&unverified)
    );
}
