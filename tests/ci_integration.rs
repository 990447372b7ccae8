//! The CI integrations shipped beside the binary: the GitHub composite action (`action.yml` and
//! its run script `ci/github/solguard-action.sh`) and the Azure Pipelines steps template
//! (`ci/azure-pipelines/solguard.yml`). The YAML must name real inputs, outputs and report files
//! (outputs are checked against the keys solguard really writes to `$GITHUB_OUTPUT`), and both
//! scripts are run on real corpus packages: annotations with workspace-relative paths, step
//! outputs, the job summary and the report files, and the exit status of `solguard check`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml::Value;
use support::corpus;

/// The two corpus packages the scripts check: Contoso_sample is built for platform 9.2 (an
/// error for a 9.1 target), Success is built for 8.2 and passes.
const CONTOSO: &str = "PowerApps-Samples/Contoso_sample_1_0_0_1_managed.zip";
const SUCCESS: &str = "xrm-ci-framework/Success_1_1_0_0_managed.zip";

const ACTION_INPUTS: [&str; 6] = [
    "paths",
    "fail-on",
    "config",
    "targets",
    "environments",
    "sarif",
];

const TEMPLATE_PARAMETERS: [&str; 7] = [
    "paths",
    "failOn",
    "config",
    "targets",
    "environments",
    "publishJUnit",
    "solguardSource",
];

/// A file of the repository.
fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A YAML file of the repository, parsed.
fn yaml(relative: &str) -> Value {
    let path = repo_file(relative);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

/// The keys of a YAML mapping, in file order.
fn keys(mapping: &Value) -> Vec<String> {
    mapping
        .as_mapping()
        .expect("a mapping")
        .keys()
        .map(|key| key.as_str().expect("a string key").to_owned())
        .collect()
}

/// A string field of a YAML mapping ("" when absent or not a string).
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Every string scalar in `value`, mapping values and sequence items alike (not keys).
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Mapping(mapping) => mapping.values().flat_map(strings).collect(),
        Value::Tagged(tagged) => strings(&tagged.value),
        _ => Vec::new(),
    }
}

