//! The scenario of one seed: a policy, a settlement config, one or two epochs,
//! a small fleet, and the facts that fleet produces, cut into the batches a
//! coordinator would send — each with the instant from which it can be sent.
//!
//! A batch becomes sendable at the time of its newest fact plus a latency
//! (minutes mostly, days sometimes: late facts). Batches are sent in random
//! order among the sendable ones, so facts about a machine can arrive before
//! its attestation (the store rejects that batch whole and it is retried),
//! and facts of an epoch can arrive after that epoch was first settled.
//!
//! A share of seeds settles periods shorter than a month (SPEC §10): a
//! quarter `period = "day"` — the same month-long facts, every day of the
//! months a settlement unit — and an eighth `period = "5m"` — a span of 2–4
//! hours at a month start (half of them reaching back 1–2 hours into the
//! previous month), with every duration of the facts (latencies, outages,
//! ownership changes, watermarks) shrunk to that scale so a trial stays fast.
//! The rest are monthly and generate exactly what they did before periods.
//!
//! Everything here is a pure function of the seed.

use floorline_core::bundle::{Alias, Attestation, Binding, Earning, Health, Probe, Session};
use floorline_core::facts::EarningKind;
use floorline_core::money::Ppm;
use floorline_core::policy::{Allocation, Policy, Trust};
use floorline_core::time::Period;
use floorline_core::Watermark;
use floorline_core::{EpochId, Timestamp};
use floorline_engine::schedule::SchedulerMode;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::HashMap;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// First epochs a seed can start at: a year end, a leap February, plain
/// months. All of them (and the month after) are closed by late 2026, so the
/// real `floorline` binary, which reads the system clock, can settle them too.
const FIRST_EPOCHS: &[&str] = &["2025-12", "2024-02", "2026-02", "2026-06", "2026-09"];

/// `(hardware model, reported GB)`; the last two are below every tier or not in the cap table.
const HARDWARE: &[(&str, u32)] = &[
    ("Mac14,2", 24),
    ("Mac16,10", 32),
    ("Mac16,7", 48),
    ("Mac16,11", 64),
    ("Mac16,11", 64),
    ("Mac14,5", 96),
    ("Mac15,9", 128),
    ("Mac14,14", 192),
    ("Mac15,14", 512),
    ("Mac14,3", 16),
    ("Unknown9,9", 64),
];

/// One batch of one kind of fact, as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum FactBatch {
    Attestations(Vec<Attestation>),
    Aliases(Vec<Alias>),
    Bindings(Vec<Binding>),
    Sessions(Vec<Session>),
    Health(Vec<Health>),
    Earnings(Vec<Earning>),
    Probes(Vec<Probe>),
    Watermarks(Vec<Watermark>),
}

impl FactBatch {
    pub fn kind(&self) -> &'static str {
        match self {
            FactBatch::Attestations(_) => "machines",
            FactBatch::Aliases(_) => "aliases",
            FactBatch::Bindings(_) => "bindings",
            FactBatch::Sessions(_) => "sessions",
            FactBatch::Health(_) => "health",
            FactBatch::Earnings(_) => "earnings",
            FactBatch::Probes(_) => "probes",
            FactBatch::Watermarks(_) => "watermarks",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            FactBatch::Attestations(v) => v.len(),
            FactBatch::Aliases(v) => v.len(),
            FactBatch::Bindings(v) => v.len(),
            FactBatch::Sessions(v) => v.len(),
            FactBatch::Health(v) => v.len(),
            FactBatch::Earnings(v) => v.len(),
            FactBatch::Probes(v) => v.len(),
            FactBatch::Watermarks(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Dependency order of the final flush (a machine before what names it).
    pub fn flush_rank(&self) -> u8 {
        match self {
            FactBatch::Attestations(_) => 0,
            FactBatch::Aliases(_) => 1,
            _ => 2,
        }
    }
}

/// A batch and the instant from which the coordinator can send it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub batch: FactBatch,
    pub release_ms: i64,
}

/// Everything one seed runs.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub policy: Policy,
    pub mode: SchedulerMode,
    pub settle_delay_ms: i64,
    /// The settlement units in play, in order: one or two consecutive
    /// months on monthly seeds; every day of them on daily seeds; the
    /// 5-minute periods of the span on 5-minute seeds.
    pub epochs: Vec<EpochId>,
    /// The months the units belong to, in order.
    pub months: Vec<EpochId>,
    /// Months that `settle_month` may be asked for (period seeds only): on
    /// 5-minute seeds only a month starting inside the span, so that a
    /// month's closed periods are never more than the span's few hours.
    pub month_settles: Vec<EpochId>,
    /// The range the trial's clock stays in.
    pub clock_lo_ms: i64,
    pub clock_hi_ms: i64,
    pub start_ms: i64,
    pub n_machines: usize,
    pub accounts: Vec<String>,
    pub batches: Vec<Planned>,
    /// Number of steps before the final flush.
    pub n_steps: usize,
}

