//! Test support: a small builder for realistic solution packages (zips and unpacked folders),
//! byte-level patches for hostile zips, and the path to the real-package corpus.
#![allow(dead_code)] // each test crate uses a different part of the support code

pub mod daemon;
pub mod pg;
pub mod reads;
pub mod receivers;
pub mod releases;

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The corpus of real packages: `$SOLGUARD_CORPUS`, else `../shared/corpus` beside the repo.
/// A missing corpus fails the test: CI must never silently skip the real-package tests.
pub fn corpus() -> PathBuf {
    let path = std::env::var_os("SOLGUARD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        path.join("MANIFEST.md").is_file(),
        "the real-package corpus is missing at {} (set SOLGUARD_CORPUS to ../shared/corpus)",
        path.display()
    );
    path
}

/// Every `.zip` under `dir`, recursively, sorted.
pub fn walk_zips(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut found = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("read corpus dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            found.extend(walk_zips(&path));
        } else if path.extension().is_some_and(|e| e == "zip") {
            found.insert(path);
        }
    }
    found
}

/// Runs the solguard binary with `args`.
pub fn solguard(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_solguard"))
        .args(args)
        .output()
        .expect("run solguard")
}

/// `check --format json --fail-on never` with `args` (options and paths): the JSON report.
/// The run must succeed.
pub fn check_report(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--format", "json", "--fail-on", "never"];
    all.extend_from_slice(args);
    let output = solguard(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report: {e}\nstdout: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The facts of a `solution.xml`; `Default` is a valid unmanaged 1.0.0.0 export.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub unique_name: Option<String>,
    pub version: Option<String>,
    pub managed: Option<String>,
    pub publisher: String,
    pub prefix: String,
    pub option_prefix: String,
    /// Attributes of `ImportExportXml`, written as is.
    pub export_attributes: String,
    /// Extra XML placed inside `SolutionManifest` after `Publisher` (root components, …).
    pub extra: String,
}

impl Default for Manifest {
    fn default() -> Self {
        Self {
            unique_name: Some("ContosoCore".into()),
            version: Some("1.0.0.0".into()),
            managed: Some("0".into()),
            publisher: "contoso".into(),
            prefix: "con".into(),
            option_prefix: "61230".into(),
            export_attributes: r#"version="9.2.24101.200" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive""#.into(),
            extra: r#"<RootComponents><RootComponent type="1" schemaName="con_project" behavior="0" /></RootComponents><MissingDependencies />"#.into(),
        }
    }
}

impl Manifest {
    pub fn xml(&self) -> String {
        let element = |name: &str, value: &Option<String>| match value {
            Some(value) => format!("<{name}>{value}</{name}>\n    "),
            None => String::new(),
        };
        format!(
            r#"<ImportExportXml {attrs} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <SolutionManifest>
    {unique}<LocalizedNames><LocalizedName description="Contoso Core" languagecode="1033" /></LocalizedNames>
    <Descriptions />
    {version}{managed}<Publisher>
      <UniqueName>{publisher}</UniqueName>
      <LocalizedNames><LocalizedName description="Contoso Ltd" languagecode="1033" /></LocalizedNames>
      <Descriptions />
      <EMailAddress xsi:nil="true"></EMailAddress>
      <CustomizationPrefix>{prefix}</CustomizationPrefix>
      <CustomizationOptionValuePrefix>{option_prefix}</CustomizationOptionValuePrefix>
      <Addresses><Address><AddressNumber>1</AddressNumber><City xsi:nil="true"></City></Address></Addresses>
    </Publisher>
    {extra}
  </SolutionManifest>
</ImportExportXml>"#,
            attrs = self.export_attributes,
            unique = element("UniqueName", &self.unique_name),
            version = element("Version", &self.version),
            managed = element("Managed", &self.managed),
            publisher = self.publisher,
            prefix = self.prefix,
            option_prefix = self.option_prefix,
            extra = self.extra,
        )
    }
}

/// One attribute of a generated entity.
pub fn attribute(logical: &str, kind: &str, custom: bool) -> String {
    let max_length = if kind == "nvarchar" {
        "<MaxLength>100</MaxLength>"
    } else {
        ""
    };
    format!(
        r#"<attribute PhysicalName="{logical}"><Type>{kind}</Type><Name>{logical}</Name><LogicalName>{logical}</LogicalName><RequiredLevel>none</RequiredLevel><IsCustomField>{custom}</IsCustomField><IntroducedVersion>1.0.0.0</IntroducedVersion>{max_length}<displaynames><displayname description="{logical}" languagecode="1033" /></displaynames></attribute>"#,
        custom = u8::from(custom)
    )
}

/// An `<Entity>` element with full `EntityInfo` holding `attributes` (XML from [`attribute`]).
pub fn entity(schema_name: &str, attributes: &[String]) -> String {
    format!(
        r#"<Entity><Name LocalizedName="{schema_name}" OriginalName="{schema_name}">{schema_name}</Name><EntityInfo><entity Name="{schema_name}"><LocalizedNames><LocalizedName description="{schema_name}" languagecode="1033" /></LocalizedNames><attributes>{attrs}</attributes></entity></EntityInfo><FormXml /><SavedQueries /><RibbonDiffXml /></Entity>"#,
        attrs = attributes.concat()
    )
}

/// A `customizations.xml` holding `entities` and `extra` top-level collections.
pub fn customizations(entities: &[String], extra: &str) -> String {
    format!(
        r#"<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Entities>{}</Entities><Roles /><Workflows /><FieldSecurityProfiles /><Templates /><EntityMaps /><EntityRelationships /><OrganizationSettings /><optionsets />{extra}<Languages><Language>1033</Language></Languages></ImportExportXml>"#,
        entities.concat()
    )
}

pub const CONTENT_TYPES: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"xml\" ContentType=\"application/octet-stream\" /></Types>";

/// Builds a zip in memory, entry by entry.
#[derive(Debug, Clone, Default)]
pub struct ZipBuilder {
    entries: Vec<(String, Vec<u8>, CompressionMethod)>,
    /// Where each name sits in `entries`, so adding an entry takes constant time (a hostile
    /// case holds 100,000 of them).
    positions: std::collections::HashMap<String, usize>,
    /// The DOS timestamp of every entry; `None` writes the zip crate's default (the DOS epoch,
    /// which readers take as "no export time").
    stamp: Option<zip::DateTime>,
}

impl ZipBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A valid solution export with one custom entity.
    pub fn solution() -> Self {
        Self::with_manifest(&Manifest::default())
    }

    pub fn with_manifest(manifest: &Manifest) -> Self {
        let entities = [entity(
            "con_project",
            &[
                attribute("con_projectid", "primarykey", false),
                attribute("con_name", "nvarchar", true),
            ],
        )];
        Self::new()
            .file("customizations.xml", customizations(&entities, ""))
            .file("solution.xml", manifest.xml())
            .file("[Content_Types].xml", CONTENT_TYPES)
    }

    pub fn file(self, name: &str, content: impl AsRef<[u8]>) -> Self {
        self.entry(name, content, CompressionMethod::Deflated)
    }

    pub fn entry(
        mut self,
        name: &str,
        content: impl AsRef<[u8]>,
        method: CompressionMethod,
    ) -> Self {
        // A name added again moves to the end, as a zip tool appending it would write it.
        if self.positions.contains_key(name) {
            self = self.without(name);
        }
        self.positions.insert(name.to_owned(), self.entries.len());
        self.entries
            .push((name.to_owned(), content.as_ref().to_vec(), method));
        self
    }

    /// Stamps every entry with this time (local, no zone): the package's export time.
    pub fn exported_at(
        mut self,
        (year, month, day): (u16, u8, u8),
        (hour, minute, second): (u8, u8, u8),
    ) -> Self {
        self.stamp = Some(
            zip::DateTime::from_date_and_time(year, month, day, hour, minute, second)
                .expect("a valid DOS date and time"),
        );
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.entries.retain(|(existing, _, _)| existing != name);
        self.positions = self
            .entries
            .iter()
            .enumerate()
            .map(|(at, (name, _, _))| (name.clone(), at))
            .collect();
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content, method) in &self.entries {
            let mut options = SimpleFileOptions::default()
                .compression_method(*method)
                .large_file(content.len() > u32::MAX as usize / 2);
            if let Some(stamp) = self.stamp {
                options = options.last_modified_time(stamp);
            }
            if name.ends_with('/') {
                writer
                    .add_directory(name.as_str(), options)
                    .expect("add directory");
            } else {
                writer
                    .start_file(name.as_str(), options)
                    .expect("start entry");
                writer.write_all(content).expect("write entry");
            }
        }
        writer.finish().expect("finish zip").into_inner()
    }

    pub fn write(&self, dir: &Path, file_name: &str) -> PathBuf {
        let path = dir.join(file_name);
        std::fs::write(&path, self.bytes()).expect("write zip");
        path
    }
}

