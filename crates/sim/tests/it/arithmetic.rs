//! The simulator's monthly arithmetic against small scenarios computed by
//! hand. Every figure here is core's plan; these tests pin that the
//! simulator builds the facts it claims to build and carries each month into
//! the next.

use super::kit::*;

#[test]
fn three_idle_machines_at_full_uptime_cost_their_floors() {
    // 3 × Mac16,11 at its 64 GB cap, up all month, no demand:
    // each draws its floor $18 → program cost = 3 × 18 = $54, every month.
    let r = run(&scenario(&fleet(3, "Mac16,11", 2, "")));
    for m in &r.months {
        assert_eq!(m.machines, 3);
        assert_eq!(m.eligible, 3);
        assert_eq!(m.program_cost_micro_usd, 54 * USD);
        assert_eq!(m.desired_total_micro_usd, 54 * USD);
        assert_eq!(m.full_eligibility_cost_micro_usd, 54 * USD);
        assert_eq!(m.unallocated_micro_usd, 9_000 * USD - 54 * USD);
        assert!(!m.pool_binding);
        assert_eq!(m.at_floor, 3);
        assert_eq!(m.organic_revenue_micro_usd, 0);
        assert_eq!(m.tier(64).unwrap().mean_payout_micro_usd, 18 * USD);
    }
    assert_eq!(r.months[0].epoch.to_string(), "2026-09");
    assert_eq!(r.months[1].epoch.to_string(), "2026-10");
}

#[test]
fn a_mixed_fleet_costs_the_sum_of_its_tier_floors() {
    // 24 GB (Mac16,10 → $10) and 512 GB (Mac15,14 → $40), drawn at random:
    // cost = 10 · n₂₄ + 40 · n₅₁₂ with n₂₄ + n₅₁₂ = 3.
    let text = r#"
start = "2026-09"
months = 1
seed = 11
[fleet]
machines = 3
mix = [{ model = "Mac16,10", memory_gb = 24, weight = 1 }, { model = "Mac15,14", weight = 1 }]
"#;
    let m = &run(&scenario(text)).months[0];
    let n24 = i64::from(m.tier(24).unwrap().machines);
    let n512 = i64::from(m.tier(512).unwrap().machines);
    assert_eq!(n24 + n512, 3);
    assert_eq!(m.program_cost_micro_usd, (10 * n24 + 40 * n512) * USD);
}

#[test]
fn a_small_pool_binds() {
    // 3 × 512 GB want 3 × $40 = $120 from a $100 pool. No workhorse (48–96 GB),
    // so by rank (equally idle, then machine id): $40, $40, $20; nothing left.
    let r = run(&scenario(&fleet(
        3,
        "Mac15,14",
        1,
        "[policy]\npool_micro_usd = 100_000_000\n",
    )));
    let m = &r.months[0];
    assert_eq!(m.desired_total_micro_usd, 120 * USD);
    assert_eq!(m.program_cost_micro_usd, 100 * USD);
    assert_eq!(m.unallocated_micro_usd, 0);
    assert!(m.pool_binding);
    assert_eq!(m.at_floor, 3);
    // Mean payout: 100 / 3 = 33.333333…, half up to the µUSD.
    assert_eq!(m.tier(512).unwrap().mean_payout_micro_usd, 33_333_333);
    assert_eq!(r.figures.first_binding.as_ref().unwrap().month, 1);
}

/// 3 × 64 GB at 10 tokens/s, $1 per million tokens, 12 M tokens shared
/// equally (spread 0): 4 M tokens = $4 earned each.
fn earning_four_dollars(k: &str) -> String {
    fleet(
        3,
        "Mac16,11",
        1,
        &format!(
            r#"
[demand]
tokens_per_month = 12_000_000
price_micro_usd_per_million_tokens = 1_000_000
spread = 0
throughput = [{{ min_gb = 0, tokens_per_s = 10 }}]
[policy]
reduction_k = {k}
"#
        ),
    )
}

#[test]
fn k_reduces_draws_by_earnings() {
    // k = 1:   draw = 18 − 1 · 4 = $14 → cost 3 · 14 = $42, payout 4 + 14 = $18.
    // k = 0.5: draw = 18 − 0.5 · 4 = $16 → cost $48, payout $20.
    // k = 0:   draw = $18 → cost $54, payout $22.
    for (k, draw, payout) in [("1.0", 14, 18), ("0.5", 16, 20), ("0", 18, 22)] {
        let m = &run(&scenario(&earning_four_dollars(k))).months[0];
        assert_eq!(m.tokens_served, 12_000_000, "k = {k}");
        assert_eq!(m.organic_revenue_micro_usd, 12 * USD, "k = {k}");
        assert_eq!(m.program_cost_micro_usd, 3 * draw * USD, "k = {k}");
        assert_eq!(
            m.tier(64).unwrap().mean_payout_micro_usd,
            payout * USD,
            "k = {k}"
        );
    }
}

#[test]
fn demand_beyond_capacity_is_unserved() {
    // One machine at 10 tokens/s for 30 days = 25 920 000 tokens at most.
    let text = fleet(
        1,
        "Mac16,11",
        1,
        r#"
[demand]
tokens_per_month = 100_000_000
price_micro_usd_per_million_tokens = 1_000_000
throughput = [{ min_gb = 0, tokens_per_s = 10 }]
"#,
    );
    let m = &run(&scenario(&text)).months[0];
    assert_eq!(m.tokens_demanded, 100_000_000);
    assert_eq!(m.tokens_served, 25_920_000);
    // $25.92 earned ≥ the $18 floor: no draw.
    assert_eq!(m.organic_revenue_micro_usd, 25_920_000);
    assert_eq!(m.program_cost_micro_usd, 0);
    assert_eq!(m.at_floor, 0);
}

