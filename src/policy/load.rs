//! Loading a policy set: the shipped policies embedded in the binary, then a user folder whose
//! policies add to them and override shipped ones by id. Each file is compiled once; loading
//! stops with a message naming file, line and column on any problem.
//!
//! User policies are compiled when loaded, so a mistake stops the run at once. Shipped ones
//! (which the test suite compiles and runs) are compiled the first time they run: compiling all
//! seven costs a small package's run more than reading it, and policies whose `needs` the
//! context lacks never run at all. A long-lived process calls [`PolicySet::compile_all`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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

#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("{path}: cannot read policies: {source}")]
    Io {
        path: PathBuf,
        source: Arc<std::io::Error>,
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

/// One policy: its metadata at once, its compiled script when first needed.
#[derive(Debug)]
pub struct Policy {
    pub meta: PolicyMeta,
    pub origin: String,
    pub shipped: bool,
    pub source: String,
    ast: OnceLock<Result<AST, PolicyLoadError>>,
}

impl Policy {
    /// Whether the script has been compiled yet (shipped policies compile on first run).
    pub fn is_compiled(&self) -> bool {
        self.ast.get().is_some()
    }

    /// The compiled script, compiling it now if this is its first use.
    pub(crate) fn ast(&self, engine: &Engine) -> Result<&AST, &PolicyLoadError> {
        self.ast
            .get_or_init(|| compile_script(engine, &self.origin, &self.source))
            .as_ref()
    }
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
        source: Arc::new(source),
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
                        source: Arc::new(source),
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
        let shipped = policy_layer(&engine, shipped, true)?;
        let user = policy_layer(&engine, user, false)?;
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

    /// Compiles every policy not compiled yet (a daemon does, once per rules snapshot, so no
    /// package waits for it); the first failure is returned.
    pub fn compile_all(&self) -> Result<(), PolicyLoadError> {
        self.compile_where(|_| true)
    }

    /// Compiles the policies `wanted` picks that are not compiled yet; the first failure is
    /// returned (and given again when the policy runs).
    pub fn compile_where(&self, wanted: impl Fn(&Policy) -> bool) -> Result<(), PolicyLoadError> {
        for policy in self.policies.iter().filter(|p| wanted(p)) {
            policy.ast(&self.engine).map_err(Clone::clone)?;
        }
        Ok(())
    }
}

/// The policies of one layer, ids unique; user ones (`shipped == false`) compiled now.
fn policy_layer(
    engine: &Engine,
    files: Vec<PolicyFile>,
    shipped: bool,
) -> Result<Vec<Arc<Policy>>, PolicyLoadError> {
    let mut compiled: Vec<Arc<Policy>> = Vec::new();
    for file in files {
        let policy = read_policy(file, shipped)?;
        if !shipped {
            policy.ast(engine).map_err(Clone::clone)?;
        }
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

fn read_policy(file: PolicyFile, shipped: bool) -> Result<Policy, PolicyLoadError> {
    let meta = parse_front_matter(&file.source).map_err(|e| PolicyLoadError::Invalid {
        file: file.origin.clone(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    Ok(Policy {
        meta,
        origin: file.origin,
        shipped,
        source: file.source,
        ast: OnceLock::new(),
    })
}

fn compile_script(engine: &Engine, origin: &str, source: &str) -> Result<AST, PolicyLoadError> {
    let invalid = |line: usize, column: usize, message: String| PolicyLoadError::Invalid {
        file: origin.to_owned(),
        line,
        column,
        message,
    };
    let mut ast = engine.compile(source).map_err(|e| {
        let position = e.position();
        invalid(
            position.line().unwrap_or(1),
            position.position().unwrap_or(1),
            format!("syntax error: {}", e.err_type()),
        )
    })?;
    ast.set_source(origin);
    let has_entry = ast
        .iter_functions()
        .any(|f| f.name == ENTRY_POINT && f.params.len() == 2);
    if !has_entry {
        let (line, column) = line_column(source, source.len());
        return Err(invalid(
            line,
            column,
            format!("no entry point: define `fn {ENTRY_POINT}(pkg, context)`"),
        ));
    }
    Ok(ast)
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
