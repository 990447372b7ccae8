//! Release files for lineage tests: manifests of a solution, patches, the `con_project` table
//! with extra columns, and a folder to write releases into, named after what they hold.

use std::path::Path;

use tempfile::TempDir;

use super::{attribute, customizations, entity, Manifest, ZipBuilder};

/// A package's findings in a JSON report as `rule/code`, sorted.
pub fn codes(package: &serde_json::Value) -> Vec<String> {
    let mut codes: Vec<String> = package["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["rule"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or("")
            )
        })
        .collect();
    codes.sort();
    codes
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

pub fn manifest(name: &str, version: &str, managed: bool) -> Manifest {
    Manifest {
        unique_name: Some(name.into()),
        version: Some(version.into()),
        managed: Some(if managed { "1" } else { "0" }.into()),
        ..Manifest::default()
    }
}

/// A patch of `parent_xml` (a `ParentSolution` element), keeping the default root components.
pub fn patch(name: &str, version: &str, managed: bool, parent_xml: &str) -> Manifest {
    let mut patch = manifest(name, version, managed);
    patch.extra = format!("{parent_xml}{}", Manifest::default().extra);
    patch
}

/// The `con_project` table with its id and name plus the custom money columns `more`.
pub fn project(more: &[&str]) -> String {
    let mut columns = vec![
        attribute("con_projectid", "primarykey", false),
        attribute("con_name", "nvarchar", true),
    ];
    columns.extend(more.iter().map(|c| attribute(c, "money", true)));
    entity("con_Project", &columns)
}

/// A package of `manifest` holding `entities` and, when given, these `EntityRelationships`.
pub fn package(
    manifest: &Manifest,
    entities: &[String],
    relationships: Option<&str>,
) -> ZipBuilder {
    let mut xml = customizations(entities, "");
    if let Some(relationships) = relationships {
        xml = xml.replace("<EntityRelationships />", relationships);
    }
    ZipBuilder::with_manifest(manifest).file("customizations.xml", xml)
}

/// Release files in a temporary folder.
pub struct Releases {
    pub dir: TempDir,
}

impl Releases {
    pub fn new() -> Self {
        Self {
            dir: TempDir::new().expect("tmp"),
        }
    }

    pub fn root(&self) -> &str {
        path_str(self.dir.path())
    }

    /// Writes `zip` as `file`; its path.
    pub fn zip(&self, file: &str, zip: &ZipBuilder) -> String {
        let path = self.dir.path().join(file);
        assert!(!path.exists(), "{file} written twice");
        std::fs::write(&path, zip.bytes()).expect("write zip");
        path_str(&path).to_owned()
    }

    /// Writes a release of `manifest` with `con_project` holding `columns`, named after its
    /// solution, version and form (`Core_1_2_0_0_managed.zip`); its path.
    pub fn add(&self, manifest: &Manifest, columns: &[&str]) -> String {
        let file = format!(
            "{}_{}{}.zip",
            manifest.unique_name.as_deref().unwrap_or("x"),
            manifest.version.as_deref().unwrap_or("x").replace('.', "_"),
            if manifest.managed.as_deref() == Some("1") {
                "_managed"
            } else {
                ""
            }
        );
        self.zip(&file, &package(manifest, &[project(columns)], None))
    }
}
