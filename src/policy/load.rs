//! Loading a policy set: the shipped policies embedded in the binary, then a user folder whose
//! policies add to them and override shipped ones by id. Each file is compiled once; loading
//! stops with a message naming file, line and column on any problem.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{include_dir, Dir};
use rhai::{Engine, AST};
use sha2::{Digest, Sha256};

use super::engine::{build_engine, SandboxLimits};
use super::meta::{line_column, parse_front_matter, PolicyMeta};

static SHIPPED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/policies");

/// The largest policy script read; real ones are a few KiB.
const MAX_POLICY_FILE_BYTES: u64 = 4 << 20;

/// Name of the function every policy defines: `fn check(pkg, context)`.
pub const ENTRY_POINT: &str = "check";

/// A policy file's text and where it came from (`shipped:x.rhai` or a path).
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub origin: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("{path}: cannot read policies: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{second}:1:1: policy id {id:?} is already defined in {first}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
}

/// One compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub meta: PolicyMeta,
    pub origin: String,
    pub shipped: bool,
    pub source: String,
    pub(crate) ast: AST,
}

/// The policies of a run, compiled once, with the engine that runs them.
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
    pub(crate) engine: Engine,
    pub(crate) limits: SandboxLimits,
    hash: String,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policies", &self.ids())
            .field("hash", &self.hash)
            .finish()
    }
}

/// The shipped policy files, sorted by name.
pub fn shipped_files() -> Vec<PolicyFile> {
    let mut files: Vec<PolicyFile> = SHIPPED
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "rhai"))
        .filter_map(|f| {
            Some(PolicyFile {
                origin: format!("shipped:{}", f.path().display()),
                source: f.contents_utf8()?.to_owned(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.origin.cmp(&b.origin));
    files
}

/// Writes the shipped policies folder (policies, test cases, fixtures) under `to`.
pub fn extract_shipped(to: &Path) -> std::io::Result<()> {
    SHIPPED.extract(to)
}

/// The `.rhai` files of a folder (not recursive), sorted by name.
pub fn folder_files(dir: &Path) -> Result<Vec<PolicyFile>, PolicyLoadError> {
    let io = |source| PolicyLoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "rhai") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            // Checked on the open handle too: a file swapped for a FIFO never blocks a reload.
            let source =
                crate::package::read_text_file(&path, MAX_POLICY_FILE_BYTES).map_err(|source| {
                    PolicyLoadError::Io {
                        path: path.clone(),
                        source,
                    }
                })?;
            Ok(PolicyFile {
                origin: path.display().to_string(),
                source,
            })
        })
        .collect()
}

impl PolicySet {
    /// The shipped policies, plus those in `user_dir` (which override shipped ones by id).
    pub fn load(user_dir: Option<&Path>, limits: SandboxLimits) -> Result<Self, PolicyLoadError> {
        let user = match user_dir {
            Some(dir) => folder_files(dir)?,
            None => Vec::new(),
        };
        Self::from_files(shipped_files(), user, limits)
    }

    /// Compiles `shipped` then `user` files; a user policy replaces a shipped one with its id.
    pub fn from_files(
        shipped: Vec<PolicyFile>,
        user: Vec<PolicyFile>,
        limits: SandboxLimits,
    ) -> Result<Self, PolicyLoadError> {
        let engine = build_engine(&limits);
        let shipped = compile_layer(&engine, shipped, true)?;
        let user = compile_layer(&engine, user, false)?;
        let mut policies: Vec<Arc<Policy>> = shipped
            .into_iter()
            .filter(|s| !user.iter().any(|u| u.meta.id == s.meta.id))
            .collect();
        policies.extend(user);
        policies.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        let hash = policy_set_hash(&policies, &limits);
        Ok(Self {
            policies,
            engine,
            limits,
            hash,
        })
    }

    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Policy>> {
        self.policies.iter().find(|p| p.meta.id == id)
    }

    pub fn ids(&self) -> Vec<&str> {
        self.policies.iter().map(|p| p.meta.id.as_str()).collect()
    }

    /// Identifies the exact policy texts, limits and engine version (hex SHA-256).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }
}

fn compile_layer(
    engine: &Engine,
    files: Vec<PolicyFile>,
    shipped: bool,
) -> Result<Vec<Arc<Policy>>, PolicyLoadError> {
    let mut compiled: Vec<Arc<Policy>> = Vec::new();
    for file in files {
        let policy = compile(engine, file, shipped)?;
        if let Some(first) = compiled.iter().find(|p| p.meta.id == policy.meta.id) {
            return Err(PolicyLoadError::DuplicateId {
                id: policy.meta.id.clone(),
                first: first.origin.clone(),
                second: policy.origin,
            });
        }
        compiled.push(Arc::new(policy));
    }
    Ok(compiled)
}

fn compile(engine: &Engine, file: PolicyFile, shipped: bool) -> Result<Policy, PolicyLoadError> {
    let invalid = |line: usize, column: usize, message: String| PolicyLoadError::Invalid {
        file: file.origin.clone(),
        line,
        column,
        message,
    };
    let meta =
        parse_front_matter(&file.source).map_err(|e| invalid(e.line, e.column, e.message))?;
    let mut ast = engine.compile(&file.source).map_err(|e| {
        let position = e.position();
        invalid(
            position.line().unwrap_or(1),
            position.position().unwrap_or(1),
            format!("syntax error: {}", e.err_type()),
        )
    })?;
    ast.set_source(file.origin.as_str());
    let has_entry = ast
        .iter_functions()
        .any(|f| f.name == ENTRY_POINT && f.params.len() == 2);
    if !has_entry {
        let (line, column) = line_column(&file.source, file.source.len());
        return Err(invalid(
            line,
            column,
            format!("no entry point: define `fn {ENTRY_POINT}(pkg, context)`"),
        ));
    }
    Ok(Policy {
        meta,
        origin: file.origin,
        shipped,
        source: file.source,
        ast,
    })
}

fn policy_set_hash(policies: &[Arc<Policy>], limits: &SandboxLimits) -> String {
    let mut hasher = Sha256::new();
    hasher.update(concat!("solguard ", env!("CARGO_PKG_VERSION"), "\n"));
    hasher.update(format!("{limits:?}\n"));
    for policy in policies {
        hasher.update(policy.meta.id.as_bytes());
        hasher.update(b"\0");
        hasher.update(policy.source.as_bytes());
        hasher.update(b"\0");
    }
    hex::encode(hasher.finalize())
}
