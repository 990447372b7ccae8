//! The four governance policies through `solguard check` on the real corpus pairs listed in
//! `corpus/MANIFEST.md` (data loss, reused version, publisher drift, version format change,
//! downgrade, export for an older target), and clean pairs that must stay silent.

mod support;

use std::process::Command;

use serde_json::Value;

/// Runs `check --format json` on corpus files in the given order; returns the report.
fn check(files: &[&str], extra: &[&str]) -> Value {
    let corpus = support::corpus();
    let mut command = Command::new(env!("CARGO_BIN_EXE_solguard"));
    command
        .args(["check", "--format", "json", "--fail-on", "never"])
        .args(extra);
    for file in files {
        command.arg(corpus.join(file));
    }
    let output = command.output().expect("run solguard");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON report")
}

/// `(rule/code, severity, message)` of a package's findings.
fn findings(report: &Value, index: usize) -> Vec<(String, String, String)> {
    report["packages"][index]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["rule"].as_str().unwrap_or(""),
                    f["code"].as_str().unwrap_or("")
                ),
                f["severity"].as_str().unwrap_or("").to_owned(),
                f["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn codes(report: &Value, index: usize) -> Vec<String> {
    let mut codes: Vec<String> = findings(report, index)
        .into_iter()
        .map(|(code, _, _)| code)
        .filter(|code| code != "publisher-consistency/component-prefix")
        .collect();
    codes.sort();
    codes
}

#[test]
fn removed_columns_of_an_unmanaged_release_are_drift_located_in_the_earlier_release() {
    // Both releases are unmanaged: an unmanaged import never deletes, so the six dropped
    // columns stay behind in the target. Each is named, located where it stood in 1.0.0.40.
    let report = check(
        &[
            "powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip",
            "powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip",
        ],
        &[],
    );
    let removed: Vec<(String, String, String)> = findings(&report, 1)
        .into_iter()
        .filter(|(code, _, _)| code == "data-loss-risk/unmanaged-removal")
        .collect();
    assert_eq!(removed.len(), 6, "{removed:?}");
    assert!(removed.iter().all(|(_, severity, _)| severity == "info"));
    for column in [
        "admin_app.admin_appcategory",
        "admin_app.admin_ownermanageroid",
        "admin_environment.admin_environmentcreated",
        "admin_flow.admin_deleteddate",
        "admin_flow.admin_flowcreated",
        "admin_flow.admin_flowmodified",
    ] {
        assert!(
            removed
                .iter()
                .any(|(_, _, message)| message.contains(column)),
            "{column} named: {removed:?}"
        );
    }
    let all = report["packages"][1]["findings"]
        .as_array()
        .expect("findings");
    assert!(
        all.iter().all(|f| f["code"] != "attribute-removed"),
        "no data-loss error for an unmanaged import"
    );
    let first = all
        .iter()
        .find(|f| f["code"] == "unmanaged-removal")
        .cloned()
        .expect("one");
    assert_eq!(first["location"]["file"], "customizations.xml");
    assert!(
        first["location"]["package"]
            .as_str()
            .is_some_and(|p| p.ends_with("PowerPlatformAdmin_1_0_0_40.zip")),
        "the location points into the earlier release: {first}"
    );
    assert!(
        first["hint"]
            .as_str()
            .is_some_and(|h| h.contains("never delete")),
        "{first}"
    );
    assert_eq!(report["packages"][1]["verdict"], "warn");
    assert_eq!(
        report["packages"][1]["data_loss"].as_array().map(Vec::len),
        Some(0),
        "an unmanaged import deletes nothing"
    );
    assert_eq!(
        report["packages"][0]["verdict"], "warn",
        "only prefix warnings on the first release"
    );
}

#[test]
fn audit_components_reuse_a_version_then_drop_a_table() {
    let report = check(
        &[
            "powerapps-tools/CenterofExcellenceAuditComponents_1_18_managed__811589f.zip",
            "powerapps-tools/CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip",
            "powerapps-tools/CenterofExcellenceAuditComponents_1_21_managed.zip",
        ],
        &[],
    );
    assert_eq!(codes(&report, 1), ["monotonic-version/reused-version"]);
    assert_eq!(report["packages"][1]["accepted"], false);
    assert_eq!(report["packages"][2]["previous_version"], "1.18");
    assert_eq!(codes(&report, 2), ["data-loss-risk/entity-removed"]);
    let (_, _, message) = &findings(&report, 2)
        .into_iter()
        .find(|(c, _, _)| c.ends_with("entity-removed"))
        .expect("found");
    assert!(
        message.contains("new_bpf_ffa183a676d64ec9aee6a558129651a2"),
        "{message}"
    );
}

