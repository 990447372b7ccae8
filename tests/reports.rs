//! Reports in every format, through `solguard check --report-dir` on a fixed set of real corpus
//! packages (run from the corpus folder, so paths are stable): snapshots of each format, SARIF
//! validated against the official 2.1.0 schema and GitHub's requirements, HTML parsed for
//! structure and escaping, JUnit parsed, and a package with a hostile name in every format.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use quick_xml::events::Event;
use scraper::{Html, Selector};
use serde_json::Value;
use support::{corpus, Manifest, ZipBuilder};

/// Corpus packages in release order: an unmanaged upgrade that drops columns (drift, located in
/// the earlier release), a managed upgrade that drops a table (fail), a zip that is not a
/// solution, and an unpacked tree and its upgrade.
const PACKAGES: &[&str] = &[
    "powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip",
    "powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip",
    "powerapps-tools/CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip",
    "powerapps-tools/CenterofExcellenceAuditComponents_1_21_managed.zip",
    "xrm-ci-framework/ConfigData.zip",
    "unpacked/hmcts-pre-rec-evidence/v0.0.1_261efc2",
    "unpacked/hmcts-pre-rec-evidence/v0.0.7_0da76a5",
];

/// Waives one finding, so every format shows a waived one.
const WAIVER_CONFIG: &str = r#"
[[waivers]]
rule = "publisher-consistency"
code = "component-prefix"
solution = "PowerPlatformAdmin"
version = "1.0.0.40"
reason = "Business process flow tables keep the default prefix; reviewed in GOV-7"
"#;

fn solguard(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run solguard")
}

