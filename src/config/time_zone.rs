//! The time zone a scheduled audit's cron expression is read in: an IANA zone from jiff's
//! time zone database (the system's zoneinfo, else the copy bundled in the binary), in the
//! terms of chrono's `TimeZone`, which the `cron` crate computes with.
//!
//! Not chrono-tz, which compiles the whole database into tables of pointers: the dynamic
//! loader relocated them at every start of every solguard process (29,000 relocations writing
//! about 270 pages, half the page faults of `solguard --version`), schedule or not.
//! jiff reads a zone's rules when a configuration names it.

use std::fmt;

use chrono::{Datelike, Offset, Timelike};
use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use jiff::tz::AmbiguousOffset;

/// An IANA time zone (or UTC), usable as a chrono `TimeZone`.
#[derive(Clone)]
pub struct ScheduleZone {
    zone: jiff::tz::TimeZone,
    name: String,
}

impl ScheduleZone {
    pub fn utc() -> Self {
        Self {
            zone: jiff::tz::TimeZone::UTC,
            name: "UTC".into(),
        }
    }

    /// The zone an IANA identifier names ("Europe/Berlin", "UTC"), if the database has it.
    pub fn named(name: &str) -> Option<Self> {
        let zone = jiff::tz::TimeZone::get(name).ok()?;
        // The database's spelling ("europe/berlin" names Europe/Berlin).
        let name = zone.iana_name().unwrap_or(name).to_owned();
        Some(Self { zone, name })
    }

    /// Its IANA identifier.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn offset(&self, offset: jiff::tz::Offset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            // jiff's offsets stay within +-25:59:59, chrono's within +-23:59:59; the database
            // holds none beyond chrono's.
            fixed: FixedOffset::east_opt(offset.seconds()).unwrap_or_else(|| chrono::Utc.fix()),
        }
    }
}

impl PartialEq for ScheduleZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Debug for ScheduleZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Display for ScheduleZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The UTC offset in effect at one instant of a [`ScheduleZone`].
#[derive(Clone)]
pub struct ZoneOffset {
    zone: ScheduleZone,
    fixed: FixedOffset,
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.fixed, self.zone)
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fixed, f)
    }
}

impl TimeZone for ScheduleZone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Self {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    /// A local time skipped by a transition has no offset; one repeated has two, the
    /// earlier instant's (the offset before the transition) first, as chrono expects.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let Some(civil) = civil(local) else {
            return MappedLocalTime::None;
        };
        match self.zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => MappedLocalTime::Single(self.offset(offset)),
            AmbiguousOffset::Gap { .. } => MappedLocalTime::None,
            AmbiguousOffset::Fold { before, after } => {
                MappedLocalTime::Ambiguous(self.offset(before), self.offset(after))
            }
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        let instant = utc.and_utc();
        // Outside jiff's range (years -9999 to 9999), the offset of its nearest end.
        let timestamp =
            jiff::Timestamp::new(instant.timestamp(), 0).unwrap_or(if instant.timestamp() < 0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            });
        self.offset(self.zone.to_offset(timestamp))
    }
}

/// chrono's local date and time as jiff's, to the second (cron's resolution).
fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let year = i16::try_from(local.year()).ok()?;
    let narrow = |value: u32| i8::try_from(value).ok();
    jiff::civil::DateTime::new(
        year,
        narrow(local.month())?,
        narrow(local.day())?,
        narrow(local.hour())?,
        narrow(local.minute())?,
        // A leap second (chrono's second 59 with over a second of nanoseconds) reads as :59.
        narrow(local.second())?,
        0,
    )
    .ok()
}
