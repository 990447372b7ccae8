//! `solguard check` and `solguard policy` end to end: exit codes, the JSON report, ordering and
//! `previous` semantics, unreadable packages, config errors, waivers, and policy test cases.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{Manifest, ZipBuilder};
use tempfile::TempDir;

fn solguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .output()
        .expect("run solguard")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn release(dir: &Path, file: &str, version: &str) -> PathBuf {
    let manifest = Manifest {
        version: Some(version.into()),
        ..Manifest::default()
    };
    ZipBuilder::with_manifest(&manifest).write(dir, file)
}

/// A policy that fails any release whose version is in `params.rejected`.
const REJECTS: &str = r#"//! id = "reject-listed"
//! severity = "error"
//! title = "Rejects listed versions"
//! description = "Test policy: fails the versions listed in params.rejected."
//! hint = "Do not ship listed versions."
fn check(pkg, context) {
    let found = [];
    if context.params.rejected != () && pkg.version in context.params.rejected {
        found.push(finding("listed", "version " + pkg.version + " is listed", pkg.location));
    }
    if context.previous != () {
        let f = finding("previous-seen", "previous " + context.previous.version);
        f.severity = "info";
        found.push(f);
    }
    found
}
"#;

fn user_policies(dir: &Path) -> PathBuf {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(policies.join("reject-listed.rhai"), REJECTS).expect("write policy");
    policies
}

#[test]
fn clean_packages_exit_zero_with_the_documented_json_shape() {
    let corpus = support::corpus();
    let path = corpus.join("xrm-ci-framework/Success_1_1_0_0.zip");
    let output = solguard(&["check", "--format", "json", path_str(&path)]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json(&output);
    assert_eq!(report["schema_version"], 3);
    assert_eq!(report["policy_set"].as_str().map(str::len), Some(64));
    let package = &report["packages"][0];
    assert_eq!(package["path"], path_str(&path));
    assert_eq!(package["unique_name"], "Success");
    assert_eq!(package["version"], "1.1.0.0");
    assert_eq!(package["verdict"], "pass");
    assert!(package["previous_version"].is_null());
    assert!(package["findings"].as_array().is_some_and(Vec::is_empty));
    for key in ["packages", "errors", "warnings", "infos", "waived"] {
        assert!(report["summary"][key].is_u64(), "summary.{key}");
    }
    assert_eq!(report["summary"]["packages"], 1);
}

#[test]
fn order_previous_and_acceptance_follow_the_arguments() {
    let dir = TempDir::new().expect("tmp");
    let policies = user_policies(dir.path());
    let v1 = release(dir.path(), "a_1.zip", "1.0.0.0");
    let v2 = release(dir.path(), "b_2.zip", "1.1.0.0");
    let v3 = release(dir.path(), "c_3.zip", "1.2.0.0");
    let config = dir.path().join("solguard.toml");
    std::fs::write(
        &config,
        "[rules.reject-listed.params]\nrejected = [\"1.1.0.0\"]\n",
    )
    .expect("config");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--config",
        path_str(&config),
        "--policies",
        path_str(&policies),
        path_str(&v1),
        path_str(&v2),
        path_str(&v3),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an error finding fails the run"
    );
    let report = json(&output);
    let packages = report["packages"].as_array().expect("packages");
    let versions: Vec<&str> = packages
        .iter()
        .map(|p| p["version"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        versions,
        ["1.0.0.0", "1.1.0.0", "1.2.0.0"],
        "argument order"
    );
    assert!(packages[0]["previous_version"].is_null());
    assert_eq!(packages[1]["previous_version"], "1.0.0.0");
    assert_eq!(packages[1]["verdict"], "fail");
    assert_eq!(packages[1]["accepted"], false);
    assert_eq!(
        packages[2]["previous_version"], "1.0.0.0",
        "a rejected release never becomes `previous`"
    );
    let finding = &packages[1]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "listed")
        .cloned()
        .expect("listed finding");
    assert_eq!(finding["rule"], "reject-listed");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["location"]["file"], "solution.xml");
    assert!(finding["location"]["line"].as_u64().is_some_and(|l| l >= 1));
    assert_eq!(finding["hint"], "Do not ship listed versions.");
    assert_eq!(finding["waived"], Value::Null);
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(report["summary"]["infos"], 2);

    // The same folder searched recursively is taken in path order.
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--policies",
        path_str(&policies),
        path_str(dir.path()),
    ]);
    let report = json(&output);
    let names: Vec<&str> = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["path"].as_str().unwrap_or(""))
        .collect();
    assert!(
        names[0].ends_with("a_1.zip") && names[2].ends_with("c_3.zip"),
        "{names:?}"
    );
}

#[test]
fn unreadable_packages_are_findings_and_the_rest_still_run() {
    let dir = TempDir::new().expect("tmp");
    let broken = dir.path().join("broken.zip");
    std::fs::write(&broken, b"PK\x03\x04 definitely not a zip").expect("write");
    let good = release(dir.path(), "good.zip", "1.0.0.0");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        path_str(&broken),
        path_str(&good),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let first = &report["packages"][0];
    assert!(first["unique_name"].is_null());
    assert_eq!(first["verdict"], "fail");
    assert_eq!(first["findings"][0]["rule"], "package-format");
    assert_eq!(first["findings"][0]["code"], "corrupt-zip");
    assert_eq!(report["packages"][1]["verdict"], "pass");
}

