//! Where a finding points: a file inside a package and a line, and for what an upgrade removes,
//! the earlier package the item stood in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where an element was read: a file inside the package (zip entry name or path relative to
/// the unpacked folder, always with `/`) and a 1-based line. `package` names the package file
/// when it is not the one being reported on: a removed component points into the earlier
/// release it stood in, never into the new package with the old package's line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Arc<str>>,
    pub file: Arc<str>,
    pub line: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.package {
            Some(package) => write!(f, "{}:{} in {package}", self.file, self.line),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
    (line, column)
}
