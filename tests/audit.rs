//! `solguard audit` end to end: a generated repository with several release streams (one inside
//! a bundle zip), a data package, a corrupt zip and a misnamed file; the shared corpus as one
//! repository; incremental re-audits through the cache; baselines.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{attribute, corpus, customizations, entity, Manifest, ZipBuilder};

fn solguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .output()
        .expect("run solguard")
}

fn audit_json(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let output = solguard(&all);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), report)
}

fn manifest(name: &str, version: &str) -> Manifest {
    Manifest {
        unique_name: Some(name.into()),
        version: Some(version.into()),
        ..Manifest::default()
    }
}

fn project(more: &[String]) -> String {
    let mut columns = vec![
        attribute("con_projectid", "primarykey", false),
        attribute("con_name", "nvarchar", true),
    ];
    columns.extend_from_slice(more);
    entity("con_Project", &columns)
}

fn package(manifest: &Manifest, entities: &[String]) -> ZipBuilder {
    ZipBuilder::with_manifest(manifest).file("customizations.xml", customizations(entities, ""))
}

/// Writes the files in order, each one minute after the previous (the release order).
struct Repository {
    dir: tempfile::TempDir,
    clock: SystemTime,
}

impl Repository {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: SystemTime::now() - Duration::from_secs(24 * 3600),
        }
    }

    fn add(&mut self, name: &str, bytes: Vec<u8>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        self.clock += Duration::from_secs(60);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(self.clock)
            .unwrap();
        path
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

/// A managed release of `name` (data-loss checks apply to managed upgrades).
fn managed(name: &str, version: &str) -> Manifest {
    Manifest {
        managed: Some("1".into()),
        ..manifest(name, version)
    }
}

fn generated() -> Repository {
    let mut repo = Repository::new();
    let budget = attribute("con_budget", "money", true);
    // Alpha: clean, an additive release, a downgrade, a version reused with other content,
    // then a column dropped.
    let extra = attribute("con_extra", "nvarchar", true);
    repo.add(
        "alpha/Alpha_1_0_0_0.zip",
        package(
            &managed("Alpha", "1.0.0.0"),
            &[project(std::slice::from_ref(&budget))],
        )
        .bytes(),
    );
    repo.add(
        "alpha/Alpha_1_1_0_0.zip",
        package(
            &managed("Alpha", "1.1.0.0"),
            &[project(&[budget.clone(), extra.clone()])],
        )
        .bytes(),
    );
    repo.add(
        "alpha/Alpha_1_0_5_0.zip",
        package(
            &managed("Alpha", "1.0.5.0"),
            &[project(&[budget.clone(), extra.clone()])],
        )
        .bytes(),
    );
    repo.add(
        "alpha/Alpha_1_1_0_0_rebuilt.zip",
        package(
            &managed("Alpha", "1.1.0.0"),
            &[project(std::slice::from_ref(&budget))],
        )
        .bytes(),
    );
    repo.add(
        "alpha/Alpha_1_2_0_0.zip",
        package(&managed("Alpha", "1.2.0.0"), &[project(&[extra])]).bytes(),
    );
    // Beta: the publisher changes between releases.
    repo.add(
        "beta/Beta_1_0_0_0.zip",
        package(&manifest("Beta", "1.0.0.0"), &[project(&[])]).bytes(),
    );
    let other = Manifest {
        publisher: "fabrikam".into(),
        prefix: "fab".into(),
        ..manifest("Beta", "2.0.0.0")
    };
    repo.add(
        "beta/Beta_2_0_0_0.zip",
        package(&other, &[project(&[])]).bytes(),
    );
    // Gamma: unmanaged, then managed.
    repo.add(
        "gamma/Gamma_1_0_0_0.zip",
        package(&manifest("Gamma", "1.0.0.0"), &[project(&[])]).bytes(),
    );
    let managed = Manifest {
        managed: Some("1".into()),
        ..manifest("Gamma", "1.1.0.0")
    };
    repo.add(
        "gamma/Gamma_1_1_0_0_managed.zip",
        package(&managed, &[project(&[])]).bytes(),
    );
    // Epsilon: two releases inside one bundle zip.
    let bundle = ZipBuilder::new()
        .file(
            "Epsilon_1_0_0_0.zip",
            package(
                &manifest("Epsilon", "1.0.0.0"),
                &[project(std::slice::from_ref(&budget))],
            )
            .bytes(),
        )
        .file(
            "Epsilon_1_1_0_0.zip",
            package(&manifest("Epsilon", "1.1.0.0"), &[project(&[budget])]).bytes(),
        );
    repo.add("bundles/release-2026-10.zip", bundle.bytes());
    // Delta: exported from a platform newer than the target environment.
    let newer = Manifest {
        export_attributes: r#"version="9.3.1.0" SolutionPackageVersion="9.3" languagecode="1033" generatedBy="CrmLive""#.into(),
        ..manifest("Delta", "1.0.0.0")
    };
    repo.add(
        "delta/Delta_1_0_0_0.zip",
        package(&newer, &[project(&[])]).bytes(),
    );
    // Zeta: a file name that says 2.0 around a 1.0.0.0 package.
    repo.add(
        "zeta/Zeta_2_0.zip",
        package(&manifest("Zeta", "1.0.0.0"), &[project(&[])]).bytes(),
    );
    // Not solutions, and a broken one.
    repo.add(
        "data/ContosoData.zip",
        ZipBuilder::new()
            .file("data.xml", "<entities />")
            .file("data_schema.xml", "<entities />")
            .file("[Content_Types].xml", "<Types />")
            .bytes(),
    );
    let whole = package(&manifest("Broken", "1.0.0.0"), &[project(&[])]).bytes();
    repo.add(
        "broken/Broken_1_0_0_0.zip",
        whole[..whole.len() / 2].to_vec(),
    );
    repo
}

fn codes(report: &Value) -> BTreeSet<String> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["findings"].as_array().unwrap())
        .map(|f| {
            format!(
                "{}/{}",
                f["rule"].as_str().unwrap(),
                f["code"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_generated_repository_is_audited_stream_by_stream() {
    let repo = generated();
    // Builder zips carry no export time; the files' modification times give the order here.
    let (code, report) = audit_json(&[
        repo.path(),
        "--order",
        "mtime",
        "--target",
        "prod=9.2.24101.200",
    ]);
    assert_eq!(code, Some(1));
    let found = codes(&report);
    for expected in [
        "data-loss-risk/attribute-removed",
        "monotonic-version/downgrade",
        "monotonic-version/reused-version",
        "publisher-consistency/publisher-changed",
        "publisher-consistency/prefix-changed",
        "data-loss-risk/managed-changed",
        "version-compatibility/newer-platform",
        "repository/file-name-mismatch",
        "package-format/corrupt-zip",
    ] {
        assert!(found.contains(expected), "missing {expected} in {found:?}");
    }
    let streams = report["streams"].as_array().unwrap();
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["unique_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Alpha", "Beta", "Delta", "Epsilon", "Gamma", "Zeta"]
    );
    let alpha: Vec<&str> = streams[0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        alpha,
        ["1.0.0.0", "1.1.0.0", "1.0.5.0", "1.1.0.0", "1.2.0.0"],
        "release order by time"
    );
    let epsilon = &streams[3]["releases"];
    assert!(epsilon[0]["file"]
        .as_str()
        .unwrap()
        .contains("release-2026-10.zip/Epsilon_1_0_0_0.zip"));
    assert_eq!(epsilon[1]["version"], "1.1.0.0");
    assert_eq!(
        epsilon[1]["accepted"], true,
        "the bundle's upgrade is checked against 1.0"
    );
    let first = &report["packages"][0];
    assert_eq!(first["stream"]["solution"], "Alpha");
    assert_eq!(first["stream"]["position"], 1);
    assert_eq!(first["stream"]["of"], 5);
    let skipped = report["audit"]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("Configuration Migration data package"));
    // Version order sorts Alpha by version instead.
    let (_, by_version) = audit_json(&[repo.path(), "--order", "version"]);
    let alpha: Vec<&str> = by_version["streams"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(
        alpha,
        ["1.0.0.0", "1.0.5.0", "1.1.0.0", "1.1.0.0", "1.2.0.0"]
    );
}

#[test]
fn re_audits_read_only_what_changed() {
    let mut repo = generated();
    let history = repo.dir.path().join("state.db");
    let history = history.to_str().unwrap().to_owned();
    let (_, cold) = audit_json(&[repo.path(), "--history", &history]);
    let files = cold["audit"]["files"].as_u64().unwrap();
    assert!(cold["audit"]["read"].as_u64().unwrap() >= files);
    assert_eq!(cold["audit"]["cached"], 0);
    let (_, warm) = audit_json(&[repo.path(), "--history", &history]);
    // Only the two solutions inside the bundle are inflated again from the cached bundle.
    assert_eq!(warm["audit"]["cached"].as_u64().unwrap(), files - 2 + 1);
    assert_eq!(warm["audit"]["read"], 2, "{:#}", warm["audit"]);
    assert_eq!(
        codes(&warm),
        codes(&cold),
        "the cache changes nothing in the findings"
    );
    repo.add(
        "alpha/Alpha_1_3_0_0.zip",
        package(&manifest("Alpha", "1.3.0.0"), &[project(&[])]).bytes(),
    );
    let (_, after) = audit_json(&[repo.path(), "--history", &history]);
    assert_eq!(
        after["audit"]["read"], 3,
        "the new release and the bundle's two"
    );
}

#[test]
fn a_baseline_reports_and_fails_only_on_new_findings() {
    let mut repo = generated();
    let baseline = repo.dir.path().join("baseline.db");
    let baseline = baseline.to_str().unwrap().to_owned();
    let root = repo.path().to_owned();
    let args = [
        root.as_str(),
        "--order",
        "mtime",
        "--baseline",
        baseline.as_str(),
    ];
    let (code, first) = audit_json(&args);
    assert_eq!(code, Some(1));
    let all = first["audit"]["new_findings"].as_array().unwrap().len();
    assert!(all >= 9);
    let (code, again) = audit_json(&args);
    assert_eq!(
        (
            code,
            again["audit"]["new_findings"].as_array().unwrap().len()
        ),
        (Some(1), all),
        "the baseline moves only when asked: re-running a failing job fails again"
    );
    let mut update = args.to_vec();
    update.push("--update-baseline");
    let (code, _) = audit_json(&update);
    assert_eq!(
        code,
        Some(1),
        "the run that records the baseline still reports"
    );
    let (code, second) = audit_json(&args);
    assert_eq!(code, Some(0), "nothing new");
    assert_eq!(second["audit"]["new_findings"].as_array().unwrap().len(), 0);
    repo.add(
        "theta/Theta_1_0_0_0.zip",
        package(&manifest("Theta", "1.0.0.0"), &[project(&[])])
            .without("[Content_Types].xml")
            .bytes(),
    );
    let (code, third) = audit_json(&args);
    assert_eq!(code, Some(1));
    let new = third["audit"]["new_findings"].as_array().unwrap();
    assert!(new.iter().all(|f| f["solution"] == "Theta"), "{new:?}");
    assert!(new.iter().any(|f| f["code"] == "missing-content-types"));
}

/// The MANIFEST's notes on file names, `file name says X but manifest is Y`.
fn misnamed_in_manifest(corpus: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.md")).unwrap();
    manifest
        .lines()
        .filter(|l| l.starts_with("| `") && l.contains("file name") && l.contains("but manifest"))
        .map(|l| {
            let path = l.split('`').nth(1).unwrap();
            Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn the_corpus_is_audited_as_one_repository() {
    let corpus = corpus();
    let (_, report) = audit_json(&[corpus.to_str().unwrap(), "--order", "version"]);
    let packages = report["packages"].as_array().unwrap();
    assert!(packages.len() >= 40);
    assert!(
        !packages.iter().any(|p| p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "package-format")),
        "every corpus package reads"
    );
    let skipped: Vec<&str> = report["audit"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].ends_with("ConfigData.zip"));
    let misnamed: BTreeSet<String> = packages
        .iter()
        .filter(|p| {
            p["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "file-name-mismatch")
        })
        .map(|p| {
            Path::new(p["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(misnamed, misnamed_in_manifest(&corpus));
    // Single-release streams have nothing to compare with: no upgrade finding there.
    for stream in report["streams"].as_array().unwrap() {
        let releases = stream["releases"].as_array().unwrap();
        if releases.len() == 1 {
            assert!(
                !releases[0]["findings"].as_array().unwrap().iter().any(|f| f
                    .as_str()
                    .unwrap()
                    .starts_with("data-loss-risk")
                    || f.as_str()
                        .unwrap()
                        .starts_with("monotonic-version/downgrade")),
                "{stream}"
            );
        }
    }
    let streams = report["streams"].as_array().unwrap();
    let sparkle = streams
        .iter()
        .find(|s| {
            s["unique_name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("SparkleXrm")
        })
        .unwrap();
    let versions: Vec<&str> = sparkle["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.1.0", "0.1.2", "7.2.1"]);
}

#[test]
fn human_markdown_and_html_show_the_timelines() {
    let repo = generated();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let output = solguard(&[
        "audit",
        repo.path(),
        "--report-dir",
        out,
        "--format",
        "markdown",
        "--format",
        "html",
    ]);
    let human = String::from_utf8(output.stdout).unwrap();
    assert!(human.contains("Release streams (6):"), "{human}");
    assert!(human.contains("Worst problems:"));
    assert!(human.contains("Skipped (not solution packages):"));
    let markdown = std::fs::read_to_string(dir.path().join("solguard-audit.md")).unwrap();
    assert!(markdown.contains("## Release streams"));
    assert!(markdown.contains(
        "| Version | Exported | File | Publisher | Managed | Platform | Verdict | Findings |"
    ));
    let html = std::fs::read_to_string(dir.path().join("solguard-audit.html")).unwrap();
    let page = scraper::Html::parse_document(&html);
    let streams = scraper::Selector::parse("section.stream").unwrap();
    assert_eq!(page.select(&streams).count(), 6);
}

#[test]
fn a_scheduled_audit_fires_and_alerts_only_on_new_findings() {
    use support::daemon::{free_address, http_get, Root};
    let address = free_address();
    let config = "[[watch]]\npath = \"drop\"\n\n[[audit]]\nname = \"releases\"\nfolders = [\"releases\"]\nschedule = \"*/2 * * * * *\"\ntime_zone = \"Europe/Berlin\"\norder = \"version\"\n";
    let root = Root::new("", config, Some(address));
    let broken = |name: &str| {
        package(&manifest(name, "1.0.0.0"), &[project(&[])])
            .without("[Content_Types].xml")
            .bytes()
    };
    std::fs::create_dir_all(root.path("releases")).unwrap();
    std::fs::write(root.path("releases/Alpha_1_0_0_0.zip"), broken("Alpha")).unwrap();
    let daemon = root.start();
    let report = root.path("reports/audit-releases.json");
    daemon.wait_for(20, || report.is_file() && root.alerts().len() == 1);
    let alert = &root.alerts()[0];
    assert_eq!(alert["source"], "audit:releases");
    assert_eq!(alert["unique_name"], "Alpha");
    let first = std::fs::metadata(&report).unwrap().modified().unwrap();
    daemon.wait_for(20, || {
        std::fs::metadata(&report).unwrap().modified().unwrap() > first
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        root.alerts().len(),
        1,
        "a finding already seen is not alerted again"
    );
    std::fs::write(root.path("releases/Beta_1_0_0_0.zip"), broken("Beta")).unwrap();
    daemon.wait_for(20, || root.alerts().len() == 2);
    assert_eq!(root.alerts()[1]["unique_name"], "Beta");
    let (_, status) = http_get(address, "/status").unwrap();
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["audits"][0]["name"], "releases");
    assert!(status["audits"][0]["next_run"]
        .as_str()
        .unwrap()
        .contains('T'));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(saved["streams"].as_array().unwrap().len(), 2);
    assert!(daemon.stop().success());
}

#[test]
fn a_bad_schedule_is_a_config_error_with_its_line() {
    let text = "[[audit]]\nname = \"x\"\nfolders = [\"r\"]\nschedule = \"every day\"\ntime_zone = \"Mars/Olympus\"\n\n[[audit]]\nname = \"y\"\nfolders = [\"r\"]\nschedule = \"0 0 6 * * *\"\nalerts = [\"nowhere\"]\n";
    let error = solguard::config::Config::parse(text, Path::new("a.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("a.toml:4:12: `audit[0].schedule`: not a cron expression"),
        "{error}"
    );
    assert!(
        error.contains("`audit[0].time_zone`: not an IANA time zone"),
        "{error}"
    );
    assert!(
        error.contains("no [[alerts]] sink is named \"nowhere\""),
        "{error}"
    );
}
