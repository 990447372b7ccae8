//! The history store's suite, run on both backends: an SQLite file and a real PostgreSQL
//! database (a server the tests start on 127.0.0.1). Releases and their lineage, processed
//! packages committed with their alerts, the outbox and its leases, claims on work shared by
//! daemons, heartbeats, audit caches, schema versions, and moving a history between stores.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use solguard::config::{Config, EvalSettings};
use solguard::history::{
    migrate, Claim, ClaimKey, DaemonBeat, HistoryError, HistoryLocation, HistoryStore, Holder,
    ProcessedRecord,
};
use solguard::package::read_package;
use solguard::pipeline::{check_packages, Rules};
use support::releases::{manifest, patch, Releases};

/// A new, empty history of one backend, with what keeps it alive.
struct Fresh {
    store: HistoryStore,
    location: HistoryLocation,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

fn fresh(backend: Backend) -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let location: HistoryLocation = match backend {
        Backend::Sqlite => dir.path().join("history.db").into(),
        Backend::Postgres => support::pg::shared_server()
            .create_database()
            .parse()
            .expect("URL"),
    };
    Fresh {
        store: HistoryStore::open(&location).expect("open the store"),
        location,
        _dir: dir,
    }
}

/// Assesses the packages at `paths` in turn with the shipped policies, recording each.
fn check_into(store: &HistoryStore, paths: &[String]) -> solguard::report::Report {
    let rules = Rules::load(&Config::default(), None).expect("policies");
    let mut pipeline = rules.pipeline(EvalSettings::default());
    let read = paths
        .iter()
        .map(|p| (PathBuf::from(p), read_package(Path::new(p))));
    check_packages(&mut pipeline, read, Some(store)).expect("check")
}

const PATCH_OF_CORE: &str =
    "<ParentSolution><UniqueName>Core</UniqueName><Version>1.0.0.0</Version></ParentSolution>";

fn releases_round_trip(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    let files = Releases::new();
    let paths = [
        files.add(&manifest("Core", "1.0.0.0", true), &["con_cost"]),
        files.add(&patch("Core_Patch_1", "1.0.1.0", true, PATCH_OF_CORE), &[]),
        // Drops a column: data loss, not accepted.
        files.add(&manifest("Core", "1.1.0.0", true), &[]),
        files.add(&manifest("Other", "2.0.0.0", false), &[]),
    ];
    let report = check_into(store, &paths);
    let accepted: Vec<bool> = report.packages.iter().map(|p| p.accepted).collect();
    assert_eq!(
        accepted,
        [true, true, false, true],
        "{:#?}",
        report.packages
    );

    // Unique names compare case-insensitively, as in Dataverse.
    let last = store.last_accepted("core").expect("read").expect("one");
    assert_eq!(last.version, "1.0.0.0");
    let rejected = store
        .release("CORE", "1.1.0.0")
        .expect("read")
        .expect("kept");
    assert_eq!(rejected.unique_name, "Core");
    assert!(store.release("Core", "9.9.9.9").expect("read").is_none());
    let core = store.accepted_releases("Core").expect("read");
    assert_eq!(core.len(), 1);
    assert_eq!(core[0].entry.version, "1.0.0.0");
    let patches = store.accepted_patches_of("core").expect("read");
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].unique_name, "Core_Patch_1");
    assert!(patches[0].id > core[0].id, "ids follow the order recorded");
    let model = store.snapshot_of(core[0].id).expect("read").expect("model");
    assert!(model
        .entities
        .iter()
        .any(|e| e.attributes.iter().any(|a| a.name == "con_cost")));

    let all = store.releases(None).expect("read");
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|a| {
            (
                a.unique_name.as_deref().unwrap_or(""),
                a.version.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Core", "1.0.0.0"),
            ("Core", "1.1.0.0"),
            ("Core_Patch_1", "1.0.1.0"),
            ("Other", "2.0.0.0")
        ]
    );
    let one = store.releases(Some("other")).expect("read");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].findings, report.packages[3].findings);
    assert!(
        !all[1].findings.is_empty(),
        "the rejected release keeps its findings"
    );
}

