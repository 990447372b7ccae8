//! The crate's layers, as `lib.rs` documents them, checked on the source itself: a module
//! imports only from layers below it, `watch` and `audit` reach evaluation only through the
//! pipeline, and no two sibling files of a module import each other (directly or round a
//! cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the bottom up; a module may import only those before it.
const LAYERS: &[&str] = &[
    "diagnostic",
    "package",
    "config",
    "assessment",
    "policy",
    "eval",
    "history",
    "report",
    "alert",
    "pipeline",
    "audit",
    "watch",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The library's files by top-level module (the binary's `cli` and `main.rs` sit above all).
fn library_files() -> BTreeMap<String, Vec<PathBuf>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut by_module: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src()).expect("under src");
        let first = relative
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if ["cli", "main", "lib"].contains(&first.as_str()) {
            continue;
        }
        by_module.entry(first).or_default().push(file);
    }
    by_module
}

/// The code of a file without its comments (doc comments name modules freely).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("read source")
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate modules a file names (`crate::name`, including inside `use crate::{a, b}`).
fn crate_imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        found.insert(name);
    }
    found
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let modules = library_files();
    for name in modules.keys() {
        assert!(
            LAYERS.contains(&name.as_str()),
            "module {name} is not placed in LAYERS (and in lib.rs's layer notes)"
        );
    }
    let mut violations = Vec::new();
    for (module, files) in &modules {
        let level = LAYERS.iter().position(|l| l == module).expect("listed");
        for file in files {
            for import in crate_imports(&code(file)) {
                let Some(target) = LAYERS.iter().position(|l| *l == import) else {
                    continue;
                };
                if target > level {
                    violations.push(format!(
                        "{} imports crate::{import}, a layer above {module}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn drivers_reach_evaluation_only_through_the_pipeline() {
    let modules = library_files();
    for driver in ["watch", "audit"] {
        for file in &modules[driver] {
            let imports = crate_imports(&code(file));
            for forbidden in ["eval", "policy"] {
                assert!(
                    !imports.contains(forbidden),
                    "{} imports crate::{forbidden}; drivers go through crate::pipeline",
                    file.display()
                );
            }
        }
    }
}

/// Sibling files of each folder that import one another (`super::sibling`).
fn sibling_edges(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut siblings = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if stem != "mod" && (path.is_dir() || path.extension().is_some_and(|e| e == "rs")) {
            siblings.insert(stem);
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sibling in &siblings {
        let file = dir.join(format!("{sibling}.rs"));
        if !file.is_file() {
            continue;
        }
        let text = code(&file);
        for other in &siblings {
            let named = text.contains(&format!("super::{other}::"))
                || text.contains(&format!("super::{other};"))
                || text.contains(&format!("super::{other},"));
            if other != sibling && named {
                edges
                    .entry(sibling.clone())
                    .or_default()
                    .insert(other.clone());
            }
        }
    }
    edges
}

fn cycle_from(
    node: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|n| n == node) {
        return Some(path[start..].to_vec());
    }
    path.push(node.to_owned());
    for next in edges.get(node).into_iter().flatten() {
        if let Some(cycle) = cycle_from(next, edges, path) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn no_sibling_files_import_each_other_round_a_cycle() {
    let mut dirs = vec![src()];
    let mut checked = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
        let edges = sibling_edges(&dir);
        checked += edges.len();
        for node in edges.keys() {
            let cycle = cycle_from(node, &edges, &mut Vec::new());
            assert!(cycle.is_none(), "{}: import cycle {cycle:?}", dir.display());
        }
    }
    assert!(
        checked > 10,
        "the scan found the sibling imports ({checked})"
    );
}
