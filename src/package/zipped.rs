//! Reads a solution package from a `.zip` export without extracting anything to disk.
//!
//! Only the central directory and the two manifest entries (`solution.xml`,
//! `customizations.xml`) are read; other entries are counted by name. Entry names that point
//! outside the package, duplicate names, encrypted entries and zip bombs are refused before a
//! byte is inflated. A zip that is not a solution says what it looks like instead.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::AtomicU64;

use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::customizations::{parse_customizations, Components};
use super::error::{NonSolutionKind, PackageError, PackageErrorKind};
use super::limits::{GuardedRead, ReadLimits};
use super::manifest::{parse_manifest, Manifest};
use super::model::{ExportTime, Layout, PackageWarning, Source, SourceKind};
use super::open::{open_error, open_regular, read_all_at};
use super::pipe;
use super::variables::{
    parse_definition_file, ships_value, unreadable_values, MAX_VALUES_FILE_BYTES,
};
use super::xml::{FileContext, XmlStream};

/// What the zip reader hands to the package assembler.
pub(crate) struct ZipRead {
    pub source: Source,
    pub exported_at: Option<ExportTime>,
    pub manifest: Manifest,
    pub components: Components,
    pub warnings: Vec<PackageWarning>,
}

const ZIP_MAGIC: [&[u8]; 3] = [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"];

pub(crate) fn read_zip(path: &Path, limits: &ReadLimits) -> Result<ZipRead, PackageError> {
    let fail = |kind| PackageError::new(path, kind);
    let mut file = open_regular(path).map_err(|e| fail(open_error(e)))?;
    let mut magic = [0u8; 4];
    let magic_len = read_up_to(&mut file, &mut magic).map_err(|e| fail(e.into()))?;
    if !ZIP_MAGIC.contains(&&magic[..magic_len]) {
        return Err(fail(PackageErrorKind::NotAZip(describe_non_zip(
            &magic[..magic_len],
        ))));
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| fail(e.into()))?;
    let length = file.metadata().map_err(|e| fail(e.into()))?.len();
    if length < limits.background_hash_bytes {
        let (sha256, size) = hash_file(&mut file).map_err(|e| fail(e.into()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| fail(e.into()))?;
        return read_archive(file, path, limits, sha256, size);
    }
    // The hash of a large zip is computed on a second thread while the entries are read, from
    // the same open file (positional reads), so the bytes hashed are the bytes parsed even if
    // the path is renamed over meanwhile.
    let second = file.try_clone().map_err(|e| fail(e.into()))?;
    std::thread::scope(|scope| {
        let hashing = scope.spawn(move || hash_at(&second));
        let read = read_archive(file, path, limits, String::new(), 0);
        let hashed = hashing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread failed")));
        let mut read = read?;
        let (sha256, size) = hashed.map_err(|e| fail(e.into()))?;
        read.source.sha256 = Some(sha256);
        read.source.size_bytes = Some(size);
        Ok(read)
    })
}

fn read_archive(
    file: File,
    path: &Path,
    limits: &ReadLimits,
    sha256: String,
    size: u64,
) -> Result<ZipRead, PackageError> {
    let fail = |kind| PackageError::new(path, kind);
    let mut archive = ZipArchive::new(BufReader::new(file))
        .map_err(|e| fail(PackageErrorKind::CorruptZip(zip_message(&e))))?;
    if archive.len() > limits.max_entries {
        return Err(fail(PackageErrorKind::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        }));
    }
    let names = entry_names(&archive).map_err(fail)?;
    let exported_at = export_time(&archive);
    if archive.has_duplicate_names() {
        return Err(fail(PackageErrorKind::DuplicateEntry));
    }
    if let Some(directory) = names
        .iter()
        .find(|n| n.trim_end_matches('/').eq_ignore_ascii_case("solution.xml") && n.ends_with('/'))
    {
        let kind = PackageErrorKind::NotAFile(directory.clone());
        return Err(PackageError::in_file(path, directory, kind));
    }

    let mut warnings = Vec::new();
    let (root, manifest_name) = locate_manifest(&names).ok_or_else(|| {
        fail(PackageErrorKind::NotASolution(classify_non_solution(
            &names,
        )))
    })?;
    if !root.is_empty() {
        warnings.push(PackageWarning {
            code: "solution-not-at-root".into(),
            message: format!(
                "solution.xml is inside the folder {root:?}; Dataverse rejects this import: \
                 solution.xml, customizations.xml and [Content_Types].xml must be at the zip root"
            ),
            file: Some(manifest_name.clone()),
        });
    }
    if manifest_name != format!("{root}solution.xml") {
        warnings.push(PackageWarning {
            code: "manifest-name-case".into(),
            message: format!(
                "the manifest is named {manifest_name:?}; Dataverse exports name it solution.xml"
            ),
            file: Some(manifest_name.clone()),
        });
    }
    let customizations_name = find_entry(&names, &root, "customizations.xml").ok_or_else(|| {
        fail(PackageErrorKind::MissingFile(format!(
            "{root}customizations.xml"
        )))
    })?;
    if find_entry(&names, &root, "[Content_Types].xml").is_none() {
        warnings.push(PackageWarning {
            code: "missing-content-types".into(),
            message: format!(
                "{root}[Content_Types].xml is missing; Dataverse rejects a solution zip without it"
            ),
            file: None,
        });
    }

    let inflated = AtomicU64::new(0);
    let mut entries = EntryReader {
        archive: &mut archive,
        path,
        limits,
        inflated: &inflated,
    };
    let manifest = entries.parse(&manifest_name, parse_manifest)?;
    let mut components = Components::default();
    entries.parse(&customizations_name, |xml| {
        parse_customizations(xml, &mut components)
    })?;
    components.at_least(
        "environment_variables",
        count_subfolders(&names, &format!("{root}environmentvariabledefinitions/")),
    );
    read_variable_files(&mut entries, &names, &root, &mut components, &mut warnings)?;

    Ok(ZipRead {
        exported_at,
        source: Source {
            path: path.to_path_buf(),
            kind: SourceKind::Zip,
            layout: if root.is_empty() {
                Layout::ZipExport
            } else {
                Layout::ZipNested
            },
            root: root.trim_end_matches('/').to_owned(),
            sha256: Some(sha256),
            size_bytes: Some(size),
        },
        manifest,
        components,
        warnings,
    })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn hash_at(file: &File) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let size = read_all_at(file, |piece| hasher.update(piece))?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn hash_file(file: &mut File) -> io::Result<(String, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let size = io::copy(file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn describe_non_zip(magic: &[u8]) -> String {
    match magic {
        [] => "the file is empty".into(),
        [b'<', ..] | [0xEF, 0xBB, 0xBF, ..] => {
            "it is a text or XML file; give the solution .zip or the folder that holds it".into()
        }
        [0x1F, 0x8B, ..] => "it is a gzip file".into(),
        [b'R', b'a', b'r', b'!'] => "it is a RAR archive".into(),
        [b'7', b'z', ..] => "it is a 7-Zip archive".into(),
        _ => "it does not start with a zip signature".into(),
    }
}

fn zip_message(error: &ZipError) -> String {
    match error {
        ZipError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "the file ends early (truncated download or copy?)".into()
        }
        other => other.to_string(),
    }
}

/// The export time: the newest entry timestamp in the central directory (hand-repacked zips
/// can carry a range; the newest entry is when the package was last made).
fn export_time<R: Read + Seek>(archive: &ZipArchive<R>) -> Option<ExportTime> {
    (0..archive.len())
        .filter_map(|index| archive.by_index_data(index).ok()?.last_modified())
        .filter_map(ExportTime::from_zip)
        .max()
}

/// All entry names, refusing any that would escape a folder if it were extracted.
fn entry_names<R: Read + Seek>(archive: &ZipArchive<R>) -> Result<Vec<String>, PackageErrorKind> {
    let mut names = Vec::with_capacity(archive.len());
    for name in archive.file_names_raw() {
        let name = String::from_utf8_lossy(name).into_owned();
        if is_unsafe_entry_name(&name) {
            return Err(PackageErrorKind::UnsafeEntryName(name));
        }
        names.push(name);
    }
    Ok(names)
}

fn is_unsafe_entry_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let absolute = name.starts_with('/') || name.starts_with('\\');
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    absolute || drive || name.split(['/', '\\']).any(|part| part == "..") || name.contains('\0')
}

/// Finds `wanted` directly in the folder `root` (`""` or `"Folder/"`), exact case first.
fn find_entry(names: &[String], root: &str, wanted: &str) -> Option<String> {
    let exact = format!("{root}{wanted}");
    if names.contains(&exact) {
        return Some(exact);
    }
    names
        .iter()
        .find(|name| {
            name.len() == exact.len()
                && name.starts_with(root)
                && name[root.len()..].eq_ignore_ascii_case(wanted)
        })
        .cloned()
}

/// The folder holding the manifest (`""` for the root, else one folder deep) and its entry name.
fn locate_manifest(names: &[String]) -> Option<(String, String)> {
    if let Some(name) = find_entry(names, "", "solution.xml") {
        return Some((String::new(), name));
    }
    let mut folders: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let (folder, file) = name.split_once('/')?;
            // `Other/Solution.xml` is a zipped SolutionPackager tree, not a nested export.
            let source_tree = folder.eq_ignore_ascii_case("Other");
            (!source_tree && !file.contains('/') && file.eq_ignore_ascii_case("solution.xml"))
                .then(|| format!("{folder}/"))
        })
        .collect();
    folders.sort();
    let root = folders.into_iter().next()?;
    let name = find_entry(names, &root, "solution.xml")?;
    Some((root, name))
}

