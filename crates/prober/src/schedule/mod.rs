//! When to probe whom: limits, a pure planner, a pure rate window, and the
//! async [`Runner`] loop that acts on them.
//!
//! Invariants:
//! - [`plan`] and [`RateWindow`] are pure: `now_ms` is an argument and
//!   randomness comes from the caller's RNG; nothing here reads a clock.
//! - A plan never names a machine that is in flight, never names one machine
//!   twice, and names at most `max_in_flight − current_in_flight` machines;
//!   machines without evidence come first, then the oldest evidence, ties by
//!   `machine_id`.
//! - A plan's `next_at_ms`, when present, lies in `[max(now, start), end)`;
//!   it is absent once the epoch is over (`now ≥ end`).
//! - [`RateWindow`] admits at most `rate_per_minute` starts in any 60,000 ms.
//! - Every limit is a named constant with a tested boundary.

mod runner;

use std::collections::{HashSet, VecDeque};

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use runner::{
    ProbeReport, ProbeSink, ProbeSource, ProbeTarget, RunStats, Runner, RunnerConfig, RunnerError,
    Snapshot, SourceError,
};

/// Default probe timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Longest probe timeout allowed.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// Default global cap on probes in flight.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 8;
/// Largest allowed `max_in_flight`.
pub const MAX_IN_FLIGHT_LIMIT: u32 = 1_024;
/// Default probe starts per minute.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 60;
/// Largest allowed `rate_per_minute`.
pub const MAX_RATE_PER_MINUTE: u32 = 6_000;
/// The rate window's length.
pub const RATE_WINDOW_MS: i64 = 60_000;
/// Default age after which a machine's evidence is stale (6 hours).
pub const DEFAULT_FRESH_MS: i64 = 6 * 3_600_000;
/// Longest allowed freshness horizon (one epoch can hold 31 days).
pub const MAX_FRESH_MS: i64 = 31 * 86_400_000;
/// Default longest wait between two planning rounds.
pub const DEFAULT_MAX_GAP_MS: i64 = 60_000;
/// Longest allowed wait between two planning rounds (one hour).
pub const MAX_GAP_LIMIT_MS: i64 = 3_600_000;

/// A limit is out of range; `field` is its `[prober]` key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prober.{field}: must be between {min} and {max}, got {got}")]
pub struct LimitsError {
    pub field: &'static str,
    pub min: i64,
    pub max: i64,
    pub got: i64,
}

fn check_range(field: &'static str, got: i64, min: i64, max: i64) -> Result<(), LimitsError> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(LimitsError {
            field,
            min,
            max,
            got,
        })
    }
}

/// The `[prober]` limits of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProberLimits {
    pub timeout_ms: u64,
    pub max_in_flight: u32,
    pub rate_per_minute: u32,
}

impl Default for ProberLimits {
    fn default() -> Self {
        Self {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            rate_per_minute: DEFAULT_RATE_PER_MINUTE,
        }
    }
}

impl ProberLimits {
    /// Builds validated limits.
    pub fn new(
        timeout_ms: u64,
        max_in_flight: u32,
        rate_per_minute: u32,
    ) -> Result<Self, LimitsError> {
        let limits = Self {
            timeout_ms,
            max_in_flight,
            rate_per_minute,
        };
        limits.validate()?;
        Ok(limits)
    }

    /// Each limit is > 0 and at most its named upper bound.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let timeout = i64::try_from(self.timeout_ms).unwrap_or(i64::MAX);
        check_range(
            "timeout_ms",
            timeout,
            1,
            i64::try_from(MAX_TIMEOUT_MS).unwrap_or(i64::MAX),
        )?;
        check_range(
            "max_in_flight",
            self.max_in_flight.into(),
            1,
            MAX_IN_FLIGHT_LIMIT.into(),
        )?;
        check_range(
            "rate_per_minute",
            self.rate_per_minute.into(),
            1,
            MAX_RATE_PER_MINUTE.into(),
        )
    }

    /// The probe timeout as a [`std::time::Duration`].
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}

/// How often machines are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// Evidence younger than this is fresh: the machine is not probed again.
    pub fresh_ms: i64,
    /// The next planning round is at a random time at most this far ahead.
    pub max_gap_ms: i64,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            fresh_ms: DEFAULT_FRESH_MS,
            max_gap_ms: DEFAULT_MAX_GAP_MS,
        }
    }
}

impl Cadence {
    /// `fresh_ms` in `[0, MAX_FRESH_MS]`, `max_gap_ms` in
    /// `[1, MAX_GAP_LIMIT_MS]`.
    pub fn validate(&self) -> Result<(), LimitsError> {
        check_range("fresh_ms", self.fresh_ms, 0, MAX_FRESH_MS)?;
        check_range("max_gap_ms", self.max_gap_ms, 1, MAX_GAP_LIMIT_MS)
    }
}

