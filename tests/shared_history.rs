//! Several `solguard watch` daemons on one drop folder and one PostgreSQL history (a real
//! server the test starts on 127.0.0.1): every package is evaluated exactly once, by whichever
//! daemon claims it first, even when one daemon is SIGKILLed mid-burst or the database goes
//! away for 20 seconds; every alert is delivered, under one idempotency key.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use support::daemon::{free_address, http_get, wait_until, Daemon, Root};
use support::pg::Postgres;
use support::receivers::HttpReceiver;
use support::{Manifest, ZipBuilder};

/// A root whose drop folder, reports folder and PostgreSQL history `url` are shared by
/// `daemons` configs (`daemon-N.toml`, each with its own name and status port), alerts to a
/// webhook `hook`.
fn fleet(url: &str, hook: &str, daemons: usize) -> (Root, Vec<(PathBuf, SocketAddr)>) {
    let rest = format!(
        "[[watch]]\npath = \"drop\"\n\n[[alerts]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{hook}\"\nretry_initial_ms = 100\n"
    );
    let root = Root::new("", &rest, None);
    let base = std::fs::read_to_string(root.config()).expect("config");
    let configs = (1..=daemons)
        .map(|n| {
            let status = free_address();
            let config = base.replace(
                "[daemon]\nstatus = \"off\"\n",
                &format!(
                    "[daemon]\nstatus = \"{status}\"\nname = \"daemon-{n}\"\nhistory = \"{url}\"\nlease_s = 5\n"
                ),
            );
            let path = root.path(&format!("daemon-{n}.toml"));
            std::fs::write(&path, config).expect("write config");
            (path, status)
        })
        .collect();
    (root, configs)
}

/// Writes `count` packages into the drop folder; every third fails (its `[Content_Types].xml`
/// is missing), so it raises an alert.
fn drop_burst(root: &Root, prefix: &str, count: usize) {
    for index in 0..count {
        let zip = ZipBuilder::with_manifest(&Manifest {
            unique_name: Some(format!("{prefix}{index:03}")),
            ..Manifest::default()
        });
        let zip = if index % 3 == 0 {
            zip.without("[Content_Types].xml")
        } else {
            zip
        };
        zip.write(&root.path("drop"), &format!("{prefix}{index:03}.zip"));
    }
}

/// `SELECT COUNT(*)`-like single number from the history.
fn number(url: &str, sql: &str) -> i64 {
    Postgres::client_of(url)
        .query_one(sql, &[])
        .expect("query")
        .get(0)
}

