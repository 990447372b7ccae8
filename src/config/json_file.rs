//! JSON files the config and the command line name besides the config (environment snapshots,
//! deployment settings): read as bounded regular files, parsed into typed rows, and every
//! problem reported with the file, line and column.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why such a file cannot be used: the run stops (exit 2), or a daemon reload is refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    #[error("{path}: cannot read {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {what}: {message}")]
    Invalid {
        path: PathBuf,
        what: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The text of the file at `path`; `what` names its kind in errors.
pub(super) fn read(path: &Path, what: &'static str) -> Result<String, JsonFileError> {
    crate::package::read_text_file(path, super::MAX_CONFIG_FILE_BYTES).map_err(|source| {
        JsonFileError::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    })
}

/// `text` (a leading BOM allowed) parsed as `T`; `origin` and `what` name it in errors.
pub(super) fn parse<T: DeserializeOwned>(
    text: &str,
    origin: &Path,
    what: &'static str,
) -> Result<T, JsonFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|error| JsonFileError::Invalid {
        path: origin.to_path_buf(),
        what,
        line: error.line(),
        column: error.column(),
        // serde_json appends the position, which the error states in front.
        message: error
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}
