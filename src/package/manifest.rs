//! Parses `solution.xml` (`Other/Solution.xml` when unpacked): the solution's identity,
//! version, publisher, export facts, parent (for patches), root components and missing
//! dependencies. Unknown elements are skipped; missing required ones are errors.

use std::collections::BTreeMap;

use super::error::{PackageError, PackageErrorKind};
use super::model::{
    ComponentType, DependencyNode, ExportInfo, Location, ManagedState, MissingDependency,
    ParentSolution, Publisher, RootComponent,
};
use super::xml::{Tag, XmlStream};

/// Everything `solution.xml` says.
#[derive(Debug)]
pub(crate) struct Manifest {
    pub unique_name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub version: String,
    pub managed: ManagedState,
    pub publisher: Publisher,
    pub export: ExportInfo,
    pub parent: Option<ParentSolution>,
    pub root_components: Vec<RootComponent>,
    pub missing_dependencies: Vec<MissingDependency>,
    pub location: Location,
}

/// A label in several languages; the one in the export's base language wins.
#[derive(Debug, Default)]
struct Labels(Vec<(Option<u32>, String)>);

impl Labels {
    fn read(xml: &mut XmlStream<'_>, empty: bool, label_attr: &str) -> Result<Self, PackageError> {
        let mut labels = Self::default();
        if empty {
            return Ok(labels);
        }
        while let Some(tag) = xml.next_child()? {
            let text = tag.attr(label_attr)?;
            let language = tag
                .attr("languagecode")?
                .and_then(|l| l.trim().parse().ok());
            let empty = tag.empty;
            xml.skip(empty)?;
            if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
                labels.0.push((language, text));
            }
        }
        Ok(labels)
    }

    fn pick(self, language: Option<u32>) -> Option<String> {
        let mut labels = self.0;
        let preferred = labels
            .iter()
            .position(|(code, _)| language.is_some() && *code == language);
        match preferred {
            Some(index) => Some(labels.swap_remove(index).1),
            None => labels.into_iter().next().map(|(_, text)| text),
        }
    }
}

fn none_if_empty(text: String) -> Option<String> {
    if text.is_empty() {
        None
    } else {
        Some(text)
    }
}

pub(crate) fn parse_manifest(xml: &mut XmlStream<'_>) -> Result<Manifest, PackageError> {
    let root = xml.root()?;
    if root.name() != b"ImportExportXml" {
        let found = root.name_string();
        let line = root.line();
        return Err(xml.error_at(
            line,
            PackageErrorKind::WrongRoot {
                expected: "ImportExportXml",
                found,
            },
        ));
    }
    let root_line = root.line();
    let mut export = read_export_info(&root)?;
    let root_empty = root.empty;
    export.location = Some(xml.location(root_line));
    let mut manifest = None;
    if !root_empty {
        while let Some(tag) = xml.next_child()? {
            let (empty, line) = (tag.empty, tag.line());
            if tag.name() == b"SolutionManifest" && manifest.is_none() {
                manifest = Some(parse_solution_manifest(xml, empty, line, &export)?);
            } else {
                xml.skip(empty)?;
            }
        }
    }
    xml.finish()?;
    let mut manifest = manifest.ok_or_else(|| {
        xml.error_at(
            1,
            PackageErrorKind::Manifest(
                "no <SolutionManifest> element under <ImportExportXml>".into(),
            ),
        )
    })?;
    manifest.export = export;
    Ok(manifest)
}

fn read_export_info(root: &Tag<'_>) -> Result<ExportInfo, PackageError> {
    let mut export = ExportInfo::default();
    for (key, value) in root.attrs()? {
        let value = Some(value.trim().to_owned());
        match key.as_str() {
            "version" => export.version = value,
            "SolutionPackageVersion" => export.solution_package_version = value,
            "minimumversion" => export.minimum_version = value,
            "generatedBy" => export.generated_by = value,
            "languagecode" => export.language_code = value.and_then(|v| v.parse().ok()),
            "OrganizationVersion" => export.organization_version = value,
            "OrganizationSchemaType" => export.organization_schema_type = value,
            _ => {}
        }
    }
    Ok(export)
}