/// The sum of `solguard_packages_processed_total` over its labels on a daemon's `/metrics`.
fn processed_metric(status: SocketAddr) -> Option<f64> {
    let (code, body) = http_get(status, "/metrics")?;
    assert_eq!(code, 200);
    Some(
        body.lines()
            .filter(|l| l.starts_with("solguard_packages_processed_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

/// Requests per idempotency key the webhook received.
fn deliveries(receiver: &HttpReceiver) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut keys: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for request in receiver.requests() {
        if let Some(key) = request.header("idempotency-key") {
            keys.entry(key.to_owned())
                .or_default()
                .push(request.body.clone());
        }
    }
    keys
}

/// Waits until every alert queued is delivered; returns the deliveries.
fn all_delivered(
    url: &str,
    receiver: &HttpReceiver,
    daemon: &Daemon,
) -> BTreeMap<String, Vec<Vec<u8>>> {
    daemon.wait_for(60, || {
        number(
            url,
            "SELECT COUNT(*) FROM outbox WHERE sink = 'hook' AND delivered_at IS NULL",
        ) == 0
            && deliveries(receiver).len() as i64
                == number(url, "SELECT COUNT(*) FROM outbox WHERE sink = 'hook'")
    });
    deliveries(receiver)
}

/// What every test checks at the end: each package once in `processed` and in `releases`, one report per package in the shared folder, every non-passing package
/// one alert, and `history` listing each solution once.
fn each_once(root: &Root, url: &str, count: usize) {
    assert_eq!(number(url, "SELECT COUNT(*) FROM processed"), count as i64);
    let readable = count as i64;
    assert_eq!(
        number(url, "SELECT COUNT(*) FROM releases"),
        readable,
        "each release once"
    );
    assert_eq!(
        number(
            url,
            "SELECT COUNT(DISTINCT lower(unique_name)) FROM releases"
        ),
        readable
    );
    assert_eq!(root.reports().len(), count, "one report per package");
    assert_eq!(
        number(url, "SELECT COUNT(*) FROM outbox WHERE sink = 'hook'"),
        number(
            url,
            "SELECT COUNT(*) FROM processed WHERE verdict <> 'pass'"
        ),
        "one alert per package that did not pass"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(["history", "--history", url, "--format", "json"])
        .output()
        .expect("solguard history");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let listed = listed.as_array().expect("solutions");
    assert_eq!(listed.len() as i64, readable);
    assert!(listed
        .iter()
        .all(|s| s["releases"].as_array().map(Vec::len) == Some(1)));
}

fn stops_cleanly(daemon: Daemon) {
    let log = daemon.log.clone();
    let status = daemon.stop();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[test]
fn three_daemons_share_a_burst_and_survive_one_killed() {
    let postgres = Postgres::start();
    let url = postgres.create_database();
    let receiver = HttpReceiver::start(&[]);
    let (root, configs) = fleet(&url, &receiver.url("/hook"), 3);
    let mut daemons: Vec<Daemon> = configs.iter().map(|(c, _)| root.start_with(c)).collect();
    let count = 300;
    drop_burst(&root, "Fleet", count);
    // The same bytes under a second name: evaluated once, whichever daemon sees which name.
    for index in (0..count).step_by(30) {
        std::fs::copy(
            root.path(&format!("drop/Fleet{index:03}.zip")),
            root.path(&format!("drop/Copy of Fleet{index:03}.zip")),
        )
        .expect("copy");
    }

    // Kill daemon 2 once the burst is under way, while it holds claims.
    assert!(
        wait_until(120, || number(
            &url,
            "SELECT COUNT(*) FROM processed WHERE daemon = 'daemon-2'"
        ) >= 20),
        "daemon 2 never got work:\n{}",
        daemons[1].log()
    );
    daemons[1].child.kill().expect("SIGKILL");
    daemons[1].child.wait().expect("reap");
    let killed_done = number(
        &url,
        "SELECT COUNT(*) FROM processed WHERE daemon = 'daemon-2'",
    );
    assert!(
        (killed_done as usize) < count,
        "the kill must land mid-burst"
    );

    daemons[0].wait_for(120, || {
        number(&url, "SELECT COUNT(*) FROM processed") == count as i64
    });
    let delivered = all_delivered(&url, &receiver, &daemons[0]);
    each_once(&root, &url, count);

    // Every package counted once across the fleet: the survivors' metrics, plus what the
    // killed daemon committed before it died (its metrics died with it).
    let survivors: f64 = [0, 2]
        .iter()
        .map(|&i| processed_metric(configs[i].1).expect("metrics"))
        .sum();
    let by_survivors = number(
        &url,
        "SELECT COUNT(*) FROM processed WHERE daemon <> 'daemon-2'",
    );
    assert_eq!(
        survivors as i64, by_survivors,
        "metrics count what each daemon committed"
    );
    assert_eq!(by_survivors + killed_done, count as i64);
    for (name, share) in [("daemon-1", 0), ("daemon-3", 2)] {
        assert!(
            number(
                &url,
                &format!("SELECT COUNT(*) FROM processed WHERE daemon = '{name}'")
            ) > 0,
            "{name} took part:\n{}",
            daemons[share].log()
        );
    }

    // One alert per key; a delivery the killed daemon made but could not mark is repeated by
    // another daemon under the same key and body (what a receiver deduplicates on).
    let repeated: Vec<_> = delivered
        .iter()
        .filter(|(_, bodies)| bodies.len() > 1)
        .collect();
    assert!(
        repeated.len() <= 1,
        "at most the killed daemon's one in-flight delivery repeats: {repeated:?}"
    );
    for (_, bodies) in &repeated {
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "a repeat is the same alert"
        );
    }

    // Each survivor's /status names the daemons alive and the fleet's packages.
    daemons[0].wait_for(30, || {
        let Some((200, body)) = http_get(configs[0].1, "/status") else {
            return false;
        };
        let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let alive: BTreeSet<&str> = status["daemons"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["name"].as_str()).collect())
            .unwrap_or_default();
        let by: BTreeSet<&str> = status["recent"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["daemon"].as_str()).collect())
            .unwrap_or_default();
        alive == BTreeSet::from(["daemon-1", "daemon-3"])
            && status["name"] == "daemon-1"
            && by.len() >= 2
    });
    // So does its dashboard: the daemons, and which one evaluated each recent package.
    let (code, page) = http_get(configs[2].1, "/").expect("dashboard");
    assert_eq!(code, 200);
    let page = scraper::Html::parse_document(&page);
    let cells = |selector: &str| -> Vec<String> {
        let selector = scraper::Selector::parse(selector).expect("selector");
        page.select(&selector)
            .map(|c| c.text().collect::<String>())
            .collect()
    };
    let headings = cells("h2");
    assert!(headings.iter().any(|h| h == "Daemons"), "{headings:?}");
    let names = cells("td");
    assert!(
        names.iter().any(|c| c == "daemon-3 (this page)"),
        "{names:?}"
    );
    assert!(names.iter().any(|c| c == "daemon-1"));
    assert!(cells("table.recent th").iter().any(|h| h == "Daemon"));
    for daemon in [daemons.remove(2), daemons.remove(0)] {
        stops_cleanly(daemon);
    }
    assert_eq!(
        number(&url, "SELECT COUNT(*) FROM daemons"),
        1,
        "stopped daemons leave; the killed one's row stays, silent"
    );
}

#[test]
fn postgres_down_for_20_s_pauses_and_loses_or_doubles_nothing() {
    let postgres = Postgres::start();
    let url = postgres.create_database();
    let receiver = HttpReceiver::start(&[]);
    let (root, configs) = fleet(&url, &receiver.url("/hook"), 2);
    let daemons: Vec<Daemon> = configs.iter().map(|(c, _)| root.start_with(c)).collect();
    let count = 150;
    drop_burst(&root, "Outage", count);
    assert!(wait_until(120, || number(
        &url,
        "SELECT COUNT(*) FROM processed"
    ) >= 20));
    postgres.stop();
    let down = std::time::Instant::now();

    // Both daemons pause and say why on /healthz.
    for (index, (_, status)) in configs.iter().enumerate() {
        daemons[index].wait_for(15, || {
            matches!(http_get(*status, "/healthz"), Some((503, body)) if body.contains("history database"))
        });
    }
    let reports_while_down = root.reports().len();
    std::thread::sleep(Duration::from_secs(20).saturating_sub(down.elapsed()));
    assert!(
        root.reports().len() <= reports_while_down + 4,
        "nothing is published while the database is down (at most the packages in flight)"
    );
    postgres.start_again();

    daemons[0].wait_for(120, || {
        number(&url, "SELECT COUNT(*) FROM processed") == count as i64
    });
    let delivered = all_delivered(&url, &receiver, &daemons[0]);
    assert!(
        delivered.values().all(|bodies| bodies.len() == 1),
        "each alert once"
    );
    each_once(&root, &url, count);
    let metrics: f64 = configs
        .iter()
        .map(|(_, status)| processed_metric(*status).expect("metrics"))
        .sum();
    assert_eq!(
        metrics as usize, count,
        "every package counted once across the daemons"
    );
    for (index, (_, status)) in configs.iter().enumerate() {
        daemons[index].wait_for(15, || {
            matches!(http_get(*status, "/healthz"), Some((200, _)))
        });
        assert!(
            daemons[index]
                .log()
                .contains("The history database answers again; resuming"),
            "{}",
            daemons[index].log()
        );
    }
    for daemon in daemons {
        stops_cleanly(daemon);
    }
}

#[test]
fn a_scheduled_audit_runs_once_per_tick_across_daemons() {
    let postgres = support::pg::shared_server();
    let url = postgres.create_database();
    let receiver = HttpReceiver::start(&[]);
    let (root, configs) = fleet(&url, &receiver.url("/hook"), 2);
    for (config, _) in &configs {
        let mut text = std::fs::read_to_string(config).expect("config");
        text.push_str(
            "\n[[audit]]\nname = \"releases\"\nfolders = [\"releases\"]\nschedule = \"*/2 * * * * *\"\n",
        );
        std::fs::write(config, text).expect("config");
    }
    std::fs::create_dir_all(root.path("releases")).expect("releases/");
    ZipBuilder::with_manifest(&Manifest {
        unique_name: Some("Audited".into()),
        ..Manifest::default()
    })
    .without("[Content_Types].xml")
    .write(&root.path("releases"), "Audited_1_0_0_0.zip");
    let daemons: Vec<Daemon> = configs.iter().map(|(c, _)| root.start_with(c)).collect();
    let ticks = || {
        number(
            &url,
            "SELECT COUNT(*) FROM leases WHERE key = 'audit:releases' AND done",
        )
    };
    daemons[0].wait_for(30, || ticks() >= 4);
    for daemon in daemons {
        stops_cleanly(daemon);
    }
    let logs: String = std::fs::read_dir(root.path(""))
        .expect("root")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("daemon-"))
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let runs = logs.matches("Scheduled audit done").count() as i64;
    let started = number(
        &url,
        "SELECT COUNT(*) FROM leases WHERE key = 'audit:releases'",
    );
    assert_eq!(runs, ticks(), "each tick run once, by one daemon:\n{logs}");
    assert!(
        started - ticks() <= 2,
        "at most the ticks in progress at the stop are not done"
    );
    assert!(
        logs.contains("Scheduled audit run by daemon")
            || logs.contains("already run by another daemon"),
        "the other daemon saw the tick taken:\n{logs}"
    );
    // One alert for the audit's finding, not one per daemon or per tick.
    let audit_alerts = number(
        &url,
        "SELECT COUNT(*) FROM outbox WHERE sink = 'hook' AND payload LIKE '%audit:releases%'",
    );
    assert_eq!(audit_alerts, 1);
}
