//! Policies: Rhai scripts with their metadata in TOML front matter, loaded from the shipped set
//! embedded in the binary and from a user folder, compiled once per policy set, and run in a
//! sandbox whose limits are all set in [`SandboxLimits`].
//!
//! A policy defines `fn check(pkg, context)` and returns findings made with
//! `finding(code, message[, location[, hint]])`. It knows nothing of configuration, waivers or
//! history: the `eval` layer supplies the context and applies those.

mod api;
mod bounded;
mod budget;
mod engine;
mod entities;
mod load;
mod meta;
mod run;

pub use api::{same_name, ScriptPackage};
pub use engine::SandboxLimits;
pub use load::{
    extract_shipped, folder_files, shipped_files, Policy, PolicyFile, PolicyLoadError, PolicySet,
    ENTRY_POINT,
};
pub use meta::{
    is_kebab_case, line_column, parse_front_matter, MetaError, PolicyMeta, Severity, CONTEXT_KEYS,
};
pub use run::{Emitted, PolicyFailure};
