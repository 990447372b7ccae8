//! Release lineage end to end through the CLI: what each package is compared with when several
//! releases of a solution arrive together. Twins (one version exported managed and unmanaged)
//! are one release and each form is compared with its own line; a switch of form is data loss;
//! unmanaged imports never delete (removals are drift); patches hang off the current base of
//! their parent and must follow Dataverse's version rules; a roll-up replaces a base and its
//! patches and is compared with both; removed relationships lose their links. Packages found in
//! a folder are taken in export order (read from the zip), the export time shows in reports,
//! built-in audit findings are waivable, an audit baseline moves only when asked, and a policy
//! that fails at run time is a finding while one that does not load stops the run. Builder
//! packages and real corpus packages, always through `solguard check`, `audit` or `inspect`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::releases::{codes, manifest, package, patch, project, Releases};
use support::{check_report, corpus, Manifest};
use tempfile::TempDir;

const PATCH_OF_CORE: &str =
    "<ParentSolution><UniqueName>Core</UniqueName><Version>1.2.0.0</Version></ParentSolution>";

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

/// `check --format json --fail-on never` over `args`; the report's packages, in order.
fn check(args: &[&str]) -> Vec<Value> {
    check_report(args)["packages"]
        .as_array()
        .expect("packages")
        .clone()
}

/// `audit --format json` over `args`: the exit code and the report.
fn audit(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let output = solguard(&all);
    (output.status.code(), json(&output))
}

/// Asserts the package's findings are exactly `expected` (as `rule/code`, sorted).
fn assert_codes(package: &Value, expected: &[&str]) {
    assert_eq!(
        codes(package),
        expected,
        "{} {} ({}): {package:#}",
        package["unique_name"],
        package["version"],
        package["path"]
    );
}

/// The one finding `rule/code` of a package.
fn finding<'a>(package: &'a Value, code: &str) -> &'a Value {
    let found: Vec<&Value> = package["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| {
            format!(
                "{}/{}",
                f["rule"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or("")
            ) == code
        })
        .collect();
    assert_eq!(found.len(), 1, "one {code} in {package:#}");
    found[0]
}

#[test]
fn twins_are_one_release_in_two_forms() {
    let releases = Releases::new();
    let paths = [
        releases.add(&manifest("Core", "1.0.0.0", false), &[]),
        releases.add(&manifest("Core", "1.0.0.0", true), &[]),
        releases.add(&manifest("Core", "1.1.0.0", false), &[]),
        releases.add(&manifest("Core", "1.1.0.0", true), &[]),
    ];
    let packages = check(&paths.each_ref().map(String::as_str));
    for package in &packages {
        assert_codes(package, &[]);
        assert_eq!(package["accepted"], true);
    }
    let previous: Vec<&Value> = packages.iter().map(|p| &p["previous_version"]).collect();
    assert_eq!(
        previous,
        [
            &Value::Null,
            &Value::Null,
            &"1.0.0.0".into(),
            &"1.0.0.0".into()
        ],
        "each form has its own line"
    );
}

#[test]
fn a_managed_release_is_compared_with_the_last_managed_one() {
    // Managed 1.0, unmanaged 1.1 (a form the line never had: rejected), managed 1.0.5.
    let releases = Releases::new();
    let paths = [
        releases.add(&manifest("Core", "1.0.0.0", true), &[]),
        releases.add(&manifest("Core", "1.1.0.0", false), &[]),
        releases.add(&manifest("Core", "1.0.5.0", true), &[]),
    ];
    let packages = check(&paths.each_ref().map(String::as_str));
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &["data-loss-risk/managed-changed"]);
    assert_codes(&packages[2], &[]);
    assert_eq!(packages[2]["previous_version"], "1.0.0.0");

    // Both forms released from the start: unmanaged 1.1 then managed 1.0.5 is no downgrade
    // either, since the managed line goes 1.0 -> 1.0.5.
    let releases = Releases::new();
    let paths = [
        releases.add(&manifest("Core", "1.0.0.0", false), &[]),
        releases.add(&manifest("Core", "1.0.0.0", true), &[]),
        releases.add(&manifest("Core", "1.1.0.0", false), &[]),
        releases.add(&manifest("Core", "1.0.5.0", true), &[]),
    ];
    let packages = check(&paths.each_ref().map(String::as_str));
    for package in &packages {
        assert_codes(package, &[]);
    }
    assert_eq!(packages[3]["previous_version"], "1.0.0.0");
}