/// Writes `files` (relative path, content) under `dir`, creating folders.
pub fn write_tree(dir: &Path, files: &[(&str, String)]) {
    for (relative, content) in files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create folders");
        std::fs::write(&path, content).expect("write file");
    }
}

/// Offsets of every occurrence of `needle` in `haystack`.
fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(at, _)| at)
        .collect()
}

const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";

/// Sets the "encrypted" flag on every entry, in local and central headers.
pub fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    for at in find_all(&zip, LOCAL_HEADER) {
        zip[at + 6] |= 1;
    }
    for at in find_all(&zip, CENTRAL_HEADER) {
        zip[at + 8] |= 1;
    }
    zip
}

/// Sets the compression method of every entry to `method`.
pub fn set_compression_method(mut zip: Vec<u8>, method: u16) -> Vec<u8> {
    let bytes = method.to_le_bytes();
    for at in find_all(&zip, LOCAL_HEADER) {
        zip[at + 8..at + 10].copy_from_slice(&bytes);
    }
    for at in find_all(&zip, CENTRAL_HEADER) {
        zip[at + 10..at + 12].copy_from_slice(&bytes);
    }
    zip
}

/// Declares `size` as the uncompressed size of entry `name`, in local and central headers,
/// so its data inflates past what the headers say.
pub fn set_declared_size(mut zip: Vec<u8>, name: &str, size: u32) -> Vec<u8> {
    let name = name.as_bytes();
    let bytes = size.to_le_bytes();
    let named = |zip: &[u8], name_length_at: usize, name_at: usize| {
        let length = u16::from_le_bytes([zip[name_length_at], zip[name_length_at + 1]]) as usize;
        zip.get(name_at..name_at + length) == Some(name)
    };
    for at in find_all(&zip, LOCAL_HEADER) {
        if named(&zip, at + 26, at + 30) {
            zip[at + 22..at + 26].copy_from_slice(&bytes);
        }
    }
    for at in find_all(&zip, CENTRAL_HEADER) {
        if named(&zip, at + 28, at + 46) {
            zip[at + 24..at + 28].copy_from_slice(&bytes);
        }
    }
    zip
}

/// Renames an entry in place (same length names only), e.g. to create duplicate names that
/// a zip writer refuses to write.
pub fn rename_entry(mut zip: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "same-length names only");
    for at in find_all(&zip, from.as_bytes()) {
        zip[at..at + to.len()].copy_from_slice(to.as_bytes());
    }
    zip
}

/// A `solution.xml` with a billion-laughs entity declaration (ten levels of ten).
pub fn billion_laughs() -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]>\n{}",
        (1..10)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            ))
            .collect::<String>()
            .replace("&lol0;", "&lol;"),
        Manifest::default().xml().replace("ContosoCore", "&lol9;")
    )
}