#[test]
fn fail_on_sets_the_threshold() {
    let dir = TempDir::new().expect("tmp");
    let policies = user_policies(dir.path());
    let v1 = release(dir.path(), "a.zip", "1.0.0.0");
    let v2 = release(dir.path(), "b.zip", "1.0.0.1");
    let base = [
        "check",
        "--policies",
        path_str(&policies),
        path_str(&v1),
        path_str(&v2),
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        solguard(&args).status.code()
    };
    assert_eq!(run(&[]), Some(0), "only an info finding");
    assert_eq!(run(&["--fail-on", "warning"]), Some(0));
    assert_eq!(run(&["--fail-on", "info"]), Some(1));
    assert_eq!(run(&["--fail-on", "never"]), Some(0));
}

#[test]
fn usage_config_and_policy_errors_exit_two() {
    let dir = TempDir::new().expect("tmp");
    let package = release(dir.path(), "a.zip", "1.0.0.0");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[rules.import-readiness]\nenabeld = true\n\n[targets.prod]\nversion = \"nine\"\n",
    )
    .expect("write");
    let output = solguard(&["check", "--config", path_str(&config), path_str(&package)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml:2:1: `rules.import-readiness.enabeld`: unknown key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.toml:5:11: `targets.prod.version`"),
        "all problems at once: {stderr}"
    );

    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(
        policies.join("broken.rhai"),
        REJECTS
            .replace("reject-listed", "broken")
            .replace("let found = [];", "let found = [;"),
    )
    .expect("write");
    let output = solguard(&[
        "check",
        "--policies",
        path_str(&policies),
        path_str(&package),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.rhai:7:"),
        "names file and line: {stderr}"
    );

    let output = solguard(&["check", "--target", "=9.2", path_str(&package)]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        solguard(&["check"]).status.code(),
        Some(2),
        "PATH is required"
    );
}

#[test]
fn targets_reach_policies_and_bare_versions_name_themselves() {
    let dir = TempDir::new().expect("tmp");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(
        policies.join("show-targets.rhai"),
        "//! id = \"show-targets\"\n//! severity = \"info\"\n//! title = \"t\"\n//! description = \"d\"\n//! hint = \"h\"\nfn check(pkg, context) { context.targets.map(|t| finding(\"target\", t.name + \"=\" + t.version)) }\n",
    )
    .expect("write");
    let package = release(dir.path(), "a.zip", "1.0.0.0");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--policies",
        path_str(&policies),
        "--target",
        "prod=9.2.24102.194",
        "--target",
        "9.1",
        path_str(&package),
    ]);
    let report = json(&output);
    let messages: Vec<&str> = report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "show-targets")
        .map(|f| f["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(messages, ["prod=9.2.24102.194", "9.1=9.1"]);
}

#[test]
fn waivers_from_config_apply_expire_and_report_unused() {
    let dir = TempDir::new().expect("tmp");
    let policies = user_policies(dir.path());
    let package = release(dir.path(), "a.zip", "1.0.0.0");
    let config = dir.path().join("waivers.toml");
    std::fs::write(
        &config,
        r#"[rules.reject-listed.params]
rejected = ["1.0.0.0"]

[[waivers]]
rule = "reject-listed"
code = "listed"
solution = "contoso*"
reason = "Known, fixed in 1.0.0.1 (GOV-7)"
expires = 2999-12-31

[[waivers]]
rule = "import-readiness"
solution = "*"
reason = "Nothing to waive"
"#,
    )
    .expect("write");
    let run = || {
        solguard(&[
            "check",
            "--format",
            "json",
            "--config",
            path_str(&config),
            "--policies",
            path_str(&policies),
            path_str(&package),
        ])
    };
    let output = run();
    assert_eq!(
        output.status.code(),
        Some(0),
        "a waived error does not fail the run"
    );
    let report = json(&output);
    let finding = &report["packages"][0]["findings"][0];
    assert_eq!(finding["code"], "listed");
    assert_eq!(
        finding["waived"]["reason"],
        "Known, fixed in 1.0.0.1 (GOV-7)"
    );
    assert_eq!(report["packages"][0]["verdict"], "pass");
    assert_eq!(report["summary"]["waived"], 1);
    assert_eq!(report["findings"][0]["code"], "waiver-unused");
    assert_eq!(report["findings"][0]["severity"], "info");

    let expired = std::fs::read_to_string(&config)
        .expect("read")
        .replace("2999-12-31", "2020-01-01");
    std::fs::write(&config, expired).expect("write");
    let output = run();
    assert_eq!(
        output.status.code(),
        Some(1),
        "an expired waiver no longer applies"
    );
    let report = json(&output);
    let codes: Vec<&str> = report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or(""))
        .collect();
    assert!(codes.contains(&"waiver-expired"), "{codes:?}");
}

