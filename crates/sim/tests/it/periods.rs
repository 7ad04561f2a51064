//! Period runs (SPEC §10, issue 18): `[policy] period = "day"` plans every
//! simulated month as its days, and the month's figures are their sums.

use floorline_sim::output::{months_csv, PERIOD_COLUMNS};
use floorline_sim::SimReport;

use super::kit::*;

/// A mixed fleet (24, 48, 64 and 192 GB, equal weights), up
/// `uptime` of every month, bound and probed, no demand, from September 2026.
fn mixed(n: u32, months: u32, uptime: &str, policy: &str) -> String {
    format!(
        r#"
start = "2026-09"
months = {months}
seed = 11
[fleet]
machines = {n}
mix = [
  {{ memory_gb = 24, weight = 1 }},
  {{ memory_gb = 48, weight = 1 }},
  {{ memory_gb = 64, weight = 1 }},
  {{ memory_gb = 192, weight = 1 }},
]
[uptime]
buckets = [{{ min = {uptime}, max = {uptime}, weight = 1 }}]
[policy]
{policy}
"#
    )
}

fn daily(text: &str) -> SimReport {
    run(&scenario(
        &text.replace("[policy]\n", "[policy]\nperiod = \"day\"\n"),
    ))
}

#[test]
fn a_daily_scenario_runs_every_day_of_every_month() {
    let r = daily(&mixed(40, 3, "1.0", ""));
    let days: Vec<u32> = r
        .months
        .iter()
        .map(|m| m.periods.as_ref().unwrap().n_periods)
        .collect();
    assert_eq!(days, vec![30, 31, 30], "September, October, November");
    for m in &r.months {
        // D21: the days' pools add up to the month's exactly.
        assert_eq!(m.pool_micro_usd, 9_000 * USD);
        let p = m.periods.as_ref().unwrap();
        assert_eq!(
            p.machine_periods,
            u64::from(m.machines) * u64::from(p.n_periods)
        );
    }
}

#[test]
fn a_months_days_grant_no_more_than_the_monthly_pool() {
    // 400 machines with floors of $10–$30 want ~$7,400 a month; the pool is $2,000.
    let r = daily(&mixed(400, 2, "1.0", "pool_micro_usd = 2_000_000_000"));
    for m in &r.months {
        assert!(m.pool_binding, "{}", m.epoch);
        assert!(m.program_cost_micro_usd <= 2_000 * USD, "{}", m.epoch);
        assert_eq!(
            m.program_cost_micro_usd + m.unallocated_micro_usd,
            2_000 * USD,
            "Σ granted + Σ unallocated = the month's pool"
        );
        let p = m.periods.as_ref().unwrap();
        assert_eq!(p.binding_periods, p.n_periods, "every day binds");
    }
}

#[test]
fn an_ample_pool_and_a_fully_up_fleet_pay_the_same_floors_monthly_and_daily() {
    let text = mixed(60, 3, "1.0", "");
    let monthly = run(&scenario(&text));
    let daily = daily(&text);
    for (a, b) in monthly.months.iter().zip(&daily.months) {
        assert!(a.program_cost_micro_usd > 0);
        assert_eq!(
            a.program_cost_micro_usd, b.program_cost_micro_usd,
            "{}",
            a.epoch
        );
        assert_eq!(a.desired_total_micro_usd, b.desired_total_micro_usd);
        assert_eq!(
            a.full_eligibility_cost_micro_usd,
            b.full_eligibility_cost_micro_usd
        );
        assert_eq!((a.eligible, a.at_floor), (b.eligible, b.at_floor));
        for (ta, tb) in a.tiers.iter().zip(&b.tiers) {
            assert_eq!(ta, tb, "tier {} GB in {}", ta.min_gb, a.epoch);
        }
    }
}

#[test]
fn three_days_down_cost_three_days_daily_but_the_whole_month_monthly() {
    // September 2026 has 30 days; 90 % uptime = up 27 days, down the last 3.
    // Monthly: A · 10⁶ > 0.9 · T fails (it is equal), so no machine is paid.
    // Daily: 27 full days each pay portion(floor), which add up to
    // ⌊floor · 27 / 30⌋, and the 3 days down pay nothing.
    let text = mixed(8, 1, "0.9", "");
    let monthly = run(&scenario(&text));
    let m = &monthly.months[0];
    assert_eq!(m.program_cost_micro_usd, 0);
    assert_eq!(m.eligible, 0);
    assert_eq!(m.reasons.get("uptime_below_gate"), Some(&8));

    let daily = daily(&text);
    let d = &daily.months[0];
    let p = d.periods.as_ref().unwrap();
    assert_eq!(d.eligible, 8);
    assert_eq!(p.eligible_machine_periods, 8 * 27);
    assert_eq!(p.reasons.get("uptime_below_gate"), Some(&(8 * 3)));
    let mut expected = 0;
    for t in d.tiers.iter().filter(|t| t.machines > 0) {
        let per_machine = t.tier_floor_micro_usd * 27 / 30;
        assert_eq!(
            t.draws_micro_usd,
            per_machine * i64::from(t.machines),
            "{} GB: 27/30 of the floor",
            t.min_gb
        );
        expected += t.draws_micro_usd;
    }
    assert!(expected > 0);
    assert_eq!(d.program_cost_micro_usd, expected);
}

#[test]
fn monthly_runs_have_no_period_columns_and_daily_runs_do() {
    let text = mixed(8, 1, "1.0", "");
    let monthly = run(&scenario(&text));
    assert!(monthly.months[0].periods.is_none());
    let csv = months_csv(&[&monthly]);
    assert!(!csv.lines().next().unwrap().contains("n_periods"));
    let daily = daily(&text);
    let csv = months_csv(&[&monthly, &daily]);
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.ends_with(&PERIOD_COLUMNS.join(",")), "{header}");
    assert!(lines.next().unwrap().ends_with(",month,1,8,8,8,0,0"));
    assert!(lines.next().unwrap().ends_with(",day,30,240,240,240,0,0"));
}

#[test]
fn an_hourly_month_of_a_small_fleet_pays_the_monthly_floors() {
    let text = mixed(4, 1, "1.0", "");
    let monthly = run(&scenario(&text));
    let hourly = run(&scenario(
        &text.replace("[policy]\n", "[policy]\nperiod = \"hour\"\n"),
    ));
    let (a, b) = (&monthly.months[0], &hourly.months[0]);
    assert_eq!(b.periods.as_ref().unwrap().n_periods, 30 * 24);
    assert_eq!(b.epoch, a.epoch, "a period month is named by its month");
    assert_eq!(a.program_cost_micro_usd, b.program_cost_micro_usd);
    assert_eq!(a.pool_micro_usd, b.pool_micro_usd);
}
