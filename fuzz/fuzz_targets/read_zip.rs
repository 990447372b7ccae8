//! Fuzzes the zip + manifest + customizations reader: any bytes as a `.zip` must give a package
//! or a one-line error with a stable code, never a panic or a hang; reading with the
//! background inflate and hash threads must give exactly what reading on one thread gives;
//! and scanning past skipped subtrees must give what tokenizing them gives (the same model,
//! or a refusal with the same code).
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use solguard::package::{read_package_with, ReadLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = tempfile::Builder::new().suffix(".zip").tempfile() else {
        return;
    };
    if file.write_all(data).is_err() {
        return;
    }
    // Small limits keep each run fast; the guards are the same code at any size. Low
    // thresholds send most inputs through the background threads.
    let threaded = ReadLimits {
        max_entry_bytes: 4 << 20,
        max_total_bytes: 8 << 20,
        background_inflate_bytes: 4 << 10,
        background_hash_bytes: 16 << 10,
        ..ReadLimits::default()
    };
    let single = ReadLimits {
        background_inflate_bytes: u64::MAX,
        background_hash_bytes: u64::MAX,
        ..threaded.clone()
    };
    let tokenized = ReadLimits {
        scan_skipped: false,
        ..single.clone()
    };
    let read = read_package_with(file.path(), &threaded);
    let alone = read_package_with(file.path(), &single);
    match (&alone, read_package_with(file.path(), &tokenized)) {
        (Ok(package), Ok(tokenized)) => assert_eq!(
            serde_json::to_string(package).expect("a package serializes"),
            serde_json::to_string(&tokenized).expect("a package serializes"),
            "scanned and tokenized reads differ"
        ),
        (Err(error), Err(tokenized)) => assert_eq!(
            error.code(),
            tokenized.code(),
            "scanned: {error}; tokenized: {tokenized}"
        ),
        (scanned, tokenized) => panic!(
            "scanned read {:?}, tokenized read {:?}",
            scanned.as_ref().map(|p| &p.unique_name).map_err(|e| e.to_string()),
            tokenized.map(|p| p.unique_name).map_err(|e| e.to_string())
        ),
    }
    match (read, alone) {
        (Ok(package), Ok(alone)) => {
            let json = serde_json::to_string(&package).expect("a package serializes");
            let alone = serde_json::to_string(&alone).expect("a package serializes");
            assert_eq!(json, alone, "threaded and single-thread reads differ");
        }
        (Err(error), Err(alone)) => {
            let text = error.to_string();
            assert!(!text.contains('\n'), "multi-line error: {text}");
            assert!(!error.code().is_empty());
            assert_eq!(text, alone.to_string(), "threaded and single-thread errors differ");
        }
        (read, alone) => panic!(
            "threaded read {:?}, single-thread read {:?}",
            read.map(|p| p.unique_name),
            alone.map(|p| p.unique_name)
        ),
    }
});
