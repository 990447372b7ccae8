//! What a package needs configured per environment: its environment variable definitions and
//! its connection references, as `pac solution create-settings` lists them.
//!
//! Definitions come from `environmentvariabledefinitions/<schema>/environmentvariabledefinition.xml`
//! (with an optional current value in `environmentvariablevalues.json` beside it) or, in
//! exports before 2021, from `<EnvironmentVariables><Definition>` in customizations.xml.
//! Connection references come from `<connectionreferences>` in customizations.xml. Values are
//! never kept: they can be secrets, and a policy only needs to know whether one exists.

use serde::{Deserialize, Serialize};

use super::error::PackageError;
use super::model::Location;
use super::xml::XmlStream;

/// An environment variable definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvironmentVariable {
    pub schema_name: String,
    /// `type`: text, number, boolean, json, data_source, secret (or `type_<code>`).
    #[serde(rename = "type")]
    pub variable_type: Option<String>,
    /// A non-empty default value is defined (the value itself is not kept).
    pub has_default: bool,
    /// A current value ships in the package (`environmentvariablevalues.json`).
    pub has_value: bool,
    pub required: bool,
    pub location: Location,
}

/// A connection reference: a flow's or app's connection, bound per environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionReference {
    pub logical_name: String,
    pub display_name: Option<String>,
    /// `/providers/Microsoft.PowerApps/apis/shared_...`.
    pub connector_id: Option<String>,
    pub location: Location,
}

/// Name of an environment variable type code.
pub fn variable_type_name(code: &str) -> String {
    match code.trim() {
        "100000000" => "text".into(),
        "100000001" => "number".into(),
        "100000002" => "boolean".into(),
        "100000003" => "json".into(),
        "100000004" => "data_source".into(),
        "100000005" => "secret".into(),
        other => format!("type_{other}"),
    }
}

fn is_true(text: &str) -> bool {
    matches!(text.trim(), "1" | "true" | "True")
}

/// `<connectionreferences>` of customizations.xml; its start tag was just read.
pub(crate) fn parse_connection_references(
    xml: &mut XmlStream<'_>,
    empty: bool,
    into: &mut Vec<ConnectionReference>,
) -> Result<(), PackageError> {
    if empty {
        return Ok(());
    }
    while let Some(tag) = xml.next_child()? {
        let (empty, line) = (tag.empty, tag.line());
        if tag.name() != b"connectionreference" {
            xml.skip(empty)?;
            continue;
        }
        let mut reference = ConnectionReference {
            logical_name: tag
                .attr("connectionreferencelogicalname")?
                .unwrap_or_default(),
            location: xml.location(line),
            ..ConnectionReference::default()
        };
        if !empty {
            while let Some(field) = xml.next_child()? {
                let empty = field.empty;
                let slot = match field.name() {
                    b"connectorid" => &mut reference.connector_id,
                    b"connectionreferencedisplayname" => &mut reference.display_name,
                    _ => {
                        xml.skip(empty)?;
                        continue;
                    }
                };
                let text = xml.text(empty)?;
                *slot = (!text.is_empty()).then_some(text);
            }
        }
        if !reference.logical_name.is_empty() {
            into.push(reference);
        }
    }
    Ok(())
}

/// `<EnvironmentVariables>` of customizations.xml in exports before 2021: `<Definition>`
/// children with `<SchemaName>`, `<Type>`, `<IsRequired>` and `<DefaultValue>`.
pub(crate) fn parse_inline_variables(
    xml: &mut XmlStream<'_>,
    empty: bool,
    into: &mut Vec<EnvironmentVariable>,
) -> Result<(), PackageError> {
    if empty {
        return Ok(());
    }
    while let Some(tag) = xml.next_child()? {
        let (empty, line) = (tag.empty, tag.line());
        if tag.name() != b"Definition" {
            xml.skip(empty)?;
            continue;
        }
        let mut variable = EnvironmentVariable {
            location: xml.location(line),
            ..EnvironmentVariable::default()
        };
        read_definition_fields(xml, empty, &mut variable)?;
        if !variable.schema_name.is_empty() {
            into.push(variable);
        }
    }
    Ok(())
}