impl Scenario {
    pub fn first(&self) -> EpochId {
        self.epochs
            .first()
            .copied()
            .unwrap_or_else(|| epoch("2026-09"))
    }

    pub fn last(&self) -> EpochId {
        self.epochs.last().copied().unwrap_or_else(|| self.first())
    }

    /// The settlement unit length of the seed.
    pub fn period(&self) -> Period {
        self.policy.period
    }

    /// A seed of periods shorter than a month.
    pub fn has_periods(&self) -> bool {
        self.policy.period != Period::Month
    }
}

/// The period length of a seed: a quarter daily, an eighth 5-minute, the rest
/// monthly. Drawn from its own generator so that monthly seeds take exactly
/// the random choices they took before periods existed.
pub fn period_of_seed(seed: u64) -> Period {
    use rand::SeedableRng;
    let mut r = StdRng::seed_from_u64(seed ^ 0x7065_7269_6f64_5f6c);
    match r.gen_range(0..8) {
        0 | 1 => Period::Day,
        2 => Period::FiveMinutes,
        _ => Period::Month,
    }
}

/// The durations facts are generated with: month-scale, or shrunk for a
/// span of a few hours (5-minute seeds).
#[derive(Debug, Clone, Copy)]
struct Scale {
    short: bool,
}

impl Scale {
    /// `monthly` on month-scale seeds, `short` on 5-minute seeds.
    fn pick(self, monthly: i64, short: i64) -> i64 {
        if self.short {
            short
        } else {
            monthly
        }
    }
}

fn epoch(text: &str) -> EpochId {
    text.parse().expect("the epoch table holds valid epoch ids")
}

/// Facts of every kind, before batching, each with its release instant.
#[derive(Default)]
struct Facts {
    attestations: Vec<(i64, Attestation)>,
    aliases: Vec<(i64, Alias)>,
    bindings: Vec<(i64, Binding)>,
    sessions: Vec<(i64, Session)>,
    health: Vec<(i64, Health)>,
    earnings: Vec<(i64, Earning)>,
    probes: Vec<(i64, Probe)>,
    watermarks: Vec<(i64, Watermark)>,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp(ms)
}

/// Minutes mostly, hours often, days sometimes (late facts); on a short
/// span: under 10 minutes mostly, up to an hour often, up to 3 hours sometimes.
fn latency(rng: &mut StdRng, sc: Scale) -> i64 {
    let [a, b, c, d] = if sc.short {
        [0, 10 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS]
    } else {
        [0, 2 * HOUR_MS, 2 * DAY_MS, 12 * DAY_MS]
    };
    match rng.gen_range(0..100) {
        0..=69 => rng.gen_range(a..b),
        70..=89 => rng.gen_range(b..c),
        _ => rng.gen_range(c..d),
    }
}

fn policy(rng: &mut StdRng, n: usize) -> Policy {
    let n = i64::try_from(n).unwrap_or(40);
    let mut p = Policy {
        // Tight pools on some seeds (the pool binds), ample ones on others.
        pool_micro_usd: n
            * if rng.gen_bool(0.4) {
                rng.gen_range(2..8)
            } else {
                rng.gen_range(8..36)
            }
            * 1_000_000
            + rng.gen_range(0..1_000_000),
        allocation: if rng.gen_bool(0.5) {
            Allocation::Priority
        } else {
            Allocation::Waterfill
        },
        workhorse_reserve: Ppm(*[0, 300_000, 500_000, 800_000].choose(rng).unwrap_or(&0)),
        ..Policy::default()
    };
    if rng.gen_bool(0.3) {
        p.account_cap = Ppm(*[200_000, 350_000, 500_000].choose(rng).unwrap_or(&0));
    }
    if rng.gen_bool(0.2) {
        p.reduction_k = Ppm(500_000);
    }
    if rng.gen_bool(0.2) {
        p.taper_enabled = true;
        p.target_revenue_micro_usd = n * rng.gen_range(1..10) * 1_000_000;
    }
    if rng.gen_bool(0.1) {
        p.require_tier_probe = true;
    }
    p
}

