//! Parses the component definitions: `customizations.xml` of an export, and the per-component
//! files of an unpacked tree (`Entities/<name>/Entity.xml`, `OptionSets/<name>.xml`,
//! `Other/Relationships/<entity>.xml`). Only what policies need is kept: entities with their
//! attributes, option sets with their values, relationships, and counts of everything else.

use compact_str::CompactString;
use std::collections::BTreeMap;

use super::error::{PackageError, PackageErrorKind};
use super::model::{Attribute, Entity, OptionSet, OptionValue, Relationship};
use super::variables::{
    parse_connection_references, parse_inline_variables, ConnectionReference, EnvironmentVariable,
};
use super::xml::XmlStream;

/// Components read from one or more files of a package.
#[derive(Debug, Default)]
pub(crate) struct Components {
    pub entities: Vec<Entity>,
    pub option_sets: Vec<OptionSet>,
    pub relationships: Vec<Relationship>,
    pub environment_variables: Vec<EnvironmentVariable>,
    pub connection_references: Vec<ConnectionReference>,
    /// Counts of other component kinds (`workflows`, `web_resources`, …).
    pub counts: BTreeMap<String, u64>,
}

impl Components {
    pub fn add_count(&mut self, kind: &str, count: u64) {
        if count > 0 {
            *self.counts.entry(kind.to_owned()).or_default() += count;
        }
    }

    /// Raises the count of `kind` to `count` when another source (e.g. folders) shows more.
    pub fn at_least(&mut self, kind: &str, count: u64) {
        if count > 0 {
            let current = self.counts.entry(kind.to_owned()).or_default();
            *current = (*current).max(count);
        }
    }
}

/// The count key for a top-level collection of `customizations.xml`, or `None` for collections
/// that are settings rather than components.
fn collection_kind(element: &[u8]) -> Option<String> {
    let known = match element {
        b"Languages" | b"OrganizationSettings" | b"IsvConfig" => return None,
        b"Workflows" => "workflows",
        b"WebResources" => "web_resources",
        b"SolutionPluginAssemblies" => "plugin_assemblies",
        b"SdkMessageProcessingSteps" => "sdk_message_processing_steps",
        b"Roles" => "roles",
        b"AppModules" => "app_modules",
        b"AppModuleSiteMaps" => "site_maps",
        b"CanvasApps" => "canvas_apps",
        b"CustomControls" => "custom_controls",
        b"connectionreferences" => "connection_references",
        b"EnvironmentVariables" | b"environmentvariabledefinitions" => "environment_variables",
        b"Dashboards" => "dashboards",
        b"FieldSecurityProfiles" => "field_security_profiles",
        b"EntityMaps" => "entity_maps",
        b"Templates" => "templates",
        b"EntityDataProviders" => "entity_data_providers",
        b"Connectors" => "connectors",
        b"AIModels" => "ai_models",
        b"Dialogs" => "dialogs",
        b"RibbonDiffXml" => "ribbons",
        b"SiteMap" => "site_maps",
        b"EntityImageConfigs" => "entity_image_configs",
        b"AttributeImageConfigs" => "attribute_image_configs",
        other => return Some(snake_case(&String::from_utf8_lossy(other))),
    };
    Some(known.to_owned())
}

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for ch in name.chars() {
        if ch.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        out.push(if ch == '-' {
            '_'
        } else {
            ch.to_ascii_lowercase()
        });
    }
    out
}

fn expect_root(
    xml: &mut XmlStream<'_>,
    expected: &'static str,
) -> Result<(bool, u64), PackageError> {
    let root = xml.root()?;
    if root.name() != expected.as_bytes() {
        let found = root.name_string();
        let line = root.line();
        return Err(xml.error_at(line, PackageErrorKind::WrongRoot { expected, found }));
    }
    Ok((root.empty, root.line()))
}