fn parse_solution_manifest(
    xml: &mut XmlStream<'_>,
    empty: bool,
    manifest_line: u64,
    export: &ExportInfo,
) -> Result<Manifest, PackageError> {
    let mut unique_name = None;
    let mut names = Labels::default();
    let mut descriptions = Labels::default();
    let mut version = None;
    let mut managed = None;
    let mut publisher = None;
    let mut parent = None;
    let mut root_components = Vec::new();
    let mut missing_dependencies = Vec::new();
    if !empty {
        while let Some(tag) = xml.next_child()? {
            let (empty, line) = (tag.empty, tag.line());
            match tag.name() {
                b"UniqueName" => unique_name = Some(xml.text(empty)?),
                b"LocalizedNames" => names = Labels::read(xml, empty, "description")?,
                b"Descriptions" => descriptions = Labels::read(xml, empty, "description")?,
                b"Version" => version = Some(xml.text(empty)?),
                b"Managed" => managed = Some((xml.text(empty)?, line)),
                b"Publisher" => publisher = Some(parse_publisher(xml, empty, line, export)?),
                b"ParentSolution" => parent = Some(parse_parent(xml, empty, line)?),
                b"RootComponents" => root_components = parse_root_components(xml, empty)?,
                b"MissingDependencies" => missing_dependencies = parse_missing(xml, empty)?,
                _ => xml.skip(empty)?,
            }
        }
    }
    let missing = |what: &str| {
        xml.error_at(
            manifest_line,
            PackageErrorKind::Manifest(format!("<SolutionManifest> has no {what}")),
        )
    };
    let unique_name = unique_name
        .filter(|name| !name.is_empty())
        .ok_or_else(|| missing("<UniqueName>"))?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("<Version>"))?;
    let (managed_text, managed_line) = managed.ok_or_else(|| missing("<Managed>"))?;
    let managed = match managed_text.as_str() {
        "0" | "false" => ManagedState::Unmanaged,
        "1" | "true" => ManagedState::Managed,
        "2" => ManagedState::Both,
        other => {
            return Err(xml.error_at(
                managed_line,
                PackageErrorKind::Manifest(format!(
                    "<Managed> is {other:?}; expected 0 (unmanaged), 1 (managed) or 2 (both)"
                )),
            ))
        }
    };
    let publisher = publisher.ok_or_else(|| missing("<Publisher>"))?;
    Ok(Manifest {
        unique_name,
        display_name: names.pick(export.language_code),
        description: descriptions.pick(export.language_code),
        version,
        managed,
        publisher,
        export: ExportInfo::default(),
        parent,
        root_components,
        missing_dependencies,
        location: xml.location(manifest_line),
    })
}

fn parse_publisher(
    xml: &mut XmlStream<'_>,
    empty: bool,
    line: u64,
    export: &ExportInfo,
) -> Result<Publisher, PackageError> {
    let mut unique_name = None;
    let mut names = Labels::default();
    let mut prefix = None;
    let mut option_prefix = None;
    if !empty {
        while let Some(tag) = xml.next_child()? {
            let (empty, child_line) = (tag.empty, tag.line());
            match tag.name() {
                b"UniqueName" => unique_name = Some(xml.text(empty)?),
                b"LocalizedNames" => names = Labels::read(xml, empty, "description")?,
                b"CustomizationPrefix" => prefix = none_if_empty(xml.text(empty)?),
                b"CustomizationOptionValuePrefix" => {
                    option_prefix = Some((xml.text(empty)?, child_line))
                }
                _ => xml.skip(empty)?,
            }
        }
    }
    let unique_name = unique_name.filter(|n| !n.is_empty()).ok_or_else(|| {
        xml.error_at(
            line,
            PackageErrorKind::Manifest("<Publisher> has no <UniqueName>".into()),
        )
    })?;
    let option_value_prefix = match option_prefix {
        None => None,
        Some((text, _)) if text.is_empty() => None,
        Some((text, child_line)) => Some(text.parse::<u32>().map_err(|_| {
            xml.error_at(
                child_line,
                PackageErrorKind::Manifest(format!(
                    "<CustomizationOptionValuePrefix> is {text:?}, not a number"
                )),
            )
        })?),
    };
    Ok(Publisher {
        unique_name,
        display_name: names.pick(export.language_code),
        customization_prefix: prefix,
        option_value_prefix,
        location: xml.location(line),
    })
}

fn parse_parent(
    xml: &mut XmlStream<'_>,
    empty: bool,
    line: u64,
) -> Result<ParentSolution, PackageError> {
    let mut unique_name = None;
    let mut version = None;
    if !empty {
        while let Some(tag) = xml.next_child()? {
            let empty = tag.empty;
            match tag.name() {
                b"UniqueName" => unique_name = none_if_empty(xml.text(empty)?),
                b"Version" => version = none_if_empty(xml.text(empty)?),
                _ => xml.skip(empty)?,
            }
        }
    }
    let unique_name = unique_name.ok_or_else(|| {
        xml.error_at(
            line,
            PackageErrorKind::Manifest("<ParentSolution> has no <UniqueName>".into()),
        )
    })?;
    Ok(ParentSolution {
        unique_name,
        version,
        location: xml.location(line),
    })
}

