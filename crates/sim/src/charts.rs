//! SVG charts, drawn with plotters' SVG backend (no fonts needed: text is
//! written as SVG `<text>`): `cost.svg` (program cost and desired draws
//! against the pool), `payout_by_tier.svg` (mean payout per machine of each
//! tier) and `revenue.svg` (organic revenue, and the taper's target when the
//! taper is on). With two runs, the first is drawn solid and the second
//! dashed, in the same chart.
//!
//! Charts are the one place the simulator uses floating point: dollars on an
//! axis. No money is decided here.

use plotters::prelude::*;
use std::path::{Path, PathBuf};

use crate::error::SimError;
use crate::report::{MonthStats, SimReport};
use crate::text::{populated_tiers, tier_label};

pub const COST_SVG: &str = "cost.svg";
pub const PAYOUT_SVG: &str = "payout_by_tier.svg";
pub const REVENUE_SVG: &str = "revenue.svg";

const SIZE: (u32, u32) = (960, 540);

struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    color: RGBAColor,
    dashed: bool,
    width: u32,
}

fn dollars(micro_usd: i64) -> f64 {
    micro_usd as f64 / 1e6
}

fn points(r: &SimReport, f: impl Fn(&MonthStats) -> i64) -> Vec<(f64, f64)> {
    r.months
        .iter()
        .map(|m| (f64::from(m.month), dollars(f(m))))
        .collect()
}

const RUN_COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

fn run_color(i: usize) -> RGBColor {
    RUN_COLORS.get(i).copied().unwrap_or(BLACK)
}

fn run_name(runs: &[&SimReport], i: usize) -> String {
    let Some(r) = runs.get(i) else {
        return String::new();
    };
    if runs.len() > 1 {
        format!("{} {}", if i == 0 { "A" } else { "B" }, r.scenario.name)
    } else {
        r.scenario.name.clone()
    }
}

/// Draws all three charts into `dir`.
pub fn write_charts(dir: &Path, runs: &[&SimReport]) -> Result<Vec<PathBuf>, SimError> {
    let labels = month_labels(runs);
    let x_label = |x: u32| {
        labels
            .get(x.saturating_sub(1) as usize)
            .cloned()
            .unwrap_or_default()
    };

    // Program cost vs pool.
    let mut cost = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let c = run_color(i);
        let name = run_name(runs, i);
        let dashed = i > 0;
        cost.push(Series {
            label: format!("{name}: program cost (Σ draws)"),
            points: points(r, |m| m.program_cost_micro_usd),
            color: c.to_rgba(),
            dashed,
            width: 3,
        });
        cost.push(Series {
            label: format!("{name}: desired draws"),
            points: points(r, |m| m.desired_total_micro_usd),
            color: c.mix(0.45),
            dashed,
            width: 1,
        });
        cost.push(Series {
            label: format!("{name}: pool"),
            points: points(r, |m| m.pool_micro_usd),
            color: BLACK.mix(if i == 0 { 0.8 } else { 0.45 }),
            dashed: true,
            width: 2,
        });
    }
    let cost_path = dir.join(COST_SVG);
    line_chart(
        &cost_path,
        "Program cost vs pool",
        "USD per month",
        &x_label,
        &cost,
    )?;

    // Mean payout by tier.
    let mut payout = Vec::new();
    if let Some(first) = runs.first() {
        let tiers = populated_tiers(first);
        for (i, r) in runs.iter().enumerate() {
            for (k, (g, _)) in tiers.iter().enumerate() {
                payout.push(Series {
                    label: format!("{}: {}", run_name(runs, i), tier_label(r, *g)),
                    points: points(r, |m| m.tier(*g).map_or(0, |t| t.mean_payout_micro_usd)),
                    color: Palette99::pick(k).to_rgba(),
                    dashed: i > 0,
                    width: 2,
                });
            }
        }
    }
    let payout_path = dir.join(PAYOUT_SVG);
    line_chart(
        &payout_path,
        "Mean payout per machine by tier (organic + draw)",
        "USD per machine per month",
        &x_label,
        &payout,
    )?;

    // Organic revenue.
    let mut revenue = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let c = run_color(i);
        let name = run_name(runs, i);
        revenue.push(Series {
            label: format!("{name}: organic revenue"),
            points: points(r, |m| m.organic_revenue_micro_usd),
            color: c.to_rgba(),
            dashed: i > 0,
            width: 3,
        });
        revenue.push(Series {
            label: format!("{name}: program cost"),
            points: points(r, |m| m.program_cost_micro_usd),
            color: c.mix(0.45),
            dashed: i > 0,
            width: 1,
        });
        let p = &r.scenario.policy;
        if p.taper_enabled {
            revenue.push(Series {
                label: format!("{name}: taper target"),
                points: points(r, |_| p.target_revenue_micro_usd),
                color: BLACK.mix(0.6),
                dashed: true,
                width: 1,
            });
        }
    }
    let revenue_path = dir.join(REVENUE_SVG);
    line_chart(
        &revenue_path,
        "Organic revenue",
        "USD per month",
        &x_label,
        &revenue,
    )?;
    Ok(vec![cost_path, payout_path, revenue_path])
}

/// Epoch ids when every run starts in the same month, else month numbers.
fn month_labels(runs: &[&SimReport]) -> Vec<String> {
    let n = runs.iter().map(|r| r.months.len()).max().unwrap_or(0);
    let same_start = runs
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.scenario.start == b.scenario.start));
    let longest = runs.iter().max_by_key(|r| r.months.len());
    (0..n)
        .map(|i| match longest.and_then(|r| r.months.get(i)) {
            Some(m) if same_start => m.epoch.to_string(),
            _ => format!("{}", i + 1),
        })
        .collect()
}

fn line_chart(
    path: &Path,
    title: &str,
    y_desc: &str,
    x_label: &dyn Fn(u32) -> String,
    series: &[Series],
) -> Result<(), SimError> {
    let err = |e: &dyn std::fmt::Display| SimError::chart(path, e);
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0_f64, f64::max)
        .max(2.0);
    let y_top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let y_max = if y_top > 0.0 { y_top * 1.1 } else { 1.0 };

    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(88)
        .build_cartesian_2d(1.0_f64..x_max, 0.0_f64..y_max)
        .map_err(|e| err(&e))?;
    let x_ticks = (x_max as usize).min(12);
    chart
        .configure_mesh()
        .x_labels(x_ticks)
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|x| {
            if (x.fract()).abs() < 1e-9 && *x >= 1.0 {
                x_label(*x as u32)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("${y:.0}"))
        .x_desc("month")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| err(&e))?;
    for s in series {
        let style = ShapeStyle {
            color: s.color,
            filled: false,
            stroke_width: s.width,
        };
        let anno = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
                .map_err(|e| err(&e))?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.clone(), style))
                .map_err(|e| err(&e))?
        };
        // A dashed series gets a dashed legend key: two segments with a gap.
        let gap = if s.dashed { 6 } else { 0 };
        anno.label(s.label.clone()).legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (9, 0)], style)
                + PathElement::new(vec![(9 + gap, 0), (24, 0)], style)
        });
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
