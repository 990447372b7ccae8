//! Policy test cases, kept beside the policies as `<id>.tests.toml`. A case gives the package
//! (a fixture path relative to the case file, or an inline model fragment merged over a minimal
//! valid model), the releases accepted before it (`history`, oldest first: earlier releases,
//! twins, a parent and its patches; `previous` is a shorthand for one), params and targets, and
//! the findings it expects by rule and code. The case runs through the pipeline, so its
//! package is compared exactly as `check` would compare it after those releases.
//!
//! ```toml
//! [[case]]
//! name = "a nested zip is refused"
//! model = { warnings = [{ code = "solution-not-at-root", message = "…", file = "kv/solution.xml" }] }
//! expect = [{ code = "solution-not-at-root" }]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{InRunLineage, Input, Lineage, Pipeline};
use crate::assessment::Assessment;
use crate::config::{DeploymentSettings, Environment, EvalSettings, RuleSettings, Target};
use crate::diagnostic::{Finding, Severity, POLICY_ERROR_CODE};
use crate::package::{read_package, Package, SolutionVersion};
use crate::policy::PolicySet;
pub use crate::report::CaseResult;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFileToml {
    #[serde(rename = "case", default)]
    cases: Vec<CaseToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    name: String,
    package: Option<String>,
    model: Option<toml::Table>,
    previous: Option<PackageSpec>,
    /// Releases accepted before the package, oldest first.
    #[serde(default)]
    history: Vec<PackageSpec>,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    targets: BTreeMap<String, String>,
    /// Environment snapshots (paths relative to the case file) the package is checked against.
    #[serde(default)]
    environments: Vec<String>,
    /// Deployment settings files by environment name (paths relative to the case file).
    #[serde(default)]
    deployment_settings: BTreeMap<String, String>,
    #[serde(default)]
    expect: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageSpec {
    package: Option<String>,
    model: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule: Option<String>,
    code: String,
    severity: Option<Severity>,
    /// The environment the finding is about, when given.
    environment: Option<String>,
}

/// A case file's text and how to find the fixtures it names.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// Where the file is (`policies/x.tests.toml` or `shipped:x.tests.toml`).
    pub origin: String,
    /// The policy it tests: the file name before `.tests.toml`.
    pub policy_id: String,
    pub text: String,
    /// Folder that fixture paths are relative to.
    pub base: PathBuf,
}

/// A minimal valid package that inline model fragments are merged over: a managed release,
/// the form that reaches test and production.
pub fn fixture_package() -> Package {
    let mut package = Package {
        unique_name: "Fixture".into(),
        display_name: Some("Fixture".into()),
        version: "1.0.0.0".into(),
        managed: crate::package::ManagedState::Managed,
        ..Package::default()
    };
    package.publisher.unique_name = "fixturepublisher".into();
    package.publisher.customization_prefix = Some("fix".into());
    package.publisher.option_value_prefix = Some(10000);
    package.export.version = Some("9.2.24101.200".into());
    package.export.solution_package_version = Some("9.2".into());
    package.export.generated_by = Some("CrmLive".into());
    package.location.file = "solution.xml".into();
    package.location.line = 2;
    package.solution_version = SolutionVersion::parse(&package.version).ok();
    package
}

fn merge(base: &mut serde_json::Value, fragment: serde_json::Value) {
    match (base, fragment) {
        (serde_json::Value::Object(base), serde_json::Value::Object(fragment)) => {
            for (key, value) in fragment {
                merge(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, fragment) => *base = fragment,
    }
}

fn model_package(fragment: &toml::Table) -> Result<Package, String> {
    let mut base = serde_json::to_value(fixture_package()).map_err(|e| e.to_string())?;
    let fragment = serde_json::to_value(fragment).map_err(|e| e.to_string())?;
    merge(&mut base, fragment);
    let mut package: Package =
        serde_json::from_value(base).map_err(|e| format!("inline model: {e}"))?;
    package.solution_version = SolutionVersion::parse(&package.version).ok();
    Ok(package)
}

fn load_spec(
    base: &Path,
    package: &Option<String>,
    model: &Option<toml::Table>,
) -> Result<Option<Arc<Package>>, String> {
    match (package, model) {
        (Some(_), Some(_)) => Err("give either `package` or `model`, not both".into()),
        (Some(path), None) => read_package(&base.join(path))
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| e.to_string()),
        (None, Some(model)) => model_package(model).map(|p| Some(Arc::new(p))),
        (None, None) => Ok(None),
    }
}

/// Runs every case in `files` against `policies`.
pub fn run_cases(policies: &PolicySet, files: &[CaseFile], today: time::Date) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for file in files {
        let parsed: CaseFileToml = match toml::from_str(&file.text) {
            Ok(parsed) => parsed,
            Err(error) => {
                results.push(broken(
                    file,
                    "(file)",
                    format!("cannot read test cases: {}", error.message().trim()),
                ));
                continue;
            }
        };
        if policies.get(&file.policy_id).is_none() {
            results.push(broken(
                file,
                "(file)",
                format!("no policy with id {:?}", file.policy_id),
            ));
            continue;
        }
        for case in parsed.cases {
            results.push(run_case(policies, file, case, today));
        }
    }
    results
}