/// The names `context.NAME` refers to in `text` (`inputs.fail-on`, `parameters.paths`), where
/// `context` starts a word.
fn references(haystack: &str, context: &str) -> Vec<String> {
    let prefix = format!("{context}.");
    let mut found = Vec::new();
    for (at, _) in haystack.match_indices(&prefix) {
        let starts_word = haystack[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        if !starts_word {
            continue;
        }
        let name: String = haystack[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        found.push(name);
    }
    found
}

/// The text of a `${{ ... }}` expression, trimmed; `None` when `value` is not one.
fn expression(value: &str) -> Option<&str> {
    value
        .trim()
        .strip_prefix("${{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .map(str::trim)
}

/// The steps of the action's `runs`.
fn action_steps(action: &Value) -> &Vec<Value> {
    assert_eq!(text(&action["runs"], "using"), "composite");
    action["runs"]["steps"].as_sequence().expect("runs.steps")
}

/// The keys `solguard check` appends to `$GITHUB_OUTPUT` (with `--report-dir`), from a real run.
fn github_output_keys() -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let outputs = dir.path().join("github-output");
    let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--fail-on",
            "never",
            "--format",
            "json",
            "--report-dir",
        ])
        .arg(dir.path().join("reports"))
        .arg(corpus().join(SUCCESS))
        .env("GITHUB_OUTPUT", &outputs)
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("SOLGUARD_CONFIG")
        .current_dir(dir.path())
        .output()
        .expect("run solguard");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    std::fs::read_to_string(&outputs)
        .expect("solguard wrote GITHUB_OUTPUT")
        .lines()
        .map(|line| line.split_once('=').expect("name=value").0.to_owned())
        .collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_action_names_real_inputs_and_outputs() {
    let action = yaml("action.yml");
    assert_eq!(text(&action, "name"), "solguard");

    let inputs = keys(&action["inputs"]);
    assert_eq!(
        inputs.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(ACTION_INPUTS),
        "inputs"
    );
    assert_eq!(action["inputs"]["paths"]["required"].as_bool(), Some(true));
    assert_eq!(text(&action["inputs"]["fail-on"], "default"), "error");
    assert_eq!(text(&action["inputs"]["sarif"], "default"), "true");

    // Every `inputs.X` in an expression or condition names a declared input.
    for value in strings(&action) {
        for name in references(value, "inputs") {
            assert!(
                inputs.contains(&name),
                "`inputs.{name}` in {value:?} is not a declared input"
            );
        }
    }

    // Outputs: what solguard writes to GITHUB_OUTPUT, each passed through from the run step.
    let outputs = keys(&action["outputs"]);
    assert_eq!(
        outputs.iter().cloned().collect::<BTreeSet<_>>(),
        github_output_keys(),
        "the action's outputs are the keys solguard writes to GITHUB_OUTPUT"
    );
    for name in &outputs {
        let value = text(&action["outputs"][name.as_str()], "value");
        assert_eq!(
            expression(value),
            Some(format!("steps.run.outputs.{name}").as_str()),
            "output {name}: {value:?}"
        );
    }

    let steps = action_steps(&action);
    assert!(
        steps
            .iter()
            .any(|step| text(step, "uses").starts_with("actions/cache@")),
        "the binary is cached"
    );

    // The run step hands every input to the script as INPUT_*.
    let run = steps
        .iter()
        .find(|step| text(step, "id") == "run")
        .expect("a step with id `run`");
    assert_eq!(text(run, "shell"), "bash");
    let env = &run["env"];
    for input in ACTION_INPUTS {
        let variable = format!("INPUT_{}", input.to_uppercase().replace('-', "_"));
        assert_eq!(
            expression(text(env, &variable)),
            Some(format!("inputs.{input}").as_str()),
            "{variable} in the run step's env"
        );
    }
    let report_dir = text(env, "REPORT_DIR");
    assert!(!report_dir.is_empty(), "REPORT_DIR in the run step's env");

    // The script it calls ships with the action and can be executed.
    let command = text(run, "run");
    let script = command
        .split("${{ github.action_path }}/")
        .nth(1)
        .map(|rest| rest.trim_end_matches(['"', '\'', ' ', '\n']))
        .unwrap_or_else(|| panic!("the run step calls a script of the action: {command:?}"));
    assert_eq!(script, "ci/github/solguard-action.sh");
    let script = repo_file(script);
    assert!(script.is_file(), "{} exists", script.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&script)
            .expect("stat")
            .permissions()
            .mode();
        assert_ne!(mode & 0o111, 0, "{} is executable", script.display());
    }

    // SARIF goes to code scanning from where the script writes it, only when asked for and
    // only after a run that wrote reports.
    let upload = steps
        .iter()
        .find(|step| text(step, "uses").starts_with("github/codeql-action/upload-sarif@"))
        .expect("an upload-sarif step");
    assert_eq!(
        text(&upload["with"], "sarif_file"),
        format!("{report_dir}/solguard-report.sarif")
    );
    assert_eq!(text(&upload["with"], "category"), "solguard");
    let condition = text(upload, "if");
    for needed in [
        "always()",
        "inputs.sarif == 'true'",
        "steps.run.outputs.report-dir != ''",
    ] {
        assert!(condition.contains(needed), "{needed} in {condition:?}");
    }
}

