//! One machine's month as connections and health. The simulator first
//! decides when the machine is available (the `up` periods: an uptime and a
//! number of outages), then writes the session and health facts a
//! coordinator would send for that month: reconnects after outages, lost
//! disconnects, key rotations with overlapping sessions, health flaps while
//! connected, a first session that began before the month.
//!
//! Invariants (unit-tested against an independent D7 computation):
//! - `up` is sorted, disjoint, non-empty pieces inside `[S, E)` whose total
//!   is `⌊T · uptime_ppm / 10⁶⌋` exactly;
//! - under SPEC D7 (with the policy's `grace_ms`) the sessions and health
//!   events cover exactly the `up` periods.

use rand::Rng;

/// Shortest outage and shortest stretch of availability, ms.
const MIN_OUTAGE_MS: i64 = 60_000;
const MIN_UP_MS: i64 = 10 * 60_000;
/// Sessions longer than this may be split by a key rotation.
const ROTATION_MIN_MS: i64 = 2 * 86_400_000;
/// How long the two sessions of a key rotation overlap.
const ROTATION_OVERLAP_MS: i64 = 30_000;

/// Why a machine reported itself unhealthy.
pub const HEALTH_REASONS: &[&str] = &[
    "thermal_pressure",
    "model_reload",
    "gpu_hang",
    "memory_pressure",
];

/// A session as the coordinator reports it (times in ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTimes {
    pub connected_at_ms: i64,
    pub last_seen_at_ms: Option<i64>,
    pub disconnected_at_ms: Option<i64>,
}

/// A health transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    pub at_ms: i64,
    pub healthy: bool,
    pub reason: Option<&'static str>,
}

/// How a month should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Share of the month available, ppm (0 < uptime ≤ 10⁶).
    pub uptime_ppm: i64,
    /// How many outages (fewer if the downtime is too short for them).
    pub outages: u32,
    /// Percent of outages that are health flaps while connected rather than
    /// disconnects.
    pub unhealthy_pct: u32,
    /// The machine connects for the first time after the month began.
    pub late_join: bool,
}

/// A machine's month.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeline {
    pub up: Vec<(i64, i64)>,
    pub sessions: Vec<SessionTimes>,
    pub health: Vec<HealthChange>,
}

impl Timeline {
    /// Total available time, ms.
    pub fn available_ms(&self) -> i64 {
        self.up.iter().map(|(a, b)| b - a).sum()
    }
}

/// `n` parts of `total`, each at least `min` when `total ≥ n · min`.
fn split<R: Rng>(rng: &mut R, total: i64, n: usize, min: i64) -> Vec<i64> {
    let Ok(n64) = i64::try_from(n) else {
        return Vec::new();
    };
    if n == 0 {
        return Vec::new();
    }
    let base = min.min(total / n64).max(0);
    let rest = total - base * n64;
    let weights: Vec<i64> = (0..n).map(|_| rng.gen_range(1..=1_000)).collect();
    let sum: i64 = weights.iter().sum();
    let mut parts: Vec<i64> = weights.iter().map(|w| base + rest * w / sum).collect();
    let short = total - parts.iter().sum::<i64>();
    if let Some(last) = parts.last_mut() {
        *last += short;
    }
    parts
}

