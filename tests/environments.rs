//! Environment snapshots through `solguard check --environment`: what a target has installed
//! decides `environment-fit` findings on real corpus packages (IncidentReporting 1.0.0.4 needs
//! three solutions), the environment is a target for `version-compatibility` too, and a
//! malformed snapshot stops the run with the file and line.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::corpus;

fn solguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .output()
        .expect("run solguard")
}

/// A snapshot named `name` on platform `version` with `rows` (the Web API's rows).
fn snapshot(dir: &Path, name: &str, version: &str, rows: &str) -> String {
    let path = dir.join(format!("{name}.json"));
    let body = format!(
        r#"{{"name": "{name}", "version": "{version}", "solutions": {{"@odata.context": "x", "value": [{rows}]}}}}"#
    );
    std::fs::write(&path, body).expect("write snapshot");
    path.to_str().expect("utf-8").to_owned()
}

fn fit_findings(environment: &str) -> Vec<(String, String)> {
    let package = corpus().join("pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--environment",
        environment,
        package.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "environment-fit")
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn missing_required_solutions_are_named_per_environment() {
    let dir = tempfile::tempdir().expect("tmp");
    let bare = snapshot(dir.path(), "bare", "9.2.24104.196", "");
    let found = fit_findings(&bare);
    let missing: Vec<&str> = found
        .iter()
        .filter(|(code, _)| code == "dependency-missing")
        .map(|(_, message)| message.as_str())
        .collect();
    assert_eq!(missing.len(), 3, "{found:?}");
    for needed in [
        "MobileOfflineMembership 1.0.0.3",
        "AppModuleWebResources 2.5",
        "PowerPages_AppResources 1.0.2308.1",
    ] {
        assert!(
            missing
                .iter()
                .any(|m| m.contains(needed) && m.contains("bare")),
            "{needed} in {missing:?}"
        );
    }
    let complete = snapshot(
        dir.path(),
        "complete",
        "9.2.24104.196",
        r#"{"uniquename": "MobileOfflineMembership", "version": "1.0.0.3", "ismanaged": true},
           {"uniquename": "AppModuleWebResources", "version": "2.5.0.1", "ismanaged": true},
           {"uniquename": "PowerPages_AppResources", "version": "1.0.2308.1", "ismanaged": true},
           {"uniquename": "IncidentReporting", "version": "1.0.0.2", "ismanaged": false,
            "publisherid": {"uniquename": "shaheer"}}"#,
    );
    let found = fit_findings(&complete);
    assert!(
        found.is_empty(),
        "all dependencies present, an upgrade of the installed unmanaged solution by its publisher (any casing): {found:?}"
    );
}

#[test]
fn the_environment_is_a_target_and_a_broken_snapshot_stops_the_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let old = snapshot(dir.path(), "legacy", "8.2.0.1", "");
    let package = corpus().join("xrm-ci-framework/Success_1_1_0_0_managed.zip");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--environment",
        &old,
        package.to_str().expect("utf-8"),
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let codes: Vec<&str> = report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"newer-platform"), "{codes:?}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"name\": \"prod\",\n  \"version\": 9\n}").expect("write");
    let output = solguard(&[
        "check",
        "--environment",
        broken.to_str().expect("utf-8"),
        package.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.json:3:") && stderr.contains("environment snapshot"),
        "names the file and the line: {stderr}"
    );
}
