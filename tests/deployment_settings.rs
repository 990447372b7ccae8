//! Deployment settings through the CLI: the package model lists environment variables and
//! connection references (Contoso_sample 1.0.0.1 has one of each, CoE Core 1.70.1 the pre-2021
//! inline form), `check --deployment-settings` reports each `deployment-settings` code and
//! never a value, every package gets a verdict per environment with a matrix in the readable
//! formats, targets in the config name snapshot and settings files, and the daemon reloads
//! when a snapshot changes.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::daemon::{copy_in, wait_until, Root};
use support::{check_report, corpus, customizations, solguard, Manifest, ZipBuilder};

/// A value in the settings files that must never appear in any output.
const SECRET: &str = "s3cret-value-never-shown";

fn contoso() -> PathBuf {
    corpus().join("PowerApps-Samples/Contoso_sample_1_0_0_1_managed.zip")
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes a settings file with `variables` and `connections` (JSON array bodies).
fn settings_file(dir: &Path, name: &str, variables: &str, connections: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "{{\n  \"EnvironmentVariables\": [\n{variables}\n  ],\n  \"ConnectionReferences\": [\n{connections}\n  ]\n}}\n"
        ),
    )
    .expect("write settings");
    path
}

const D365: &str = "/providers/Microsoft.PowerApps/apis/shared_dynamicscrmonline";

/// `check --format json --fail-on never` with `args` before the packages: the report.
fn check_json(args: &[&str], packages: &[&Path]) -> Value {
    let mut all = args.to_vec();
    all.extend(packages.iter().map(|p| text(p)));
    check_report(&all)
}

/// The `deployment-settings` findings of the first package: `(code, severity, message, file,
/// line)`.
fn settings_findings(report: &Value) -> Vec<(String, String, String, String, u64)> {
    report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "deployment-settings")
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_owned(),
                f["severity"].as_str().unwrap_or("").to_owned(),
                f["message"].as_str().unwrap_or("").to_owned(),
                f["location"]["file"].as_str().unwrap_or("").to_owned(),
                f["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn inspect_lists_variables_and_connection_references_without_values() {
    let output = solguard(&["inspect", text(&contoso())]);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        shown.contains("environment variables: 1") && shown.contains("new_ContosoURL"),
        "{shown}"
    );
    assert!(shown.contains("value shipped yes"), "{shown}");
    assert!(
        shown.contains("connection references: 1")
            && shown.contains("new_D365connection")
            && shown.contains(D365),
        "{shown}"
    );
    let json = solguard(&["inspect", "--format", "json", text(&contoso())]);
    let model = String::from_utf8_lossy(&json.stdout);
    assert!(
        !shown.contains("https://contoso.com") && !model.contains("https://contoso.com"),
        "the shipped value is never shown"
    );

    // Exports before 2021 define variables inline in customizations.xml.
    let coe = corpus().join("powerapps-tools/CenterofExcellenceCoreComponents_1_70_1_managed.zip");
    let model: Value =
        serde_json::from_slice(&solguard(&["inspect", "--format", "json", text(&coe)]).stdout)
            .expect("model");
    let variables = model["environment_variables"].as_array().expect("list");
    assert!(variables.len() >= 4, "{variables:?}");
    let delete = variables
        .iter()
        .find(|v| v["schema_name"] == "admin_DeleteFromCoE")
        .expect("admin_DeleteFromCoE");
    assert_eq!(delete["has_default"], true);
    assert_eq!(delete["location"]["file"], "customizations.xml");
    assert_eq!(
        model["connection_references"].as_array().map(Vec::len),
        Some(18)
    );
}

