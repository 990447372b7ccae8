//! Errors from reading a package: each names the package, the file inside it and, for XML, the
//! line and column, and says in one line what is wrong and what the user can do.

use std::fmt;
use std::path::{Path, PathBuf};

/// What a zip that is not a solution export looks like instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonSolutionKind {
    /// Configuration Migration tool data (`data.xml` + `data_schema.xml`).
    ConfigurationMigrationData,
    /// Package Deployer package (`PkgAssets`, nested solution zips and DLLs).
    PackageDeployer,
    /// Legacy canvas app / flow export (`manifest.json`, `Microsoft.PowerApps/…`).
    LegacyAppExport,
    /// An unpacked SolutionPackager tree that was zipped (`Other/Solution.xml`).
    ZippedSourceTree,
    /// A zip of solution zips (a bundle): the names of the inner zips.
    SolutionBundle(Vec<String>),
    /// Nothing recognisable: a few of its entry names.
    Unknown(Vec<String>),
}

impl fmt::Display for NonSolutionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConfigurationMigrationData => f.write_str(
                "it is a Configuration Migration data package (data.xml + data_schema.xml), not a solution; import it with the Configuration Migration tool or Package Deployer",
            ),
            Self::PackageDeployer => f.write_str(
                "it is a Package Deployer package, not a solution; check the solution zips inside it",
            ),
            Self::LegacyAppExport => f.write_str(
                "it is a legacy canvas app / flow export package (manifest.json), not a solution",
            ),
            Self::ZippedSourceTree => f.write_str(
                "it is a zipped SolutionPackager source tree (Other/Solution.xml); pack it with `pac solution pack` first, or point solguard at the unzipped folder",
            ),
            Self::SolutionBundle(inner) => write!(
                f,
                "it is a bundle of {} zip files ({}), not a solution; check each inner solution zip",
                inner.len(),
                preview(inner)
            ),
            Self::Unknown(names) => write!(
                f,
                "no solution.xml at the root; entries start with {}",
                preview(names)
            ),
        }
    }
}

fn preview(names: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(", … {} more", names.len() - SHOWN));
    }
    text
}

/// What went wrong; [`PackageError`] adds where.
#[derive(Debug, thiserror::Error)]
pub enum PackageErrorKind {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("no such file or folder")]
    NotFound,
    #[error(
        "not a zip archive ({0}); expected a solution export .zip or an unpacked solution folder"
    )]
    NotAZip(String),
    #[error("corrupt or truncated zip archive: {0}")]
    CorruptZip(String),
    #[error("not a solution package: {0}")]
    NotASolution(NonSolutionKind),
    #[error("no solution manifest found: expected solution.xml, Other/Solution.xml or src/Other/Solution.xml")]
    NoManifestInFolder,
    #[error("missing {0}; Dataverse requires solution.xml, customizations.xml and [Content_Types].xml at the zip root")]
    MissingFile(String),
    #[error("entry name {0:?} points outside the package (absolute path or '..'); refusing a hostile archive")]
    UnsafeEntryName(String),
    #[error("the archive holds the same entry name more than once; refusing an ambiguous archive")]
    DuplicateEntry,
    #[error("the archive has {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("entry inflates to more than {limit} bytes (zip bomb guard)")]
    EntryTooLarge { limit: u64 },
    #[error("entry compresses {ratio}:1, more than the limit of {limit}:1 (zip bomb guard)")]
    CompressionRatio { ratio: u64, limit: u64 },
    #[error("package inflates to more than {limit} bytes in total (zip bomb guard)")]
    TotalTooLarge { limit: u64 },
    #[error("entry is encrypted; Dataverse cannot import password-protected packages")]
    Encrypted,
    #[error("entry uses unsupported compression {0}; Dataverse exports use Deflate or Stored")]
    UnsupportedCompression(String),
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("XML with a DOCTYPE or entity declarations is refused (never expanded); solution files have none")]
    Doctype,
    #[error("text encoding: {0}")]
    Encoding(String),
    #[error("XML nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("one XML tag or text run is larger than {0} bytes")]
    TokenTooLarge(usize),
    #[error("root element is <{found}>, expected <{expected}>")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    #[error("{0}")]
    Manifest(String),
    #[error(
        "{0:?} is a symbolic link to {1:?}, outside the package folder; refusing to follow it"
    )]
    SymlinkEscape(String, PathBuf),
    #[error("the folder holds more than {0} files")]
    TooManyFiles(usize),
    #[error("{0:?} is a folder, expected a file")]
    NotAFile(String),
    #[error("it is a {0}, not a regular file or a folder; only packages (zips or unpacked folders) are read")]
    SpecialFile(String),
}

