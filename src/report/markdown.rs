//! The report as Markdown for a pull-request comment, a CI step summary or a report folder: a
//! one-line verdict, a table of packages, then findings by package and rule with what an
//! upgrade would delete, waived ones apart.
//! Text from packages is escaped so a hostile name cannot inject markup.

use std::io::{self, Write};

use super::{fit_in, fit_word, Assessment, RenderOptions, Report};
use crate::diagnostic::{Finding, Verdict};

/// Escapes text for a Markdown table cell or line: markup characters and HTML are neutralised
/// and line breaks become spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn verdict_icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅",
        Verdict::Warn => "⚠️",
        Verdict::Fail => "❌",
    }
}

fn verdict_mark(verdict: Verdict) -> String {
    format!("{} {verdict}", verdict_icon(verdict))
}

fn title(package: &Assessment) -> String {
    match (&package.unique_name, &package.version) {
        (Some(name), Some(version)) => format!("{} {}", escape(name), escape(version)),
        _ => format!(
            "{} (unreadable)",
            escape(&package.path.display().to_string())
        ),
    }
}

fn write_finding(out: &mut impl Write, finding: &Finding) -> io::Result<()> {
    let location = finding
        .location
        .as_ref()
        .map(|l| format!(" at `{}`", l.to_string().replace('`', "'")))
        .unwrap_or_default();
    writeln!(
        out,
        "- **{}** `{}`{location}: {}",
        finding.severity,
        finding.code,
        escape(&finding.message)
    )?;
    if let Some(waived) = &finding.waived {
        writeln!(out, "  - waived: {}", escape(&waived.reason))?;
    } else if let Some(hint) = &finding.hint {
        writeln!(out, "  - hint: {}", escape(hint))?;
    }
    Ok(())
}

/// Findings under one heading per rule, rules in order of first appearance.
fn write_by_rule(out: &mut impl Write, report: &Report, findings: &[&Finding]) -> io::Result<()> {
    let mut rules: Vec<&str> = Vec::new();
    for finding in findings {
        if !rules.contains(&finding.rule.as_str()) {
            rules.push(&finding.rule);
        }
    }
    for rule in rules {
        let title = report
            .rule(rule)
            .map(|r| format!(": {}", escape(&r.title)))
            .unwrap_or_default();
        writeln!(out, "\n**{rule}**{title}\n")?;
        for finding in findings.iter().filter(|f| f.rule == rule) {
            write_finding(out, finding)?;
        }
    }
    Ok(())
}

fn write_data_loss(out: &mut impl Write, package: &Assessment) -> io::Result<()> {
    if package.data_loss.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nWhat the upgrade from {} deletes:\n",
        package
            .previous_version
            .as_deref()
            .map_or("the previous release".into(), escape)
    )?;
    writeln!(out, "| Kind | Component | What is lost | Where |")?;
    writeln!(out, "|---|---|---|---|")?;
    for loss in &package.data_loss {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            escape(&loss.kind),
            escape(&loss.component),
            escape(&loss.detail),
            escape(&loss.location.to_string())
        )?;
    }
    Ok(())
}

