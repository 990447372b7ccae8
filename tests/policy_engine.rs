//! The policy engine through the library API: loading errors, the sandbox, the script API
//! (versions, diff, names, params, targets, previous, history) and waivers.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use solguard::config::{EvalSettings, RuleSettings, Target, Targets, Waiver};
use solguard::diagnostic::{Finding, Verdict};
use solguard::eval::{Evaluator, HistoryEntry, Related};
use solguard::package::{read_package, Package};
use solguard::policy::{
    shipped_files, PolicyFile, PolicyLoadError, PolicySet, SandboxLimits, Severity,
};
use support::{Manifest, ZipBuilder};
use tempfile::TempDir;
use time::macros::date;

fn policy(id: &str, body: &str) -> PolicyFile {
    PolicyFile {
        origin: format!("test/{id}.rhai"),
        source: format!(
            "//! id = \"{id}\"\n//! severity = \"error\"\n//! title = \"{id}\"\n//! description = \"Test policy.\"\n//! hint = \"Fix it.\"\n{body}\n"
        ),
    }
}

fn set(files: Vec<PolicyFile>) -> PolicySet {
    PolicySet::from_files(Vec::new(), files, SandboxLimits::default()).expect("policies load")
}

fn load_error(files: Vec<PolicyFile>) -> PolicyLoadError {
    PolicySet::from_files(Vec::new(), files, SandboxLimits::default()).expect_err("load fails")
}

fn corpus_package(path: &str) -> Arc<Package> {
    Arc::new(read_package(&support::corpus().join(path)).expect("corpus package reads"))
}

fn evaluate(
    policies: &PolicySet,
    settings: EvalSettings,
    package: &Arc<Package>,
    previous: Option<&Arc<Package>>,
) -> Vec<Finding> {
    let related = Related {
        previous: previous.cloned(),
        installed: previous.cloned(),
        ..Related::default()
    };
    let mut evaluator = Evaluator::new(policies, settings, date!(2026 - 11 - 22));
    let findings = evaluator.evaluate(package, &related);
    evaluator.waive(&package.unique_name, &package.version, findings)
}

#[test]
fn loading_errors_name_file_line_and_column() {
    let error = load_error(vec![
        policy("a", "fn check(pkg, context) { [] }"),
        policy("a", "fn check(pkg, context) { [] }"),
    ]);
    assert!(
        matches!(error, PolicyLoadError::DuplicateId { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("test/a.rhai"), "{error}");

    let error = load_error(vec![policy("b", "fn verify(pkg) { [] }")]);
    assert!(error.to_string().contains("no entry point"), "{error}");
    assert!(error.to_string().starts_with("test/b.rhai:"), "{error}");

    let error = load_error(vec![policy(
        "c",
        "fn check(pkg, context) {\n  let x = ;\n}",
    )]);
    let text = error.to_string();
    assert!(
        text.starts_with("test/c.rhai:7:11:"),
        "syntax error at file:line:column: {text}"
    );
    assert!(text.contains("syntax error"), "{text}");

    let mut bad_meta = policy("d", "fn check(pkg, context) { [] }");
    bad_meta.source = bad_meta
        .source
        .replace("severity = \"error\"", "severity = \"critical\"");
    let error = load_error(vec![bad_meta]);
    assert!(error.to_string().starts_with("test/d.rhai:2:"), "{error}");

    let error = load_error(vec![policy("e", "fn check(pkg, context) { eval(\"1\") }")]);
    assert!(
        error.to_string().contains("test/e.rhai"),
        "eval is not available: {error}"
    );
    let error = load_error(vec![policy(
        "f",
        "import \"secrets\" as s;\nfn check(pkg, context) { [] }",
    )]);
    assert!(
        error.to_string().contains("test/f.rhai:6"),
        "import is not available: {error}"
    );
}

#[test]
fn shipped_policies_load_and_user_policies_override_by_id() {
    let shipped = shipped_files();
    assert!(!shipped.is_empty(), "policies/ is embedded");
    let policies = PolicySet::from_files(shipped.clone(), Vec::new(), SandboxLimits::default())
        .expect("shipped load");
    assert!(policies.get("import-readiness").is_some());
    let original = policies.hash().to_owned();

    let replacement = policy(
        "import-readiness",
        "fn check(pkg, context) { finding(\"replaced\", \"user policy ran\") }",
    );
    let overridden = PolicySet::from_files(shipped, vec![replacement], SandboxLimits::default())
        .expect("override loads");
    assert_eq!(overridden.policies().len(), policies.policies().len());
    assert!(!overridden.get("import-readiness").expect("present").shipped);
    assert_ne!(
        overridden.hash(),
        original,
        "the policy-set hash changes with the policy text"
    );
    let package = Arc::new(
        read_package(&ZipBuilder::solution().write(&TempDir::new().expect("tmp").keep(), "p.zip"))
            .expect("reads"),
    );
    let findings = evaluate(&overridden, EvalSettings::default(), &package, None);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "replaced");
}

#[test]
fn import_readiness_flags_what_dataverse_refuses() {
    let dir = TempDir::new().expect("tmp");
    let mut nested = ZipBuilder::new();
    for (name, content) in [
        ("solution.xml", Manifest::default().xml()),
        ("customizations.xml", support::customizations(&[], "")),
    ] {
        nested = nested.file(&format!("kv/{name}"), content);
    }
    let package = Arc::new(read_package(&nested.write(dir.path(), "nested.zip")).expect("reads"));
    let policies = PolicySet::load(None, SandboxLimits::default()).expect("shipped");
    let findings = evaluate(&policies, EvalSettings::default(), &package, None);
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"solution-not-at-root"), "{findings:?}");
    assert!(codes.contains(&"missing-content-types"), "{findings:?}");
    assert!(findings
        .iter()
        .all(|f| f.rule == "import-readiness" && f.severity == Severity::Error));
    assert_eq!(Verdict::of(&findings), Verdict::Fail);
    let located = findings
        .iter()
        .find(|f| f.code == "solution-not-at-root")
        .expect("found");
    assert_eq!(
        located.location.as_ref().map(|l| &*l.file),
        Some("kv/solution.xml")
    );
    assert!(located
        .hint
        .as_deref()
        .is_some_and(|h| h.contains("zip root")));

    let clean = corpus_package("xrm-ci-framework/Success_1_1_0_0.zip");
    assert!(evaluate(&policies, EvalSettings::default(), &clean, None).is_empty());
}

