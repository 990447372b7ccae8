//! Fuzzes the scanner that skips subtrees no check reads: any bytes as a `customizations.xml`
//! must read to the same model (line numbers included) whether skipped elements are scanned
//! past or tokenized, or be refused both ways with the same error code.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use solguard::package::{read_package_with, ReadLimits};

const SOLUTION: &str = r#"<ImportExportXml version="9.2.24101.200"><SolutionManifest><UniqueName>Fuzz</UniqueName><Version>1.0.0.0</Version><Managed>0</Managed><Publisher><UniqueName>fuzz</UniqueName><CustomizationPrefix>fz</CustomizationPrefix></Publisher></SolutionManifest></ImportExportXml>"#;
const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>"#;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("fuzz");
    if std::fs::create_dir_all(&path).is_err() {
        return;
    }
    let files = [
        ("solution.xml", SOLUTION.as_bytes()),
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("customizations.xml", data),
    ];
    for (name, bytes) in files {
        let Ok(mut file) = std::fs::File::create(path.join(name)) else {
            return;
        };
        if file.write_all(bytes).is_err() {
            return;
        }
    }
    let read = |scan_skipped| {
        let limits = ReadLimits {
            scan_skipped,
            max_xml_token_bytes: 64 << 10,
            ..ReadLimits::default()
        };
        read_package_with(&path, &limits).map(|p| serde_json::to_string(&p).expect("serializes"))
    };
    match (read(true), read(false)) {
        (Ok(scanned), Ok(tokenized)) => assert_eq!(scanned, tokenized, "the models differ"),
        (Err(scanned), Err(tokenized)) => assert_eq!(
            scanned.code(),
            tokenized.code(),
            "scanned: {scanned}; tokenized: {tokenized}"
        ),
        (scanned, tokenized) => panic!(
            "scanned {:?}, tokenized {:?}",
            scanned.map(|_| "a model").map_err(|e| e.to_string()),
            tokenized.map(|_| "a model").map_err(|e| e.to_string())
        ),
    }
});
