//! The `solguard inspect` command end to end: JSON field names, the human summary, and exit
//! codes with one-line errors.

mod support;

use std::process::Command;

fn solguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_solguard"))
}

#[test]
fn inspect_json_has_the_documented_fields() {
    let path = support::corpus().join("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip");
    let output = solguard()
        .args(["inspect", "--format", "json"])
        .arg(&path)
        .output()
        .expect("run solguard");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(json["source"]["kind"], "zip");
    assert_eq!(json["source"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(json["unique_name"], "PowerPlatformAdmin");
    assert_eq!(json["display_name"], "Center of Excellence");
    assert_eq!(json["version"], "1.0.0.42");
    assert_eq!(json["managed"], "unmanaged");
    assert_eq!(json["publisher"]["unique_name"], "powerplatformadmin");
    assert_eq!(json["publisher"]["customization_prefix"], "admin");
    assert_eq!(json["publisher"]["option_value_prefix"], 59791);
    assert_eq!(json["export"]["version"], "9.1.0.5431");
    assert_eq!(json["export"]["solution_package_version"], "9.1");
    assert!(json["export"]["minimum_version"].is_null());
    assert_eq!(json["export"]["generated_by"], "CrmLive");
    assert!(json["parent"].is_null());
    assert_eq!(json["root_components"].as_array().map(Vec::len), Some(40));
    assert_eq!(json["root_components"][0]["type"], 1);
    assert_eq!(
        json["missing_dependencies"].as_array().map(Vec::len),
        Some(3)
    );
    let entities = json["entities"].as_array().expect("entities");
    let app = entities
        .iter()
        .find(|e| e["name"] == "admin_app")
        .expect("admin_app");
    assert_eq!(app["shell"], false);
    let attribute = &app["attributes"][0];
    for field in ["name", "type", "custom", "max_length", "location"] {
        assert!(attribute.get(field).is_some(), "attribute field {field}");
    }
    assert_eq!(attribute["location"]["file"], "customizations.xml");
    assert!(json["option_sets"][0]["values"].is_array());
    assert!(json["components"]["workflows"]
        .as_u64()
        .is_some_and(|n| n >= 1));
}

#[test]
fn inspect_human_summarises_the_package() {
    let path = support::corpus().join("unpacked/powercat-creator-kit/CreatorKitCore_HEAD");
    let output = solguard()
        .arg("inspect")
        .arg(&path)
        .output()
        .expect("run solguard");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(text.starts_with("CreatorKitCore 0.0.0.0 (both)"), "{text}");
    assert!(text.contains("publisher:   PowerCat"), "{text}");
    assert!(text.contains("cat_sample"), "{text}");
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_file() {
    let path = support::corpus().join("xrm-ci-framework/ConfigData.zip");
    let output = solguard()
        .arg("inspect")
        .arg(&path)
        .output()
        .expect("run solguard");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("ConfigData.zip"), "{stderr}");
    assert!(stderr.contains("Configuration Migration"), "{stderr}");
    assert!(output.stdout.is_empty());
}