/// A recorded evaluation of `path` (checked into `store` first), with alerts for two sinks.
fn record_one(
    store: &HistoryStore,
    path: &str,
    claim: Option<&solguard::history::ClaimToken>,
) -> bool {
    let report = check_into(store, &[path.to_owned()]);
    let assessment = &report.packages[0];
    let package = read_package(Path::new(path)).expect("package");
    let hash = assessment.sha256.clone().expect("hash");
    let alerts = [
        (
            "hook".to_owned(),
            format!("{hash}:fail"),
            format!("{{\"package\":\"{hash}\"}}"),
        ),
        ("mail".to_owned(), format!("{hash}:fail"), "{}".to_owned()),
    ];
    store
        .record_processed(&ProcessedRecord {
            sha256: &hash,
            watch: "drop",
            assessment,
            reports: &[format!("reports/{hash}.json")],
            package: Some(&package),
            alerts: &alerts,
            claim,
            daemon: claim.map(|c| c.owner.as_str()),
        })
        .expect("record")
}

fn processed_packages_commit_with_their_alerts(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    let files = Releases::new();
    let first = files.add(&manifest("Alpha", "1.0.0.0", false), &[]);
    let second = files.add(&manifest("Beta", "1.0.0.0", false), &[]);
    assert!(record_one(store, &first, None));
    assert!(record_one(store, &second, None));
    let hash = solguard::package::content_hash(Path::new(&second)).expect("hash");
    let seen = store.processed(&hash).expect("read").expect("recorded");
    assert_eq!(seen.summary.unique_name.as_deref(), Some("Beta"));
    assert_eq!(seen.watch.as_deref(), Some("drop"));
    assert_eq!(seen.reports, [format!("reports/{hash}.json")]);
    let recent = store.recent_processed(10).expect("read");
    let names: Vec<_> = recent
        .iter()
        .map(|p| p.summary.unique_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["Beta", "Alpha"], "newest first");
    let counts = store
        .verdicts_since(time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .expect("read");
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<usize>(), 2);

    // The same alert key again is not queued twice.
    assert!(record_one(store, &second, None));
    let counts = store.sink_counts().expect("read");
    assert_eq!(counts.len(), 2);
    assert!(
        counts.iter().all(|c| c.pending == 2 && c.delivered == 0),
        "{counts:?}"
    );

    let holder = Holder::new("daemon-a", Duration::from_secs(60));
    let due = store
        .due_alerts("hook", solguard::history::unix_ms(), 10, &holder)
        .expect("lease");
    assert_eq!(due.len(), 2);
    assert!(due[0].id < due[1].id, "oldest first");
    store
        .mark_delivered(&[due[0].id], "2026-12-02T00:00:00Z")
        .expect("mark");
    store
        .mark_failed(&[due[1].id], "HTTP 503", i64::MAX)
        .expect("mark");
    let hook = store.sink_counts().expect("read");
    let hook = hook.iter().find(|c| c.sink == "hook").expect("hook");
    assert_eq!((hook.pending, hook.delivered, hook.dead), (1, 1, 0));
    assert_eq!(hook.last_error.as_deref(), Some("HTTP 503"));
    store
        .mark_dead(&[due[1].id], "2026-12-02T00:00:00Z")
        .expect("mark");
    let hook = store.sink_counts().expect("read");
    let hook = hook.iter().find(|c| c.sink == "hook").expect("hook");
    assert_eq!((hook.pending, hook.delivered, hook.dead), (0, 1, 1));
}

