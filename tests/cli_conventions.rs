//! The conventions a Rust CLI keeps, through the binary: JSON Schemas that the real outputs
//! validate against (the JSON report of check, audit and the daemon; the shipped and the
//! `init` config), `explain` for every code the shipped policies can emit, completions for
//! each shell and the manual page, `--color`, a quiet broken pipe, `SOLGUARD_CONFIG`, `init`
//! then `check`, and alert secrets needed only where alerts go out.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::daemon::{copy_in, Root};
use support::{check_report, corpus, solguard};

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn schema(kind: &str) -> Value {
    let output = solguard(&["schema", kind]);
    assert!(output.status.success(), "schema {kind}");
    let schema: Value = serde_json::from_slice(&output.stdout).expect("schema is JSON");
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "draft 2020-12"
    );
    schema
}

/// Validates `instance` against `schema`; the errors, one per line.
fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// TOML data as JSON (dates as their text), as editors validate a TOML file.
fn toml_as_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_as_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_as_json(v)))
                .collect(),
        ),
    }
}

fn config_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read config");
    toml_as_json(toml::from_str(&text).expect("TOML"))
}

#[test]
fn json_reports_of_every_command_validate_against_the_report_schema() {
    let report_schema = schema("report");
    let dir = tempfile::tempdir().expect("tmp");
    let snapshot = dir.path().join("prod.json");
    std::fs::write(
        &snapshot,
        r#"{"name": "prod", "version": "9.2.24104.196", "solutions": []}"#,
    )
    .expect("write");
    // check: findings of every kind, waived ones, data loss, environments.
    let config = dir.path().join("solguard.toml");
    std::fs::write(
        &config,
        "[[waivers]]\nrule = \"publisher-consistency\"\nsolution = \"*\"\nreason = \"test\"\nexpires = 2099-01-01\n",
    )
    .expect("write");
    let admin = corpus().join("powerapps-tools");
    // A managed upgrade that deletes a table (data loss), waived findings, an unread file.
    let check = check_report(&[
        "--config",
        text(&config),
        text(&admin.join("CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip")),
        text(&admin.join("CenterofExcellenceAuditComponents_1_21_managed.zip")),
        text(&dir.path().join("missing.zip")),
    ]);
    assert!(check["packages"][1]["data_loss"]
        .as_array()
        .is_some_and(|d| !d.is_empty()));
    assert_eq!(violations(&report_schema, &check), Vec::<String>::new());
    // Findings about an environment, and verdicts per environment.
    let fit = check_report(&[
        "--environment",
        text(&snapshot),
        text(&corpus().join("pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip")),
    ]);
    assert!(fit["packages"][0]["environments"].is_array());
    assert_eq!(violations(&report_schema, &fit), Vec::<String>::new());

    // audit, with a baseline (new findings) and skipped files.
    let baseline = dir.path().join("baseline.db");
    let output = solguard(&[
        "audit",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--baseline",
        text(&baseline),
        text(&corpus().join("xrm-ci-framework")),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let audit: Value = serde_json::from_slice(&output.stdout).expect("audit JSON");
    assert!(audit["streams"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(violations(&report_schema, &audit), Vec::<String>::new());

    // The daemon's per-package report.
    let root = Root::new("", "[[watch]]\npath = \"drop\"\n", None);
    copy_in(
        &admin.join("PowerPlatformAdmin_1_0_0_42.zip"),
        &root.path("drop/Admin.zip"),
    );
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    let daemon = root
        .report_for("PowerPlatformAdmin")
        .expect("daemon report");
    assert_eq!(violations(&report_schema, &daemon), Vec::<String>::new());

    // The schema is not vacuous: a report with a wrong verdict fails it.
    let mut broken = check.clone();
    broken["packages"][0]["verdict"] = Value::from("maybe");
    assert!(!violations(&report_schema, &broken).is_empty());
}

#[test]
fn the_shipped_and_the_init_config_validate_against_the_config_schema() {
    let config_schema = schema("config");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    assert_eq!(
        violations(&config_schema, &config_json(&shipped)),
        Vec::<String>::new()
    );
    let dir = tempfile::tempdir().expect("tmp");
    assert!(solguard(&["init", text(dir.path())]).status.success());
    let written = dir.path().join("solguard.toml");
    assert_eq!(
        violations(&config_schema, &config_json(&written)),
        Vec::<String>::new()
    );
    let mut typo = config_json(&written);
    typo["daemon"]["setle_ms"] = Value::from(10);
    assert!(
        !violations(&config_schema, &typo).is_empty(),
        "an unknown key fails the schema as it fails the checker"
    );
}

#[test]
fn init_writes_a_config_and_policy_that_check_and_policy_test_accept_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = solguard(&["init", text(dir.path())]);
    assert!(first.status.success());
    let policy = dir.path().join("policies/example-description.rhai");
    std::fs::write(&policy, "// mine\n").expect("edit");
    let again = solguard(&["init", text(dir.path())]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("kept"));
    assert_eq!(std::fs::read_to_string(&policy).expect("read"), "// mine\n");

    let fresh = tempfile::tempdir().expect("tmp");
    assert!(solguard(&["init", text(fresh.path())]).status.success());
    let config = fresh.path().join("solguard.toml");
    // A package without a description: the example policy's finding, as a warning.
    let package = support::ZipBuilder::with_manifest(&support::Manifest::default())
        .write(fresh.path(), "ContosoCore_1_0_0_0.zip");
    let report = check_report(&["--config", text(&config), text(&package)]);
    let codes: Vec<&str> = report["packages"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"missing-description"), "{codes:?}");
    let tests = solguard(&["policy", "test", text(&fresh.path().join("policies"))]);
    assert!(
        tests.status.success(),
        "{}",
        String::from_utf8_lossy(&tests.stdout)
    );
    // Found without --config: SOLGUARD_CONFIG, then ./solguard.toml.
    let by_env = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--format",
            "json",
            "--fail-on",
            "never",
            text(&package),
        ])
        .env("SOLGUARD_CONFIG", &config)
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&by_env.stdout).contains("missing-description"));
    let in_folder = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--format",
            "json",
            "--fail-on",
            "never",
            text(&package),
        ])
        .current_dir(fresh.path())
        .env_remove("SOLGUARD_CONFIG")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&in_folder.stdout).contains("missing-description"));
}

