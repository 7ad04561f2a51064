//! The live fleet against a real floorline (server on loopback, SQLite
//! file, reference provider): the settled month must match what the
//! simulator planted — every cheater caught for the right reason, every
//! machine's eligibility and reasons as in the manifest, and every eligible
//! machine paid exactly its desired draw, recomputed here from the generated
//! facts with a small independent calculation (not core's plan).

use std::collections::{BTreeMap, BTreeSet};

use floorline_core::bundle::Binding;
use floorline_core::facts::EarningKind;
use floorline_core::{EpochId, Policy, Timestamp};
use floorline_demo::{run_demo, CheatKind, DemoOptions, DemoRun, Fleet, FleetSpec, ProbeRoute};

const USD: i64 = 1_000_000;
/// SPEC D4, written out again: (min GB, $/month).
const TIERS: [(u32, i64); 8] = [
    (24, 10),
    (32, 12),
    (48, 16),
    (64, 18),
    (96, 22),
    (128, 26),
    (192, 30),
    (512, 40),
];
const GRACE_MS: i64 = 90_000;
const MIN_UPTIME_PPM: i128 = 900_000;
const FULL_UPTIME_PPM: i128 = 1_000_000;
const UNKNOWN_CAP_GB: u32 = 24;
const POOL_MICRO_USD: i64 = 9_000 * USD;

fn october() -> EpochId {
    "2026-10".parse().unwrap()
}

fn options(seed: u64, n: usize, dir: &tempfile::TempDir) -> DemoOptions {
    DemoOptions {
        n_machines: n,
        epoch: Some(october()),
        settle_at: Some(Timestamp::parse("2026-11-02T09:00:00Z").unwrap()),
        ..DemoOptions::new(seed, dir.path().join("demo.db"))
    }
}