#[test]
fn the_corpus_twins_are_silent() {
    let dir = corpus().join("xrm-ci-framework");
    let paths: Vec<PathBuf> = [
        "Success_1_0_0_0.zip",
        "Success_1_0_0_0_managed.zip",
        "Success_1_1_0_0.zip",
        "Success_1_1_0_0_managed.zip",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let args: Vec<&str> = paths.iter().map(|p| path_str(p)).collect();
    let packages = check(&args);
    let seen: Vec<(&str, &str)> = packages
        .iter()
        .map(|p| {
            (
                p["version"].as_str().unwrap_or(""),
                p["managed"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("1.0.0.0", "unmanaged"),
            ("1.0.0.0", "managed"),
            ("1.1.0.0", "unmanaged"),
            ("1.1.0.0", "managed")
        ]
    );
    for package in &packages {
        assert_codes(package, &[]);
        assert_eq!(package["verdict"], "pass");
        assert!(package["data_loss"].as_array().is_some_and(Vec::is_empty));
    }
}

#[test]
fn switching_a_managed_line_to_unmanaged_is_data_loss() {
    let releases = Releases::new();
    let paths = [
        releases.add(&manifest("Core", "1.0.0.0", true), &[]),
        releases.add(&manifest("Core", "1.1.0.0", true), &[]),
        releases.add(&manifest("Core", "1.2.0.0", false), &[]),
    ];
    let packages = check(&paths.each_ref().map(String::as_str));
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &[]);
    assert_codes(&packages[2], &["data-loss-risk/managed-changed"]);
    let switched = finding(&packages[2], "data-loss-risk/managed-changed");
    assert_eq!(switched["severity"], "error");
    assert_eq!(packages[2]["verdict"], "fail");
}

#[test]
fn unmanaged_imports_never_delete() {
    for (managed, code, verdict) in [
        (false, "data-loss-risk/unmanaged-removal", "pass"),
        (true, "data-loss-risk/attribute-removed", "fail"),
    ] {
        let releases = Releases::new();
        let old = releases.add(&manifest("Core", "1.0.0.0", managed), &["con_cost"]);
        let new = releases.add(&manifest("Core", "1.1.0.0", managed), &[]);
        let packages = check(&[&old, &new]);
        assert_codes(&packages[0], &[]);
        assert_codes(&packages[1], &[code]);
        let removed = finding(&packages[1], code);
        assert_eq!(removed["severity"], if managed { "error" } else { "info" });
        assert!(
            removed["message"]
                .as_str()
                .is_some_and(|m| m.contains("con_cost")),
            "{removed:#}"
        );
        assert_eq!(removed["location"]["package"], old.as_str(), "{removed:#}");
        assert_eq!(removed["location"]["file"], "customizations.xml");
        assert_eq!(packages[1]["verdict"], verdict);
        let lost = packages[1]["data_loss"].as_array().expect("data_loss");
        if managed {
            assert_eq!(lost.len(), 1, "{lost:?}");
            assert_eq!(lost[0]["kind"], "column");
            assert_eq!(lost[0]["component"], "con_project.con_cost");
        } else {
            assert!(lost.is_empty(), "{lost:?}");
        }
    }
}

/// Checks the managed base `Core` 1.2.0.0, then `patches`; the packages after the base.
fn after_core_base(patches: &[(Manifest, &[&str])]) -> Vec<Value> {
    let releases = Releases::new();
    let mut paths = vec![releases.add(&manifest("Core", "1.2.0.0", true), &[])];
    for (manifest, columns) in patches {
        paths.push(releases.add(manifest, columns));
    }
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut packages = check(&args);
    assert_codes(&packages[0], &[]);
    packages.remove(0);
    packages
}

#[test]
fn patches_rise_above_their_parent_and_each_other() {
    let packages = after_core_base(&[
        (patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE), &[]),
        (patch("Core_Patch_b", "1.2.2.0", true, PATCH_OF_CORE), &[]),
        (patch("Core_Patch_c", "1.2.1.5", true, PATCH_OF_CORE), &[]),
    ]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &[]);
    assert_codes(&packages[2], &["monotonic-version/patch-order"]);
    let order = finding(&packages[2], "monotonic-version/patch-order");
    assert_eq!(order["severity"], "error");
    assert!(
        order["message"]
            .as_str()
            .is_some_and(|m| m.contains("Core_Patch_b 1.2.2.0")),
        "{order:#}"
    );

    let packages = after_core_base(&[
        (patch("Core_Patch_a", "1.3.0.1", true, PATCH_OF_CORE), &[]),
        (patch("Core_Patch_b", "1.2.0.0", true, PATCH_OF_CORE), &[]),
    ]);
    for package in &packages {
        assert_codes(package, &["monotonic-version/patch-version"]);
        assert_eq!(
            finding(package, "monotonic-version/patch-version")["severity"],
            "error"
        );
    }
}

#[test]
fn a_patch_of_an_unseen_parent_says_what_could_not_be_checked() {
    let releases = Releases::new();
    let orphan = releases.add(
        &patch(
            "Orphan_Patch_a",
            "1.0.1.0",
            true,
            "<ParentSolution><UniqueName>Orphan</UniqueName><Version>1.0.0.0</Version></ParentSolution>",
        ),
        &[],
    );
    let packages = check(&[&orphan]);
    assert_codes(&packages[0], &["monotonic-version/patch-parent-unknown"]);
    let unknown = finding(&packages[0], "monotonic-version/patch-parent-unknown");
    assert_eq!(unknown["severity"], "warning");
    let message = unknown["message"].as_str().expect("message");
    for part in [
        "Orphan 1.0.0.0",
        "could not run",
        "same major.minor as the parent",
        "higher than the parent's other patches",
        "current base release",
        "managed state and publisher",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert_eq!(packages[0]["verdict"], "warn");
}

#[test]
fn a_patch_cannot_be_the_parent_of_a_patch() {
    let packages = after_core_base(&[
        (patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE), &[]),
        (
            patch(
                "Core_Patch_n",
                "1.2.1.1",
                true,
                "<ParentSolution><UniqueName>Core_Patch_a</UniqueName><Version>1.2.1.0</Version></ParentSolution>",
            ),
            &[],
        ),
    ]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &["monotonic-version/patch-of-patch"]);
    assert_eq!(
        finding(&packages[1], "monotonic-version/patch-of-patch")["severity"],
        "error"
    );
}

#[test]
fn a_patch_must_be_made_from_the_current_base() {
    let packages = after_core_base(&[
        (manifest("Core", "1.3.0.0", true), &[]),
        (patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE), &[]),
    ]);
    assert_codes(&packages[0], &[]);
    assert_codes(
        &packages[1],
        &["monotonic-version/patch-parent-not-current"],
    );
    let stale = finding(&packages[1], "monotonic-version/patch-parent-not-current");
    assert_eq!(stale["severity"], "error");
    assert!(
        stale["message"]
            .as_str()
            .is_some_and(|m| m.contains("Core 1.2.0.0") && m.contains("1.3.0.0")),
        "{stale:#}"
    );
}

