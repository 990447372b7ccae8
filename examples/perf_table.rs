//! The performance report: for each package, the wall time of `solguard check` (the release
//! binary, a whole process) against the floor measured in the same run (inflating the entries a
//! check needs, `solution.xml` and `customizations.xml`, and tokenizing them with quick-xml,
//! nothing else), with the check's peak memory. Small packages are compared with process
//! start-up (`solguard --version`) instead, since start-up dominates them. Prints a Markdown
//! table; `benches/perf_report.sh` runs it on the corpus and on generated packages.
//!
//! ```text
//! cargo build --release --examples && target/release/examples/perf_table PACKAGE...
//! ```

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quick_xml::events::Event;
use quick_xml::Reader;

/// Runs per measurement; the fastest is kept (the least disturbed by the machine).
const RUNS: usize = 5;

fn fastest(mut measure: impl FnMut() -> Duration) -> Duration {
    (0..RUNS).map(|_| measure()).min().unwrap_or_default()
}

/// Inflates and tokenizes the entries a check reads; returns the uncompressed bytes.
fn floor(path: &Path) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(file)) else {
        return 0;
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(std::borrow::Cow::into_owned))
        .collect();
    let mut bytes = 0;
    for name in names {
        let base = name
            .rsplit('/')
            .next()
            .unwrap_or(&name)
            .to_ascii_lowercase();
        if base != "solution.xml" && base != "customizations.xml" {
            continue;
        }
        let Ok(entry) = archive.by_name(&name) else {
            continue;
        };
        let mut counted = CountingReader {
            inner: entry,
            bytes: 0,
        };
        {
            let mut reader = Reader::from_reader(BufReader::with_capacity(64 << 10, &mut counted));
            let mut buf = Vec::with_capacity(4096);
            loop {
                buf.clear();
                match reader.read_event_into(&mut buf) {
                    Ok(Event::Eof) | Err(_) => break,
                    Ok(event) => {
                        std::hint::black_box(&event);
                    }
                }
            }
        }
        bytes += counted.bytes;
    }
    bytes
}

struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bytes += read as u64;
        Ok(read)
    }
}

/// Runs `binary args`, returning its wall time and peak resident memory in KiB. The child is
/// reaped with `wait4`, which also returns its resource usage.
#[allow(clippy::zombie_processes)]
fn run(binary: &Path, args: &[&str]) -> (Duration, u64) {
    let started = Instant::now();
    let child = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start solguard");
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; the pid is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    (started.elapsed(), usage.ru_maxrss as u64)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let packages: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/solguard");
    assert!(
        binary.is_file(),
        "build the release binary first: cargo build --release"
    );
    let startup = fastest(|| run(&binary, &["--version"]).0);
    println!(
        "Process start-up (`solguard --version`): {:.1} ms; {} runs each, fastest kept; {} cores.\n",
        ms(startup),
        RUNS,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("| package | XML read | floor | `check` | check − start-up | vs floor | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for package in &packages {
        let bytes = floor(package);
        let floor_time = fastest(|| {
            let started = Instant::now();
            std::hint::black_box(floor(package));
            started.elapsed()
        });
        let path = package.to_string_lossy().into_owned();
        let mut peak = 0;
        let check = fastest(|| {
            let (time, rss) = run(
                &binary,
                &["check", "--format", "json", "--fail-on", "never", &path],
            );
            peak = peak.max(rss);
            time
        });
        let work = check.saturating_sub(startup);
        let name = package
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "| {name} | {:.1} MiB | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}x | {:.1} MiB |",
            bytes as f64 / 1048576.0,
            ms(floor_time),
            ms(check),
            ms(work),
            if floor_time.is_zero() {
                0.0
            } else {
                work.as_secs_f64() / floor_time.as_secs_f64()
            },
            peak as f64 / 1024.0
        );
    }
}
