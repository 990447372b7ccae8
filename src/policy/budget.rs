//! The budgets of the policy running on this thread, set for each run and read by the engine's
//! callbacks and the checked built-ins: its deadline, the script output it may still log, and
//! the bytes the growing built-ins may still produce. Thread-local, so one engine serves
//! several worker threads.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Position};

/// Value a script is stopped with when its time is up; recognised when mapping errors.
pub(crate) const TIMEOUT_TOKEN: &str = "solguard: wall-clock budget exceeded";

thread_local! {
    /// When the policy running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Bytes of output the policy running on this thread may still log.
    static OUTPUT_LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Bytes the checked built-ins may still produce in the policy run on this thread: a
    /// ceiling on what one policy builds for one package, however many variables hold it.
    static PRODUCE_LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// True once this thread's policy is past its deadline.
pub(super) fn expired() -> bool {
    DEADLINE.with(|deadline| deadline.get().is_some_and(|at| Instant::now() >= at))
}

/// Stops a built-in that would start heavy work after the policy's deadline: the progress
/// callback only sees operations, and one call to a growing built-in can take long.
pub(super) fn check_deadline() -> Result<(), Box<EvalAltResult>> {
    if expired() {
        return Err(
            EvalAltResult::ErrorTerminated(Dynamic::from(TIMEOUT_TOKEN), Position::NONE).into(),
        );
    }
    Ok(())
}

/// Logs one line of script output within this run's output budget; the first line past it
/// says the rest is dropped.
pub(super) fn script_output(text: &str, log: impl FnOnce(&str)) {
    let left = OUTPUT_LEFT.with(Cell::get);
    if left == 0 {
        return;
    }
    if text.len() <= left {
        OUTPUT_LEFT.with(|l| l.set(left - text.len()));
        log(text);
    } else {
        OUTPUT_LEFT.with(|l| l.set(0));
        log("(policy output truncated: the output budget for this package is used up)");
    }
}

/// Takes `bytes` from this run's ceiling, or refuses (`what` names it in the error); refuses
/// too once the policy's time is up, before any work.
pub(super) fn produce(bytes: usize) -> Result<(), Box<EvalAltResult>> {
    check_deadline()?;
    PRODUCE_LEFT.with(|left| match left.get().checked_sub(bytes) {
        Some(rest) => {
            left.set(rest);
            Ok(())
        }
        None => Err(EvalAltResult::ErrorDataTooLarge(
            "Script data (the policy memory ceiling)".into(),
            Position::NONE,
        )
        .into()),
    })
}

/// This thread's budgets for one policy run.
pub(crate) struct Budgets {
    pub time: Duration,
    pub output_bytes: usize,
    pub data_bytes: usize,
}

/// Runs one policy with this thread's budgets set (the deadline from now), and clears them
/// after.
pub(crate) fn with_budgets<T>(budgets: Budgets, run: impl FnOnce() -> T) -> T {
    DEADLINE.with(|deadline| deadline.set(Some(Instant::now() + budgets.time)));
    OUTPUT_LEFT.with(|left| left.set(budgets.output_bytes));
    PRODUCE_LEFT.with(|left| left.set(budgets.data_bytes));
    let result = run();
    DEADLINE.with(|deadline| deadline.set(None));
    OUTPUT_LEFT.with(|left| left.set(usize::MAX));
    PRODUCE_LEFT.with(|left| left.set(usize::MAX));
    result
}