fn alert_leases_keep_other_daemons_off(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    let alerts: Vec<(String, String, String)> = (0..3)
        .map(|i| ("hook".to_owned(), format!("key-{i}"), "{}".to_owned()))
        .collect();
    store
        .enqueue_alerts(&alerts, "2026-12-02T00:00:00Z")
        .expect("queue");
    let now = solguard::history::unix_ms();
    let a = Holder::new("daemon-a", Duration::from_millis(300));
    let b = Holder::new("daemon-b", Duration::from_secs(60));
    let leased = store.due_alerts("hook", now, 2, &a).expect("lease");
    assert_eq!(leased.len(), 2);
    let rest = store.due_alerts("hook", now, 10, &b).expect("lease");
    assert_eq!(rest.len(), 1, "b gets only what a did not lease");
    assert_eq!(rest[0].idempotency_key, "key-2");
    assert!(
        store.due_alerts("hook", now, 10, &b).expect("lease").len() == 1,
        "b holds its own"
    );
    // a dies: once its lease ends, b delivers a's alerts under the same keys.
    std::thread::sleep(Duration::from_millis(400));
    let taken = store
        .due_alerts("hook", solguard::history::unix_ms(), 10, &b)
        .expect("lease");
    let keys: HashSet<String> = taken.iter().map(|e| e.idempotency_key.clone()).collect();
    assert_eq!(
        keys,
        HashSet::from(["key-0".into(), "key-1".into(), "key-2".into()])
    );
    // A failed attempt gives the lease up.
    store
        .mark_failed(&[taken[0].id], "timeout", 0)
        .expect("mark");
    let again = store
        .due_alerts("hook", solguard::history::unix_ms(), 10, &a)
        .expect("lease");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, taken[0].id);
}

fn claims_share_work_once(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    let key = ClaimKey::package("ab12", "policy-1");
    let a = Holder::new("daemon-a", Duration::from_millis(300));
    let b = Holder::new("daemon-b", Duration::from_secs(60));
    let Claim::Acquired(token_a) = store.claim(&key, &a).expect("claim") else {
        panic!("the first claim wins");
    };
    match store.claim(&key, &b).expect("claim") {
        Claim::HeldBy { owner, until_ms } => {
            assert_eq!(owner, "daemon-a");
            assert!(until_ms > solguard::history::unix_ms());
        }
        other => panic!("b must wait, got {other:?}"),
    }
    assert!(
        matches!(store.claim(&key, &a).expect("claim"), Claim::Acquired(_)),
        "a renews"
    );
    // Another policy set is other work.
    assert!(matches!(
        store
            .claim(&ClaimKey::package("ab12", "policy-2"), &b)
            .expect("claim"),
        Claim::Acquired(_)
    ));
    // a dies: its lease ends and b takes the work over; a's late commit is refused.
    std::thread::sleep(Duration::from_millis(400));
    let Claim::Acquired(token_b) = store.claim(&key, &b).expect("claim") else {
        panic!("b takes an ended lease over");
    };
    let files = Releases::new();
    let path = files.add(&manifest("Gamma", "1.0.0.0", false), &[]);
    assert!(
        !record_one(store, &path, Some(&token_a)),
        "a lost its claim"
    );
    let hash = solguard::package::content_hash(Path::new(&path)).expect("hash");
    assert!(
        store.processed(&hash).expect("read").is_none(),
        "nothing of a's was kept"
    );
    assert!(
        store.sink_counts().expect("read").is_empty(),
        "no alert of a's was queued"
    );
    assert!(record_one(store, &path, Some(&token_b)));
    assert!(store.processed(&hash).expect("read").is_some());
    assert_eq!(
        store.claim(&key, &a).expect("claim"),
        Claim::Done,
        "done work is never claimed again"
    );
    assert!(!store.finish_claim(&token_b).expect("finish"), "done once");

    // A turn given up early lets the next holder in at once.
    let family = ClaimKey::family("core");
    let Claim::Acquired(turn) = store.claim(&family, &b).expect("claim") else {
        panic!("free");
    };
    assert!(matches!(
        store.claim(&family, &a).expect("claim"),
        Claim::HeldBy { .. }
    ));
    store.release_claim(&turn).expect("release");
    assert!(matches!(
        store.claim(&family, &a).expect("claim"),
        Claim::Acquired(_)
    ));
}