/// Runs the action's script as the run step does, with `fail_on` and the two corpus packages;
/// `dir` receives the reports, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY.
fn run_action_script(fail_on: &str, dir: &Path) -> Output {
    let corpus = corpus();
    let paths = format!(
        "{}\n{}",
        corpus.join(CONTOSO).display(),
        corpus.join(SUCCESS).display()
    );
    Command::new("bash")
        .arg(repo_file("ci/github/solguard-action.sh"))
        .env("SOLGUARD", env!("CARGO_BIN_EXE_solguard"))
        .env("INPUT_PATHS", paths)
        .env("INPUT_FAIL_ON", fail_on)
        .env("INPUT_CONFIG", "")
        .env("INPUT_TARGETS", "prod=9.1\ntest=9.2.24104.196")
        .env("INPUT_ENVIRONMENTS", "")
        .env("INPUT_SARIF", "true")
        .env("REPORT_DIR", dir.join("reports"))
        .env("GITHUB_OUTPUT", dir.join("github-output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("step-summary.md"))
        .env("GITHUB_WORKSPACE", corpus)
        .env_remove("SOLGUARD_CONFIG")
        // No ./solguard.toml is picked up from the repository.
        .current_dir(dir)
        .output()
        .expect("run bash")
}

#[test]
fn the_action_script_runs_with_the_action_inputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let output = run_action_script("never", dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Annotations: paths relative to the workspace, the 9.1 target's error on Contoso_sample.
    let annotations = stdout(&output);
    let error_lines: Vec<&str> = annotations
        .lines()
        .filter(|line| line.starts_with("::error file="))
        .collect();
    assert!(!error_lines.is_empty(), "{annotations}");
    for line in &error_lines {
        let file = line["::error file=".len()..]
            .split([',', ':'])
            .next()
            .expect("a file");
        assert!(
            file.starts_with("PowerApps-Samples/") || file.starts_with("xrm-ci-framework/"),
            "relative to GITHUB_WORKSPACE: {line}"
        );
    }
    assert!(
        error_lines
            .iter()
            .any(|line| line.starts_with(&format!("::error file={CONTOSO},"))
                && line.contains("title=version-compatibility/newer-platform")),
        "{annotations}"
    );

    // Step outputs.
    let outputs =
        std::fs::read_to_string(dir.path().join("github-output")).expect("GITHUB_OUTPUT written");
    let value = |name: &str| {
        outputs
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name}= in {outputs}"))
    };
    assert_eq!(value("verdict"), "fail");
    assert_eq!(value("packages"), "2");
    let errors: u64 = value("errors").parse().expect("a count");
    assert!(errors > 0, "{outputs}");
    let report_dir = dir.path().join("reports");
    assert_eq!(Path::new(value("report-dir")), report_dir);

    // Reports.
    let sarif: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report_dir.join("solguard-report.sarif")).expect("SARIF report"),
    )
    .expect("SARIF is JSON");
    assert!(sarif["runs"].is_array(), "SARIF runs");
    let junit = std::fs::read_to_string(report_dir.join("solguard-report.junit.xml"))
        .expect("JUnit report");
    assert!(junit.contains("<testsuite"), "{junit}");
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report_dir.join("solguard-report.json")).expect("JSON report"),
    )
    .expect("JSON report parses");
    assert_eq!(json["summary"]["packages"], 2);
    for other in ["solguard-report.md", "solguard-report.html"] {
        assert!(report_dir.join(other).is_file(), "{other}");
    }

    // Job summary.
    let summary = std::fs::read_to_string(dir.path().join("step-summary.md"))
        .expect("GITHUB_STEP_SUMMARY written");
    assert!(summary.starts_with("**solguard:"), "{summary}");

    // The same inputs with fail-on error fail the step.
    let dir = tempfile::tempdir().expect("tmp");
    let output = run_action_script("error", dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

/// The Azure template's steps.
fn template_steps(template: &Value) -> &Vec<Value> {
    template["steps"].as_sequence().expect("steps")
}

/// The template's step named `solguard`, and its script (a `bash` or `script` step).
fn solguard_step(template: &Value) -> (&Value, &str) {
    let step = template_steps(template)
        .iter()
        .find(|step| text(step, "name") == "solguard")
        .expect("a step named `solguard` (the output variables' prefix)");
    let script = [text(step, "bash"), text(step, "script")]
        .into_iter()
        .find(|s| !s.is_empty())
        .expect("a bash or script step");
    (step, script)
}

#[test]
fn the_azure_template_parses_and_publishes_junit() {
    let template = yaml("ci/azure-pipelines/solguard.yml");

    let parameters = template["parameters"]
        .as_sequence()
        .expect("parameters, as a list");
    let parameter = |name: &str| {
        parameters
            .iter()
            .find(|p| text(p, "name") == name)
            .unwrap_or_else(|| panic!("parameter {name}"))
    };
    let names: BTreeSet<&str> = parameters.iter().map(|p| text(p, "name")).collect();
    assert_eq!(names, BTreeSet::from(TEMPLATE_PARAMETERS), "parameters");
    assert_eq!(text(parameter("failOn"), "default"), "error");
    assert_eq!(text(parameter("publishJUnit"), "type"), "boolean");
    assert_eq!(parameter("publishJUnit")["default"].as_bool(), Some(true));
    for list in ["targets", "environments"] {
        assert_eq!(
            parameter(list)["default"].as_sequence().map(Vec::len),
            Some(0),
            "{list} defaults to an empty list"
        );
    }
    for value in strings(&template["steps"]) {
        for name in references(value, "parameters") {
            assert!(
                names.contains(name.as_str()),
                "`parameters.{name}` in {value:?} is not a declared parameter"
            );
        }
    }

    let (step, script) = solguard_step(&template);
    for needed in ["--format azure", "--format junit", "--report-dir"] {
        assert!(script.contains(needed), "{needed} in {script}");
    }
    let report_dir = text(&step["env"], "REPORT_DIR");
    assert_eq!(report_dir, "$(Agent.TempDirectory)/solguard");

    let publish = template_steps(&template)
        .iter()
        .find(|step| text(step, "task") == "PublishTestResults@2")
        .expect("a PublishTestResults@2 step");
    assert_eq!(text(&publish["inputs"], "testResultsFormat"), "JUnit");
    assert_eq!(
        text(&publish["inputs"], "testResultsFiles"),
        format!("{report_dir}/solguard-report.junit.xml")
    );
    let condition = text(publish, "condition");
    assert!(
        condition.contains("always()") && condition.contains("parameters.publishJUnit"),
        "{condition}"
    );

    let artifact = template_steps(&template)
        .iter()
        .find(|step| {
            let task = text(step, "task");
            task.starts_with("PublishPipelineArtifact@")
                || task.starts_with("PublishBuildArtifacts@")
        })
        .expect("a step publishing the report folder");
    assert_eq!(text(artifact, "condition"), "always()");
    let inputs = &artifact["inputs"];
    assert_eq!(
        [text(inputs, "targetPath"), text(inputs, "PathtoPublish")].concat(),
        report_dir
    );
}

#[test]
fn the_azure_step_script_checks_packages_and_sets_output_variables() {
    let template = yaml("ci/azure-pipelines/solguard.yml");
    let (_, script) = solguard_step(&template);
    let dir = tempfile::tempdir().expect("tmp");
    let script_file = dir.path().join("solguard-step.sh");
    std::fs::write(&script_file, script).expect("write the step's script");

    // The agent runs the step from the checkout with the template's env, expressions expanded
    // (lists joined with '|'); solguard is on PATH.
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_solguard"))
        .parent()
        .expect("the binary's folder");
    let path = std::env::join_paths(std::iter::once(binary_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let report_dir = dir.path().join("solguard");
    let output = Command::new("bash")
        .arg(script_file)
        .env("PATH", path)
        .env("SOLGUARD_PATHS", format!("{CONTOSO}\n  {SUCCESS}\n"))
        .env("SOLGUARD_FAIL_ON", "error")
        .env("SOLGUARD_CONFIG", "")
        .env("SOLGUARD_TARGETS", "prod=9.1|test=9.2.24104.196")
        .env("SOLGUARD_ENVIRONMENTS", "")
        .env("REPORT_DIR", &report_dir)
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_WORKSPACE")
        .current_dir(corpus())
        .output()
        .expect("run bash");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let log = stdout(&output);
    assert!(
        log.lines().any(|line| line.starts_with(&format!(
            "##vso[task.logissue type=error;sourcepath={CONTOSO};"
        )) && line.contains("code=version-compatibility/newer-platform")),
        "{log}"
    );
    for (name, value) in [("verdict", "fail"), ("packages", "2")] {
        let line = format!("##vso[task.setvariable variable=solguard.{name};isOutput=true]{value}");
        assert!(log.lines().any(|l| l == line), "{line} in {log}");
    }
    for file in [
        "solguard-report.junit.xml",
        "solguard-report.sarif",
        "solguard-report.html",
        "solguard-report.json",
    ] {
        assert!(report_dir.join(file).is_file(), "{file}");
    }
}
