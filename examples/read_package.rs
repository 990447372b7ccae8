//! Reads one solution package with `solguard::package::read_package` and prints a one-line
//! summary: the smallest program around the reader, so `/usr/bin/time -v` on it measures the
//! reader's own peak memory.
//!
//! ```text
//! cargo run --release --example read_package -- PATH
//! /usr/bin/time -v target/release/examples/read_package /tmp/big.zip
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use solguard::package::read_package;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: read_package PATH   (a solution .zip or folder)");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    let started = Instant::now();
    let package = match read_package(&path) {
        Ok(package) => package,
        Err(error) => {
            eprintln!("read_package: {error}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    let attributes: usize = package.entities.iter().map(|e| e.attributes.len()).sum();
    let global_sets = package.option_sets.iter().filter(|s| s.global).count();
    println!(
        "{} {}: {} entities, {} attributes, {} option sets ({} global), {} relationships, \
         {} warnings; read in {} ms",
        package.unique_name,
        package.version,
        package.entities.len(),
        attributes,
        package.option_sets.len(),
        global_sets,
        package.relationships.len(),
        package.warnings.len(),
        elapsed.as_millis()
    );
    ExitCode::SUCCESS
}
