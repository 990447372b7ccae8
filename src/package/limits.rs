//! Resource limits for reading one package: what keeps a hostile file from exhausting memory,
//! disk or time. All limits live here so they can be reviewed and tuned in one place, with
//! the reader that enforces them on every inflated byte and the errors it raises.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits applied while reading a package.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Most bytes inflated from one zip entry (the declared size is not trusted).
    pub max_entry_bytes: u64,
    /// Most bytes inflated from all entries of one package together.
    pub max_total_bytes: u64,
    /// Highest uncompressed/compressed ratio accepted for an entry larger than
    /// `ratio_floor_bytes`. Real XML compresses about 10-60x; a zip bomb far more.
    pub max_compression_ratio: u64,
    /// Entries smaller than this are not checked for their ratio (tiny files compress oddly).
    pub ratio_floor_bytes: u64,
    /// Most entries in one zip archive.
    pub max_entries: usize,
    /// Deepest XML element nesting accepted. Dataverse XML is rarely deeper than 30.
    pub max_xml_depth: usize,
    /// Most bytes in one XML token (a tag with its attributes, or a run of text).
    pub max_xml_token_bytes: usize,
    /// Most files read from an unpacked folder.
    pub max_folder_files: usize,
    /// Not a limit but a threshold: entries declaring at least this many bytes inflate on a
    /// second thread while the first parses them (by default 4 MiB; below that the thread
    /// costs more than it saves). The result is the same either way.
    pub background_inflate_bytes: u64,
    /// Not a limit but a threshold: zips of at least this many bytes are hashed on a second
    /// thread while their entries are read (by default 1 MiB). The result is the same either way.
    pub background_hash_bytes: u64,
    /// Not a limit: elements no check reads are scanned past byte by byte (with every guard
    /// above) instead of tokenized. Off, the reader tokenizes everything; the model and the
    /// verdicts are the same either way (tests and the fuzz target compare the two).
    pub scan_skipped: bool,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_entry_bytes: 1 << 30,
            max_total_bytes: 2 << 30,
            max_compression_ratio: 300,
            ratio_floor_bytes: 1 << 20,
            max_entries: 200_000,
            max_xml_depth: 256,
            max_xml_token_bytes: 16 << 20,
            max_folder_files: 200_000,
            background_inflate_bytes: 4 << 20,
            background_hash_bytes: 1 << 20,
            scan_skipped: true,
        }
    }
}

/// Raised inside a reader when an entry inflates past a limit; mapped to a zip-bomb error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateGuard {
    Entry(u64),
    Total(u64),
}

impl std::fmt::Display for InflateGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Entry(limit) => write!(f, "entry inflates to more than {limit} bytes"),
            Self::Total(limit) => write!(f, "package inflates to more than {limit} bytes"),
        }
    }
}

impl std::error::Error for InflateGuard {}

impl InflateGuard {
    pub(crate) fn into_kind(self) -> super::error::PackageErrorKind {
        use super::error::PackageErrorKind;
        match self {
            Self::Entry(limit) => PackageErrorKind::EntryTooLarge { limit },
            Self::Total(limit) => PackageErrorKind::TotalTooLarge { limit },
        }
    }
}

/// Raised inside a reader when a zip entry's data cannot be inflated or fails its checksum;
/// mapped to a corrupt-zip error, whatever the inflater called it.
#[derive(Debug)]
pub(crate) struct DamagedEntry(pub io::Error);

impl std::fmt::Display for DamagedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the entry's data is damaged ({})", self.0)
    }
}

impl std::error::Error for DamagedEntry {}

/// Size of every read from an entry's inflater. Fixed so that where an entry turns out damaged
/// or too large depends only on the entry, never on the size of the reader's buffer: the zip
/// and deflate readers drop the bytes of a read that fails, so a bigger read would fail
/// earlier in the stream.
const INFLATE_PIECE_BYTES: usize = 64 << 10;

