//! The history database through the CLI: `check --history` records, `history` lists, `diff`
//! compares a package with a stored release, and a process killed while recording leaves a
//! database that opens cleanly and keeps working.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Manifest, ZipBuilder};
use tempfile::TempDir;

fn solguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .output()
        .expect("run solguard")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn corpus(file: &str) -> PathBuf {
    support::corpus().join(file)
}

#[test]
fn history_lists_accepted_and_rejected_releases() {
    let dir = TempDir::new().expect("tmp");
    let db = dir.path().join("history.db");
    let old = corpus("pnp-powerplatform-samples/GymMembershipRegistration_1_0_0_2.zip");
    let lower = corpus("pnp-powerplatform-samples/gym-management-app__851f409.zip");
    let other = corpus("xrm-ci-framework/Success_1_0_0_0.zip");
    let output = solguard(&[
        "check",
        "--history",
        path_str(&db),
        path_str(&old),
        path_str(&lower),
        path_str(&other),
    ]);
    assert_eq!(output.status.code(), Some(1), "the downgrade fails the run");

    let output = solguard(&["history", "--history", path_str(&db)]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("GymMembershipRegistration (2 releases, 1 accepted)"),
        "{text}"
    );
    assert!(text.contains("1.0.0.1        rejected fail"), "{text}");
    assert!(text.contains("Success (1 releases, 1 accepted)"), "{text}");

    let output = solguard(&[
        "history",
        "gymmembershipregistration",
        "--history",
        path_str(&db),
        "--format",
        "json",
    ]);
    let list: Value = serde_json::from_slice(&output.stdout).expect("json");
    let solutions = list.as_array().expect("array");
    assert_eq!(solutions.len(), 1, "filtered by name, case-insensitively");
    let releases = solutions[0]["releases"].as_array().expect("releases");
    assert_eq!(releases[0]["version"], "1.0.0.2");
    assert_eq!(releases[0]["accepted"], true);
    assert_eq!(releases[1]["accepted"], false);
    assert_eq!(releases[1]["findings"][0]["code"], "downgrade");
    assert_eq!(releases[1]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(releases[1]["policy_set"].as_str().map(str::len), Some(64));

    let missing = solguard(&[
        "history",
        "--history",
        path_str(&dir.path().join("none.db")),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no history database"));
}

#[test]
fn diff_names_what_an_upgrade_deletes_also_against_a_stored_release() {
    let old = corpus("powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip");
    let new = corpus("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip");
    let output = solguard(&["diff", "--format", "json", path_str(&old), path_str(&new)]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["old"]["version"], "1.0.0.40");
    assert_eq!(report["new"]["version"], "1.0.0.42");
    assert_eq!(
        report["changes"]["attributes_removed"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    assert_eq!(report["deletes_data"].as_array().map(Vec::len), Some(6));

    let output = solguard(&["diff", path_str(&old), path_str(&new)]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("- column admin_flow.admin_flowcreated (datetime)  DELETES DATA"),
        "{text}"
    );

    // The same comparison with the old release taken from the history database only.
    let dir = TempDir::new().expect("tmp");
    let db = dir.path().join("history.db");
    assert_eq!(
        solguard(&["check", "--history", path_str(&db), path_str(&old)])
            .status
            .code(),
        Some(0)
    );
    for stored in ["PowerPlatformAdmin", "powerplatformadmin@1.0.0.40"] {
        let output = solguard(&[
            "diff",
            "--format",
            "json",
            "--history",
            path_str(&db),
            stored,
            path_str(&new),
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stored}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("json");
        assert_eq!(
            report["changes"]["attributes_removed"]
                .as_array()
                .map(Vec::len),
            Some(6),
            "{stored}"
        );
    }
    let output = solguard(&[
        "diff",
        "--history",
        path_str(&db),
        "Nobody@1.0",
        path_str(&new),
    ]);
    assert_eq!(output.status.code(), Some(2));
}

fn recorded_rows(db: &Path) -> usize {
    let Ok(connection) = rusqlite::Connection::open(db) else {
        return 0;
    };
    connection
        .query_row("SELECT count(*) FROM releases", [], |row| {
            row.get::<_, i64>(0)
        })
        .map(|n| n as usize)
        .unwrap_or(0)
}

#[test]
fn a_process_killed_while_recording_leaves_a_working_database() {
    let dir = TempDir::new().expect("tmp");
    let mut packages = Vec::new();
    for build in 0..300 {
        let manifest = Manifest {
            version: Some(format!("1.0.{build}.0")),
            ..Manifest::default()
        };
        packages.push(
            ZipBuilder::with_manifest(&manifest).write(dir.path(), &format!("p{build:03}.zip")),
        );
    }
    let db = dir.path().join("history.db");
    let mut expected_at_least = 0;
    for rows_before_kill in [1usize, 7, 20] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_solguard"))
            .arg("check")
            .arg("--history")
            .arg(&db)
            .args(&packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start solguard");
        // Kill as soon as this run has written some rows: in the middle of recording.
        let target = expected_at_least + rows_before_kill;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while recorded_rows(&db) < target && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(
            child.try_wait().expect("status").is_none(),
            "the run must still be recording when killed"
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let connection = rusqlite::Connection::open(&db).expect("the database opens");
        let integrity: String = connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check runs");
        assert_eq!(integrity, "ok", "after a kill past {target} rows");
        drop(connection);
        let store = solguard::history::HistoryStore::open(&db.clone().into())
            .expect("reopens and migrates");
        let rows = store
            .releases(None)
            .expect("every recorded row reads back")
            .len();
        assert!(
            rows >= target && rows < expected_at_least + packages.len(),
            "{rows} rows"
        );
        expected_at_least = rows;
    }
    // And it keeps working: a complete run records its package.
    let output = solguard(&[
        "check",
        "--history",
        path_str(&db),
        path_str(&packages[299]),
    ]);
    assert!(output.status.code().is_some(), "finished");
    assert_eq!(recorded_rows(&db), expected_at_least + 1);
}