/// Package x environment: whether each package fits, warns or fails in each target.
fn write_matrix(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let environments = report.environments();
    if environments.is_empty() {
        return Ok(());
    }
    write!(out, "\n| Package |")?;
    for name in &environments {
        write!(out, " {} |", escape(name))?;
    }
    write!(out, "\n|---|")?;
    for _ in &environments {
        write!(out, "---|")?;
    }
    writeln!(out)?;
    for package in &report.packages {
        write!(out, "| {} |", title(package))?;
        for name in &environments {
            let cell = fit_in(package, name).map_or("-".into(), |v| {
                format!("{} {}", verdict_icon(v), fit_word(v))
            });
            write!(out, " {cell} |")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Streams (a timeline table each), worst problems and skipped files of an audit.
fn write_audit(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let Some(audit) = &report.audit else {
        return Ok(());
    };
    writeln!(
        out,
        "\n## Release streams\n\n{} files, {} read, {} from the cache, {} skipped; releases ordered by {}.",
        audit.files,
        audit.read,
        audit.cached,
        audit.skipped.len(),
        audit.order
    )?;
    let worst = report.worst_findings(10);
    if !worst.is_empty() {
        writeln!(out, "\n### Worst problems\n")?;
        for (package, finding) in worst {
            writeln!(
                out,
                "- **{}** {} `{}/{}`: {}",
                finding.severity,
                title(package),
                finding.rule,
                finding.code,
                escape(&finding.message)
            )?;
        }
    }
    for stream in &report.streams {
        writeln!(out, "\n### {}\n", escape(&stream.unique_name))?;
        writeln!(
            out,
            "| Version | Exported | File | Publisher | Managed | Platform | Verdict | Findings |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
        for release in &stream.releases {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                escape(&release.version),
                release
                    .exported_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into()),
                escape(&release.file),
                escape(&release.publisher),
                release.managed,
                escape(release.platform_version.as_deref().unwrap_or("-")),
                verdict_mark(release.verdict),
                escape(&release.findings.join(", "))
            )?;
        }
    }
    if !audit.skipped.is_empty() {
        writeln!(out, "\n### Skipped files\n")?;
        for skipped in &audit.skipped {
            writeln!(
                out,
                "- `{}`: {}",
                skipped.path.replace('`', "'"),
                escape(&skipped.reason)
            )?;
        }
    }
    Ok(())
}

/// The most a Markdown report holds: GitHub refuses comments over 65,536 characters, and a
/// step summary over 1 MiB; this leaves room for what a workflow adds around it.
pub const MARKDOWN_MAX_CHARS: usize = 60_000;

/// Room kept for the closing lines (the cut notice and the policy-set line).
const CLOSING_CHARS: usize = 1_000;

pub fn write_markdown(
    out: &mut impl Write,
    report: &Report,
    options: &RenderOptions,
) -> io::Result<()> {
    let mut text = Vec::new();
    write_head(&mut text, report)?;
    // The package table always stays whole; package sections follow while they fit.
    let budget = MARKDOWN_MAX_CHARS.saturating_sub(CLOSING_CHARS);
    let mut used = chars(&text);
    let mut left_out = 0;
    for package in &report.packages {
        let mut section = Vec::new();
        write_package(&mut section, report, package)?;
        if left_out == 0 && used + chars(&section) <= budget {
            used += chars(&section);
            text.extend_from_slice(&section);
        } else {
            left_out += package.findings.len();
        }
    }
    let mut rest = Vec::new();
    write_audit(&mut rest, report)?;
    if !report.findings.is_empty() {
        writeln!(rest, "\n### Run")?;
        let findings: Vec<&Finding> = report.findings.iter().collect();
        write_by_rule(&mut rest, report, &findings)?;
    }
    if left_out == 0 && used + chars(&rest) <= budget {
        text.extend_from_slice(&rest);
    } else {
        left_out += report.findings.len();
    }
    if left_out > 0 {
        let whole = options.full_report.as_deref().map_or(
            "the JSON or HTML report (`--report-dir`)".to_owned(),
            |at| format!("`{}`", at.replace('`', "'")),
        );
        writeln!(
            text,
            "\n> {left_out} more findings are left out to keep this under {MARKDOWN_MAX_CHARS} characters; the whole report is {whole}."
        )?;
    }
    writeln!(
        text,
        "\n<sub>{} · policy set `{}`</sub>",
        escape(&report.tool),
        report.policy_set
    )?;
    out.write_all(&text)
}

fn chars(text: &[u8]) -> usize {
    String::from_utf8_lossy(text).chars().count()
}

/// The verdict line, the package table and the environment matrix.
fn write_head(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let summary = &report.summary;
    let overall = report.verdict();
    writeln!(
        out,
        "**solguard: {}**: {} package(s): {} passed, {} warned, {} failed; {} error(s), {} warning(s), {} waived\n",
        verdict_mark(overall),
        summary.packages,
        summary.passed,
        summary.warned,
        summary.failed,
        summary.errors,
        summary.warnings,
        summary.waived
    )?;
    writeln!(
        out,
        "| Solution | Version | Exported | Previous | Verdict | Errors | Warnings | Info |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for package in &report.packages {
        let count = |severity| {
            package
                .findings
                .iter()
                .filter(|f| f.counts() && f.severity == severity)
                .count()
        };
        use crate::diagnostic::Severity;
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            package
                .unique_name
                .as_deref()
                .map_or_else(|| escape(&package.path.display().to_string()), escape),
            package.version.as_deref().map_or("-".into(), escape),
            package.exported_at.map_or("-".into(), |t| t.to_string()),
            package
                .previous_version
                .as_deref()
                .map_or("-".into(), escape),
            verdict_mark(package.verdict),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        )?;
    }
    write_matrix(out, report)
}

/// One package's findings by rule, what its upgrade deletes, and its waived findings.
fn write_package(out: &mut impl Write, report: &Report, package: &Assessment) -> io::Result<()> {
    let (counting, waived): (Vec<&Finding>, Vec<&Finding>) =
        package.findings.iter().partition(|f| f.counts());
    if counting.is_empty() && waived.is_empty() && package.data_loss.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n### {}\n", title(package))?;
    writeln!(
        out,
        "File: `{}`",
        package.path.display().to_string().replace('`', "'")
    )?;
    write_by_rule(out, report, &counting)?;
    write_data_loss(out, package)?;
    if !waived.is_empty() {
        writeln!(
            out,
            "\n<details><summary>Waived ({})</summary>\n",
            waived.len()
        )?;
        write_by_rule(out, report, &waived)?;
        writeln!(out, "\n</details>")?;
    }
    Ok(())
}
