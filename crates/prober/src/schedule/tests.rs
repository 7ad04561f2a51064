//! Planner, rate window and limits tests with literal timestamps.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// 2026-07-01T00:00:00Z.
const JUL: i64 = 1_782_864_000_000;
/// 2026-08-01T00:00:00Z.
const AUG: i64 = 1_785_542_400_000;
const HOUR: i64 = 3_600_000;

fn july() -> EpochWindow {
    EpochWindow::new(JUL, AUG).unwrap()
}

fn m(id: &str, last: Option<i64>, in_flight: bool) -> MachineState {
    MachineState {
        machine_id: id.into(),
        last_evidence_ms: last,
        in_flight,
    }
}

fn limits(max_in_flight: u32) -> ProberLimits {
    ProberLimits::new(1_000, max_in_flight, 60).unwrap()
}

fn run(machines: &[MachineState], now: i64, current: u32, cap: u32) -> Plan {
    let mut rng = StdRng::seed_from_u64(9);
    plan(
        machines,
        july(),
        now,
        current,
        &limits(cap),
        &Cadence::default(),
        &mut rng,
    )
}

#[test]
fn no_evidence_first_then_oldest_ties_by_id() {
    let now = JUL + 10 * 24 * HOUR; // 2026-07-11T00:00Z
    let machines = [
        m("c", Some(JUL + HOUR), false),
        m("b", None, false),
        m("d", Some(JUL), false),
        m("a", None, false),
        m("e", Some(JUL), false),
    ];
    let p = run(&machines, now, 0, 10);
    assert_eq!(p.probe_now, ["a", "b", "d", "e", "c"]);
}

#[test]
fn never_picks_an_in_flight_machine() {
    let now = JUL + 24 * HOUR;
    let machines = [
        m("a", None, true),
        m("b", None, false),
        m("c", Some(JUL), true),
    ];
    let p = run(&machines, now, 2, 10);
    assert_eq!(p.probe_now, ["b"]);
}

#[test]
fn a_machine_listed_twice_is_planned_once_and_in_flight_wins() {
    let now = JUL + 24 * HOUR;
    let machines = [
        m("a", None, false),
        m("a", Some(JUL), false),
        m("b", None, false),
        m("b", None, true),
    ];
    let p = run(&machines, now, 0, 10);
    assert_eq!(p.probe_now, ["a"]);
}

#[test]
fn respects_the_concurrency_cap() {
    let now = JUL + 24 * HOUR;
    let machines: Vec<_> = (0..10).map(|i| m(&format!("m{i}"), None, false)).collect();
    assert_eq!(run(&machines, now, 0, 3).probe_now, ["m0", "m1", "m2"]);
    // 4 in flight elsewhere, cap 5: one slot.
    assert_eq!(run(&machines, now, 4, 5).probe_now, ["m0"]);
    // Full or over-full: nothing.
    assert!(run(&machines, now, 5, 5).probe_now.is_empty());
    assert!(run(&machines, now, 9, 5).probe_now.is_empty());
}

#[test]
fn in_flight_flags_count_even_when_current_is_understated() {
    let now = JUL + 24 * HOUR;
    let machines = [
        m("a", None, true),
        m("b", None, true),
        m("c", None, false),
        m("d", None, false),
    ];
    // Cap 3, two flagged in flight although current says 0: one slot.
    assert_eq!(run(&machines, now, 0, 3).probe_now, ["c"]);
}

#[test]
fn fresh_evidence_is_not_probed_boundary_inclusive() {
    let fresh = Cadence::default().fresh_ms; // 6 h
    let now = JUL + 24 * HOUR;
    let machines = [
        m("exactly-stale", Some(now - fresh), false),
        m("just-fresh", Some(now - fresh + 1), false),
        m("future", Some(now + HOUR), false),
    ];
    assert_eq!(run(&machines, now, 0, 10).probe_now, ["exactly-stale"]);
}

#[test]
fn next_time_lies_within_the_remaining_epoch() {
    let cadence = Cadence::default();
    let mut rng = StdRng::seed_from_u64(1);
    for now in [JUL, JUL + 1, AUG - cadence.max_gap_ms - 1, AUG - 2, AUG - 1] {
        for _ in 0..200 {
            let p = plan(&[], july(), now, 0, &limits(1), &cadence, &mut rng);
            let next = p.next_at_ms.unwrap();
            assert!(now <= next && next < AUG, "now {now}, next {next}");
            assert!(next < now + cadence.max_gap_ms, "now {now}, next {next}");
        }
    }
    // One millisecond left: the only choice is now.
    let p = plan(&[], july(), AUG - 1, 0, &limits(1), &cadence, &mut rng);
    assert_eq!(p.next_at_ms, Some(AUG - 1));
}

#[test]
fn next_times_are_spread_not_constant() {
    let mut rng = StdRng::seed_from_u64(5);
    let times: HashSet<i64> = (0..50)
        .filter_map(|_| {
            plan(
                &[],
                july(),
                JUL,
                0,
                &limits(1),
                &Cadence::default(),
                &mut rng,
            )
            .next_at_ms
        })
        .collect();
    assert!(times.len() > 40, "{}", times.len());
}

