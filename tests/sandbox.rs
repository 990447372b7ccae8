//! The policy sandbox through both front doors: policies that loop forever, recurse without end,
//! build a huge string or array, allocate gigabytes inside one built-in call (`pad`, `replace`)
//! or across many, or throw are each stopped within their budget and reported as
//! `policy-error`, by `solguard check` and by the daemon, and the other policies still run. A
//! policy that floods findings or output is cut to its bounds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::daemon::Root;
use support::ZipBuilder;

const HOSTILE: [(&str, &str); 11] = [
    ("loops", "let n = 0; loop { n += 1; }"),
    ("recurses", "down(0)"),
    ("huge-string", "let s = \"x\"; loop { s += s; }"),
    ("huge-array", "let a = []; loop { a.push(a.len()); }"),
    ("throws", "throw \"the policy gave up\";"),
    // 60 MB, then one replace that would make it 6 GB in a single call.
    (
        "replace-bomb",
        "let s = \"\"; s.pad(60000000, \"a\"); s.replace(\"a\", \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\");",
    ),
    (
        "replace-loop",
        "let s = \"\"; s.pad(1000000, \"a\"); loop { s.replace(\"a\", \"aa\"); }",
    ),
    // Many large strings, each within the string limit, past the memory ceiling together.
    (
        "many-pads",
        "let a = \"\"; a.pad(60000000, \"a\"); let b = \"\"; b.pad(60000000, \"b\"); let c = \"\"; c.pad(60000000, \"c\"); let d = \"\"; d.pad(60000000, \"d\"); let e = \"\"; e.pad(60000000, \"e\"); let f = \"\"; f.pad(60000000, \"f\");",
    ),
    ("array-pad", "let a = []; a.pad(2000000000, 0);"),
    // One split of a 60 MB string into 60 million one-letter strings.
    (
        "split-bomb",
        "let s = \"\"; s.pad(60000000, \"a\"); let parts = s.split(\"\");",
    ),
    // Copies of one large string, each within the limit, past the ceiling together.
    (
        "many-copies",
        "let a = \"\"; a.pad(50000000, \"a\"); let b = a + \"b\"; let c = a + \"c\"; let d = a + \"d\"; let e = a + \"e\"; let f = a + \"f\";",
    ),
];

fn write_policies(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (id, body) in HOSTILE {
        let text = format!(
            "//! id = \"{id}\"\n//! severity = \"warning\"\n//! title = \"Hostile\"\n//! description = \"Test policy.\"\n//! hint = \"None.\"\nfn down(n) {{ down(n + 1) }}\nfn check(pkg, context) {{\n    {body}\n}}\n"
        );
        std::fs::write(dir.join(format!("{id}.rhai")), text).unwrap();
    }
}

fn assert_all_stopped(package: &Value) {
    let findings = package["findings"].as_array().unwrap();
    for (id, _) in HOSTILE {
        let finding = findings
            .iter()
            .find(|f| f["rule"] == id)
            .unwrap_or_else(|| panic!("no finding for {id}: {findings:?}"));
        assert_eq!(finding["code"], "policy-error", "{finding}");
        assert_eq!(
            finding["severity"], "error",
            "a broken policy fails the package"
        );
        assert!(
            finding["hint"]
                .as_str()
                .unwrap()
                .contains(&format!("{id}.rhai")),
            "names the script: {finding}"
        );
    }
    // The shipped policies still ran, and the clean package passes them.
    assert!(
        findings.iter().all(|f| f["code"] == "policy-error"),
        "{findings:?}"
    );
}

#[test]
fn check_stops_every_hostile_policy_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    write_policies(&dir.path().join("policies"));
    std::fs::write(
        dir.path().join("config.toml"),
        "[policies]\ndir = \"policies\"\ntime_budget_ms = 500\n",
    )
    .unwrap();
    let package = ZipBuilder::solution().write(dir.path(), "Clean.zip");
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["check", "--format", "json", "--config"])
        .arg(dir.path().join("config.toml"))
        .arg(&package)
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "bounded");
    assert_eq!(
        output.status.code(),
        Some(1),
        "policy errors fail the check"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_all_stopped(&report["packages"][0]);
}

#[test]
fn the_daemon_stops_every_hostile_policy_and_goes_on() {
    let root = Root::new(
        "",
        "[policies]\ndir = \"policies\"\ntime_budget_ms = 500\n[[watch]]\npath = \"drop\"\n",
        None,
    );
    write_policies(&root.path("policies"));
    let mut daemon = root.start();
    ZipBuilder::solution().write(&root.path("drop"), "Clean.zip");
    daemon.wait_for(60, || root.reports().len() == 1);
    assert_all_stopped(&root.reports()[0].1["packages"][0]);
    assert!(daemon.running());
    assert!(daemon.stop().success());
}

#[test]
fn a_flood_of_findings_or_output_is_cut_to_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let policy = |id: &str, body: &str| {
        let text = format!(
            "//! id = \"{id}\"\n//! severity = \"warning\"\n//! title = \"Flood\"\n//! description = \"Test policy.\"\n//! hint = \"None.\"\nfn check(pkg, context) {{\n    {body}\n}}\n"
        );
        std::fs::write(policies.join(format!("{id}.rhai")), text).unwrap();
    };
    policy(
        "floods",
        "let all = []; for i in 0..1500 { all.push(finding(\"spam\", `spam ${i}`)); } all",
    );
    policy(
        "chatters",
        "for i in 0..20000 { print(`line ${i} of chatter that fills the log`); } ()",
    );
    let package = ZipBuilder::solution().write(dir.path(), "Clean.zip");
    let started = Instant::now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "check",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--policies",
        ])
        .arg(&policies)
        .arg(&package)
        .env("SOLGUARD_LOG", "solguard::policy=info")
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "bounded");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["packages"][0]["findings"].as_array().unwrap();
    let spam = findings.iter().filter(|f| f["code"] == "spam").count();
    assert_eq!(spam, 1000, "the first 1,000 findings are kept");
    let truncated: Vec<&Value> = findings
        .iter()
        .filter(|f| f["code"] == "findings-truncated")
        .collect();
    assert_eq!(truncated.len(), 1);
    assert!(
        truncated[0]["message"]
            .as_str()
            .unwrap()
            .contains("500 dropped"),
        "{}",
        truncated[0]
    );
    let log = String::from_utf8_lossy(&output.stderr);
    let chatter = log.lines().filter(|l| l.contains("of chatter")).count();
    assert!(
        chatter > 100 && log.len() < 256 << 10,
        "output is logged up to its budget: {chatter} lines, {} bytes",
        log.len()
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("policy output truncated"))
            .count(),
        1,
        "one line says the rest was dropped"
    );
}
