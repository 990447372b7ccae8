//! Evaluation: runs a policy set on a package in its lineage (the [`Related`] releases it is
//! compared with), with targets and per-policy settings, applies severities and passes findings
//! through waivers. Policy outcomes are findings, never errors: a failing policy is a
//! `policy-error` finding and an unreadable package a `package-format` finding.

mod evaluator;
mod rules;

pub use evaluator::{policy_set_hash, Evaluator, HistoryEntry, Related};
