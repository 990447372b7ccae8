//! The sandboxed Rhai engine: every resource limit is set here, in one place.
//!
//! Scripts get no file, network, module or `eval` access; `print` and `debug` go to the log.
//! A wall-clock budget per policy run is enforced through the engine's progress callback, so
//! an endless loop ends as an error, not a hang.

use std::time::Duration;

use rhai::{Dynamic, Engine, OptimizationLevel};

use super::api;

/// Resource limits for policy scripts.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Most Rhai operations one policy may run on one package.
    pub max_operations: u64,
    /// Deepest function-call nesting (stops endless recursion).
    pub max_call_depth: usize,
    /// Deepest expression nesting at compile time (and in functions).
    pub max_expression_depth: usize,
    /// Rhai sums these sizes over nested values, so they must leave room for the model of a
    /// large package (a 200 MB customizations.xml holds ~60k attributes of ~12 fields each)
    /// while still stopping a script that grows values without end.
    pub max_string_bytes: usize,
    pub max_array_len: usize,
    pub max_map_len: usize,
    /// Wall-clock budget for one policy on one package.
    pub time_budget: Duration,
    /// Bytes of `print` and `debug` output one policy may log for one package.
    pub max_output_bytes: usize,
    /// Findings one policy may return for one package; the rest are counted in one finding.
    pub max_findings: usize,
    /// Bytes the growing built-ins (`pad`, `replace`) may produce in one policy run on one
    /// package, checked before they allocate.
    pub max_script_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            max_operations: 50_000_000,
            max_call_depth: 64,
            max_expression_depth: 128,
            max_string_bytes: 64 << 20,
            max_array_len: 10_000_000,
            max_map_len: 10_000_000,
            time_budget: Duration::from_secs(2),
            max_output_bytes: 64 << 10,
            max_findings: 1000,
            max_script_bytes: 256 << 20,
        }
    }
}

/// How often (in operations) the clock is read: `Instant::now` on every operation would cost
/// more than the operations.
const CLOCK_CHECK_INTERVAL: u64 = 4096;

/// Builds the engine with every limit and the policy API registered.
pub fn build_engine(limits: &SandboxLimits) -> Engine {
    let mut engine = Engine::new();
    // Policies are run as written: the optimizer's constant folding found nothing to fold in
    // them (evaluation took as many instructions either way) and cost 1.3 M instructions
    // (6% of a small package's `check`) at every compilation.
    engine.set_optimization_level(OptimizationLevel::None);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_expr_depths(limits.max_expression_depth, limits.max_expression_depth);
    engine.set_max_string_size(limits.max_string_bytes);
    engine.set_max_array_size(limits.max_array_len);
    engine.set_max_map_size(limits.max_map_len);
    engine.disable_symbol("eval");
    engine.on_print(|text| {
        super::budget::script_output(text, |text| {
            tracing::info!(target: "solguard::policy", "{}", crate::diagnostic::visible(text));
        });
    });
    engine.on_debug(|text, source, position| {
        super::budget::script_output(text, |text| {
            tracing::debug!(target: "solguard::policy", source = source.unwrap_or(""), %position, "{}", crate::diagnostic::visible(text));
        });
    });
    engine.on_progress(|operations| {
        if operations % CLOCK_CHECK_INTERVAL != 0 {
            return None;
        }
        super::budget::expired().then(|| Dynamic::from(super::budget::TIMEOUT_TOKEN))
    });
    api::register(&mut engine);
    super::bounded::register(&mut engine, limits.max_string_bytes, limits.max_array_len);
    engine
}
