//! solguard: a policy engine for Microsoft Dataverse / Dynamics 365 solution packages.
//!
//! The crate is layered and imports point downward only:
//!
//! - [`package`] reads a zip or folder into a typed model; it knows nothing of policy.
//! - [`policy`] loads Rhai policies and runs them in a sandbox.
//! - [`eval`] runs a policy set on a package with its previous release, targets, settings and
//!   waivers, and yields findings and a verdict; [`config`] supplies those settings.
//! - [`history`] keeps every checked release in an embedded database.
//! - [`report`] renders a run's outcome and [`alert`] builds and delivers alerts (outputs).
//! - [`run`] drives one-shot runs over a list of packages (`check`); [`watch`] is the daemon on
//!   drop folders; [`audit`] reads a whole release repository. The binary's `cli` sits on top.

pub mod alert;
pub mod audit;
pub mod config;
pub mod eval;
pub mod history;
pub mod package;
pub mod policy;
pub mod report;
pub mod run;
pub mod watch;
