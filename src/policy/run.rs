//! Runs one compiled policy on one package and turns what it returns into typed findings.
//! A script error, a limit breach or a timeout becomes a [`PolicyFailure`] with the script
//! position, never a panic or a hang.

use rhai::{CallFnOptions, Dynamic, EvalAltResult, Map, Scope};

use super::budget::{with_budgets, Budgets, TIMEOUT_TOKEN};
use super::load::{Policy, PolicySet, ENTRY_POINT};
use super::meta::{is_kebab_case, Severity};
use crate::package::Location;

/// A finding as a policy emitted it, before configuration and waivers apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub code: String,
    pub message: String,
    pub location: Option<Location>,
    pub hint: Option<String>,
    /// A finding may set its own severity; else the policy's applies.
    pub severity: Option<Severity>,
    /// The target environment it is about (`f.environment = env.name`).
    pub environment: Option<String>,
}

/// Why a policy produced no usable result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFailure {
    pub message: String,
    /// `file:line:column` in the policy script, when known.
    pub position: Option<String>,
}

impl std::fmt::Display for PolicyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.position {
            Some(position) => write!(f, "{position}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl PolicySet {
    /// Calls `check(pkg, context)` of `policy` within the sandbox budget.
    pub fn run(
        &self,
        policy: &Policy,
        package: Dynamic,
        context: Map,
    ) -> Result<Vec<Emitted>, PolicyFailure> {
        let ast = policy.ast(&self.engine).map_err(|error| PolicyFailure {
            message: format!("cannot be compiled: {error}"),
            position: None,
        })?;
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        let budgets = Budgets {
            time: self.limits.time_budget,
            output_bytes: self.limits.max_output_bytes,
            data_bytes: self.limits.max_script_bytes,
        };
        let result = with_budgets(budgets, || {
            self.engine.call_fn_with_options::<Dynamic>(
                options,
                &mut scope,
                ast,
                ENTRY_POINT,
                (package, Dynamic::from_map(context)),
            )
        });
        let value = result.map_err(|error| self.failure(policy, &error))?;
        let mut emitted = collect(value).map_err(|message| PolicyFailure {
            message: format!("returned an invalid finding: {message}"),
            position: None,
        })?;
        let max = self.limits.max_findings;
        if emitted.len() > max {
            let dropped = emitted.len() - max;
            emitted.truncate(max);
            emitted.push(Emitted {
                code: "findings-truncated".into(),
                message: format!(
                    "the policy returned {} findings for this package; the first {max} are kept and {dropped} dropped",
                    max + dropped
                ),
                location: None,
                hint: Some("Report one finding per problem; a policy that returns thousands reports noise, or was written to flood the report.".into()),
                severity: Some(Severity::Warning),
                environment: None,
            });
        }
        Ok(emitted)
    }

    fn failure(&self, policy: &Policy, error: &EvalAltResult) -> PolicyFailure {
        let inner = error.unwrap_inner();
        let position = [inner.position(), error.position()]
            .into_iter()
            .find(|p| !p.is_none())
            .map(|p| {
                format!(
                    "{}:{}:{}",
                    policy.origin,
                    p.line().unwrap_or(0),
                    p.position().unwrap_or(0)
                )
            });
        let limits = &self.limits;
        let message = match inner {
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().ok().as_deref() == Some(TIMEOUT_TOKEN) =>
            {
                format!(
                    "stopped after its wall-clock budget of {} ms",
                    limits.time_budget.as_millis()
                )
            }
            EvalAltResult::ErrorTooManyOperations(_) => format!(
                "stopped after the operation limit of {}",
                limits.max_operations
            ),
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "stopped: function calls nested deeper than {}",
                limits.max_call_depth
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                format!("stopped: {what} exceeds its size limit")
            }
            EvalAltResult::ErrorRuntime(value, _) => format!("threw: {value}"),
            other => {
                // The position is reported separately, in file:line:column form.
                let text = other.to_string();
                match text.rsplit_once(" (line ") {
                    Some((message, _)) => message.to_owned(),
                    None => text,
                }
            }
        };
        PolicyFailure {
            message: single_line(&message),
            position,
        }
    }
}

fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `()` means no findings; a map is one finding; an array holds findings.
fn collect(value: Dynamic) -> Result<Vec<Emitted>, String> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    if value.is_map() {
        return Ok(vec![emitted(value)?]);
    }
    match value.into_array() {
        Ok(items) => items.into_iter().map(emitted).collect(),
        Err(kind) => Err(format!(
            "check() must return an array of findings, a finding or (), not {kind}"
        )),
    }
}

fn emitted(value: Dynamic) -> Result<Emitted, String> {
    let kind = value.type_name();
    let mut map = value
        .try_cast::<Map>()
        .ok_or_else(|| format!("a finding is a map made with finding(...), not {kind}"))?;
    let text = |map: &mut Map, key: &str| -> Result<Option<String>, String> {
        match map.remove(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v
                .into_string()
                .map(Some)
                .map_err(|kind| format!("`{key}` must be a string, not {kind}")),
        }
    };
    let code = text(&mut map, "code")?.ok_or("a finding needs a `code`")?;
    if !is_kebab_case(&code) {
        return Err(format!("code {code:?} is not kebab-case"));
    }
    let message = text(&mut map, "message")?.ok_or("a finding needs a `message`")?;
    let hint = text(&mut map, "hint")?;
    let environment = text(&mut map, "environment")?;
    let severity = match text(&mut map, "severity")? {
        None => None,
        Some(s) => Some(
            Severity::parse(&s).ok_or(format!("severity {s:?} is not error, warning or info"))?,
        ),
    };
    let location = match map.remove("location") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => Some(location(v)?),
    };
    if let Some(key) = map.keys().next() {
        return Err(format!("unknown finding field `{key}`"));
    }
    Ok(Emitted {
        code,
        message,
        location,
        hint,
        severity,
        environment,
    })
}

fn location(value: Dynamic) -> Result<Location, String> {
    let kind = value.type_name();
    let map = value
        .try_cast::<Map>()
        .ok_or_else(|| format!("`location` must be a map with file and line, not {kind}"))?;
    let file = map
        .get("file")
        .and_then(|f| f.clone().into_string().ok())
        .ok_or("`location.file` must be a string")?;
    let line = map
        .get("line")
        .and_then(|l| l.as_int().ok())
        .filter(|l| *l >= 0)
        .ok_or("`location.line` must be a non-negative integer")?;
    let package = match map.get("package") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => Some(
            v.clone()
                .into_string()
                .map_err(|_| "`location.package` must be a string")?,
        ),
    };
    Ok(Location {
        package: package.map(Into::into),
        file: file.into(),
        line: line as u64,
    })
}
