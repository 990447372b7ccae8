//! solguard: a policy engine for Microsoft Dataverse / Dynamics 365 solution packages.
//!
//! The crate is layered; imports point downward only: [`package`] reads a zip or folder into a
//! typed model and knows nothing of policy. Policy evaluation, history, reports, alerts and the
//! daemon are built on top of it.

pub mod config;
pub mod eval;
pub mod history;
pub mod package;
pub mod policy;
pub mod report;
pub mod run;
