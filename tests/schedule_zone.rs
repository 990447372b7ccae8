//! Scheduled audits' time zones: a cron schedule read in an IANA zone fires at the right
//! instants, across daylight-saving transitions (a skipped local time is skipped, a repeated
//! one fires at both instants), and an unknown zone is refused.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use solguard::config::ScheduleZone;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

/// The next `count` firings of `schedule` in `zone` after `after`, in UTC.
fn firings(schedule: &str, zone: &str, after: &str, count: usize) -> Vec<DateTime<Utc>> {
    let schedule = cron::Schedule::from_str(schedule).expect("a cron expression");
    let zone = ScheduleZone::named(zone).expect("a known zone");
    schedule
        .after(&at(after).with_timezone(&zone))
        .take(count)
        .map(|firing| firing.with_timezone(&Utc))
        .collect()
}

#[test]
fn a_daily_time_skipped_by_the_spring_transition_fires_the_next_day() {
    // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST, so there is no 02:30 that day.
    assert_eq!(
        firings("0 30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", 3),
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-30T00:30:00Z"),
            at("2026-03-31T00:30:00Z"),
        ]
    );
}

#[test]
fn a_daily_time_repeated_by_the_autumn_transition_fires_at_both_instants() {
    // Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 comes twice.
    assert_eq!(
        firings("0 30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 3),
        [
            at("2026-10-25T00:30:00Z"),
            at("2026-10-25T01:30:00Z"),
            at("2026-10-26T01:30:00Z"),
        ]
    );
}

#[test]
fn working_days_in_a_zone_west_of_utc_keep_their_local_hour_across_its_transition() {
    // New York leaves daylight saving time on 2026-11-01: 09:00 is 13:00Z before, 14:00Z after.
    assert_eq!(
        firings(
            "0 0 9 * * Fri,Mon",
            "America/New_York",
            "2026-10-29T00:00:00Z",
            3
        ),
        [
            at("2026-10-30T13:00:00Z"),
            at("2026-11-02T14:00:00Z"),
            at("2026-11-06T14:00:00Z"),
        ]
    );
}

#[test]
fn utc_and_unknown_zones() {
    assert_eq!(
        firings("0 0 6 * * *", "UTC", "2026-12-01T07:00:00Z", 1),
        [at("2026-12-02T06:00:00Z")]
    );
    assert_eq!(
        ScheduleZone::utc(),
        ScheduleZone::named("UTC").expect("UTC")
    );
    assert_eq!(
        ScheduleZone::named("Europe/Berlin").map(|z| z.name().to_owned()),
        Some("Europe/Berlin".into())
    );
    let spelled = ScheduleZone::named("europe/berlin").expect("found whatever the case");
    assert_eq!(spelled.name(), "Europe/Berlin");
    assert!(ScheduleZone::named("Mars/Olympus").is_none());
    assert!(ScheduleZone::named("").is_none());
    // Names are looked up in the database's index, never opened as paths.
    assert!(ScheduleZone::named("../../../../etc/passwd").is_none());
    assert!(ScheduleZone::named("/dev/zero").is_none());
}
