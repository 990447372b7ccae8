//! Reading one package the reader's three ways and holding them to one another: tokenized
//! (every byte through quick-xml: the reference), and skip-scanned with the inflate on a
//! background thread or on the reading one (buffers and chunks then end in different places).

use std::path::{Path, PathBuf};

use solguard::package::{read_package_with, ReadLimits};

use super::ZipBuilder;

/// The default limits, skipped subtrees scanned or tokenized.
pub fn limits(scan_skipped: bool) -> ReadLimits {
    ReadLimits {
        scan_skipped,
        ..ReadLimits::default()
    }
}

/// Skip-scanned reads with the inflate on a background thread and on the reading one.
pub fn scanned_ways() -> [ReadLimits; 2] {
    [
        ReadLimits {
            background_inflate_bytes: 4 << 10,
            ..limits(true)
        },
        ReadLimits {
            background_inflate_bytes: u64::MAX,
            ..limits(true)
        },
    ]
}

/// One read: the model as JSON (locations included), or the refusal's code and full text.
pub fn read_as_text(path: &Path, limits: &ReadLimits) -> Result<String, String> {
    read_package_with(path, limits)
        .map(|p| serde_json::to_string(&p).expect("serializes"))
        .map_err(|e| format!("{}: {e}", e.code()))
}

/// The tokenized read of `path` under `base` (with `scan_skipped` set each way), after checking
/// that both skip-scanned reads give the very same model or the very same refusal.
pub fn read_alike(path: &Path, base: &ReadLimits, label: &str) -> Result<String, String> {
    let with = |ways: &ReadLimits| ReadLimits {
        scan_skipped: ways.scan_skipped,
        background_inflate_bytes: ways.background_inflate_bytes,
        ..base.clone()
    };
    let tokenized = read_as_text(path, &with(&limits(false)));
    for ways in scanned_ways() {
        let scanned = read_as_text(path, &with(&ways));
        assert!(
            scanned == tokenized,
            "{label}: scanned {scanned:?}\n  tokenized {tokenized:?}"
        );
    }
    tokenized
}

/// The tokenized read's refusal of `path`, after checking that both skip-scanned reads refuse
/// it in the very same words and place.
pub fn refused_alike(path: &Path, label: &str) -> String {
    read_alike(path, &ReadLimits::default(), label)
        .expect_err("refused")
        .split_once(": ")
        .map(|(_, text)| text.to_owned())
        .unwrap_or_default()
}

/// The `customizations.xml` bytes of a generated zip.
pub fn customizations_of(path: &Path) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    let mut entry = archive.by_name("customizations.xml").expect("entry");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut bytes).expect("inflate");
    bytes
}

/// `xml` with its `@` marker replaced by `damage`, written as the package `name` in `dir`.
pub fn damaged_package(dir: &Path, xml: &str, damage: &[u8], name: &str) -> PathBuf {
    let mut bytes = xml.as_bytes().to_vec();
    let at = bytes.iter().position(|b| *b == b'@').expect("marker");
    bytes.splice(at..=at, damage.iter().copied());
    ZipBuilder::solution()
        .file("customizations.xml", bytes)
        .write(dir, name)
}
