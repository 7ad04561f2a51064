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

/// The length of the unit that is valued, allocated and settled (SPEC §10,
/// policy `period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Period {
    #[serde(rename = "month")]
    Month,
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "hour")]
    Hour,
    #[serde(rename = "5m")]
    FiveMinutes,
}

impl Period {
    /// The policy word (`"5m"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Day => "day",
            Period::Hour => "hour",
            Period::FiveMinutes => "5m",
        }
    }

    /// The fixed length of a period shorter than a month (D20).
    pub fn fixed_ms(self) -> Option<i64> {
        match self {
            Period::Month => None,
            Period::Day => Some(DAY_MS),
            Period::Hour => Some(3_600_000),
            Period::FiveMinutes => Some(300_000),
        }
    }

    /// The shape of its ids, for messages.
    pub fn id_shape(self) -> &'static str {
        match self {
            Period::Month => "YYYY-MM",
            Period::Day => "YYYY-MM-DD",
            Period::Hour => "YYYY-MM-DDTHH",
            Period::FiveMinutes => "YYYY-MM-DDTHH:MM (minutes a multiple of 5)",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is settled as one unit: a calendar month, UTC (`YYYY-MM`), or one
/// period of a month (D20: `YYYY-MM-DD`, `YYYY-MM-DDTHH`,
/// `YYYY-MM-DDTHH:MM`), the `index`-th of its month counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochId {
    year: i32,
    month: u32,
    period: Period,
    index: u32,
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
        Ok(EpochId {
            year,
            month,
            period: Period::Month,
            index: 0,
        })
    }

    /// The `index`-th period of length `period` of a month (0-based).
    pub fn period_of(month: EpochId, period: Period, index: u32) -> Result<EpochId, String> {
        let month = month.month_id();
        let id = EpochId {
            period,
            index,
            ..month
        };
        if period == Period::Month && index > 0 {
            return Err("a month has one period".into());
        }
        if index >= month.periods_in_month(period) {
            return Err(format!("the month has no {period} period number {index}"));
        }
        Ok(id)
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// The length of the unit this id names.
    pub fn period(self) -> Period {
        self.period
    }

    /// Its 0-based position in its month.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The month holding this period (itself for a month).
    pub fn month_id(self) -> EpochId {
        EpochId {
            period: Period::Month,
            index: 0,
            ..self
        }
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    fn month_start_ms(self) -> i64 {
        midnight_ms(self.first_day())
    }

    fn month_end_ms(self) -> i64 {
        self.next_month().month_start_ms()
    }

    fn next_month(self) -> EpochId {
        let (year, month) = if self.month == 12 {
            (self.year.saturating_add(1), 1)
        } else {
            (self.year, self.month.saturating_add(1))
        };
        EpochId {
            year,
            month,
            period: Period::Month,
            index: 0,
        }
    }

    fn previous_month(self) -> EpochId {
        let (year, month) = if self.month == 1 {
            (self.year.saturating_sub(1), 12)
        } else {
            (self.year, self.month.saturating_sub(1))
        };
        EpochId {
            year,
            month,
            period: Period::Month,
            index: 0,
        }
    }

    /// How many periods of `period` the month holding this id has.
    pub fn periods_in_month(self, period: Period) -> u32 {
        match period.fixed_ms() {
            None => 1,
            Some(len) => {
                let n = self.month_end_ms().saturating_sub(self.month_start_ms()) / len;
                u32::try_from(n).unwrap_or(0)
            }
        }
    }

    /// `S` (`s` of a period): its first instant.
    pub fn start(self) -> Timestamp {
        let offset = self
            .period
            .fixed_ms()
            .map_or(0, |len| len.saturating_mul(i64::from(self.index)));
        Timestamp(self.month_start_ms().saturating_add(offset))
    }

    /// `E` (`e` of a period): the first instant after it.
    pub fn end(self) -> Timestamp {
        match self.period.fixed_ms() {
            None => Timestamp(self.month_end_ms()),
            Some(len) => Timestamp(self.start().0.saturating_add(len)),
        }
    }

    /// `T = E − S` in ms.
    pub fn length_ms(self) -> i64 {
        self.end().0.saturating_sub(self.start().0)
    }

    /// The next unit of the same length (across months).
    pub fn next(self) -> EpochId {
        if self.index.saturating_add(1) < self.periods_in_month(self.period) {
            EpochId {
                index: self.index.saturating_add(1),
                ..self
            }
        } else {
            EpochId {
                period: self.period,
                index: 0,
                ..self.next_month()
            }
        }
    }

    /// The previous unit of the same length (across months).
    pub fn previous(self) -> EpochId {
        if self.index > 0 {
            EpochId {
                index: self.index.saturating_sub(1),
                ..self
            }
        } else {
            let month = self.previous_month();
            EpochId {
                period: self.period,
                index: month.periods_in_month(self.period).saturating_sub(1),
                ..month
            }
        }
    }

    /// Closed once `now ≥ E`.
    pub fn is_closed(self, now: Timestamp) -> bool {
        now >= self.end()
    }

    /// The month containing an instant.
    pub fn containing(t: Timestamp) -> Option<EpochId> {
        let dt = DateTime::<Utc>::from_timestamp_millis(t.0)?;
        EpochId::new(dt.year(), dt.month()).ok()
    }

    /// The unit of length `period` containing an instant.
    pub fn containing_period(t: Timestamp, period: Period) -> Option<EpochId> {
        let month = EpochId::containing(t)?;
        match period.fixed_ms() {
            None => Some(month),
            Some(len) => {
                let k = t.0.saturating_sub(month.month_start_ms()) / len;
                EpochId::period_of(month, period, u32::try_from(k).ok()?).ok()
            }
        }
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
    /// `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDTHH` or `YYYY-MM-DDTHH:MM` (D20).
    fn from_str(text: &str) -> Result<EpochId, String> {
        let b = text.as_bytes();
        // Separator positions and what stands there; digits everywhere else.
        let (period, separators): (Period, &[(usize, u8)]) = match b.len() {
            7 => (Period::Month, &[(4, b'-')]),
            10 => (Period::Day, &[(4, b'-'), (7, b'-')]),
            13 => (Period::Hour, &[(4, b'-'), (7, b'-'), (10, b'T')]),
            16 => (
                Period::FiveMinutes,
                &[(4, b'-'), (7, b'-'), (10, b'T'), (13, b':')],
            ),
            _ => (Period::Month, &[]),
        };
        let shape = !separators.is_empty()
            && b.iter().enumerate().all(|(i, c)| {
                match separators.iter().find(|(at, _)| *at == i) {
                    Some((_, sep)) => c == sep,
                    None => c.is_ascii_digit(),
                }
            });
        if !shape {
            return Err(format!(
                "`{text}` is not an epoch id YYYY-MM (or a period id YYYY-MM-DD, \
                 YYYY-MM-DDTHH, YYYY-MM-DDTHH:MM)"
            ));
        }
        let num = |from: usize, to: usize| -> u32 {
            text.get(from..to).and_then(|s| s.parse().ok()).unwrap_or(0)
        };
        let year = i32::try_from(num(0, 4)).unwrap_or(0);
        let month = EpochId::new(year, num(5, 7))
            .map_err(|e| format!("`{text}` is not a valid epoch id: {e}"))?;
        let bad = |why: String| format!("`{text}` is not a valid {period} period id: {why}");
        let index = match period {
            Period::Month => return Ok(month),
            _ => {
                let day = num(8, 10);
                let days = month.periods_in_month(Period::Day);
                if day < 1 || day > days {
                    return Err(bad(format!("day {day} is outside 01–{days:02}")));
                }
                let hour = if period == Period::Day {
                    0
                } else {
                    num(11, 13)
                };
                if hour > 23 {
                    return Err(bad(format!("hour {hour} is outside 00–23")));
                }
                let minute = if period == Period::FiveMinutes {
                    num(14, 16)
                } else {
                    0
                };
                if minute > 59 || minute % 5 != 0 {
                    return Err(bad(format!(
                        "minute {minute} is not a multiple of 5 in 00–55"
                    )));
                }
                let day0 = day.saturating_sub(1);
                match period {
                    Period::Day => day0,
                    Period::Hour => day0 * 24 + hour,
                    _ => (day0 * 24 + hour) * 12 + minute / 5,
                }
            }
        };
        EpochId::period_of(month, period, index).map_err(bad)
    }
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)?;
        let (day, hour, minute) = match self.period {
            Period::Month => return Ok(()),
            Period::Day => (self.index, 0, 0),
            Period::Hour => (self.index / 24, self.index % 24, 0),
            Period::FiveMinutes => (self.index / 288, self.index / 12 % 24, self.index % 12 * 5),
        };
        write!(f, "-{:02}", day.saturating_add(1))?;
        match self.period {
            Period::Hour => write!(f, "T{hour:02}"),
            Period::FiveMinutes => write!(f, "T{hour:02}:{minute:02}"),
            _ => Ok(()),
        }
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
            "2026-02-30",
            "2026-01-01T24",
            "2026-01-01T10:07",
            "2026-01-01T10:60",
            "2026-01-01 10",
            "",
            "abcd-ef",
            "1969-12",
        ] {
            assert!(bad.parse::<EpochId>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn period_ids_round_trip_and_chain_across_months() {
        for (id, period, start, end) in [
            (
                "2025-01-01",
                Period::Day,
                "2025-01-01T00:00:00Z",
                "2025-01-02T00:00:00Z",
            ),
            (
                "2024-02-29",
                Period::Day,
                "2024-02-29T00:00:00Z",
                "2024-03-01T00:00:00Z",
            ),
            (
                "2025-01-31T23",
                Period::Hour,
                "2025-01-31T23:00:00Z",
                "2025-02-01T00:00:00Z",
            ),
            (
                "2025-01-01T00:05",
                Period::FiveMinutes,
                "2025-01-01T00:05:00Z",
                "2025-01-01T00:10:00Z",
            ),
        ] {
            let e: EpochId = id.parse().unwrap();
            assert_eq!(e.to_string(), id);
            assert_eq!(e.period(), period);
            assert_eq!(e.start(), Timestamp::parse(start).unwrap(), "{id}");
            assert_eq!(e.end(), Timestamp::parse(end).unwrap(), "{id}");
            assert_eq!(e.next().start(), e.end(), "{id}");
            assert_eq!(e.next().previous(), e, "{id}");
            assert_eq!(EpochId::containing_period(e.start(), period), Some(e));
        }
        let first: EpochId = "2025-03-01T00:00".parse().unwrap();
        assert_eq!(first.previous().to_string(), "2025-02-28T23:55");
        assert_eq!(first.month_id().to_string(), "2025-03");
        assert_eq!(first.periods_in_month(Period::FiveMinutes), 31 * 288);
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