/// An entry's inflated bytes, read in fixed pieces, counted against the entry and package
/// limits whatever the entry's header declared; inflater failures become [`DamagedEntry`].
pub(crate) struct GuardedRead<'c, R> {
    inner: R,
    piece: Vec<u8>,
    pos: usize,
    filled: usize,
    read: u64,
    entry_limit: u64,
    total: &'c AtomicU64,
    total_limit: u64,
}

impl<'c, R: Read> GuardedRead<'c, R> {
    /// `total` counts the bytes inflated from every entry of the package.
    pub(crate) fn new(inner: R, limits: &ReadLimits, total: &'c AtomicU64) -> Self {
        Self {
            inner,
            piece: Vec::new(),
            pos: 0,
            filled: 0,
            read: 0,
            entry_limit: limits.max_entry_bytes,
            total,
            total_limit: limits.max_total_bytes,
        }
    }

    /// Reads one piece from the inflater into `into` (exactly one piece long).
    fn read_piece(&mut self, into: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(into) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return Err(error),
            Err(error) => return Err(io::Error::other(DamagedEntry(error))),
        };
        self.read += n as u64;
        let total = self.total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if self.read > self.entry_limit {
            return Err(io::Error::other(InflateGuard::Entry(self.entry_limit)));
        }
        if total > self.total_limit {
            return Err(io::Error::other(InflateGuard::Total(self.total_limit)));
        }
        Ok(n)
    }
}

impl<R: Read> Read for GuardedRead<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pos == self.filled {
            // A large enough buffer takes the piece directly, saving a copy.
            if out.len() >= INFLATE_PIECE_BYTES {
                return self.read_piece(&mut out[..INFLATE_PIECE_BYTES]);
            }
            let mut piece = std::mem::take(&mut self.piece);
            piece.resize(INFLATE_PIECE_BYTES, 0);
            let read = self.read_piece(&mut piece);
            self.piece = piece;
            self.pos = 0;
            self.filled = 0;
            self.filled = read?;
        }
        let n = (self.filled - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.piece[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like the zip and deflate readers: a read that reaches the damage fails whole.
    struct DamagedAt {
        data_len: usize,
        damage_at: usize,
        pos: usize,
    }

    impl Read for DamagedAt {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(self.data_len - self.pos);
            if self.pos + n > self.damage_at {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "damaged"));
            }
            out[..n].fill(b'x');
            self.pos += n;
            Ok(n)
        }
    }

    /// Bytes delivered before the read failed, and the failure.
    fn read_until_failure(buffer: usize, limits: &ReadLimits) -> (usize, String) {
        let total = AtomicU64::new(0);
        let inner = DamagedAt {
            data_len: 1 << 20,
            damage_at: 300_000,
            pos: 0,
        };
        let mut guarded = GuardedRead::new(inner, limits, &total);
        let mut out = vec![0; buffer];
        let mut delivered = 0;
        loop {
            match guarded.read(&mut out) {
                Ok(0) => return (delivered, "end".into()),
                Ok(n) => delivered += n,
                Err(error) => return (delivered, error.to_string()),
            }
        }
    }

    #[test]
    fn failures_land_at_the_same_byte_whatever_the_buffer() {
        let limits = ReadLimits::default();
        let expected = read_until_failure(7, &limits);
        assert_eq!(expected.0, 4 * INFLATE_PIECE_BYTES, "{expected:?}");
        assert!(expected.1.contains("damaged"), "{expected:?}");
        for buffer in [1, 256, 4096, 64 << 10, 100_000, 256 << 10] {
            assert_eq!(
                read_until_failure(buffer, &limits),
                expected,
                "buffer {buffer}"
            );
        }

        let guarded = ReadLimits {
            max_entry_bytes: 150_000,
            ..ReadLimits::default()
        };
        let expected = read_until_failure(7, &guarded);
        assert_eq!(expected.0, 2 * INFLATE_PIECE_BYTES, "{expected:?}");
        assert!(expected.1.contains("150000"), "{expected:?}");
        for buffer in [1, 4096, 64 << 10, 256 << 10] {
            assert_eq!(
                read_until_failure(buffer, &guarded),
                expected,
                "buffer {buffer}"
            );
        }
    }
}
