//! Every finding code of the four governance policies through `solguard check`, on packages
//! made by the test package builder, and the negative cases that must stay silent (a clean
//! upgrade, a shell entity, an additive release, a patch done right).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{attribute, customizations, entity, Manifest, ZipBuilder};
use tempfile::TempDir;

/// One release: its manifest and the content of `customizations.xml`.
struct Release {
    manifest: Manifest,
    entities: Vec<String>,
    extra: String,
}

fn release(version: &str) -> Release {
    Release {
        manifest: Manifest {
            version: Some(version.into()),
            ..Manifest::default()
        },
        entities: vec![project(&[])],
        extra: String::new(),
    }
}

/// The `con_project` table with its id and name columns plus `more`.
fn project(more: &[String]) -> String {
    let mut columns = vec![
        attribute("con_projectid", "primarykey", false),
        attribute("con_name", "nvarchar", true),
    ];
    columns.extend_from_slice(more);
    entity("con_Project", &columns)
}

fn global_choice(name: &str, values: &[i64]) -> String {
    let options: String = values
        .iter()
        .map(|v| format!("<option value=\"{v}\"><labels><label description=\"V{v}\" languagecode=\"1033\" /></labels></option>"))
        .collect();
    format!("<optionsets><optionset Name=\"{name}\"><OptionSetType>picklist</OptionSetType><IsGlobal>1</IsGlobal><options>{options}</options></optionset></optionsets>")
}

impl Release {
    fn write(&self, dir: &Path, name: &str) -> String {
        let path = ZipBuilder::with_manifest(&self.manifest)
            .file(
                "customizations.xml",
                customizations(&self.entities, &self.extra),
            )
            .write(dir, name);
        path.to_str().expect("utf-8").to_owned()
    }
}

/// Checks `releases` in order; returns the finding codes of the last one, sorted.
fn codes_of_last(releases: &[Release], args: &[&str]) -> Vec<String> {
    let dir = TempDir::new().expect("tmp");
    let paths: Vec<String> = releases
        .iter()
        .enumerate()
        .map(|(i, r)| r.write(dir.path(), &format!("r{i}.zip")))
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["check", "--format", "json", "--fail-on", "never"])
        .args(args)
        .args(&paths)
        .output()
        .expect("run solguard");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("json");
    let packages = report["packages"].as_array().expect("packages");
    let last = packages.last().expect("a package");
    let mut codes: Vec<String> = last["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or("").to_owned())
        .collect();
    codes.sort();
    codes
}

fn with<F: FnOnce(&mut Release)>(version: &str, change: F) -> Release {
    let mut r = release(version);
    change(&mut r);
    r
}

