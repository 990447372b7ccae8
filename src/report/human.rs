//! The report as text for a terminal or a log: a verdict line per package, its findings with
//! `file:line`, and a closing summary. Colours only when asked (the caller decides from the
//! terminal and `NO_COLOR`); `quiet` keeps only packages that did not pass. Text from a
//! package is shown through [`visible`]: no control character or bidirectional override of
//! it reaches the terminal or CI log raw.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{fit_in, fit_word, RenderOptions, Report};
use crate::diagnostic::{visible, Finding, Severity, Verdict};

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn verdict(&self, verdict: Verdict) -> String {
        let text = format!("{:<4}", verdict.as_str().to_uppercase());
        self.fit(verdict, &text)
    }

    /// `text` in the colour of `verdict`, bold.
    fn fit(&self, verdict: Verdict, text: &str) -> String {
        let color = match verdict {
            Verdict::Pass => AnsiColor::Green,
            Verdict::Warn => AnsiColor::Yellow,
            Verdict::Fail => AnsiColor::Red,
        };
        self.paint(Style::new().bold().fg_color(Some(color.into())), text)
    }

    fn severity(&self, severity: Severity, waived: bool) -> String {
        let color = match severity {
            _ if waived => AnsiColor::BrightBlack,
            Severity::Error => AnsiColor::Red,
            Severity::Warning => AnsiColor::Yellow,
            Severity::Info => AnsiColor::Cyan,
        };
        self.paint(
            Style::new().fg_color(Some(color.into())),
            &severity.to_string(),
        )
    }

    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
}

fn write_finding(
    out: &mut impl Write,
    paint: &Paint,
    finding: &Finding,
    indent: &str,
) -> io::Result<()> {
    let waived = if finding.waived.is_some() {
        " (waived)"
    } else {
        ""
    };
    let location = finding
        .location
        .as_ref()
        .map(|l| format!(" at {}", visible(&l.to_string())))
        .unwrap_or_default();
    writeln!(
        out,
        "{indent}{}{waived} [{}/{}]{location}: {}",
        paint.severity(finding.severity, finding.waived.is_some()),
        visible(&finding.rule),
        visible(&finding.code),
        visible(&finding.message)
    )?;
    if let Some(waived) = &finding.waived {
        writeln!(
            out,
            "{indent}  {}",
            paint.dim(&format!("waived: {}", visible(&waived.reason)))
        )?;
    } else if let Some(hint) = &finding.hint {
        writeln!(
            out,
            "{indent}  {}",
            paint.dim(&format!("hint: {}", visible(hint)))
        )?;
    }
    Ok(())
}

/// Streams, worst problems, skipped files and counters of an audit.
fn write_audit(out: &mut impl Write, paint: &Paint, report: &Report) -> io::Result<()> {
    let Some(audit) = &report.audit else {
        return Ok(());
    };
    writeln!(out, "\nRelease streams ({}):", report.streams.len())?;
    for stream in &report.streams {
        writeln!(
            out,
            "  {} ({} releases)",
            visible(&stream.unique_name),
            stream.releases.len()
        )?;
        for release in &stream.releases {
            let file = std::path::Path::new(&release.file).file_name().map_or_else(
                || release.file.clone(),
                |n| n.to_string_lossy().into_owned(),
            );
            writeln!(
                out,
                "    {} {:<14} {} {} {} {} platform {}{}",
                paint.verdict(release.verdict),
                visible(&release.version),
                release
                    .exported_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into()),
                visible(&file),
                visible(&release.publisher),
                release.managed,
                visible(release.platform_version.as_deref().unwrap_or("?")),
                if release.findings.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", visible(&release.findings.join(", ")))
                }
            )?;
        }
    }
    let worst = report.worst_findings(10);
    if !worst.is_empty() {
        writeln!(out, "\nWorst problems:")?;
        for (package, finding) in worst {
            let name = match (&package.unique_name, &package.version) {
                (Some(n), Some(v)) => format!("{n} {v}"),
                _ => package.path.display().to_string(),
            };
            writeln!(
                out,
                "  {} {} [{}/{}]: {}",
                paint.severity(finding.severity, false),
                visible(&name),
                visible(&finding.rule),
                visible(&finding.code),
                visible(&finding.message)
            )?;
        }
    }
    if !audit.skipped.is_empty() {
        writeln!(out, "\nSkipped (not solution packages):")?;
        for skipped in &audit.skipped {
            writeln!(
                out,
                "  {}: {}",
                visible(&skipped.path),
                visible(&skipped.reason)
            )?;
        }
    }
    if let Some(new) = &audit.new_findings {
        writeln!(
            out,
            "\n{} new finding(s) since the previous audit",
            new.len()
        )?;
    }
    writeln!(
        out,
        "\nAudit: {} files, {} read, {} from the cache, {} skipped; order by {}",
        audit.files,
        audit.read,
        audit.cached,
        audit.skipped.len(),
        audit.order
    )
}

