//! `solguard watch` end to end: the real binary on temporary folders, fed with real corpus
//! packages and built ones, observed through its reports, history database, alert file, logs
//! and status server (on 127.0.0.1 only).

mod support;

use std::io::Write;
use std::time::Duration;

use support::daemon::{copy_in, copy_tree, free_address, http_get, wait_until, Root};
use support::{corpus, Manifest, ZipBuilder};

const WATCH_DROP: &str = "[[watch]]\npath = \"drop\"\n";

fn admin_zip() -> std::path::PathBuf {
    corpus().join("powerapps-tools/PowerPlatformAdmin_1_0_0_42.zip")
}

fn built(name: &str, version: &str) -> ZipBuilder {
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some(name.into()),
        version: Some(version.into()),
        ..Manifest::default()
    })
}

fn verdict(report: &serde_json::Value) -> &str {
    report["packages"][0]["verdict"].as_str().unwrap_or("")
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    report["packages"][0]["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|f| f["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_dropped_package_gets_reports_an_alert_and_metrics() {
    let address = free_address();
    let root = Root::new("", WATCH_DROP, Some(address));
    let daemon = root.start();
    assert!(
        wait_until(20, || http_get(address, "/healthz")
            .is_some_and(|(s, _)| s == 200)),
        "status server did not come up:\n{}",
        daemon.log()
    );

    let dropped = root.path("drop/PowerPlatformAdmin_1_0_0_42.zip");
    copy_in(&admin_zip(), &dropped);
    let modified = std::fs::metadata(&dropped).unwrap().modified().unwrap();
    built("ContosoCore", "1.0.0.0").write(&root.path("drop"), "ContosoCore_1_0.zip");
    copy_tree(
        &corpus().join("unpacked/hmcts-pre-rec-evidence/v0.0.1_261efc2"),
        &root.path("drop/hmcts-unpacked"),
    );
    assert!(
        wait_until(30, || root.reports().len() == 3),
        "expected 3 reports, got {:?}:\n{}",
        root.reports().iter().map(|r| &r.0).collect::<Vec<_>>(),
        daemon.log()
    );

    let admin = root.report_for("PowerPlatformAdmin").expect("admin report");
    assert_eq!(admin["schema_version"], 3);
    assert_eq!(admin["packages"][0]["version"], "1.0.0.42");
    assert_eq!(verdict(&admin), "warn");
    assert!(codes(&admin).contains(&"component-prefix".to_owned()));
    let contoso = root
        .report_for("ContosoCore")
        .expect("built package report");
    assert_eq!(verdict(&contoso), "pass", "{contoso:#}");
    let markdown: Vec<_> = std::fs::read_dir(root.path("reports"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(markdown.len(), 3, "one Markdown report per package");
    let html = std::fs::read_dir(root.path("reports"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
        .count();
    assert_eq!(html, 4, "one HTML report per package, and the index");
    daemon.wait_for(10, || {
        std::fs::read_to_string(root.path("reports/index.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|index| index["packages"].as_array().map(Vec::len) == Some(3))
    });
    let index = std::fs::read_to_string(root.path("reports/index.html")).unwrap();
    assert!(
        index.contains("PowerPlatformAdmin")
            && index.contains("href=\"PowerPlatformAdmin_1.0.0.42_"),
        "{index}"
    );
    let admin_md = std::fs::read_to_string(
        root.path("reports").join(
            root.reports()
                .iter()
                .find(|r| r.0.starts_with("PowerPlatformAdmin"))
                .unwrap()
                .0
                .replace(".json", ".md"),
        ),
    )
    .unwrap();
    assert!(
        admin_md.contains("| PowerPlatformAdmin | 1.0.0.42 |"),
        "{admin_md}"
    );

    // Only packages that did not pass raise alerts (delivered from the outbox just after the
    // report): the warned one and, if it warned, the unpacked tree; never the clean built one.
    let not_passed = root
        .reports()
        .iter()
        .filter(|(_, r)| verdict(r) != "pass")
        .count();
    daemon.wait_for(10, || root.alerts().len() == not_passed);
    let alerts = root.alerts();
    assert!(alerts
        .iter()
        .any(|a| a["unique_name"] == "PowerPlatformAdmin"
            && a["verdict"] == "warn"
            && a["idempotency_key"].as_str().is_some_and(|k| k.len() == 32)));
    assert!(!alerts.iter().any(|a| a["unique_name"] == "ContosoCore"));

    let (status, metrics) = http_get(address, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("solguard_packages_processed_total{verdict=\"warn\"}"),
        "{metrics}"
    );
    let passed = 3 - not_passed;
    assert!(
        metrics.contains(&format!(
            "solguard_packages_processed_total{{verdict=\"pass\"}} {passed}"
        )),
        "{metrics}"
    );
    assert!(metrics
        .contains("solguard_findings_total{rule=\"publisher-consistency\",severity=\"warning\"}"));
    assert!(
        metrics.contains("solguard_evaluation_seconds_count 3"),
        "{metrics}"
    );
    assert!(metrics.contains("solguard_last_reload_success 1"));
    assert!(metrics.contains("solguard_queue_depth 0"));
    // /metrics shows the policy set the reports carry.
    let policy_set = admin["policy_set"]
        .as_str()
        .expect("the report names its policy set");
    assert!(
        metrics.contains(&format!(
            "solguard_policy_set{{watch=\"drop\",hash=\"{policy_set}\"}} 1"
        )),
        "{metrics}"
    );
    let (_, status_json) = http_get(address, "/status").expect("status");
    let status_json: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    assert_eq!(status_json["folders"][0]["name"], "drop");
    assert_eq!(status_json["folders"][0]["mode"], "events");
    assert_eq!(status_json["recent"].as_array().map(Vec::len), Some(3));
    assert!(status_json["policies"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("monotonic-version")));

    let exit = daemon.stop();
    assert!(exit.success(), "SIGTERM must exit 0, got {exit:?}");
    assert_eq!(root.rows("processed"), 3);
    // Packages are only read: same bytes, same modification time.
    assert_eq!(
        std::fs::read(&dropped).unwrap(),
        std::fs::read(admin_zip()).unwrap()
    );
    assert_eq!(
        std::fs::metadata(&dropped).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn a_slow_chunked_copy_is_evaluated_once_after_it_completes() {
    let root = Root::new("", WATCH_DROP, None);
    let daemon = root.start();
    let bytes = std::fs::read(admin_zip()).unwrap();
    let target = root.path("drop/PowerPlatformAdmin.zip");
    let mut file = std::fs::File::create(&target).unwrap();
    // Ten chunks with pauses longer than the settle time: the file looks settled mid-copy, but
    // its central directory (written last) does not read until the copy is done.
    for chunk in bytes.chunks(bytes.len() / 10 + 1) {
        assert!(
            root.reports().is_empty(),
            "evaluated before the copy completed:\n{}",
            daemon.log()
        );
        file.write_all(chunk).unwrap();
        file.sync_data().unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    drop(file);
    daemon.wait_for(20, || root.reports().len() == 1);
    let report = root
        .report_for("PowerPlatformAdmin")
        .expect("evaluated whole");
    assert!(!codes(&report)
        .iter()
        .any(|c| c.contains("zip") || c == "truncated"));
    assert_eq!(verdict(&report), "warn");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(root.rows("processed"), 1);
    assert_eq!(root.rows("releases"), 1);
    let log = daemon.log();
    assert!(
        log.contains("Settled but not complete"),
        "the pauses should have made the file look settled:\n{log}"
    );
    assert!(daemon.stop().success());
}

#[test]
fn restarts_touches_renames_and_same_bytes_are_not_evaluated_again() {
    let root = Root::new("", WATCH_DROP, None);
    copy_in(&admin_zip(), &root.path("drop/Admin.zip"));
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    assert!(log.contains("1 evaluated, 0 already seen"), "{log}");

    // Restart: nothing new.
    let (_, log) = root.once();
    assert!(log.contains("0 evaluated, 1 already seen"), "{log}");

    // Touched, renamed, and the same bytes under another name: all recognised.
    let admin = root.path("drop/Admin.zip");
    let file = std::fs::File::options().append(true).open(&admin).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    std::fs::rename(&admin, root.path("drop/Admin-renamed.zip")).unwrap();
    std::fs::copy(admin_zip(), root.path("drop/Copy of Admin.zip")).unwrap();
    let (_, log) = root.once();
    assert!(log.contains("0 evaluated, 2 already seen"), "{log}");

    assert_eq!(root.rows("processed"), 1);
    assert_eq!(root.rows("releases"), 1);
    assert_eq!(root.reports().len(), 1);
    assert_eq!(root.alerts().len(), 1, "one alert for one package");
}

#[test]
fn the_same_bytes_dropped_twice_at_once_are_evaluated_once() {
    let root = Root::new("", WATCH_DROP, None);
    let daemon = root.start();
    let bytes = built("Twin", "1.0.0.1").bytes();
    std::fs::write(root.path("drop/twin-a.zip"), &bytes).unwrap();
    std::fs::write(root.path("drop/twin-b.zip"), &bytes).unwrap();
    daemon.wait_for(20, || daemon.log().contains("Already evaluated"));
    assert_eq!(root.rows("processed"), 1);
    assert_eq!(root.rows("releases"), 1);
    assert_eq!(root.reports().len(), 1);
    assert!(daemon.stop().success());
}

#[test]
fn packages_move_by_verdict_without_overwriting() {
    let watch = "[[watch]]\npath = \"drop\"\ndisposition = \"move\"\n";
    let root = Root::new("", watch, None);
    std::fs::create_dir_all(root.path("drop/accepted")).unwrap();
    std::fs::write(
        root.path("drop/accepted/Good.zip"),
        b"an older file that must survive",
    )
    .unwrap();
    built("Good", "1.0.0.0").write(&root.path("drop"), "Good.zip");
    // A zip that is whole but holds no solution: rejected with a package-format finding.
    ZipBuilder::new()
        .file("readme.txt", "not a solution")
        .write(&root.path("drop"), "Bad.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    assert!(log.contains("2 evaluated"), "{log}");

    assert!(!root.path("drop/Good.zip").exists());
    assert!(!root.path("drop/Bad.zip").exists());
    assert_eq!(
        std::fs::read(root.path("drop/accepted/Good.zip")).unwrap(),
        b"an older file that must survive"
    );
    let moved = std::fs::read(root.path("drop/accepted/Good (2).zip")).expect("moved beside");
    assert_eq!(moved, built("Good", "1.0.0.0").bytes());
    assert!(root.path("drop/rejected/Bad.zip").is_file());
    let bad = root
        .reports()
        .into_iter()
        .find(|(name, _)| name.starts_with("Bad.zip"))
        .expect("report for the rejected zip")
        .1;
    assert_eq!(verdict(&bad), "fail");
    assert_eq!(bad["packages"][0]["findings"][0]["rule"], "package-format");

    // Moved packages are not read again from their new folders.
    let (_, log) = root.once();
    assert!(log.contains("0 evaluated, 0 already seen"), "{log}");
}

#[test]
fn sigterm_during_a_burst_loses_nothing() {
    let root = Root::new("", WATCH_DROP, None);
    let daemon = root.start();
    let count = 100;
    for index in 0..count {
        built(&format!("Burst{index:02}"), "1.0.0.0")
            .write(&root.path("drop"), &format!("Burst{index:02}.zip"));
    }
    daemon.wait_for(30, || !root.reports().is_empty());
    let exit = daemon.stop();
    assert!(exit.success(), "SIGTERM must exit 0, got {exit:?}");
    let before = root.reports().len();
    assert!(
        before < count,
        "the burst should still have been running at SIGTERM"
    );
    assert_eq!(
        root.rows("processed") as usize,
        before,
        "every record has its report"
    );

    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    let reports = root.reports();
    assert_eq!(reports.len(), count, "{log}");
    assert_eq!(root.rows("processed") as usize, count);
    assert_eq!(
        root.rows("releases") as usize,
        count,
        "each package recorded once"
    );
    assert!(
        log.contains(&format!("{} evaluated", count - before)),
        "{log}"
    );
}

const MARKER_POLICY: &str = r#"//! id = "marker"
//! severity = "warning"
//! title = "Marks every package"
//! description = "Test policy."
//! hint = "None needed."
fn check(pkg, context) {
    [finding("marker-seen", "seen by the reloaded policy")]
}
"#;

#[test]
fn hot_reload_swaps_valid_policies_and_keeps_the_old_on_errors() {
    let address = free_address();
    let root = Root::new(
        "",
        &format!("[policies]\ndir = \"policies.local\"\n{WATCH_DROP}"),
        Some(address),
    );
    std::fs::create_dir_all(root.path("policies.local")).unwrap();
    let daemon = root.start();
    let reload_count = || {
        http_get(address, "/status")
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
    };
    daemon.wait_for(20, || reload_count().is_some());

    built("First", "1.0.0.0").write(&root.path("drop"), "First.zip");
    daemon.wait_for(20, || root.report_for("First").is_some());
    assert!(!codes(&root.report_for("First").unwrap()).contains(&"marker-seen".to_owned()));

    // A valid new policy is picked up from the file change.
    std::fs::write(root.path("policies.local/marker.rhai"), MARKER_POLICY).unwrap();
    daemon.wait_for(20, || {
        reload_count().is_some_and(|s| {
            s["policies"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("marker"))
        })
    });
    built("Second", "1.0.0.0").write(&root.path("drop"), "Second.zip");
    daemon.wait_for(20, || root.report_for("Second").is_some());
    assert!(codes(&root.report_for("Second").unwrap()).contains(&"marker-seen".to_owned()));

    // A broken policy: the reload fails, the error names the file, the old rules stay.
    std::fs::write(root.path("policies.local/broken.rhai"), "//! id = \"broken\"\n//! severity = \"error\"\n//! title = \"x\"\n//! description = \"x\"\n//! hint = \"x\"\nfn check(pkg, context) { let = ; }\n").unwrap();
    daemon.wait_for(20, || {
        reload_count().is_some_and(|s| s["last_reload"]["success"] == false)
    });
    let status = reload_count().unwrap();
    let errors = status["last_reload"]["errors"].to_string();
    assert!(errors.contains("broken.rhai:6"), "{errors}");
    let (_, metrics) = http_get(address, "/metrics").unwrap();
    assert!(
        metrics.contains("solguard_last_reload_success 0"),
        "{metrics}"
    );
    built("Third", "1.0.0.0").write(&root.path("drop"), "Third.zip");
    daemon.wait_for(20, || root.report_for("Third").is_some());
    let third = codes(&root.report_for("Third").unwrap());
    assert!(
        third.contains(&"marker-seen".to_owned()),
        "old rules still apply: {third:?}"
    );
    assert!(!third.contains(&"policy-error".to_owned()));

    // Fixed, then reloaded on SIGHUP.
    std::fs::remove_file(root.path("policies.local/broken.rhai")).unwrap();
    std::fs::remove_file(root.path("policies.local/marker.rhai")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for(20, || {
        reload_count().is_some_and(|s| {
            s["last_reload"]["success"] == true
                && !s["policies"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("marker"))
        })
    });
    assert!(daemon.log().contains("SIGHUP"));
    assert!(daemon.stop().success());
}

#[test]
fn a_corrupt_package_is_reported_and_the_daemon_goes_on() {
    let root = Root::new("incomplete_timeout_s = 1", WATCH_DROP, None);
    let mut daemon = root.start();
    let bytes = std::fs::read(admin_zip()).unwrap();
    std::fs::write(root.path("drop/Truncated.zip"), &bytes[..bytes.len() / 2]).unwrap();
    daemon.wait_for(30, || root.reports().len() == 1);
    let (name, report) = root.reports().remove(0);
    assert!(name.starts_with("Truncated.zip_"), "{name}");
    assert_eq!(verdict(&report), "fail");
    assert_eq!(
        report["packages"][0]["findings"][0]["rule"],
        "package-format"
    );
    assert!(daemon.running());

    built("AfterCorrupt", "1.0.0.0").write(&root.path("drop"), "After.zip");
    daemon.wait_for(20, || root.report_for("AfterCorrupt").is_some());
    assert!(daemon.stop().success());
}

#[test]
fn temporary_names_wait_until_renamed() {
    let root = Root::new("", WATCH_DROP, None);
    let daemon = root.start();
    for name in [
        "Pkg.zip.part",
        "Pkg.zip.tmp",
        "~$Pkg.zip",
        ".Pkg.zip",
        "Pkg.zip.crdownload",
    ] {
        built("Temporary", "1.0.0.0").write(&root.path("drop"), name);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(root.reports().is_empty(), "{}", daemon.log());
    std::fs::rename(root.path("drop/Pkg.zip.part"), root.path("drop/Pkg.zip")).unwrap();
    daemon.wait_for(20, || root.reports().len() == 1);
    assert!(daemon.stop().success());
}

#[test]
fn a_folder_that_disappears_and_comes_back_is_watched_again() {
    let root = Root::new("", WATCH_DROP, None);
    let daemon = root.start();
    assert!(wait_until(20, || daemon
        .log()
        .contains("solguard watch started")));
    std::fs::rename(root.path("drop"), root.path("drop.away")).unwrap();
    daemon.wait_for(20, || daemon.log().contains("Watch folder disappeared"));
    std::fs::create_dir(root.path("drop")).unwrap();
    daemon.wait_for(20, || daemon.log().contains("Watch folder is back"));
    copy_in(&admin_zip(), &root.path("drop/Admin.zip"));
    daemon.wait_for(20, || root.reports().len() == 1);
    assert!(daemon.stop().success());
}

#[test]
fn polling_folders_are_scanned_without_events() {
    let address = free_address();
    let root = Root::new(
        "",
        "[[watch]]\npath = \"share\"\nname = \"share\"\npoll = true\n",
        Some(address),
    );
    let daemon = root.start();
    daemon.wait_for(20, || http_get(address, "/status").is_some());
    let (_, status) = http_get(address, "/status").unwrap();
    assert!(status.contains("\"mode\":\"polling\""), "{status}");
    copy_in(&admin_zip(), &root.path("share/Admin.zip"));
    daemon.wait_for(20, || root.reports().len() == 1);
    assert!(daemon.stop().success());
}

#[test]
fn per_folder_targets_apply_to_their_folder_only() {
    let folders = r#"
[[watch]]
path = "test"
[[watch]]
path = "prod"
[watch.targets.prod]
version = "9.0.0.0"
"#;
    let root = Root::new("", folders, None);
    std::fs::create_dir_all(root.path("test")).unwrap();
    // Exported from 9.2: importable where no target is set, too new for a 9.0 environment.
    built("Scoped", "1.0.0.0").write(&root.path("test"), "Scoped.zip");
    std::fs::create_dir_all(root.path("prod")).unwrap();
    built("ScopedProd", "1.0.0.0").write(&root.path("prod"), "ScopedProd.zip");
    let (status, log) = root.once();
    assert!(status.success(), "{log}");
    let test = root.report_for("Scoped").expect("test report");
    let prod = root.report_for("ScopedProd").expect("prod report");
    assert_eq!(verdict(&test), "pass", "{test:#}");
    assert_eq!(verdict(&prod), "fail", "{prod:#}");
    assert!(
        codes(&prod)
            .iter()
            .any(|c| c.contains("newer") || c.contains("target")),
        "{:?}",
        codes(&prod)
    );
}

#[test]
fn a_broken_config_stops_the_start_with_every_problem() {
    let root = Root::new(
        "rescan_s = 0",
        "[[watch]]\npath = \"drop\"\nrecursve = true\n",
        None,
    );
    let (status, log) = root.once();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("`daemon.rescan_s`: must be at least 1"),
        "{log}"
    );
    assert!(log.contains("watch[0].recursve"), "{log}");
}

const ENDLESS_POLICY: &str = r#"//! id = "endless"
//! severity = "error"
//! title = "Never finishes"
//! description = "Test policy."
//! hint = "None."
fn check(pkg, context) {
    let n = 0;
    loop { n += 1; }
}
"#;

#[test]
fn a_policy_that_never_ends_is_stopped_and_the_daemon_goes_on() {
    let root = Root::new(
        "",
        &format!("[policies]\ndir = \"policies.local\"\ntime_budget_ms = 300\n{WATCH_DROP}"),
        None,
    );
    std::fs::create_dir_all(root.path("policies.local")).unwrap();
    std::fs::write(root.path("policies.local/endless.rhai"), ENDLESS_POLICY).unwrap();
    let mut daemon = root.start();
    built("Looped", "1.0.0.0").write(&root.path("drop"), "Looped.zip");
    built("LoopedToo", "1.0.0.0").write(&root.path("drop"), "LoopedToo.zip");
    daemon.wait_for(30, || root.reports().len() == 2);
    for name in ["Looped", "LoopedToo"] {
        let report = root.report_for(name).unwrap();
        assert!(
            codes(&report).contains(&"policy-error".to_owned()),
            "{report:#}"
        );
        assert_eq!(verdict(&report), "fail");
    }
    assert!(daemon.running());
    assert!(daemon.stop().success());
}

#[test]
fn changed_rules_recheck_seen_packages_only_when_configured() {
    let rules = format!("{WATCH_DROP}\n[rules.publisher-consistency]\nseverity = \"warning\"\n");
    let root = Root::new("recheck_on_policy_change = true", &rules, None);
    copy_in(&admin_zip(), &root.path("drop/Admin.zip"));
    let (_, log) = root.once();
    assert!(log.contains("1 evaluated"), "{log}");
    assert_eq!(
        verdict(&root.report_for("PowerPlatformAdmin").unwrap()),
        "warn"
    );

    // The same rules: seen. Stricter rules: evaluated again, and the report says so.
    let (_, log) = root.once();
    assert!(log.contains("0 evaluated, 1 already seen"), "{log}");
    let edit = |from: &str, to: &str| {
        let text = std::fs::read_to_string(root.config()).unwrap();
        assert!(text.contains(from));
        std::fs::write(root.config(), text.replace(from, to)).unwrap();
    };
    edit("severity = \"warning\"", "severity = \"error\"");
    let (_, log) = root.once();
    assert!(log.contains("1 evaluated"), "{log}");
    assert_eq!(
        verdict(&root.report_for("PowerPlatformAdmin").unwrap()),
        "fail"
    );
    assert_eq!(root.rows("releases"), 2);

    // Without the option, a rule change does not re-evaluate.
    edit(
        "recheck_on_policy_change = true",
        "recheck_on_policy_change = false",
    );
    edit("severity = \"error\"", "severity = \"info\"");
    let (_, log) = root.once();
    assert!(log.contains("0 evaluated, 1 already seen"), "{log}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let root = Root::new("", WATCH_DROP, None);
    copy_in(&admin_zip(), &root.path("drop/Admin.zip"));
    let (status, log) = root.once_with(&["--log-format", "json"]);
    assert!(status.success(), "{log}");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(events
        .iter()
        .any(|e| e["fields"]["message"] == "Package evaluated"
            && e["fields"]["verdict"] == "warn"
            && e["level"] == "INFO"));
    assert!(events.iter().any(
        |e| e["fields"]["message"] == "solguard watch stopped" && e["fields"]["evaluated"] == 1
    ));
}

#[test]
fn a_config_edit_reloads_and_a_broken_edit_is_refused() {
    let address = free_address();
    let root = Root::new("", WATCH_DROP, Some(address));
    let daemon = root.start();
    let status = || {
        http_get(address, "/status")
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
    };
    let folders = |s: &serde_json::Value| s["folders"].as_array().map_or(0, Vec::len);
    assert!(wait_until(20, || status().is_some()));
    let text = std::fs::read_to_string(root.config()).unwrap();

    // A valid edit adds a folder, watched at once.
    std::fs::create_dir_all(root.path("second")).unwrap();
    let second = format!("{text}\n[[watch]]\npath = \"second\"\n");
    std::fs::write(root.config(), &second).unwrap();
    daemon.wait_for(20, || status().is_some_and(|s| folders(&s) == 2));
    built("InSecond", "1.0.0.0").write(&root.path("second"), "InSecond.zip");
    daemon.wait_for(20, || root.report_for("InSecond").is_some());

    // A broken edit is refused with its line; the folders stay.
    std::fs::write(root.config(), format!("{second}recursive = \"yes\"\n")).unwrap();
    daemon.wait_for(20, || {
        status().is_some_and(|s| s["last_reload"]["success"] == false)
    });
    let errors = status().unwrap()["last_reload"]["errors"].to_string();
    assert!(
        errors.contains("config.toml:") && errors.contains("watch[1].recursive"),
        "{errors}"
    );
    assert_eq!(folders(&status().unwrap()), 2);
    assert!(daemon.stop().success());
}

/// The `Content-Type` header of a response head.
fn content_type(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn metrics_are_served_in_the_format_their_content_type_names_and_reload_is_an_endpoint() {
    use support::daemon::http_exchange;
    let address = free_address();
    let root = Root::new("", WATCH_DROP, Some(address));
    let daemon = root.start();
    copy_in(&admin_zip(), &root.path("drop/Admin.zip"));
    // The counter moves once the package's record is written, just after its report.
    daemon.wait_for(30, || {
        http_get(address, "/metrics")
            .is_some_and(|(_, body)| body.contains("solguard_packages_processed_total{"))
    });

    // The classic text format, as a plain scraper gets it: every counter's samples are typed.
    let (status, head, body) = http_exchange(address, "GET", "/metrics", "").expect("metrics");
    assert_eq!(status, 200);
    assert_eq!(
        content_type(&head),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let scrape =
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    let processed: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "solguard_packages_processed_total")
        .collect();
    assert!(!processed.is_empty(), "{body}");
    assert!(
        processed
            .iter()
            .all(|s| matches!(s.value, prometheus_parse::Value::Counter(_))),
        "a counter, not an untyped series: {body}"
    );
    assert!(
        scrape.samples.iter().all(|s| !s.metric.ends_with("_total")
            || matches!(s.value, prometheus_parse::Value::Counter(_))),
        "{body}"
    );

    // OpenMetrics, to a scraper that asks for it.
    let (_, head, body) = http_exchange(
        address,
        "GET",
        "/metrics",
        "Accept: application/openmetrics-text; version=1.0.0\r\n",
    )
    .expect("metrics");
    assert_eq!(
        content_type(&head),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&body).expect("parses");
    let family = exposition
        .families
        .get("solguard_packages_processed")
        .expect("the counter family");
    assert_eq!(
        family.family_type,
        openmetrics_parser::OpenMetricsType::Counter
    );
    assert!(family.iter_samples().count() >= 1);

    // POST /reload reloads as SIGHUP does (Windows has no SIGHUP).
    let (status, _, _) = http_exchange(address, "POST", "/reload", "").expect("reload");
    assert_eq!(status, 202);
    daemon.wait_for(20, || daemon.log().contains("POST /reload"));
    assert!(daemon.stop().success());
}
