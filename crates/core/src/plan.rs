//! The plan of one epoch (SPEC D14–D19 and the `plan` JSON of §8): every
//! machine valued, the units ranked and allocated, the manifest hashed.
//!
//! `plan` is a pure function: the same facts and policy give the same plan,
//! byte for byte, whatever the order of the input.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::allocate::{allocate, rank_order, Budget, Unit};
use crate::error::CoreError;
use crate::facts::{payees, EpochFacts, Windows};
use crate::money::{apply_ppm, portion, to_money, Ratio};
use crate::policy::Policy;
use crate::time::EpochId;
use crate::valuation::{self, Context, Reason, Valuation};

/// One account's part of a machine in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanShare {
    pub account_id: String,
    pub desired_micro_usd: i64,
    pub granted_micro_usd: i64,
    /// 1-based position among this run's allocation units; `None` when not a unit.
    pub rank: Option<u64>,
}

/// One machine in the plan, eligible or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanMachine {
    pub machine_id: String,
    pub eligible: bool,
    pub reasons: Vec<Reason>,
    pub verified_memory_gb: u32,
    pub tier_floor_micro_usd: i64,
    pub uptime_ppm: i64,
    pub floor_micro_usd: i64,
    pub earned_micro_usd: i64,
    pub desired_draw_micro_usd: i64,
    pub granted_micro_usd: i64,
    pub prior_micro_usd: i64,
    pub shares: Vec<PlanShare>,
}

/// A final draw of the epoch (D19): prior plus this run, per machine and account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestDraw {
    pub account_id: String,
    pub amount_micro_usd: i64,
    pub machine_id: String,
}

/// Figures an admin wants beside the plan; not part of the `plan` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanContext {
    /// `R`: trailing 30-day fleet organic revenue (D11).
    pub trailing_revenue_micro_usd: i64,
    /// The taper τ applied (1/1 when off).
    pub taper_num: i128,
    pub taper_den: i128,
    /// `B` and `W` of D14.
    pub budget_micro_usd: i64,
    pub reserve_micro_usd: i64,
    /// Per-machine detail, in `machines` order.
    pub valuations: Vec<Valuation>,
    /// The epoch's final draws, sorted (D19).
    pub final_draws: Vec<ManifestDraw>,
}

/// The plan of SPEC §8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub epoch: EpochId,
    pub pool_micro_usd: i64,
    pub already_settled_micro_usd: i64,
    pub granted_total_micro_usd: i64,
    pub unallocated_micro_usd: i64,
    pub manifest_sha256: String,
    pub machines: Vec<PlanMachine>,
    #[serde(skip)]
    pub context: PlanContext,
}

