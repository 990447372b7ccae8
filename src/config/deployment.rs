//! Deployment settings files (`pac solution create-settings`, consumed by `pac solution import
//! --settings-file` and the Power Platform Build Tools): per target environment, the values of
//! a solution's environment variables and the connections of its connection references.
//!
//! The file is `{"EnvironmentVariables": [{"SchemaName", "Value"}], "ConnectionReferences":
//! [{"LogicalName", "ConnectionId", "ConnectorId"}]}`; unknown fields are ignored. Values and
//! connection ids are never kept, only whether each is filled in: they can be secrets, and no
//! policy needs more.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::json_file::{self, JsonFileError};

/// What the file is, in errors.
const WHAT: &str = "deployment settings";

/// A settings file as policies see it (`context.deployment_settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSettings {
    /// The target environment the file is for.
    pub name: String,
    /// The solution the file is for, when it was found by a `{solution}` pattern; `None`: for
    /// every package checked against the environment.
    pub solution: Option<String>,
    /// The folder holding the file and its name, as a finding's location cites them.
    pub folder: String,
    pub file: String,
    pub variables: Vec<SettingVariable>,
    pub connections: Vec<SettingConnection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingVariable {
    pub schema_name: String,
    /// `Value` is a non-empty string (or any non-null JSON value).
    pub has_value: bool,
    /// Line of the entry in the file.
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingConnection {
    pub logical_name: String,
    /// `ConnectionId` is filled in.
    pub has_connection: bool,
    pub connector_id: Option<String>,
    pub line: u64,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "EnvironmentVariables", default)]
    variables: Vec<VariableRow>,
    #[serde(rename = "ConnectionReferences", default)]
    connections: Vec<ConnectionRow>,
}

#[derive(Deserialize)]
struct VariableRow {
    #[serde(rename = "SchemaName")]
    schema_name: String,
    #[serde(rename = "Value", default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct ConnectionRow {
    #[serde(rename = "LogicalName")]
    logical_name: String,
    #[serde(rename = "ConnectionId", default)]
    connection_id: Option<String>,
    #[serde(rename = "ConnectorId", default)]
    connector_id: Option<String>,
}

/// The placeholder in a settings path that stands for a solution's unique name.
pub const SOLUTION_PLACEHOLDER: &str = "{solution}";

/// The parts of a `{solution}` pattern: its folder and the file name around the placeholder.
struct Pattern<'p> {
    folder: &'p Path,
    prefix: &'p str,
    suffix: &'p str,
}

impl<'p> Pattern<'p> {
    fn of(path: &'p Path) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        let (prefix, suffix) = name.split_once(SOLUTION_PLACEHOLDER)?;
        Some(Self {
            folder: path.parent().unwrap_or(Path::new("")),
            prefix,
            suffix,
        })
    }

    /// The solution a file name stands for, if it matches.
    fn solution<'n>(&self, file_name: &'n str) -> Option<&'n str> {
        let inner = file_name
            .strip_prefix(self.prefix)?
            .strip_suffix(self.suffix)?;
        (!inner.is_empty()).then_some(inner)
    }
}

/// Whether `file` is a file the config reads: `referenced` itself, or a file its `{solution}`
/// pattern matches (a settings file added for a new solution counts too).
pub fn is_referenced_file(referenced: &Path, file: &Path) -> bool {
    let pattern = referenced;
    if pattern == file {
        return true;
    }
    let (Some(pattern), Some(name)) = (Pattern::of(pattern), file.file_name()) else {
        return false;
    };
    file.parent() == Some(pattern.folder)
        && name.to_str().is_some_and(|n| pattern.solution(n).is_some())
}