/// Half-open intervals, merged.
fn union(mut pieces: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    pieces.retain(|(a, b)| a < b);
    pieces.sort();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in pieces {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn minus(set: &[(i64, i64)], cut: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for &(a, b) in set {
        let mut pieces = vec![(a, b)];
        for &(c, d) in cut {
            pieces = pieces
                .into_iter()
                .flat_map(|(x, y)| {
                    if d <= x || y <= c {
                        vec![(x, y)]
                    } else {
                        [(x, c.max(x)), (d.min(y), y)]
                            .into_iter()
                            .filter(|(p, q)| p < q)
                            .collect()
                    }
                })
                .collect();
        }
        out.extend(pieces);
    }
    out
}

fn len(set: &[(i64, i64)]) -> i64 {
    set.iter().map(|(a, b)| b - a).sum()
}

/// What SPEC §3 says each machine is owed, from the generated facts alone.
struct Owed {
    available_ms: i64,
    floor_micro_usd: i64,
    earned_micro_usd: i64,
    desired_micro_usd: i64,
}

fn owed(fleet: &Fleet) -> BTreeMap<String, Owed> {
    let f = &fleet.facts;
    let (s, e) = (fleet.spec.epoch.start().0, fleet.spec.epoch.end().0);
    let t = e - s;
    let alias: BTreeMap<&str, &str> = f
        .aliases
        .iter()
        .map(|a| (a.provider_key.as_str(), a.machine_id.as_str()))
        .collect();
    let resolve = |name: &str| alias.get(name).copied().unwrap_or(name).to_string();
    let mut sessions: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for x in &f.sessions {
        let seen = x
            .last_seen_at
            .or(x.disconnected_at)
            .unwrap_or(x.connected_at)
            .0;
        let mut b = e.min(seen + GRACE_MS);
        if let Some(d) = x.disconnected_at {
            b = b.min(d.0);
        }
        sessions
            .entry(resolve(&x.machine_id))
            .or_default()
            .push((x.connected_at.0.max(s), b));
    }
    let mut health: BTreeMap<String, Vec<(i64, bool)>> = BTreeMap::new();
    for h in &f.health {
        health
            .entry(resolve(&h.machine_id))
            .or_default()
            .push((h.at.0, h.healthy));
    }
    let bindings: BTreeMap<&str, Vec<&Binding>> =
        f.bindings.iter().fold(BTreeMap::new(), |mut m, b| {
            m.entry(b.machine_id.as_str())
                .or_insert_with(Vec::new)
                .push(b);
            m
        });
    let mut linked: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for b in &f.bindings {
        linked
            .entry(b.payout_identity.as_str())
            .or_default()
            .insert(b.account_id.as_str());
    }
    let mut earned: BTreeMap<String, i64> = BTreeMap::new();
    for j in &f.earnings {
        let m = resolve(&j.machine_id);
        let owner = bindings.get(m.as_str()).and_then(|bs| {
            bs.iter()
                .find(|b| b.from.0 <= j.at.0 && b.to.is_none_or(|to| j.at.0 < to.0))
        });
        let organic = j.kind == EarningKind::Inference
            && j.amount_micro_usd > 0
            && !j.pinned
            && owner.is_none_or(|o| {
                j.consumer_account_id != o.account_id
                    && !linked[o.payout_identity.as_str()].contains(j.consumer_account_id.as_str())
            });
        if organic && s <= j.at.0 && j.at.0 < e {
            *earned.entry(m).or_insert(0) += j.amount_micro_usd;
        }
    }
    let mut out = BTreeMap::new();
    for a in &f.machines {
        let id = a.machine_id.clone();
        if out.contains_key(&id) {
            continue;
        }
        let up = union(sessions.remove(&id).unwrap_or_default());
        let mut events = health.remove(&id).unwrap_or_default();
        events.sort();
        let unhealthy: Vec<(i64, i64)> = events
            .iter()
            .enumerate()
            .filter(|(_, (_, healthy))| !healthy)
            .map(|(i, (at, _))| (*at, events.get(i + 1).map_or(i64::MAX, |n| n.0)))
            .collect();
        let available_ms = len(&minus(&up, &union(unhealthy)));
        let verified = match floorline_core::models::default_cap_gb(&a.hardware_model) {
            Some(cap) => a.reported_memory_gb.min(cap),
            None => a.reported_memory_gb.min(UNKNOWN_CAP_GB),
        };
        let tier = TIERS
            .iter()
            .rev()
            .find(|(gb, _)| *gb <= verified)
            .map_or(0, |(_, usd)| usd * USD);
        let den = (FULL_UPTIME_PPM - MIN_UPTIME_PPM) * i128::from(t);
        let num =
            (i128::from(available_ms) * 1_000_000 - MIN_UPTIME_PPM * i128::from(t)).clamp(0, den);
        // round half up: ⌊(2n + d) / 2d⌋
        let n = i128::from(tier) * num;
        let floor = i64::try_from((2 * n + den) / (2 * den)).unwrap();
        let earned = earned.get(&id).copied().unwrap_or(0);
        out.insert(
            id,
            Owed {
                available_ms,
                floor_micro_usd: floor,
                earned_micro_usd: earned,
                desired_micro_usd: (floor - earned).max(0),
            },
        );
    }
    out
}

/// Everything a settled live fleet must satisfy.
fn check(run: &DemoRun) {
    let fleet = &run.fleet;
    let manifest = &fleet.manifest;
    let plan = &run.plan;
    assert_eq!(plan.epoch, fleet.spec.epoch);
    assert_eq!(plan.machines.len(), fleet.machines.len());
    assert_eq!(manifest.machines.len(), fleet.machines.len());

    // Every kind of cheater is planted, and every one is caught for its reason.
    let kinds: BTreeSet<CheatKind> = manifest.cheaters.iter().map(|c| c.kind).collect();
    assert_eq!(kinds.len(), CheatKind::ALL.len(), "{kinds:?}");
    assert_eq!(run.caught.len(), manifest.cheaters.len());
    for c in &run.caught {
        assert!(c.caught, "not caught: {c:#?}");
        let pm = plan
            .machines
            .iter()
            .find(|m| m.machine_id == c.machine_id)
            .unwrap();
        assert_eq!(c.granted_micro_usd, pm.granted_micro_usd, "{c:?}");
    }
    for c in &manifest.cheaters {
        let pm = plan
            .machines
            .iter()
            .find(|m| m.machine_id == c.machine_id)
            .unwrap();
        match c.kind {
            CheatKind::MemoryOverClaim | CheatKind::UnknownModelOverClaim => {
                assert!(pm.eligible, "{c:?}");
                assert!(
                    pm.verified_memory_gb
                        < fleet
                            .machines
                            .iter()
                            .find(|m| m.machine_id == c.machine_id)
                            .unwrap()
                            .reported_memory_gb
                );
            }
            CheatKind::SelfDealing | CheatKind::BadSignature => {
                assert_eq!(
                    pm.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    ["no_proven_work"],
                    "{c:?}"
                );
                assert_eq!(
                    pm.earned_micro_usd, 0,
                    "self-dealt jobs are not organic: {c:?}"
                );
            }
            CheatKind::FlappingUptime => {
                assert_eq!(
                    pm.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    ["uptime_below_gate"],
                    "{c:?}"
                );
                assert!(pm.uptime_ppm < 900_000);
            }
        }
    }
    // The known examples of mac-models.md.
    for (model, reported, verified) in [("Mac14,9", 96, 32), ("NotAModel99,9", 512, 24)] {
        let m = fleet
            .machines
            .iter()
            .find(|m| m.hardware_model == model && m.reported_memory_gb == reported)
            .unwrap_or_else(|| panic!("no {model} planted"));
        let pm = plan
            .machines
            .iter()
            .find(|p| p.machine_id == m.machine_id)
            .unwrap();
        assert_eq!(pm.verified_memory_gb, verified, "{model}");
    }

    // Every machine as the manifest says.
    for (pm, e) in plan.machines.iter().zip(&manifest.machines) {
        assert_eq!(pm.machine_id, e.machine_id);
        let reasons: Vec<&str> = pm.reasons.iter().map(|r| r.as_str()).collect();
        assert_eq!(reasons, e.reasons, "{}", e.machine_id);
        assert_eq!(pm.eligible, e.eligible, "{}", e.machine_id);
        assert_eq!(
            pm.verified_memory_gb, e.verified_memory_gb,
            "{}",
            e.machine_id
        );
        assert_eq!(pm.uptime_ppm, e.uptime_ppm, "{}", e.machine_id);
    }

    // Honest pay: granted = desired = floor − earned, recomputed here.
    let owed = owed(fleet);
    let mut total_desired = 0;
    let mut n_paid = 0;
    let mut n_reduced = 0;
    for pm in &plan.machines {
        let o = &owed[&pm.machine_id];
        let e = manifest.machine(&pm.machine_id).unwrap();
        assert_eq!(o.available_ms, e.available_ms, "{}", pm.machine_id);
        assert_eq!(pm.earned_micro_usd, o.earned_micro_usd, "{}", pm.machine_id);
        assert_eq!(pm.prior_micro_usd, 0);
        if pm.eligible {
            assert_eq!(pm.floor_micro_usd, o.floor_micro_usd, "{}", pm.machine_id);
            assert_eq!(
                pm.desired_draw_micro_usd, o.desired_micro_usd,
                "{}",
                pm.machine_id
            );
            assert_eq!(
                pm.granted_micro_usd, o.desired_micro_usd,
                "{}",
                pm.machine_id
            );
            assert_eq!(
                pm.shares.iter().map(|s| s.granted_micro_usd).sum::<i64>(),
                o.desired_micro_usd
            );
            total_desired += o.desired_micro_usd;
            n_paid += usize::from(o.desired_micro_usd > 0);
            n_reduced +=
                usize::from(o.earned_micro_usd > 0 && o.desired_micro_usd < o.floor_micro_usd);
        } else {
            assert_eq!(pm.granted_micro_usd, 0, "{}", pm.machine_id);
            assert!(pm.shares.is_empty(), "{}", pm.machine_id);
        }
    }
    // The pool does not bind: everything desired is granted, the rest is left.
    assert!(total_desired < POOL_MICRO_USD);
    assert_eq!(plan.pool_micro_usd, POOL_MICRO_USD);
    assert_eq!(plan.granted_total_micro_usd, total_desired);
    assert_eq!(plan.unallocated_micro_usd, POOL_MICRO_USD - total_desired);
    assert_eq!(run.settlement.granted_total_micro_usd, total_desired);
    assert!(
        n_paid > 0 && n_reduced > 0,
        "paid {n_paid}, reduced by earnings {n_reduced}"
    );

    // The probes did what the plan said, and a re-sent batch only duplicated.
    let bad_sig = fleet
        .cheaters()
        .filter(|m| m.cheat == Some(CheatKind::BadSignature))
        .map(|m| m.probe_at_ms.len() as u64)
        .sum::<u64>();
    let not_serving = fleet
        .machines
        .iter()
        .filter(|m| m.route == ProbeRoute::NotServing)
        .map(|m| m.probe_at_ms.len() as u64)
        .sum::<u64>();
    assert_eq!(
        run.probes
            .failed_by_code
            .get("bad_signature")
            .copied()
            .unwrap_or(0),
        bad_sig
    );
    assert_eq!(
        run.probes
            .failed_by_code
            .get("transport_error")
            .copied()
            .unwrap_or(0),
        not_serving
    );
    assert_eq!(
        run.probes.sent,
        fleet
            .machines
            .iter()
            .map(|m| m.probe_at_ms.len() as u64)
            .sum::<u64>()
    );
    let n_jobs = fleet.facts.earnings.len() as u64;
    assert_eq!(run.ingest.resent_duplicates, n_jobs.min(10_000));
    assert_eq!(run.ingest.kinds["earnings"].accepted, n_jobs);
    // Sessions went in live: opened (accepted), heartbeated hourly and
    // closed (refined), none a duplicate or a conflict.
    let live = run.ingest.kinds["sessions"];
    let n_sessions = fleet.facts.sessions.len() as u64;
    let n_closed = fleet
        .facts
        .sessions
        .iter()
        .filter(|s| s.disconnected_at.is_some())
        .count() as u64;
    assert_eq!(live.opened, n_sessions);
    assert_eq!(live.accepted, n_sessions);
    assert_eq!(live.closed, n_closed);
    assert!(live.heartbeats > n_sessions, "{live:?}");
    assert_eq!(live.refined, live.heartbeats + live.closed, "{live:?}");
    assert_eq!(live.duplicates, 0);
    assert_eq!(live.items, live.opened + live.heartbeats + live.closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fleet_settles_exactly_as_planted() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_demo(&options(7, 120, &dir), &|_| {}).await.unwrap();
    check(&run);
    let verify = run.engine.verify(run.epoch).await.unwrap();
    assert!(verify.ok, "{verify:?}");
    let text = floorline_demo::summary::render(&run);
    assert!(text.contains("Cheaters caught: 6 of 6 planted"), "{text}");
    assert!(!text.contains("MISSED"), "{text}");
    run.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_600_machine_demo_month_settles_exactly_as_planted() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_demo(&options(1, FleetSpec::DEMO_MACHINES, &dir), &|_| {})
        .await
        .unwrap();
    assert_eq!(run.fleet.machines.len(), 600);
    let (mean_milli_gb, big_ppm) = run.fleet.memory_mix();
    assert!(
        (25_000..=29_000).contains(&mean_milli_gb),
        "{mean_milli_gb}"
    );
    assert!((160_000..=200_000).contains(&big_ppm), "{big_ppm}");
    check(&run);
    // The settled month is the one a provider sees (HTTP, provider key).
    let mine = run
        .api
        .get("/v1/provider/machines", &run.provider_key)
        .await
        .unwrap();
    assert!(mine.to_string().contains("mac-"), "{mine}");
    run.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_settles_to_the_same_draws() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = run_demo(&options(11, 60, &a), &|_| {}).await.unwrap();
    let second = run_demo(&options(11, 60, &b), &|_| {}).await.unwrap();
    assert_eq!(
        first.fleet.manifest.sha256(),
        second.fleet.manifest.sha256()
    );
    assert_eq!(first.plan.manifest_sha256, second.plan.manifest_sha256);
    assert_eq!(first.plan, second.plan);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

#[test]
fn same_seed_same_manifest_other_seed_other_fleet() {
    let spec = |seed| FleetSpec {
        seed,
        epoch: october(),
        n_machines: 600,
    };
    let policy = Policy::default();
    let a = Fleet::generate(spec(1), &policy).unwrap();
    let again = Fleet::generate(spec(1), &policy).unwrap();
    let other = Fleet::generate(spec(2), &policy).unwrap();
    assert_eq!(a.manifest.sha256(), again.manifest.sha256());
    assert_eq!(a.manifest, again.manifest);
    assert_eq!(a.facts, again.facts);
    assert_ne!(a.manifest.sha256(), other.manifest.sha256());
    assert_ne!(a.manifest.facts_sha256, other.manifest.facts_sha256);
    let hardware = |f: &Fleet| {
        f.machines
            .iter()
            .map(|m| (m.hardware_model.clone(), m.reported_memory_gb))
            .collect::<Vec<_>>()
    };
    assert_ne!(hardware(&a), hardware(&other));
    let cheaters = |f: &Fleet| {
        f.cheaters()
            .map(|m| m.machine_id.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(cheaters(&a), cheaters(&other));
    // Another month is another fleet too.
    let november = Fleet::generate(
        FleetSpec {
            epoch: "2026-11".parse().unwrap(),
            ..spec(1)
        },
        &policy,
    )
    .unwrap();
    assert_ne!(a.manifest.sha256(), november.manifest.sha256());
}

#[test]
fn the_fleet_is_realistic() {
    let fleet = Fleet::generate(
        FleetSpec {
            seed: 3,
            epoch: october(),
            n_machines: 600,
        },
        &Policy::default(),
    )
    .unwrap();
    let m = &fleet.manifest;
    let n = m.machines.len();
    let eligible = m.machines.iter().filter(|e| e.eligible).count();
    let high_uptime = m
        .machines
        .iter()
        .filter(|e| e.uptime_ppm >= 950_000)
        .count();
    let near_gate = m
        .machines
        .iter()
        .filter(|e| (900_000..950_000).contains(&e.uptime_ppm))
        .count();
    let below = m
        .machines
        .iter()
        .filter(|e| e.uptime_ppm <= 900_000)
        .count();
    assert!(high_uptime * 100 >= n * 60, "{high_uptime}");
    assert!(near_gate * 100 >= n * 8, "{near_gate}");
    assert!(below * 100 >= n * 8, "{below}");
    assert!((100..=300).contains(&eligible), "{eligible}");
    // Some accounts own several machines; some machines change hands.
    let mut per_account: BTreeMap<&str, usize> = BTreeMap::new();
    for o in fleet.machines.iter().filter_map(|m| m.owners.first()) {
        *per_account.entry(o.account_id.as_str()).or_insert(0) += 1;
    }
    assert!(per_account.values().filter(|n| **n >= 2).count() >= 30);
    assert!(per_account.values().any(|n| *n >= 6));
    assert!(fleet.machines.iter().any(|m| m.owners.len() == 2));
    // Reconnects, health flaps, aliases, many consumers.
    assert!(fleet.facts.sessions.len() > 2 * n);
    assert!(fleet.facts.health.iter().filter(|h| !h.healthy).count() > n / 2);
    assert!(fleet
        .facts
        .sessions
        .iter()
        .any(|s| s.machine_id.starts_with("pk-")));
    let consumers: BTreeSet<&str> = fleet
        .facts
        .earnings
        .iter()
        .map(|e| e.consumer_account_id.as_str())
        .collect();
    assert!(consumers.len() > 500, "{}", consumers.len());
    assert!(
        fleet.facts.earnings.len() > 10_000,
        "{}",
        fleet.facts.earnings.len()
    );
    // Reasons cover every gate.
    let reasons: BTreeSet<&str> = m
        .machines
        .iter()
        .flat_map(|e| e.reasons.iter().map(String::as_str))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
}
