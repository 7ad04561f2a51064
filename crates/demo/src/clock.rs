//! [`SimClock`]: the clock the simulator gives the engine. Set inside the
//! simulated month while facts and probes are produced (a probe's `at` is
//! the engine's `now`), then past the month's end so that the month is
//! closed when it is settled, and finally (for a demo that keeps serving)
//! told to follow the system clock.
//!
//! Invariant: this is the only clock of the live fleet; nothing here reads
//! the time except through [`floorline_engine::clock::SystemClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use floorline_core::Timestamp;
use floorline_engine::clock::{Clock, SystemClock};

/// The stored value that means "follow the system clock".
const FOLLOW_SYSTEM: i64 = i64::MIN;

/// A settable clock (one atomic, so clones of an engine see every change).
#[derive(Debug)]
pub struct SimClock {
    ms: AtomicI64,
}

impl SimClock {
    /// A clock stopped at `t`.
    pub fn at(t: Timestamp) -> SimClock {
        SimClock {
            ms: AtomicI64::new(t.0),
        }
    }

    /// A clock that follows the system clock until [`SimClock::set`].
    pub fn following_system() -> SimClock {
        SimClock {
            ms: AtomicI64::new(FOLLOW_SYSTEM),
        }
    }

    /// Stops the clock at `t`.
    pub fn set(&self, t: Timestamp) {
        // `i64::MIN` is the sentinel; no simulated instant is that early.
        self.ms.store(t.0.max(FOLLOW_SYSTEM + 1), Ordering::SeqCst);
    }

    /// From now on, the clock reads the system time.
    pub fn follow_system(&self) {
        self.ms.store(FOLLOW_SYSTEM, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        match self.ms.load(Ordering::SeqCst) {
            FOLLOW_SYSTEM => SystemClock.now(),
            ms => Timestamp(ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_then_follow() {
        let c = SimClock::at(Timestamp(5));
        assert_eq!(c.now(), Timestamp(5));
        c.set(Timestamp(1_790_812_800_000));
        assert_eq!(c.now(), Timestamp(1_790_812_800_000));
        c.follow_system();
        // The system clock is long past 2020.
        assert!(c.now() > Timestamp(1_577_836_800_000));
        c.set(Timestamp(7));
        assert_eq!(c.now(), Timestamp(7));
    }
}