/// `environmentvariabledefinition.xml`: one `<environmentvariabledefinition schemaname="…">`.
pub(crate) fn parse_definition_file(
    xml: &mut XmlStream<'_>,
) -> Result<Option<EnvironmentVariable>, PackageError> {
    let root = xml.root()?;
    if !root
        .name()
        .eq_ignore_ascii_case(b"environmentvariabledefinition")
    {
        let found = root.name_string();
        let line = root.line();
        return Err(xml.error_at(
            line,
            super::error::PackageErrorKind::WrongRoot {
                expected: "environmentvariabledefinition",
                found,
            },
        ));
    }
    let (empty, line) = (root.empty, root.line());
    let mut variable = EnvironmentVariable {
        schema_name: root.attr("schemaname")?.unwrap_or_default(),
        location: xml.location(line),
        ..EnvironmentVariable::default()
    };
    read_definition_fields(xml, empty, &mut variable)?;
    xml.finish()?;
    Ok((!variable.schema_name.is_empty()).then_some(variable))
}

/// The children of a definition, in either spelling (`SchemaName` inline, `schemaname` in
/// the per-variable files).
fn read_definition_fields(
    xml: &mut XmlStream<'_>,
    empty: bool,
    variable: &mut EnvironmentVariable,
) -> Result<(), PackageError> {
    if empty {
        return Ok(());
    }
    while let Some(field) = xml.next_child()? {
        let empty = field.empty;
        let name = field.name().to_ascii_lowercase();
        match name.as_slice() {
            b"schemaname" => variable.schema_name = xml.text(empty)?,
            b"type" => variable.variable_type = Some(variable_type_name(&xml.text(empty)?)),
            b"isrequired" => variable.required = is_true(&xml.text(empty)?),
            b"defaultvalue" => variable.has_default = !xml.text(empty)?.is_empty(),
            _ => xml.skip(empty)?,
        }
    }
    Ok(())
}

/// The largest `environmentvariablevalues.json` read; real ones are a few hundred bytes.
pub(crate) const MAX_VALUES_FILE_BYTES: u64 = 1 << 20;

/// A values file that cannot be read: the variable counts as shipping no value.
pub(crate) fn unreadable_values(file: &str, why: &str) -> super::model::PackageWarning {
    super::model::PackageWarning {
        code: "variable-value-unreadable".into(),
        message: format!("{file}: the environment variable value cannot be read: {why}"),
        file: Some(file.to_owned()),
    }
}

/// Whether `environmentvariablevalues.json` holds a non-empty value: `{"environmentvariablevalues":
/// {"environmentvariablevalue": {"value": …}}}`, the inner object possibly a list. `Err` says
/// why the file cannot be read.
pub(crate) fn ships_value(bytes: &[u8]) -> Result<bool, String> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let entries = value
        .get("environmentvariablevalues")
        .and_then(|v| v.get("environmentvariablevalue"));
    let non_empty = |entry: &serde_json::Value| {
        entry
            .get("value")
            .is_some_and(|v| v.as_str().map_or(!v.is_null(), |s| !s.is_empty()))
    };
    Ok(match entries {
        Some(serde_json::Value::Array(list)) => list.iter().any(non_empty),
        Some(entry) => non_empty(entry),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shipped_value_is_recognised_in_each_shape() {
        let one = br#"{"environmentvariablevalues":{"environmentvariablevalue":{"value":"x"}}}"#;
        assert_eq!(ships_value(one), Ok(true));
        let empty = br#"{"environmentvariablevalues":{"environmentvariablevalue":{"value":""}}}"#;
        assert_eq!(ships_value(empty), Ok(false));
        let list = br#"{"environmentvariablevalues":{"environmentvariablevalue":[{"value":""},{"value":"y"}]}}"#;
        assert_eq!(ships_value(list), Ok(true));
        assert_eq!(ships_value(b"{}"), Ok(false));
        assert!(ships_value(b"{not json").is_err());
    }
}
