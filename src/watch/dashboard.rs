//! Gathers what the dashboard shows from the daemon's state: the status board (policy set,
//! reloads, audits, outbox) and the history database (recent packages and verdict counts, so
//! the page is the same after a restart).

use std::path::Path;

use time::{Duration, OffsetDateTime};

use super::shared::Shared;
use crate::history::HistoryError;
use crate::report::{Dashboard, IndexEntry, OutboxLine};

/// How many recent packages the dashboard and `index.json` list.
pub const RECENT_PACKAGES: usize = 200;

/// The recent packages from the history database, newest first, each with its report files
/// by name (relative to the reports folder).
pub fn recent_entries(shared: &Shared) -> Result<Vec<IndexEntry>, HistoryError> {
    let recent = shared.store().recent_processed(RECENT_PACKAGES)?;
    Ok(recent
        .into_iter()
        .map(|p| IndexEntry {
            folder: p.watch,
            daemon: p.daemon,
            summary: p.summary,
            reports: p
                .reports
                .iter()
                .map(|r| {
                    Path::new(r)
                        .file_name()
                        .map_or_else(|| r.clone(), |n| n.to_string_lossy().into_owned())
                })
                .collect(),
        })
        .collect())
}

/// Solutions shown with a timeline, at most this many (the most recent first).
const TIMELINES: usize = 12;

/// Each recent solution's releases from the history (export times, patches, alarms), oldest
/// first.
fn timelines(
    shared: &Shared,
    recent: &[IndexEntry],
) -> Result<Vec<(String, Vec<crate::assessment::AssessmentSummary>)>, HistoryError> {
    let mut names: Vec<&str> = Vec::new();
    for name in recent
        .iter()
        .filter_map(|e| e.summary.unique_name.as_deref())
    {
        if names.len() < TIMELINES && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    let store = shared.store();
    names
        .into_iter()
        .map(|name| {
            let releases = store.releases(Some(name))?;
            Ok((
                name.to_owned(),
                releases
                    .iter()
                    .map(crate::assessment::Assessment::summary)
                    .collect(),
            ))
        })
        .collect()
}

/// The dashboard as of now; `report_prefix` is how its links reach the reports (`/reports/`
/// when served, empty in the reports folder), `live` when served.
pub fn dashboard(
    shared: &Shared,
    report_prefix: &str,
    live: bool,
) -> Result<Dashboard, HistoryError> {
    let now = OffsetDateTime::now_utc();
    let recent = recent_entries(shared)?;
    let (last_day, last_month) = {
        let store = shared.store();
        (
            store.verdicts_since(now - Duration::days(1))?,
            store.verdicts_since(now - Duration::days(30))?,
        )
    };
    let timelines = timelines(shared, &recent)?;
    let board = shared.status().clone();
    Ok(Dashboard {
        daemon: board.name.clone(),
        daemons: board.daemons.clone(),
        generated_at: now,
        version: board.version.clone(),
        policy_set: board.policy_set.clone(),
        last_reload_at: board.last_reload.at.clone(),
        last_reload_errors: board.last_reload.errors.clone(),
        last_day,
        last_month,
        recent,
        timelines,
        audits: board.audits.clone(),
        outbox: board
            .alerts
            .iter()
            .map(|s| OutboxLine {
                sink: s.sink.clone(),
                pending: s.pending.max(0) as u64,
                dead: s.dead.max(0) as u64,
            })
            .collect(),
        report_prefix: report_prefix.to_owned(),
        live,
    })
}