fn classify_non_solution(names: &[String]) -> NonSolutionKind {
    let has = |wanted: &str| names.iter().any(|n| n.eq_ignore_ascii_case(wanted));
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    if has("data.xml") && has("data_schema.xml") {
        return NonSolutionKind::ConfigurationMigrationData;
    }
    if lower
        .iter()
        .any(|n| n.starts_with("other/solution.xml") || n.contains("/other/solution.xml"))
    {
        return NonSolutionKind::ZippedSourceTree;
    }
    if lower
        .iter()
        .any(|n| n.starts_with("pkgassets/") || n.contains("/pkgassets/") || n.ends_with(".pdpkg"))
    {
        return NonSolutionKind::PackageDeployer;
    }
    if has("manifest.json")
        && lower
            .iter()
            .any(|n| n.starts_with("microsoft.powerapps/") || n.starts_with("microsoft.flow/"))
    {
        return NonSolutionKind::LegacyAppExport;
    }
    let files: Vec<&String> = names.iter().filter(|n| !n.ends_with('/')).collect();
    let zips: Vec<String> = files
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".zip"))
        .map(|n| (*n).clone())
        .collect();
    if !zips.is_empty() && zips.len() * 2 >= files.len() {
        return NonSolutionKind::SolutionBundle(zips);
    }
    NonSolutionKind::Unknown(names.iter().take(8).cloned().collect())
}

