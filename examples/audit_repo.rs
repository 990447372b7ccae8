//! Benchmark of `solguard audit` through the library: a generated repository of N packages
//! (real corpus exports, renamed into 50 solutions of N/50 releases each and re-versioned), cold
//! (empty cache) and warm (second run), and the shared corpus. Prints packages per second and
//! the share of time spent reading versus evaluating (reading alone is timed with the same
//! parallel scan the audit uses).
//!
//! ```text
//! cargo run --release --example audit_repo -- [COUNT]
//! ```

#[path = "support/corpus_copies.rs"]
mod corpus_copies;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use solguard::audit::{audit, scan, AuditOptions, AuditStores};
use solguard::config::{Config, ReleaseOrder};
use solguard::history::HistoryStore;
use solguard::pipeline::Rules;

fn run(
    dirs: &[PathBuf],
    store: Option<&Mutex<HistoryStore>>,
    workers: usize,
) -> (Duration, usize, usize) {
    let config = Config::default();
    let rules = Rules::load(&config, None).expect("policies");
    let mut pipeline = rules.pipeline(config.eval.clone());
    let options = AuditOptions {
        order: ReleaseOrder::Exported,
        workers,
        baseline: None,
    };
    let started = Instant::now();
    let stores = AuditStores {
        cache: store,
        baseline: None,
    };
    let report = audit(&mut pipeline, dirs, stores, &options).expect("audit");
    let elapsed = started.elapsed();
    let unreadable = report
        .packages
        .iter()
        .filter(|p| p.unique_name.is_none())
        .count();
    assert_eq!(unreadable, 0, "every generated package must read");
    let summary = report.audit.expect("audit summary");
    eprintln!(
        "    ({} passed, {} warned, {} failed, {} streams)",
        report.summary.passed,
        report.summary.warned,
        report.summary.failed,
        report.streams.len()
    );
    (elapsed, summary.read, report.packages.len())
}

/// Reading alone, as the audit reads: the fastest of `runs` after one that warms the page
/// cache (the audit it is compared with reads warm files too).
fn time_reading(dirs: &[PathBuf], workers: usize, runs: usize) -> Duration {
    let _ = scan(dirs, None, workers).expect("scan");
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let _ = scan(dirs, None, workers).expect("scan");
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn line(label: &str, packages: usize, total: Duration, reading: Option<Duration>) {
    let rate = packages as f64 / total.as_secs_f64();
    match reading {
        Some(reading) => {
            let share = reading.as_secs_f64() / total.as_secs_f64() * 100.0;
            println!(
                "  {label:<28} {packages:>5} packages  {:>7.2} s  {rate:>8.0} packages/s  reading {share:>3.0}% / evaluating {:>3.0}%",
                total.as_secs_f64(),
                100.0 - share.min(100.0)
            );
        }
        None => println!(
            "  {label:<28} {packages:>5} packages  {:>7.2} s  {rate:>8.0} packages/s",
            total.as_secs_f64()
        ),
    }
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let corpus = corpus_copies::corpus();
    let sources: Vec<PathBuf> = corpus_copies::SOURCES
        .iter()
        .filter_map(|s| corpus_copies::find(&corpus, s))
        .collect();
    let repo = tempfile::tempdir().expect("temp dir");
    let streams = 50;
    let mut clock = SystemTime::now() - Duration::from_secs(count as u64 * 60);
    let mut bytes = 0;
    for index in 0..count {
        let stream = index % streams;
        let release = index / streams;
        let source = &sources[stream % sources.len()];
        let dir = repo.path().join(format!("stream{stream:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("Bench{stream:02}_1_0_{release}_0.zip"));
        let version = format!("1.0.{release}.0");
        corpus_copies::renamed_copy(source, &format!("Bench{stream:02}"), Some(&version), &path)
            .expect("build package");
        clock += Duration::from_secs(60);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(clock)
            .unwrap();
        bytes += std::fs::metadata(&path).unwrap().len();
    }
    let dirs = vec![repo.path().to_path_buf()];
    println!(
        "solguard audit: {count} generated packages ({:.0} MiB, {streams} streams, from {} real exports), {workers} cores",
        bytes as f64 / 1048576.0,
        sources.len()
    );
    let reading = time_reading(&dirs, workers, 1);
    let (cold_total, _, packages) = run(&dirs, None, workers);
    line("generated, no cache", packages, cold_total, Some(reading));
    let store =
        Mutex::new(HistoryStore::open(&repo.path().join("cache.db").into()).expect("cache"));
    let (filling, read, _) = run(&dirs, Some(&store), workers);
    line(
        &format!("generated, filling cache ({read} read)"),
        packages,
        filling,
        None,
    );
    let (warm, read, _) = run(&dirs, Some(&store), workers);
    line(
        &format!("generated, warm cache ({read} read)"),
        packages,
        warm,
        None,
    );
    let corpus_dirs = vec![Path::new(&corpus).to_path_buf()];
    // A small set: the fastest of three runs of each, the machine's noise is its size.
    let reading = time_reading(&corpus_dirs, workers, 3);
    let (total, _, packages) = (0..3)
        .map(|_| run(&corpus_dirs, None, workers))
        .min_by_key(|(elapsed, _, _)| *elapsed)
        .expect("three runs");
    line("shared corpus, no cache", packages, total, Some(reading));
}