#[test]
fn endless_loops_recursion_huge_values_and_throws_become_policy_errors() {
    let limits = SandboxLimits {
        time_budget: Duration::from_millis(300),
        max_operations: u64::MAX,
        ..SandboxLimits::default()
    };
    let files = vec![
        policy("loop-forever", "fn check(pkg, context) { loop { } }"),
        policy(
            "recurse",
            "fn down(n) { down(n + 1) }\nfn check(pkg, context) { down(0) }",
        ),
        policy(
            "huge-string",
            "fn check(pkg, context) { let s = \"x\"; loop { s += s; } }",
        ),
        policy(
            "huge-array",
            "fn check(pkg, context) { let a = []; loop { a.push(1); } }",
        ),
        policy("throws", "fn check(pkg, context) {\n  throw \"boom\";\n}"),
        policy("bad-result", "fn check(pkg, context) { 42 }"),
        policy(
            "bad-code",
            "fn check(pkg, context) { finding(\"Not Kebab\", \"x\") }",
        ),
        policy(
            "works",
            "fn check(pkg, context) { finding(\"ran\", \"still runs\") }",
        ),
    ];
    let policies = PolicySet::from_files(Vec::new(), files, limits).expect("loads");
    let package = corpus_package("xrm-ci-framework/Success_1_0_0_0.zip");
    let started = Instant::now();
    let findings = evaluate(&policies, EvalSettings::default(), &package, None);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );
    let by_rule = |rule: &str| {
        findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{rule}: {findings:?}"))
    };
    for rule in [
        "loop-forever",
        "recurse",
        "huge-string",
        "huge-array",
        "throws",
        "bad-result",
        "bad-code",
    ] {
        let finding = by_rule(rule);
        assert_eq!(finding.code, "policy-error", "{finding:?}");
        assert_eq!(finding.severity, Severity::Error);
        assert!(
            finding.message.contains(rule),
            "names the policy: {}",
            finding.message
        );
    }
    assert!(
        by_rule("loop-forever")
            .message
            .contains("wall-clock budget of 300 ms"),
        "{:?}",
        by_rule("loop-forever")
    );
    assert!(
        by_rule("recurse").message.contains("nested deeper"),
        "{:?}",
        by_rule("recurse")
    );
    let thrown = by_rule("throws");
    assert!(
        thrown.message.contains("test/throws.rhai:7:"),
        "script position: {}",
        thrown.message
    );
    assert!(thrown.message.contains("boom"));
    assert_eq!(by_rule("works").code, "ran", "other policies still run");

    let counted = PolicySet::from_files(
        Vec::new(),
        vec![policy(
            "spin",
            "fn check(pkg, context) { let i = 0; loop { i += 1; } }",
        )],
        SandboxLimits {
            max_operations: 100_000,
            ..SandboxLimits::default()
        },
    )
    .expect("loads");
    let findings = evaluate(&counted, EvalSettings::default(), &package, None);
    assert!(
        findings[0].message.contains("operation limit of 100000"),
        "{findings:?}"
    );
}