/// Package x environment: whether each package fits, warns or fails in each target.
fn write_matrix(out: &mut impl Write, paint: &Paint, report: &Report) -> io::Result<()> {
    let environments = report.environments();
    if environments.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = report
        .packages
        .iter()
        .map(|p| match (&p.unique_name, &p.version) {
            (Some(name), Some(version)) => visible(&format!("{name} {version}")).into_owned(),
            _ => visible(&p.path.display().to_string()).into_owned(),
        })
        .collect();
    let first = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let widths: Vec<usize> = environments
        .iter()
        .map(|e| visible(e).chars().count().max(5))
        .collect();
    writeln!(out, "fit per environment:")?;
    let mut header = format!("  {:<first$}", "package");
    for (name, width) in environments.iter().zip(&widths) {
        header.push_str(&format!("  {:<width$}", visible(name)));
    }
    writeln!(out, "{}", header.trim_end())?;
    for (package, name) in report.packages.iter().zip(&names) {
        let mut line = format!("  {name:<first$}");
        for (environment, width) in environments.iter().zip(&widths) {
            let cell = match fit_in(package, environment) {
                Some(verdict) => paint.fit(verdict, &format!("{:<width$}", fit_word(verdict))),
                None => format!("{:<width$}", "-"),
            };
            line.push_str(&format!("  {cell}"));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

pub fn write_human(
    out: &mut impl Write,
    report: &Report,
    options: &RenderOptions,
) -> io::Result<()> {
    let paint = Paint {
        color: options.color,
    };
    for package in &report.packages {
        if options.quiet && package.verdict == Verdict::Pass {
            continue;
        }
        let name = match (&package.unique_name, &package.version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            _ => "(unreadable)".to_owned(),
        };
        let previous = package
            .previous_version
            .as_ref()
            .map(|v| format!(", previous {}", visible(v)))
            .unwrap_or_default();
        let exported = package
            .exported_at
            .map(|t| format!(", exported {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {} {}",
            paint.verdict(package.verdict),
            visible(&name),
            paint.dim(&format!("({}{exported}{previous})", package.path.display()))
        )?;
        for finding in &package.findings {
            if options.quiet && finding.severity < Severity::Warning {
                continue;
            }
            write_finding(out, &paint, finding, "  ")?;
        }
    }
    for finding in &report.findings {
        write_finding(out, &paint, finding, "")?;
    }
    write_matrix(out, &paint, report)?;
    write_audit(out, &paint, report)?;
    let s = &report.summary;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    writeln!(
        out,
        "policy set {}",
        report.policy_set.get(..12).unwrap_or(&report.policy_set)
    )?;
    writeln!(
        out,
        "{} {}: {} passed, {} warned, {} failed; {}, {}, {}, {} waived",
        paint.verdict(report.verdict()),
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