impl DeploymentSettings {
    /// Reads the settings for environment `name` at `path`: one file for every package, or
    /// with `{solution}` in the file name (`settings/prod/{solution}.json`), every file of
    /// that folder the pattern matches, each for its solution.
    pub fn load_all(path: &Path, name: &str) -> Result<Vec<Self>, JsonFileError> {
        let Some(pattern) = Pattern::of(path) else {
            return Ok(vec![Self::load(path, name)?]);
        };
        let io = |source| JsonFileError::Io {
            path: path.to_path_buf(),
            what: WHAT,
            source,
        };
        let folder = if pattern.folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            pattern.folder
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(io)? {
            let file = entry.map_err(io)?.path();
            let Some(solution) = file
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| pattern.solution(n))
                .map(str::to_owned)
            else {
                continue;
            };
            if file.is_file() {
                let mut settings = Self::load(&file, name)?;
                settings.solution = Some(solution);
                found.push(settings);
            }
        }
        found.sort_by(|a, b| a.solution.cmp(&b.solution));
        Ok(found)
    }

    /// Reads the settings file at `path` for the environment `name`.
    pub fn load(path: &Path, name: &str) -> Result<Self, JsonFileError> {
        Self::parse(&json_file::read(path, WHAT)?, path, name)
    }

    /// Parses settings text; `origin` names it in errors and locations.
    pub fn parse(text: &str, origin: &Path, name: &str) -> Result<Self, JsonFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let file: File = json_file::parse(text, origin, WHAT)?;
        let mut cursor = LineCursor::after(text, "\"EnvironmentVariables\"");
        let variables = file
            .variables
            .into_iter()
            .map(|row| SettingVariable {
                line: cursor.line_of(&row.schema_name),
                has_value: match &row.value {
                    serde_json::Value::Null => false,
                    serde_json::Value::String(text) => !text.trim().is_empty(),
                    _ => true,
                },
                schema_name: row.schema_name,
            })
            .collect();
        let mut cursor = LineCursor::after(text, "\"ConnectionReferences\"");
        let connections = file
            .connections
            .into_iter()
            .map(|row| SettingConnection {
                line: cursor.line_of(&row.logical_name),
                has_connection: row.connection_id.is_some_and(|id| !id.trim().is_empty()),
                connector_id: row.connector_id.filter(|id| !id.trim().is_empty()),
                logical_name: row.logical_name,
            })
            .collect();
        Ok(Self {
            name: name.to_owned(),
            solution: None,
            folder: origin
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            file: origin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            variables,
            connections,
        })
    }
}

/// Finds the line of each entry by its name, in file order: entries come in the order they
/// are written, so each search starts after the previous hit.
struct LineCursor<'t> {
    text: &'t str,
    offset: usize,
}

impl<'t> LineCursor<'t> {
    /// A cursor starting after `key` (the list's key), or at the start without it.
    fn after(text: &'t str, key: &str) -> Self {
        let offset = text.find(key).map_or(0, |at| at + key.len());
        Self { text, offset }
    }

    fn line_of(&mut self, name: &str) -> u64 {
        let quoted = serde_json::to_string(name).unwrap_or_default();
        let rest = &self.text[self.offset..];
        let Some(at) = rest.find(&quoted) else {
            return 1;
        };
        self.offset += at + quoted.len();
        let (line, _) = crate::diagnostic::line_column(self.text, self.offset);
        line as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_their_lines_and_never_their_values() {
        let text = r#"{
  "EnvironmentVariables": [
    { "SchemaName": "new_a", "Value": "secret-value" },
    { "SchemaName": "new_b", "Value": "" }
  ],
  "ConnectionReferences": [
    { "LogicalName": "new_a", "ConnectionId": "", "ConnectorId": "/providers/x/apis/shared_y" }
  ]
}"#;
        let settings = DeploymentSettings::parse(text, Path::new("s/prod.json"), "prod")
            .expect("valid settings");
        assert_eq!(settings.variables[0].line, 3);
        assert!(settings.variables[0].has_value);
        assert_eq!(settings.variables[1].line, 4);
        assert!(!settings.variables[1].has_value);
        // The connection named like a variable is found after the variables.
        assert_eq!(settings.connections[0].line, 7);
        assert!(!settings.connections[0].has_connection);
        assert!(!format!("{settings:?}").contains("secret-value"));
        assert_eq!(
            (settings.folder.as_str(), settings.file.as_str()),
            ("s", "prod.json")
        );
    }
}
