//! What each way of waiting costs: the round trip against the CPU time per
//! message, one point per transport and strategy, and the Pareto frontier
//! through them (no other point is both faster and cheaper). Drawn for the
//! closed loop and for sparse open loops, where a spinner's idle polling
//! shows; only when the run measured more than one way of waiting.

use std::path::Path;

use crate::output::WriteError;

use super::charts::{Axis, Chart, Look, Point, ScatterChart};
use super::html::{capitalised, escape};
use super::{at_smallest_size, placement_words, Figure, Report};
use crate::results::format::{bytes, ns, rate_text, short_ns};
use crate::results::pattern::Load;
use crate::results::{Pattern, Placement, Row};

/// Open loops at most this sparse get a chart: where a spinner pays for
/// waiting most.
const SPARSE: f64 = 10_000.0;
/// The round trip the summary asks the cheapest way to stay under.
const QUICK_NS: f64 = 10_000.0;

/// One chart's worth: which rows, and how the page names them.
struct Scene<'a> {
    key: String,
    /// What the y axis is: a round trip, or the time from when it was due.
    y: &'static str,
    /// For the chart's title.
    short: String,
    /// For the caption and the sentence.
    what: String,
    rows: Vec<&'a Row>,
}

/// A transport × strategy: (name, CPU ns per message, p50, p99).
type Spot = (String, f64, f64, f64);

/// The charts of one placement.
pub fn charts(
    report: &Report,
    placement: Placement,
    out: &Path,
) -> Result<Vec<Figure>, WriteError> {
    let mut figures = Vec::new();
    for scene in scenes(report, placement) {
        let spots = spots(&scene.rows);
        if spots.len() < 2 {
            continue;
        }
        let chart = scatter(&scene, &spots, placement);
        let stem = format!("frontier-{}-{placement}", scene.key);
        let caption = format!("{}, {}: each point is a transport and a way of waiting, its median (whisker to p99) against the CPU time both processes spent per message. The line joins the points no other beats on both: the least CPU for each latency.", capitalised(&scene.what), placement_words(placement));
        figures.push(super::figures::emit(
            Chart::Scatter(chart),
            out,
            stem,
            caption,
        )?);
    }
    Ok(figures)
}

/// The frontier of each chart in words.
pub fn sentences(report: &Report, placement: Placement) -> Vec<String> {
    let mut out = Vec::new();
    for scene in scenes(report, placement) {
        let spots = spots(&scene.rows);
        if spots.len() < 2 {
            continue;
        }
        let best: Vec<String> = frontier(&spots)
            .iter()
            .map(|s| format!("{} {} for {} of CPU", escape(&s.0), ns(s.2), ns(s.1)))
            .collect();
        let cheapest = spots
            .iter()
            .filter(|s| s.2 < QUICK_NS)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(String::new(), |s| {
                format!(
                    "; the cheapest under {}: {} ({} of CPU a message)",
                    ns(QUICK_NS),
                    escape(&s.0),
                    ns(s.1)
                )
            });
        out.push(format!(
            "<b>{}, the least CPU for each latency</b>: {}{cheapest}.",
            capitalised(&scene.what),
            best.join("; ")
        ));
    }
    out
}

/// The closed loop and the sparse open loops, at their smallest size, when
/// the run measured more than one way of waiting.
fn scenes<'a>(report: &Report<'a>, placement: Placement) -> Vec<Scene<'a>> {
    if report.measured.rows.iter().all(|r| r.wait.is_block()) {
        return Vec::new();
    }
    let rows: Vec<&Row> = report.ok(placement).collect();
    let mut scenes = Vec::new();
    for pattern in Pattern::ALL {
        let d = pattern.describe();
        if !d.waits || !pattern.is_latency() {
            continue;
        }
        let Some((size, at)) = at_smallest_size(&rows, pattern) else {
            continue;
        };
        let y = d
            .metrics
            .iter()
            .find(|m| m.field == "rtt_ns.p50")
            .map_or("p50", |m| m.label);
        scenes.extend(loads(pattern, (d.load, y), size, at));
    }
    scenes
}

/// A closed loop is one scene; an open loop one per sparse offered rate.
fn loads<'a>(
    pattern: Pattern,
    (load, y): (Load, &'static str),
    size: u64,
    at: Vec<&'a Row>,
) -> Vec<Scene<'a>> {
    let size_words = bytes(size);
    match load {
        Load::None => vec![Scene {
            key: format!("{pattern}"),
            y,
            short: format!("{size_words}, closed loop"),
            what: format!(
                "{size_words}, closed loop (each message sent when the last echo is back)"
            ),
            rows: at,
        }],
        Load::OfferedRate => sparse_rates(&at)
            .into_iter()
            .map(|rate| Scene {
                key: format!("{pattern}-{rate}"),
                y,
                short: format!("{size_words}, {}/s open loop", rate_text(rate)),
                what: format!("{size_words}, open loop at {}/s offered", rate_text(rate)),
                rows: at
                    .iter()
                    .copied()
                    .filter(|r| r.offered_per_s == Some(rate))
                    .collect(),
            })
            .collect(),
        // Many processes share the work: no one way of waiting to cost.
        Load::Senders | Load::Subscribers | Load::Groups => Vec::new(),
    }
}

/// The offered rates of `at` sparse enough for a chart, lowest first.
fn sparse_rates(at: &[&Row]) -> Vec<f64> {
    let mut rates: Vec<f64> = at
        .iter()
        .filter_map(|r| r.offered_per_s)
        .filter(|r| *r <= SPARSE)
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    rates
}

fn spots(rows: &[&Row]) -> Vec<Spot> {
    rows.iter()
        .filter_map(|r| {
            let cpu = r.cpu_ns_per_msg.as_ref()?;
            let t = r.rtt_ns.as_ref()?;
            Some((
                r.mechanism.clone(),
                cpu.parent + cpu.child,
                t.p50 as f64,
                t.p99 as f64,
            ))
        })
        .filter(|s| s.1 > 0.0 && s.2 > 0.0)
        .collect()
}

/// The points no other beats on both CPU and latency, cheapest first.
fn frontier(spots: &[Spot]) -> Vec<&Spot> {
    let mut by_cpu: Vec<&Spot> = spots.iter().collect();
    by_cpu.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.total_cmp(&b.2)));
    let mut best = f64::INFINITY;
    by_cpu
        .into_iter()
        .filter(|s| {
            let better = s.2 < best;
            best = best.min(s.2);
            better
        })
        .collect()
}

fn scatter(scene: &Scene, spots: &[Spot], placement: Placement) -> ScatterChart {
    let axis = |label: &str| Axis {
        label: label.into(),
        ticks: Vec::new(),
        format: short_ns,
    };
    ScatterChart {
        title: format!("Latency against CPU, {}, {placement}", scene.short),
        x: axis("CPU time per message, both processes (log)"),
        y: axis(&format!("{}, whisker to p99 (log)", scene.y)),
        points: spots
            .iter()
            .enumerate()
            .map(|(i, s)| Point {
                name: s.0.clone(),
                look: Look(i),
                x: s.1,
                y: s.2,
                whisker: Some(s.3),
            })
            .collect(),
        frontier: frontier(spots).iter().map(|s| (s.1, s.2)).collect(),
    }
}