fn heartbeats_name_the_daemons_alive(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    let beat = |name: &str, last_seen_ms: i64| DaemonBeat {
        name: name.into(),
        host: "host-1".into(),
        pid: 42,
        version: "0.1.0".into(),
        policy_set: "abc".into(),
        started_at: "2026-12-02T00:00:00Z".into(),
        last_seen_ms,
    };
    store.heartbeat(&beat("a", 1_000)).expect("beat");
    store.heartbeat(&beat("b", 5_000)).expect("beat");
    store.heartbeat(&beat("a", 9_000)).expect("beat again");
    let alive: Vec<String> = store
        .daemons_since(4_000)
        .expect("read")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(alive, ["a", "b"]);
    assert_eq!(
        store.daemons_since(6_000).expect("read"),
        [beat("a", 9_000)]
    );
    store.leave("a").expect("leave");
    assert!(store.daemons_since(6_000).expect("read").is_empty());
}

fn audit_caches_and_baselines(backend: Backend) {
    let history = fresh(backend);
    let store = &history.store;
    store.remember_hash("/r/a.zip", 10, 7, "h1").expect("write");
    assert_eq!(
        store
            .cached_hash("/r/a.zip", 10, 7)
            .expect("read")
            .as_deref(),
        Some("h1")
    );
    assert!(
        store
            .cached_hash("/r/a.zip", 11, 7)
            .expect("read")
            .is_none(),
        "size changed"
    );
    store
        .remember_hash("/r/a.zip", 11, 8, "h2")
        .expect("rewrite");
    assert_eq!(
        store
            .cached_hash("/r/a.zip", 11, 8)
            .expect("read")
            .as_deref(),
        Some("h2")
    );
    store.remember_outcome("h1", "{\"ok\":1}").expect("write");
    store.remember_outcome("h1", "{\"ok\":2}").expect("rewrite");
    assert_eq!(
        store.parsed_outcome("h1").expect("read").as_deref(),
        Some("{\"ok\":2}")
    );
    let keys: HashSet<String> = ["k1", "k2"].map(String::from).into();
    store.replace_baseline("repo", &keys).expect("write");
    assert_eq!(store.baseline("repo").expect("read"), keys);
    let fewer: HashSet<String> = ["k3"].map(String::from).into();
    store.replace_baseline("repo", &fewer).expect("replace");
    assert_eq!(store.baseline("repo").expect("read"), fewer);
    assert!(store.baseline("other").expect("read").is_empty());
}

fn a_newer_schema_is_refused(backend: Backend) {
    let history = fresh(backend);
    match &history.location {
        HistoryLocation::Sqlite(path) => {
            let db = rusqlite::Connection::open(path).expect("open");
            db.pragma_update(None, "user_version", 99).expect("bump");
        }
        HistoryLocation::Postgres(url) => {
            let mut client = support::pg::Postgres::client_of(url.expose());
            client
                .batch_execute("INSERT INTO solguard_schema (version) VALUES (99)")
                .expect("bump");
        }
    }
    drop(history.store);
    match HistoryStore::open(&history.location) {
        Err(HistoryError::TooNew { found, .. }) => assert_eq!(found, 99),
        Err(other) => panic!("expected a refusal of the newer schema, got {other}"),
        Ok(_) => panic!("expected a refusal of the newer schema"),
    }
}

/// Runs each case on both backends, as `sqlite::case` and `postgres::case`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::$case(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(
    releases_round_trip,
    processed_packages_commit_with_their_alerts,
    alert_leases_keep_other_daemons_off,
    claims_share_work_once,
    heartbeats_name_the_daemons_alive,
    audit_caches_and_baselines,
    a_newer_schema_is_refused,
);

