//! Crash safety: the daemon killed with SIGKILL at pseudo-random points during a burst, then
//! restarted until it settles. Every package ends with exactly one report and one record, the
//! database passes SQLite's integrity check, and every alert is delivered, at worst repeated
//! under its own idempotency key, never lost.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use support::daemon::Root;
use support::receivers::HttpReceiver;
use support::{Manifest, ZipBuilder};

/// A small deterministic generator, so a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn sigkill_during_a_burst_loses_and_doubles_nothing() {
    let receiver = HttpReceiver::start(&[]);
    let sinks = format!(
        "[[watch]]\npath = \"drop\"\n\n[[alerts]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\nretry_initial_ms = 100\n",
        receiver.url("/hook")
    );
    let root = Root::new("", &sinks, None);
    let count = 200;
    for index in 0..count {
        // Every package fails (no [Content_Types].xml), so every one raises an alert.
        ZipBuilder::with_manifest(&Manifest {
            unique_name: Some(format!("Crash{index:02}")),
            ..Manifest::default()
        })
        .without("[Content_Types].xml")
        .write(&root.path("drop"), &format!("Crash{index:02}.zip"));
    }
    let mut random = Lcg(0x5eed_0001);
    // Kills that landed while packages were still being processed.
    let mut interrupted = 0;
    for _ in 0..8 {
        let mut daemon = root.start();
        std::thread::sleep(Duration::from_millis(50 + random.next(250)));
        daemon.child.kill().expect("SIGKILL");
        daemon.child.wait().expect("reap");
        let done = root.reports().len();
        if done == count {
            break;
        }
        if done > 0 {
            interrupted += 1;
        }
    }
    assert!(
        interrupted >= 2,
        "the kills should land mid-burst ({interrupted})"
    );
    let daemon = root.start();
    daemon.wait_for(60, || root.reports().len() == count);
    daemon.wait_for(30, || {
        let keys: BTreeSet<String> = receiver
            .requests()
            .iter()
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .collect();
        keys.len() == count
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.stop().success());

    let names: BTreeSet<String> = root
        .reports()
        .iter()
        .map(|(_, r)| r["packages"][0]["unique_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), count, "exactly one report per package");
    assert_eq!(root.reports().len(), count);
    let db = rusqlite::Connection::open(root.path("state/history.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(root.rows("processed") as usize, count);
    assert_eq!(
        root.rows("releases") as usize,
        count,
        "each package recorded once"
    );
    let pending: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "every alert delivered");
    // Repeats, if a kill fell between a delivery and its record, carry the same key and body.
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for request in receiver.requests() {
        let key = request.header("idempotency-key").unwrap().to_owned();
        let body = bodies.entry(key).or_insert_with(|| request.body.clone());
        assert_eq!(*body, request.body, "a repeat is the same alert");
    }
    let alerted: BTreeSet<String> = receiver
        .requests()
        .iter()
        .map(|r| r.json()["unique_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(alerted, names, "no alert lost");
}