#[test]
fn the_cliff_guard_reads_last_months_total() {
    // Taper on, launched 2026-09-01, residual 0, no demand (R = 0, revenue term 1).
    // Sep: E − launch = 30 days → glide 1 → draw $18; total P = $18.
    // Oct: 61 days → glide (60 − 31)/60 = 29/60 → floor round(18 · 29/60) = $8.70;
    //      guard = ⌊0.7 · 18⌋ − 0 = $12.60 → draw max(8.70, min(18, 12.60)) = $12.60.
    // Nov: 91 days → glide 0 → floor 0; guard = ⌊0.7 · 12.60⌋ = $8.82.
    let r = run(&scenario(&fleet(
        1,
        "Mac16,11",
        3,
        "[policy]\ntaper_enabled = true\nlaunch_date = \"2026-09-01\"\n",
    )));
    let cost: Vec<i64> = r.months.iter().map(|m| m.program_cost_micro_usd).collect();
    assert_eq!(cost, vec![18_000_000, 12_600_000, 8_820_000]);
}

#[test]
fn the_taper_reads_trailing_revenue_across_months() {
    // One 64 GB machine earning $31 a month (31 M tokens at $1/M).
    // Jan 2027 (31 days): trailing 30 days = 30/31 of $31 = $30.
    // Feb 2027 (28 days): all of February + 2 of January's 31 days = 31 + 2 = $33.
    // Target $60: τ(Jan) = (60 − 30)/60 = 0.5, τ(Feb) = (60 − 33)/60 = 0.45.
    let text = r#"
start = "2027-01"
months = 2
[fleet]
machines = 1
mix = [{ model = "Mac16,11", weight = 1 }]
[demand]
tokens_per_month = 31_000_000
price_micro_usd_per_million_tokens = 1_000_000
throughput = [{ min_gb = 0, tokens_per_s = 40 }]
[policy]
taper_enabled = true
target_revenue_micro_usd = 60_000_000
"#;
    let r = run(&scenario(text));
    let trailing: Vec<i64> = r
        .months
        .iter()
        .map(|m| m.trailing_revenue_micro_usd)
        .collect();
    assert_eq!(trailing, vec![30 * USD, 33 * USD]);
    let taper: Vec<i64> = r.months.iter().map(|m| m.taper_ppm).collect();
    assert_eq!(taper, vec![500_000, 450_000]);
    // Earned $31 ≥ any tapered floor: no draw either month.
    assert!(r.months.iter().all(|m| m.program_cost_micro_usd == 0));
}

#[test]
fn uptime_at_ninety_five_percent_earns_half_the_floor() {
    // Uptime exactly 0.95: num = 0.05 · T, den = 0.1 · T → 18 · ½ = $9.
    let text = fleet(
        2,
        "Mac16,11",
        1,
        "[uptime]\nbuckets = [{ min = 0.95, max = 0.95, weight = 1 }]\n",
    );
    let m = &run(&scenario(&text)).months[0];
    assert_eq!(m.program_cost_micro_usd, 2 * 9 * USD);
    assert_eq!(m.full_eligibility_cost_micro_usd, 2 * 18 * USD);
}

#[test]
fn machines_below_the_gate_or_unbound_get_nothing() {
    // Uptime 0.90 is not above the gate; unbound and unprobed machines fail too.
    let text = fleet(
        2,
        "Mac16,11",
        1,
        "[uptime]\nbuckets = [{ min = 0.9, max = 0.9, weight = 1 }]\n",
    );
    let m = &run(&scenario(&text)).months[0];
    assert_eq!((m.eligible, m.program_cost_micro_usd), (0, 0));
    assert_eq!(m.reasons.get("uptime_below_gate"), Some(&2));

    let text =
        fleet(2, "Mac16,11", 1, "").replace("machines = 2", "machines = 2\nbound = 0\nprobed = 0");
    let m = &run(&scenario(&text)).months[0];
    assert_eq!(m.eligible, 0);
    assert_eq!(m.reasons.get("no_payout_account"), Some(&2));
    assert_eq!(m.reasons.get("no_proven_work"), Some(&2));
}

#[test]
fn the_fleet_grows_and_churns_as_written() {
    // 100 machines, +10 % a month, 20 % replaced: 100 → 110 → 121 machines;
    // 20 leave and 30 join in month 2, 22 leave and 33 join in month 3.
    let text = fleet(100, "Mac16,11", 3, "").replace(
        "machines = 100",
        "machines = 100\ngrowth = 0.1\nchurn = 0.2",
    );
    let r = run(&scenario(&text));
    let sizes: Vec<(u32, u32, u32)> = r
        .months
        .iter()
        .map(|m| (m.machines, m.joined, m.left))
        .collect();
    assert_eq!(sizes, vec![(100, 100, 0), (110, 30, 20), (121, 33, 22)]);
}

#[test]
fn the_shared_identifier_caps_verified_memory() {
    // Mac14,9 reporting 64 GB is capped at 32 GB (mac-models.md): $12, not $18.
    let text = fleet(1, "Mac14,9", 1, "")
        .replace("model = \"Mac14,9\"", "model = \"Mac14,9\", memory_gb = 64");
    let m = &run(&scenario(&text)).months[0];
    assert_eq!(m.program_cost_micro_usd, 12 * USD);
    assert_eq!(m.machines_64_gb_plus, 0);
    assert_eq!(m.reported_memory_gb_total, 64);
}