fn parse_root_components(
    xml: &mut XmlStream<'_>,
    empty: bool,
) -> Result<Vec<RootComponent>, PackageError> {
    let mut components = Vec::new();
    if empty {
        return Ok(components);
    }
    while let Some(tag) = xml.next_child()? {
        let (empty, line) = (tag.empty, tag.line());
        if tag.name() != b"RootComponent" {
            xml.skip(empty)?;
            continue;
        }
        let component_type = tag.attr("type")?.map(|t| ComponentType::parse(&t));
        let schema_name = tag.attr("schemaName")?.and_then(none_if_empty);
        let id = tag.attr("id")?.and_then(none_if_empty);
        let behavior = tag.attr("behavior")?;
        xml.skip(empty)?;
        let component_type = component_type.ok_or_else(|| {
            xml.error_at(
                line,
                PackageErrorKind::Manifest("<RootComponent> has no type attribute".into()),
            )
        })?;
        let behavior = match behavior {
            None => None,
            Some(text) => Some(text.trim().parse::<u8>().map_err(|_| {
                xml.error_at(
                    line,
                    PackageErrorKind::Manifest(format!(
                        "<RootComponent> behavior is {text:?}; expected 0, 1 or 2"
                    )),
                )
            })?),
        };
        components.push(RootComponent {
            kind: component_type.kind(),
            component_type,
            schema_name,
            id,
            behavior,
            location: xml.location(line),
        });
    }
    Ok(components)
}

fn parse_missing(
    xml: &mut XmlStream<'_>,
    empty: bool,
) -> Result<Vec<MissingDependency>, PackageError> {
    let mut dependencies = Vec::new();
    if empty {
        return Ok(dependencies);
    }
    while let Some(tag) = xml.next_child()? {
        let (empty, line) = (tag.empty, tag.line());
        if tag.name() != b"MissingDependency" || empty {
            xml.skip(empty)?;
            continue;
        }
        let mut required = DependencyNode::default();
        let mut dependent = DependencyNode::default();
        while let Some(side) = xml.next_child()? {
            let is_required = match side.name() {
                b"Required" => true,
                b"Dependent" => false,
                _ => {
                    let empty = side.empty;
                    xml.skip(empty)?;
                    continue;
                }
            };
            let attrs = side.attrs()?;
            let empty = side.empty;
            let node = if is_required {
                &mut required
            } else {
                &mut dependent
            };
            fill_dependency_node(node, attrs);
            if !empty {
                while let Some(child) = xml.next_child()? {
                    let child_empty = child.empty;
                    if child.name() == b"package" {
                        node.package = none_if_empty(xml.text(child_empty)?);
                    } else {
                        xml.skip(child_empty)?;
                    }
                }
            }
        }
        dependencies.push(MissingDependency {
            required,
            dependent,
            location: xml.location(line),
        });
    }
    Ok(dependencies)
}

fn fill_dependency_node(node: &mut DependencyNode, attrs: Vec<(String, String)>) {
    let mut other = BTreeMap::new();
    for (key, value) in attrs {
        match key.as_str() {
            "type" => {
                let component_type = ComponentType::parse(&value);
                node.kind = Some(component_type.kind());
                node.component_type = Some(component_type);
            }
            "schemaName" => node.schema_name = none_if_empty(value),
            "displayName" => node.display_name = none_if_empty(value),
            "id" => node.id = none_if_empty(value),
            "parentSchemaName" => node.parent_schema_name = none_if_empty(value),
            "parentDisplayName" => node.parent_display_name = none_if_empty(value),
            "solution" => {
                let (name, version) = split_solution_reference(&value);
                node.solution_name = name;
                node.solution_version = version;
                node.solution = none_if_empty(value);
            }
            _ => {
                other.insert(key, value);
            }
        }
    }
    node.other = other;
}

/// Splits `FieldService (8.8.0.88)` into name and version; `Active` has no version.
pub(crate) fn split_solution_reference(text: &str) -> (Option<String>, Option<String>) {
    let text = text.trim();
    if let Some(open) = text.rfind('(') {
        if let Some(inner) = text[open + 1..].strip_suffix(')') {
            let name = text[..open].trim();
            let version = inner.trim();
            return (
                none_if_empty(name.to_owned()),
                none_if_empty(version.to_owned()),
            );
        }
    }
    (none_if_empty(text.to_owned()), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solution_references_split_into_name_and_version() {
        let cases = [
            (
                "FieldService (8.8.0.88)",
                Some("FieldService"),
                Some("8.8.0.88"),
            ),
            (
                "msdyn_Playbook (9.0.2103.4000 )",
                Some("msdyn_Playbook"),
                Some("9.0.2103.4000"),
            ),
            (
                "AppModuleWebResources (2.5)",
                Some("AppModuleWebResources"),
                Some("2.5"),
            ),
            ("Active", Some("Active"), None),
            ("", None, None),
        ];
        for (text, name, version) in cases {
            let (got_name, got_version) = split_solution_reference(text);
            assert_eq!(got_name.as_deref(), name, "{text}");
            assert_eq!(got_version.as_deref(), version, "{text}");
        }
    }
}