#[test]
fn a_patch_keeps_its_parents_form_and_publisher() {
    let packages =
        after_core_base(&[(patch("Core_Patch_u", "1.2.1.0", false, PATCH_OF_CORE), &[])]);
    assert_codes(&packages[0], &["import-readiness/patch-managed-mismatch"]);
    assert_eq!(
        finding(&packages[0], "import-readiness/patch-managed-mismatch")["severity"],
        "error"
    );

    let releases = Releases::new();
    let base = releases.add(&manifest("Core", "1.2.0.0", true), &[]);
    let mut foreign = patch("Core_Patch_f", "1.2.1.0", true, PATCH_OF_CORE);
    foreign.publisher = "fabrikam".into();
    foreign.prefix = "fab".into();
    // No tables: a fab-prefixed publisher shipping con_ tables would add component-prefix.
    let foreign = releases.zip(
        "Core_Patch_f_1_2_1_0_managed.zip",
        &package(&foreign, &[], None),
    );
    let packages = check(&[&base, &foreign]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &["publisher-consistency/patch-publisher"]);
    assert_eq!(
        finding(&packages[1], "publisher-consistency/patch-publisher")["severity"],
        "error"
    );
}

#[test]
fn a_patch_re_released_without_a_column_deletes_nothing() {
    let packages = after_core_base(&[
        (
            patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE),
            &["con_patched"],
        ),
        (patch("Core_Patch_a", "1.2.2.0", true, PATCH_OF_CORE), &[]),
    ]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &[]);
    assert_eq!(packages[1]["previous_version"], "1.2.1.0");
    assert!(packages[1]["data_loss"]
        .as_array()
        .is_some_and(Vec::is_empty));
}