/// `customizations.xml` (`Other/Customizations.xml` when unpacked).
pub(crate) fn parse_customizations(
    xml: &mut XmlStream<'_>,
    into: &mut Components,
) -> Result<(), PackageError> {
    let (root_empty, _) = expect_root(xml, "ImportExportXml")?;
    if !root_empty {
        while let Some(tag) = xml.next_child()? {
            let empty = tag.empty;
            match tag.name() {
                b"Entities" => each_child(xml, empty, b"Entity", None, |xml, child| {
                    let entity = parse_entity(xml, child, &mut into.option_sets)?;
                    into.entities.push(entity);
                    Ok(())
                })?,
                b"optionsets" => {
                    each_child(xml, empty, b"optionset", Some("Name"), |xml, child| {
                        let set = parse_option_set(xml, child, OptionSetOwner::Global)?;
                        into.option_sets.push(set);
                        Ok(())
                    })?
                }
                b"EntityRelationships" => parse_relationship_list(xml, empty, into)?,
                b"connectionreferences" => {
                    parse_connection_references(xml, empty, &mut into.connection_references)?
                }
                b"EnvironmentVariables" => {
                    parse_inline_variables(xml, empty, &mut into.environment_variables)?
                }
                name => match collection_kind(name) {
                    Some(kind) => {
                        let count = count_children(xml, empty)?;
                        into.add_count(&kind, count);
                    }
                    None => xml.skip(empty)?,
                },
            }
        }
    }
    xml.finish()
}

/// `Entities/<name>/Entity.xml` of an unpacked tree: one `<Entity>` as the root.
pub(crate) fn parse_entity_file(
    xml: &mut XmlStream<'_>,
    into: &mut Components,
) -> Result<(), PackageError> {
    let (empty, line) = expect_root(xml, "Entity")?;
    let child = Child {
        empty,
        line,
        key: None,
        unmodified: false,
    };
    let entity = parse_entity(xml, child, &mut into.option_sets)?;
    into.entities.push(entity);
    xml.finish()
}

/// `OptionSets/<name>.xml` of an unpacked tree: one `<optionset>` as the root.
pub(crate) fn parse_option_set_file(
    xml: &mut XmlStream<'_>,
    into: &mut Components,
) -> Result<(), PackageError> {
    let root = xml.root()?;
    if root.name() != b"optionset" {
        let found = root.name_string();
        let line = root.line();
        return Err(xml.error_at(
            line,
            PackageErrorKind::WrongRoot {
                expected: "optionset",
                found,
            },
        ));
    }
    let child = Child {
        key: root.attr("Name")?,
        empty: root.empty,
        line: root.line(),
        unmodified: false,
    };
    let set = parse_option_set(xml, child, OptionSetOwner::Global)?;
    into.option_sets.push(set);
    xml.finish()
}

/// `Other/Relationships.xml` (names only) or `Other/Relationships/<entity>.xml` (full).
pub(crate) fn parse_relationships_file(
    xml: &mut XmlStream<'_>,
    into: &mut Components,
) -> Result<(), PackageError> {
    let (empty, _) = expect_root(xml, "EntityRelationships")?;
    parse_relationship_list(xml, empty, into)?;
    xml.finish()
}

fn parse_relationship_list(
    xml: &mut XmlStream<'_>,
    empty: bool,
    into: &mut Components,
) -> Result<(), PackageError> {
    each_child(
        xml,
        empty,
        b"EntityRelationship",
        Some("Name"),
        |xml, child| {
            let relationship = parse_relationship(xml, child)?;
            // Unpacked trees list every name in Relationships.xml and define each again in
            // Relationships/<entity>.xml: keep one entry, the one with the definition.
            match into
                .relationships
                .iter_mut()
                .find(|r| r.name.eq_ignore_ascii_case(&relationship.name))
            {
                Some(existing) if relationship.relationship_type.is_some() => {
                    *existing = relationship
                }
                Some(_) => {}
                None => into.relationships.push(relationship),
            }
            Ok(())
        },
    )
}

/// A child element handed to a parser: whether it is empty, its line, its key attribute and
/// its `unmodified="1"` flag (exported without its definition).
struct Child {
    empty: bool,
    line: u64,
    key: Option<String>,
    unmodified: bool,
}

