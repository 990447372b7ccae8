//! The pages in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs) renders the check report, the daemon's live dashboard and its static snapshot,
//! and the tests assert on the DOM a person sees: charts with their text alternatives,
//! solution names and verdicts, links that resolve, a hostile solution name shown as text,
//! no script error and no request beyond 127.0.0.1. The report routes refuse every path
//! that leads out of the reports folder.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::daemon::{copy_in, free_address, http_get, Root};
use support::{corpus, Manifest, ZipBuilder};

const HOSTILE: &str = "<script>alert(1)</script>";

/// What Chromium made of `url`: the serialized DOM after scripts ran, and its log.
fn render(url: &str) -> (String, String) {
    let profile = tempfile::tempdir().expect("profile");
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            // Any host but 127.0.0.1 fails to resolve: nothing can leave this machine.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(output.status.success(), "chromium failed on {url}");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Debian's Chromium; a missing browser fails the test (CI installs it), never skips it.
fn chromium() -> PathBuf {
    let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    path.expect("chromium is not installed (apt-get install chromium; .ci/run does it)")
}

/// No console message at all (the pages log nothing: an error, a blocked resource or a load
/// from a host other than 127.0.0.1, which cannot resolve here, would each log one), and no
/// resource from elsewhere in the DOM.
fn assert_clean(dom: &str, log: &str) {
    for bad in [
        ":CONSOLE",
        "Uncaught",
        "Refused to",
        "net::ERR_NAME_NOT_RESOLVED",
    ] {
        assert!(!log.contains(bad), "{bad} in the browser log:\n{log}");
    }
    for source in dom.split(" src=\"").skip(1) {
        assert!(
            source.starts_with("data:") || source.starts_with("http://127.0.0.1"),
            "a resource from elsewhere: {source:.80}"
        );
    }
}

fn hostile_package(dir: &Path) -> PathBuf {
    let manifest = Manifest {
        unique_name: Some(HOSTILE.replace('<', "&lt;").replace('>', "&gt;")),
        managed: Some("1".into()),
        publisher: "DefaultPublisherorg1".into(),
        ..Manifest::default()
    };
    ZipBuilder::with_manifest(&manifest).write(dir, "Hostile.zip")
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn the_check_report_shows_its_charts_and_a_hostile_name_as_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let tools = corpus().join("powerapps-tools");
    let hostile = hostile_package(dir.path());
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let history = dir.path().join("history.db");
    let run = |paths: &[&Path]| {
        let mut args = vec![
            "check".to_owned(),
            "--fail-on".into(),
            "never".into(),
            "--format".into(),
            "html".into(),
            "--history".into(),
            history.display().to_string(),
            "--report-dir".into(),
            reports.display().to_string(),
        ];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
            .args(&args)
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[&tools.join("CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip")]);
    run(&[
        &tools.join("CenterofExcellenceAuditComponents_1_21_managed.zip"),
        &hostile,
    ]);
    let (dom, log) = render(&file_url(&reports.join("solguard-report.html")));
    assert_clean(&dom, &log);
    assert!(dom.contains("Findings at a glance"), "{dom:.500}");
    assert!(
        dom.contains("aria-label=\"Findings by severity: errors"),
        "the bar chart and its text alternative"
    );
    assert!(
        dom.contains("<title>Release timeline of CenterofExcellenceAuditComponents: 1.18 warned, 1.21 rejected (data loss)</title>"),
        "the timeline marks the data-loss release"
    );
    assert!(dom.contains("would delete: 1 table"), "counts per kind");
    // The hostile name is text everywhere, in HTML and in SVG: never an element.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!dom.contains(HOSTILE), "a script element was injected");
}

fn hostile_drop(root: &Root) {
    let drop = root.path("drop");
    hostile_package(&drop);
    copy_in(
        &corpus()
            .join("powerapps-tools/CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip"),
        &root.path("drop/Audit_1_18.zip"),
    );
}

fn status_url(address: SocketAddr, path: &str) -> String {
    format!("http://{address}{path}")
}

#[test]
fn the_dashboard_lists_packages_links_their_reports_and_survives_a_restart() {
    let address = free_address();
    let root = Root::new("", "[[watch]]\npath = \"drop\"\n", Some(address));
    let daemon = root.start();
    hostile_drop(&root);
    daemon.wait_for(30, || root.reports().len() >= 2);
    copy_in(
        &corpus().join("powerapps-tools/CenterofExcellenceAuditComponents_1_21_managed.zip"),
        &root.path("drop/Audit_1_21.zip"),
    );
    daemon.wait_for(30, || root.reports().len() >= 3);
    daemon.wait_for(10, || {
        http_get(address, "/").is_some_and(|(_, body)| body.contains("1.21"))
    });

    let (dom, log) = render(&status_url(address, "/"));
    assert_clean(&dom, &log);
    for text in [
        "Recent packages",
        "CenterofExcellenceAuditComponents",
        "Packages in the last 24 hours",
        "Packages in the last 30 days",
        ">fail<",
        ">warn<",
        "data loss",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ] {
        assert!(dom.contains(text), "{text} on the dashboard");
    }
    assert!(!dom.contains(HOSTILE), "a script element was injected");
    assert!(
        dom.contains("min ago") || dom.contains("just now"),
        "times in words"
    );
    // Every report link resolves, with the right Content-Type.
    let links: Vec<&str> = dom
        .split("href=\"/reports/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(links.len() >= 6, "{links:?}");
    for link in &links {
        let (status, _) = http_get(address, &format!("/reports/{link}")).expect("report");
        assert_eq!(status, 200, "{link}");
    }

    // Nothing outside the reports folder, however the path is spelled.
    std::os::unix::fs::symlink("/etc/hostname", root.path("reports/outside.json"))
        .expect("symlink");
    std::fs::write(root.path("state/secret.json"), "{}").expect("write");
    for path in [
        "/reports/..%2fstate%2fsecret.json",
        "/reports/%2e%2e%2fstate%2fsecret.json",
        "/reports/..%5cstate%5csecret.json",
        "/reports/outside.json",
        "/reports/.hidden.json",
        "/reports/history.db",
        "/reports/../state/secret.json",
    ] {
        let (status, _) = http_get(address, path).expect("answer");
        assert_eq!(status, 404, "{path}");
    }
    assert!(daemon.stop().success());

    // After a restart the packages are read back from the history database.
    let address_again = free_address();
    let config = std::fs::read_to_string(root.config()).expect("config");
    std::fs::write(
        root.config(),
        config.replace(&address.to_string(), &address_again.to_string()),
    )
    .expect("rewrite");
    let daemon = root.start();
    daemon.wait_for(20, || http_get(address_again, "/").is_some());
    let (dom, _) = render(&status_url(address_again, "/"));
    assert!(dom.contains("CenterofExcellenceAuditComponents") && dom.contains("1.21"));
    assert!(
        dom.contains("<td class=\"wide\">drop</td>"),
        "the watch folder's name"
    );
    let (_, status) = http_get(address_again, "/status").expect("status");
    let status: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    assert_eq!(
        status["recent"].as_array().map(Vec::len),
        Some(3),
        "/status reads the recent packages back too"
    );
    assert_eq!(status["recent"][0]["watch"], "drop", "with their folder");
    assert!(daemon.stop().success());

    // The static snapshot in the reports folder reads the same, its links relative.
    let index = root.path("reports/index.html");
    let (dom, log) = render(&file_url(&index));
    assert_clean(&dom, &log);
    assert!(dom.contains("Recent packages") && dom.contains("1.21"));
    let relative: Vec<&str> = dom
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| !href.starts_with("http"))
        .collect();
    assert!(!relative.is_empty());
    for href in relative {
        assert!(
            root.path("reports").join(href).is_file(),
            "{href} is a file beside index.html"
        );
    }
}

#[test]
fn the_audit_report_opens_with_its_summary_and_worst_problems() {
    let dir = tempfile::tempdir().expect("tmp");
    let reports = dir.path().join("reports");
    std::fs::create_dir_all(&reports).expect("mkdir");
    let repository = dir.path().join("repo");
    std::fs::create_dir_all(&repository).expect("mkdir");
    for file in [
        "CenterofExcellenceAuditComponents_1_18_managed__079ee76.zip",
        "CenterofExcellenceAuditComponents_1_21_managed.zip",
    ] {
        std::fs::copy(
            corpus().join("powerapps-tools").join(file),
            repository.join(file),
        )
        .expect("copy");
    }
    hostile_package(&repository);
    let output = Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args([
            "audit",
            "--fail-on",
            "never",
            "--format",
            "html",
            "--report-dir",
        ])
        .arg(&reports)
        .arg(&repository)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (dom, log) = render(&file_url(&reports.join("solguard-audit.html")));
    assert_clean(&dom, &log);
    let at = |text: &str| {
        dom.find(text)
            .unwrap_or_else(|| panic!("{text} on the page"))
    };
    // The summary and the worst problems come before the packages and the streams.
    assert!(at("Worst problems") < at(">Packages<"));
    assert!(at("Findings at a glance") < at(">Packages<"));
    assert!(at(">Packages<") < at("<h2>Release streams</h2>"));
    assert!(dom.contains("aria-label=\"Release streams with the most problems: "));
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !dom.contains(HOSTILE));
}
