//! Finds solution packages under paths given on the command line: a path that is a package
//! (a zip, or a folder holding a solution) is taken as is; any other folder is searched
//! recursively, in path order, without descending into package folders.

use std::path::{Path, PathBuf};

/// True when `dir` holds a solution: the export's root files, `Other/Solution.xml`, or the same
/// under `src/` (names compared case-insensitively).
pub fn is_package_folder(dir: &Path) -> bool {
    let has = |dir: &Path, name: &str| child(dir, name).is_some();
    if has(dir, "solution.xml") {
        return true;
    }
    let other = |root: &Path| child(root, "Other").is_some_and(|o| has(&o, "Solution.xml"));
    other(dir) || child(dir, "src").is_some_and(|src| other(&src))
}

fn child(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.exists() {
        return Some(exact);
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
        })
}

fn is_zip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// The packages at or under `paths`, in argument order, each folder's finds sorted by path.
/// Paths that do not exist are returned as given, so reading them reports the problem.
pub fn discover(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() && !is_package_folder(path) {
            let mut inner = Vec::new();
            walk(path, &mut inner);
            inner.sort();
            found.extend(inner);
        } else {
            found.push(path.clone());
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            if is_package_folder(&path) {
                found.push(path);
            } else {
                walk(&path, found);
            }
        } else if is_zip(&path) {
            found.push(path);
        }
    }
}
