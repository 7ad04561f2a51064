//! Sessions as a live coordinator sends them (SPEC §2 refinements): each
//! generated (final) session becomes an **open** (`last_seen_at =
//! connected_at`, no `disconnected_at`), one **heartbeat** per simulated
//! hour while it lives (`last_seen_at` advances by [`HOUR_MS`], never past
//! the final `last_seen_at`), a last heartbeat at the final `last_seen_at`,
//! and — where it has a `disconnected_at` — a **close**: the final
//! session exactly as generated. A lost disconnect stays at its last
//! heartbeat.
//!
//! [`schedule`] orders the steps of the whole fleet by instant and groups
//! them by simulated hour; `drive` sends each hour in batches.
//!
//! Invariants: a session's `last_seen_at` never moves back; its last step
//! equals the generated session (so the store ends with exactly the
//! generated facts and the manifest is unchanged); a lost disconnect never
//! gets a `disconnected_at`. A session generated without `last_seen_at`
//! (not produced by the timeline today) is opened without one and gets no
//! heartbeats: a later re-send without `last_seen_at` would be a conflict.

use floorline_core::bundle::Session;
use floorline_core::Timestamp;

/// One simulated hour: the heartbeat period.
pub const HOUR_MS: i64 = 3_600_000;

/// What a step of a live session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// First sight: a new fact (`accepted`).
    Open,
    /// A later `last_seen_at` (`refined`).
    Beat,
    /// The first `disconnected_at` (`refined`).
    Close,
}

/// One step of one session: when the coordinator sends it and the state
/// it sends (the session's id, machine and `connected_at` never change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveStep {
    pub at_ms: i64,
    pub step: Step,
    pub last_seen_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
}

impl LiveStep {
    /// The session as sent at this step.
    pub fn apply(&self, s: &Session) -> Session {
        Session {
            last_seen_at: self.last_seen_at,
            disconnected_at: self.disconnected_at,
            ..s.clone()
        }
    }
}

/// The live sequence of one final session, in sending order.
pub fn live_steps(s: &Session) -> Vec<LiveStep> {
    let c = s.connected_at.0;
    let Some(seen) = s.last_seen_at.map(|t| t.0.max(c)) else {
        let mut out = vec![LiveStep {
            at_ms: c,
            step: Step::Open,
            last_seen_at: None,
            disconnected_at: None,
        }];
        if let Some(d) = s.disconnected_at {
            out.push(LiveStep {
                at_ms: d.0.max(c),
                step: Step::Close,
                last_seen_at: None,
                disconnected_at: Some(d),
            });
        }
        return out;
    };
    let mut out = vec![LiveStep {
        at_ms: c,
        step: Step::Open,
        last_seen_at: Some(Timestamp(c)),
        disconnected_at: None,
    }];
    let mut t = c;
    while t < seen {
        t = (t + HOUR_MS).min(seen);
        out.push(LiveStep {
            at_ms: t,
            step: Step::Beat,
            last_seen_at: Some(Timestamp(t)),
            disconnected_at: None,
        });
    }
    if let Some(d) = s.disconnected_at {
        out.push(LiveStep {
            at_ms: d.0.max(seen),
            step: Step::Close,
            last_seen_at: s.last_seen_at,
            disconnected_at: Some(d),
        });
    }
    out
}

/// A step of the fleet's schedule: which session (an index into the
/// fleet's sessions) and its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    pub session: usize,
    pub step: LiveStep,
}

