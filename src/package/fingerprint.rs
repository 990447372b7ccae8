//! What a watcher needs to know about a package before reading it: a content hash that names
//! the package by its bytes (the same bytes under another name hash the same), and whether a
//! zip is whole yet (its central directory, written last, reads).

use std::io::{self, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::open::open_regular;

/// Hex SHA-256 of a zip's bytes, or for a folder, of its files' relative paths and contents in
/// path order (symbolic links contribute their target text, never what they point to).
pub fn content_hash(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    if std::fs::metadata(path)?.is_dir() {
        hash_tree(path, path, &mut hasher)?;
    } else {
        io::copy(&mut open_regular(path)?, &mut hasher)?;
    }
    Ok(hex::encode(hasher.finalize()))
}

fn hash_tree(root: &Path, dir: &Path, hasher: &mut Sha256) -> io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let kind = entry.file_type()?;
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        if kind.is_symlink() {
            hasher.update(b"link:");
            hasher.update(std::fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else if kind.is_dir() {
            hash_tree(root, &path, hasher)?;
        } else if kind.is_file() {
            let mut file_hasher = Sha256::new();
            io::copy(&mut open_regular(&path)?, &mut file_hasher)?;
            hasher.update(file_hasher.finalize());
        } else {
            // A FIFO or socket inside a tree is never opened (it would block); its kind counts.
            hasher.update(b"special:");
            hasher.update(super::special_kind(&kind).as_bytes());
        }
        hasher.update([0]);
    }
    Ok(())
}

/// Whether a file looks fully written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completeness {
    /// Whole, or not a zip at all (reading it will say what it is).
    Complete,
    /// Still empty, or a zip whose central directory does not read yet.
    Incomplete(String),
}

/// Checks a file the cheap way: its first bytes, and for a zip its central directory.
pub fn completeness(path: &Path) -> io::Result<Completeness> {
    let mut file = open_regular(path)?;
    let mut magic = [0u8; 4];
    let read = file.by_ref().take(4).read(&mut magic)?;
    if read == 0 {
        return Ok(Completeness::Incomplete("the file is empty".into()));
    }
    if !magic.starts_with(b"PK") {
        return Ok(Completeness::Complete);
    }
    let archive = zip::ZipArchive::new(BufReader::new(file));
    Ok(match archive {
        Ok(_) => Completeness::Complete,
        Err(error) => Completeness::Incomplete(format!("the zip does not read yet: {error}")),
    })
}
