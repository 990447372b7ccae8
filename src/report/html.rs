//! The report as one self-contained HTML page (no external scripts, fonts or styles), readable
//! in a browser and printable: a summary header, a package table filtered by verdict (pure CSS,
//! no script), each package's findings with location and hint, what an upgrade would delete,
//! and each solution's release timeline. Built with `maud`, which escapes every interpolated
//! string, so names from packages render as text, never as markup.

use std::io::{self, Write};

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{
    bar_chart, fit_in, fit_word, release_timeline, timeline_legend, Assessment, Bar, Report,
    CHART_STYLE,
};
use crate::diagnostic::{Finding, Severity, Verdict};

const STYLE: &str = r#"
:root { --fail:#b42318; --warn:#b54708; --pass:#067647; --muted:#667085; --line:#eaecf0; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #101828; background: #fff; }
header { padding: 24px 32px; border-bottom: 1px solid var(--line); background: #f9fafb; }
main { padding: 8px 32px 32px; }
h1 { margin: 0 0 8px; font-size: 22px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
h3 { font-size: 16px; margin: 0 0 8px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; text-transform: uppercase; }
.badge.fail, .badge.error { background: var(--fail); }
.badge.warn, .badge.warning { background: var(--warn); }
.badge.pass { background: var(--pass); }
.badge.info { background: var(--muted); }
.counts span { margin-right: 16px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: break-word; }
code.rule { white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 32px; }
.filters input { position: absolute; opacity: 0; }
.filters label { display: inline-block; padding: 4px 12px; margin: 0 4px 8px 0; border: 1px solid var(--line); border-radius: 14px; cursor: pointer; }
.filters input:checked + label { background: #101828; color: #fff; }
#show-fail:checked ~ .rows .row:not(.v-fail), #show-warn:checked ~ .rows .row:not(.v-warn),
#show-pass:checked ~ .rows .row:not(.v-pass) { display: none; }
.package { border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 12px 0; }
.hint { color: var(--muted); }
.timeline { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 8px; }
.timeline li { border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
.timeline li.current { border-color: #101828; border-width: 2px; }
.timeline li.rejected { opacity: .75; }
.timeline li.rejected strong { text-decoration: line-through; }
details summary { cursor: pointer; color: var(--muted); }
@media (max-width: 640px) {
  header { padding: 12px; } main { padding: 4px 8px 16px; } .package { padding: 8px; }
  table.data-loss, table.packages, table.worst, table.timeline-table { display: block; overflow-x: auto; }
  /* Findings stack: severity and rule on one line, the finding and its place below. */
  table.findings thead { display: none; }
  table.findings, table.findings tbody, table.findings tr { display: block; }
  table.findings td { display: inline-block; border: 0; padding: 2px 4px; }
  table.findings td:nth-child(3), table.findings td:nth-child(4) { display: block; }
  table.findings tr { border-bottom: 1px solid var(--line); padding: 6px 0; }
  table.facts td code { overflow-wrap: anywhere; }
}
@media print {
  .filters input, .filters label { display: none; }
  .filters .row { display: table-row !important; }
  .filters section.row { display: block !important; }
  .package { break-inside: auto; }
  h2, h3, h4 { break-after: avoid; }
  tr, figure, svg.chart { break-inside: avoid; }
  code.rule { white-space: normal; }
  .findings td:last-child, .data-loss td:last-child { min-width: 14em; }
  .findings td:last-child code, .data-loss td:last-child code { overflow-wrap: anywhere; }
  header { background: none; }
}
"#;

fn verdict_class(verdict: Verdict) -> &'static str {
    verdict.as_str()
}

fn package_title(package: &Assessment) -> String {
    match (&package.unique_name, &package.version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        _ => format!("{} (unreadable)", package.path.display()),
    }
}

fn count(package: &Assessment, severity: crate::diagnostic::Severity) -> usize {
    package
        .findings
        .iter()
        .filter(|f| f.counts() && f.severity == severity)
        .count()
}

/// A path or location that may wrap after its separators (`/`, `\\`) and nowhere else, so a
/// long path fits its cell without breaking a name in the middle.
fn breakable(text: &str) -> Markup {
    html! {
        @for (index, part) in text.split_inclusive(['/', '\\']).enumerate() {
            @if index > 0 { wbr; }
            (part)
        }
    }
}

fn findings_table(findings: &[&Finding]) -> Markup {
    html! {
        table.findings {
            thead { tr { th { "Severity" } th { "Rule" } th { "Finding" } th { "Where" } } }
            tbody {
                @for (index, finding) in findings.iter().enumerate() {
                    // A hint repeated by the finding before it in the table is said once.
                    @let repeated = index > 0 && findings[index - 1].hint == finding.hint
                        && findings[index - 1].rule == finding.rule;
                    tr {
                        td { span.badge.(finding.severity.to_string()) { (finding.severity.to_string()) } }
                        td { code.rule { (finding.rule) "/" (finding.code) } }
                        td {
                            (finding.message)
                            @if let Some(waived) = &finding.waived {
                                div.hint { "Waived: " (waived.reason)
                                    @if let Some(expires) = &waived.expires { " (until " (expires) ")" } }
                            } @else if let Some(hint) = finding.hint.as_ref().filter(|_| !repeated) {
                                div.hint { "Hint: " (hint) }
                            }
                        }
                        td { @if let Some(location) = &finding.location { code { (breakable(&location.to_string())) } } }
                    }
                }
            }
        }
    }
}

fn timeline(report: &Report, package: &Assessment) -> Markup {
    let Some(name) = &package.unique_name else {
        return html! {};
    };
    let Some(history) = report
        .history
        .iter()
        .find(|h| h.unique_name.eq_ignore_ascii_case(name))
    else {
        return html! {};
    };
    html! {
        h4 { "Release history of " (name) }
        (release_timeline(name, &history.releases, package.sha256.as_deref()))
        (timeline_legend())
    }
}

/// What the upgrade deletes, counted per kind (`3 columns, 1 table`).
fn loss_counts(package: &Assessment) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for loss in &package.data_loss {
        match kinds.iter_mut().find(|(k, _)| *k == loss.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((&loss.kind, 1)),
        }
    }
    kinds
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Counts by severity and by rule (the ten most frequent), and in an audit the streams with
/// the most problems first.
fn findings_summary(report: &Report) -> Markup {
    let counting: Vec<&Finding> = report.packages.iter().flat_map(|p| p.counting()).collect();
    let by_severity: Vec<Bar> = [Severity::Error, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|severity| Bar {
            label: format!("{severity}s"),
            count: counting.iter().filter(|f| f.severity == severity).count(),
            class: severity_class(severity),
        })
        .collect();
    let mut rules: Vec<(String, usize, Severity)> = Vec::new();
    for finding in &counting {
        let key = format!("{}/{}", finding.rule, finding.code);
        match rules.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, n, worst)) => {
                *n += 1;
                *worst = (*worst).max(finding.severity);
            }
            None => rules.push((key, 1, finding.severity)),
        }
    }
    rules.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    rules.truncate(10);
    let by_rule: Vec<Bar> = rules
        .into_iter()
        .map(|(label, count, severity)| Bar {
            label,
            count,
            class: severity_class(severity),
        })
        .collect();
    let mut streams: Vec<Bar> = report
        .streams
        .iter()
        .map(|stream| Bar {
            label: stream.unique_name.clone(),
            count: stream.releases.iter().map(|r| r.findings.len()).sum(),
            class: "error",
        })
        .filter(|b| b.count > 0)
        .collect();
    streams.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    streams.truncate(10);
    html! {
        @if !counting.is_empty() {
            h2 { "Findings at a glance" }
            div.charts {
                (bar_chart("Findings by severity", &by_severity))
                (bar_chart("Findings by rule and code", &by_rule))
                @if !streams.is_empty() {
                    (bar_chart("Release streams with the most problems", &streams))
                }
            }
        }
    }
}

fn severity_class(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn package_section(report: &Report, index: usize, package: &Assessment) -> Markup {
    let (counting, waived): (Vec<&Finding>, Vec<&Finding>) =
        package.findings.iter().partition(|f| f.counts());
    html! {
        section.package.row.(format!("v-{}", verdict_class(package.verdict))) id=(format!("package-{index}")) {
            h3 { span.badge.(verdict_class(package.verdict)) { (package.verdict.as_str()) } " " (package_title(package)) }
            table.facts {
                tr { th { "File" } td { code { (breakable(&package.path.display().to_string())) } } }
                @if let Some(exported) = &package.exported_at { tr { th { "Exported" } td { (exported) } } }
                @if let Some(parent) = &package.patch_of { tr { th { "Patch of" } td { (parent) } } }
                @if let Some(previous) = &package.previous_version { tr { th { "Previous release" } td { (previous) } } }
                @if let Some(managed) = &package.managed { tr { th { "Managed" } td { (managed) } } }
                @if let Some(sha) = &package.sha256 { tr { th { "SHA-256" } td { code { (sha) } } } }
            }
            @if counting.is_empty() {
                p.muted { "No findings." }
            } @else {
                (findings_table(&counting))
            }
            @if !package.data_loss.is_empty() {
                h4 { "What the upgrade from " (package.previous_version.clone().unwrap_or_else(|| "the previous release".into())) " would delete: " (loss_counts(package)) }
                table.data-loss {
                    thead { tr { th { "Kind" } th { "Component" } th { "What is lost" } th { "Where" } } }
                    tbody {
                        @for loss in &package.data_loss {
                            tr { td { (loss.kind) } td { code { (loss.component) } } td { (loss.detail) } td { code { (breakable(&loss.location.to_string())) } } }
                        }
                    }
                }
            }
            @if !waived.is_empty() {
                details {
                    summary { "Waived findings (" (waived.len()) ")" }
                    (findings_table(&waived))
                }
            }
            (timeline(report, package))
        }
    }
}

/// An audit's counters and its worst problems, which open the report.
fn audit_overview(report: &Report) -> Markup {
    let Some(audit) = &report.audit else {
        return html! {};
    };
    html! {
        h2 { "Audit" }
        p.muted { (audit.files) " files, " (audit.read) " read, " (audit.cached) " from the cache, "
            (audit.skipped.len()) " skipped; releases ordered by " (audit.order) "." }
        @let worst = report.worst_findings(10);
        @if !worst.is_empty() {
            h3 { "Worst problems" }
            table.worst {
                tbody {
                    @for (package, finding) in worst {
                        tr {
                            td { span.badge.(finding.severity.to_string()) { (finding.severity.to_string()) } }
                            td { (package_title(package)) }
                            td { code.rule { (finding.rule) "/" (finding.code) } }
                            td { (finding.message) }
                        }
                    }
                }
            }
        }
    }
}

/// An audit's release streams as tables, and the files it skipped.
fn audit_streams(report: &Report) -> Markup {
    let Some(audit) = &report.audit else {
        return html! {};
    };
    html! {
        @if !report.streams.is_empty() { h2 { "Release streams" } }
        @for stream in &report.streams {
            section.stream {
                h3 { (stream.unique_name) }
                table.timeline-table {
                    thead { tr { th { "Version" } th { "Exported" } th { "File" } th { "Publisher" } th { "Managed" } th { "Platform" } th { "Verdict" } th { "Findings" } } }
                    tbody {
                        @for release in &stream.releases {
                            tr {
                                td { strong { (release.version) } }
                                td { (release.exported_at.map(|t| t.to_string()).unwrap_or_default()) }
                                td { code { (release.file) } }
                                td { (release.publisher) }
                                td { (release.managed) }
                                td { (release.platform_version.clone().unwrap_or_default()) }
                                td { span.badge.(verdict_class(release.verdict)) { (release.verdict.as_str()) } }
                                td { @for code in &release.findings { code { (code) } " " } }
                            }
                        }
                    }
                }
            }
        }
        @if !audit.skipped.is_empty() {
            h3 { "Skipped files (not solution packages)" }
            ul { @for skipped in &audit.skipped { li { code { (skipped.path) } ": " (skipped.reason) } } }
        }
    }
}

/// Package x environment: fits, warns or fails in each target (words and badge, not colour
/// alone).
fn environment_matrix(report: &Report) -> Markup {
    let environments = report.environments();
    html! {
        @if !environments.is_empty() {
            h2 { "Fit per environment" }
            table.matrix {
                thead { tr { th { "Package" } @for name in &environments { th { (name) } } } }
                tbody {
                    @for package in &report.packages {
                        tr {
                            td { (package_title(package)) }
                            @for name in &environments {
                                td {
                                    @match fit_in(package, name) {
                                        Some(v) => span.badge.(verdict_class(v)) { (fit_word(v)) },
                                        None => span.muted { "-" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn page(report: &Report) -> Markup {
    let s = &report.summary;
    let verdict = report.verdict();
    let by_verdict = |v: Verdict| report.packages.iter().filter(|p| p.verdict == v).count();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "solguard report: " (verdict.as_str()) }
                style { (PreEscaped(STYLE)) (PreEscaped(CHART_STYLE)) }
            }
            body {
                header {
                    h1 { "solguard report " span.badge.(verdict_class(verdict)) { (verdict.as_str()) } }
                    p.counts {
                        span { strong { (s.packages) } " packages" }
                        span { strong { (s.passed) } " passed" }
                        span { strong { (s.warned) } " warned" }
                        span { strong { (s.failed) } " failed" }
                        span { strong { (s.errors) } " errors" }
                        span { strong { (s.warnings) } " warnings" }
                        span { strong { (s.infos) } " info" }
                        span { strong { (s.waived) } " waived" }
                    }
                    p.muted { (report.tool) " · policy set " code { (report.policy_set.get(..12).unwrap_or(&report.policy_set)) } }
                }
                main.filters {
                    input #show-all type="radio" name="verdict" checked;
                    label for="show-all" { "All (" (report.packages.len()) ")" }
                    input #show-fail type="radio" name="verdict";
                    label for="show-fail" { "Fail (" (by_verdict(Verdict::Fail)) ")" }
                    input #show-warn type="radio" name="verdict";
                    label for="show-warn" { "Warn (" (by_verdict(Verdict::Warn)) ")" }
                    input #show-pass type="radio" name="verdict";
                    label for="show-pass" { "Pass (" (by_verdict(Verdict::Pass)) ")" }
                    div.rows {
                        (audit_overview(report))
                        (findings_summary(report))
                        h2 { "Packages" }
                        table.packages {
                            thead { tr { th { "Solution" } th { "Version" } th { "Previous" } th { "Verdict" } th { "Errors" } th { "Warnings" } th { "Info" } } }
                            tbody {
                                @for (index, package) in report.packages.iter().enumerate() {
                                    tr.row.(format!("v-{}", verdict_class(package.verdict))) {
                                        td { a href=(format!("#package-{index}")) {
                                            (package.unique_name.clone().unwrap_or_else(|| package.path.display().to_string())) } }
                                        td { (package.version.clone().unwrap_or_default()) }
                                        td { (package.previous_version.clone().unwrap_or_default()) }
                                        td { span.badge.(verdict_class(package.verdict)) { (package.verdict.as_str()) } }
                                        td { (count(package, crate::diagnostic::Severity::Error)) }
                                        td { (count(package, crate::diagnostic::Severity::Warning)) }
                                        td { (count(package, crate::diagnostic::Severity::Info)) }
                                    }
                                }
                            }
                        }
                        (environment_matrix(report))
                        h2 { "Findings" }
                        @for (index, package) in report.packages.iter().enumerate() {
                            (package_section(report, index, package))
                        }
                        (audit_streams(report))
                        @if !report.findings.is_empty() {
                            h2 { "About the run" }
                            @let findings: Vec<&Finding> = report.findings.iter().collect();
                            (findings_table(&findings))
                        }
                    }
                }
            }
        }
    }
}

pub fn write_html(out: &mut impl Write, report: &Report) -> io::Result<()> {
    out.write_all(page(report).into_string().as_bytes())?;
    out.write_all(b"\n")
}