/// Every row of an SQLite history arrives in PostgreSQL, and back: releases (with their ids,
/// so the lineage order holds), processed packages, the outbox, audit caches and baselines.
#[test]
fn migration_keeps_every_row() {
    let sqlite = fresh(Backend::Sqlite);
    let files = Releases::new();
    let paths = [
        files.add(&manifest("Core", "1.0.0.0", true), &["con_cost"]),
        files.add(&patch("Core_Patch_1", "1.0.1.0", true, PATCH_OF_CORE), &[]),
        files.add(&manifest("Core", "1.1.0.0", true), &[]),
    ];
    check_into(&sqlite.store, &paths[..2]);
    assert!(record_one(&sqlite.store, &paths[2], None));
    sqlite
        .store
        .remember_hash("/r/a.zip", 10, 7, "h1")
        .expect("write");
    sqlite.store.remember_outcome("h1", "{}").expect("write");
    let keys: HashSet<String> = ["k1", "k2"].map(String::from).into();
    sqlite.store.replace_baseline("repo", &keys).expect("write");
    let delivered = sqlite
        .store
        .due_alerts(
            "hook",
            solguard::history::unix_ms(),
            1,
            &Holder::new("x", Duration::from_secs(5)),
        )
        .expect("lease");
    sqlite
        .store
        .mark_delivered(&[delivered[0].id], "2026-12-02T00:00:00Z")
        .expect("mark");

    let postgres = fresh(Backend::Postgres);
    let counts = migrate(&sqlite.store, &postgres.store).expect("migrate");
    let rows = |table: &str| {
        counts
            .iter()
            .find(|c| c.table == table)
            .map_or(-1, |c| c.rows)
    };
    assert_eq!(rows("releases"), 4);
    assert_eq!(rows("processed"), 1);
    assert_eq!(rows("outbox"), 2);
    assert_eq!(rows("audit_baselines"), 2);

    let same = |a: &HistoryStore, b: &HistoryStore| {
        assert_eq!(
            a.releases(None).expect("read"),
            b.releases(None).expect("read")
        );
        assert_eq!(
            a.recent_processed(10).expect("read"),
            b.recent_processed(10).expect("read")
        );
        assert_eq!(
            a.sink_counts().expect("read"),
            b.sink_counts().expect("read")
        );
        assert_eq!(
            a.accepted_releases("core").expect("read"),
            b.accepted_releases("core").expect("read")
        );
        assert_eq!(
            a.baseline("repo").expect("read"),
            b.baseline("repo").expect("read")
        );
        assert_eq!(
            a.cached_hash("/r/a.zip", 10, 7).expect("read"),
            b.cached_hash("/r/a.zip", 10, 7).expect("read")
        );
        assert_eq!(
            a.parsed_outcome("h1").expect("read"),
            b.parsed_outcome("h1").expect("read")
        );
    };
    same(&sqlite.store, &postgres.store);
    // New rows follow the copied ones.
    let next = files.add(&manifest("Core", "1.2.0.0", true), &[]);
    check_into(&postgres.store, &[next]);
    let core = postgres.store.releases(Some("Core")).expect("read");
    assert_eq!(
        core.last().and_then(|r| r.version.as_deref()),
        Some("1.2.0.0")
    );

    // Into a history that is not empty: refused, and nothing changes.
    let err = migrate(&sqlite.store, &postgres.store).expect_err("target not empty");
    assert!(
        err.to_string()
            .contains("migrate into a new, empty database"),
        "{err}"
    );

    // And back into a new SQLite file.
    let back = fresh(Backend::Sqlite);
    migrate(&postgres.store, &back.store).expect("migrate back");
    assert_eq!(
        postgres.store.releases(None).expect("read"),
        back.store.releases(None).expect("read")
    );
}