/// Base `Core` 1.2.0.0 with `con_a`, its patch 1.2.1.0 adding `con_patched`, then `roll_up`
/// with `columns`: the roll-up's package and the patch's path.
fn roll_up(version: &str, columns: &[&str]) -> (Value, String) {
    let releases = Releases::new();
    let base = releases.add(&manifest("Core", "1.2.0.0", true), &["con_a"]);
    let patched = releases.add(
        &patch("Core_Patch_a", "1.2.1.0", true, PATCH_OF_CORE),
        &["con_patched"],
    );
    let next = releases.add(&manifest("Core", version, true), columns);
    let packages = check(&[&base, &patched, &next]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &[]);
    (packages[2].clone(), patched)
}

#[test]
fn a_roll_up_raises_major_minor_and_keeps_what_patches_added() {
    let (same_minor, _) = roll_up("1.2.2.0", &["con_a", "con_patched"]);
    assert_codes(&same_minor, &["monotonic-version/rollup-version"]);
    assert_eq!(
        finding(&same_minor, "monotonic-version/rollup-version")["severity"],
        "error"
    );

    let (clean, _) = roll_up("1.3.0.0", &["con_a", "con_patched"]);
    assert_codes(&clean, &[]);
    assert!(clean["data_loss"].as_array().is_some_and(Vec::is_empty));

    let (dropped, patch_path) = roll_up("1.3.0.0", &["con_a"]);
    assert_codes(&dropped, &["data-loss-risk/attribute-removed"]);
    let removed = finding(&dropped, "data-loss-risk/attribute-removed");
    assert!(
        removed["message"]
            .as_str()
            .is_some_and(|m| m.contains("con_patched") && m.contains("Core_Patch_a 1.2.1.0")),
        "{removed:#}"
    );
    assert_eq!(
        removed["location"]["package"],
        patch_path.as_str(),
        "the column came in the patch: {removed:#}"
    );
    assert_eq!(removed["location"]["file"], "customizations.xml");
    let lost = dropped["data_loss"].as_array().expect("data_loss");
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["component"], "con_project.con_patched");
}

#[test]
fn a_removed_many_to_many_relationship_takes_its_intersect_table() {
    let relationship = "<EntityRelationships><EntityRelationship Name=\"con_project_contact\"><EntityRelationshipType>ManyToMany</EntityRelationshipType><IntersectEntityName>con_project_contact</IntersectEntityName><FirstEntityName>con_project</FirstEntityName><SecondEntityName>contact</SecondEntityName></EntityRelationship></EntityRelationships>";
    let releases = Releases::new();
    let old = releases.zip(
        "Core_1_0_0_0_managed.zip",
        &package(
            &manifest("Core", "1.0.0.0", true),
            &[project(&[])],
            Some(relationship),
        ),
    );
    let new = releases.add(&manifest("Core", "1.1.0.0", true), &[]);
    let packages = check(&[&old, &new]);
    assert_codes(&packages[0], &[]);
    assert_codes(&packages[1], &["data-loss-risk/relationship-removed"]);
    let removed = finding(&packages[1], "data-loss-risk/relationship-removed");
    assert_eq!(removed["severity"], "error");
    assert!(
        removed["message"].as_str().is_some_and(
            |m| m.contains("many-to-many") && m.contains("intersect table con_project_contact")
        ),
        "{removed:#}"
    );
    assert_eq!(removed["location"]["package"], old.as_str());
    let lost = packages[1]["data_loss"].as_array().expect("data_loss");
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["kind"], "many-to-many");
    assert_eq!(lost[0]["component"], "con_project_contact");
}