/// Environment variable definitions kept one per folder
/// (`environmentvariabledefinitions/<schema>/environmentvariabledefinition.xml`), each with
/// whether a current value ships beside it.
fn read_variable_files<R: Read + Seek + Send>(
    entries: &mut EntryReader<'_, R>,
    names: &[String],
    root: &str,
    components: &mut Components,
    warnings: &mut Vec<PackageWarning>,
) -> Result<(), PackageError> {
    let prefix = format!("{root}environmentvariabledefinitions/").to_ascii_lowercase();
    for name in names {
        let lower = name.to_ascii_lowercase();
        let Some(folder) = lower
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix("/environmentvariabledefinition.xml"))
        else {
            continue;
        };
        if folder.contains('/') {
            continue;
        }
        let Some(mut variable) = entries.parse(name, parse_definition_file)? else {
            continue;
        };
        let values_name = format!(
            "{}environmentvariablevalues.json",
            &name[..name.len() - "environmentvariabledefinition.xml".len()]
        );
        if let Some(values) = names.iter().find(|n| n.eq_ignore_ascii_case(&values_name)) {
            match entries.read_small(values, MAX_VALUES_FILE_BYTES)? {
                Some(bytes) => match ships_value(&bytes) {
                    Ok(ships) => variable.has_value = ships,
                    Err(error) => warnings.push(unreadable_values(values, &error)),
                },
                None => warnings.push(unreadable_values(values, "larger than 1 MiB")),
            }
        }
        components.environment_variables.push(variable);
    }
    Ok(())
}

/// Number of distinct subfolders directly under `prefix`.
fn count_subfolders(names: &[String], prefix: &str) -> u64 {
    let mut folders: Vec<&str> = names
        .iter()
        .filter_map(|name| {
            let rest = name.strip_prefix(prefix)?;
            let (folder, _) = rest.split_once('/')?;
            (!folder.is_empty()).then_some(folder)
        })
        .collect();
    folders.sort_unstable();
    folders.dedup();
    folders.len() as u64
}