#[test]
fn publisher_drift_downgrades_and_format_changes() {
    let report = check(
        &[
            "pnp-powerplatform-samples/ShopSenseSolutions_1_0_0_2.zip",
            "pnp-powerplatform-samples/ShopSenseSolutions_1_0_0_4.zip",
        ],
        &[],
    );
    assert_eq!(
        codes(&report, 1),
        [
            "publisher-consistency/option-prefix-changed",
            "publisher-consistency/prefix-changed",
            "publisher-consistency/publisher-changed"
        ]
    );

    let report = check(
        &[
            "pnp-powerplatform-samples/GymMembershipRegistration_1_0_0_2.zip",
            "pnp-powerplatform-samples/gym-management-app__851f409.zip",
        ],
        &[],
    );
    assert_eq!(codes(&report, 1), ["monotonic-version/downgrade"]);
    assert!(findings(&report, 1)[0]
        .2
        .contains("leaves components added since behind"));

    let report = check(
        &[
            "powerapps-tools/CenterOfExcellenceTheming_1_1_managed.zip",
            "powerapps-tools/Theming_1_2_managed.zip",
        ],
        &[],
    );
    assert_eq!(
        codes(&report, 1),
        ["monotonic-version/version-format-changed"]
    );
    assert_eq!(
        report["packages"][1]["accepted"], true,
        "a warning does not reject"
    );

    let report = check(
        &[
            "pnp-powerplatform-samples/IncidentReporting_1_0_0_2.zip",
            "pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip",
        ],
        &[],
    );
    assert_eq!(
        codes(&report, 1),
        ["data-loss-risk/unmanaged-removal"],
        "an unmanaged release leaves the system table's customizations behind"
    );
    assert_eq!(findings(&report, 1)[0].1, "info");
}

#[test]
fn exports_for_an_older_target_and_platform_checks() {
    let report = check(
        &[
            "SparkleXrm/MultiEntitySearch_2_1_managed.zip",
            "SparkleXrm/MultiEntitySearch_2_1_target_CRM_6.0_managed.zip",
        ],
        &["--target", "crm2013=6.0.0001.0061"],
    );
    assert!(
        codes(&report, 0).contains(&"version-compatibility/newer-platform".to_string()),
        "{:?}",
        codes(&report, 0)
    );
    assert!(
        !codes(&report, 1)
            .iter()
            .any(|c| c.starts_with("version-compatibility")),
        "exported for 6.0 on purpose: {:?}",
        codes(&report, 1)
    );
    assert!(
        report["packages"][1]["previous_version"].is_null(),
        "the 6.1 export was rejected for the 6.0 target, so it never became previous"
    );

    let report = check(
        &[
            "PowerApps-Samples/ColumnLevelSecuritySampleSolution_managed.zip",
            "SparkleXrm/SparkleXrm_0_1_0_managed.zip",
        ],
        &["--target", "prod=9.2.24102.194"],
    );
    assert!(codes(&report, 0).contains(&"version-compatibility/newer-service-update".to_string()));
    assert!(codes(&report, 1).contains(&"version-compatibility/legacy-export".to_string()));
}

#[test]
fn clean_upgrades_stay_silent() {
    let report = check(
        &[
            "PowerApps-Samples/SecondaryRecordSource_SampleSolution_1_21111_1_managed.zip",
            "PowerApps-Samples/SecondaryRecordSource_SampleSolution_1_22033_1_managed.zip",
            "PowerApps-Samples/SecondaryRecordSource_SampleSolution_1_23091_1_managed.zip",
            "xrm-ci-framework/Success_1_0_0_0_managed.zip",
            "xrm-ci-framework/Success_1_1_0_0_managed.zip",
            "PowerApps-Samples/CustomActionsforWebAPIFunctionsandActionsSample_1_0_0_0_target_CRM_8.0_managed.zip",
        ],
        &["--target", "prod=9.2.24102.194"],
    );
    for index in 0..6 {
        assert_eq!(
            codes(&report, index),
            Vec::<String>::new(),
            "package {index}"
        );
    }
    assert_eq!(report["summary"]["errors"], 0);
}
