//! Benchmark proving that the package reader streams: reading the model of a package whose
//! `customizations.xml` is 50 MiB must take no more than 1.5x the time of merely inflating
//! that entry and running quick-xml's tokenizer over it. Both are measured here on the same
//! generated zip, first with criterion, then in a direct interleaved comparison (nine runs
//! each, fastest taken) that prints the ratio and PASS or FAIL.
//!
//! ```text
//! cargo bench --bench reader
//! SOLGUARD_BENCH_MB=200 cargo bench --bench reader    # another size of customizations.xml
//! ```
//!
//! Peak memory is measured outside this bench (criterion's own allocations would blur it), on
//! the smallest program around the reader, for a 200 MiB `customizations.xml`:
//!
//! ```text
//! cargo build --release --examples
//! cargo run --release --example make_large_package -- /tmp/big.zip 200 && /usr/bin/time -v target/release/examples/read_package /tmp/big.zip
//! ```
//!
//! and read "Maximum resident set size" (KiB; must stay under 64 MiB = 65536 KiB).
//!
//! Under `cargo test --benches` (no `--bench` flag) criterion runs each function once, on a
//! 2 MiB package, and the comparison is skipped.

#[path = "support/large_package.rs"]
mod large_package;

use std::fs::File;
use std::hint::black_box;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use quick_xml::events::Event;
use quick_xml::Reader;
use zip::ZipArchive;

/// Size of `customizations.xml` in MiB unless `SOLGUARD_BENCH_MB` says otherwise.
const BENCH_MB: u64 = 50;
/// Size used when criterion runs in test mode.
const TEST_MB: u64 = 2;
/// The requirement: reading the model costs at most this many times the baseline.
const MAX_RATIO: f64 = 1.5;
/// Timed runs of each side in the direct comparison. The verdict uses the fastest run of each
/// side: the work is deterministic, so slower runs only measure interference from the machine
/// (this 2-core VM varies by +-15% between runs); medians are printed too.
const COMPARISON_RUNS: usize = 9;
/// Same read buffer as the reader's XML stream, so the baseline does the same I/O.
const READ_BUFFER_BYTES: usize = 64 * 1024;
const MIB: f64 = (1 << 20) as f64;

/// The floor: open the zip, inflate `customizations.xml` through a `BufReader` and run
/// quick-xml's tokenizer to the end, counting events. Returns the number of events.
fn inflate_and_tokenize(path: &Path) -> u64 {
    let file = File::open(path).expect("the generated zip opens");
    let mut archive = ZipArchive::new(BufReader::new(file)).expect("the generated zip is valid");
    let entry = archive
        .by_name(large_package::CUSTOMIZATIONS)
        .expect("the zip holds customizations.xml");
    let mut reader = Reader::from_reader(BufReader::with_capacity(READ_BUFFER_BYTES, entry));
    let mut buf = Vec::with_capacity(4096);
    let mut events = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .expect("the generated XML is well formed")
        {
            Event::Eof => break,
            event => {
                black_box(&event);
                events += 1;
            }
        }
    }
    events
}

/// The reader under test: the whole typed model. Returns the number of attributes read.
fn read_model(path: &Path) -> usize {
    let package = solguard::package::read_package(path).expect("the generated package reads");
    package.entities.iter().map(|e| e.attributes.len()).sum()
}

/// The same read with every skipped subtree tokenized rather than scanned past (the reader
/// before skip-scanning), for the comparison in the same run.
fn read_model_tokenized(path: &Path) -> usize {
    let limits = solguard::package::ReadLimits {
        scan_skipped: false,
        ..solguard::package::ReadLimits::default()
    };
    let package = solguard::package::read_package_with(path, &limits).expect("reads");
    package.entities.iter().map(|e| e.attributes.len()).sum()
}

fn main() {
    let bench_mode = std::env::args().any(|arg| arg == "--bench");
    let size_mb = match std::env::var("SOLGUARD_BENCH_MB") {
        Ok(text) => text
            .parse::<u64>()
            .ok()
            .filter(|mb| *mb > 0)
            .expect("SOLGUARD_BENCH_MB is a whole number of MiB above 0"),
        Err(_) if bench_mode => BENCH_MB,
        Err(_) => TEST_MB,
    };

    let dir = tempfile::tempdir().expect("a temporary directory for the generated package");
    let path = dir.path().join("large.zip");
    let started = Instant::now();
    let generated =
        large_package::write_package(&path, size_mb << 20).expect("the package is generated");
    eprintln!(
        "generated {} in {} ms: {}",
        path.display(),
        started.elapsed().as_millis(),
        generated.describe()
    );
    // Both sides must see the whole document before anything is timed.
    assert_eq!(
        read_model(&path),
        generated.attributes,
        "every attribute is read"
    );
    assert!(inflate_and_tokenize(&path) > 0, "the tokenizer sees events");

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group(format!("read_{size_mb}mib"));
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(20))
            .throughput(Throughput::Bytes(generated.uncompressed));
        group.bench_function("baseline_inflate_tokenize", |b| {
            b.iter(|| black_box(inflate_and_tokenize(black_box(&path))))
        });
        group.bench_function("read_package", |b| {
            b.iter(|| black_box(read_model(black_box(&path))))
        });
        group.finish();
    }
    criterion.final_summary();

    if bench_mode {
        compare(&path, generated.uncompressed);
        evaluation_figures(&path);
    }
}

