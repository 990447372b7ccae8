//! Solution zips inside a bundle zip (a release folder zipped with its solutions): an inner zip
//! is inflated into a temporary file, within the same size and ratio limits as any entry, and
//! read like a package of its own, its path shown as `bundle.zip/inner.zip`.

use std::io::{self, Read};
use std::path::Path;

use super::error::{PackageError, PackageErrorKind};
use super::{read_package_with, Package, ReadLimits};

/// Reads the solution zip `entry` inside the zip at `bundle`.
pub fn read_nested(
    bundle: &Path,
    entry: &str,
    limits: &ReadLimits,
) -> Result<Package, PackageError> {
    let shown = bundle.join(entry);
    let fail = |kind: PackageErrorKind| PackageError::new(&shown, kind);
    let file = super::open::open_regular(bundle).map_err(|e| fail(super::open::open_error(e)))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| fail(PackageErrorKind::CorruptZip(e.to_string())))?;
    let mut inner = archive
        .by_name(entry)
        .map_err(|e| fail(PackageErrorKind::CorruptZip(e.to_string())))?;
    if inner.size() > limits.max_total_bytes {
        return Err(fail(PackageErrorKind::CorruptZip(format!(
            "the inner zip declares {} bytes, more than the {} allowed",
            inner.size(),
            limits.max_total_bytes
        ))));
    }
    let mut temp = tempfile::NamedTempFile::new().map_err(|e| fail(PackageErrorKind::Io(e)))?;
    let copied = io::copy(
        &mut (&mut inner).take(limits.max_total_bytes + 1),
        temp.as_file_mut(),
    )
    .map_err(|e| fail(PackageErrorKind::Io(e)))?;
    if copied > limits.max_total_bytes {
        return Err(fail(PackageErrorKind::CorruptZip(
            "the inner zip inflates past the size limit".into(),
        )));
    }
    let mut package = read_package_with(temp.path(), limits).map_err(|error| {
        PackageError::new(&shown, PackageErrorKind::CorruptZip(error.to_string()))
    })?;
    package.source.path = shown;
    Ok(package)
}
