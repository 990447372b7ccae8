//! Findings in the CI's own UI: `--format github` workflow commands and `--format azure`
//! logging commands, parsed line by line, with a hostile solution name that tries to end a
//! command and start another; the Azure task result on request; and the Markdown report cut
//! to fit a pull-request comment on a run of 300 packages.

mod support;

use std::path::Path;

use support::{solguard, write_tree, Manifest, ZipBuilder};

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A name that would end a GitHub or Azure command early and inject one of its own.
const HOSTILE: &str = "Evil%0A,x:y]\n::error::injected\n##vso[task.complete result=Succeeded]";

/// A package from the default publisher (a managed one gets `default-publisher`) whose
/// unique name is hostile and whose version is invalid (an error).
fn hostile_package(dir: &Path) -> std::path::PathBuf {
    let manifest = Manifest {
        unique_name: Some(HOSTILE.replace('&', "&amp;").replace('<', "&lt;")),
        version: Some("1.x".into()),
        managed: Some("1".into()),
        publisher: "DefaultPublisherorg1".into(),
        ..Manifest::default()
    };
    // The file name carries what GitHub and Azure escape in properties.
    ZipBuilder::with_manifest(&manifest).write(dir, "Evil,a:b;c%.zip")
}

/// `check` with `args`, from `cwd`: standard output and the exit code.
fn run_in(cwd: &Path, args: &[&str]) -> (String, Option<i32>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .current_dir(cwd)
        .env_remove("GITHUB_WORKSPACE")
        .env_remove("GITHUB_OUTPUT")
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.code(),
    )
}

#[test]
fn github_commands_escape_what_comes_from_packages() {
    let dir = tempfile::tempdir().expect("tmp");
    let package = hostile_package(dir.path());
    let (out, code) = run_in(dir.path(), &["check", "--format", "github", text(&package)]);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = out.lines().collect();
    let report = support::check_report(&[text(&package)]);
    let findings = report["packages"][0]["findings"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        lines.len(),
        findings,
        "one command per finding, none injected: {out}"
    );
    for line in &lines {
        // Every line is one of ours: `::level properties::message`, nothing injected.
        let (command, message) = line
            .strip_prefix("::")
            .and_then(|l| l.split_once("::"))
            .unwrap_or_else(|| panic!("not a workflow command: {line}"));
        let (level, properties) = command.split_once(' ').expect("properties");
        assert!(["error", "warning", "notice"].contains(&level), "{line}");
        assert!(!message.contains('\n'), "{line}");
        let fields: Vec<(&str, &str)> = properties
            .split(',')
            .map(|p| p.split_once('=').expect("key=value"))
            .collect();
        assert_eq!(
            fields[0],
            ("file", "Evil%2Ca%3Ab;c%25.zip"),
            "relative to the workspace, `,` `:` `%` escaped: {line}"
        );
        assert!(fields.iter().any(|(k, _)| *k == "title"), "{line}");
    }
    assert!(
        out.contains("%0A::error::injected%0A##vso[task.complete result=Succeeded]"),
        "line breaks escaped, the text kept: {out}"
    );
    assert!(
        out.contains("::Evil%250A,x:y]"),
        "the message escapes `%` but keeps `,` and `:`: {out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::error ")
                && l.contains("title=monotonic-version/invalid-version")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("::warning ")
            && l.contains("title=publisher-consistency/default-publisher")),
        "{out}"
    );
}

#[test]
fn github_points_at_the_real_file_and_line_of_an_unpacked_tree() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = dir.path().join("src/ContosoCore");
    let manifest = Manifest {
        version: Some("1.x".into()),
        ..Manifest::default()
    };
    write_tree(
        &tree,
        &[
            ("Other/Solution.xml", manifest.xml()),
            ("Other/Customizations.xml", support::customizations(&[], "")),
        ],
    );
    let (out, _) = run_in(dir.path(), &["check", "--format", "github", text(&tree)]);
    let line = out
        .lines()
        .find(|l| l.contains("invalid-version"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.starts_with("::error file=src/ContosoCore/Other/Solution.xml,line="),
        "{line}"
    );
}

