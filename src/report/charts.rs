//! Inline SVG charts for the HTML reports and the dashboard, built with `maud` (which escapes
//! every string, SVG text included): a release timeline per solution and horizontal bar charts
//! of counts. They read in print and without colour: every mark carries a letter or a shape,
//! every bar its number, and each chart has a text alternative (`<title>`, `aria-label`).

use maud::{html, Markup};

use super::AssessmentSummary;
use crate::diagnostic::Verdict;
use crate::package::ManagedState;

const WIDTH: f64 = 720.0;
const MARGIN: f64 = 40.0;
/// The length of the longest bar.
const BAR_SPAN: f64 = 280.0;

/// The letter in a timeline mark: the verdict without colour.
fn verdict_letter(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✓",
        Verdict::Warn => "!",
        Verdict::Fail => "✗",
    }
}

fn verdict_word(verdict: Verdict, accepted: bool) -> &'static str {
    match (verdict, accepted) {
        (Verdict::Fail, _) | (_, false) => "rejected",
        (Verdict::Warn, true) => "warned",
        (Verdict::Pass, true) => "accepted",
    }
}

/// Where a release sits on the time axis: its export time, else when it was checked.
fn instant(release: &AssessmentSummary) -> i64 {
    match release.exported_at {
        Some(exported) => exported.0.assume_utc().unix_timestamp(),
        None => release.checked_at.unix_timestamp(),
    }
}

/// The x of each release: by time, spread evenly when all share one instant; and kept at
/// least a label's width apart so versions stay readable.
fn positions(releases: &[AssessmentSummary]) -> Vec<f64> {
    let times: Vec<i64> = releases.iter().map(instant).collect();
    let (first, last) = (
        times.iter().copied().min().unwrap_or(0),
        times.iter().copied().max().unwrap_or(0),
    );
    let span = WIDTH - 2.0 * MARGIN;
    let mut xs: Vec<f64> = times
        .iter()
        .enumerate()
        .map(|(index, time)| {
            if last > first {
                MARGIN + span * (time - first) as f64 / (last - first) as f64
            } else if releases.len() > 1 {
                MARGIN + span * index as f64 / (releases.len() - 1) as f64
            } else {
                WIDTH / 2.0
            }
        })
        .collect();
    let gap = (span / releases.len().max(1) as f64).min(56.0);
    for index in 1..xs.len() {
        if xs[index] < xs[index - 1] + gap {
            xs[index] = xs[index - 1] + gap;
        }
    }
    xs
}

/// Each release once (the same bytes checked again are one release; its latest check
/// counts), in time order.
fn distinct_releases(releases: &[AssessmentSummary]) -> Vec<AssessmentSummary> {
    let mut distinct: Vec<AssessmentSummary> = Vec::new();
    for release in releases {
        let same = |r: &AssessmentSummary| match (&r.sha256, &release.sha256) {
            (Some(a), Some(b)) => a == b,
            _ => {
                r.version == release.version
                    && r.managed == release.managed
                    && r.path == release.path
            }
        };
        match distinct.iter_mut().find(|r| same(r)) {
            Some(kept) if kept.checked_at <= release.checked_at => *kept = release.clone(),
            Some(_) => {}
            None => distinct.push(release.clone()),
        }
    }
    distinct.sort_by_key(instant);
    distinct
}

