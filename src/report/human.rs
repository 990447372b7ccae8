//! The report as text for a terminal or a log: a verdict line per package, its findings with
//! `file:line`, and a closing summary.

use std::io::{self, Write};

use super::Report;
use crate::eval::Finding;

fn write_finding(out: &mut impl Write, finding: &Finding, indent: &str) -> io::Result<()> {
    let waived = if finding.waived.is_some() {
        " (waived)"
    } else {
        ""
    };
    let location = finding
        .location
        .as_ref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{indent}{}{waived} [{}/{}]{location}: {}",
        finding.severity, finding.rule, finding.code, finding.message
    )?;
    if let Some(waived) = &finding.waived {
        writeln!(out, "{indent}  waived: {}", waived.reason)?;
    } else if let Some(hint) = &finding.hint {
        writeln!(out, "{indent}  hint: {hint}")?;
    }
    Ok(())
}

pub fn write_human(out: &mut impl Write, report: &Report) -> io::Result<()> {
    for package in &report.packages {
        let name = match (&package.unique_name, &package.version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            _ => "(unreadable)".to_owned(),
        };
        let previous = package
            .previous_version
            .as_ref()
            .map(|v| format!(", previous {v}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<4} {name} ({}{previous})",
            package.verdict.as_str().to_uppercase(),
            package.path.display()
        )?;
        for finding in &package.findings {
            write_finding(out, finding, "  ")?;
        }
    }
    for finding in &report.findings {
        write_finding(out, finding, "")?;
    }
    let s = &report.summary;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    writeln!(
        out,
        "{}: {} passed, {} warned, {} failed; {}, {}, {}, {} waived",
        plural(s.packages, "package"),
        s.passed,
        s.warned,
        s.failed,
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.infos, "info"),
        s.waived
    )
}