/// Every step of every session in time order (ties: opens, then beats,
/// then closes, then generation order), grouped by simulated hour
/// (`at_ms` floored to [`HOUR_MS`]); the hours are ascending and only those
/// with a step are listed.
pub fn schedule(sessions: &[Session]) -> Vec<(i64, Vec<Scheduled>)> {
    let mut all: Vec<Scheduled> = sessions
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            live_steps(s)
                .into_iter()
                .map(move |step| Scheduled { session: i, step })
        })
        .collect();
    // Stable: a session's own steps keep their order at equal instants.
    all.sort_by_key(|x| (x.step.at_ms, x.step.step));
    let mut out: Vec<(i64, Vec<Scheduled>)> = Vec::new();
    for x in all {
        let hour = x.step.at_ms.div_euclid(HOUR_MS);
        match out.last_mut() {
            Some((h, items)) if *h == hour => items.push(x),
            _ => out.push((hour, vec![x])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(c: i64, seen: Option<i64>, disc: Option<i64>) -> Session {
        Session {
            session_id: "s-1".into(),
            machine_id: "mac-0001".into(),
            connected_at: Timestamp(c),
            last_seen_at: seen.map(Timestamp),
            disconnected_at: disc.map(Timestamp),
        }
    }

    fn check(s: &Session) -> Vec<LiveStep> {
        let steps = live_steps(s);
        let first = steps.first().copied();
        assert_eq!(first.map(|x| x.step), Some(Step::Open));
        assert_eq!(first.and_then(|x| x.disconnected_at), None);
        // The last step is the generated session.
        assert_eq!(steps.last().map(|x| x.apply(s)).as_ref(), Some(s));
        // Monotone last_seen_at and instants; hourly spacing of beats.
        for w in steps.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(b.last_seen_at >= a.last_seen_at, "{steps:?}");
            assert!(b.at_ms >= a.at_ms, "{steps:?}");
            if b.step == Step::Beat {
                let (a_seen, b_seen) = (a.last_seen_at.map(|t| t.0), b.last_seen_at.map(|t| t.0));
                let gap = b_seen.unwrap_or(0) - a_seen.unwrap_or(0);
                assert!(gap > 0 && gap <= HOUR_MS, "{steps:?}");
                assert_eq!(b_seen, Some(b.at_ms));
            }
        }
        // Every beat but the last is exactly one hour after the open's.
        let beats: Vec<i64> = steps
            .iter()
            .filter(|x| x.step == Step::Beat)
            .map(|x| x.at_ms)
            .collect();
        for (k, t) in beats.iter().enumerate().take(beats.len().saturating_sub(1)) {
            assert_eq!(*t, s.connected_at.0 + (k as i64 + 1) * HOUR_MS);
        }
        // Only the close carries a disconnect, and only if generated with one.
        for x in &steps {
            assert_eq!(x.disconnected_at.is_some(), x.step == Step::Close);
        }
        assert_eq!(
            steps.iter().any(|x| x.step == Step::Close),
            s.disconnected_at.is_some()
        );
        steps
    }

    #[test]
    fn a_closed_session_opens_beats_hourly_and_closes_as_generated() {
        let c = 1_000;
        let s = session(
            c,
            Some(c + 5 * HOUR_MS + 17),
            Some(c + 5 * HOUR_MS + 60_000),
        );
        let steps = check(&s);
        // Open, 5 hourly beats, the last beat at last_seen, the close.
        assert_eq!(steps.len(), 1 + 5 + 1 + 1);
        assert_eq!(steps.get(6).and_then(|x| x.last_seen_at), s.last_seen_at);
    }

    #[test]
    fn a_lost_disconnect_stays_at_its_last_heartbeat() {
        let c = 7 * HOUR_MS + 123;
        let s = session(c, Some(c + 3 * HOUR_MS), None);
        let steps = check(&s);
        assert_eq!(steps.len(), 1 + 3);
        assert!(steps.iter().all(|x| x.disconnected_at.is_none()));
        assert_eq!(steps.last().map(|x| x.step), Some(Step::Beat));
    }

    #[test]
    fn short_and_odd_sessions_keep_the_invariants() {
        check(&session(0, Some(0), None)); // open only
        check(&session(0, Some(0), Some(0))); // open, close
        check(&session(0, Some(10), Some(5))); // disconnect before last seen
        check(&session(0, None, Some(2 * HOUR_MS))); // no last seen: no beats
        check(&session(0, None, None));
        assert_eq!(live_steps(&session(0, None, Some(9 * HOUR_MS))).len(), 2);
    }

    #[test]
    fn the_schedule_is_in_time_order_grouped_by_hour() {
        let a = session(0, Some(3 * HOUR_MS + 5), Some(3 * HOUR_MS + 9));
        let mut b = session(HOUR_MS / 2, Some(2 * HOUR_MS), None);
        b.session_id = "s-2".into();
        let sessions = vec![a, b];
        let hours = schedule(&sessions);
        let flat: Vec<Scheduled> = hours.iter().flat_map(|(_, v)| v.clone()).collect();
        let n: usize = sessions.iter().map(|s| live_steps(s).len()).sum();
        assert_eq!(flat.len(), n);
        for w in flat.windows(2) {
            assert!(w[0].step.at_ms <= w[1].step.at_ms);
        }
        for (h, items) in &hours {
            assert!(items.iter().all(|x| x.step.at_ms.div_euclid(HOUR_MS) == *h));
        }
        assert!(hours.windows(2).all(|w| w[0].0 < w[1].0));
        // Each session's own steps stay in its live order.
        for (i, s) in sessions.iter().enumerate() {
            let mine: Vec<LiveStep> = flat
                .iter()
                .filter(|x| x.session == i)
                .map(|x| x.step)
                .collect();
            assert_eq!(mine, live_steps(s));
        }
    }
}