/// A policy that touches every entity and attribute and diffs against the previous release:
/// heavier than the shipped ones, so its figure bounds what a real policy set costs.
const HEAVY_POLICY: &str = r#"//! id = "bench-heavy"
//! severity = "warning"
//! title = "Bench: walks the whole model"
//! description = "Counts custom attributes of every entity and diffs against the previous release."
//! hint = "None: benchmark only."
fn check(pkg, context) {
    let custom = 0;
    for entity in pkg.entities {
        for attribute in entity.attributes {
            if attribute.custom { custom += 1; }
        }
    }
    let found = [];
    if context.previous != () {
        let d = diff(context.previous, pkg);
        found.push(finding("diffed", `${d.attributes_removed.len()} removed, ${custom} custom`));
    }
    found
}
"#;

/// Issue figure: evaluating policies on one package must not dominate reading it. Times the
/// shipped policy set, and a policy that walks the whole model and diffs it, against the read.
fn evaluation_figures(path: &Path) {
    use solguard::config::EvalSettings;
    use solguard::eval::{Evaluator, Related};
    use solguard::policy::{shipped_files, PolicyFile, PolicySet, SandboxLimits};
    use std::sync::Arc;

    let read_started = Instant::now();
    let package = Arc::new(solguard::package::read_package(path).expect("reads"));
    let read = read_started.elapsed();
    let limits = SandboxLimits {
        time_budget: Duration::from_secs(60),
        max_operations: u64::MAX,
        ..SandboxLimits::default()
    };
    let heavy = PolicyFile {
        origin: "bench:heavy.rhai".into(),
        source: HEAVY_POLICY.into(),
    };
    let sets = [
        (
            "shipped policies",
            PolicySet::from_files(shipped_files(), Vec::new(), limits.clone()),
        ),
        (
            "whole-model walk + diff policy",
            PolicySet::from_files(Vec::new(), vec![heavy], limits),
        ),
    ];
    println!();
    println!(
        "policy evaluation on the same package (read once: {:.1} ms):",
        read.as_secs_f64() * 1e3
    );
    for (label, set) in sets {
        let set = set.expect("bench policies load");
        let mut runs: Vec<Duration> = (0..COMPARISON_RUNS)
            .map(|_| {
                let mut evaluator = Evaluator::new(
                    &set,
                    EvalSettings::default(),
                    time::OffsetDateTime::now_utc().date(),
                );
                let started = Instant::now();
                let related = Related {
                    previous: Some(Arc::clone(&package)),
                    installed: Some(Arc::clone(&package)),
                    ..Related::default()
                };
                let findings = evaluator.evaluate(&package, &related);
                let elapsed = started.elapsed();
                assert!(
                    findings.iter().all(|f| f.code != "policy-error"),
                    "{findings:?}"
                );
                elapsed
            })
            .collect();
        runs.sort();
        let median = runs[runs.len() / 2];
        println!(
            "  {label:<32} {:>8.1} ms  ({:.0}% of reading)",
            median.as_secs_f64() * 1e3,
            100.0 * median.as_secs_f64() / read.as_secs_f64()
        );
    }
}

/// Times both sides alternately (so drift in the machine hits both alike), takes the median
/// of each and reports the ratio against [`MAX_RATIO`].
fn compare(path: &Path, uncompressed: u64) {
    let time = |run: &dyn Fn()| {
        let started = Instant::now();
        run();
        started.elapsed()
    };
    let mut baseline = Vec::with_capacity(COMPARISON_RUNS);
    let mut reader = Vec::with_capacity(COMPARISON_RUNS);
    let mut tokenized = Vec::with_capacity(COMPARISON_RUNS);
    for _ in 0..COMPARISON_RUNS {
        baseline.push(time(&|| {
            black_box(inflate_and_tokenize(path));
        }));
        reader.push(time(&|| {
            black_box(read_model(path));
        }));
        tokenized.push(time(&|| {
            black_box(read_model_tokenized(path));
        }));
    }
    baseline.sort();
    reader.sort();
    tokenized.sort();
    let tokenized = tokenized[0];
    let median_ratio =
        reader[COMPARISON_RUNS / 2].as_secs_f64() / baseline[COMPARISON_RUNS / 2].as_secs_f64();
    let (baseline, reader) = (baseline[0], reader[0]);
    let throughput = |d: Duration| uncompressed as f64 / MIB / d.as_secs_f64();
    let ratio = reader.as_secs_f64() / baseline.as_secs_f64();
    println!();
    println!("direct comparison, fastest of {COMPARISON_RUNS} interleaved runs each:");
    println!(
        "  baseline (inflate + quick-xml tokenize): {:>8.1} ms  {:>7.1} MiB/s",
        baseline.as_secs_f64() * 1e3,
        throughput(baseline)
    );
    println!(
        "  read_package (typed model):              {:>8.1} ms  {:>7.1} MiB/s",
        reader.as_secs_f64() * 1e3,
        throughput(reader)
    );
    println!(
        "  read_package, skipped subtrees tokenized: {:>7.1} ms  {:>7.1} MiB/s  ({:.2}x the baseline)",
        tokenized.as_secs_f64() * 1e3,
        throughput(tokenized),
        tokenized.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "  ratio read_package / baseline: {ratio:.2}x (limit {MAX_RATIO}x): {}  (ratio of medians {median_ratio:.2}x)",
        if ratio <= MAX_RATIO { "PASS" } else { "FAIL" }
    );
}