/// A solution's releases in export order: one mark each, its shape the form (circle managed,
/// square unmanaged, diamond patch), its letter and class the verdict, the version beneath,
/// and a downgrade or data-loss release ringed and labelled above.
pub fn release_timeline(
    solution: &str,
    releases: &[AssessmentSummary],
    current: Option<&str>,
) -> Markup {
    let ordered = distinct_releases(releases);
    let xs = positions(&ordered);
    let width = xs.last().map_or(WIDTH, |x| (x + MARGIN).max(WIDTH));
    let summary = format!(
        "Release timeline of {solution}: {}",
        ordered
            .iter()
            .map(|r| {
                let mut text = format!(
                    "{} {}",
                    r.version.as_deref().unwrap_or("?"),
                    verdict_word(r.verdict, r.accepted)
                );
                for alarm in &r.alarms {
                    text.push_str(&format!(" ({})", alarm.label()));
                }
                text
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let axis = 60.0;
    html! {
        svg.chart.timeline-chart xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {width:.0} 120")) width=(format!("{width:.0}")) height="120"
            aria-label=(summary) {
            title { (summary) }
            line.axis x1=(MARGIN / 2.0) y1=(axis) x2=(width - MARGIN / 2.0) y2=(axis) {}
            @for (release, x) in ordered.iter().zip(&xs) {
                @let class = format!("mark v-{} {}", release.verdict.as_str(),
                    if release.accepted { "accepted" } else { "rejected" });
                @let is_current = current.is_some() && release.sha256.as_deref() == current;
                @let version = release.version.clone().unwrap_or_else(|| "?".into());
                g class=(class) {
                    title {
                        (version) " · " (verdict_word(release.verdict, release.accepted))
                        " · " (release.managed.map_or("?", ManagedState::as_str))
                        @if let Some(parent) = &release.patch_of { " · patch of " (parent) }
                        @if let Some(exported) = release.exported_at { " · exported " (exported) }
                        @for alarm in &release.alarms { " · " (alarm.label()) }
                    }
                    @if release.patch_of.is_some() {
                        polygon points=(format!("{x:.1},{:.1} {:.1},{axis:.1} {x:.1},{:.1} {:.1},{axis:.1}", axis - 11.0, x + 11.0, axis + 11.0, x - 11.0)) {}
                    } @else if release.managed == Some(ManagedState::Unmanaged) {
                        rect x=(format!("{:.1}", x - 9.0)) y=(axis - 9.0) width="18" height="18" {}
                    } @else {
                        circle cx=(format!("{x:.1}")) cy=(axis) r="10" {}
                    }
                    text.letter x=(format!("{x:.1}")) y=(axis + 4.0) text-anchor="middle" { (verdict_letter(release.verdict)) }
                    text.version x=(format!("{x:.1}")) y=(axis + 30.0) text-anchor="middle" { (version) }
                    @if is_current {
                        text.current x=(format!("{x:.1}")) y=(axis + 44.0) text-anchor="middle" { "this package" }
                    }
                    @if !release.alarms.is_empty() {
                        circle.alarm cx=(format!("{x:.1}")) cy=(axis) r="15" {}
                        text.alarm x=(format!("{x:.1}")) y=(axis - 22.0) text-anchor="middle" {
                            (release.alarms.iter().map(|a| a.label()).collect::<Vec<_>>().join(", "))
                        }
                    }
                }
            }
        }
    }
}

/// The key to the timeline's marks, as text beside the chart.
pub fn timeline_legend() -> Markup {
    html! {
        p.chart-legend {
            "○ managed · □ unmanaged · ◇ patch — ✓ accepted · ! warned · ✗ rejected — a ringed mark is a downgrade or a data-loss upgrade"
        }
    }
}

/// One bar of a bar chart: a label, a count and a class (a severity, for its fill and pattern).
pub struct Bar {
    pub label: String,
    pub count: usize,
    pub class: &'static str,
}

/// Horizontal bars with their labels and numbers written out, under a visible caption.
pub fn bar_chart(title: &str, bars: &[Bar]) -> Markup {
    html! {
        figure.chart-figure {
            figcaption { (title) }
            (bars_svg(title, bars))
        }
    }
}

fn bars_svg(title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let row = 22.0;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let label_width = (longest as f64 * 7.0 + 16.0).clamp(60.0, 300.0);
    // As wide as the labels and the bars need, so a phone scales the text down less.
    let width = label_width + BAR_SPAN + 60.0;
    let height = row * bars.len() as f64 + 8.0;
    let summary = format!(
        "{title}: {}",
        bars.iter()
            .map(|b| format!("{} {}", b.label, b.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        svg.chart.bar-chart xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {width:.0} {height:.0}")) width=(format!("{width:.0}")) height=(format!("{height:.0}"))
            aria-label=(summary) {
            title { (summary) }
            @for (index, bar) in bars.iter().enumerate() {
                @let y = 4.0 + row * index as f64;
                @let length = BAR_SPAN * bar.count as f64 / max as f64;
                g class=(format!("bar {}", bar.class)) {
                    text.label x=(label_width - 8.0) y=(y + 15.0) text-anchor="end" { (bar.label) }
                    rect x=(label_width) y=(y + 3.0) width=(format!("{length:.1}")) height="14" {}
                    text.count x=(format!("{:.1}", label_width + length + 6.0)) y=(y + 15.0) { (bar.count) }
                }
            }
        }
    }
}

/// Styles for the charts, with fills that also differ by pattern for print without colour.
pub const CHART_STYLE: &str = r#"
svg.chart { max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
figure.chart-figure { margin: 0 0 8px; }
figure.chart-figure figcaption { font-size: 12px; color: #475467; font-weight: 600; }
p.chart-legend { font-size: 12px; color: #475467; margin: 0 0 12px; }
svg.chart .axis { stroke: #98a2b3; stroke-width: 2; }
svg.chart .mark circle, svg.chart .mark rect, svg.chart .mark polygon { stroke: #101828; stroke-width: 1.5; }
svg.chart .v-pass circle, svg.chart .v-pass rect, svg.chart .v-pass polygon { fill: #d1fadf; }
svg.chart .v-warn circle, svg.chart .v-warn rect, svg.chart .v-warn polygon { fill: #fef0c7; }
svg.chart .v-fail circle, svg.chart .v-fail rect, svg.chart .v-fail polygon { fill: #fee4e2; stroke-dasharray: 3 2; }
svg.chart .letter { font-weight: 700; }
svg.chart .mark circle.alarm { fill: none; stroke: #b42318; stroke-width: 3; stroke-dasharray: none; }
svg.chart text.alarm { fill: #b42318; font-weight: 700; }
svg.chart text.current { fill: #475467; font-style: italic; }
svg.chart .bar rect { fill: #98a2b3; }
svg.chart .bar.error rect { fill: #b42318; }
svg.chart .bar.warning rect { fill: #b54708; fill-opacity: .8; }
svg.chart .bar.info rect { fill: #667085; fill-opacity: .6; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Verdict;

    fn release(version: &str, sha: &str, minute: i64) -> AssessmentSummary {
        AssessmentSummary {
            path: format!("{version}.zip"),
            unique_name: Some("Contoso".into()),
            version: Some(version.into()),
            previous_version: None,
            managed: Some(ManagedState::Managed),
            sha256: Some(sha.into()),
            verdict: Verdict::Pass,
            accepted: true,
            checked_at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
            policy_set: String::new(),
            exported_at: None,
            patch_of: None,
            alarms: Vec::new(),
        }
    }

    #[test]
    fn the_same_bytes_checked_again_are_one_mark() {
        let releases = [
            release("1.0", "a", 1),
            release("1.1", "b", 2),
            release("1.1", "b", 3),
            release("1.1", "b", 4),
        ];
        let svg = release_timeline("Contoso", &releases, Some("b")).into_string();
        assert_eq!(svg.matches("<g class=\"mark").count(), 2, "{svg}");
        assert_eq!(svg.matches("this package").count(), 1);
        assert!(svg.contains("Release timeline of Contoso: 1.0 accepted, 1.1 accepted"));
    }

    #[test]
    fn svg_text_is_escaped() {
        let mut hostile = release("<b>1</b>", "x", 1);
        hostile.patch_of = Some("</text><script>".into());
        let svg = release_timeline("<script>alert(1)</script>", &[hostile], None).into_string();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
