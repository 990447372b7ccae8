//! Reads a solution package from a folder: an unpacked SolutionPackager / `pac solution unpack`
//! tree (`Other/Solution.xml`, `Entities/<name>/Entity.xml`, …), the same tree under `src/` of a
//! pac project, or a folder holding the three root files of an export.
//!
//! File names are matched case-insensitively (`Other/solution.xml` occurs in real repositories).
//! Symbolic links are followed only when they stay inside the package folder.

use std::fs;
use std::path::{Path, PathBuf};

use super::customizations::{
    parse_customizations, parse_entity_file, parse_option_set_file, parse_relationships_file,
    Components,
};
use super::error::{PackageError, PackageErrorKind};
use super::limits::ReadLimits;
use super::manifest::{parse_manifest, Manifest};
use super::model::{Layout, PackageWarning, Source, SourceKind};
use super::variables::{
    parse_definition_file, ships_value, unreadable_values, MAX_VALUES_FILE_BYTES,
};
use super::xml::{FileContext, XmlStream};

pub(crate) struct FolderRead {
    pub source: Source,
    pub manifest: Manifest,
    pub components: Components,
    pub warnings: Vec<PackageWarning>,
}

/// A folder package being read: its canonical root, for symlink checks, and a file budget.
struct Tree<'a> {
    package: &'a Path,
    canonical: PathBuf,
    limits: &'a ReadLimits,
    files_seen: usize,
}

pub(crate) fn read_folder(path: &Path, limits: &ReadLimits) -> Result<FolderRead, PackageError> {
    let canonical = fs::canonicalize(path).map_err(|e| PackageError::new(path, e.into()))?;
    let mut tree = Tree {
        package: path,
        canonical,
        limits,
        files_seen: 0,
    };
    let mut warnings = Vec::new();

    if let Some(solution) = tree.find_file(path, "solution.xml")? {
        let customizations = tree.find_file(path, "customizations.xml")?.ok_or_else(|| {
            tree.error(PackageErrorKind::MissingFile("customizations.xml".into()))
        })?;
        if tree.find_file(path, "[Content_Types].xml")?.is_none() {
            warnings.push(PackageWarning {
                code: "missing-content-types".into(),
                message:
                    "[Content_Types].xml is missing; Dataverse rejects a solution zip without it"
                        .into(),
                file: None,
            });
        }
        let manifest = tree.parse(&solution, parse_manifest)?;
        let mut components = Components::default();
        tree.parse(&customizations, |xml| {
            parse_customizations(xml, &mut components)
        })?;
        count_export_folders(&mut tree, path, &mut components)?;
        read_variable_folders(&mut tree, path, &mut components, &mut warnings)?;
        return Ok(FolderRead {
            source: source(path, Layout::ExportFolder, ""),
            manifest,
            components,
            warnings,
        });
    }

    let (root_dir, root_name) = match tree.find_dir(path, "Other")? {
        Some(_) => (path.to_path_buf(), ""),
        None => match tree.find_dir(path, "src")? {
            Some(src) if tree.find_dir(&src, "Other")?.is_some() => (src, "src"),
            _ => return Err(tree.error(PackageErrorKind::NoManifestInFolder)),
        },
    };
    let other = tree
        .find_dir(&root_dir, "Other")?
        .ok_or_else(|| tree.error(PackageErrorKind::NoManifestInFolder))?;
    let solution = tree
        .find_file(&other, "Solution.xml")?
        .ok_or_else(|| tree.error(PackageErrorKind::NoManifestInFolder))?;
    let manifest = tree.parse(&solution, parse_manifest)?;
    let mut components = Components::default();
    match tree.find_file(&other, "Customizations.xml")? {
        Some(customizations) => tree.parse(&customizations, |xml| {
            parse_customizations(xml, &mut components)
        })?,
        None => warnings.push(PackageWarning {
            code: "missing-customizations".into(),
            message: "Other/Customizations.xml is missing; SolutionPackager cannot pack this tree"
                .into(),
            file: None,
        }),
    }
    if let Some(entities) = tree.find_dir(&root_dir, "Entities")? {
        for entity_dir in tree.list(&entities, Kind::Dir)? {
            if let Some(entity_file) = tree.find_file(&entity_dir, "Entity.xml")? {
                tree.parse(&entity_file, |xml| parse_entity_file(xml, &mut components))?;
            }
        }
    }
    if let Some(option_sets) = tree.find_dir(&root_dir, "OptionSets")? {
        for file in tree.list(&option_sets, Kind::Xml)? {
            tree.parse(&file, |xml| parse_option_set_file(xml, &mut components))?;
        }
    }
    if let Some(list) = tree.find_file(&other, "Relationships.xml")? {
        tree.parse(&list, |xml| parse_relationships_file(xml, &mut components))?;
    }
    if let Some(relationships) = tree.find_dir(&other, "Relationships")? {
        for file in tree.list(&relationships, Kind::Xml)? {
            tree.parse(&file, |xml| parse_relationships_file(xml, &mut components))?;
        }
    }
    count_unpacked_folders(&mut tree, &root_dir, &mut components)?;
    read_variable_folders(&mut tree, &root_dir, &mut components, &mut warnings)?;
    Ok(FolderRead {
        source: source(path, Layout::Unpacked, root_name),
        manifest,
        components,
        warnings,
    })
}