/// An epoch's half-open interval `[start_ms, end_ms)`, `start_ms < end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochWindow {
    start_ms: i64,
    end_ms: i64,
}

/// `start_ms ≥ end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("epoch window: start {start_ms} must be before end {end_ms}")]
pub struct WindowError {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl EpochWindow {
    pub fn new(start_ms: i64, end_ms: i64) -> Result<Self, WindowError> {
        if start_ms < end_ms {
            Ok(Self { start_ms, end_ms })
        } else {
            Err(WindowError { start_ms, end_ms })
        }
    }

    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    pub fn end_ms(&self) -> i64 {
        self.end_ms
    }
}

/// What the planner knows about one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    pub machine_id: String,
    /// The latest proof of work or probe, if any.
    pub last_evidence_ms: Option<i64>,
    pub in_flight: bool,
}

/// The planner's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Machines to probe now, most in need first.
    pub probe_now: Vec<String>,
    /// When to plan again; `None` once the epoch is over.
    pub next_at_ms: Option<i64>,
}

/// Decides which machines to probe now and when to plan next.
///
/// A machine is due when it is not in flight and its evidence is absent or at
/// least `cadence.fresh_ms` old. Nothing is due before the epoch starts or
/// after it ends.
pub fn plan<R: Rng + ?Sized>(
    machines: &[MachineState],
    window: EpochWindow,
    now_ms: i64,
    current_in_flight: u32,
    limits: &ProberLimits,
    cadence: &Cadence,
    rng: &mut R,
) -> Plan {
    if now_ms >= window.end_ms {
        return Plan {
            probe_now: Vec::new(),
            next_at_ms: None,
        };
    }
    let from_ms = now_ms.max(window.start_ms);
    let until_ms = from_ms
        .saturating_add(cadence.max_gap_ms.max(1))
        .min(window.end_ms);
    // `from_ms < end_ms` and the gap is ≥ 1, so the range is never empty;
    // the guard keeps `gen_range` from panicking should that ever change.
    let next_at_ms = Some(if until_ms > from_ms {
        rng.gen_range(from_ms..until_ms)
    } else {
        from_ms
    });
    if now_ms < window.start_ms {
        return Plan {
            probe_now: Vec::new(),
            next_at_ms,
        };
    }

    let flagged = machines.iter().filter(|m| m.in_flight).count();
    let busy = usize::try_from(current_in_flight)
        .unwrap_or(usize::MAX)
        .max(flagged);
    let cap = usize::try_from(limits.max_in_flight).unwrap_or(usize::MAX);
    let slots = cap.saturating_sub(busy);

    let stale_before_ms = now_ms.saturating_sub(cadence.fresh_ms);
    let in_flight: HashSet<&str> = machines
        .iter()
        .filter(|m| m.in_flight)
        .map(|m| m.machine_id.as_str())
        .collect();
    let mut due: Vec<&MachineState> = machines
        .iter()
        .filter(|m| !in_flight.contains(m.machine_id.as_str()))
        .filter(|m| m.last_evidence_ms.is_none_or(|at| at <= stale_before_ms))
        .collect();
    // `None < Some(_)`: machines without evidence first, then the oldest.
    due.sort_by(|a, b| {
        (a.last_evidence_ms, &a.machine_id).cmp(&(b.last_evidence_ms, &b.machine_id))
    });
    let mut seen = HashSet::new();
    let probe_now = due
        .into_iter()
        .filter(|m| seen.insert(m.machine_id.as_str()))
        .take(slots)
        .map(|m| m.machine_id.clone())
        .collect();
    Plan {
        probe_now,
        next_at_ms,
    }
}

/// A sliding one-minute window of probe starts.
#[derive(Debug, Clone)]
pub struct RateWindow {
    per_minute: usize,
    starts_ms: VecDeque<i64>,
}

impl RateWindow {
    pub fn new(rate_per_minute: u32) -> Self {
        Self {
            per_minute: usize::try_from(rate_per_minute)
                .unwrap_or(usize::MAX)
                .max(1),
            starts_ms: VecDeque::new(),
        }
    }

    /// Records a start at `now_ms` if the window allows it; otherwise returns
    /// the earliest time at which one would be allowed. `now_ms` must not go
    /// backwards (use a monotonic clock).
    pub fn try_acquire(&mut self, now_ms: i64) -> Result<(), i64> {
        while self
            .starts_ms
            .front()
            .is_some_and(|&t| t.saturating_add(RATE_WINDOW_MS) <= now_ms)
        {
            self.starts_ms.pop_front();
        }
        if self.starts_ms.len() < self.per_minute {
            self.starts_ms.push_back(now_ms);
            return Ok(());
        }
        let oldest = self.starts_ms.front().copied().unwrap_or(now_ms);
        Err(oldest.saturating_add(RATE_WINDOW_MS))
    }
}

#[cfg(test)]
mod tests;
