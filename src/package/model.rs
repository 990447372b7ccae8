//! The typed model of one solution package: plain data with no I/O.
//!
//! Readers (`zipped`, `folder`) build it; policies and reports read it. Every element a policy
//! may cite carries a [`Location`]: the file inside the package and the line where it was read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

pub use crate::diagnostic::Location;

use super::version::SolutionVersion;

time::serde::format_description!(
    local_seconds,
    PrimitiveDateTime,
    "[year]-[month]-[day]T[hour]:[minute]:[second]"
);

/// When a zip was exported: the newest timestamp of its entries. Dataverse stamps every entry
/// with the export time; DOS timestamps have 2-second resolution and no time zone, so this is
/// the exporting server's clock as written (`2018-12-27T15:11:22`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct ExportTime(
    #[serde(with = "local_seconds")]
    #[schemars(
        with = "String",
        regex(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
    )]
    pub PrimitiveDateTime,
);

impl ExportTime {
    /// From a zip entry's DOS timestamp; `None` for an impossible date and for the DOS epoch
    /// (1980-01-01 00:00:00), which tools write when they set no time.
    pub fn from_zip(time: zip::DateTime) -> Option<Self> {
        let epoch = (
            time.year(),
            time.month(),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
        ) == (1980, 1, 1, 0, 0, 0);
        if epoch {
            return None;
        }
        let month = time::Month::try_from(time.month()).ok()?;
        let date =
            time::Date::from_calendar_date(i32::from(time.year()), month, time.day()).ok()?;
        let clock = time::Time::from_hms(time.hour(), time.minute(), time.second()).ok()?;
        Some(Self(PrimitiveDateTime::new(date, clock)))
    }
}

impl std::fmt::Display for ExportTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }
}

/// How the package reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    #[default]
    Zip,
    Folder,
}

/// Which layout the package has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A zip export with the manifest files at its root, as Dataverse exports it.
    #[default]
    ZipExport,
    /// A zip whose manifest files sit one folder deep; Dataverse rejects it at import.
    ZipNested,
    /// A SolutionPackager / `pac solution unpack` tree (`Other/Solution.xml`, `Entities/…`).
    Unpacked,
    /// A folder holding the three root files of an export.
    ExportFolder,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Source {
    pub path: PathBuf,
    pub kind: SourceKind,
    pub layout: Layout,
    /// Folder inside the package that holds the solution (`""`, `"src"`, `"MySolution"`).
    pub root: String,
    /// Hex SHA-256 of the zip file's bytes (zips only).
    pub sha256: Option<String>,
    /// Size of the zip file in bytes (zips only).
    pub size_bytes: Option<u64>,
}

/// `Managed` in the manifest: `0`, `1`, or `2` in unpacked sources that hold both.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ManagedState {
    #[default]
    Unmanaged,
    Managed,
    Both,
}

impl std::fmt::Display for ManagedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl ManagedState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unmanaged => "unmanaged",
            Self::Managed => "managed",
            Self::Both => "both",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Publisher {
    pub unique_name: String,
    pub display_name: Option<String>,
    pub customization_prefix: Option<String>,
    /// `CustomizationOptionValuePrefix` (10000 to 99999), baked into custom option values.
    pub option_value_prefix: Option<u32>,
    pub location: Location,
}

/// Attributes of the `ImportExportXml` root element of `solution.xml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportInfo {
    /// Build of the exporting organisation (`version`).
    pub version: Option<String>,
    /// `SolutionPackageVersion`: the platform version the package is built for.
    pub solution_package_version: Option<String>,
    /// `minimumversion`: only on CRM 2011 exports, which lack `SolutionPackageVersion`.
    pub minimum_version: Option<String>,
    /// `generatedBy`: `CrmLive` or `OnPremise`.
    pub generated_by: Option<String>,
    pub language_code: Option<u32>,
    pub organization_version: Option<String>,
    pub organization_schema_type: Option<String>,
    pub location: Option<Location>,
}

