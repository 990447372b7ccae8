//! Reads a Dataverse solution package (a `.zip` export, an unpacked SolutionPackager tree, or
//! a folder holding an export's files) into the typed [`Package`] model.
//!
//! This module knows nothing of policies. It streams the XML it needs, never extracts to disk,
//! and turns every kind of bad input into a [`PackageError`] naming the file, and where it can,
//! the line and column.

mod customizations;
mod diff;
mod discover;
mod error;
mod fingerprint;
mod folder;
mod limits;
mod manifest;
mod model;
mod nested;
mod open;
mod pipe;
mod read_ahead;
mod variables;
mod version;
mod xml;
mod zipped;

use std::path::Path;

pub use diff::{
    diff, installed_state, is_custom_name, same_components, AttributeChange, ComponentDiff,
    DataLoss, EntityChange, OptionValueChange, RelationshipChange, RootComponentChange,
};
pub use discover::{discover, is_package_folder};
pub use error::{NonSolutionKind, PackageError, PackageErrorKind};
pub use fingerprint::{completeness, content_hash, Completeness};
pub use limits::ReadLimits;
pub use model::{
    component_kind_name, Attribute, ComponentType, DependencyNode, Entity, ExportInfo, ExportTime,
    Layout, Location, ManagedState, MissingDependency, OptionSet, OptionValue, Package,
    PackageWarning, ParentSolution, Publisher, Relationship, RootComponent, Source, SourceKind,
};
pub use nested::read_nested;
pub use open::{open_regular, read_text_file, special_kind};
pub use read_ahead::{ReadAhead, ReadResult};
pub use variables::{variable_type_name, ConnectionReference, EnvironmentVariable};
pub use version::{SolutionVersion, VersionError, MAX_VERSION_PARTS};

use customizations::Components;
use manifest::Manifest;

/// Reads the package at `path` (zip file or folder) with the default limits.
pub fn read_package(path: &Path) -> Result<Package, PackageError> {
    read_package_with(path, &ReadLimits::default())
}

/// Reads the package at `path` (zip file or folder) within `limits`.
pub fn read_package_with(path: &Path, limits: &ReadLimits) -> Result<Package, PackageError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PackageError::new(path, PackageErrorKind::NotFound))
        }
        Err(e) => return Err(PackageError::new(path, e.into())),
    };
    if !metadata.is_dir() && !metadata.is_file() {
        let kind = PackageErrorKind::SpecialFile(special_kind(&metadata.file_type()).into());
        return Err(PackageError::new(path, kind));
    }
    if metadata.is_dir() {
        let read = folder::read_folder(path, limits)?;
        Ok(assemble(
            read.source,
            read.manifest,
            read.components,
            read.warnings,
        ))
    } else {
        let read = zipped::read_zip(path, limits)?;
        let mut package = assemble(read.source, read.manifest, read.components, read.warnings);
        package.exported_at = read.exported_at;
        Ok(package)
    }
}

fn assemble(
    source: Source,
    manifest: Manifest,
    mut components: Components,
    mut warnings: Vec<PackageWarning>,
) -> Package {
    let (solution_version, version_error) = match SolutionVersion::parse(&manifest.version) {
        Ok(version) => (Some(version), None),
        Err(error) => {
            warnings.push(PackageWarning {
                code: "invalid-version".into(),
                message: error.to_string(),
                file: Some(manifest.location.file.to_string()),
            });
            (None, Some(error.to_string()))
        }
    };
    components.at_least("entities", components.entities.len() as u64);
    let global_sets = components.option_sets.iter().filter(|s| s.global).count();
    components.at_least("option_sets", global_sets as u64);
    components.at_least("relationships", components.relationships.len() as u64);
    components.at_least(
        "environment_variables",
        components.environment_variables.len() as u64,
    );
    components.at_least(
        "connection_references",
        components.connection_references.len() as u64,
    );
    Package {
        source,
        unique_name: manifest.unique_name,
        display_name: manifest.display_name,
        description: manifest.description,
        version: manifest.version,
        solution_version,
        version_error,
        managed: manifest.managed,
        publisher: manifest.publisher,
        export: manifest.export,
        exported_at: None,
        parent: manifest.parent,
        root_components: manifest.root_components,
        missing_dependencies: manifest.missing_dependencies,
        entities: components.entities,
        option_sets: components.option_sets,
        relationships: components.relationships,
        environment_variables: components.environment_variables,
        connection_references: components.connection_references,
        components: components.counts,
        warnings,
        location: manifest.location,
    }
}