/// Builds the scenario of a seed whose unit of settlement is `period`
/// ([`period_of_seed`]).
pub fn scenario(rng: &mut StdRng, period: Period) -> Scenario {
    let first = epoch(FIRST_EPOCHS.choose(rng).copied().unwrap_or("2026-09"));
    let months = if rng.gen_bool(0.6) {
        vec![first, first.next()]
    } else {
        vec![first]
    };
    let n = rng.gen_range(5..=40usize);
    let n_accounts = 1 + n / 3;
    let accounts: Vec<String> = (0..n_accounts).map(|k| format!("acct-{k}")).collect();
    let mode = match rng.gen_range(0..10) {
        0..=6 => SchedulerMode::Live,
        7..=8 => SchedulerMode::Preview,
        _ => SchedulerMode::Off,
    };
    let settle_delay_ms = *[0, HOUR_MS, 6 * HOUR_MS, 3 * DAY_MS]
        .choose(rng)
        .unwrap_or(&0);
    let mut policy = policy(rng, n);
    policy.period = period;
    let sc = Scale {
        short: period == Period::FiveMinutes,
    };
    // The windows facts are generated over: the months, or one span of a
    // few hours at the start of the month after `first` (5-minute seeds).
    let (windows, months, month_settles) = if sc.short {
        let month = first.next();
        let back = if rng.gen_bool(0.5) {
            rng.gen_range(1..=2) * HOUR_MS
        } else {
            0
        };
        let w0 = month.start().0 - back;
        let w1 = w0 + rng.gen_range(2..=4) * HOUR_MS;
        let months = if back > 0 {
            vec![first, month]
        } else {
            vec![month]
        };
        (vec![(w0, w1)], months, vec![month])
    } else {
        let w: Vec<(i64, i64)> = months.iter().map(|e| (e.start().0, e.end().0)).collect();
        let settles = if period == Period::Month {
            vec![]
        } else {
            months.clone()
        };
        (w, months, settles)
    };
    let (s1, e1) = windows.first().copied().unwrap_or((0, DAY_MS));
    let last_end = windows.last().map_or(e1, |w| w.1);
    let mut f = Facts::default();
    for i in 0..n {
        machine(rng, &mut f, i, &accounts, &windows, sc);
    }
    // Fact sources and their watermarks (half the seeds register none).
    if rng.gen_bool(0.5) {
        for source in ["coordinator", "prober"] {
            let mut marks = vec![if sc.short {
                s1 + rng.gen_range(0..(e1 - s1))
            } else {
                s1 + rng.gen_range(5..15) * DAY_MS
            }];
            for &(_, end) in &windows {
                let (lo, hi) = if sc.short {
                    (-30 * MINUTE_MS, HOUR_MS)
                } else {
                    (-HOUR_MS, 2 * DAY_MS)
                };
                marks.push(end + rng.gen_range(lo..hi));
            }
            for up_to in marks {
                let w = Watermark {
                    source: source.to_string(),
                    up_to: ts(up_to),
                };
                let lag = sc.pick(HOUR_MS, 10 * MINUTE_MS);
                f.watermarks.push((up_to + rng.gen_range(0..lag), w));
            }
        }
    }
    // Machines first: a name is ready once the batch that defines it can be sent.
    let mut batches = Vec::new();
    let mut ready: HashMap<String, i64> = HashMap::new();
    cut(rng, &mut batches, f.attestations, FactBatch::Attestations);
    for b in &batches {
        if let FactBatch::Attestations(v) = &b.batch {
            for a in v {
                let slot = ready.entry(a.machine_id.clone()).or_insert(b.release_ms);
                *slot = (*slot).min(b.release_ms);
            }
        }
    }
    for (r, a) in &mut f.aliases {
        *r = (*r).max(ready.get(&a.machine_id).copied().unwrap_or(i64::MIN));
    }
    let first_alias = batches.len();
    cut(rng, &mut batches, f.aliases, FactBatch::Aliases);
    for b in batches.get(first_alias..).unwrap_or_default() {
        if let FactBatch::Aliases(v) = &b.batch {
            for a in v {
                ready.insert(a.provider_key.clone(), b.release_ms);
            }
        }
    }
    // Most facts wait until the name they use is ready; a few go out
    // regardless, and their batch is rejected whole until it is.
    let wait = |rng: &mut StdRng, r: &mut i64, name: &str| {
        if rng.gen_bool(0.97) {
            *r = (*r).max(ready.get(name).copied().unwrap_or(i64::MIN));
        }
    };
    f.bindings
        .iter_mut()
        .for_each(|(r, x)| wait(rng, r, &x.machine_id));
    f.sessions
        .iter_mut()
        .for_each(|(r, x)| wait(rng, r, &x.machine_id));
    f.health
        .iter_mut()
        .for_each(|(r, x)| wait(rng, r, &x.machine_id));
    f.earnings
        .iter_mut()
        .for_each(|(r, x)| wait(rng, r, &x.machine_id));
    f.probes
        .iter_mut()
        .for_each(|(r, x)| wait(rng, r, &x.machine_id));
    cut(rng, &mut batches, f.bindings, FactBatch::Bindings);
    cut(rng, &mut batches, f.sessions, FactBatch::Sessions);
    cut(rng, &mut batches, f.health, FactBatch::Health);
    cut(rng, &mut batches, f.earnings, FactBatch::Earnings);
    cut(rng, &mut batches, f.probes, FactBatch::Probes);
    for (release_ms, w) in f.watermarks {
        batches.push(Planned {
            batch: FactBatch::Watermarks(vec![w]),
            release_ms,
        });
    }
    batches.sort_by_key(|b| b.release_ms);
    let start_ms = if sc.short {
        s1 + rng.gen_range(0..(e1 - s1) / 2)
    } else {
        s1 + rng.gen_range(8 * DAY_MS..(e1 - s1 - DAY_MS))
    };
    let epochs = units(period, &months, (s1, last_end));
    let (clock_lo_ms, clock_hi_ms) = if sc.short {
        (s1 - 30 * MINUTE_MS, last_end + 3 * HOUR_MS)
    } else {
        (s1 - 5 * DAY_MS, last_end + 45 * DAY_MS)
    };
    Scenario {
        policy,
        mode,
        settle_delay_ms,
        start_ms,
        epochs,
        months,
        month_settles,
        clock_lo_ms,
        clock_hi_ms,
        n_machines: n,
        accounts,
        batches,
        n_steps: rng.gen_range(60..=160),
    }
}