/// Calls `parse` for each child named `wanted`, with the value of its `key_attr` attribute,
/// and skips other children.
fn each_child(
    xml: &mut XmlStream<'_>,
    empty: bool,
    wanted: &[u8],
    key_attr: Option<&str>,
    mut parse: impl FnMut(&mut XmlStream<'_>, Child) -> Result<(), PackageError>,
) -> Result<(), PackageError> {
    if empty {
        return Ok(());
    }
    while let Some(tag) = xml.next_child()? {
        let empty = tag.empty;
        if tag.name() != wanted {
            xml.skip(empty)?;
            continue;
        }
        let line = tag.line();
        // One pass over the attributes for both the key and the `unmodified` flag.
        let mut key = None;
        let mut unmodified = false;
        for (name, value) in tag.attrs()? {
            if Some(name.as_str()) == key_attr {
                key = Some(value);
            } else if name == "unmodified" {
                unmodified = is_true(&value);
            }
        }
        parse(
            xml,
            Child {
                empty,
                line,
                key,
                unmodified,
            },
        )?;
    }
    Ok(())
}

fn count_children(xml: &mut XmlStream<'_>, empty: bool) -> Result<u64, PackageError> {
    let mut count = 0;
    if empty {
        return Ok(count);
    }
    while let Some(tag) = xml.next_child()? {
        let empty = tag.empty;
        xml.skip(empty)?;
        count += 1;
    }
    Ok(count)
}

fn is_true(text: &str) -> bool {
    matches!(text.trim(), "1" | "true" | "True")
}

fn parse_entity(
    xml: &mut XmlStream<'_>,
    child: Child,
    option_sets: &mut Vec<OptionSet>,
) -> Result<Entity, PackageError> {
    let mut name_text = None;
    let mut display_name = None;
    let mut info: Option<EntityInfo> = None;
    let first_local_set = option_sets.len();
    if !child.empty {
        while let Some(tag) = xml.next_child()? {
            let empty = tag.empty;
            match tag.name() {
                b"Name" => {
                    display_name = tag.attr("LocalizedName")?;
                    name_text = Some(xml.text(empty)?);
                }
                b"EntityInfo" if !empty => {
                    while let Some(inner) = xml.next_child()? {
                        let inner_empty = inner.empty;
                        if inner.name() != b"entity" {
                            xml.skip(inner_empty)?;
                            continue;
                        }
                        let schema = inner.attr("Name")?;
                        let unmodified = inner.attr("unmodified")?.is_some_and(|u| is_true(&u));
                        let entity_name = schema
                            .clone()
                            .or_else(|| name_text.clone())
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let attributes =
                            parse_entity_info(xml, inner_empty, &entity_name, option_sets)?;
                        info = Some(EntityInfo {
                            schema,
                            unmodified,
                            attributes,
                        });
                    }
                }
                _ => xml.skip(empty)?,
            }
        }
    }
    let schema_name = info
        .as_ref()
        .and_then(|i| i.schema.clone())
        .or(name_text)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            xml.error_at(
                child.line,
                PackageErrorKind::Manifest("<Entity> has no <Name>".into()),
            )
        })?;
    let name = schema_name.to_ascii_lowercase();
    // Attributes were parsed before the entity name was certain; fix local option set owners.
    for set in option_sets[first_local_set..]
        .iter_mut()
        .filter(|s| !s.global && s.entity.is_none())
    {
        set.entity = Some(name.clone());
    }
    let (shell, unmodified, attributes) = match info {
        Some(info) => (false, info.unmodified, info.attributes),
        None => (true, false, Vec::new()),
    };
    Ok(Entity {
        name,
        schema_name,
        display_name,
        shell,
        unmodified,
        attributes,
        location: xml.location(child.line),
    })
}

struct EntityInfo {
    schema: Option<String>,
    unmodified: bool,
    attributes: Vec<Attribute>,
}

