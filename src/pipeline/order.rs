//! Release order: the order in which packages of one solution are assessed when several arrive
//! at once (a folder given to `check`, an audit's streams). The default is export time, read
//! from the zip: a git checkout or a copy resets every file's modification time, so `mtime`
//! is no release order (it would make CoE Core 1.70.1 look older than 1.70).

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::ReleaseOrder;
use crate::package::{
    discover, is_package_folder, read_package_with, ExportTime, Package, ReadAhead, ReadLimits,
    ReadResult, SolutionVersion,
};

/// What ordering looks at for one package.
#[derive(Debug, Clone, Copy)]
pub struct OrderKey<'a> {
    pub path: &'a Path,
    pub exported_at: Option<ExportTime>,
    pub version: Option<&'a SolutionVersion>,
    pub modified: Option<SystemTime>,
}

impl<'a> OrderKey<'a> {
    pub fn of(path: &'a Path, package: Option<&'a Package>, modified: Option<SystemTime>) -> Self {
        Self {
            path,
            exported_at: package.and_then(|p| p.exported_at),
            version: package.and_then(|p| p.solution_version.as_ref()),
            modified,
        }
    }
}

/// Known values first, then unknown ones.
fn known_first<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// How `a` and `b` compare in `order`; ties fall back to the version, then the path.
pub fn compare(order: ReleaseOrder, a: &OrderKey<'_>, b: &OrderKey<'_>) -> Ordering {
    let by_version = || known_first(a.version, b.version).then_with(|| a.path.cmp(b.path));
    match order {
        ReleaseOrder::Exported => known_first(a.exported_at, b.exported_at).then_with(by_version),
        ReleaseOrder::Version => by_version(),
        ReleaseOrder::Mtime => known_first(a.modified, b.modified).then_with(by_version),
        ReleaseOrder::Path => a.path.cmp(b.path),
    }
}

/// Read packages put in release order (unreadable ones last, by path).
pub fn sort_read(read: &mut [ReadResult], order: ReleaseOrder) {
    let modified = |path: &Path| {
        (order == ReleaseOrder::Mtime)
            .then(|| std::fs::metadata(path).and_then(|m| m.modified()).ok())
            .flatten()
    };
    read.sort_by(|(a_path, a), (b_path, b)| {
        let a_key = OrderKey::of(a_path, a.as_ref().ok(), modified(a_path));
        let b_key = OrderKey::of(b_path, b.as_ref().ok(), modified(b_path));
        a.is_err()
            .cmp(&b.is_err())
            .then_with(|| compare(order, &a_key, &b_key))
    });
}

/// Reads the packages at `paths` for a run: a path that is a package stays where it was given
/// (argument order is the user's release order); a folder's packages are read in full and put
/// in `order`.
pub fn read_in_order(
    paths: &[PathBuf],
    order: ReleaseOrder,
    limits: &ReadLimits,
) -> Vec<ReadResult> {
    let mut read = Vec::new();
    for path in paths {
        if path.is_dir() && !is_package_folder(path) {
            let mut found: Vec<ReadResult> =
                ReadAhead::start(discover(std::slice::from_ref(path)), limits.clone()).collect();
            sort_read(&mut found, order);
            read.extend(found);
        } else {
            let package = read_package_with(path, limits);
            read.push((path.clone(), package));
        }
    }
    read
}

/// True when `paths` names a folder to search (not a package): its finds need ordering.
pub fn names_a_folder(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| p.is_dir() && !is_package_folder(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<ExportTime> {
        let format =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(text, &format)
            .ok()
            .map(ExportTime)
    }

    #[test]
    fn export_time_orders_and_version_breaks_ties() {
        let v1 = SolutionVersion::parse("1.70").expect("valid");
        let v2 = SolutionVersion::parse("1.70.1").expect("valid");
        let later = OrderKey {
            path: Path::new("a.zip"),
            exported_at: at("2020-09-22 10:00:00"),
            version: Some(&v2),
            modified: None,
        };
        let earlier = OrderKey {
            path: Path::new("z.zip"),
            exported_at: at("2020-09-21 10:00:00"),
            version: Some(&v1),
            modified: None,
        };
        assert_eq!(
            compare(ReleaseOrder::Exported, &earlier, &later),
            Ordering::Less
        );
        assert_eq!(
            compare(ReleaseOrder::Path, &earlier, &later),
            Ordering::Greater
        );
        let tie = OrderKey {
            exported_at: earlier.exported_at,
            ..later
        };
        assert_eq!(
            compare(ReleaseOrder::Exported, &earlier, &tie),
            Ordering::Less
        );
        let unknown = OrderKey {
            exported_at: None,
            ..earlier
        };
        assert_eq!(
            compare(ReleaseOrder::Exported, &later, &unknown),
            Ordering::Less
        );
    }
}
