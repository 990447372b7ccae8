//! Opening package files safely: only regular files are read. A FIFO, socket or device named
//! like a package would block a reader forever (or read endless bytes), so files are opened
//! without blocking and checked on the open handle (`fstat`), which also closes the race of a
//! path swapped between a check and the open.

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::path::Path;

use super::error::PackageErrorKind;

/// What a special file is, for messages.
pub fn special_kind(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "named pipe (FIFO)";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    if file_type.is_dir() {
        return "folder";
    }
    if file_type.is_symlink() {
        return "symbolic link";
    }
    "special file"
}

/// Why [`open_regular`] refused a path: what it is instead of a regular file.
#[derive(Debug, thiserror::Error)]
#[error("it is a {0}, not a regular file")]
struct NotRegular(&'static str);

fn not_regular(file_type: &FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegular(special_kind(file_type)),
    )
}

/// The reader's error for a failed open: a special file says what it is; anything else is an
/// I/O error.
pub(crate) fn open_error(error: io::Error) -> PackageErrorKind {
    match error.get_ref().and_then(|e| e.downcast_ref::<NotRegular>()) {
        Some(NotRegular(kind)) => PackageErrorKind::SpecialFile((*kind).to_owned()),
        None => PackageErrorKind::Io(error),
    }
}

/// Opens `path` for reading if it is a regular file, never blocking on a FIFO or a device.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Without O_NONBLOCK, opening a FIFO waits for a writer that may never come.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(not_regular(&file_type));
    }
    Ok(file)
}

/// Reads all of `file` from offset 0 without moving its position (another reader may share
/// the handle's description), feeding each piece to `sink`; returns the bytes read.
pub fn read_all_at(file: &File, mut sink: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buffer = vec![0u8; 256 << 10];
    let mut offset = 0u64;
    loop {
        #[cfg(unix)]
        let read = std::os::unix::fs::FileExt::read_at(file, &mut buffer, offset);
        #[cfg(windows)]
        let read = std::os::windows::fs::FileExt::seek_read(file, &mut buffer, offset);
        match read {
            Ok(0) => return Ok(offset),
            Ok(n) => {
                sink(&buffer[..n]);
                offset += n as u64;
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// At most `limit` bytes from `reader`: `None` when there are more (the excess is never
/// read into memory).
pub(crate) fn read_capped(reader: impl io::Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// The text of a regular file of at most `limit` bytes (config, snapshots, settings files):
/// a special file or a larger file is an error, never a hang or an unbounded read.
pub fn read_text_file(path: &Path, limit: u64) -> io::Result<String> {
    let bytes = read_capped(open_regular(path)?, limit)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB", limit >> 20),
        )
    })?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