/// `SolutionManifest/ParentSolution`: present when the package is a patch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ParentSolution {
    pub unique_name: String,
    pub version: Option<String>,
    pub location: Location,
}

/// A component type code: numeric in most exports, a name in some newer ones (`MaskingRule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComponentType {
    Code(u32),
    Name(String),
}

impl Default for ComponentType {
    fn default() -> Self {
        Self::Code(0)
    }
}

impl ComponentType {
    pub fn parse(text: &str) -> Self {
        match text.trim().parse::<u32>() {
            Ok(code) => Self::Code(code),
            Err(_) => Self::Name(text.trim().to_owned()),
        }
    }

    /// A readable name for the type, e.g. `entity` for 1.
    pub fn kind(&self) -> String {
        match self {
            Self::Code(code) => component_kind_name(*code)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("type_{code}")),
            Self::Name(name) => name.to_ascii_lowercase(),
        }
    }
}

/// Names of the component type codes seen in real exports (SolutionComponent.componenttype).
pub fn component_kind_name(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "entity",
        2 => "attribute",
        3 => "relationship",
        9 => "option_set",
        10 => "entity_relationship",
        14 => "entity_key",
        20 => "role",
        26 => "saved_query",
        29 => "workflow",
        31 => "report",
        36 => "email_template",
        50 => "ribbon",
        59 => "saved_query_visualization",
        60 => "system_form",
        61 => "web_resource",
        62 => "site_map",
        63 => "connection_role",
        65 => "hierarchy_rule",
        66 => "custom_control",
        70 => "field_security_profile",
        80 => "app_module",
        90 => "plugin_type",
        91 => "plugin_assembly",
        92 => "sdk_message_processing_step",
        95 => "service_endpoint",
        150 => "routing_rule",
        152 => "sla",
        161 => "mobile_offline_profile",
        183 => "entity_data_provider",
        300 => "canvas_app",
        371 => "connector",
        372 => "custom_connector",
        380 => "environment_variable_definition",
        381 => "environment_variable_value",
        400 => "ai_project_type",
        401 => "ai_model",
        402 => "ai_configuration",
        430 => "entity_analytics_configuration",
        431 => "attribute_image_configuration",
        432 => "entity_image_configuration",
        _ => return None,
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RootComponent {
    #[serde(rename = "type")]
    pub component_type: ComponentType,
    pub kind: String,
    pub schema_name: Option<String>,
    pub id: Option<String>,
    /// 0 include subcomponents, 1 do not include subcomponents, 2 include as shell only.
    pub behavior: Option<u8>,
    pub location: Location,
}

/// One side of a `MissingDependency`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DependencyNode {
    #[serde(rename = "type")]
    pub component_type: Option<ComponentType>,
    pub kind: Option<String>,
    pub schema_name: Option<String>,
    pub display_name: Option<String>,
    pub id: Option<String>,
    pub parent_schema_name: Option<String>,
    pub parent_display_name: Option<String>,
    /// `solution` as written: `Active`, `System` or `Name (version)`.
    pub solution: Option<String>,
    /// The solution's unique name, parsed from `solution`.
    pub solution_name: Option<String>,
    /// The solution's version, parsed from `solution="Name (1.2.3.4)"`.
    pub solution_version: Option<String>,
    /// Text of a `<package>` child: the package that ships the required solution.
    pub package: Option<String>,
    /// Other attributes, such as dotted alternate keys (`id.uniquename`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MissingDependency {
    pub required: DependencyNode,
    pub dependent: DependencyNode,
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Attribute {
    /// Logical name, lower-case: the identity for diffs.
    pub name: CompactString,
    /// `PhysicalName`, in schema-name casing.
    pub schema_name: Option<CompactString>,
    #[serde(rename = "type")]
    pub attribute_type: Option<CompactString>,
    pub custom: bool,
    pub max_length: Option<u64>,
    pub required_level: Option<CompactString>,
    /// `unmodified="1"`: exported without its definition; present, not deleted.
    pub unmodified: bool,
    /// Name of the option set the attribute uses (its local set or a global one).
    pub option_set: Option<CompactString>,
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Entity {
    /// Logical name, lower-case.
    pub name: String,
    pub schema_name: String,
    pub display_name: Option<String>,
    /// True when the entity has no `EntityInfo`: only a shell (behavior 1 or 2), so a missing
    /// attribute is not a deletion.
    pub shell: bool,
    /// `<entity unmodified="1">`: the definition was not exported.
    pub unmodified: bool,
    pub attributes: Vec<Attribute>,
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OptionValue {
    pub value: i64,
    pub label: Option<String>,
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OptionSet {
    pub name: String,
    pub display_name: Option<String>,
    /// Global option set (`optionsets/optionset`) or local to one attribute.
    pub global: bool,
    /// For local sets: the entity and attribute that own it.
    pub entity: Option<String>,
    pub attribute: Option<String>,
    pub option_set_type: Option<String>,
    pub values: Vec<OptionValue>,
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Relationship {
    pub name: String,
    pub relationship_type: Option<String>,
    pub referencing_entity: Option<String>,
    pub referenced_entity: Option<String>,
    pub referencing_attribute: Option<String>,
    /// For a many-to-many relationship: the table that holds its associations.
    pub intersect_entity: Option<String>,
    pub cascade_delete: Option<String>,
    pub location: Location,
}

/// Something about the package that does not stop reading it but that a user should know,
/// e.g. that Dataverse would reject the import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageWarning {
    /// Kebab-case code, e.g. `solution-not-at-root`.
    pub code: String,
    pub message: String,
    pub file: Option<String>,
}

/// One solution package, read from a zip or a folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Package {
    pub source: Source,
    pub unique_name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The version as written in the manifest.
    pub version: String,
    /// The comparable version, or `None` when the text is not a valid solution version.
    /// Shown in JSON as `version_normalized` (`1.2` becomes `1.2.0.0`).
    #[serde(
        rename = "version_normalized",
        serialize_with = "serialize_normalized",
        deserialize_with = "deserialize_normalized"
    )]
    pub solution_version: Option<SolutionVersion>,
    /// Why `version` is invalid, when it is.
    pub version_error: Option<String>,
    pub managed: ManagedState,
    pub publisher: Publisher,
    pub export: ExportInfo,
    /// When the zip was exported (its newest entry timestamp); `None` for unpacked trees.
    pub exported_at: Option<ExportTime>,
    pub parent: Option<ParentSolution>,
    pub root_components: Vec<RootComponent>,
    pub missing_dependencies: Vec<MissingDependency>,
    pub entities: Vec<Entity>,
    pub option_sets: Vec<OptionSet>,
    pub relationships: Vec<Relationship>,
    /// Environment variable definitions (what a deployment settings file must fill in).
    pub environment_variables: Vec<super::EnvironmentVariable>,
    /// Connection references (each needs a connection in the target environment).
    pub connection_references: Vec<super::ConnectionReference>,
    /// Counts of components by kind (`workflows`, `web_resources`, `canvas_apps`, …).
    pub components: BTreeMap<String, u64>,
    pub warnings: Vec<PackageWarning>,
    /// Where the manifest's `SolutionManifest` element was read.
    pub location: Location,
}

impl Relationship {
    pub fn is_many_to_many(&self) -> bool {
        self.relationship_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("ManyToMany"))
    }
}

impl Package {
    /// True when the manifest names a parent solution.
    pub fn is_patch(&self) -> bool {
        self.parent.is_some()
    }

    pub fn entity(&self, logical_name: &str) -> Option<&Entity> {
        self.entities
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(logical_name))
    }
}

fn serialize_normalized<S: serde::Serializer>(
    version: &Option<SolutionVersion>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match version {
        Some(version) => serializer.serialize_some(&version.normalized()),
        None => serializer.serialize_none(),
    }
}

fn deserialize_normalized<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SolutionVersion>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.and_then(|t| SolutionVersion::parse(&t).ok()))
}