#[test]
fn script_api_sees_model_previous_targets_params_and_diff() {
    let body = r#"
fn check(pkg, context) {
    let found = [];
    let v = version(pkg.version);
    if context.previous != () {
        let before = version(context.previous.version);
        if v > before { found.push(finding("newer", `${v} > ${before}`)); }
        let d = diff(context.previous, pkg);
        for change in d.attributes_removed {
            found.push(finding("attribute-removed", `${change.entity}.${change.attribute}`, change.location));
        }
    }
    for target in context.targets {
        if version(target.version).major == 9 { found.push(finding("target", target.name)); }
    }
    if context.params.limit == 3 && same_name(pkg.publisher.unique_name, "POWERPLATFORMADMIN") {
        found.push(finding("params-and-names", "ok"));
    }
    if version("1.9") < version("1.14") && version("1.2") == version("1.2.0.0") && try_version("x.y") == () {
        found.push(finding("versions", "ok"));
    }
    found
}"#;
    let policies = set(vec![policy("api", body)]);
    let old = corpus_package("powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip");
    let new = corpus_package("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip");
    let mut params = toml::Table::new();
    params.insert("limit".into(), toml::Value::Integer(3));
    let settings = EvalSettings {
        rules: [(
            "api".to_string(),
            RuleSettings {
                params,
                ..RuleSettings::default()
            },
        )]
        .into(),
        targets: Targets {
            targets: vec![Target {
                name: "prod".into(),
                version: "9.2.24102.194".into(),
            }],
            ..Targets::default()
        },
        waivers: Vec::new(),
    };
    let findings = evaluate(&policies, settings, &new, Some(&old));
    let codes = |code: &str| findings.iter().filter(|f| f.code == code).count();
    assert_eq!(codes("newer"), 1, "{findings:?}");
    assert_eq!(
        codes("attribute-removed"),
        6,
        "six attributes dropped 40 -> 42: {findings:?}"
    );
    assert_eq!(codes("target"), 1);
    assert_eq!(codes("params-and-names"), 1);
    assert_eq!(codes("versions"), 1);
    let removed = findings
        .iter()
        .find(|f| f.message == "admin_app.admin_appcategory")
        .expect("named");
    let location = removed.location.as_ref().expect("location from the model");
    assert_eq!(&*location.file, "customizations.xml");
    assert!(location.line > 1);
    assert_eq!(
        removed.hint.as_deref(),
        Some("Fix it."),
        "the policy hint fills in"
    );
}

#[test]
fn history_reaches_scripts() {
    let policies = set(vec![policy("hist", "fn check(pkg, context) { for h in context.history { return finding(\"seen\", h.version + \" \" + h.publisher); } }")]);
    let package = corpus_package("xrm-ci-framework/Success_1_1_0_0.zip");
    let history = [HistoryEntry {
        version: "1.0.0.0".into(),
        publisher: "ultradynamics".into(),
        managed: solguard::package::ManagedState::Unmanaged,
        sha256: None,
        when: time::macros::datetime!(2026-11-01 10:00 UTC),
        exported_at: None,
        patch_of: None,
    }];
    let related = Related {
        history: history.to_vec(),
        ..Related::default()
    };
    let findings = Evaluator::new(&policies, EvalSettings::default(), date!(2026 - 11 - 22))
        .evaluate(&package, &related);
    assert_eq!(findings[0].message, "1.0.0.0 ultradynamics");
}

fn waiver(rule: &str, solution: &str, expires: Option<time::Date>) -> Waiver {
    Waiver {
        rule: rule.into(),
        code: None,
        solution: solution.into(),
        version: None,
        reason: "Accepted risk, ticket GOV-12".into(),
        expires,
        origin: "config.toml:1".into(),
    }
}

