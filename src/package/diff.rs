//! The component diff between two versions of a solution: what an upgrade would add, remove
//! or change. Pure model comparison, used by policies (data-loss risk) and reports.
//!
//! Removed items are located in the older package (its path, the file inside it and the
//! line), never in the newer one. Names compare case-insensitively. Attribute sets are compared only where both versions
//! carry a full `EntityInfo` and neither is marked `unmodified`: a shell or unmodified entity
//! exports no attributes, and a missing attribute there is not a deletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::model::{Attribute, Entity, Location, OptionSet, Package, Relationship, RootComponent};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentDiff {
    pub entities_removed: Vec<EntityChange>,
    pub entities_added: Vec<EntityChange>,
    pub attributes_removed: Vec<AttributeChange>,
    pub attributes_added: Vec<AttributeChange>,
    pub attribute_type_changes: Vec<AttributeChange>,
    pub attribute_length_changes: Vec<AttributeChange>,
    pub option_values_removed: Vec<OptionValueChange>,
    pub option_values_added: Vec<OptionValueChange>,
    pub relationships_removed: Vec<RelationshipChange>,
    pub relationships_added: Vec<RelationshipChange>,
    pub root_components_removed: Vec<RootComponentChange>,
    pub root_components_added: Vec<RootComponentChange>,
}

impl ComponentDiff {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// What applying this upgrade would delete together with its data: custom tables exported
    /// in full, custom columns, columns whose type changes, and values of custom choices.
    pub fn data_losses(&self) -> Vec<DataLoss> {
        let mut lost = Vec::new();
        for entity in self.entities_removed.iter().filter(|e| e.deletes_data()) {
            lost.push(DataLoss {
                kind: "table".into(),
                component: entity.schema_name.clone(),
                detail: format!(
                    "table {} and all its rows ({} custom columns)",
                    entity.schema_name, entity.custom_attributes
                ),
                location: entity.location.clone(),
            });
        }
        for column in self.attributes_removed.iter().filter(|c| c.custom) {
            lost.push(DataLoss {
                kind: "column".into(),
                component: format!("{}.{}", column.entity, column.attribute),
                detail: format!(
                    "column {}.{} and its values",
                    column.entity, column.attribute
                ),
                location: column.location.clone(),
            });
        }
        for column in &self.attribute_type_changes {
            lost.push(DataLoss {
                kind: "column-type".into(),
                component: format!("{}.{}", column.entity, column.attribute),
                detail: format!(
                    "column {}.{} (type {} -> {})",
                    column.entity,
                    column.attribute,
                    column.old_type.as_deref().unwrap_or("?"),
                    column.new_type.as_deref().unwrap_or("?")
                ),
                location: column.location.clone(),
            });
        }
        for relationship in self
            .relationships_removed
            .iter()
            .filter(|r| r.deletes_data())
        {
            let (kind, detail) = match &relationship.intersect_entity {
                Some(intersect) => (
                    "many-to-many",
                    format!(
                        "relationship {} with its intersect table {intersect} and every association",
                        relationship.name
                    ),
                ),
                None => (
                    "relationship",
                    format!(
                        "relationship {} and the links it holds{}",
                        relationship.name,
                        relationship
                            .referencing_attribute
                            .as_deref()
                            .map(|a| format!(" (lookup {a})"))
                            .unwrap_or_default()
                    ),
                ),
            };
            lost.push(DataLoss {
                kind: kind.into(),
                component: relationship.name.clone(),
                detail,
                location: relationship.location.clone(),
            });
        }
        for option in self.option_values_removed.iter().filter(|o| o.custom) {
            lost.push(DataLoss {
                kind: "choice-value".into(),
                component: format!("{}={}", option.option_set, option.value),
                detail: format!(
                    "choice value {}{} of {}",
                    option.value,
                    option
                        .label
                        .as_deref()
                        .map(|l| format!(" ({l})"))
                        .unwrap_or_default(),
                    option.option_set
                ),
                location: option.location.clone(),
            });
        }
        lost
    }
}

