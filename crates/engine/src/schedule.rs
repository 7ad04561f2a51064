//! The scheduler's decision (SPEC §6), pure: given `now` and what has been
//! settled, which epoch (if any) is due. The loop that acts on it lives in
//! [`crate::scheduler`]; this function is unit-tested with literal times.

use floorline_core::time::Period;
use floorline_core::{EpochId, Timestamp};
use serde::{Deserialize, Serialize};

/// What the scheduler does when an epoch is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerMode {
    /// Nothing.
    Off,
    /// Plans are computed and stored; no money moves.
    #[default]
    Preview,
    /// Draws are credited.
    Live,
}

impl SchedulerMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerMode::Off => "off",
            SchedulerMode::Preview => "preview",
            SchedulerMode::Live => "live",
        }
    }
}

/// What the store says about the epoch that would be due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EpochState {
    /// A run of the scheduler's mode already exists for the epoch.
    pub already_run: bool,
    /// Every registered fact source's watermark has passed the epoch's end
    /// (always true when no source is registered).
    pub complete: bool,
}

/// Why an epoch is or is not settled at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Settle this epoch now.
    Settle(EpochId),
    /// Nothing to do: the scheduler is off.
    Off,
    /// The previous epoch has not been closed for `settle_delay` yet.
    NotYet { epoch: EpochId, due_at: Timestamp },
    /// Already settled in this mode.
    Done(EpochId),
    /// A live run waits for the fact sources' watermarks.
    AwaitingWatermarks(EpochId),
}

/// The epoch a tick at `now` looks at: the one before the month containing `now`.
pub fn candidate(now: Timestamp) -> Option<EpochId> {
    EpochId::containing(now).map(EpochId::previous)
}

/// With periods shorter than a month (§10 D24): the latest period whose
/// end plus `settle_delay` has passed at `now`; it and every earlier
/// unsettled period of its month (and of the month before) are due.
pub fn last_due_period(now: Timestamp, settle_delay_ms: i64, period: Period) -> Option<EpochId> {
    EpochId::containing_period(Timestamp(now.0.saturating_sub(settle_delay_ms)), period)
        .map(EpochId::previous)
}

/// How often the scheduler ticks: hourly, or every period when periods are
/// shorter than an hour.
pub fn tick_interval(period: Period) -> std::time::Duration {
    let hour = std::time::Duration::from_secs(3600);
    match period.fixed_ms().and_then(|ms| u64::try_from(ms).ok()) {
        Some(ms) if ms < 3_600_000 => std::time::Duration::from_millis(ms),
        _ => hour,
    }
}

