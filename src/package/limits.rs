//! Resource limits for reading one package: what keeps a hostile file from exhausting memory,
//! disk or time. All limits live here so they can be reviewed and tuned in one place.

use std::io;

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
