//! Invariants of every simulated month, over random small scenarios:
//! - program cost + unallocated = pool (no prior draws in a simulation);
//! - program cost ≤ desired draws, and the pool binds exactly when
//!   desired draws exceed it;
//! - at floor ≤ eligible ≤ machines, and the tiers hold every machine;
//! - served ≤ demanded; revenue = Σ tier earnings;
//! - the same scenario twice gives the same report.

use proptest::prelude::*;

use super::kit::*;

fn arb_scenario() -> impl Strategy<Value = String> {
    (
        0u32..40,
        1u32..5,
        any::<u32>(),
        0u32..300,
        0u32..4,
        0u32..5_000_000,
        prop_oneof![Just("priority"), Just("waterfill")],
        (0u32..101, 0u32..50, 0u32..3_000_000_000),
        any::<bool>(),
    )
        .prop_map(
            |(
                machines,
                months,
                seed,
                pool_usd,
                k_half,
                tokens_k,
                alloc,
                (up, growth, target),
                taper,
            )| {
                format!(
                    r#"
start = "2027-01"
months = {months}
seed = {seed}
[fleet]
machines = {machines}
growth = 0.{growth:02}
churn = 0.1
bound = 0.9
probed = 0.8
machines_per_account = 2
mix = [
  {{ model = "Mac14,2", memory_gb = 8, weight = 3 }},
  {{ model = "Mac16,10", memory_gb = 24, weight = 2 }},
  {{ model = "Mac16,11", memory_gb = 64, weight = 2 }},
  {{ model = "Mac15,14", memory_gb = 512, weight = 1 }},
]
[uptime]
persistence = 0.5
buckets = [{{ min = 0.{up:02}, max = 1, weight = 1 }}, {{ min = 0, max = 0.95, weight = 1 }}]
[demand]
tokens_per_month = {tokens}
growth = 0.2
price_micro_usd_per_million_tokens = 500000
throughput = [{{ min_gb = 0, tokens_per_s = 20 }}, {{ min_gb = 64, tokens_per_s = 40 }}]
[policy]
pool_micro_usd = {pool}
reduction_k = {k}
allocation = "{alloc}"
taper_enabled = {taper}
target_revenue_micro_usd = {target}
"#,
                    up = up.min(99),
                    tokens = u64::from(tokens_k) * 1000,
                    pool = u64::from(pool_usd) * 1_000_000,
                    k = f64::from(k_half) / 2.0,
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_month_balances(text in arb_scenario()) {
        let s = scenario(&text);
        let r = run(&s);
        prop_assert_eq!(r.months.len(), usize::try_from(s.months).unwrap());
        for m in &r.months {
            prop_assert_eq!(m.program_cost_micro_usd + m.unallocated_micro_usd, m.pool_micro_usd);
            prop_assert!(m.program_cost_micro_usd <= m.desired_total_micro_usd);
            prop_assert_eq!(m.pool_binding, m.desired_total_micro_usd > m.pool_micro_usd);
            if !m.pool_binding {
                prop_assert_eq!(m.program_cost_micro_usd, m.desired_total_micro_usd);
            }
            prop_assert!(m.at_floor <= m.eligible && m.eligible <= m.machines);
            prop_assert_eq!(m.tiers.iter().map(|t| t.machines).sum::<u32>(), m.machines);
            prop_assert_eq!(
                m.tiers.iter().map(|t| t.draws_micro_usd).sum::<i64>(),
                m.program_cost_micro_usd
            );
            prop_assert_eq!(
                m.tiers.iter().map(|t| t.earned_micro_usd).sum::<i64>(),
                m.organic_revenue_micro_usd
            );
            prop_assert!(m.tokens_served <= m.tokens_demanded);
        }
        prop_assert_eq!(run(&s), r);
    }
}
