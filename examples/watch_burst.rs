//! Benchmark of `solguard watch`: a burst of packages dropped at once.
//!
//! Builds N distinct packages from real corpus exports (each a copy with its solution renamed,
//! so every one has its own bytes), starts the release binary on a temporary root with the
//! shipped settings (settle time 2 s, one worker per core), renames all packages into `drop/`
//! at once, and waits for every report. Prints the throughput, the latency from the moment a
//! package was complete (renamed into place) to its report (p50, p95, max), and the daemon's
//! peak memory.
//!
//! With `RATE` (packages per second) the packages arrive at that steady rate instead of all at
//! once: the daemon keeps up when each package's complete-to-report latency stays near the
//! settle time.
//!
//! With `DAEMONS` above 1 and `SOLGUARD_BENCH_HISTORY` set to a `postgres://` URL (an empty
//! database), that many daemons share the drop folder, the reports folder and the history, as a
//! fleet does (`benches/fleet_burst.sh` starts a PostgreSQL server and runs every setup).
//!
//! ```text
//! cargo build --release && cargo run --release --example watch_burst -- [COUNT] [SETTLE_MS] [rename|copy] [DAEMONS] [RATE]
//! ```

#[path = "support/corpus_copies.rs"]
mod corpus_copies;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let settle_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    // `rename`: packages appear whole, with their staging modification time (an atomic drop);
    // `copy`: packages are copied in, so each is new and waits the full settle time.
    let mode = args.next().unwrap_or_else(|| "rename".into());
    let daemons: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let rate: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.0);
    let history = std::env::var("SOLGUARD_BENCH_HISTORY").ok();
    assert!(
        daemons == 1 || history.is_some(),
        "several daemons need a shared history: set SOLGUARD_BENCH_HISTORY=postgres://..."
    );
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/solguard");
    assert!(
        binary.is_file(),
        "build the release binary first: cargo build --release"
    );
    let corpus = corpus_copies::corpus();
    let sources: Vec<PathBuf> = corpus_copies::SOURCES
        .iter()
        .filter_map(|s| corpus_copies::find(&corpus, s))
        .collect();
    assert!(
        !sources.is_empty(),
        "no corpus packages under {}",
        corpus.display()
    );

    let root = tempfile::tempdir().expect("temp dir");
    let staging = root.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let mut staged = Vec::with_capacity(count);
    let mut bytes = 0;
    for index in 0..count {
        let source = &sources[index % sources.len()];
        let name = format!("Burst{index:04}.zip");
        let path = staging.join(&name);
        corpus_copies::renamed_copy(source, &format!("Burst{index:04}"), None, &path)
            .expect("build package");
        bytes += std::fs::metadata(&path).unwrap().len();
        staged.push((name, path));
    }
    let history_line = history
        .as_deref()
        .map_or_else(String::new, |url| format!("history = \"{url}\"\n"));
    let mut fleet = Vec::with_capacity(daemons);
    for n in 1..=daemons {
        let config = format!("daemon-{n}.toml");
        std::fs::write(
            root.path().join(&config),
            format!(
                "[daemon]\nsettle_ms = {settle_ms}\nstatus = \"off\"\nname = \"bench-{n}\"\n{history_line}\n[[watch]]\npath = \"drop\"\n"
            ),
        )
        .unwrap();
        let log = root.path().join(format!("daemon-{n}.log"));
        let daemon = Command::new(&binary)
            .args(["watch", "--config", &config])
            .current_dir(root.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start daemon");
        let started = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("solguard watch started")
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "daemon did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        fleet.push(daemon);
    }

    let drop = root.path().join("drop");
    let burst_start = SystemTime::now();
    let mut completed_at = std::collections::HashMap::new();
    let pace = Instant::now();
    for (index, (name, path)) in staged.iter().enumerate() {
        if rate > 0.0 {
            let due = pace + Duration::from_secs_f64(index as f64 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        if mode == "copy" {
            std::fs::copy(path, drop.join(name)).unwrap();
        } else {
            std::fs::rename(path, drop.join(name)).unwrap();
        }
        completed_at.insert(name.trim_end_matches(".zip").to_owned(), SystemTime::now());
    }
    let reports = root.path().join("reports");
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut latencies = Vec::with_capacity(count);
    let mut last_report = burst_start;
    let mut verdicts = std::collections::BTreeMap::new();
    let mut unreadable = 0;
    loop {
        let done: Vec<_> = std::fs::read_dir(&reports)
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        let json: Vec<_> = done
            .iter()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            // The daemon's index of recent packages is not a package report.
            .filter(|e| e.file_name() != "index.json")
            .collect();
        if json.len() >= count {
            let packages: std::collections::BTreeSet<String> = json
                .iter()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.split('_').next().unwrap_or("").to_owned()
                })
                .collect();
            assert_eq!(
                (json.len(), packages.len()),
                (count, count),
                "exactly one report per package"
            );
            for entry in json {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.split('_').next().unwrap_or("");
                let written = entry.metadata().unwrap().modified().unwrap();
                last_report = last_report.max(written);
                let complete = completed_at
                    .iter()
                    .find(|(k, _)| key.starts_with(k.as_str()))
                    .map(|(_, t)| *t)
                    .unwrap_or(burst_start);
                latencies.push(written.duration_since(complete).unwrap_or_default());
                let report: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(entry.path()).unwrap_or_default(),
                )
                .unwrap_or_default();
                let package = &report["packages"][0];
                let verdict = package["verdict"].as_str().unwrap_or("?").to_owned();
                *verdicts.entry(verdict).or_insert(0usize) += 1;
                if package["unique_name"].is_null() {
                    unreadable += 1;
                }
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} reports after 30 min",
            json.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let peak = fleet.iter().filter_map(|d| peak_rss_kib(d.id())).max();
    for daemon in &mut fleet {
        let _ = Command::new("kill")
            .args(["-TERM", &daemon.id().to_string()])
            .status();
        let _ = daemon.wait();
    }

    latencies.sort();
    let span = last_report.duration_since(burst_start).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let store = if history.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let arrival = if rate > 0.0 {
        format!("arriving at {rate:.0} packages/s")
    } else {
        "all at once".to_owned()
    };
    println!("solguard watch burst: {count} packages ({:.0} MiB, {} distinct real exports renamed), {mode} into drop/ {arrival}, {cores} cores, {daemons} daemon(s) of {cores} workers on {store}, settle {settle_ms} ms", bytes as f64 / 1048576.0, sources.len());
    let settle = Duration::from_millis(settle_ms);
    println!(
        "  all reports after   {:.2} s  ({:.1} packages/s including the settle time, {:.1} after it)",
        span.as_secs_f64(),
        count as f64 / span.as_secs_f64(),
        count as f64 / span.saturating_sub(settle).as_secs_f64()
    );
    println!(
        "  complete -> report  p50 {:.2} s, p95 {:.2} s, max {:.2} s (p95 {:.0} ms over the settle time)",
        percentile(&latencies, 0.5).as_secs_f64(),
        percentile(&latencies, 0.95).as_secs_f64(),
        latencies.last().map_or(0.0, Duration::as_secs_f64),
        percentile(&latencies, 0.95).saturating_sub(settle).as_secs_f64() * 1000.0
    );
    println!("  verdicts            {verdicts:?}, {unreadable} unreadable");
    match peak {
        Some(kib) => println!(
            "  daemon peak RSS     {:.1} MiB (the largest daemon)",
            kib as f64 / 1024.0
        ),
        None => println!("  daemon peak RSS     (unavailable)"),
    }
}