#[test]
fn version_compatibility_codes() {
    let target = ["--target", "prod=9.2.24102.194"];
    let export = |attrs: &str| with("1.0.0.0", |r| r.manifest.export_attributes = attrs.into());
    assert_eq!(
        codes_of_last(
            &[export(
                r#"version="9.2.24101.200" SolutionPackageVersion="9.2""#
            )],
            &target
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        codes_of_last(
            &[export(
                r#"version="9.2.24101.200" SolutionPackageVersion="9.2""#
            )],
            &["--target", "9.1.0.25851"]
        ),
        ["newer-platform"]
    );
    assert_eq!(
        codes_of_last(
            &[export(
                r#"version="9.2.25063.198" SolutionPackageVersion="9.2""#
            )],
            &target
        ),
        ["newer-service-update"]
    );
    assert_eq!(
        codes_of_last(
            &[export(r#"version="5.0.9690.3731" minimumversion="5.0""#)],
            &target
        ),
        ["legacy-export"]
    );
    assert_eq!(
        codes_of_last(
            &[export(
                r#"version="7.0.0000.3050" SolutionPackageVersion="7.0""#
            )],
            &target
        ),
        ["major-gap"]
    );
    assert_eq!(
        codes_of_last(&[export(r#"generatedBy="CrmLive""#)], &target),
        ["unknown-platform-version"]
    );
    assert_eq!(
        codes_of_last(
            &[export(
                r#"version="8.1.0000.0240" SolutionPackageVersion="8.0""#
            )],
            &["--target", "8.0.0.0"]
        ),
        Vec::<String>::new(),
        "exported for an older target"
    );
}

#[test]
fn monotonic_version_codes() {
    assert_eq!(
        codes_of_last(&[release("1.0.0.0"), release("1.1.0.0")], &[]),
        Vec::<String>::new(),
        "a clean upgrade"
    );
    assert_eq!(
        codes_of_last(&[release("1.2.3.4.5")], &[]),
        ["invalid-version"]
    );
    assert_eq!(
        codes_of_last(&[release("1.0.0.2"), release("1.0.0.1")], &[]),
        ["downgrade"]
    );
    let changed = with("1.0.0.2", |r| {
        r.entities = vec![project(&[attribute("con_budget", "money", true)])]
    });
    assert_eq!(
        codes_of_last(&[release("1.0.0.2"), changed], &[]),
        ["reused-version"]
    );
    assert_eq!(
        codes_of_last(&[release("1.0.0.2"), release("1.0.0.2")], &[]),
        ["duplicate"]
    );
    assert_eq!(
        codes_of_last(&[release("1.0.0.7"), release("1.2")], &[]),
        ["version-format-changed"]
    );
    let patch = |version: &str, parent: &str| {
        with(version, |r| {
            r.manifest.unique_name = Some("ContosoCore_Patch_0a1b2c3d".into());
            r.manifest.extra = format!("<ParentSolution><UniqueName>ContosoCore</UniqueName><Version>{parent}</Version></ParentSolution><RootComponents /><MissingDependencies />");
        })
    };
    assert_eq!(
        codes_of_last(&[release("1.2.0.0"), patch("1.2.1.0", "1.2.0.0")], &[]),
        Vec::<String>::new(),
        "a patch done right"
    );
    assert_eq!(
        codes_of_last(&[release("1.2.0.0"), patch("1.3.0.0", "1.2.0.0")], &[]),
        ["patch-version"]
    );
    let orphan = with("1.2.0.1", |r| {
        r.manifest.unique_name = Some("Orphan_Patch_0a1b2c3d".into());
        r.manifest.extra = "<ParentSolution><UniqueName>Orphan</UniqueName></ParentSolution><RootComponents /><MissingDependencies />".into();
    });
    assert_eq!(codes_of_last(&[orphan], &[]), ["patch-parent-unknown"]);
}

#[test]
fn publisher_consistency_codes() {
    let other = with("1.1.0.0", |r| {
        r.manifest.publisher = "fabrikam".into();
        r.manifest.prefix = "fab".into();
        r.manifest.option_prefix = "70000".into();
        r.entities = vec![];
    });
    let first = with("1.0.0.0", |r| r.entities = vec![]);
    assert_eq!(
        codes_of_last(&[first, other], &[]),
        [
            "option-prefix-changed",
            "prefix-changed",
            "publisher-changed"
        ]
    );
    let parent = release("1.2.0.0");
    let patch = with("1.2.1.0", |r| {
        r.manifest.unique_name = Some("ContosoCore_Patch_0a1b2c3d".into());
        r.manifest.publisher = "fabrikam".into();
        r.manifest.extra = "<ParentSolution><UniqueName>ContosoCore</UniqueName><Version>1.2.0.0</Version></ParentSolution><RootComponents /><MissingDependencies />".into();
    });
    assert_eq!(codes_of_last(&[parent, patch], &[]), ["patch-publisher"]);
    let foreign = with("1.0.0.0", |r| {
        r.entities.push(entity(
            "abc_Thing",
            &[attribute("abc_name", "nvarchar", true)],
        ))
    });
    assert_eq!(codes_of_last(&[foreign], &[]), ["component-prefix"]);
    let default = with("1.0.0.0", |r| {
        r.manifest.managed = Some("1".into());
        r.manifest.publisher = "DefaultPublisherorg8a403877".into();
        r.manifest.prefix = "new".into();
        r.entities = vec![];
    });
    assert_eq!(codes_of_last(&[default], &[]), ["default-publisher"]);
    let config = TempDir::new().expect("tmp");
    let config_path = config.path().join("solguard.toml");
    std::fs::write(
        &config_path,
        "[rules.publisher-consistency.params]\nallowed = [\"fabrikam\"]\n",
    )
    .expect("write");
    assert_eq!(
        codes_of_last(
            &[release("1.0.0.0")],
            &["--config", config_path.to_str().expect("utf-8")]
        ),
        ["publisher-not-allowed"]
    );
}

#[test]
fn data_loss_codes_and_silent_cases() {
    let full = |more: &[String]| project(more);
    let old = with("1.0.0.0", |r| {
        r.manifest.managed = Some("1".into());
        r.entities = vec![
            full(&[
                attribute("con_cost", "money", true),
                attribute("con_code", "nvarchar", true),
            ]),
            entity("con_Invoice", &[attribute("con_amount", "money", true)]),
            entity("SystemUser", &[attribute("con_badge", "nvarchar", true)]),
        ];
        r.extra = global_choice("con_status", &[612300000, 612300001]);
    });
    let new = with("1.1.0.0", |r| {
        r.manifest.managed = Some("1".into());
        let code = attribute("con_code", "int", true);
        let shorter = attribute("con_name", "nvarchar", true)
            .replace("<MaxLength>100</MaxLength>", "<MaxLength>40</MaxLength>");
        r.entities = vec![entity(
            "con_Project",
            &[
                attribute("con_projectid", "primarykey", false),
                shorter,
                code,
            ],
        )];
        r.extra = global_choice("con_status", &[612300000]);
    });
    assert_eq!(
        codes_of_last(&[old, new], &[]),
        [
            "attribute-removed",
            "attribute-type-changed",
            "customization-removed",
            "entity-removed",
            "max-length-reduced",
            "option-removed"
        ]
    );
    let managed = with("1.0.0.0", |r| r.manifest.managed = Some("1".into()));
    assert_eq!(
        codes_of_last(&[managed, release("1.1.0.0")], &[]),
        ["managed-changed"]
    );

    let additive = with("1.1.0.0", |r| {
        r.entities = vec![full(&[attribute("con_due", "datetime", true)])]
    });
    assert_eq!(
        codes_of_last(&[release("1.0.0.0"), additive], &[]),
        Vec::<String>::new(),
        "an additive release"
    );
    let before = with("1.0.0.0", |r| {
        r.entities.push(entity(
            "Account",
            &[attribute("con_tier", "picklist", true)],
        ))
    });
    let shell = with("1.1.0.0", |r| {
        r.entities.push("<Entity><Name LocalizedName=\"Account\" OriginalName=\"Account\">Account</Name></Entity>".into())
    });
    assert_eq!(
        codes_of_last(&[before, shell], &[]),
        Vec::<String>::new(),
        "a shell entity is not a removal"
    );
}