/// The content of `<entity>`: its attributes (other children are skipped).
fn parse_entity_info(
    xml: &mut XmlStream<'_>,
    empty: bool,
    entity_name: &str,
    option_sets: &mut Vec<OptionSet>,
) -> Result<Vec<Attribute>, PackageError> {
    let mut attributes = Vec::new();
    if empty {
        return Ok(attributes);
    }
    while let Some(tag) = xml.next_child()? {
        let empty = tag.empty;
        if tag.name() != b"attributes" {
            xml.skip(empty)?;
            continue;
        }
        each_child(
            xml,
            empty,
            b"attribute",
            Some("PhysicalName"),
            |xml, child| {
                attributes.push(parse_attribute(xml, child, entity_name, option_sets)?);
                Ok(())
            },
        )?;
    }
    // The model outlives the parse; growth slack would be a third of its size.
    attributes.shrink_to_fit();
    Ok(attributes)
}

fn parse_attribute(
    xml: &mut XmlStream<'_>,
    child: Child,
    entity_name: &str,
    option_sets: &mut Vec<OptionSet>,
) -> Result<Attribute, PackageError> {
    let mut attribute = Attribute {
        name: CompactString::default(),
        schema_name: child.key.as_deref().map(CompactString::from),
        attribute_type: None,
        custom: false,
        max_length: None,
        required_level: None,
        unmodified: false,
        option_set: None,
        location: xml.location(child.line),
    };
    let mut name_element = None;
    let mut local_set = None;
    if !child.empty {
        while let Some(tag) = xml.next_child()? {
            let empty = tag.empty;
            match tag.name() {
                b"Type" => attribute.attribute_type = Some(xml.text(empty)?.into()),
                b"LogicalName" => attribute.name = xml.text(empty)?.to_ascii_lowercase().into(),
                b"Name" => name_element = Some(xml.text(empty)?),
                b"IsCustomField" => attribute.custom = is_true(&xml.text(empty)?),
                b"MaxLength" => attribute.max_length = xml.text(empty)?.parse().ok(),
                b"RequiredLevel" => attribute.required_level = Some(xml.text(empty)?.into()),
                b"OptionSetName" => attribute.option_set = Some(xml.text(empty)?.into()),
                b"optionset" => {
                    let line = tag.line();
                    let key = tag.attr("Name")?;
                    let child = Child {
                        empty,
                        line,
                        key,
                        unmodified: false,
                    };
                    local_set = Some(parse_option_set(xml, child, OptionSetOwner::Local)?);
                }
                _ => xml.skip(empty)?,
            }
        }
    }
    if attribute.name.is_empty() {
        let fallback = name_element.as_deref().or(attribute.schema_name.as_deref());
        attribute.name = fallback.unwrap_or_default().to_ascii_lowercase().into();
    }
    if attribute.name.is_empty() {
        return Err(xml.error_at(
            child.line,
            PackageErrorKind::Manifest("<attribute> has no <LogicalName>".into()),
        ));
    }
    attribute.unmodified = child.unmodified;
    if let Some(mut set) = local_set {
        set.entity = (!entity_name.is_empty()).then(|| entity_name.to_owned());
        set.attribute = Some(attribute.name.to_string());
        if set.name.is_empty() {
            set.name = format!("{entity_name}_{}", attribute.name);
        }
        if attribute.option_set.is_none() {
            attribute.option_set = Some(set.name.as_str().into());
        }
        option_sets.push(set);
    }
    Ok(attribute)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionSetOwner {
    Global,
    Local,
}

fn parse_option_set(
    xml: &mut XmlStream<'_>,
    child: Child,
    owner: OptionSetOwner,
) -> Result<OptionSet, PackageError> {
    let mut set = OptionSet {
        name: child.key.clone().unwrap_or_default(),
        display_name: None,
        global: owner == OptionSetOwner::Global,
        entity: None,
        attribute: None,
        option_set_type: None,
        values: Vec::new(),
        location: xml.location(child.line),
    };
    if child.empty {
        return Ok(set);
    }
    while let Some(tag) = xml.next_child()? {
        let empty = tag.empty;
        match tag.name() {
            b"OptionSetType" => set.option_set_type = Some(xml.text(empty)?),
            b"IsGlobal" => {
                // A local set that refers to a global one says IsGlobal=1; the owner decides.
                let _ = xml.text(empty)?;
            }
            b"displaynames" => {
                set.display_name = first_label(xml, empty, "description")?;
            }
            b"options" | b"states" | b"statuses" => {
                parse_option_values(xml, empty, &mut set.values)?;
                set.values.shrink_to_fit();
            }
            _ => xml.skip(empty)?,
        }
    }
    Ok(set)
}

fn parse_option_values(
    xml: &mut XmlStream<'_>,
    empty: bool,
    values: &mut Vec<OptionValue>,
) -> Result<(), PackageError> {
    if empty {
        return Ok(());
    }
    while let Some(tag) = xml.next_child()? {
        let (empty, line) = (tag.empty, tag.line());
        if !matches!(tag.name(), b"option" | b"state" | b"status") {
            xml.skip(empty)?;
            continue;
        }
        let value_text = tag.attr("value")?;
        let value = match value_text.as_deref().map(str::trim).map(str::parse::<i64>) {
            Some(Ok(value)) => value,
            _ => {
                return Err(xml.error_at(
                    line,
                    PackageErrorKind::Manifest(format!(
                        "option value {:?} is not a whole number",
                        value_text.unwrap_or_default()
                    )),
                ))
            }
        };
        let mut label = None;
        if !empty {
            while let Some(inner) = xml.next_child()? {
                let inner_empty = inner.empty;
                if inner.name() == b"labels" && label.is_none() {
                    label = first_label(xml, inner_empty, "description")?;
                } else {
                    xml.skip(inner_empty)?;
                }
            }
        }
        values.push(OptionValue {
            value,
            label,
            location: xml.location(line),
        });
    }
    Ok(())
}

/// The first non-empty label among children like `<label description="…" languagecode="…"/>`.
fn first_label(
    xml: &mut XmlStream<'_>,
    empty: bool,
    attr: &str,
) -> Result<Option<String>, PackageError> {
    let mut found = None;
    if empty {
        return Ok(found);
    }
    while let Some(tag) = xml.next_child()? {
        let text = tag.attr(attr)?;
        let empty = tag.empty;
        xml.skip(empty)?;
        if found.is_none() {
            found = text.filter(|t| !t.trim().is_empty());
        }
    }
    Ok(found)
}

fn parse_relationship(xml: &mut XmlStream<'_>, child: Child) -> Result<Relationship, PackageError> {
    let mut relationship = Relationship {
        name: child.key.clone().unwrap_or_default(),
        relationship_type: None,
        referencing_entity: None,
        referenced_entity: None,
        referencing_attribute: None,
        intersect_entity: None,
        cascade_delete: None,
        location: xml.location(child.line),
    };
    if !child.empty {
        while let Some(tag) = xml.next_child()? {
            let empty = tag.empty;
            let slot = match tag.name() {
                b"EntityRelationshipType" => &mut relationship.relationship_type,
                b"ReferencingEntityName" | b"FirstEntityName" => {
                    &mut relationship.referencing_entity
                }
                b"ReferencedEntityName" | b"SecondEntityName" => {
                    &mut relationship.referenced_entity
                }
                b"ReferencingAttributeName" => &mut relationship.referencing_attribute,
                b"IntersectEntityName" => &mut relationship.intersect_entity,
                b"CascadeDelete" => &mut relationship.cascade_delete,
                _ => {
                    xml.skip(empty)?;
                    continue;
                }
            };
            let text = xml.text(empty)?;
            *slot = (!text.is_empty()).then_some(text);
        }
    }
    if relationship.name.is_empty() {
        return Err(xml.error_at(
            child.line,
            PackageErrorKind::Manifest("<EntityRelationship> has no Name attribute".into()),
        ));
    }
    Ok(relationship)
}