impl PackageErrorKind {
    /// A stable kebab-case code for findings and reports.
    /// Every code [`PackageErrorKind::code`] gives, with what it means.
    pub const CODES: [(&'static str, &'static str); 20] = [
        ("io-error", "The file could not be read (permissions, a disk error, a file that changed while read)."),
        ("not-found", "No file or folder is at the path."),
        ("not-a-zip", "The file is not a zip archive: a solution export is a .zip (or an unpacked folder)."),
        ("corrupt-zip", "The zip is corrupt or truncated, e.g. a copy that did not finish."),
        ("not-a-solution", "The zip holds no solution: a Configuration Migration data package, a Package Deployer package, a legacy app export or a zip of solution zips, each named."),
        ("missing-manifest", "The folder holds no solution.xml, Other/Solution.xml or src/Other/Solution.xml."),
        ("missing-file", "solution.xml, customizations.xml or [Content_Types].xml is missing; Dataverse requires all three."),
        ("unsafe-entry-name", "An entry name is absolute or contains `..`: a hostile archive, refused."),
        ("duplicate-entry", "The archive holds the same entry name twice: ambiguous, refused."),
        ("too-many-entries", "The archive or folder holds more entries than the reader's limit."),
        ("zip-bomb", "An entry inflates past the size or compression-ratio limits (zip bomb guard)."),
        ("encrypted-entry", "An entry is encrypted; Dataverse cannot import password-protected packages."),
        ("unsupported-compression", "An entry uses a compression method other than Deflate or Stored."),
        ("malformed-xml", "A manifest file is not well-formed XML, nests too deep or holds a token past the limit."),
        ("xml-doctype", "A manifest file declares a DOCTYPE or entities: refused, never expanded (XML bombs)."),
        ("bad-encoding", "A manifest file's text is in an encoding it does not declare, or in none the reader knows."),
        ("invalid-manifest", "A manifest file has the wrong root element or lacks what a solution must state."),
        ("symlink-escape", "An unpacked folder holds a symbolic link to outside itself: not followed."),
        ("not-a-file", "A name that must be a file is a folder."),
        ("special-file", "The path is a FIFO, socket or device, not a package: never read (it would block)."),
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "io-error",
            Self::NotFound => "not-found",
            Self::NotAZip(_) => "not-a-zip",
            Self::CorruptZip(_) => "corrupt-zip",
            Self::NotASolution(_) => "not-a-solution",
            Self::NoManifestInFolder => "missing-manifest",
            Self::MissingFile(_) => "missing-file",
            Self::UnsafeEntryName(_) => "unsafe-entry-name",
            Self::DuplicateEntry => "duplicate-entry",
            Self::TooManyEntries { .. } | Self::TooManyFiles(_) => "too-many-entries",
            Self::EntryTooLarge { .. }
            | Self::CompressionRatio { .. }
            | Self::TotalTooLarge { .. } => "zip-bomb",
            Self::Encrypted => "encrypted-entry",
            Self::UnsupportedCompression(_) => "unsupported-compression",
            Self::Xml(_) | Self::TooDeep(_) | Self::TokenTooLarge(_) => "malformed-xml",
            Self::Doctype => "xml-doctype",
            Self::Encoding(_) => "bad-encoding",
            Self::WrongRoot { .. } | Self::Manifest(_) => "invalid-manifest",
            Self::SymlinkEscape(..) => "symlink-escape",
            Self::NotAFile(_) => "not-a-file",
            Self::SpecialFile(_) => "special-file",
        }
    }
}

/// An error reading a package, with where it happened. Boxed: errors are rare and results
/// are returned on every XML step.
#[derive(Debug)]
pub struct PackageError(Box<ErrorDetail>);

#[derive(Debug)]
struct ErrorDetail {
    path: PathBuf,
    file: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    kind: PackageErrorKind,
}

impl PackageError {
    pub fn new(path: &Path, kind: PackageErrorKind) -> Self {
        Self(Box::new(ErrorDetail {
            path: path.to_path_buf(),
            file: None,
            line: None,
            column: None,
            kind,
        }))
    }

    pub fn in_file(path: &Path, file: &str, kind: PackageErrorKind) -> Self {
        let mut error = Self::new(path, kind);
        error.0.file = Some(file.to_owned());
        error
    }

    pub fn at(mut self, line: u64, column: Option<u64>) -> Self {
        self.0.line = Some(line);
        self.0.column = column;
        self
    }

    /// The package (zip file or folder) as given.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The file inside the package, when the error is about one.
    pub fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }

    pub fn line(&self) -> Option<u64> {
        self.0.line
    }

    pub fn column(&self) -> Option<u64> {
        self.0.column
    }

    pub fn kind(&self) -> &PackageErrorKind {
        &self.0.kind
    }

    /// A stable kebab-case code for findings and reports.
    pub fn code(&self) -> &'static str {
        self.0.kind.code()
    }
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = &self.0;
        // Paths and entry names are the dropper's text, which may hold newlines or escapes.
        write!(f, "{}", crate::diagnostic::shown(&detail.path))?;
        if let Some(file) = &detail.file {
            write!(f, ": {}", crate::diagnostic::visible(file))?;
            if let Some(line) = detail.line {
                write!(f, ":{line}")?;
                if let Some(column) = detail.column {
                    write!(f, ":{column}")?;
                }
            }
        }
        // Messages quote source text at times; a report line must stay one line.
        let message = detail.kind.to_string();
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(f, ": {}", crate::diagnostic::visible(&message))
    }
}

impl std::error::Error for PackageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            PackageErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