#[test]
fn waivers_apply_expire_and_report_unused() {
    let policies = set(vec![
        policy("always", "fn check(pkg, context) { finding(\"always\", \"found\") }"),
        policy("warns", "fn check(pkg, context) { let f = finding(\"soft\", \"found\"); f.severity = \"warning\"; f }"),
    ]);
    let package = corpus_package("xrm-ci-framework/Success_1_1_0_0.zip");
    let settings = EvalSettings {
        waivers: vec![
            waiver("always", "succ*", Some(date!(2027 - 01 - 01))),
            waiver("warns", "Success", Some(date!(2026 - 01 - 01))),
            waiver("never-fires", "*", None),
        ],
        ..EvalSettings::default()
    };
    let mut evaluator = Evaluator::new(&policies, settings, date!(2026 - 11 - 22));
    let findings = evaluator.evaluate(&package, &Related::default());
    let findings = evaluator.waive(&package.unique_name, &package.version, findings);
    let always = findings
        .iter()
        .find(|f| f.rule == "always")
        .expect("kept in the report");
    assert_eq!(
        always.waived.as_ref().map(|w| w.reason.as_str()),
        Some("Accepted risk, ticket GOV-12")
    );
    let soft = findings.iter().find(|f| f.rule == "warns").expect("soft");
    assert!(soft.waived.is_none(), "an expired waiver no longer applies");
    let expired = findings
        .iter()
        .find(|f| f.code == "waiver-expired")
        .expect("expiry is reported");
    assert_eq!(expired.severity, Severity::Warning);
    assert_eq!(
        Verdict::of(&findings),
        Verdict::Warn,
        "waived error does not fail; the warning stays"
    );
    let unused = evaluator.unused_waivers();
    assert_eq!(unused.len(), 1, "{unused:?}");
    assert_eq!(unused[0].code, "waiver-unused");
    assert_eq!(unused[0].severity, Severity::Info);
    assert!(unused[0].message.contains("never-fires"));
}

#[test]
fn config_severity_override_and_disable() {
    let policies = set(vec![
        policy("loud", "fn check(pkg, context) { finding(\"x\", \"y\") }"),
        policy("off", "fn check(pkg, context) { finding(\"x\", \"y\") }"),
    ]);
    let settings = EvalSettings {
        rules: [
            (
                "loud".to_string(),
                RuleSettings {
                    severity: Some(Severity::Info),
                    ..RuleSettings::default()
                },
            ),
            (
                "off".to_string(),
                RuleSettings {
                    enabled: Some(false),
                    ..RuleSettings::default()
                },
            ),
        ]
        .into(),
        ..EvalSettings::default()
    };
    let package = corpus_package("xrm-ci-framework/Success_1_1_0_0.zip");
    let findings = evaluate(&policies, settings, &package, None);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity, Severity::Info);
    assert_eq!(Verdict::of(&findings), Verdict::Pass);
}

#[test]
fn tables_columns_and_choices_read_as_typed_values() {
    let body = r#"
fn check(pkg, context) {
    let found = [];
    for entity in pkg.entities {
        let columns = entity.attributes;
        let custom = 0;
        for column in columns { if column.custom { custom += 1; } }
        let first = if columns.is_empty() { () } else { columns[0] };
        let first_text = if first == () { "-" } else { `${first.name}=${first}/${first.type ?? "?"}/${first.location.line}` };
        found.push(finding("table", `${entity.schema_name}=${entity} ${entity.name} ${columns.len()} ${custom} ${first_text}`, entity.location));
    }
    for set in pkg.option_sets {
        found.push(finding("choice", `${set.name}=${set} ${set.global} ${set.values.len()}`, set.location));
    }
    found
}"#;
    let policies = set(vec![policy("typed", body)]);
    let package = corpus_package("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip");
    assert!(!package.entities.is_empty() && !package.option_sets.is_empty());
    let findings = evaluate(&policies, EvalSettings::default(), &package, None);
    let messages = |code: &str| -> Vec<(String, u64)> {
        findings
            .iter()
            .filter(|f| f.code == code)
            .map(|f| (f.message.clone(), f.location.as_ref().map_or(0, |l| l.line)))
            .collect()
    };
    let expected_tables: Vec<(String, u64)> = package
        .entities
        .iter()
        .map(|e| {
            let custom = e.attributes.iter().filter(|a| a.custom).count();
            let first = e.attributes.first().map_or("-".to_string(), |a| {
                let kind = a.attribute_type.as_deref().unwrap_or("?");
                format!("{0}={0}/{kind}/{1}", a.name, a.location.line)
            });
            let message = format!(
                "{0}={0} {1} {2} {custom} {first}",
                e.schema_name,
                e.name,
                e.attributes.len()
            );
            (message, e.location.line)
        })
        .collect();
    assert_eq!(messages("table"), expected_tables, "{findings:?}");
    let expected_choices: Vec<(String, u64)> = package
        .option_sets
        .iter()
        .map(|s| {
            let message = format!("{0}={0} {1} {2}", s.name, s.global, s.values.len());
            (message, s.location.line)
        })
        .collect();
    assert_eq!(messages("choice"), expected_choices);

    let writer = set(vec![policy(
        "writer",
        "fn check(pkg, context) { let e = pkg.entities[0]; e.name = \"x\"; }",
    )]);
    let findings = evaluate(&writer, EvalSettings::default(), &package, None);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].code, "policy-error", "tables are read-only");
}