/// The settlement units of `months` of length `period` inside `[lo, hi)`.
fn units(period: Period, months: &[EpochId], (lo, hi): (i64, i64)) -> Vec<EpochId> {
    if period == Period::Month {
        return months.to_vec();
    }
    let mut out = Vec::new();
    for &m in months {
        for k in 0..m.periods_in_month(period) {
            if let Ok(p) = EpochId::period_of(m, period, k) {
                if p.start().0 >= lo && p.end().0 <= hi {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Sorts facts by release and cuts them into batches of 1–16.
fn cut<T>(
    rng: &mut StdRng,
    out: &mut Vec<Planned>,
    mut facts: Vec<(i64, T)>,
    wrap: fn(Vec<T>) -> FactBatch,
) {
    facts.sort_by_key(|(r, _)| *r);
    let mut it = facts.into_iter().peekable();
    while it.peek().is_some() {
        let size = rng.gen_range(1..=16);
        let chunk: Vec<(i64, T)> = it.by_ref().take(size).collect();
        let release_ms = chunk.iter().map(|(r, _)| *r).max().unwrap_or(0);
        out.push(Planned {
            batch: wrap(chunk.into_iter().map(|(_, x)| x).collect()),
            release_ms,
        });
    }
}

/// One machine's facts over the scenario's windows (`[start, end)`: the
/// months, or the span of a 5-minute seed), with durations of `sc`.
fn machine(
    rng: &mut StdRng,
    f: &mut Facts,
    i: usize,
    accounts: &[String],
    windows: &[(i64, i64)],
    sc: Scale,
) {
    let id = format!("m{i:02}");
    let (s1, e1) = windows.first().copied().unwrap_or((0, DAY_MS));
    let &(model, gb) = HARDWARE.choose(rng).unwrap_or(&("Mac16,11", 64));
    let trust = match rng.gen_range(0..20) {
        0 => Trust::None,
        1..=2 => Trust::SelfSigned,
        _ => Trust::Hardware,
    };
    // Most machines are attested well before the epoch; some only near or after its end.
    let attested_at = if rng.gen_bool(0.9) {
        s1 - rng.gen_range(DAY_MS..60 * DAY_MS)
    } else {
        let (lo, hi) = if sc.short {
            (-(e1 - s1), HOUR_MS)
        } else {
            (-2 * DAY_MS, 5 * DAY_MS)
        };
        e1 + rng.gen_range(lo..hi)
    };
    let attest = |at: i64, gb: u32| Attestation {
        machine_id: id.clone(),
        attested_at: ts(at),
        hardware_model: model.to_string(),
        reported_memory_gb: gb,
        trust,
        se_public_key: None,
    };
    let lat = latency(rng, sc);
    let attested_release = attested_at + lat;
    f.attestations
        .push((attested_release, attest(attested_at, gb)));
    if rng.gen_bool(0.1) {
        // A re-attestation with another reported size.
        let at =
            attested_at + rng.gen_range(sc.pick(DAY_MS, HOUR_MS)..sc.pick(20 * DAY_MS, 2 * DAY_MS));
        let lat = latency(rng, sc);
        f.attestations
            .push((at + lat, attest(at, gb.saturating_mul(2))));
    }
    let mut names = vec![id.clone()];
    for k in 0..rng.gen_range(0..=2) {
        let key = format!("pk-{i}-{k}");
        let from = attested_at + rng.gen_range(0..DAY_MS);
        let release = (from + latency(rng, sc)).max(attested_release);
        f.aliases.push((
            release,
            Alias {
                provider_key: key.clone(),
                machine_id: id.clone(),
                from: ts(from),
            },
        ));
        names.push(key);
    }
    let name = |rng: &mut StdRng| -> String {
        if rng.gen_bool(0.7) {
            id.clone()
        } else {
            names.choose(rng).cloned().unwrap_or_else(|| id.clone())
        }
    };
    // Bindings: one owner, sometimes an ownership change mid-month, sometimes none.
    let pick_account = |rng: &mut StdRng| accounts.choose(rng).cloned().unwrap_or_default();
    let payout = |rng: &mut StdRng, account: &str| {
        if rng.gen_bool(0.2) {
            format!("pay-shared-{}", rng.gen_range(0..2))
        } else {
            format!("pay-{account}")
        }
    };
    if rng.gen_bool(0.92) {
        let from = s1 - rng.gen_range(DAY_MS..40 * DAY_MS);
        let a = pick_account(rng);
        let p = payout(rng, &a);
        if rng.gen_bool(0.15) {
            let to = if sc.short {
                s1 + rng.gen_range(10 * MINUTE_MS..(e1 - s1 - 10 * MINUTE_MS))
            } else {
                s1 + rng.gen_range(3 * DAY_MS..25 * DAY_MS)
            };
            let b = pick_account(rng);
            let q = payout(rng, &b);
            f.bindings.push((
                to + latency(rng, sc),
                Binding {
                    machine_id: name(rng),
                    account_id: a,
                    payout_identity: p,
                    from: ts(from),
                    to: Some(ts(to)),
                },
            ));
            f.bindings.push((
                to + latency(rng, sc),
                Binding {
                    machine_id: name(rng),
                    account_id: b,
                    payout_identity: q,
                    from: ts(to),
                    to: None,
                },
            ));
        } else {
            f.bindings.push((
                from + latency(rng, sc),
                Binding {
                    machine_id: name(rng),
                    account_id: a,
                    payout_identity: p,
                    from: ts(from),
                    to: None,
                },
            ));
        }
    }
    // Sessions, health, earnings and probes per window.
    for (k, &(s, end)) in windows.iter().enumerate() {
        // A quarter of the machines report their sessions days late (a
        // coordinator shard catching up): they become eligible only after
        // the first settlements, and are paid from what is left.
        let late_reporter = rng.gen_bool(0.25);
        let open = s - rng.gen_range(HOUR_MS..DAY_MS);
        let close = end + rng.gen_range(0..sc.pick(2 * HOUR_MS, 30 * MINUTE_MS));
        let mut pieces = vec![(open, close)];
        if rng.gen_bool(0.3) {
            // An outage of up to four days (20 minutes on a short span):
            // two sessions around it.
            let cut = if sc.short {
                s + rng.gen_range(5 * MINUTE_MS..(end - s - 30 * MINUTE_MS))
            } else {
                s + rng.gen_range(DAY_MS..(end - s - 5 * DAY_MS))
            };
            let back = cut + rng.gen_range(0..sc.pick(4 * DAY_MS, 20 * MINUTE_MS));
            pieces = vec![(open, cut), (back, close)];
        }
        for (j, (a, b)) in pieces.into_iter().enumerate() {
            let disconnected = (b < end).then_some(b);
            let session = Session {
                session_id: format!("s-{i}-{k}-{j}"),
                machine_id: name(rng),
                connected_at: ts(a),
                last_seen_at: Some(ts(b)),
                disconnected_at: disconnected.map(ts),
            };
            let delay = if late_reporter {
                rng.gen_range(
                    sc.pick(2 * DAY_MS, 15 * MINUTE_MS)..sc.pick(10 * DAY_MS, 2 * HOUR_MS),
                )
            } else {
                latency(rng, sc)
            };
            f.sessions.push((b + delay, session));
        }
        if rng.gen_bool(0.15) {
            let at = s + rng.gen_range(0..(end - s - sc.pick(DAY_MS, 10 * MINUTE_MS)));
            let back = at
                + rng.gen_range(
                    sc.pick(HOUR_MS, 5 * MINUTE_MS)..sc.pick(3 * DAY_MS, 40 * MINUTE_MS),
                );
            for (t, healthy) in [(at, false), (back, true)] {
                let h = Health {
                    machine_id: name(rng),
                    at: ts(t),
                    healthy,
                    reason: (!healthy).then(|| "thermal".to_string()),
                };
                f.health.push((t + latency(rng, sc), h));
            }
        }
        for j in 0..rng.gen_range(0..=4) {
            let before = sc.pick(3 * DAY_MS, HOUR_MS);
            let at = s - before + rng.gen_range(0..(end - s + before));
            let owner_like = rng.gen_bool(0.1);
            let consumer = if owner_like {
                pick_account(rng)
            } else {
                format!("buyer-{}", rng.gen_range(0..5))
            };
            let kind = if rng.gen_bool(0.07) {
                EarningKind::Probe
            } else {
                EarningKind::Inference
            };
            let amount = if rng.gen_bool(0.1) {
                0
            } else if rng.gen_bool(0.05) {
                rng.gen_range(10_000_000..40_000_000)
            } else {
                rng.gen_range(50_000..2_500_000)
            };
            let earning = Earning {
                job_id: format!("job-{i}-{k}-{j}"),
                machine_id: name(rng),
                consumer_account_id: consumer,
                amount_micro_usd: amount,
                kind,
                pinned: rng.gen_bool(0.1),
                model: rng.gen_bool(0.5).then(|| "llama-3-8b".to_string()),
                at: ts(at),
            };
            f.earnings.push((at + latency(rng, sc), earning));
        }
        if rng.gen_bool(0.85) {
            // On a short span the proving probe is days before it (the work
            // window is days long), else anywhere in the month.
            let at = if sc.short {
                s - rng.gen_range(HOUR_MS..5 * DAY_MS)
            } else {
                s + rng.gen_range(0..(end - s - DAY_MS))
            };
            let mut probes = vec![(at, true)];
            if rng.gen_bool(0.1) {
                probes.push((at + rng.gen_range(HOUR_MS..DAY_MS), false));
            }
            for (j, (t, passed)) in probes.into_iter().enumerate() {
                let p = Probe {
                    probe_id: format!("p-{i}-{k}-{j}"),
                    machine_id: name(rng),
                    at: ts(t),
                    passed,
                    failure: (!passed).then(|| "wrong_answer".to_string()),
                    model: Some(model.to_string()),
                    verified_memory_gb: (passed && rng.gen_bool(0.5)).then_some(gb),
                    source: None,
                };
                f.probes.push((t + latency(rng, sc), p));
            }
        }
    }
}