/// Picks a uniformly random instant inside `up` (`None` if it is empty).
pub fn pick_time<R: Rng>(rng: &mut R, up: &[(i64, i64)]) -> Option<i64> {
    let total: i64 = up.iter().map(|(a, b)| b - a).sum();
    if total <= 0 {
        return None;
    }
    let mut r = rng.gen_range(0..total);
    for (a, b) in up {
        if r < b - a {
            return Some(a + r);
        }
        r -= b - a;
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    Disconnect,
    Unhealthy,
}

/// Generates a month `[start, end)` of the given shape.
pub fn generate<R: Rng>(
    rng: &mut R,
    start_ms: i64,
    end_ms: i64,
    shape: &Shape,
    grace_ms: i64,
) -> Timeline {
    let t = end_ms - start_ms;
    let up_total =
        i64::try_from(i128::from(t) * i128::from(shape.uptime_ppm.clamp(1, 1_000_000)) / 1_000_000)
            .unwrap_or(t);
    let down_total = t - up_total;
    let n = if down_total == 0 {
        0
    } else {
        let fit = usize::try_from((down_total / MIN_OUTAGE_MS).max(1)).unwrap_or(1);
        usize::try_from(shape.outages).unwrap_or(1).clamp(1, fit)
    };
    let downs = split(rng, down_total, n, MIN_OUTAGE_MS);
    let late = shape.late_join && n > 0;
    let ups: Vec<i64> = if late {
        std::iter::once(0)
            .chain(split(rng, up_total, n, MIN_UP_MS))
            .collect()
    } else {
        split(rng, up_total, n + 1, MIN_UP_MS)
    };
    let kinds: Vec<Outage> = (0..n)
        .map(|i| {
            if (late && i == 0) || rng.gen_range(0..100) >= shape.unhealthy_pct {
                Outage::Disconnect
            } else {
                Outage::Unhealthy
            }
        })
        .collect();

    let mut out = Timeline::default();
    let mut open: Option<i64> = None;
    let mut cursor = start_ms;
    for (i, up_ms) in ups.iter().enumerate() {
        let (a, b) = (cursor, cursor + up_ms);
        cursor = b;
        if *up_ms > 0 {
            out.up.push((a, b));
            if open.is_none() {
                // The first session of a machine up at the start began earlier.
                let connected = if a == start_ms {
                    a - rng.gen_range(3_600_000..4 * 86_400_000)
                } else {
                    a
                };
                if rng.gen_bool(0.5) {
                    out.health.push(HealthChange {
                        at_ms: connected,
                        healthy: true,
                        reason: None,
                    });
                }
                open = Some(connected);
            }
        }
        let (Some(kind), Some(down_ms)) = (kinds.get(i), downs.get(i)) else {
            continue;
        };
        let (da, db) = (cursor, cursor + down_ms);
        cursor = db;
        match (kind, open) {
            (Outage::Unhealthy, Some(_)) => {
                let reason = HEALTH_REASONS
                    .get(rng.gen_range(0..HEALTH_REASONS.len()))
                    .copied();
                out.health.push(HealthChange {
                    at_ms: da,
                    healthy: false,
                    reason,
                });
                out.health.push(HealthChange {
                    at_ms: db,
                    healthy: true,
                    reason: None,
                });
            }
            _ => {
                if let Some(c) = open.take() {
                    close(rng, &mut out.sessions, c, da, grace_ms);
                }
            }
        }
    }
    if let Some(c) = open {
        // Still connected when the month ends; the coordinator saw it after.
        out.sessions.push(SessionTimes {
            connected_at_ms: c,
            last_seen_at_ms: Some(end_ms + rng.gen_range(600_000..7_200_000)),
            disconnected_at_ms: None,
        });
    }
    out
}

/// Writes the session(s) of a connection `[c, d)`: maybe a key rotation
/// (two overlapping sessions), then a recorded or a lost disconnect.
fn close<R: Rng>(rng: &mut R, sessions: &mut Vec<SessionTimes>, c: i64, d: i64, grace_ms: i64) {
    let mut c = c;
    if d - c > ROTATION_MIN_MS && rng.gen_bool(0.15) {
        let m = rng.gen_range(c + 86_400_000..d - 86_400_000);
        sessions.push(SessionTimes {
            connected_at_ms: c,
            last_seen_at_ms: Some(m + ROTATION_OVERLAP_MS / 2),
            disconnected_at_ms: Some(m + ROTATION_OVERLAP_MS),
        });
        c = m;
    }
    let jitter = (grace_ms / 2).clamp(0, 60_000);
    if grace_ms > 0 && d - grace_ms > c && rng.gen_bool(0.2) {
        // The disconnect was lost: the session ends at its last sign of life
        // plus the grace period.
        sessions.push(SessionTimes {
            connected_at_ms: c,
            last_seen_at_ms: Some(d - grace_ms),
            disconnected_at_ms: None,
        });
    } else {
        let seen = if jitter > 0 {
            (d - rng.gen_range(0..jitter)).max(c)
        } else {
            d
        };
        sessions.push(SessionTimes {
            connected_at_ms: c,
            last_seen_at_ms: Some(seen),
            disconnected_at_ms: Some(d),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const S: i64 = 1_790_812_800_000; // 2026-10-01T00:00:00Z
    const E: i64 = S + 31 * 86_400_000;
    const GRACE: i64 = 90_000;

    /// D7, written out: union of sessions minus unhealthy time.
    fn d7(t: &Timeline) -> Vec<(i64, i64)> {
        let mut pieces: Vec<(i64, i64)> = t
            .sessions
            .iter()
            .map(|s| {
                let seen = s
                    .last_seen_at_ms
                    .or(s.disconnected_at_ms)
                    .unwrap_or(s.connected_at_ms);
                let mut b = E.min(seen + GRACE);
                if let Some(d) = s.disconnected_at_ms {
                    b = b.min(d);
                }
                (s.connected_at_ms.max(S), b)
            })
            .filter(|(a, b)| a < b)
            .collect();
        pieces.sort();
        let mut union: Vec<(i64, i64)> = Vec::new();
        for (a, b) in pieces {
            match union.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => union.push((a, b)),
            }
        }
        let mut health = t.health.clone();
        health.sort_by_key(|h| h.at_ms);
        let mut out = Vec::new();
        for (a, b) in union {
            // Walk [a, b) cutting out unhealthy stretches.
            let mut cur = a;
            let mut healthy = health
                .iter()
                .rev()
                .find(|h| h.at_ms <= a)
                .is_none_or(|h| h.healthy);
            for h in health.iter().filter(|h| h.at_ms > a && h.at_ms < b) {
                if healthy && !h.healthy {
                    if h.at_ms > cur {
                        out.push((cur, h.at_ms));
                    }
                } else if !healthy && h.healthy {
                    cur = h.at_ms;
                }
                healthy = h.healthy;
            }
            if healthy && cur < b {
                out.push((cur, b));
            }
        }
        out
    }

    #[test]
    fn sessions_and_health_cover_exactly_the_up_periods() {
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..400 {
            let shape = Shape {
                uptime_ppm: match case % 5 {
                    0 => 1_000_000,
                    1 => rng.gen_range(995_000..=1_000_000),
                    2 => rng.gen_range(900_000..950_000),
                    3 => rng.gen_range(300_000..900_000),
                    _ => rng.gen_range(600_000..850_000),
                },
                outages: if case % 5 == 4 {
                    200
                } else {
                    rng.gen_range(0..12)
                },
                unhealthy_pct: rng.gen_range(0..=60),
                late_join: case % 7 == 0,
            };
            let t = generate(&mut rng, S, E, &shape, GRACE);
            let expected =
                i64::try_from(i128::from(E - S) * i128::from(shape.uptime_ppm) / 1_000_000)
                    .unwrap();
            assert_eq!(t.available_ms(), expected, "case {case}: {shape:?}");
            assert!(t.up.windows(2).all(|w| w[0].1 < w[1].0), "case {case}");
            assert!(t.up.iter().all(|(a, b)| S <= *a && a < b && *b <= E));
            let mut merged: Vec<(i64, i64)> = Vec::new();
            for (a, b) in d7(&t) {
                match merged.last_mut() {
                    Some(last) if a == last.1 => last.1 = b,
                    _ => merged.push((a, b)),
                }
            }
            let mut want: Vec<(i64, i64)> = Vec::new();
            for (a, b) in t.up.iter().copied() {
                match want.last_mut() {
                    Some(last) if a == last.1 => last.1 = b,
                    _ => want.push((a, b)),
                }
            }
            assert_eq!(merged, want, "case {case}: {shape:?}");
        }
    }

    #[test]
    fn pick_time_stays_inside() {
        let mut rng = StdRng::seed_from_u64(3);
        let up = [(10, 20), (30, 31), (50, 60)];
        for _ in 0..1000 {
            let t = pick_time(&mut rng, &up).unwrap();
            assert!(up.iter().any(|(a, b)| *a <= t && t < *b), "{t}");
        }
        assert_eq!(pick_time(&mut rng, &[]), None);
    }
}