#[test]
fn before_the_epoch_nothing_is_due_and_next_is_inside_it() {
    let machines = [m("a", None, false)];
    let p = run(&machines, JUL - HOUR, 0, 10);
    assert!(p.probe_now.is_empty());
    let next = p.next_at_ms.unwrap();
    assert!(
        (JUL..JUL + Cadence::default().max_gap_ms).contains(&next),
        "{next}"
    );
}

#[test]
fn after_the_epoch_nothing_is_due_and_there_is_no_next() {
    let machines = [m("a", None, false)];
    for now in [AUG, AUG + 1] {
        assert_eq!(
            run(&machines, now, 0, 10),
            Plan {
                probe_now: vec![],
                next_at_ms: None
            }
        );
    }
}

#[test]
fn window_must_be_non_empty() {
    assert!(EpochWindow::new(JUL, JUL).is_err());
    assert!(EpochWindow::new(AUG, JUL).is_err());
    assert!(EpochWindow::new(JUL, JUL + 1).is_ok());
}

#[test]
fn rate_window_admits_n_per_minute() {
    // 3 per minute, starts at t = 0, 10, 20 s; the 4th waits until t = 60 s.
    let mut w = RateWindow::new(3);
    assert_eq!(w.try_acquire(0), Ok(()));
    assert_eq!(w.try_acquire(10_000), Ok(()));
    assert_eq!(w.try_acquire(20_000), Ok(()));
    assert_eq!(w.try_acquire(20_001), Err(60_000));
    assert_eq!(w.try_acquire(59_999), Err(60_000));
    assert_eq!(w.try_acquire(60_000), Ok(()));
    assert_eq!(w.try_acquire(60_001), Err(70_000));
    assert_eq!(w.try_acquire(200_000), Ok(()));
}

#[test]
fn limits_boundaries() {
    assert_eq!(ProberLimits::default().validate(), Ok(()));
    assert!(ProberLimits::new(1, 1, 1).is_ok());
    assert!(ProberLimits::new(MAX_TIMEOUT_MS, MAX_IN_FLIGHT_LIMIT, MAX_RATE_PER_MINUTE).is_ok());
    let field = |r: Result<ProberLimits, LimitsError>| r.err().map(|e| e.field);
    assert_eq!(field(ProberLimits::new(0, 1, 1)), Some("timeout_ms"));
    assert_eq!(
        field(ProberLimits::new(MAX_TIMEOUT_MS + 1, 1, 1)),
        Some("timeout_ms")
    );
    assert_eq!(field(ProberLimits::new(u64::MAX, 1, 1)), Some("timeout_ms"));
    assert_eq!(field(ProberLimits::new(1, 0, 1)), Some("max_in_flight"));
    assert_eq!(
        field(ProberLimits::new(1, MAX_IN_FLIGHT_LIMIT + 1, 1)),
        Some("max_in_flight")
    );
    assert_eq!(field(ProberLimits::new(1, 1, 0)), Some("rate_per_minute"));
    assert_eq!(
        field(ProberLimits::new(1, 1, MAX_RATE_PER_MINUTE + 1)),
        Some("rate_per_minute")
    );
    let msg = ProberLimits::new(0, 1, 1).err().unwrap().to_string();
    assert_eq!(
        msg,
        "prober.timeout_ms: must be between 1 and 300000, got 0"
    );
}

#[test]
fn limits_reject_unknown_keys() {
    let ok: Result<ProberLimits, _> =
        serde_json::from_str(r#"{"timeout_ms":1,"max_in_flight":2,"rate_per_minute":3}"#);
    assert_eq!(
        ok.unwrap(),
        ProberLimits {
            timeout_ms: 1,
            max_in_flight: 2,
            rate_per_minute: 3
        }
    );
    let unknown: Result<ProberLimits, _> =
        serde_json::from_str(r#"{"timeout_ms":1,"max_in_flight":2,"rate_per_minute":3,"burst":4}"#);
    assert!(unknown.is_err());
}

#[test]
fn cadence_boundaries() {
    assert_eq!(Cadence::default().validate(), Ok(()));
    let c = |fresh_ms, max_gap_ms| {
        Cadence {
            fresh_ms,
            max_gap_ms,
        }
        .validate()
        .err()
        .map(|e| e.field)
    };
    assert_eq!(c(0, 1), None);
    assert_eq!(c(MAX_FRESH_MS, MAX_GAP_LIMIT_MS), None);
    assert_eq!(c(-1, 1), Some("fresh_ms"));
    assert_eq!(c(MAX_FRESH_MS + 1, 1), Some("fresh_ms"));
    assert_eq!(c(0, 0), Some("max_gap_ms"));
    assert_eq!(c(0, MAX_GAP_LIMIT_MS + 1), Some("max_gap_ms"));
}
