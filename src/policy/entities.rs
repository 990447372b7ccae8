//! Tables, columns and choices (option sets) as scripts see them: read-only values that point
//! into the shared package and convert a field only when a script reads it. Converting a whole
//! entity list, with every column, into script maps on each `pkg.entities` copied the largest
//! part of the model for every policy that walked it (121 MiB peak for 200 MiB of XML).

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine};

use crate::package::{Attribute, Entity, OptionSet, Package};

/// One table of a package.
#[derive(Debug, Clone)]
pub struct ScriptEntity {
    package: Arc<Package>,
    index: usize,
}

/// One column of a table of a package.
#[derive(Debug, Clone)]
pub struct ScriptAttribute {
    package: Arc<Package>,
    entity: usize,
    index: usize,
}

/// One choice (option set) of a package.
#[derive(Debug, Clone)]
pub struct ScriptOptionSet {
    package: Arc<Package>,
    index: usize,
}

impl ScriptOptionSet {
    fn get(&self) -> &OptionSet {
        &self.package.option_sets[self.index]
    }
}

/// The choices of `package` as script values.
pub fn option_sets(package: &Arc<Package>) -> Array {
    (0..package.option_sets.len())
        .map(|index| {
            Dynamic::from(ScriptOptionSet {
                package: Arc::clone(package),
                index,
            })
        })
        .collect()
}

impl ScriptEntity {
    fn get(&self) -> &Entity {
        &self.package.entities[self.index]
    }

    fn column(&self, index: usize) -> Dynamic {
        Dynamic::from(ScriptAttribute {
            package: Arc::clone(&self.package),
            entity: self.index,
            index,
        })
    }
}

impl ScriptAttribute {
    fn get(&self) -> &Attribute {
        &self.package.entities[self.entity].attributes[self.index]
    }
}

/// True when `name` starts with `prefix_`, ignoring ASCII case (publisher prefixes are ASCII).
pub fn has_prefix(name: &str, prefix: &str) -> bool {
    let name = name.as_bytes();
    let prefix = prefix.as_bytes();
    name.len() > prefix.len()
        && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        && name[prefix.len()] == b'_'
}

fn text(value: &str) -> Dynamic {
    Dynamic::from(value.to_owned())
}

fn optional(value: Option<&str>) -> Dynamic {
    value.map_or(Dynamic::UNIT, text)
}

fn location(location: &crate::package::Location) -> Dynamic {
    rhai::serde::to_dynamic(location).unwrap_or(Dynamic::UNIT)
}

/// The tables of `package` as script values.
pub fn entities(package: &Arc<Package>) -> Array {
    (0..package.entities.len())
        .map(|index| {
            Dynamic::from(ScriptEntity {
                package: Arc::clone(package),
                index,
            })
        })
        .collect()
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("has_prefix", has_prefix);
    engine.register_fn("has_prefix", |_: (), _: &str| false);
    engine.register_type_with_name::<ScriptEntity>("Entity");
    engine.register_get("name", |e: &mut ScriptEntity| text(&e.get().name));
    engine.register_get("schema_name", |e: &mut ScriptEntity| {
        text(&e.get().schema_name)
    });
    engine.register_get("display_name", |e: &mut ScriptEntity| {
        optional(e.get().display_name.as_deref())
    });
    engine.register_get("shell", |e: &mut ScriptEntity| e.get().shell);
    engine.register_get("unmodified", |e: &mut ScriptEntity| e.get().unmodified);
    engine.register_get("location", |e: &mut ScriptEntity| {
        location(&e.get().location)
    });
    engine.register_get("attributes", |e: &mut ScriptEntity| -> Array {
        (0..e.get().attributes.len())
            .map(|index| e.column(index))
            .collect()
    });
    engine.register_fn("to_string", |e: &mut ScriptEntity| {
        e.get().schema_name.clone()
    });
    // Walking tens of thousands of columns in script costs more than reading them; the one
    // question policies ask of every column is answered natively.
    engine.register_fn(
        "attributes_without_prefix",
        |e: &mut ScriptEntity, prefix: &str| -> Array {
            let entity = e.get();
            entity
                .attributes
                .iter()
                .enumerate()
                .filter(|(_, a)| a.custom && !a.unmodified && !has_prefix(&a.name, prefix))
                .map(|(index, _)| e.column(index))
                .collect()
        },
    );

    engine.register_type_with_name::<ScriptAttribute>("Attribute");
    engine.register_get("name", |a: &mut ScriptAttribute| text(&a.get().name));
    engine.register_get("schema_name", |a: &mut ScriptAttribute| {
        optional(a.get().schema_name.as_deref())
    });
    engine.register_get("type", |a: &mut ScriptAttribute| {
        optional(a.get().attribute_type.as_deref())
    });
    engine.register_get("custom", |a: &mut ScriptAttribute| a.get().custom);
    engine.register_get("max_length", |a: &mut ScriptAttribute| {
        a.get()
            .max_length
            .map_or(Dynamic::UNIT, |n| Dynamic::from(n as i64))
    });
    engine.register_get("required_level", |a: &mut ScriptAttribute| {
        optional(a.get().required_level.as_deref())
    });
    engine.register_get("unmodified", |a: &mut ScriptAttribute| a.get().unmodified);
    engine.register_get("option_set", |a: &mut ScriptAttribute| {
        optional(a.get().option_set.as_deref())
    });
    engine.register_get("location", |a: &mut ScriptAttribute| {
        location(&a.get().location)
    });
    engine.register_fn("to_string", |a: &mut ScriptAttribute| {
        a.get().name.to_string()
    });

    engine.register_type_with_name::<ScriptOptionSet>("OptionSet");
    engine.register_get("name", |s: &mut ScriptOptionSet| text(&s.get().name));
    engine.register_get("display_name", |s: &mut ScriptOptionSet| {
        optional(s.get().display_name.as_deref())
    });
    engine.register_get("global", |s: &mut ScriptOptionSet| s.get().global);
    engine.register_get("entity", |s: &mut ScriptOptionSet| {
        optional(s.get().entity.as_deref())
    });
    engine.register_get("attribute", |s: &mut ScriptOptionSet| {
        optional(s.get().attribute.as_deref())
    });
    engine.register_get("option_set_type", |s: &mut ScriptOptionSet| {
        optional(s.get().option_set_type.as_deref())
    });
    engine.register_get("values", |s: &mut ScriptOptionSet| {
        rhai::serde::to_dynamic(&s.get().values).unwrap_or(Dynamic::UNIT)
    });
    engine.register_get("location", |s: &mut ScriptOptionSet| {
        location(&s.get().location)
    });
    engine.register_fn("to_string", |s: &mut ScriptOptionSet| s.get().name.clone());
}

#[cfg(test)]
mod tests {
    use super::has_prefix;

    #[test]
    fn prefix_needs_the_underscore_and_ignores_case() {
        assert!(has_prefix("new_name", "new"));
        assert!(has_prefix("NEW_Name", "new"));
        assert!(!has_prefix("newname", "new"));
        assert!(!has_prefix("new_", "new_x"));
        assert!(!has_prefix("new", "new"));
        assert!(!has_prefix("contoso_name", "new"));
        assert!(!has_prefix("é_x", "e"));
    }
}
