//! The daemon's dashboard: one self-contained page (no external script, font or style) served
//! at `/` by the status server and written as `reports/index.html`, a static snapshot with
//! relative links. It shows the verdicts of the last 24 hours and 30 days, the recent
//! packages newest first with links to their reports, each solution's release timeline, the
//! scheduled audits, the alert outbox and the active policy set. Every string is escaped by
//! `maud`, in HTML and in SVG text alike.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use time::OffsetDateTime;

use super::{
    bar_chart, release_timeline, timeline_legend, AssessmentSummary, Bar, IndexEntry, CHART_STYLE,
};
use crate::diagnostic::Verdict;

/// A scheduled audit as the dashboard and `/status` list it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditLine {
    pub name: String,
    pub last_run: Option<String>,
    pub next_run: Option<String>,
    pub last_result: Option<String>,
}

/// One alert sink's outbox.
#[derive(Debug, Clone, Default)]
pub struct OutboxLine {
    pub sink: String,
    pub pending: u64,
    pub dead: u64,
}

/// Everything the page shows, gathered by the daemon.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub generated_at: OffsetDateTime,
    pub version: String,
    pub policy_set: String,
    pub last_reload_at: String,
    pub last_reload_errors: Vec<String>,
    /// Counts by verdict over the last 24 hours and the last 30 days.
    pub last_day: [(Verdict, usize); 3],
    pub last_month: [(Verdict, usize); 3],
    /// Newest first.
    pub recent: Vec<IndexEntry>,
    /// Per solution of the recent packages: its releases from the history, oldest first.
    pub timelines: Vec<(String, Vec<AssessmentSummary>)>,
    pub audits: Vec<AuditLine>,
    pub outbox: Vec<OutboxLine>,
    /// The daemon serving the page, and the daemons alive on its history (empty for a daemon
    /// on a file of its own before its first heartbeat).
    pub daemon: String,
    pub daemons: Vec<crate::history::DaemonBeat>,
    /// Prefix of report links: `/reports/` when served, empty in the reports folder itself.
    pub report_prefix: String,
    /// Served live: the page refreshes its data every few seconds.
    pub live: bool,
}