/// Versions of a report's packages, in report order.
fn versions(packages: &[Value]) -> Vec<&str> {
    packages
        .iter()
        .map(|p| p["version"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn a_folder_is_taken_in_export_order() {
    let releases = Releases::new();
    // File names sort 1.2, 1.0, 1.1, modification times 1.2, 1.1, 1.0; the export times
    // say 1.0, 1.1, 1.2.
    let now = SystemTime::now();
    for (file, version, month) in [
        ("b.zip", "1.0.0.0", 1),
        ("c.zip", "1.1.0.0", 2),
        ("a.zip", "1.2.0.0", 3),
    ] {
        let zip = package(&manifest("Core", version, true), &[project(&[])], None)
            .exported_at((2024, month, 10), (9, 30, 0));
        let path = releases.zip(file, &zip);
        set_mtime(
            Path::new(&path),
            now - Duration::from_secs(3600 * u64::from(month)),
        );
    }
    let packages = check(&[releases.root()]);
    assert_eq!(versions(&packages), ["1.0.0.0", "1.1.0.0", "1.2.0.0"]);
    let exported: Vec<&str> = packages
        .iter()
        .map(|p| p["exported_at"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        exported,
        [
            "2024-01-10T09:30:00",
            "2024-02-10T09:30:00",
            "2024-03-10T09:30:00"
        ]
    );
    for package in &packages {
        assert_codes(package, &[]);
    }
    // Path order would have made 1.0 a downgrade: the stamps are what orders them.
    let by_path = check(&["--order", "path", releases.root()]);
    assert_eq!(versions(&by_path), ["1.2.0.0", "1.0.0.0", "1.1.0.0"]);
    assert_codes(&by_path[1], &["monotonic-version/downgrade"]);

    let (code, report) = audit(&[releases.root()]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["audit"]["order"], "exported");
    assert_eq!(stream_versions(&report), ["1.0.0.0", "1.1.0.0", "1.2.0.0"]);
    for package in report["packages"].as_array().expect("packages") {
        assert_codes(package, &[]);
    }
    let (_, by_mtime) = audit(&[releases.root(), "--order", "mtime"]);
    assert_eq!(
        stream_versions(&by_mtime),
        ["1.2.0.0", "1.1.0.0", "1.0.0.0"]
    );
    assert!(has_downgrade(&by_mtime), "{:#}", by_mtime["streams"]);
}

/// The versions of an audit's first release stream, in stream order.
fn stream_versions(report: &Value) -> Vec<&str> {
    report["streams"][0]["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| r["version"].as_str().unwrap_or(""))
        .collect()
}

fn set_mtime(path: &Path, modified: SystemTime) {
    std::fs::File::options()
        .append(true)
        .open(path)
        .expect("open")
        .set_modified(modified)
        .expect("set mtime");
}

/// Copies a corpus file into `dir` with the given modification time.
fn copy_with_mtime(from: &Path, dir: &Path, modified: SystemTime) {
    let to = dir.join(from.file_name().expect("file name"));
    std::fs::copy(from, &to).expect("copy");
    set_mtime(&to, modified);
}

fn has_downgrade(report: &Value) -> bool {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .any(|p| codes(p).iter().any(|c| c == "monotonic-version/downgrade"))
}

#[test]
fn an_audit_of_copied_corpus_releases_follows_export_time_not_mtime() {
    let tools = corpus().join("powerapps-tools");
    let dir = TempDir::new().expect("tmp");
    let now = SystemTime::now();
    copy_with_mtime(
        &tools.join("CenterofExcellenceCoreComponents_1_70_managed.zip"),
        dir.path(),
        now,
    );
    copy_with_mtime(
        &tools.join("CenterofExcellenceCoreComponents_1_70_1_managed.zip"),
        dir.path(),
        now - Duration::from_secs(3600),
    );
    let (_, by_export) = audit(&[path_str(dir.path())]);
    assert!(!has_downgrade(&by_export), "{:#}", by_export["streams"]);
    assert_eq!(stream_versions(&by_export), ["1.70", "1.70.1"]);
    let (_, by_mtime) = audit(&[path_str(dir.path()), "--order", "mtime"]);
    assert_eq!(stream_versions(&by_mtime), ["1.70.1", "1.70"]);
    assert!(has_downgrade(&by_mtime), "{:#}", by_mtime["streams"]);
}

#[test]
fn the_export_time_is_reported_for_zips_only() {
    let zip = corpus().join("xrm-ci-framework/Success_1_0_0_0.zip");
    let tree = corpus().join("unpacked/hmcts-pre-rec-evidence/v0.0.1_261efc2");
    let packages = check(&[path_str(&zip), path_str(&tree)]);
    assert_eq!(packages[0]["exported_at"], "2018-12-27T15:11:22");
    assert_eq!(packages[1]["unique_name"], "dts_pre_recorded_evidence");
    assert!(
        packages[1]
            .as_object()
            .is_some_and(|p| p.get("exported_at") == Some(&Value::Null)),
        "exported_at is present and null for a tree: {:#}",
        packages[1]
    );
    let output = solguard(&["inspect", path_str(&zip)]);
    assert_eq!(output.status.code(), Some(0));
    let human = String::from_utf8_lossy(&output.stdout);
    assert!(
        human.contains("exported:    at 2018-12-27 15:11:22"),
        "{human}"
    );
}

#[test]
fn a_built_in_audit_finding_is_waivable() {
    let releases = Releases::new();
    releases.zip(
        "Core_9_9_9_9.zip",
        &package(&manifest("Core", "1.0.0.0", true), &[project(&[])], None),
    );
    let config = releases.dir.path().join("waivers.toml");
    std::fs::write(
        &config,
        "[[waivers]]\nrule = \"repository\"\ncode = \"file-name-mismatch\"\nsolution = \"Core\"\nversion = \"1.0.0.0\"\nreason = \"Renamed in the next release (GOV-12)\"\nexpires = 2999-12-31\n",
    )
    .expect("write config");
    let (code, report) = audit(&[releases.root(), "--config", path_str(&config)]);
    assert_eq!(code, Some(0), "{report:#}");
    let package = &report["packages"][0];
    assert_codes(package, &["repository/file-name-mismatch"]);
    let mismatch = finding(package, "repository/file-name-mismatch");
    assert_eq!(mismatch["severity"], "info");
    assert_eq!(
        mismatch["waived"]["reason"], "Renamed in the next release (GOV-12)",
        "{mismatch:#}"
    );
    assert_eq!(report["summary"]["waived"], 1);
    assert!(
        report["findings"].as_array().is_some_and(Vec::is_empty),
        "the waiver was used: {:#}",
        report["findings"]
    );
}

#[test]
fn an_audit_baseline_moves_only_when_asked() {
    let releases = Releases::new();
    releases.zip(
        "Core_1_0_0_0.zip",
        &package(&manifest("Core", "1.0.0.0", false), &[project(&[])], None)
            .without("[Content_Types].xml"),
    );
    let baseline = releases.dir.path().join("state/baseline.db");
    let baseline = path_str(&baseline).to_owned();
    let args = [releases.root(), "--baseline", baseline.as_str()];
    let new_findings = |report: &Value| -> Vec<String> {
        report["audit"]["new_findings"]
            .as_array()
            .expect("new_findings")
            .iter()
            .map(|f| {
                format!(
                    "{}/{}",
                    f["rule"].as_str().unwrap_or(""),
                    f["code"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let (code, first) = audit(&args);
    assert_eq!(code, Some(1));
    assert_eq!(
        new_findings(&first),
        ["import-readiness/missing-content-types"]
    );
    let (code, again) = audit(&args);
    assert_eq!(code, Some(1), "the baseline did not move");
    assert_eq!(new_findings(&again), new_findings(&first));
    let mut update = args.to_vec();
    update.push("--update-baseline");
    let (code, recorded) = audit(&update);
    assert_eq!(code, Some(1), "the run that records still reports");
    assert_eq!(new_findings(&recorded), new_findings(&first));
    let (code, after) = audit(&args);
    assert_eq!(code, Some(0), "{:#}", after["audit"]);
    assert!(new_findings(&after).is_empty());
}

/// A user policy folder holding one policy `id` whose `check` body is `body`.
fn user_policy(dir: &Path, id: &str, body: &str) -> PathBuf {
    let policies = dir.join(format!("policies-{id}"));
    std::fs::create_dir_all(&policies).expect("mkdir");
    std::fs::write(
        policies.join(format!("{id}.rhai")),
        format!("//! id = \"{id}\"\n//! severity = \"warning\"\n//! title = \"Test policy\"\n//! description = \"A policy for the test.\"\n//! hint = \"None.\"\nfn check(pkg, context) {{\n{body}\n}}\n"),
    )
    .expect("write policy");
    policies
}

#[test]
fn a_failing_policy_is_a_finding_and_a_broken_one_stops_the_run() {
    let releases = Releases::new();
    let core = releases.add(&manifest("Core", "1.0.0.0", false), &[]);
    let throws = user_policy(
        releases.dir.path(),
        "throws",
        "    if pkg.unique_name == \"Core\" { throw \"no Core allowed\"; }\n    ()",
    );
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--policies",
        path_str(&throws),
        &core,
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json(&output);
    let package = &report["packages"][0];
    assert_codes(package, &["throws/policy-error"]);
    let failed = finding(package, "throws/policy-error");
    assert_eq!(failed["severity"], "error");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("no Core allowed")),
        "{failed:#}"
    );

    let broken = user_policy(
        releases.dir.path(),
        "broken",
        "    let found = [;\n    found",
    );
    let output = solguard(&[
        "check",
        "--format",
        "json",
        "--policies",
        path_str(&broken),
        &core,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.rhai:7:"), "{stderr}");
}
