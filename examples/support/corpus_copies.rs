//! Shared by the benchmark examples: real corpus exports copied with their solution renamed
//! (and optionally re-versioned), so each copy has its own bytes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const SOURCES: &[&str] = &[
    "powerapps-tools/PowerPlatformAdmin_1_0_0_40.zip",
    "SparkleXrm/SparkleXrm_0_1_2_managed.zip",
    "pnp-powerplatform-samples/IncidentReporting_1_0_0_4.zip",
    "pnp-powerplatform-samples/GymMembershipRegistration_1_0_0_2.zip",
    "PowerApps-Samples/WebAPIBasicOperations_1_0_0_1_managed.zip",
    "PowerApps-Samples/Success_1_1_0_0.zip",
    "powerapps-tools/CenterofExcellenceAuditComponents_1_21_managed.zip",
    "pnp-powerplatform-samples/ShopSenseSolutions_1_0_0_4.zip",
];

pub fn corpus() -> PathBuf {
    std::env::var_os("SOLGUARD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

pub fn find(corpus: &Path, relative: &str) -> Option<PathBuf> {
    let direct = corpus.join(relative);
    if direct.is_file() {
        return Some(direct);
    }
    // Fall back to the file name anywhere in the corpus.
    let name = Path::new(relative).file_name()?;
    let mut stack = vec![corpus.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name() == Some(name) {
                return Some(path);
            }
        }
    }
    None
}

/// A copy of `source` whose solution unique name is prefixed with `prefix` and, when given,
/// whose version is `version`.
pub fn renamed_copy(
    source: &Path,
    prefix: &str,
    version: Option<&str>,
    to: &Path,
) -> zip::result::ZipResult<()> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(source)?)?;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(to)?);
    for index in 0..archive.len() {
        let name = archive.by_index_raw(index)?.name()?.into_owned();
        if name.eq_ignore_ascii_case("solution.xml") {
            let mut xml = Vec::new();
            archive.by_index(index)?.read_to_end(&mut xml)?;
            let marker = b"<UniqueName>";
            if let Some(at) = xml.windows(marker.len()).position(|w| w == marker) {
                let insert = at + marker.len();
                xml.splice(insert..insert, prefix.bytes());
            }
            if let Some(version) = version {
                let (open, close) = (b"<Version>", b"</Version>");
                let start = xml.windows(open.len()).position(|w| w == open);
                let end = xml.windows(close.len()).position(|w| w == close);
                if let (Some(start), Some(end)) = (start, end) {
                    xml.splice(start + open.len()..end, version.bytes());
                }
            }
            writer.start_file(name, zip::write::SimpleFileOptions::default())?;
            writer.write_all(&xml)?;
        } else {
            writer.raw_copy_file(archive.by_index_raw(index)?)?;
        }
    }
    writer.finish()?;
    Ok(())
}
