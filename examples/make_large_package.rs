//! Writes a large, realistic solution package for benchmarks and memory measurements.
//!
//! ```text
//! cargo run --release --example make_large_package -- OUT.zip SIZE_MB
//! ```
//!
//! `SIZE_MB` is the approximate uncompressed size of `customizations.xml` in MiB. The generator
//! itself lives in `benches/support/large_package.rs`, shared with `benches/reader.rs`.

#[path = "../benches/support/large_package.rs"]
mod large_package;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, size_mb) = match args.as_slice() {
        [out, size] => match size.parse::<u64>() {
            Ok(size) if size > 0 => (PathBuf::from(out), size),
            _ => return usage(),
        },
        _ => return usage(),
    };
    let started = Instant::now();
    let generated = match large_package::write_package(&out, size_mb << 20) {
        Ok(generated) => generated,
        Err(error) => {
            eprintln!("make_large_package: {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}: {}; {} ms",
        out.display(),
        generated.describe(),
        started.elapsed().as_millis()
    );
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: make_large_package OUT.zip SIZE_MB   (SIZE_MB: customizations.xml in MiB, > 0)"
    );
    ExitCode::from(2)
}