#[test]
fn each_code_on_the_real_package_and_no_value_ever_shown() {
    let dir = tempfile::tempdir().expect("tmp");
    let complete = settings_file(
        dir.path(),
        "complete.json",
        &format!(r#"    {{ "SchemaName": "new_ContosoURL", "Value": "{SECRET}" }}"#),
        &format!(
            r#"    {{ "LogicalName": "new_D365connection", "ConnectionId": "{SECRET}", "ConnectorId": "{D365}" }}"#
        ),
    );
    let arg = format!("prod={}", text(&complete));
    let report = check_json(&["--deployment-settings", &arg], &[&contoso()]);
    assert_eq!(
        settings_findings(&report),
        [],
        "complete settings are silent"
    );

    let broken = settings_file(
        dir.path(),
        "broken.json",
        &format!(
            "    {{ \"SchemaName\": \"new_ContosoURL\", \"Value\": \"\" }},\n    {{ \"SchemaName\": \"new_Retired\", \"Value\": \"{SECRET}\" }}"
        ),
        &format!(
            "    {{ \"LogicalName\": \"new_D365connection\", \"ConnectionId\": \"{SECRET}\", \"ConnectorId\": \"/providers/Microsoft.PowerApps/apis/shared_sharepointonline\" }},\n    {{ \"LogicalName\": \"new_Gone\", \"ConnectionId\": \"\", \"ConnectorId\": \"{D365}\" }}"
        ),
    );
    let arg = format!("prod={}", text(&broken));
    let report = check_json(&["--deployment-settings", &arg], &[&contoso()]);
    let found = settings_findings(&report);
    let codes: Vec<(&str, &str, u64)> = found
        .iter()
        .map(|(code, severity, _, _, line)| (code.as_str(), severity.as_str(), *line))
        .collect();
    // The package ships a value for new_ContosoURL, so an empty Value is no problem.
    assert_eq!(
        codes,
        [
            ("connector-mismatch", "error", 7),
            ("setting-unknown", "warning", 4),
            ("setting-unknown", "warning", 8),
        ],
        "{found:?}"
    );
    assert!(found.iter().all(|f| f.3 == "broken.json"), "{found:?}");
    assert!(found[0].2.contains("shared_sharepointonline") && found[0].2.contains(D365));

    // A connection reference the settings do not bind.
    let unbound = settings_file(
        dir.path(),
        "unbound.json",
        "",
        &format!(
            r#"    {{ "LogicalName": "new_D365connection", "ConnectionId": "", "ConnectorId": "{D365}" }}"#
        ),
    );
    let report = check_json(
        &[
            "--target",
            "prod=9.2",
            "--deployment-settings",
            text(&unbound),
        ],
        &[&contoso()],
    );
    let found = settings_findings(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "connection-missing");
    assert_eq!(
        (found[0].3.as_str(), found[0].4),
        ("customizations.xml", 31)
    );
    assert_eq!(report["packages"][0]["environments"][0]["verdict"], "fail");

    // No output format shows a value from a settings file.
    for format in ["human", "json", "markdown", "html", "sarif", "junit"] {
        let arg = format!("prod={}", text(&broken));
        let output = solguard(&[
            "check",
            "--format",
            format,
            "--deployment-settings",
            &arg,
            text(&contoso()),
        ]);
        assert_eq!(output.status.code(), Some(1), "{format}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(all.contains("Retired"), "{format}: names the entry");
        assert!(!all.contains(SECRET), "{format}: never the value");
    }
}

/// A package with one environment variable defined in its own folder (no default, no value)
/// and one connection reference in customizations.xml.
fn package_with_variable(dir: &Path) -> PathBuf {
    let reference = format!(
        r#"<connectionreferences><connectionreference connectionreferencelogicalname="con_Dataverse"><connectionreferencedisplayname>Dataverse</connectionreferencedisplayname><connectorid>{D365}</connectorid></connectionreference></connectionreferences>"#
    );
    ZipBuilder::with_manifest(&Manifest::default())
        .file("customizations.xml", customizations(&[], &reference))
        .file(
            "environmentvariabledefinitions/con_ApiUrl/environmentvariabledefinition.xml",
            "<environmentvariabledefinition schemaname=\"con_ApiUrl\">\n  <isrequired>1</isrequired>\n  <type>100000000</type>\n</environmentvariabledefinition>",
        )
        .write(dir, "ContosoCore_1_0_0_0.zip")
}

#[test]
fn a_variable_without_any_value_is_missing_and_broken_settings_stop_the_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let package = package_with_variable(dir.path());
    let settings = settings_file(
        dir.path(),
        "test.json",
        r#"    { "SchemaName": "con_ApiUrl", "Value": "" }"#,
        r#"    { "LogicalName": "con_Dataverse", "ConnectionId": "abc" }"#,
    );
    let arg = format!("test={}", text(&settings));
    let report = check_json(&["--deployment-settings", &arg], &[&package]);
    let found = settings_findings(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "variable-missing");
    assert!(found[0].2.contains("con_ApiUrl") && found[0].2.contains("leaves its Value empty"));
    assert_eq!(
        (found[0].3.as_str(), found[0].4),
        (
            "environmentvariabledefinitions/con_ApiUrl/environmentvariabledefinition.xml",
            1
        )
    );

    let malformed = dir.path().join("malformed.json");
    std::fs::write(
        &malformed,
        "{\n  \"EnvironmentVariables\": [\n    { \"Value\": \"x\" }\n  ]\n}\n",
    )
    .expect("write");
    let arg = format!("test={}", text(&malformed));
    let output = solguard(&["check", "--deployment-settings", &arg, text(&package)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("malformed.json:3:")
            && stderr.contains("deployment settings")
            && stderr.contains("SchemaName"),
        "names the file, the line and what is wrong: {stderr}"
    );
    let output = solguard(&[
        "check",
        "--target",
        "a=9.2",
        "--target",
        "b=9.2",
        "--deployment-settings",
        text(&settings),
        text(&package),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("name the one it is for"));
}

/// A snapshot of an environment on 9.2 with `rows` installed.
fn snapshot(path: &Path, rows: &str) {
    std::fs::write(
        path,
        format!(r#"{{"name": "snap", "version": "9.2.24104.196", "solutions": [{rows}]}}"#),
    )
    .expect("write snapshot");
}

#[test]
fn config_targets_name_snapshots_and_settings_and_reports_show_the_matrix() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("envs/prod")).expect("mkdir");
    snapshot(&dir.path().join("envs/prod.json"), "");
    // One settings file per solution: only Contoso_sample has one.
    settings_file(
        &dir.path().join("envs/prod"),
        "Contoso_sample.settings.json",
        "",
        &format!(
            r#"    {{ "LogicalName": "new_D365connection", "ConnectionId": "", "ConnectorId": "{D365}" }}"#
        ),
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[targets.test]\nversion = \"9.2.24104.196\"\n\n[targets.prod]\nenvironment = \"envs/prod.json\"\ndeployment_settings = \"envs/prod/{solution}.settings.json\"\n",
    )
    .expect("write config");
    let incident = corpus().join("pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip");
    let success = corpus().join("xrm-ci-framework/Success_1_1_0_0_managed.zip");
    let report = check_json(
        &["--config", text(&config)],
        &[&contoso(), &incident, &success],
    );
    let fits = |index: usize| -> Vec<(String, String)> {
        report["packages"][index]["environments"]
            .as_array()
            .expect("environments")
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or("").to_owned(),
                    e["verdict"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // Contoso: a connection missing in prod's settings; the default-publisher warning
    // everywhere. (A TOML table keeps no order: targets come by name.)
    assert_eq!(fits(0), [pair("prod", "fail"), pair("test", "warn")]);
    // IncidentReporting lacks its three required solutions in prod (the snapshot is empty).
    assert_eq!(fits(1)[0], pair("prod", "fail"));
    let prod_findings: Vec<&str> = report["packages"][1]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["environment"] == "prod")
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        prod_findings
            .iter()
            .filter(|c| **c == "dependency-missing")
            .count()
            == 3,
        "{prod_findings:?}"
    );
    // The snapshot's name gives way to the config's, its version makes it a target, and no
    // settings file is there for this solution.
    assert_eq!(fits(2), [pair("prod", "pass"), pair("test", "pass")]);

    let human = solguard(&[
        "check",
        "--config",
        text(&config),
        text(&contoso()),
        text(&success),
    ]);
    let shown = String::from_utf8_lossy(&human.stdout);
    assert!(shown.contains("fit per environment:"), "{shown}");
    assert!(
        shown.lines().any(|l| l.contains("Contoso_sample 1.0.0.1")
            && l.contains("warns")
            && l.contains("fails")),
        "{shown}"
    );
    let markdown = solguard(&[
        "check",
        "--format",
        "markdown",
        "--config",
        text(&config),
        text(&contoso()),
    ]);
    let shown = String::from_utf8_lossy(&markdown.stdout);
    assert!(shown.contains("| Package | prod | test |"), "{shown}");
    assert!(
        shown.contains("| Contoso\\_sample 1.0.0.1 | ❌ fails | ⚠️ warns |"),
        "{shown}"
    );
    let html = solguard(&[
        "check",
        "--format",
        "html",
        "--config",
        text(&config),
        text(&contoso()),
    ]);
    let page = String::from_utf8_lossy(&html.stdout);
    assert!(
        page.contains("Fit per environment") && page.contains(">fails<"),
        "{page}"
    );

    // A broken snapshot named by the config is a config problem at its key.
    std::fs::write(dir.path().join("envs/prod.json"), "{\"name\": \"prod\"}").expect("write");
    let output = solguard(&["check", "--config", text(&config), text(&contoso())]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("config.toml:5:")
            && stderr.contains("targets.prod.environment")
            && stderr.contains("prod.json:1:"),
        "{stderr}"
    );
    std::fs::write(
        &config,
        "[targets.prod]\nversion = \"9.2\"\nenvironment = \"envs/prod.json\"\n",
    )
    .expect("write config");
    let output = solguard(&["check", "--config", text(&config), text(&contoso())]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not both"));
}

#[test]
fn the_daemon_reloads_when_a_snapshot_changes() {
    let root = Root::new(
        "recheck_on_policy_change = true",
        "[[watch]]\npath = \"drop\"\n\n[targets.prod]\nenvironment = \"envs/prod.json\"\n",
        None,
    );
    std::fs::create_dir_all(root.path("envs")).expect("mkdir");
    snapshot(&root.path("envs/prod.json"), "");
    let daemon = root.start();
    copy_in(
        &corpus().join("pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip"),
        &root.path("drop/IncidentReporting_1_0_0_4.zip"),
    );
    let missing = |report: &Value| {
        report["packages"][0]["findings"].as_array().map_or(0, |f| {
            f.iter()
                .filter(|f| f["code"] == "dependency-missing")
                .count()
        })
    };
    assert!(
        wait_until(30, || root.reports().iter().any(|(_, r)| missing(r) == 3)),
        "{}",
        daemon.log()
    );
    // The environment gains what the package needs: written aside and renamed over, as
    // tools save files.
    let fresh = root.path("envs/prod.json.tmp");
    snapshot(
        &fresh,
        r#"{"uniquename": "MobileOfflineMembership", "version": "1.0.0.3", "ismanaged": true},
           {"uniquename": "AppModuleWebResources", "version": "2.5", "ismanaged": true},
           {"uniquename": "PowerPages_AppResources", "version": "1.0.2308.1", "ismanaged": true}"#,
    );
    std::fs::rename(&fresh, root.path("envs/prod.json")).expect("rename");
    assert!(
        wait_until(30, || daemon.log().contains("Rules reloaded")),
        "{}",
        daemon.log()
    );
    assert!(
        wait_until(30, || root
            .reports()
            .iter()
            .any(|(_, r)| r["packages"][0]["unique_name"]
                == "IncidentReporting"
                && missing(r) == 0)),
        "re-checked against the new snapshot:\n{}",
        daemon.log()
    );
    assert!(daemon.stop().success());
}