const STYLE: &str = r#"
:root { --fail:#b42318; --warn:#b54708; --pass:#067647; --muted:#667085; --line:#eaecf0; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #101828; }
header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: #f9fafb; }
main { padding: 8px 24px 24px; }
h1 { margin: 0; font-size: 20px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: break-word; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; text-transform: uppercase; }
.badge.fail { background: var(--fail); } .badge.warn { background: var(--warn); } .badge.pass { background: var(--pass); }
.charts { display: flex; flex-wrap: wrap; gap: 8px 32px; }
.error { color: var(--fail); }
.scroll { overflow-x: auto; }
td { overflow-wrap: anywhere; }
@media (max-width: 640px) { main { padding: 4px 8px; } .wide { display: none; } }
"#;

/// Replaces the page's content with a fresh copy every few seconds, without a reload (and
/// keeps the old content when the daemon does not answer).
const REFRESH_SCRIPT: &str = r#"
setInterval(function () {
  fetch(location.href, { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
    .then(function (text) {
      var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
      if (fresh) { document.querySelector("main").replaceWith(fresh); }
    })
    .catch(function () {});
}, 5000);
"#;

/// "3 min ago", in the viewer's words.
fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let seconds = (now - then).whole_seconds().max(0);
    match seconds {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

fn verdict_bars(counts: &[(Verdict, usize); 3]) -> Vec<Bar> {
    counts
        .iter()
        .rev()
        .map(|(verdict, count)| Bar {
            label: match verdict {
                Verdict::Fail => "failed".into(),
                Verdict::Warn => "warned".into(),
                Verdict::Pass => "passed".into(),
            },
            count: *count,
            class: match verdict {
                Verdict::Fail => "error",
                Verdict::Warn => "warning",
                Verdict::Pass => "info",
            },
        })
        .collect()
}

/// An instant to the second, as people read it (`2026-12-02 01:30:20 UTC`).
fn to_second(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A stored RFC 3339 time to the second.
fn text_to_second(text: &str) -> String {
    to_second(crate::history::parse_rfc3339(text))
}

fn time_cell(now: OffsetDateTime, at: OffsetDateTime) -> Markup {
    html! { time datetime=(crate::history::rfc3339(at)) title=(to_second(at)) { (ago(now, at)) } }
}

fn heartbeat_cell(now: OffsetDateTime, unix_ms: i64) -> Markup {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    time_cell(now, at)
}

fn recent_table(dashboard: &Dashboard) -> Markup {
    // A fleet's page says which daemon evaluated each package.
    let by_daemon =
        dashboard.recent.iter().any(|e| e.daemon.is_some()) && dashboard.daemons.len() > 1;
    html! {
        table.recent {
            thead { tr { th { "Checked" } th { "Verdict" } th { "Solution" } th { "Version" } th.wide { "Previous" } th.wide { "Folder" } @if by_daemon { th.wide { "Daemon" } } th { "Reports" } } }
            tbody {
                @for entry in &dashboard.recent {
                    @let summary = &entry.summary;
                    tr {
                        td { (time_cell(dashboard.generated_at, summary.checked_at)) }
                        td { span.badge.(summary.verdict.as_str()) { (summary.verdict.as_str()) } }
                        td { (summary.unique_name.clone().unwrap_or_else(|| "(unreadable)".into())) }
                        td { (summary.version.clone().unwrap_or_default()) }
                        td.wide { (summary.previous_version.clone().unwrap_or_default()) }
                        td.wide { (entry.folder.clone().unwrap_or_else(|| folder_of(&summary.path))) }
                        @if by_daemon { td.wide { (entry.daemon.clone().unwrap_or_default()) } }
                        td {
                            @for report in &entry.reports {
                                a href=(format!("{}{}", dashboard.report_prefix, report)) {
                                    (report.rsplit('.').next().unwrap_or(report))
                                } " "
                            }
                        }
                    }
                }
            }
        }
    }
}

fn folder_of(path: &str) -> String {
    std::path::Path::new(path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn operations(dashboard: &Dashboard) -> Markup {
    html! {
        h2 { "Scheduled audits" }
        @if dashboard.audits.is_empty() {
            p.muted { "None configured." }
        } @else {
            table {
                thead { tr { th { "Audit" } th { "Last run" } th { "Result" } th { "Next run" } } }
                tbody {
                    @for audit in &dashboard.audits {
                        tr {
                            td { (audit.name) }
                            td { (audit.last_run.as_deref().map_or("-".into(), text_to_second)) }
                            td { (audit.last_result.clone().unwrap_or_else(|| "-".into())) }
                            td { (audit.next_run.as_deref().map_or("-".into(), text_to_second)) }
                        }
                    }
                }
            }
        }
        h2 { "Alert outbox" }
        @if dashboard.outbox.is_empty() {
            p.muted { "No alert sinks." }
        } @else {
            table {
                thead { tr { th { "Sink" } th { "Pending" } th { "Dead" } } }
                tbody {
                    @for line in &dashboard.outbox {
                        tr { td { (line.sink) } td { (line.pending) } td class=[(line.dead > 0).then_some("error")] { (line.dead) } }
                    }
                }
            }
        }
        @if dashboard.daemons.len() > 1 {
            h2 { "Daemons" }
            table {
                thead { tr { th { "Daemon" } th { "Host" } th { "Version" } th { "Policy set" } th { "Last heartbeat" } } }
                tbody {
                    @for daemon in &dashboard.daemons {
                        tr {
                            td { (daemon.name) @if daemon.name == dashboard.daemon { " (this page)" } }
                            td { (daemon.host) }
                            td { (daemon.version) }
                            td class=[(daemon.policy_set != dashboard.policy_set).then_some("error")] {
                                code { (daemon.policy_set.get(..16).unwrap_or(&daemon.policy_set)) }
                            }
                            td { (heartbeat_cell(dashboard.generated_at, daemon.last_seen_ms)) }
                        }
                    }
                }
            }
        }
        h2 { "Policy set" }
        p {
            "Hash " code { (dashboard.policy_set.get(..16).unwrap_or(&dashboard.policy_set)) }
            ", loaded " (text_to_second(&dashboard.last_reload_at)) "."
        }
        @if !dashboard.last_reload_errors.is_empty() {
            p.error { "The last reload failed; the previous rules stay:" }
            ul.error { @for error in &dashboard.last_reload_errors { li { code { (error) } } } }
        }
    }
}

/// The dashboard page.
pub fn render_dashboard(dashboard: &Dashboard) -> String {
    let total: usize = dashboard.last_day.iter().map(|(_, n)| n).sum();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if dashboard.live { noscript { meta http-equiv="refresh" content="10"; } }
                title { "solguard dashboard" }
                style { (PreEscaped(STYLE)) (PreEscaped(CHART_STYLE)) }
            }
            body {
                header {
                    h1 { "solguard" }
                    p.muted { (dashboard.version) " · " (total) " packages in the last 24 h · as of "
                        (to_second(dashboard.generated_at)) }
                }
                main {
                    h2 { "Verdicts" }
                    div.charts {
                        (bar_chart("Packages in the last 24 hours", &verdict_bars(&dashboard.last_day)))
                        (bar_chart("Packages in the last 30 days", &verdict_bars(&dashboard.last_month)))
                    }
                    h2 { "Recent packages" }
                    @if dashboard.recent.is_empty() {
                        p.muted { "No packages yet: copy a solution package into a watched folder." }
                    } @else {
                        div.scroll { (recent_table(dashboard)) }
                    }
                    @if !dashboard.timelines.is_empty() {
                        h2 { "Release timelines" }
                        (timeline_legend())
                        @for (name, releases) in &dashboard.timelines {
                            h3 { (name) }
                            (release_timeline(name, releases, None))
                        }
                    }
                    (operations(dashboard))
                }
                @if dashboard.live { script { (PreEscaped(REFRESH_SCRIPT)) } }
            }
        }
    };
    page.into_string()
}