#[test]
fn output_file_holds_the_report() {
    let dir = TempDir::new().expect("tmp");
    let package = release(dir.path(), "a.zip", "1.0.0.0");
    let out = dir.path().join("report.json");
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--output",
        path_str(&out),
        path_str(&package),
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty());
    let report: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("report written")).expect("json");
    assert_eq!(report["summary"]["packages"], 1);
}

#[test]
fn policy_test_reports_expected_versus_actual_and_untested_policies() {
    let dir = TempDir::new().expect("tmp");
    let policies = user_policies(dir.path());
    std::fs::write(
        policies.join("reject-listed.tests.toml"),
        r#"[[case]]
name = "listed version fails"
model = { version = "2.0.0.0" }
params = { rejected = ["2.0.0.0"] }
expect = [{ code = "listed", severity = "error" }]

[[case]]
name = "previous is reported"
previous = { model = { version = "0.9" } }
expect = [{ code = "previous-seen" }]

[[case]]
name = "deliberately wrong expectation"
expect = [{ code = "listed" }]
"#,
    )
    .expect("write");
    std::fs::write(
        policies.join("untested.rhai"),
        REJECTS.replace("reject-listed", "untested"),
    )
    .expect("write");
    let junit = dir.path().join("junit.xml");
    let output = solguard(&[
        "policy",
        "test",
        path_str(&policies),
        "--junit",
        path_str(&junit),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok   reject-listed: listed version fails"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok   reject-listed: previous is reported"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL reject-listed: deliberately wrong expectation"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected: [reject-listed/listed]"),
        "{stdout}"
    );
    assert!(stdout.contains("actual:   []"), "{stdout}");
    assert!(
        stdout.contains("policy untested has no test cases"),
        "{stdout}"
    );
    assert!(stdout.contains("2 passed, 1 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("<testsuite name=\"reject-listed\" tests=\"3\" failures=\"1\">"),
        "{xml}"
    );
    assert!(xml.contains("<failure message="), "{xml}");
    assert!(
        xml.contains("<skipped message=\"the policy has no test cases\"/>"),
        "{xml}"
    );

    let shipped = solguard(&["policy", "test"]);
    assert_eq!(
        shipped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shipped.stdout)
    );
}

#[test]
fn policy_list_and_explain() {
    let output = solguard(&["policy", "list", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let list = json(&output);
    let ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["meta"]["id"].as_str().unwrap_or(""))
        .collect();
    assert!(ids.contains(&"import-readiness"), "{ids:?}");
    let output = solguard(&["policy", "explain", "import-readiness"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Dataverse can import the package"), "{text}");
    assert!(text.contains("Help: https://"), "{text}");
    assert_eq!(
        solguard(&["policy", "explain", "no-such-rule"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn history_database_supplies_previous_across_runs() {
    let dir = TempDir::new().expect("tmp");
    let policies = user_policies(dir.path());
    let db = dir.path().join("state/history.db");
    let v1 = release(dir.path(), "a_1.zip", "1.0.0.0");
    let v2 = release(dir.path(), "b_2.zip", "1.1.0.0");
    let v3 = release(dir.path(), "c_3.zip", "1.2.0.0");
    let config = dir.path().join("solguard.toml");
    std::fs::write(
        &config,
        "[rules.reject-listed.params]\nrejected = [\"1.1.0.0\"]\n",
    )
    .expect("config");
    let check = |package: &Path| {
        let output = solguard(&[
            "check",
            "--format",
            "json",
            "--config",
            path_str(&config),
            "--policies",
            path_str(&policies),
            "--history",
            path_str(&db),
            path_str(package),
        ]);
        json(&output)
    };
    let first = check(&v1);
    assert!(first["packages"][0]["previous_version"].is_null());
    assert!(
        db.is_file(),
        "the database is created on first use, with its folder"
    );
    let second = check(&v2);
    assert_eq!(
        second["packages"][0]["previous_version"], "1.0.0.0",
        "previous comes from the database"
    );
    assert_eq!(second["packages"][0]["verdict"], "fail");
    let third = check(&v3);
    assert_eq!(
        third["packages"][0]["previous_version"], "1.0.0.0",
        "the rejected 1.1.0.0 is recorded but never becomes previous"
    );
    let store =
        solguard::history::HistoryStore::open(&db.clone().into()).expect("database reopens");
    let releases = store.releases(Some("CONTOSOCORE")).expect("query");
    let versions: Vec<&str> = releases
        .iter()
        .filter_map(|r| r.version.as_deref())
        .collect();
    assert_eq!(versions, ["1.0.0.0", "1.1.0.0", "1.2.0.0"]);
    assert_eq!(
        releases.iter().map(|r| r.accepted).collect::<Vec<_>>(),
        [true, false, true]
    );
    assert_eq!(releases[1].findings[0].code, "listed");
    assert_eq!(releases[0].sha256.as_ref().map(String::len), Some(64));
    let history = store.accepted_releases("contosocore").expect("history");
    assert_eq!(history.len(), 2);
}
