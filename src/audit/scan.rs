//! Reading a repository: find every package (zips, unpacked folders, solution zips inside
//! bundle zips), and read each one once, in parallel, through the cache: a file unchanged in
//! path, size and modification time keeps its content hash, and a known content hash keeps its
//! parse outcome, so an unchanged repository is not read again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::history::{HistoryError, HistoryStore};
use crate::package::{
    content_hash, discover, read_nested, read_package, NonSolutionKind, Package, PackageError,
    PackageErrorKind, ReadLimits,
};

/// What reading a file gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Outcome {
    Package {
        package: Box<Package>,
    },
    /// A whole file that is not a solution (data package, Package Deployer package, …).
    NotSolution {
        reason: String,
    },
    /// A bundle of solution zips, read one by one.
    Bundle {
        entries: Vec<String>,
    },
    Unreadable {
        code: String,
        message: String,
        file: Option<String>,
        line: Option<u64>,
    },
}

impl Outcome {
    fn of(read: Result<Package, PackageError>) -> Self {
        match read {
            Ok(package) => Self::Package {
                package: Box::new(package),
            },
            Err(error) => match error.kind() {
                PackageErrorKind::NotASolution(NonSolutionKind::SolutionBundle(entries)) => {
                    Self::Bundle {
                        entries: entries.clone(),
                    }
                }
                PackageErrorKind::NotASolution(kind) => Self::NotSolution {
                    reason: kind.to_string(),
                },
                _ => Self::Unreadable {
                    code: error.code().to_owned(),
                    message: error.to_string(),
                    file: error.file().map(str::to_owned),
                    line: error.line(),
                },
            },
        }
    }
}

/// One package file of the repository and what it holds.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The file, or for a solution inside a bundle `bundle.zip/inner.zip`.
    pub path: PathBuf,
    pub modified: SystemTime,
    pub sha256: Option<String>,
    pub outcome: Outcome,
}

/// How many packages were parsed and how many came from the cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanCounts {
    pub read: usize,
    pub cached: usize,
}

fn lock(store: &Mutex<HistoryStore>) -> std::sync::MutexGuard<'_, HistoryStore> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn modified_ns(modified: SystemTime) -> i64 {
    modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Reads `path` (hashing it first) when the cache does not know it.
fn read_uncached(path: &Path) -> (Option<String>, Outcome) {
    let hash = content_hash(path).ok();
    (hash, Outcome::of(read_package(path)))
}

/// Finds and reads every package under `dirs`, `workers` at a time.
pub fn scan(
    dirs: &[PathBuf],
    store: Option<&Mutex<HistoryStore>>,
    workers: usize,
) -> Result<(Vec<Scanned>, ScanCounts), HistoryError> {
    let files = discover(dirs);
    let mut counts = ScanCounts::default();
    let mut scanned: Vec<Option<Scanned>> = vec![None; files.len()];
    let mut to_read = Vec::new();
    for (index, path) in files.iter().enumerate() {
        let metadata = std::fs::metadata(path).ok();
        let modified = metadata
            .as_ref()
            .and_then(|m| m.modified().ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let size = metadata.as_ref().map_or(0, std::fs::Metadata::len);
        let is_file = metadata.as_ref().is_some_and(std::fs::Metadata::is_file);
        let cached = match (store, is_file) {
            (Some(store), true) => {
                let store = lock(store);
                let key = path.display().to_string();
                match store.cached_hash(&key, size, modified_ns(modified))? {
                    Some(hash) => store
                        .parsed_outcome(&hash)?
                        .and_then(|json| serde_json::from_str::<Outcome>(&json).ok())
                        .map(|outcome| (hash, outcome)),
                    None => None,
                }
            }
            _ => None,
        };
        match cached {
            Some((hash, outcome)) => {
                counts.cached += 1;
                scanned[index] = Some(Scanned {
                    path: path.clone(),
                    modified,
                    sha256: Some(hash),
                    outcome,
                });
            }
            None => to_read.push((index, modified, size, is_file)),
        }
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(to_read.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1).min(to_read.len().max(1)) {
            scope.spawn(|| loop {
                let slot = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(index, modified, size, is_file)) = to_read.get(slot) else {
                    break;
                };
                let (hash, outcome) = read_uncached(&files[index]);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((index, modified, size, is_file, hash, outcome));
            });
        }
    });
    let results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    counts.read += results.len();
    for (index, modified, size, is_file, hash, outcome) in results {
        let path = files[index].clone();
        if let (Some(store), Some(hash), true) = (store, &hash, is_file) {
            let store = lock(store);
            let key = path.display().to_string();
            if let Ok(json) = serde_json::to_string(&outcome) {
                store.remember_outcome(hash, &json)?;
                store.remember_hash(&key, size, modified_ns(modified), hash)?;
            }
        }
        scanned[index] = Some(Scanned {
            path,
            modified,
            sha256: hash,
            outcome,
        });
    }
    let mut all: Vec<Scanned> = Vec::with_capacity(scanned.len());
    for item in scanned.into_iter().flatten() {
        match &item.outcome {
            Outcome::Bundle { entries } => {
                for entry in entries {
                    counts.read += 1;
                    let read = read_nested(&item.path, entry, &ReadLimits::default());
                    let sha256 = read.as_ref().ok().and_then(|p| p.source.sha256.clone());
                    all.push(Scanned {
                        path: item.path.join(entry),
                        modified: item.modified,
                        sha256,
                        outcome: Outcome::of(read),
                    });
                }
            }
            _ => all.push(item),
        }
    }
    for item in &mut all {
        if let Outcome::Package { package } = &mut item.outcome {
            package.solution_version =
                crate::package::SolutionVersion::parse(&package.version).ok();
            if package.source.sha256.is_none() {
                package.source.sha256 = item.sha256.clone();
            }
        }
    }
    Ok((all, counts))
}
