//! The shared vocabulary of outcomes, at the bottom of the crate: how bad a finding is
//! ([`Severity`]), where it points ([`Location`]), the [`Finding`] itself with its waiver, the
//! [`Verdict`] of a package, and what a rule is ([`RuleInfo`]). Every other module speaks these
//! types; this module imports nothing from the crate.

mod finding;
mod location;
mod severity;
mod text;

pub use finding::{
    is_accepted, CodeDoc, Finding, RuleInfo, Verdict, Waived, PACKAGE_FORMAT_RULE,
    POLICY_ERROR_CODE, REPOSITORY_RULE, WAIVERS_RULE,
};
pub use location::{line_column, Location};
pub use severity::{is_kebab_case, Severity};
pub use text::{shown, visible, xml_safe};

/// The current time as RFC 3339 text (UTC), as alerts and the outbox stamp it.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