/// One thing an upgrade deletes with its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DataLoss {
    /// `table`, `column`, `column-type`, `relationship`, `many-to-many` or `choice-value`.
    pub kind: String,
    /// The component, e.g. `con_project.con_budget`.
    pub component: String,
    /// One line for people.
    pub detail: String,
    pub location: Location,
}

/// True for custom component names. Real exports do not mark tables as custom, but custom
/// names always carry a publisher prefix (`prefix_name`) and core platform names never do.
pub fn is_custom_name(name: &str) -> bool {
    name.contains('_')
}

impl EntityChange {
    /// Removing this table deletes customer data: a custom table exported in full.
    pub fn deletes_data(&self) -> bool {
        self.custom && !self.shell
    }
}

/// True when two packages carry the same components: the same diff-relevant content and the
/// same counts of other component kinds. Re-exports of an unchanged solution differ in bytes
/// but not here.
pub fn same_components(a: &Package, b: &Package) -> bool {
    a.components == b.components && diff(a, b).is_empty()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityChange {
    pub name: String,
    pub schema_name: String,
    /// A custom table (see [`is_custom_name`]); core platform tables are not.
    pub custom: bool,
    /// Exported without `EntityInfo` (behavior 1 or 2): only a shell, not its data definition.
    pub shell: bool,
    /// Custom attributes the entity carried (what would be lost with it).
    pub custom_attributes: usize,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub entity: String,
    pub attribute: String,
    pub custom: bool,
    pub old_type: Option<String>,
    pub new_type: Option<String>,
    pub old_max_length: Option<u64>,
    pub new_max_length: Option<u64>,
    /// In the newer package when it has the attribute, else in the older one.
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionValueChange {
    pub option_set: String,
    pub global: bool,
    /// The option set is custom: a prefixed global set, or the local set of a prefixed column.
    pub custom: bool,
    pub entity: Option<String>,
    pub attribute: Option<String>,
    pub value: i64,
    pub label: Option<String>,
    pub location: Location,
}

/// A relationship added or removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipChange {
    pub name: String,
    pub many_to_many: bool,
    pub referencing_entity: Option<String>,
    pub referenced_entity: Option<String>,
    pub referencing_attribute: Option<String>,
    /// For many-to-many: the table holding the associations, deleted with the relationship.
    pub intersect_entity: Option<String>,
    /// A custom relationship: its name carries the publisher prefix, or it joins a custom
    /// table (core platform relationships are named `account_primary_contact` and the like).
    pub custom: bool,
    /// One of its tables is removed too: the table's removal already says what is lost.
    pub with_removed_table: bool,
    pub location: Location,
}

impl RelationshipChange {
    /// Removing it deletes data: a custom relationship whose tables both stay.
    pub fn deletes_data(&self) -> bool {
        self.custom && !self.with_removed_table
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootComponentChange {
    pub kind: String,
    pub schema_name: Option<String>,
    pub id: Option<String>,
    pub location: Location,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What changes when `new` replaces `old`.
pub fn diff(old: &Package, new: &Package) -> ComponentDiff {
    let mut out = compare(old, new);
    out.locate_removals(&Arc::from(old.source.path.display().to_string()));
    out
}

impl ComponentDiff {
    /// Points every removed item into the older package at `old_path`, unless it already names
    /// one (an item of an installed state merged from several packages).
    fn locate_removals(&mut self, old_path: &Arc<str>) {
        let into_old = |location: &mut Location| {
            if location.package.is_none() {
                location.package = Some(Arc::clone(old_path));
            }
        };
        self.entities_removed
            .iter_mut()
            .for_each(|c| into_old(&mut c.location));
        self.attributes_removed
            .iter_mut()
            .for_each(|c| into_old(&mut c.location));
        self.option_values_removed
            .iter_mut()
            .for_each(|c| into_old(&mut c.location));
        self.relationships_removed
            .iter_mut()
            .for_each(|c| into_old(&mut c.location));
        self.root_components_removed
            .iter_mut()
            .for_each(|c| into_old(&mut c.location));
    }
}

fn compare(old: &Package, new: &Package) -> ComponentDiff {
    let mut out = ComponentDiff::default();
    let old_entities: BTreeMap<String, &Entity> =
        old.entities.iter().map(|e| (key(&e.name), e)).collect();
    let new_entities: BTreeMap<String, &Entity> =
        new.entities.iter().map(|e| (key(&e.name), e)).collect();
    for (name, entity) in &old_entities {
        match new_entities.get(name) {
            None => out.entities_removed.push(entity_change(entity)),
            Some(newer) => diff_attributes(entity, newer, &mut out),
        }
    }
    for (name, entity) in &new_entities {
        if !old_entities.contains_key(name) {
            out.entities_added.push(entity_change(entity));
        }
    }
    let option_prefix = old.publisher.option_value_prefix;
    diff_option_sets(&old.option_sets, &new.option_sets, option_prefix, &mut out);
    diff_relationships(old, new, &mut out);
    let root_key = |c: &RootComponent| {
        (
            c.kind.clone(),
            key(c.schema_name.as_deref().or(c.id.as_deref()).unwrap_or("")),
        )
    };
    let old_roots: std::collections::BTreeSet<_> =
        old.root_components.iter().map(root_key).collect();
    let new_roots: std::collections::BTreeSet<_> =
        new.root_components.iter().map(root_key).collect();
    for component in &old.root_components {
        if !new_roots.contains(&root_key(component)) {
            out.root_components_removed.push(root_change(component));
        }
    }
    for component in &new.root_components {
        if !old_roots.contains(&root_key(component)) {
            out.root_components_added.push(root_change(component));
        }
    }
    out
}

fn entity_change(entity: &Entity) -> EntityChange {
    EntityChange {
        name: entity.name.clone(),
        schema_name: entity.schema_name.clone(),
        custom: is_custom_name(&entity.name),
        shell: entity.shell,
        custom_attributes: entity.attributes.iter().filter(|a| a.custom).count(),
        location: entity.location.clone(),
    }
}

fn root_change(component: &RootComponent) -> RootComponentChange {
    RootComponentChange {
        kind: component.kind.clone(),
        schema_name: component.schema_name.clone(),
        id: component.id.clone(),
        location: component.location.clone(),
    }
}

fn has_definitions(entity: &Entity) -> bool {
    !entity.shell && !entity.unmodified
}

/// A change of `located` (the attribute as found in the newer package, or the older one when
/// it was removed), with both sides for comparison.
fn attribute_change(
    entity: &Entity,
    located: &Attribute,
    old: Option<&Attribute>,
    new: Option<&Attribute>,
) -> AttributeChange {
    let any = located;
    AttributeChange {
        entity: entity.name.clone(),
        attribute: any.name.to_string(),
        custom: any.custom,
        old_type: old.and_then(|a| a.attribute_type.as_ref().map(|t| t.to_string())),
        new_type: new.and_then(|a| a.attribute_type.as_ref().map(|t| t.to_string())),
        old_max_length: old.and_then(|a| a.max_length),
        new_max_length: new.and_then(|a| a.max_length),
        location: any.location.clone(),
    }
}

fn diff_attributes(old: &Entity, new: &Entity, out: &mut ComponentDiff) {
    if !has_definitions(old) || !has_definitions(new) {
        return;
    }
    let old_attributes: BTreeMap<String, &Attribute> =
        old.attributes.iter().map(|a| (key(&a.name), a)).collect();
    let new_attributes: BTreeMap<String, &Attribute> =
        new.attributes.iter().map(|a| (key(&a.name), a)).collect();
    for (name, attribute) in &old_attributes {
        let Some(newer) = new_attributes.get(name) else {
            out.attributes_removed
                .push(attribute_change(old, attribute, Some(attribute), None));
            continue;
        };
        if attribute.unmodified || newer.unmodified {
            continue;
        }
        let old_type = attribute
            .attribute_type
            .as_deref()
            .map(str::to_ascii_lowercase);
        let new_type = newer.attribute_type.as_deref().map(str::to_ascii_lowercase);
        if old_type.is_some() && new_type.is_some() && old_type != new_type {
            out.attribute_type_changes.push(attribute_change(
                new,
                newer,
                Some(attribute),
                Some(newer),
            ));
        }
        if attribute.max_length.is_some()
            && newer.max_length.is_some()
            && attribute.max_length != newer.max_length
        {
            out.attribute_length_changes.push(attribute_change(
                new,
                newer,
                Some(attribute),
                Some(newer),
            ));
        }
    }
    for (name, attribute) in &new_attributes {
        if !old_attributes.contains_key(name) {
            out.attributes_added
                .push(attribute_change(new, attribute, None, Some(attribute)));
        }
    }
}

/// Option sets are matched by name (global) or by owning entity and attribute (local).
fn option_set_key(set: &OptionSet) -> String {
    if set.global {
        format!("global:{}", key(&set.name))
    } else {
        format!(
            "local:{}.{}",
            key(set.entity.as_deref().unwrap_or("")),
            key(set.attribute.as_deref().unwrap_or(&set.name))
        )
    }
}

/// True when `value` was made under the publisher's option-value prefix (`prefix * 10000 + n`):
/// the publisher's own value, even in a system choice such as `account.industrycode`.
fn carries_prefix(value: i64, prefix: Option<u32>) -> bool {
    prefix.is_some_and(|p| p > 0 && value / 10_000 == i64::from(p))
}

fn diff_option_sets(
    old: &[OptionSet],
    new: &[OptionSet],
    option_prefix: Option<u32>,
    out: &mut ComponentDiff,
) {
    let new_sets: BTreeMap<String, &OptionSet> =
        new.iter().map(|s| (option_set_key(s), s)).collect();
    for set in old {
        let Some(newer) = new_sets.get(&option_set_key(set)) else {
            continue;
        };
        let change = |set: &OptionSet, value: &super::model::OptionValue| OptionValueChange {
            option_set: set.name.clone(),
            global: set.global,
            custom: carries_prefix(value.value, option_prefix)
                || if set.global {
                    is_custom_name(&set.name)
                } else {
                    set.attribute.as_deref().is_some_and(is_custom_name)
                },
            entity: set.entity.clone(),
            attribute: set.attribute.clone(),
            value: value.value,
            label: value.label.clone(),
            location: value.location.clone(),
        };
        for value in &set.values {
            if !newer.values.iter().any(|v| v.value == value.value) {
                out.option_values_removed.push(change(set, value));
            }
        }
        for value in &newer.values {
            if !set.values.iter().any(|v| v.value == value.value) {
                out.option_values_added.push(change(newer, value));
            }
        }
    }
}

fn relationship_change(
    relationship: &Relationship,
    prefix: Option<&str>,
    removed_tables: &[&str],
) -> RelationshipChange {
    let ends = [
        relationship.referencing_entity.as_deref(),
        relationship.referenced_entity.as_deref(),
    ];
    let prefixed = prefix.is_some_and(|p| {
        relationship
            .name
            .to_ascii_lowercase()
            .starts_with(&format!("{}_", p.to_ascii_lowercase()))
    });
    let many_to_many = relationship.is_many_to_many();
    RelationshipChange {
        name: relationship.name.clone(),
        many_to_many,
        referencing_entity: relationship.referencing_entity.clone(),
        referenced_entity: relationship.referenced_entity.clone(),
        referencing_attribute: relationship.referencing_attribute.clone(),
        intersect_entity: many_to_many.then(|| {
            relationship
                .intersect_entity
                .clone()
                .unwrap_or_else(|| relationship.name.to_ascii_lowercase())
        }),
        custom: prefixed || ends.iter().flatten().any(|e| is_custom_name(e)),
        with_removed_table: ends
            .iter()
            .flatten()
            .any(|e| removed_tables.iter().any(|t| t.eq_ignore_ascii_case(e))),
        location: relationship.location.clone(),
    }
}

fn diff_relationships(old: &Package, new: &Package, out: &mut ComponentDiff) {
    let names = |package: &Package| -> std::collections::BTreeSet<String> {
        package.relationships.iter().map(|r| key(&r.name)).collect()
    };
    let (old_names, new_names) = (names(old), names(new));
    let removed_tables: Vec<&str> = out
        .entities_removed
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let prefix = old.publisher.customization_prefix.as_deref();
    let removed: Vec<RelationshipChange> = old
        .relationships
        .iter()
        .filter(|r| !new_names.contains(&key(&r.name)))
        .map(|r| relationship_change(r, prefix, &removed_tables))
        .collect();
    let prefix = new.publisher.customization_prefix.as_deref();
    let added: Vec<RelationshipChange> = new
        .relationships
        .iter()
        .filter(|r| !old_names.contains(&key(&r.name)))
        .map(|r| relationship_change(r, prefix, &[]))
        .collect();
    out.relationships_removed = removed;
    out.relationships_added = added;
}

/// What a target holds after `base` and its `patches` were imported (patches in import
/// order): the base's components with every patch's added on top, each item located in the
/// package it came from. A roll-up replaces all of it, so its data-loss diff is against this.
pub fn installed_state(base: &Package, patches: &[&Package]) -> Package {
    let mut installed = base.clone();
    let base_path: Arc<str> = Arc::from(base.source.path.display().to_string());
    locate_all(&mut installed, &base_path);
    for patch in patches {
        let mut patch = (*patch).clone();
        let path: Arc<str> = Arc::from(patch.source.path.display().to_string());
        locate_all(&mut patch, &path);
        merge_into(&mut installed, patch);
    }
    installed
}

fn locate_all(package: &mut Package, path: &Arc<str>) {
    let set = |location: &mut Location| location.package = Some(Arc::clone(path));
    for entity in &mut package.entities {
        set(&mut entity.location);
        entity
            .attributes
            .iter_mut()
            .for_each(|a| set(&mut a.location));
    }
    for option_set in &mut package.option_sets {
        set(&mut option_set.location);
        option_set
            .values
            .iter_mut()
            .for_each(|v| set(&mut v.location));
    }
    package
        .relationships
        .iter_mut()
        .for_each(|r| set(&mut r.location));
    package
        .root_components
        .iter_mut()
        .for_each(|c| set(&mut c.location));
}

fn merge_into(installed: &mut Package, patch: Package) {
    for entity in patch.entities {
        match installed
            .entities
            .iter_mut()
            .find(|e| e.name.eq_ignore_ascii_case(&entity.name))
        {
            None => installed.entities.push(entity),
            Some(existing) => {
                if !has_definitions(existing) && has_definitions(&entity) {
                    existing.shell = false;
                    existing.unmodified = false;
                }
                for attribute in entity.attributes {
                    if !existing
                        .attributes
                        .iter()
                        .any(|a| a.name.eq_ignore_ascii_case(&attribute.name))
                    {
                        existing.attributes.push(attribute);
                    }
                }
            }
        }
    }
    for set in patch.option_sets {
        let wanted = option_set_key(&set);
        match installed
            .option_sets
            .iter_mut()
            .find(|s| option_set_key(s) == wanted)
        {
            None => installed.option_sets.push(set),
            Some(existing) => {
                for value in set.values {
                    if !existing.values.iter().any(|v| v.value == value.value) {
                        existing.values.push(value);
                    }
                }
            }
        }
    }
    for relationship in patch.relationships {
        if !installed
            .relationships
            .iter()
            .any(|r| r.name.eq_ignore_ascii_case(&relationship.name))
        {
            installed.relationships.push(relationship);
        }
    }
    for component in patch.root_components {
        installed.root_components.push(component);
    }
    for (kind, count) in patch.components {
        let entry = installed.components.entry(kind).or_default();
        *entry = (*entry).max(count);
    }
}