/// Every code a shipped policy can emit: `finding("code"` and the helpers around it.
fn shipped_codes() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut codes = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("policies") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let id = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let source = std::fs::read_to_string(&path).expect("read");
        for code in codes_after(&source, &["finding(\"", "warning(\""]) {
            codes.push((id.clone(), code));
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

/// The kebab-case words in quotes that follow any of `starts` in `source`.
fn codes_after(source: &str, starts: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for start in starts {
        for (at, _) in source.match_indices(start) {
            let rest = &source[at + start.len()..];
            let code: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            if !code.is_empty() && rest[code.len()..].starts_with('"') {
                found.push(code);
            }
        }
    }
    found
}

#[test]
fn explain_knows_every_code_a_shipped_policy_can_emit_and_the_built_in_ones() {
    let codes = shipped_codes();
    assert!(codes.len() > 40, "{codes:?}");
    for (policy, code) in &codes {
        let query = format!("{policy}/{code}");
        let output = solguard(&["explain", &query]);
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && shown.starts_with(&query),
            "{query}: {shown}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for query in [
        "package-format/not-a-zip",
        "package-format/special-file",
        "waiver-expired",
        "waivers/waiver-unused",
        "policy-error",
        "repository/file-name-mismatch",
        "mode-conflict",
        "environment-fit",
    ] {
        let output = solguard(&["explain", query]);
        assert!(output.status.success(), "{query}");
        assert!(!output.stdout.is_empty(), "{query}");
    }
    // Every param a shipped policy reads is declared, and explain lists it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(&dir).expect("policies") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read");
        let id = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for (at, _) in source.match_indices("context.params.") {
            let key: String = source[at + "context.params.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let shown = String::from_utf8_lossy(&solguard(&["explain", &id]).stdout).into_owned();
            assert!(
                shown.contains("Params (") && shown.contains(&format!("  {key}: ")),
                "{id} reads params.{key}: {shown}"
            );
        }
    }
    let unknown = solguard(&["explain", "environment-fit/no-such-code"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("mode-conflict"));
}

#[test]
fn completions_for_every_shell_and_a_manual_page() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef solguard"),
        ("fish", "complete -c solguard"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let output = solguard(&["completions", shell]);
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{shell}");
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(
            script.contains("deployment-settings"),
            "{shell} knows the options"
        );
    }
    let man = solguard(&["man"]);
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains(".TH solguard 1") && page.contains(".SH NAME"),
        "{page:.300}"
    );
}

fn contoso() -> PathBuf {
    corpus().join("PowerApps-Samples/Contoso_sample_1_0_0_1_managed.zip")
}

#[test]
fn color_follows_the_flag_and_the_environment() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_solguard"));
        command.args(args).arg(contoso());
        command.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("run");
        String::from_utf8_lossy(&output.stdout).contains('\u{1b}')
    };
    assert!(!run(&["check"], &[]), "a pipe gets no colours");
    assert!(run(&["--color", "always", "check"], &[]));
    assert!(
        run(&["check", "--color", "always"], &[]),
        "the flag is global"
    );
    assert!(run(&["check"], &[("CLICOLOR_FORCE", "1")]));
    assert!(!run(
        &["--color", "never", "check"],
        &[("CLICOLOR_FORCE", "1")]
    ));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let big = corpus().join("powerapps-tools/CenterofExcellenceCoreComponents_1_70_1_managed.zip");
    let mut child = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["inspect", "--format", "json", text(&big)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // Read a little, then hang up, as `| head` does.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("read");
    drop(stdout);
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn unset_alert_secrets_stop_only_what_delivers_alerts() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("daemon.toml");
    std::fs::write(
        &config,
        "[[alerts]]\ntype = \"teams\"\nname = \"gov\"\nurl = \"${SOLGUARD_TEST_UNSET_TEAMS_URL}\"\n",
    )
    .expect("write");
    let check = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["check", "--config", text(&config), text(&contoso())])
        .env_remove("SOLGUARD_TEST_UNSET_TEAMS_URL")
        .output()
        .expect("run");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let alerting = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--alert",
            "--config",
            text(&config),
            text(&contoso()),
        ])
        .env_remove("SOLGUARD_TEST_UNSET_TEAMS_URL")
        .output()
        .expect("run");
    assert_eq!(alerting.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&alerting.stderr);
    assert!(
        stderr.contains("daemon.toml:4:")
            && stderr.contains("SOLGUARD_TEST_UNSET_TEAMS_URL is not set"),
        "{stderr}"
    );
}
