//! Fuzzes the zip + manifest + customizations reader: any bytes as a `.zip` must give a package
//! or a one-line error with a stable code, never a panic or a hang.
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
    // Small limits keep each run fast; the guards are the same code at any size.
    let limits = ReadLimits {
        max_entry_bytes: 4 << 20,
        max_total_bytes: 8 << 20,
        ..ReadLimits::default()
    };
    match read_package_with(file.path(), &limits) {
        Ok(package) => {
            let _ = serde_json::to_string(&package);
        }
        Err(error) => {
            let text = error.to_string();
            assert!(!text.contains('\n'), "multi-line error: {text}");
            assert!(!error.code().is_empty());
        }
    }
});
