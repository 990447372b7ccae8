//! Environment snapshots: what a target environment has installed, saved as JSON from the
//! Dataverse Web API (`GET [org]/api/data/v9.2/solutions?$select=uniquename,version,ismanaged&
//! $expand=publisherid(...),parentsolutionid(...)`), so policies can tell whether a package
//! fits the environment as it is now. The file is `{"name", "version", "solutions"}` where
//! `solutions` is the rows array or the whole response body (`{"value": [...]}`); unknown
//! fields are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::json_file::{self, JsonFileError};
use super::settings::Target;

/// What the file is, in errors.
const WHAT: &str = "environment snapshot";

/// A target environment as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    /// The platform version (`RetrieveVersion()`).
    pub version: String,
    /// Installed solutions by lower-cased unique name.
    pub solutions: BTreeMap<String, InstalledSolution>,
}

/// One installed solution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledSolution {
    pub unique_name: String,
    pub version: String,
    pub managed: bool,
    pub publisher: Option<InstalledPublisher>,
    /// For a patch: the unique name of its parent.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPublisher {
    pub unique_name: String,
    pub customization_prefix: Option<String>,
    pub option_value_prefix: Option<i64>,
}

#[derive(Deserialize)]
struct File {
    name: String,
    version: String,
    solutions: Rows,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Rows {
    List(Vec<Row>),
    Body { value: Vec<Row> },
}

#[derive(Deserialize)]
struct Row {
    uniquename: String,
    version: String,
    ismanaged: bool,
    #[serde(default)]
    publisherid: Option<PublisherRow>,
    #[serde(default)]
    parentsolutionid: Option<ParentRow>,
}

#[derive(Deserialize)]
struct PublisherRow {
    uniquename: String,
    #[serde(default)]
    customizationprefix: Option<String>,
    #[serde(default)]
    customizationoptionvalueprefix: Option<i64>,
}

#[derive(Deserialize)]
struct ParentRow {
    uniquename: String,
}

impl Environment {
    /// Reads the snapshot at `path`.
    pub fn load(path: &Path) -> Result<Self, JsonFileError> {
        Self::parse(&json_file::read(path, WHAT)?, path)
    }

    /// Parses snapshot text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, JsonFileError> {
        let file: File = json_file::parse(text, origin, WHAT)?;
        let rows = match file.solutions {
            Rows::List(rows) | Rows::Body { value: rows } => rows,
        };
        let solutions = rows
            .into_iter()
            .map(|row| {
                let solution = InstalledSolution {
                    unique_name: row.uniquename,
                    version: row.version,
                    managed: row.ismanaged,
                    publisher: row.publisherid.map(|p| InstalledPublisher {
                        unique_name: p.uniquename,
                        customization_prefix: p.customizationprefix,
                        option_value_prefix: p.customizationoptionvalueprefix,
                    }),
                    parent: row.parentsolutionid.map(|p| p.uniquename),
                };
                (solution.unique_name.to_lowercase(), solution)
            })
            .collect();
        Ok(Self {
            name: file.name,
            version: file.version,
            solutions,
        })
    }

    /// The environment as a target: its platform version feeds `version-compatibility`.
    pub fn target(&self) -> Target {
        Target {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }
}