#[test]
fn azure_commands_escape_set_output_variables_and_complete_on_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let package = hostile_package(dir.path());
    let (out, code) = run_in(dir.path(), &["check", "--format", "azure", text(&package)]);
    assert_eq!(code, Some(1));
    for line in out.lines() {
        if let Some(command) = line.strip_prefix("##vso[") {
            let (head, _) = command.split_once(']').expect("closed");
            assert!(
                head.starts_with("task.logissue type=") || head.starts_with("task.setvariable "),
                "{line}"
            );
        }
        // The agent takes `##vso[` anywhere in a line: only our own may appear, at the start.
        assert!(!line[1..].contains("##vso["), "an injected command: {line}");
    }
    assert!(
        !out.lines().any(|l| l.starts_with("##vso[task.complete")),
        "only when asked: {out}"
    );
    let issue = out
        .lines()
        .find(|l| l.contains("code=monotonic-version/invalid-version"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        issue.starts_with("##vso[task.logissue type=error;sourcepath=Evil,a:b%3Bc%AZP25.zip;"),
        "{issue}"
    );
    assert!(
        issue.contains("%5D") && issue.contains("%AZP250A"),
        "{issue}"
    );
    assert!(out.contains("##vso[task.setvariable variable=solguard.verdict;isOutput=true]fail"));
    assert!(out.contains("##vso[task.setvariable variable=solguard.packages;isOutput=true]1"));

    let (out, _) = run_in(
        dir.path(),
        &[
            "check",
            "--format",
            "azure",
            "--azure-complete",
            text(&package),
        ],
    );
    assert_eq!(
        out.lines().last(),
        Some("##vso[task.complete result=Failed;]solguard")
    );
    let (out, code) = run_in(
        dir.path(),
        &[
            "check",
            "--format",
            "azure",
            "--azure-complete",
            "--fail-on",
            "never",
            text(&package),
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        out.lines().last(),
        Some("##vso[task.complete result=SucceededWithIssues;]solguard")
    );
}

#[test]
fn annotations_print_and_other_formats_go_to_the_report_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let package = hostile_package(dir.path());
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let (out, _) = run_in(
        dir.path(),
        &[
            "check",
            "--format",
            "github",
            "--format",
            "sarif",
            "--report-dir",
            text(&reports),
            text(&package),
        ],
    );
    assert!(out.lines().all(|l| l.starts_with("::")), "{out}");
    assert!(reports.join("solguard-report.sarif").is_file());
    assert!(!reports.join("solguard-report.github.txt").exists());
}

#[test]
fn markdown_fits_a_pull_request_comment_on_a_run_of_300_packages() {
    let dir = tempfile::tempdir().expect("tmp");
    let releases = dir.path().join("releases");
    std::fs::create_dir_all(&releases).expect("mkdir");
    for index in 0..300 {
        // Each package: an invalid version, a default publisher, and a long description of
        // what is wrong, so that the findings alone far exceed a comment.
        let manifest = Manifest {
            unique_name: Some(format!("Solution{index:03}")),
            version: Some(format!("1.{index}.x")),
            managed: Some("1".into()),
            publisher: "DefaultPublisherorg1".into(),
            ..Manifest::default()
        };
        ZipBuilder::with_manifest(&manifest).write(&releases, &format!("Solution{index:03}.zip"));
    }
    let reports = dir.path().join("out");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let output = solguard(&[
        "check",
        "--format",
        "markdown",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--report-dir",
        text(&reports),
        text(&releases),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let markdown = std::fs::read_to_string(reports.join("solguard-report.md")).expect("md");
    assert!(
        markdown.chars().count() <= 60_000,
        "{} chars",
        markdown.chars().count()
    );
    let rows = markdown
        .lines()
        .filter(|l| l.starts_with("| Solution"))
        .count();
    assert!(rows >= 300, "the package table stays whole: {rows} rows");
    let cut = markdown
        .lines()
        .find(|l| l.contains("more findings are left out"))
        .expect("says what was cut");
    let left_out: usize = cut
        .trim_start_matches("> ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("solguard-report.json")).expect("json"),
    )
    .expect("JSON");
    let total: usize = report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["findings"].as_array().map_or(0, Vec::len))
        .sum();
    let shown = markdown.matches("\n- **").count();
    assert_eq!(shown + left_out, total, "every finding is shown or counted");
    let whole = reports.join("solguard-report.json");
    assert!(
        cut.contains(&whole.display().to_string()) && whole.is_file(),
        "names the whole report this run wrote (no HTML was asked for): {cut}"
    );
}

#[test]
fn audit_appends_its_figures_to_the_github_outputs_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let outputs = dir.path().join("github-output");
    std::fs::write(&outputs, "earlier=kept\n").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["audit", "--format", "json", "--fail-on", "never"])
        .arg(support::corpus().join("xrm-ci-framework"))
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let written = std::fs::read_to_string(&outputs).expect("outputs");
    assert!(
        written.starts_with("earlier=kept\n"),
        "appended, not replaced"
    );
    assert!(
        written.contains(&format!("\npackages={}\n", report["summary"]["packages"])),
        "{written}"
    );
    assert!(
        written.contains(&format!(
            "\nverdict={}\n",
            report["packages"]
                .as_array()
                .and_then(
                    |p| p
                        .iter()
                        .filter_map(|p| p["verdict"].as_str())
                        .max_by_key(|v| match *v {
                            "fail" => 2,
                            "warn" => 1,
                            _ => 0,
                        })
                )
                .unwrap_or("pass")
        )),
        "{written}"
    );
}
