//! Shipped policies compile when first run, and a policy whose `needs` the context lacks is
//! neither compiled nor run; neither changes a single finding.

mod support;

use std::sync::Arc;

use solguard::config::{EvalSettings, Target, Targets};
use solguard::diagnostic::Finding;
use solguard::eval::{Evaluator, Related};
use solguard::package::{read_package, Package};
use solguard::policy::{shipped_files, PolicyFile, PolicySet, SandboxLimits};
use time::macros::date;

fn evaluate(policies: &PolicySet, settings: EvalSettings, package: &Arc<Package>) -> Vec<Finding> {
    evaluate_in(policies, settings, package, &Related::default())
}

fn evaluate_in(
    policies: &PolicySet,
    settings: EvalSettings,
    package: &Arc<Package>,
    related: &Related,
) -> Vec<Finding> {
    let mut evaluator = Evaluator::new(policies, settings, date!(2026 - 11 - 22));
    let findings = evaluator.evaluate(package, related);
    evaluator.waive(&package.unique_name, &package.version, findings)
}

fn with_target(version: &str) -> EvalSettings {
    EvalSettings {
        targets: Targets {
            targets: vec![Target {
                name: "prod".into(),
                version: version.into(),
            }],
            ..Targets::default()
        },
        ..EvalSettings::default()
    }
}

fn compiled(policies: &PolicySet) -> Vec<&str> {
    policies
        .policies()
        .iter()
        .filter(|p| p.is_compiled())
        .map(|p| p.meta.id.as_str())
        .collect()
}

#[test]
fn shipped_policies_compile_on_first_run_and_only_when_their_needs_are_met() {
    let policies = PolicySet::load(None, SandboxLimits::default()).expect("shipped load");
    assert!(compiled(&policies).is_empty(), "nothing compiled at load");
    let package = Arc::new(
        read_package(&support::corpus().join("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip"))
            .expect("corpus package reads"),
    );
    evaluate(&policies, EvalSettings::default(), &package);
    assert_eq!(
        compiled(&policies),
        ["import-readiness", "monotonic-version", "publisher-consistency"],
        "no earlier release, targets, environments or deployment settings: their policies never compiled"
    );
    // An old target: version-compatibility now runs, compiles, and finds the newer platform.
    let findings = evaluate(&policies, with_target("8.2.0.0"), &package);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "version-compatibility" && f.code == "newer-platform"),
        "{findings:?}"
    );
    assert!(compiled(&policies).contains(&"version-compatibility"));
    policies
        .compile_all()
        .expect("every shipped policy compiles");
    assert_eq!(compiled(&policies).len(), policies.policies().len());
}

#[test]
fn skipping_by_needs_changes_no_finding_on_the_corpus() {
    // The shipped policies with their `needs` removed, loaded as user policies (same ids): they
    // always run, and must find exactly what the skipping set finds.
    let always: Vec<PolicyFile> = shipped_files()
        .into_iter()
        .map(|file| PolicyFile {
            origin: file.origin.replace("shipped:", "always/"),
            source: file
                .source
                .lines()
                .filter(|line| !line.starts_with("//! needs"))
                .map(|line| format!("{line}\n"))
                .collect(),
        })
        .collect();
    assert!(
        shipped_files()
            .iter()
            .filter(|f| f.source.contains("\n//! needs = "))
            .count()
            >= 4,
        "the shipped policies declare needs"
    );
    let skipping = PolicySet::load(None, SandboxLimits::default()).expect("shipped load");
    let running = PolicySet::from_files(Vec::new(), always, SandboxLimits::default())
        .expect("the policies load without needs");
    let zips = support::walk_zips(&support::corpus());
    assert!(zips.len() >= 30, "the corpus has its zips");
    let mut earlier: Option<Arc<Package>> = None;
    for zip in zips {
        let Ok(package) = read_package(&zip) else {
            continue;
        };
        let package = Arc::new(package);
        // Without a lineage, and with the package before it in the walk as the installed
        // release, as the release in the other form, and as an earlier release only.
        let lineages = [
            Related::default(),
            Related {
                previous: earlier.clone(),
                installed: earlier.clone(),
                ..Related::default()
            },
            Related {
                other_form: earlier.clone(),
                ..Related::default()
            },
            Related {
                previous: earlier.clone(),
                patches: earlier.iter().cloned().collect(),
                ..Related::default()
            },
        ];
        for related in &lineages {
            for settings in [EvalSettings::default(), with_target("9.2.24102.194")] {
                let with_skips = evaluate_in(&skipping, settings.clone(), &package, related);
                let without = evaluate_in(&running, settings, &package, related);
                let strip = |findings: Vec<Finding>| -> Vec<String> {
                    findings.iter().map(|f| format!("{f:?}")).collect()
                };
                assert_eq!(strip(with_skips), strip(without), "{}", zip.display());
            }
        }
        earlier = Some(package);
    }
}

#[test]
fn a_user_policy_runs_only_when_what_it_needs_is_there() {
    let source = "//! id = \"needs-targets\"\n//! severity = \"warning\"\n//! title = \"t\"\n//! description = \"Test policy.\"\n//! hint = \"Fix it.\"\n//! needs = [\"targets\", \"environments\"]\nfn check(pkg, context) { finding(\"ran\", `${context.targets.len()}`) }\n";
    let policies = PolicySet::from_files(
        Vec::new(),
        vec![PolicyFile {
            origin: "test/needs.rhai".into(),
            source: source.into(),
        }],
        SandboxLimits::default(),
    )
    .expect("loads");
    assert_eq!(
        compiled(&policies),
        ["needs-targets"],
        "user policies compile at load"
    );
    let package = Arc::new(
        read_package(&support::corpus().join("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip"))
            .expect("corpus package reads"),
    );
    assert!(evaluate(&policies, EvalSettings::default(), &package).is_empty());
    let findings = evaluate(&policies, with_target("9.2.0.0"), &package);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].message, "1");
}
