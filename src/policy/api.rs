//! What policy scripts can call: the package as a read-only `Package` value, solution
//! versions with ordinary comparison operators, the component diff, case-insensitive name
//! comparison, and `finding(...)` builders.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, Map};
use serde::Serialize;

use crate::package::{diff, is_custom_name, same_components, Package, SolutionVersion};

/// A package as scripts see it: read-only, fields converted on access.
#[derive(Debug, Clone)]
pub struct ScriptPackage(pub Arc<Package>);

type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

fn to_dynamic<T: Serialize>(value: &T) -> ScriptResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

/// Registers a getter per package field, converting only the field a policy touches.
macro_rules! package_getters {
    ($engine:ident: $($field:ident),* $(,)?) => {
        $(
            $engine.register_get(stringify!($field), |p: &mut ScriptPackage| to_dynamic(&p.0.$field));
        )*
    };
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptPackage>("Package");
    package_getters!(engine:
        source, unique_name, display_name, description, version, version_error, managed,
        publisher, parent, root_components, missing_dependencies, relationships, components, warnings, location,
        environment_variables, connection_references,
    );
    // Tables and columns convert field by field, never as a whole list.
    super::entities::register(engine);
    engine.register_get("entities", |p: &mut ScriptPackage| {
        super::entities::entities(&p.0)
    });
    engine.register_get("option_sets", |p: &mut ScriptPackage| {
        super::entities::option_sets(&p.0)
    });
    // `export` is a Rhai keyword, so scripts read the export facts as `pkg.exported`.
    engine.register_get("exported", |p: &mut ScriptPackage| to_dynamic(&p.0.export));
    engine.register_get("solution_version", |p: &mut ScriptPackage| -> Dynamic {
        p.0.solution_version
            .clone()
            .map_or(Dynamic::UNIT, Dynamic::from)
    });
    engine.register_get("is_patch", |p: &mut ScriptPackage| p.0.is_patch());
    engine.register_fn("to_string", |p: &mut ScriptPackage| {
        format!("{} {}", p.0.unique_name, p.0.version)
    });
    engine.register_fn("diff", |old: ScriptPackage, new: ScriptPackage| {
        to_dynamic(&diff(&old.0, &new.0))
    });
    engine.register_fn("components_equal", |a: ScriptPackage, b: ScriptPackage| {
        same_components(&a.0, &b.0)
    });

    register_versions(engine);

    engine.register_fn("same_name", |a: &str, b: &str| same_name(a, b));
    engine.register_fn("is_custom_name", is_custom_name);
    engine.register_fn("same_name", |_: (), _: &str| false);
    engine.register_fn("same_name", |_: &str, _: ()| false);
    engine.register_fn("finding", |code: &str, message: &str| {
        finding(code, message, Dynamic::UNIT, Dynamic::UNIT)
    });
    engine.register_fn("finding", |code: &str, message: &str, location: Dynamic| {
        finding(code, message, location, Dynamic::UNIT)
    });
    engine.register_fn(
        "finding",
        |code: &str, message: &str, location: Dynamic, hint: Dynamic| {
            finding(code, message, location, hint)
        },
    );
}

/// Case-insensitive comparison of solution, publisher and component names.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn finding(code: &str, message: &str, location: Dynamic, hint: Dynamic) -> Map {
    let mut map = Map::new();
    map.insert("code".into(), code.into());
    map.insert("message".into(), message.into());
    map.insert("location".into(), location);
    map.insert("hint".into(), hint);
    map
}

fn register_versions(engine: &mut Engine) {
    engine.register_type_with_name::<SolutionVersion>("SolutionVersion");
    engine.register_fn("version", |text: &str| -> ScriptResult<SolutionVersion> {
        SolutionVersion::parse(text).map_err(|e| e.to_string().into())
    });
    engine.register_fn("try_version", |text: &str| -> Dynamic {
        SolutionVersion::parse(text).map_or(Dynamic::UNIT, Dynamic::from)
    });
    engine.register_fn("try_version", |_: ()| Dynamic::UNIT);
    engine.register_fn("is_valid_version", |text: &str| {
        SolutionVersion::parse(text).is_ok()
    });
    engine.register_fn("<", |a: SolutionVersion, b: SolutionVersion| a < b);
    engine.register_fn("<=", |a: SolutionVersion, b: SolutionVersion| a <= b);
    engine.register_fn(">", |a: SolutionVersion, b: SolutionVersion| a > b);
    engine.register_fn(">=", |a: SolutionVersion, b: SolutionVersion| a >= b);
    engine.register_fn("==", |a: SolutionVersion, b: SolutionVersion| a == b);
    engine.register_fn("!=", |a: SolutionVersion, b: SolutionVersion| a != b);
    engine.register_get("major", |v: &mut SolutionVersion| i64::from(v.major()));
    engine.register_get("minor", |v: &mut SolutionVersion| i64::from(v.minor()));
    engine.register_get("build", |v: &mut SolutionVersion| i64::from(v.build()));
    engine.register_get("revision", |v: &mut SolutionVersion| {
        i64::from(v.revision())
    });
    engine.register_get("part_count", |v: &mut SolutionVersion| {
        v.part_count() as i64
    });
    engine.register_fn("normalized", |v: &mut SolutionVersion| v.normalized());
    engine.register_fn("to_string", |v: &mut SolutionVersion| v.to_string());
    engine.register_fn("to_debug", |v: &mut SolutionVersion| {
        format!("version({v})")
    });
}
