//! Report files: names that say what they hold, and atomic writes (a temporary file in the same
//! folder, synced, then renamed) so a reader never sees half a report and a crash leaves either
//! the old file or the new one.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Assessment;

/// Hex digits of the content hash in a report's name: 64 bits, which no brute force on a
/// drop folder matches (8 digits were matched in minutes).
pub const STEM_HASH_DIGITS: usize = 16;

/// `Solution_1.2.3.4_ab12cd34ef567890` for a readable package, `file-name_ab12…` otherwise;
/// only characters safe in file names on every platform.
pub fn report_stem(package: &Assessment, content_hash: &str) -> String {
    report_stem_with(package, content_hash, STEM_HASH_DIGITS)
}

/// [`report_stem`] with `digits` hex digits of the hash.
pub fn report_stem_with(package: &Assessment, content_hash: &str, digits: usize) -> String {
    let short = &content_hash[..content_hash.len().min(digits)];
    let base = match (&package.unique_name, &package.version) {
        (Some(name), Some(version)) => format!("{name}_{version}"),
        _ => package
            .path
            .file_name()
            .map_or_else(|| "package".into(), |n| n.to_string_lossy().into_owned()),
    };
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .take(120)
        .collect();
    format!("{}_{short}", safe.trim_start_matches('.'))
}

/// Writes `bytes` to `path` atomically, creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir: PathBuf = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".solguard-").suffix(".tmp");
    // Reports are for a team: readable like any file this process creates, not owner-only
    // as temporary files are.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut file = builder.tempfile_in(&dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