/// Decides what a tick at `now` does.
pub fn due(
    now: Timestamp,
    mode: SchedulerMode,
    settle_delay_ms: i64,
    state: EpochState,
) -> Option<Decision> {
    let epoch = candidate(now)?;
    if mode == SchedulerMode::Off {
        return Some(Decision::Off);
    }
    let due_at = Timestamp(epoch.end().0.saturating_add(settle_delay_ms));
    if now < due_at {
        return Some(Decision::NotYet { epoch, due_at });
    }
    if state.already_run {
        return Some(Decision::Done(epoch));
    }
    if mode == SchedulerMode::Live && !state.complete {
        return Some(Decision::AwaitingWatermarks(epoch));
    }
    Some(Decision::Settle(epoch))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn epoch(s: &str) -> EpochId {
        s.parse().unwrap()
    }

    const SIX_HOURS: i64 = 6 * 3_600_000;
    const READY: EpochState = EpochState {
        already_run: false,
        complete: true,
    };

    #[test]
    fn the_last_due_period_is_the_latest_whose_end_plus_delay_has_passed() {
        let day =
            |now: &str| last_due_period(at(now), SIX_HOURS, Period::Day).map(|e| e.to_string());
        assert_eq!(day("2026-10-03T06:00:00Z"), Some("2026-10-02".into()));
        assert_eq!(day("2026-10-03T05:59:59.999Z"), Some("2026-10-01".into()));
        assert_eq!(day("2026-11-01T03:00:00Z"), Some("2026-10-30".into()));
        let five = last_due_period(at("2026-10-03T00:12:00Z"), 0, Period::FiveMinutes);
        assert_eq!(five.map(|e| e.to_string()), Some("2026-10-03T00:05".into()));
        assert_eq!(tick_interval(Period::FiveMinutes).as_secs(), 300);
        assert_eq!(tick_interval(Period::Day).as_secs(), 3600);
    }

    #[test]
    fn settles_the_previous_month_after_the_delay() {
        assert_eq!(
            due(
                at("2026-11-01T05:59:59.999Z"),
                SchedulerMode::Live,
                SIX_HOURS,
                READY
            ),
            Some(Decision::NotYet {
                epoch: epoch("2026-10"),
                due_at: at("2026-11-01T06:00:00Z")
            })
        );
        assert_eq!(
            due(
                at("2026-11-01T06:00:00Z"),
                SchedulerMode::Live,
                SIX_HOURS,
                READY
            ),
            Some(Decision::Settle(epoch("2026-10")))
        );
        assert_eq!(
            due(
                at("2026-11-25T13:00:00Z"),
                SchedulerMode::Preview,
                SIX_HOURS,
                READY
            ),
            Some(Decision::Settle(epoch("2026-10")))
        );
    }

    #[test]
    fn year_end_and_leap_february() {
        assert_eq!(
            due(
                at("2027-01-01T06:00:00Z"),
                SchedulerMode::Live,
                SIX_HOURS,
                READY
            ),
            Some(Decision::Settle(epoch("2026-12")))
        );
        // 2028 is a leap year: February ends at 2028-03-01, not on the 29th.
        assert!(matches!(
            due(at("2028-02-29T23:00:00Z"), SchedulerMode::Live, SIX_HOURS, READY),
            Some(Decision::Settle(e)) if e == epoch("2028-01")
        ));
        assert_eq!(
            due(
                at("2028-03-01T05:00:00Z"),
                SchedulerMode::Live,
                SIX_HOURS,
                READY
            ),
            Some(Decision::NotYet {
                epoch: epoch("2028-02"),
                due_at: at("2028-03-01T06:00:00Z")
            })
        );
        assert_eq!(
            due(
                at("2028-03-01T06:00:00Z"),
                SchedulerMode::Live,
                SIX_HOURS,
                READY
            ),
            Some(Decision::Settle(epoch("2028-02")))
        );
    }

    #[test]
    fn zero_delay_settles_at_the_first_instant() {
        assert_eq!(
            due(at("2026-11-01T00:00:00Z"), SchedulerMode::Live, 0, READY),
            Some(Decision::Settle(epoch("2026-10")))
        );
        assert_eq!(
            due(
                at("2026-10-31T23:59:59.999Z"),
                SchedulerMode::Live,
                0,
                READY
            ),
            Some(Decision::Settle(epoch("2026-09")))
        );
    }

    #[test]
    fn off_done_and_watermarks() {
        let now = at("2026-11-02T00:00:00Z");
        assert_eq!(
            due(now, SchedulerMode::Off, SIX_HOURS, READY),
            Some(Decision::Off)
        );
        let done = EpochState {
            already_run: true,
            complete: true,
        };
        assert_eq!(
            due(now, SchedulerMode::Live, SIX_HOURS, done),
            Some(Decision::Done(epoch("2026-10")))
        );
        let incomplete = EpochState {
            already_run: false,
            complete: false,
        };
        assert_eq!(
            due(now, SchedulerMode::Live, SIX_HOURS, incomplete),
            Some(Decision::AwaitingWatermarks(epoch("2026-10")))
        );
        // Previews do not wait for watermarks.
        assert_eq!(
            due(now, SchedulerMode::Preview, SIX_HOURS, incomplete),
            Some(Decision::Settle(epoch("2026-10")))
        );
    }
}