/// Runs `check` on the fixed set with every format into a fresh folder.
fn fixed_reports(extra: &[&str]) -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().unwrap();
    let config = out.path().join("config.toml");
    std::fs::write(&config, WAIVER_CONFIG).unwrap();
    let report_dir = out.path().join("reports");
    let mut args = vec![
        "check".to_owned(),
        "--config".into(),
        config.display().to_string(),
        "--report-dir".into(),
        report_dir.display().to_string(),
    ];
    for format in ["json", "markdown", "html", "sarif", "junit"] {
        args.extend(["--format".into(), format.into()]);
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args.extend(PACKAGES.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = solguard(&corpus(), &args);
    (out, output)
}

fn read(dir: &tempfile::TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.path().join("reports").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{64}", "[sha256]");
    settings.add_filter(r"solguard \d+\.\d+\.\d+", "solguard [version]");
    settings.add_filter(
        r#""(semanticVersion|version)": "\d+\.\d+\.\d+""#,
        r#""$1": "[version]""#,
    );
    settings.add_filter(
        r"policy set <code>[0-9a-f]{12}</code>",
        "policy set <code>[hash]</code>",
    );
    // When the run happened (export times, read from the zips, stay).
    settings.add_filter(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
        "[checked at]",
    );
    settings.add_filter(r" · \d{4}-\d{2}-\d{2}", " · [checked on]");
    settings.add_filter(r"policy set [0-9a-f]{12}", "policy set [hash]");
    settings
}

#[test]
fn every_format_matches_its_snapshot() {
    let (dir, output) = fixed_reports(&[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let human = String::from_utf8(output.stdout).unwrap();
    settings().bind(|| {
        insta::assert_snapshot!("human", human);
        insta::assert_snapshot!("json", read(&dir, "solguard-report.json"));
        insta::assert_snapshot!("markdown", read(&dir, "solguard-report.md"));
        insta::assert_snapshot!("html", read(&dir, "solguard-report.html"));
        insta::assert_snapshot!("sarif", read(&dir, "solguard-report.sarif"));
        insta::assert_snapshot!("junit", read(&dir, "solguard-report.junit.xml"));
    });
}

#[test]
fn json_report_has_the_documented_schema() {
    let (dir, _) = fixed_reports(&[]);
    let report: Value = serde_json::from_str(&read(&dir, "solguard-report.json")).unwrap();
    assert_eq!(report["schema_version"], 3);
    for key in [
        "tool",
        "policy_set",
        "packages",
        "findings",
        "summary",
        "rules",
        "history",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    let packages = report["packages"].as_array().unwrap();
    assert_eq!(packages.len(), PACKAGES.len());
    let admin_42 = &packages[1];
    assert_eq!(admin_42["previous_version"], "1.0.0.40");
    assert_eq!(
        admin_42["data_loss"].as_array().map(Vec::len),
        Some(0),
        "an unmanaged import deletes nothing"
    );
    let drift: Vec<&Value> = admin_42["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "unmanaged-removal")
        .collect();
    assert_eq!(drift.len(), 6);
    assert!(
        drift
            .iter()
            .all(|f| f["location"]["package"] == PACKAGES[0]),
        "removed columns point into 1.0.0.40: {drift:?}"
    );
    assert!(
        packages[0]["exported_at"].is_string(),
        "zips carry their export time"
    );
    assert!(
        packages[5]["exported_at"].is_null(),
        "unpacked trees have none"
    );
    assert!(packages
        .iter()
        .all(|p| p["policy_set"] == report["policy_set"]));
    let audit = &packages[3];
    assert_eq!(audit["verdict"], "fail");
    assert!(audit["data_loss"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["kind"] == "table"));
    assert!(
        audit["data_loss"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["location"]["package"] == PACKAGES[2]),
        "what the upgrade deletes is located in the release it stood in"
    );
    let history = report["history"].as_array().unwrap();
    let admin = history
        .iter()
        .find(|h| h["unique_name"] == "PowerPlatformAdmin")
        .unwrap();
    let versions: Vec<&str> = admin["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.0.40", "1.0.0.42"]);
    let rules: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"data-loss-risk") && rules.contains(&"package-format"));
}

#[test]
fn sarif_is_valid_and_meets_code_scanning_requirements() {
    let (dir, _) = fixed_reports(&[]);
    let sarif: Value = serde_json::from_str(&read(&dir, "solguard-report.sarif")).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");

    // GitHub code scanning and Azure DevOps: version, driver name, rules with descriptions and
    // a default level, results with ruleId, message text, a physical location and a fingerprint.
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "solguard");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for rule in rules {
        for key in ["shortDescription", "fullDescription", "help"] {
            assert!(
                rule[key]["text"].as_str().is_some_and(|t| !t.is_empty()),
                "{rule}"
            );
        }
        assert!(rule["defaultConfiguration"]["level"].is_string());
    }
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    assert!(results.len() > 5);
    for result in results {
        let rule_id = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[index], rule_id);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(result["message"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
        let physical = &result["locations"][0]["physicalLocation"];
        assert!(physical["artifactLocation"]["uri"].is_string(), "{result}");
        assert!(result["partialFingerprints"]["solguardFinding/v1"].is_string());
        assert!(result["properties"]["code"].is_string());
    }
    // A removed item points into the release it stood in, never into the new package.
    let drift: Vec<&Value> = results
        .iter()
        .filter(|r| {
            r["properties"]["code"] == "unmanaged-removal"
                && r["message"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("PowerPlatformAdmin 1.0.0.40 -> 1.0.0.42"))
        })
        .collect();
    assert_eq!(drift.len(), 6);
    for result in drift {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.ends_with("PowerPlatformAdmin_1_0_0_40.zip"), "{result}");
    }
    // Unpacked trees point at the real file and line; zips at the zip, the entry nested.
    let folder_result = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("unpacked/") && u.ends_with(".xml"))
        })
        .expect("a finding in the unpacked tree with a file location");
    assert!(
        folder_result["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64()
            >= Some(1)
    );
    let zip_result = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["properties"]["entry"] == "customizations.xml"
        })
        .expect("a zip finding with its entry");
    assert!(
        zip_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".zip")
    );
    assert!(run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["parentIndex"].is_u64() && a["location"]["uri"] == "customizations.xml"));
    // The waived finding is a suppressed result.
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .collect();
    assert!(!suppressed.is_empty());
    assert!(suppressed
        .iter()
        .all(|r| r["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("GOV-7")));
}

#[test]
fn html_is_self_contained_structured_and_filterable() {
    let (dir, _) = fixed_reports(&[]);
    let page = Html::parse_document(&read(&dir, "solguard-report.html"));
    let select = |css: &str| Selector::parse(css).unwrap();
    assert_eq!(
        page.select(&select("script")).count(),
        0,
        "no scripts at all"
    );
    assert_eq!(
        page.select(&select("link")).count(),
        0,
        "no external styles"
    );
    for element in page.select(&select("[src], [href]")) {
        let target = element
            .value()
            .attr("src")
            .or(element.value().attr("href"))
            .unwrap();
        assert!(target.starts_with('#'), "external reference {target}");
    }
    let rows: Vec<_> = page.select(&select("table.packages tbody tr")).collect();
    assert_eq!(rows.len(), PACKAGES.len());
    let classes: Vec<String> = rows
        .iter()
        .map(|r| r.value().attr("class").unwrap_or("").to_owned())
        .collect();
    assert!(classes.iter().any(|c| c.contains("v-fail")));
    assert!(classes.iter().any(|c| c.contains("v-warn")));
    for verdict in ["all", "fail", "warn", "pass"] {
        assert_eq!(
            page.select(&select(&format!("input#show-{verdict}[type=radio]")))
                .count(),
            1
        );
    }
    assert_eq!(
        page.select(&select("section.package")).count(),
        PACKAGES.len()
    );
    let audit = page
        .select(&select("section.package"))
        .find(|s| {
            s.text()
                .any(|t| t.contains("CenterofExcellenceAuditComponents 1.21"))
        })
        .expect("audit package section");
    assert!(audit.select(&select("table.data-loss tbody tr")).count() >= 1);
    // The release timeline: one mark per release, the data-loss one labelled.
    assert_eq!(
        audit.select(&select("svg.timeline-chart g.mark")).count(),
        2
    );
    assert!(audit
        .select(&select("svg.timeline-chart text.alarm"))
        .any(|t| t.text().any(|t| t.contains("data loss"))));
    let hints = page.select(&select(".hint")).count();
    assert!(hints > 3);
    assert!(page
        .select(&select("details summary"))
        .any(|s| s.text().any(|t| t.contains("Waived findings (1)"))));
}

#[test]
fn junit_has_a_suite_per_package_and_a_case_per_rule() {
    let junit_counts = |extra: &[&str]| {
        let (dir, _) = fixed_reports(extra);
        let xml = read(&dir, "solguard-report.junit.xml");
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut suites, mut cases, mut failures) = (0, 0, 0);
        loop {
            match reader.read_event().expect("well-formed JUnit XML") {
                Event::Start(e) | Event::Empty(e) => match e.name().into_inner() {
                    "testsuite" => suites += 1,
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        (suites, cases, failures)
    };
    let (suites, cases, errors_only) = junit_counts(&[]);
    assert_eq!(suites, PACKAGES.len());
    assert_eq!(cases % suites, 0, "the same rules in every suite");
    assert!(cases / suites >= 7, "5 policies and solguard's own checks");
    let (_, _, with_warnings) = junit_counts(&["--fail-on", "warning"]);
    assert!(
        errors_only >= 2,
        "the table removal and the unreadable zip fail"
    );
    assert!(
        with_warnings > errors_only,
        "warnings fail with --fail-on warning"
    );
}

#[test]
fn human_output_is_plain_without_a_terminal_and_quiet_keeps_failures() {
    let (_, output) = fixed_reports(&[]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes when not a terminal"
    );
    assert!(text.contains("FAIL CenterofExcellenceAuditComponents 1.21"));
    assert!(text.lines().last().unwrap().contains("7 packages"));
    let (_, quiet) = fixed_reports(&["--quiet"]);
    let quiet = String::from_utf8(quiet.stdout).unwrap();
    assert!(!quiet.contains("PASS "), "{quiet}");
    assert!(quiet.contains("FAIL "));
    assert!(quiet.lines().count() < text.lines().count());
}

#[test]
fn a_hostile_solution_name_stays_text_in_every_format() {
    let hostile = "<script>alert(1)</script>";
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let dir = tempfile::tempdir().unwrap();
    // Without [Content_Types].xml, so it has a finding to carry into every format.
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some(escaped.into()),
        ..Manifest::default()
    })
    .without("[Content_Types].xml")
    .write(dir.path(), "hostile \"<b>name<b>\" & more.zip");
    let reports = dir.path().join("reports");
    let reports_arg = reports.display().to_string();
    let mut args = vec![
        "check",
        "--report-dir",
        reports_arg.as_str(),
        "--fail-on",
        "never",
    ];
    for format in ["json", "markdown", "html", "sarif", "junit"] {
        args.extend(["--format", format]);
    }
    args.push("hostile \"<b>name<b>\" & more.zip");
    let output = solguard(dir.path(), &args);
    assert!(output.status.success(), "{output:?}");
    let read = |name: &str| std::fs::read_to_string(reports.join(name)).unwrap();

    let json: Value = serde_json::from_str(&read("solguard-report.json")).unwrap();
    assert_eq!(json["packages"][0]["unique_name"], hostile);

    let html = read("solguard-report.html");
    let page = Html::parse_document(&html);
    assert_eq!(page.select(&Selector::parse("script").unwrap()).count(), 0);
    assert_eq!(page.select(&Selector::parse("b").unwrap()).count(), 0);
    assert!(page.root_element().text().any(|t| t.contains(hostile)));

    // Outside code spans (where Markdown shows text literally) no markup may survive.
    let markdown = read("solguard-report.md");
    let outside_code: String = markdown.split('`').step_by(2).collect();
    assert!(
        !outside_code.contains("<script>") && !outside_code.contains("<b>"),
        "{markdown}"
    );
    assert!(markdown.contains("&lt;script&gt;"));

    let sarif: Value = serde_json::from_str(&read("solguard-report.sarif")).unwrap();
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"]
        .as_str()
        .unwrap_or("");
    assert!(
        uri.is_empty() || !uri.contains(' ') && !uri.contains('<'),
        "{uri}"
    );
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["solution"],
        hostile
    );

    let junit = read("solguard-report.junit.xml");
    let mut reader = quick_xml::Reader::from_str(&junit);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed JUnit") {
            Event::Start(e) if e.name().into_inner() == "testsuite" => {
                let name = e.try_get_attribute("name").unwrap().unwrap();
                let raw = name.value.to_string();
                names.push(quick_xml::escape::unescape(&raw).unwrap().into_owned());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(names, [format!("{hostile} 1.0.0.0")]);
    assert!(!junit.contains("<script>"));

    let human = String::from_utf8(output.stdout).unwrap();
    assert!(
        human.contains(hostile),
        "terminal text shows the name as is"
    );
}

#[test]
fn several_formats_without_a_folder_are_refused() {
    let output = solguard(
        &corpus(),
        &[
            "check",
            "--format",
            "json",
            "--format",
            "sarif",
            PACKAGES[0],
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--report-dir"));
}

#[test]
fn a_json_report_reads_back_and_renders_in_colour_for_terminals() {
    use solguard::report::{render, RenderOptions, Report, ReportFormat};
    let (dir, _) = fixed_reports(&[]);
    let report: Report = serde_json::from_str(&read(&dir, "solguard-report.json")).unwrap();
    assert_eq!(report.packages.len(), PACKAGES.len());
    let plain = render(&report, ReportFormat::Human, &RenderOptions::default()).unwrap();
    let coloured = render(
        &report,
        ReportFormat::Human,
        &RenderOptions {
            color: true,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    let (plain, coloured) = (
        String::from_utf8(plain).unwrap(),
        String::from_utf8(coloured).unwrap(),
    );
    assert!(!plain.contains('\u{1b}'));
    assert!(
        coloured.contains("\u{1b}[1m\u{1b}[31mFAIL"),
        "bold red FAIL"
    );
    // Without the escape codes, the coloured text is the plain text.
    let stripped: String = coloured
        .split('\u{1b}')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once('m').map_or(part, |(_, rest)| rest)
            }
        })
        .collect();
    assert_eq!(stripped, plain);
}
