//! Time as integers (SPEC §1): instants are whole milliseconds since the Unix
//! epoch in UTC; an epoch is a calendar month `[S, E)`.
//!
//! Timestamps are parsed from RFC 3339 *with an offset* only; sub-millisecond
//! digits are truncated. Nothing here reads the clock.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// An instant: whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses RFC 3339 with an offset (`Z` or `±hh:mm`), normalised to UTC.
    pub fn parse(text: &str) -> Result<Timestamp, String> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp with an offset ({e})"))?;
        Ok(Timestamp(dt.timestamp_millis()))
    }

    pub fn ms(self) -> i64 {
        self.0
    }

    /// `2026-10-01T00:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => self.0.to_string(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(de::Error::custom)
    }
}

/// A calendar month, UTC: `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochId {
    year: i32,
    month: u32,
}

/// The first and last years an epoch id may name.
pub const MIN_EPOCH_YEAR: i32 = 1970;
pub const MAX_EPOCH_YEAR: i32 = 9998;

impl EpochId {
    pub fn new(year: i32, month: u32) -> Result<EpochId, String> {
        if !(MIN_EPOCH_YEAR..=MAX_EPOCH_YEAR).contains(&year) {
            return Err(format!(
                "year {year} is outside {MIN_EPOCH_YEAR}–{MAX_EPOCH_YEAR}"
            ));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} is outside 01–12"));
        }
        Ok(EpochId { year, month })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// `S`: the first instant of the month.
    pub fn start(self) -> Timestamp {
        Timestamp(midnight_ms(self.first_day()))
    }

    /// `E`: the first instant of the next month.
    pub fn end(self) -> Timestamp {
        self.next().start()
    }

    /// `T = E − S` in ms.
    pub fn length_ms(self) -> i64 {
        self.end().0.saturating_sub(self.start().0)
    }

    pub fn next(self) -> EpochId {
        if self.month == 12 {
            EpochId {
                year: self.year.saturating_add(1),
                month: 1,
            }
        } else {
            EpochId {
                year: self.year,
                month: self.month.saturating_add(1),
            }
        }
    }

    pub fn previous(self) -> EpochId {
        if self.month == 1 {
            EpochId {
                year: self.year.saturating_sub(1),
                month: 12,
            }
        } else {
            EpochId {
                year: self.year,
                month: self.month.saturating_sub(1),
            }
        }
    }

    /// Closed once `now ≥ E`.
    pub fn is_closed(self, now: Timestamp) -> bool {
        now >= self.end()
    }

    /// The epoch containing an instant.
    pub fn containing(t: Timestamp) -> Option<EpochId> {
        let dt = DateTime::<Utc>::from_timestamp_millis(t.0)?;
        EpochId::new(dt.year(), dt.month()).ok()
    }
}

fn midnight_ms(day: Option<NaiveDate>) -> i64 {
    day.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
        .unwrap_or(0)
}

/// Parses a `YYYY-MM-DD` date to its 00:00 UTC instant.
pub fn parse_date(text: &str) -> Result<Timestamp, String> {
    let ok_shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| ok_shape);
    match date {
        Some(d) => Ok(Timestamp(midnight_ms(Some(d)))),
        None => Err(format!("`{text}` is not a date YYYY-MM-DD")),
    }
}

impl FromStr for EpochId {
    type Err = String;
    fn from_str(text: &str) -> Result<EpochId, String> {
        let b = text.as_bytes();
        let shape = b.len() == 7
            && b.get(4) == Some(&b'-')
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit());
        if !shape {
            return Err(format!("`{text}` is not an epoch id YYYY-MM"));
        }
        let year: i32 = text.get(0..4).and_then(|s| s.parse().ok()).unwrap_or(0);
        let month: u32 = text.get(5..7).and_then(|s| s.parse().ok()).unwrap_or(0);
        EpochId::new(year, month).map_err(|e| format!("`{text}` is not a valid epoch id: {e}"))
    }
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for EpochId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EpochId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EpochId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_bounds() {
        let e: EpochId = "2024-02".parse().unwrap();
        assert_eq!(e.start(), Timestamp::parse("2024-02-01T00:00:00Z").unwrap());
        assert_eq!(e.end(), Timestamp::parse("2024-03-01T00:00:00Z").unwrap());
        assert_eq!(e.length_ms(), 29 * DAY_MS); // leap year
        assert_eq!(e.previous().to_string(), "2024-01");
        assert_eq!(
            "2024-12".parse::<EpochId>().map(|e| e.next().to_string()),
            Ok("2025-01".into())
        );
        assert_eq!(
            "2025-01"
                .parse::<EpochId>()
                .map(|e| e.previous().to_string()),
            Ok("2024-12".into())
        );
    }

    #[test]
    fn bad_epoch_ids() {
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "2026-01-01",
            "",
            "abcd-ef",
            "1969-12",
        ] {
            assert!(bad.parse::<EpochId>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn timestamps_need_an_offset_and_truncate_to_ms() {
        assert!(Timestamp::parse("2026-10-01T00:00:00").is_err());
        assert_eq!(
            Timestamp::parse("2026-10-01T02:00:00.123999+02:00"),
            Timestamp::parse("2026-10-01T00:00:00.123Z")
        );
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-01-01").map(|t| t.0 % DAY_MS), Ok(0));
        assert!(parse_date("2026-1-01").is_err());
        assert!(parse_date("2026-02-30").is_err());
    }
}
