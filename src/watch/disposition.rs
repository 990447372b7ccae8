//! Moves a package out of the drop folder by verdict. A move is one atomic rename that never
//! replaces an existing file: on a name clash the package gets a numbered suffix
//! (`Name (2).zip`). Nothing is ever deleted.

use std::io;
use std::path::{Path, PathBuf};

/// Moves `path` into `dest_dir` (created if needed) and returns where it went.
pub fn move_into(path: &Path, dest_dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dest_dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let name = Path::new(name);
    let stem = name.file_stem().unwrap_or_default().to_string_lossy();
    let extension = name
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for attempt in 1..=10_000u32 {
        let candidate = if attempt == 1 {
            dest_dir.join(name)
        } else {
            dest_dir.join(format!("{stem} ({attempt}){extension}"))
        };
        match rename_no_replace(path, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{}: 10,000 names already taken", dest_dir.display()),
    ))
}

#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without RENAME_NOREPLACE (some network shares): check, then rename.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => checked_rename(from, to),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    checked_rename(from, to)
}

fn checked_rename(from: &Path, to: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    std::fs::rename(from, to)
}
