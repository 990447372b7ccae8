//! The lineage read from the history database: releases checked in separate `check --history`
//! runs (one CI job per release) are compared exactly as if they had come in one run. Twins,
//! a patch whose parent was recorded by an earlier run, the patches of a base, and a roll-up
//! against the base plus its patches, each across runs.

mod support;

use std::process::Command;

use serde_json::Value;
use support::releases::{codes, manifest, patch, Releases};

const PATCH_OF_CORE: &str =
    "<ParentSolution><UniqueName>Core</UniqueName><Version>1.2.0.0</Version></ParentSolution>";

/// One `check --history DB --format json --fail-on never` run on `path`; its one package.
fn check_one(db: &str, path: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--history",
            db,
            "--format",
            "json",
            "--fail-on",
            "never",
            path,
        ])
        .output()
        .expect("run solguard");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report["packages"][0].clone()
}

#[test]
fn twins_checked_in_separate_runs_are_one_release() {
    let releases = Releases::new();
    let db = releases.dir.path().join("history.db");
    let db = db.to_str().expect("utf-8");
    let unmanaged = releases.add(&manifest("Core", "1.0.0.0", false), &["con_cost"]);
    let managed = releases.add(&manifest("Core", "1.0.0.0", true), &["con_cost"]);
    let next_managed = releases.add(&manifest("Core", "1.1.0.0", true), &[]);
    assert_eq!(codes(&check_one(db, &unmanaged)), Vec::<String>::new());
    let twin = check_one(db, &managed);
    assert_eq!(codes(&twin), Vec::<String>::new(), "{twin:#}");
    assert!(
        twin["previous_version"].is_null(),
        "no managed release before it"
    );
    let upgrade = check_one(db, &next_managed);
    assert_eq!(upgrade["previous_version"], "1.0.0.0");
    assert_eq!(codes(&upgrade), ["data-loss-risk/attribute-removed"]);
    assert_eq!(
        upgrade["findings"][0]["location"]["package"], managed,
        "compared with the managed twin, recorded by an earlier run"
    );
}

#[test]
fn patches_and_a_roll_up_across_runs_use_the_recorded_lineage() {
    let releases = Releases::new();
    let db = releases.dir.path().join("history.db");
    let db = db.to_str().expect("utf-8");
    let base = releases.add(&manifest("Core", "1.2.0.0", true), &["con_a"]);
    let first = releases.add(
        &patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE),
        &["con_a", "con_patched"],
    );
    let lower = releases.add(
        &patch("Core_Patch_b", "1.2.0.5", true, PATCH_OF_CORE),
        &["con_a"],
    );
    let roll_up = releases.add(&manifest("Core", "1.3.0.0", true), &["con_a"]);
    assert_eq!(codes(&check_one(db, &base)), Vec::<String>::new());
    assert_eq!(
        codes(&check_one(db, &first)),
        Vec::<String>::new(),
        "the parent recorded by the earlier run is found"
    );
    assert_eq!(
        codes(&check_one(db, &lower)),
        ["monotonic-version/patch-order"],
        "not higher than the patch the earlier run recorded"
    );
    let rolled = check_one(db, &roll_up);
    assert_eq!(
        codes(&rolled),
        ["data-loss-risk/attribute-removed"],
        "{rolled:#}"
    );
    assert_eq!(
        rolled["findings"][0]["location"]["package"], first,
        "the column came in the recorded patch"
    );
    assert_eq!(
        rolled["data_loss"][0]["component"],
        "con_project.con_patched"
    );
}