/// Computes the plan of an epoch from its facts.
pub fn plan(facts: &EpochFacts, policy: &Policy) -> Result<Plan, CoreError> {
    policy.check_epoch(facts.epoch, "epoch")?;
    let windows = Windows::new(facts.epoch, policy);

    // D11: trailing fleet revenue and the taper.
    let mut trailing: i128 = 0;
    for m in &facts.machines {
        trailing += i128::from(m.earnings.trailing_micro_usd);
    }
    let taper = valuation::taper(policy, &windows, trailing);
    let ctx = Context {
        policy,
        epoch: facts.epoch,
        windows,
        taper,
    };

    let mut order: Vec<&crate::facts::MachineFacts> = facts.machines.iter().collect();
    order.sort_by(|a, b| a.machine_id.cmp(&b.machine_id));
    // D12: one Secure Enclave key is one machine.
    let duplicates = valuation::duplicate_identities(order.iter().copied(), &windows);
    let valuations = order
        .iter()
        .map(|m| valuation::value(m, &ctx, duplicates.contains(&m.machine_id)))
        .collect::<Result<Vec<_>, _>>()?;
    // D14: payees, the connected groups of accounts and payout identities.
    let payee_of = payees(&facts.payout_accounts);
    let payee = |account: &str| -> String {
        payee_of
            .get(account)
            .cloned()
            .unwrap_or_else(|| account.to_string())
    };

    // Prior draws (D14).
    let mut prior_by_machine: BTreeMap<&str, i64> = BTreeMap::new();
    let mut prior_by_payee: BTreeMap<String, i64> = BTreeMap::new();
    let mut prior_total: i64 = 0;
    let mut prior_workhorse: i64 = 0;
    for d in &facts.prior_draws {
        let add = |v: &mut i64| -> Result<(), CoreError> {
            *v = v
                .checked_add(d.amount_micro_usd)
                .ok_or(CoreError::Overflow("prior draws"))?;
            Ok(())
        };
        add(prior_by_machine.entry(d.machine_id.as_str()).or_insert(0))?;
        add(prior_by_payee.entry(payee(&d.account_id)).or_insert(0))?;
        add(&mut prior_total)?;
        if policy.is_workhorse(d.verified_memory_gb) {
            add(&mut prior_workhorse)?;
        }
    }
    // D23: a period's pool is its portion of the month's.
    let pool = portion(policy.pool_micro_usd, facts.epoch);
    let budget_total = pool.saturating_sub(prior_total).max(0);
    let reserve = to_money(
        (apply_ppm(pool, policy.workhorse_reserve) - i128::from(prior_workhorse)).max(0),
        "reserve",
    )?
    .min(budget_total);

    // D14, D15: the units, ranked.
    let mut units: Vec<(Unit, usize)> = Vec::new();
    for (mi, v) in valuations.iter().enumerate() {
        let frozen = prior_by_machine
            .get(v.machine_id.as_str())
            .is_some_and(|p| *p > 0);
        if !v.eligible() || frozen {
            continue;
        }
        let floor = i128::from(v.floor_micro_usd);
        let idle = if floor > 0 {
            Ratio::new(floor - i128::from(v.earned_micro_usd).min(floor), floor)
        } else {
            Ratio::ZERO
        };
        for s in v.shares.iter().filter(|s| s.desired_micro_usd > 0) {
            units.push((
                Unit {
                    machine_id: v.machine_id.clone(),
                    account_id: s.account_id.clone(),
                    payee: payee(&s.account_id),
                    need: s.desired_micro_usd,
                    workhorse: policy.is_workhorse(v.verified_memory_gb),
                    idle,
                },
                mi,
            ));
        }
    }
    units.sort_by(|a, b| rank_order(&a.0, &b.0));

    let headroom = if policy.account_cap.0 > 0 {
        let cap = apply_ppm(pool, policy.account_cap);
        let mut map = BTreeMap::new();
        for (u, _) in &units {
            let used = i128::from(prior_by_payee.get(&u.payee).copied().unwrap_or(0));
            map.insert(u.payee.clone(), to_money((cap - used).max(0), "headroom")?);
        }
        Some(map)
    } else {
        None
    };
    let budget = Budget {
        total: budget_total,
        reserve,
        headroom,
    };
    let just_units: Vec<Unit> = units.iter().map(|(u, _)| u.clone()).collect();
    let grants = allocate(policy.allocation, &just_units, &budget);

    // Grants and ranks back onto machines.
    let mut granted: BTreeMap<(usize, &str), (i64, u64)> = BTreeMap::new();
    for (rank0, ((u, mi), g)) in units.iter().zip(&grants).enumerate() {
        let rank = u64::try_from(rank0).unwrap_or(u64::MAX).saturating_add(1);
        granted.insert((*mi, u.account_id.as_str()), (*g, rank));
    }
    let granted_total: i64 = grants.iter().sum();
    assert_invariant(
        granted_total >= 0 && granted_total <= budget_total,
        "Σ granted ≤ B",
    )?;
    for ((u, _), g) in units.iter().zip(&grants) {
        assert_invariant(*g >= 0 && *g <= u.need, "0 ≤ granted ≤ desired")?;
    }

    let machines: Vec<PlanMachine> = valuations
        .iter()
        .enumerate()
        .map(|(mi, v)| {
            let shares: Vec<PlanShare> = v
                .shares
                .iter()
                .map(|s| {
                    let (g, rank) = granted
                        .get(&(mi, s.account_id.as_str()))
                        .map_or((0, None), |(g, r)| (*g, Some(*r)));
                    PlanShare {
                        account_id: s.account_id.clone(),
                        desired_micro_usd: s.desired_micro_usd,
                        granted_micro_usd: g,
                        rank,
                    }
                })
                .collect();
            PlanMachine {
                machine_id: v.machine_id.clone(),
                eligible: v.eligible(),
                reasons: v.reasons.clone(),
                verified_memory_gb: v.verified_memory_gb,
                tier_floor_micro_usd: v.tier_floor_micro_usd,
                uptime_ppm: v.uptime_ppm,
                floor_micro_usd: v.floor_micro_usd,
                earned_micro_usd: v.earned_micro_usd,
                desired_draw_micro_usd: v.desired_micro_usd,
                granted_micro_usd: shares.iter().map(|s| s.granted_micro_usd).sum(),
                prior_micro_usd: prior_by_machine
                    .get(v.machine_id.as_str())
                    .copied()
                    .unwrap_or(0),
                shares,
            }
        })
        .collect();

    // D19: the manifest.
    let final_draws = summed_draws(
        facts
            .prior_draws
            .iter()
            .map(|d| {
                (
                    d.machine_id.as_str(),
                    d.account_id.as_str(),
                    d.amount_micro_usd,
                )
            })
            .chain(machines.iter().flat_map(|m| {
                m.shares
                    .iter()
                    .filter(|s| s.granted_micro_usd > 0)
                    .map(|s| {
                        (
                            m.machine_id.as_str(),
                            s.account_id.as_str(),
                            s.granted_micro_usd,
                        )
                    })
            })),
    )?;

    Ok(Plan {
        epoch: facts.epoch,
        pool_micro_usd: pool,
        already_settled_micro_usd: prior_total,
        granted_total_micro_usd: granted_total,
        unallocated_micro_usd: budget_total - granted_total,
        manifest_sha256: manifest_sha256(&final_draws),
        machines,
        context: PlanContext {
            trailing_revenue_micro_usd: to_money(trailing, "trailing revenue")?,
            taper_num: taper.num,
            taper_den: taper.den,
            budget_micro_usd: budget_total,
            reserve_micro_usd: reserve,
            valuations,
            final_draws,
        },
    })
}

