//! solguard: a policy engine for Microsoft Dataverse / Dynamics 365 solution packages.
//!
//! The crate is layered; a module imports only from the layers listed before it:
//!
//! 1. [`diagnostic`]: the leaf vocabulary (severity, location, finding, verdict, rule info).
//! 2. [`package`] reads a zip or folder into a typed model; it knows nothing of policy.
//! 3. [`config`] reads `config.toml` into typed settings (targets, rules, waivers, release
//!    order, report formats, daemon, alerts, audits).
//! 4. [`assessment`]: one package's outcome, the type every output derives from.
//! 5. [`policy`] loads Rhai policies and runs them in a sandbox.
//! 6. [`eval`] runs a policy set on a package in its lineage and applies waivers.
//! 7. [`history`] keeps every checked release, the daemon's state and the alert outbox.
//! 8. [`report`] renders assessments; [`alert`] builds and delivers alerts.
//! 9. [`pipeline`] is the one place that evaluates a package in its lineage: it loads the
//!    rules, finds the releases to compare with, waives, and publishes reports, alerts and
//!    history.
//! 10. [`audit`] and [`watch`] are drivers: they choose which packages, in what order and
//!     against which history, and hand each to the pipeline. The binary's `cli` sits on top.

pub mod diagnostic;

pub mod package;

pub mod config;

pub mod assessment;

pub mod policy;

pub mod eval;

pub mod history;

pub mod alert;
pub mod report;

pub mod pipeline;

pub mod audit;
pub mod watch;