fn source(path: &Path, layout: Layout, root: &str) -> Source {
    Source {
        path: path.to_path_buf(),
        kind: SourceKind::Folder,
        layout,
        root: root.to_owned(),
        sha256: None,
        size_bytes: None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    /// Files ending in `.xml`.
    Xml,
    /// Files ending in `.data.xml` (SolutionPackager's metadata beside each component file).
    DataXml,
}

impl Tree<'_> {
    fn error(&self, kind: PackageErrorKind) -> PackageError {
        PackageError::new(self.package, kind)
    }

    /// The path relative to the package folder, with `/`, as findings cite it.
    fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(self.package).unwrap_or(path);
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Refuses a path that is a symlink resolving outside the package folder.
    fn check_inside(&self, path: &Path) -> Result<(), PackageError> {
        let meta = fs::symlink_metadata(path).map_err(|e| self.error(e.into()))?;
        if meta.file_type().is_symlink() {
            let target = fs::canonicalize(path).map_err(|e| self.error(e.into()))?;
            if !target.starts_with(&self.canonical) {
                return Err(
                    self.error(PackageErrorKind::SymlinkEscape(self.relative(path), target))
                );
            }
        }
        Ok(())
    }

    /// The entries of `dir`, sorted by name so results do not depend on the file system.
    fn entries(&mut self, dir: &Path) -> Result<Vec<PathBuf>, PackageError> {
        self.check_inside(dir)?;
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| self.error(e.into()))? {
            let entry = entry.map_err(|e| self.error(e.into()))?;
            self.files_seen += 1;
            if self.files_seen > self.limits.max_folder_files {
                return Err(
                    self.error(PackageErrorKind::TooManyFiles(self.limits.max_folder_files))
                );
            }
            entries.push(entry.path());
        }
        entries.sort();
        Ok(entries)
    }

    fn find(
        &mut self,
        dir: &Path,
        name: &str,
        want_dir: bool,
    ) -> Result<Option<PathBuf>, PackageError> {
        let exact = dir.join(name);
        let candidates = if exact.symlink_metadata().is_ok() {
            vec![exact]
        } else {
            self.entries(dir)?
                .into_iter()
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
                })
                .collect()
        };
        for candidate in candidates {
            self.check_inside(&candidate)?;
            if candidate.is_dir() == want_dir {
                return Ok(Some(candidate));
            }
            if !want_dir && candidate.is_dir() && name.ends_with(".xml") {
                return Err(self.error(PackageErrorKind::NotAFile(self.relative(&candidate))));
            }
        }
        Ok(None)
    }

    fn find_file(&mut self, dir: &Path, name: &str) -> Result<Option<PathBuf>, PackageError> {
        self.find(dir, name, false)
    }

    fn find_dir(&mut self, dir: &Path, name: &str) -> Result<Option<PathBuf>, PackageError> {
        self.find(dir, name, true)
    }

    fn list(&mut self, dir: &Path, kind: Kind) -> Result<Vec<PathBuf>, PackageError> {
        let mut found = Vec::new();
        for path in self.entries(dir)? {
            self.check_inside(&path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let keep = match kind {
                Kind::Dir => path.is_dir(),
                Kind::Xml => path.is_file() && name.ends_with(".xml"),
                Kind::DataXml => path.is_file() && name.ends_with(".data.xml"),
            };
            if keep {
                found.push(path);
            }
        }
        Ok(found)
    }

    fn parse<T>(
        &mut self,
        file: &Path,
        parse: impl FnOnce(&mut XmlStream<'_>) -> Result<T, PackageError>,
    ) -> Result<T, PackageError> {
        self.check_inside(file)?;
        let relative = self.relative(file);
        let context = FileContext::new(self.package, &relative);
        let handle = super::open::open_regular(file)
            .map_err(|e| context.error(super::open::open_error(e)))?;
        let mut xml = XmlStream::open(handle, context, self.limits)?;
        parse(&mut xml)
    }

    /// The bytes of a small file, at most `cap` of them (`Ok(None)` past that).
    fn read_small(&mut self, file: &Path, cap: u64) -> Result<Option<Vec<u8>>, PackageError> {
        self.check_inside(file)?;
        let context = FileContext::new(self.package, &self.relative(file));
        let handle = super::open::open_regular(file)
            .map_err(|e| context.error(super::open::open_error(e)))?;
        super::open::read_capped(handle, cap).map_err(|e| context.error(e.into()))
    }

    /// Counts `.data.xml` files below `dir` (recursively), one per component.
    fn count_data_files(&mut self, dir: &Path) -> Result<u64, PackageError> {
        let mut count = self.list(dir, Kind::DataXml)?.len() as u64;
        for sub in self.list(dir, Kind::Dir)? {
            count += self.count_data_files(&sub)?;
        }
        Ok(count)
    }
}

/// Component folders of an unpacked tree and the count key for each. SolutionPackager writes a
/// `.data.xml` beside every component file, so those are counted.
const UNPACKED_DATA_FOLDERS: &[(&str, &str)] = &[
    ("Workflows", "workflows"),
    ("WebResources", "web_resources"),
    ("PluginAssemblies", "plugin_assemblies"),
    ("CanvasApps", "canvas_apps"),
    ("Controls", "custom_controls"),
];

/// Component folders counted by their subfolders (one per component).
const UNPACKED_DIR_FOLDERS: &[(&str, &str)] = &[
    ("AppModules", "app_modules"),
    ("AppModuleSiteMaps", "site_maps"),
    ("environmentvariabledefinitions", "environment_variables"),
];

fn count_unpacked_folders(
    tree: &mut Tree<'_>,
    root: &Path,
    components: &mut Components,
) -> Result<(), PackageError> {
    for (folder, kind) in UNPACKED_DATA_FOLDERS {
        if let Some(dir) = tree.find_dir(root, folder)? {
            let count = tree.count_data_files(&dir)?;
            components.at_least(kind, count);
        }
    }
    for (folder, kind) in UNPACKED_DIR_FOLDERS {
        if let Some(dir) = tree.find_dir(root, folder)? {
            let count = tree.list(&dir, Kind::Dir)?.len() as u64;
            components.at_least(kind, count);
        }
    }
    for (folder, kind) in [("Roles", "roles"), ("Dashboards", "dashboards")] {
        if let Some(dir) = tree.find_dir(root, folder)? {
            let count = tree.list(&dir, Kind::Xml)?.len() as u64;
            components.at_least(kind, count);
        }
    }
    Ok(())
}

/// `environmentvariabledefinitions/<schema>/environmentvariabledefinition.xml` below `root`,
/// each with whether a current value ships beside it.
fn read_variable_folders(
    tree: &mut Tree<'_>,
    root: &Path,
    components: &mut Components,
    warnings: &mut Vec<PackageWarning>,
) -> Result<(), PackageError> {
    let Some(dir) = tree.find_dir(root, "environmentvariabledefinitions")? else {
        return Ok(());
    };
    for folder in tree.list(&dir, Kind::Dir)? {
        let Some(definition) = tree.find_file(&folder, "environmentvariabledefinition.xml")? else {
            continue;
        };
        let Some(mut variable) = tree.parse(&definition, parse_definition_file)? else {
            continue;
        };
        if let Some(values) = tree.find_file(&folder, "environmentvariablevalues.json")? {
            let relative = tree.relative(&values);
            match tree.read_small(&values, MAX_VALUES_FILE_BYTES)? {
                Some(bytes) => match ships_value(&bytes) {
                    Ok(ships) => variable.has_value = ships,
                    Err(error) => warnings.push(unreadable_values(&relative, &error)),
                },
                None => warnings.push(unreadable_values(&relative, "larger than 1 MiB")),
            }
        }
        components.environment_variables.push(variable);
    }
    Ok(())
}

/// An export folder (the unzipped export) keeps environment variables in folders too.
fn count_export_folders(
    tree: &mut Tree<'_>,
    root: &Path,
    components: &mut Components,
) -> Result<(), PackageError> {
    if let Some(dir) = tree.find_dir(root, "environmentvariabledefinitions")? {
        let count = tree.list(&dir, Kind::Dir)?.len() as u64;
        components.at_least("environment_variables", count);
    }
    Ok(())
}
