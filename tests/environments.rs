//! Environment snapshots through `solguard check --environment`: what a target has installed
//! decides `environment-fit` findings on real corpus packages (IncidentReporting 1.0.0.4 needs
//! three solutions), the environment is a target for `version-compatibility` too, and a
//! malformed snapshot stops the run with the file and line.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{check_report, corpus, solguard};

/// A snapshot named `name` on platform `version` with `rows` (the Web API's rows).
fn snapshot(dir: &Path, name: &str, version: &str, rows: &str) -> String {
    let path = dir.join(format!("{name}.json"));
    let body = format!(
        r#"{{"name": "{name}", "version": "{version}", "solutions": {{"@odata.context": "x", "value": [{rows}]}}}}"#
    );
    std::fs::write(&path, body).expect("write snapshot");
    path.to_str().expect("utf-8").to_owned()
}

/// `check --format json --fail-on never --environment ENVIRONMENT` on the corpus package at
/// `package`: the report.
fn check_with(environment: &str, package: &str) -> Value {
    let package = corpus().join(package);
    check_report(&[
        "--environment",
        environment,
        package.to_str().expect("utf-8"),
    ])
}

/// The `environment-fit` findings on IncidentReporting 1.0.0.4: `(code, message)`.
fn fit_findings(environment: &str) -> Vec<(String, String)> {
    let report = check_with(
        environment,
        "pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip",
    );
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
    let report = check_with(&old, "xrm-ci-framework/Success_1_1_0_0_managed.zip");
    let codes: Vec<&str> = report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"newer-platform"), "{codes:?}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"name\": \"prod\",\n  \"version\": 9\n}").expect("write");
    let package = corpus().join("xrm-ci-framework/Success_1_1_0_0_managed.zip");
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

/// A fake Dataverse Web API on 127.0.0.1: `RetrieveVersion()` and two pages of solutions, for
/// `mode` "ok"; "unauthorized" answers 401, "unavailable" 503, "silent" never answers. Records
/// the `Authorization` headers it saw. Serves until the test ends.
fn fake_web_api(mode: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (record, next_page) = (std::sync::Arc::clone(&seen), base.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            reader.read_line(&mut request).ok();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("authorization") {
                        record.lock().expect("lock").push(value.trim().to_owned());
                    }
                }
                line.clear();
            }
            let (status, body) = match mode {
                "silent" => {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    continue;
                }
                "unauthorized" => ("401 Unauthorized", "{}".to_owned()),
                "unavailable" => ("503 Service Unavailable", "{}".to_owned()),
                _ if request.contains("RetrieveVersion") => {
                    ("200 OK", r#"{"Version": "9.2.24104.196"}"#.to_owned())
                }
                _ if request.contains("skiptoken=2") => (
                    "200 OK",
                    r#"{"value": [{"uniquename": "AppModuleWebResources", "version": "2.5", "ismanaged": true, "publisherid": null, "parentsolutionid": null}]}"#.to_owned(),
                ),
                _ => (
                    "200 OK",
                    format!(
                        r#"{{"@odata.context": "x", "value": [{{"uniquename": "MobileOfflineMembership", "version": "1.0.0.3", "ismanaged": true, "publisherid": {{"uniquename": "microsoft"}}, "parentsolutionid": null}}], "@odata.nextLink": "{next_page}/api/data/v9.2/solutions?$skiptoken=2"}}"#
                    ),
                ),
            };
            let _written = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

fn snapshot_command(url: &str, output: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "environment",
            "snapshot",
            "--url",
            url,
            "--token-env",
            "SOLGUARD_TEST_WEBAPI_TOKEN",
            "--name",
            "prod",
            "--timeout-s",
            "1",
            "--output",
        ])
        .arg(output)
        .env("SOLGUARD_TEST_WEBAPI_TOKEN", "t0ken-for-the-fake-api")
        .output()
        .expect("run solguard")
}

#[test]
fn a_snapshot_is_taken_from_the_web_api_following_its_pages() {
    let (url, seen) = fake_web_api("ok");
    let dir = tempfile::tempdir().expect("tmp");
    let output = dir.path().join("prod.json");
    let run = snapshot_command(&url, &output);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&output).expect("written")).expect("JSON");
    assert_eq!(saved["name"], "prod");
    assert_eq!(saved["version"], "9.2.24104.196");
    let names: Vec<&str> = saved["solutions"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["uniquename"].as_str())
        .collect();
    assert_eq!(
        names,
        ["MobileOfflineMembership", "AppModuleWebResources"],
        "both pages"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3, "RetrieveVersion and two pages: {seen:?}");
    assert!(seen.iter().all(|a| a == "Bearer t0ken-for-the-fake-api"));
    assert!(
        !String::from_utf8_lossy(&run.stderr).contains("t0ken"),
        "never logged"
    );
    // The snapshot feeds check: two of IncidentReporting's three required solutions are there.
    let found = fit_findings(output.to_str().expect("utf-8"));
    let missing: Vec<&(String, String)> = found
        .iter()
        .filter(|(code, _)| code == "dependency-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{found:?}");
    assert!(missing[0].1.contains("PowerPages_AppResources"));
}

#[test]
fn a_refused_token_a_failing_server_and_a_silent_one_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    for (mode, expected) in [
        ("unauthorized", "refused the token (HTTP 401)"),
        ("unavailable", "HTTP 503"),
        ("silent", "no answer within 1 s"),
    ] {
        let (url, _) = fake_web_api(mode);
        let output = dir.path().join(format!("{mode}.json"));
        let run = snapshot_command(&url, &output);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{mode}: {stderr}");
        assert!(stderr.contains(expected), "{mode}: {stderr}");
        assert!(
            !stderr.contains("t0ken"),
            "{mode}: the token is never shown"
        );
        assert!(!output.exists(), "{mode}: no snapshot is written");
    }
}