/// D19's final draws: `(machine_id, account_id, amount)` summed per machine
/// and account, positive only, sorted by machine then account.
pub fn summed_draws<'a>(
    draws: impl IntoIterator<Item = (&'a str, &'a str, i64)>,
) -> Result<Vec<ManifestDraw>, CoreError> {
    let mut finals: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (machine_id, account_id, amount) in draws {
        let slot = finals.entry((machine_id, account_id)).or_insert(0);
        *slot = slot
            .checked_add(amount)
            .ok_or(CoreError::Overflow("manifest"))?;
    }
    Ok(finals
        .into_iter()
        .filter(|(_, amount)| *amount > 0)
        .map(
            |((machine_id, account_id), amount_micro_usd)| ManifestDraw {
                account_id: account_id.to_string(),
                amount_micro_usd,
                machine_id: machine_id.to_string(),
            },
        )
        .collect())
}

/// D19: SHA-256 (lowercase hex) of the compact JSON array of final draws,
/// sorted by machine then account, keys in the order `account_id`,
/// `amount_micro_usd`, `machine_id`.
pub fn manifest_sha256(draws: &[ManifestDraw]) -> String {
    let mut sorted: Vec<&ManifestDraw> = draws.iter().collect();
    sorted.sort_by(|a, b| (&a.machine_id, &a.account_id).cmp(&(&b.machine_id, &b.account_id)));
    let json = serde_json::to_string(&sorted).unwrap_or_else(|_| "[]".into());
    hex::encode(Sha256::digest(json.as_bytes()))
}

fn assert_invariant(ok: bool, what: &'static str) -> Result<(), CoreError> {
    if ok {
        Ok(())
    } else {
        Err(CoreError::Invariant(what))
    }
}