fn broken(file: &CaseFile, name: &str, error: String) -> CaseResult {
    CaseResult {
        policy: file.policy_id.clone(),
        name: name.to_owned(),
        origin: file.origin.clone(),
        passed: false,
        expected: Vec::new(),
        actual: Vec::new(),
        error: Some(error),
    }
}

fn run_case(
    policies: &PolicySet,
    file: &CaseFile,
    case: CaseToml,
    today: time::Date,
) -> CaseResult {
    let package = match load_spec(&file.base, &case.package, &case.model) {
        Ok(Some(package)) => package,
        Ok(None) => Arc::new(fixture_package()),
        Err(error) => return broken(file, &case.name, error),
    };
    let mut lineage = InRunLineage::new();
    for (index, spec) in case.previous.iter().chain(&case.history).enumerate() {
        match load_spec(&file.base, &spec.package, &spec.model) {
            Ok(Some(mut earlier)) => {
                if earlier.source.path.as_os_str().is_empty() {
                    // Inline releases get a name, so locations into them say which one.
                    let name = format!(
                        "history[{index}]:{}_{}",
                        earlier.unique_name, earlier.version
                    );
                    Arc::make_mut(&mut earlier).source.path = name.into();
                }
                let accepted = Assessment::of_package(earlier.source.path.clone(), &earlier, "");
                lineage.accept(&accepted, &earlier);
            }
            Ok(None) => {
                return broken(
                    file,
                    &case.name,
                    format!("history[{index}]: give `package` or `model`"),
                )
            }
            Err(error) => return broken(file, &case.name, format!("history[{index}]: {error}")),
        }
    }
    // Only the policy under test runs, so other policies' findings do not leak into the case.
    let mut rules: BTreeMap<String, RuleSettings> = policies
        .ids()
        .into_iter()
        .filter(|id| *id != file.policy_id)
        .map(|id| {
            (
                id.to_owned(),
                RuleSettings {
                    enabled: Some(false),
                    ..RuleSettings::default()
                },
            )
        })
        .collect();
    rules.insert(
        file.policy_id.clone(),
        RuleSettings {
            params: case.params.clone(),
            ..RuleSettings::default()
        },
    );
    let mut settings = EvalSettings {
        rules,
        ..EvalSettings::default()
    };
    for (name, version) in &case.targets {
        settings.targets.add_target(Target {
            name: name.clone(),
            version: version.clone(),
        });
    }
    for path in &case.environments {
        match Environment::load(&file.base.join(path)) {
            Ok(environment) => settings.targets.add_environment(environment),
            Err(error) => return broken(file, &case.name, error.to_string()),
        }
    }
    for (name, path) in &case.deployment_settings {
        match DeploymentSettings::load_all(&file.base.join(path), name) {
            Ok(loaded) => settings.targets.set_deployment_settings(name, loaded),
            Err(error) => return broken(file, &case.name, error.to_string()),
        }
    }
    let mut pipeline = Pipeline::new(policies, settings, today);
    let input = Input::package(package.source.path.clone(), package);
    let findings = match pipeline.assess(input, &mut lineage) {
        Ok(assessed) => assessed.assessment.findings,
        Err(error) => return broken(file, &case.name, error.to_string()),
    };
    // Each expectation takes one finding with its rule and code (and severity and environment,
    // when given);
    // the case passes when every expectation is met and no finding is left over.
    let mut unmatched: Vec<&Finding> = findings.iter().collect();
    let mut missing = Vec::new();
    for expectation in &case.expect {
        let rule = expectation.rule.as_deref().unwrap_or(&file.policy_id);
        let position = unmatched.iter().position(|f| {
            f.rule == rule
                && f.code == expectation.code
                && expectation.severity.is_none_or(|s| s == f.severity)
                && expectation
                    .environment
                    .as_ref()
                    .is_none_or(|e| f.environment.as_ref() == Some(e))
        });
        match position {
            Some(index) => {
                unmatched.remove(index);
            }
            None => missing.push(expectation),
        }
    }
    let passed = missing.is_empty() && unmatched.is_empty();
    let describe = |rule: &str, code: &str, severity: Option<Severity>, at: Option<&String>| {
        let mut text = format!("{rule}/{code}");
        if let Some(severity) = severity {
            text.push_str(&format!(" ({severity})"));
        }
        if let Some(environment) = at {
            text.push_str(&format!(" in {environment}"));
        }
        text
    };
    let mut expected: Vec<String> = case
        .expect
        .iter()
        .map(|e| {
            describe(
                e.rule.as_deref().unwrap_or(&file.policy_id),
                &e.code,
                e.severity,
                e.environment.as_ref(),
            )
        })
        .collect();
    let mut actual: Vec<String> = findings
        .iter()
        .map(|f| describe(&f.rule, &f.code, Some(f.severity), f.environment.as_ref()))
        .collect();
    expected.sort();
    actual.sort();
    let failures: Vec<String> = findings
        .iter()
        .filter(|f| f.code == POLICY_ERROR_CODE)
        .map(|f| f.message.clone())
        .collect();
    CaseResult {
        policy: file.policy_id.clone(),
        name: case.name,
        origin: file.origin.clone(),
        passed,
        expected,
        actual,
        error: failures.into_iter().next(),
    }
}