/// Opens entries for parsing with every zip-bomb guard in place.
struct EntryReader<'a, R: Read + Seek> {
    archive: &'a mut ZipArchive<R>,
    path: &'a Path,
    limits: &'a ReadLimits,
    inflated: &'a AtomicU64,
}

impl<R: Read + Seek + Send> EntryReader<'_, R> {
    /// Opens entry `name` for reading once every guard accepts it; the read is bounded by the
    /// entry and package limits. Also returns the size the entry declares.
    fn open(
        &mut self,
        name: &str,
    ) -> Result<(GuardedRead<'_, zip::read::ZipFile<'_, R>>, FileContext, u64), PackageError> {
        let context = FileContext::new(self.path, name);
        let entry = self.archive.by_name(name).map_err(|e| {
            context.error(match e {
                ZipError::UnsupportedArchive(message) if message.contains("assword") => {
                    PackageErrorKind::Encrypted
                }
                ZipError::CompressionMethodNotSupported(method) => {
                    PackageErrorKind::UnsupportedCompression(format!("method {method}"))
                }
                ZipError::UnsupportedArchive(message) => {
                    PackageErrorKind::UnsupportedCompression(message.to_owned())
                }
                other => PackageErrorKind::CorruptZip(zip_message(&other)),
            })
        })?;
        if entry.is_dir() {
            return Err(context.error(PackageErrorKind::NotAFile(name.to_owned())));
        }
        if entry.encrypted() {
            return Err(context.error(PackageErrorKind::Encrypted));
        }
        let method = entry.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated | CompressionMethod::Deflate64
        ) {
            return Err(
                context.error(PackageErrorKind::UnsupportedCompression(format!(
                    "{method}"
                ))),
            );
        }
        let declared = entry.size();
        if declared > self.limits.max_entry_bytes {
            return Err(context.error(PackageErrorKind::EntryTooLarge {
                limit: self.limits.max_entry_bytes,
            }));
        }
        let compressed = entry.compressed_size().max(1);
        if declared > self.limits.ratio_floor_bytes
            && declared / compressed > self.limits.max_compression_ratio
        {
            return Err(context.error(PackageErrorKind::CompressionRatio {
                ratio: declared / compressed,
                limit: self.limits.max_compression_ratio,
            }));
        }
        let guarded = GuardedRead::new(entry, self.limits, self.inflated);
        Ok((guarded, context, declared))
    }

    fn parse<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&mut XmlStream<'_>) -> Result<T, PackageError>,
    ) -> Result<T, PackageError> {
        let limits = self.limits;
        let (guarded, context, declared) = self.open(name)?;
        if declared < limits.background_inflate_bytes {
            let mut xml = XmlStream::open(guarded, context, limits)?;
            return parse(&mut xml);
        }
        std::thread::scope(|scope| {
            let mut xml = XmlStream::open(pipe::spawn(scope, guarded), context, limits)?;
            parse(&mut xml)
        })
    }

    /// The bytes of a small entry, at most `cap` of them (`Ok(None)` past that).
    fn read_small(&mut self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, PackageError> {
        let (guarded, context, _) = self.open(name)?;
        super::open::read_capped(guarded, cap)
            .map_err(|e| context.error(super::xml::read_failure(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_entry_names_are_recognised() {
        for name in [
            "../evil.xml",
            "a/../../b",
            "/etc/passwd",
            "\\windows\\x",
            "C:/x",
            "a\\..\\b",
        ] {
            assert!(is_unsafe_entry_name(name), "{name}");
        }
        for name in [
            "solution.xml",
            "WebResources/a..b.js",
            "Controls/x/bundle.js",
            "[Content_Types].xml",
        ] {
            assert!(!is_unsafe_entry_name(name), "{name}");
        }
    }

    #[test]
    fn manifest_is_found_at_the_root_before_a_nested_one() {
        let names: Vec<String> = ["x/solution.xml", "solution.xml"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            locate_manifest(&names),
            Some((String::new(), "solution.xml".into()))
        );
        let nested: Vec<String> = ["kv/solution.xml", "kv/customizations.xml"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            locate_manifest(&nested),
            Some(("kv/".into(), "kv/solution.xml".into()))
        );
    }
}
