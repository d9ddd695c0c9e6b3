//! What the page says first, per placement: sentences drawn from the data,
//! and transport × size grids coloured on a log scale.

use super::figures::ranked_size;
use super::html::escape;
use super::{at_smallest_size, Group, Report};
use crate::results::format::{bytes, ns};
use crate::results::format::{multiple_text, rate_text};
use crate::results::format::{value_at, Place};
use crate::results::pattern::{Better, Load, Metric, RankedAt, Ranking};
use crate::results::{Pattern, Placement, Row, Status};

/// Per ranked pattern, the best and the worst transport at each size it
/// ranks at (every size, or the summary's): the answer to "which
/// transport, for my size".
pub fn sentences(report: &Report, placement: Placement) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in Pattern::ALL {
        let Some(ranking) = &pattern.describe().ranking else {
            continue;
        };
        let sizes = match ranking.at {
            RankedAt::EverySize => report.sizes.clone(),
            RankedAt::MostCarried => ranked_size(report, placement, pattern)
                .into_iter()
                .collect(),
        };
        for size in sizes {
            out.extend(best_and_worst(report, placement, pattern, ranking, size));
        }
    }
    out
}

fn best_and_worst(
    report: &Report,
    placement: Placement,
    pattern: Pattern,
    ranking: &Ranking,
    size: u64,
) -> Option<String> {
    let mut at: Vec<Ranked> = report
        .ok(placement)
        .filter(|r| r.pattern == pattern && r.size_bytes == size)
        .filter_map(|r| Some(ranked_row(report, r, (ranking.by.read)(r)?)))
        .collect();
    at.sort_by(|a, b| a.1.total_cmp(&b.1));
    let behind = match ranking.by.better {
        Better::Lower => "as long",
        Better::Higher => {
            at.reverse();
            "less"
        }
    };
    let (first, last) = (at.first()?, at.last()?);
    let unit = ranking.by.unit;
    Some(ranked(
        &format!("{}, {}", bytes(size), ranking.noun),
        first,
        last,
        at.len(),
        |v| value_at(v, unit, Place::Ranked),
        behind,
    ))
}

/// A transport's figure, and that figure against its physical limit.
type Ranked<'a> = (&'a str, f64, Option<String>);

fn ranked_row<'a>(report: &Report, r: &'a Row, value: f64) -> Ranked<'a> {
    let limit = report.result.floors.as_ref().and_then(|f| f.multiple(r));
    (r.mechanism.as_str(), value, limit.map(multiple_text))
}

/// "64 B, round trip: fastest X (3 µs = 1.1× context switch); slowest of
/// 17, Y (30 µs), 10× as long."
fn ranked(
    what: &str,
    first: &Ranked,
    last: &Ranked,
    of: usize,
    fmt: impl Fn(f64) -> String,
    behind: &str,
) -> String {
    let limit = first
        .2
        .as_ref()
        .map_or(String::new(), |m| format!(" = {m}"));
    if of == 1 {
        return format!(
            "<b>{what}</b>: only {} ran ({}{limit}).",
            escape(first.0),
            fmt(first.1)
        );
    }
    let factor = (first.1 / last.1).max(last.1 / first.1);
    format!(
        "<b>{what}</b>: fastest <b>{}</b> ({}{limit}); slowest of {of}, {} ({}), {factor:.1}× {behind}.",
        escape(first.0),
        fmt(first.1),
        escape(last.0),
        fmt(last.1)
    )
}

/// A background from green (best of the grid) to red (worst), by the
/// value's place between the grid's extremes on a log scale.
fn shade(v: f64, (lo, hi): (f64, f64), lower_is_better: bool) -> String {
    let span = (hi / lo).ln();
    let t = if span > 0.0 {
        (v / lo).ln() / span
    } else {
        0.0
    };
    let badness = if lower_is_better { t } else { 1.0 - t };
    format!(
        "hsl({:.0},60%,80%)",
        120.0 * (1.0 - badness.clamp(0.0, 1.0))
    )
}

/// A transport × size table of one figure, each cell coloured; a case
/// that did not run says why when hovered.
pub fn grid(report: &Report, placement: Placement, pattern: Pattern) -> String {
    let Some(ranking) = &pattern.describe().ranking else {
        return String::new();
    };
    let rows: Vec<&Row> = report
        .result
        .rows
        .iter()
        .filter(|r| r.placement == placement && r.pattern == pattern)
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut sizes: Vec<u64> = report.sizes.clone();
    if rows.iter().any(|r| r.size_bytes == 0) {
        sizes.insert(0, 0);
    }
    let mut s = format!(
        "<div class=\"scroll\"><p class=\"gridtitle\">{}, {}</p><table class=\"grid\"><tr><th>transport</th>",
        ranking.grid,
        super::placement_words(placement)
    );
    for size in &sizes {
        let name = if *size == 0 {
            "no payload".into()
        } else {
            bytes(*size)
        };
        s += &format!("<th>{name}</th>");
    }
    s += "</tr>\n";
    s += &grid_body(report, &rows, &sizes, ranking.by);
    s + "</table></div>\n"
}

/// One row per transport, under its group's heading.
fn grid_body(report: &Report, rows: &[&Row], sizes: &[u64], metric: &Metric) -> String {
    let range = rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| (metric.read)(r))
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lower_is_better = metric.better == Better::Lower;
    let mut s = String::new();
    for group in Group::ALL {
        let mine: Vec<&str> = report
            .transports
            .iter()
            .filter(|t| t.1 == group && rows.iter().any(|r| r.mechanism == t.0))
            .map(|t| t.0.as_str())
            .collect();
        if mine.is_empty() {
            continue;
        }
        s += &format!(
            "<tr class=\"group\"><th colspan=\"{}\">{}</th></tr>\n",
            sizes.len() + 1,
            group.title()
        );
        for m in mine {
            s += &format!("<tr><td>{}</td>", super::html::swatch(report, m));
            for size in sizes {
                let row = rows
                    .iter()
                    .find(|r| r.mechanism == m && r.size_bytes == *size);
                s += &cell(row.copied(), metric, range, lower_is_better);
            }
            s += "</tr>\n";
        }
    }
    s
}

fn cell(row: Option<&Row>, metric: &Metric, range: (f64, f64), lower_is_better: bool) -> String {
    let Some(r) = row else {
        return "<td></td>".into();
    };
    let reason = escape(r.reason.as_deref().unwrap_or(""));
    match (r.status, (metric.read)(r)) {
        (Status::Ok, Some(v)) => format!(
            "<td style=\"background:{}\">{}</td>",
            shade(v, range, lower_is_better),
            value_at(v, metric.unit, Place::Cell)
        ),
        (Status::Unsupported, _) => format!("<td class=\"na\" title=\"{reason}\">unsupported</td>"),
        (Status::Failed, _) => format!("<td class=\"bad\" title=\"{reason}\">failed</td>"),
        _ => "<td>–</td>".into(),
    }
}

/// The loaded workloads, per placement: at their smallest message size,
/// the highest offered rate each transport sustained and how fan-in
/// scaled from the fewest senders to the most; at every size, how long
/// a fan-out took to reach every subscriber.
pub fn load_sentences(report: &Report, placement: Placement) -> Vec<String> {
    let rows: Vec<&Row> = report.ok(placement).collect();
    Pattern::ALL
        .into_iter()
        .flat_map(|pattern| {
            let Some((size, at)) = at_smallest_size(&rows, pattern).filter(|(s, _)| *s > 0) else {
                return Vec::new();
            };
            match pattern.describe().load {
                Load::OfferedRate => saturation(size, &at).into_iter().collect(),
                Load::Senders => scaling(size, &at).into_iter().collect(),
                Load::Subscribers => every_size(&rows, pattern),
                Load::Groups | Load::None => Vec::new(),
            }
        })
        .collect()
}

/// A fan-out sentence for each message size its rows have.
fn every_size(rows: &[&Row], pattern: Pattern) -> Vec<String> {
    let mut sizes: Vec<u64> = rows
        .iter()
        .filter(|r| r.pattern == pattern)
        .map(|r| r.size_bytes)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .into_iter()
        .filter_map(|size| {
            let at: Vec<&Row> = rows
                .iter()
                .copied()
                .filter(|r| r.pattern == pattern && r.size_bytes == size)
                .collect();
            broadcast(size, &at)
        })
        .collect()
}

/// The highest offered rate each transport kept to.
fn saturation(size: u64, at: &[&Row]) -> Option<String> {
    let top = at
        .iter()
        .filter_map(|r| r.offered_per_s)
        .fold(0.0, f64::max);
    let mut best: Vec<(&str, f64)> = Vec::new();
    for r in at {
        let sustained = r.schedule.as_ref().is_some_and(|s| s.sustained);
        let kept = r.offered_per_s.filter(|_| sustained).unwrap_or(0.0);
        match best.iter_mut().find(|(m, _)| *m == r.mechanism) {
            Some(b) => b.1 = b.1.max(kept),
            None => best.push((&r.mechanism, kept)),
        }
    }
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    let words: Vec<String> = best
        .iter()
        .map(|&(m, rate)| match rate {
            0.0 => format!("{} none", escape(m)),
            r if r >= top => format!("{} {}/s (the top of the sweep)", escape(m), rate_text(r)),
            r => format!("{} {}/s", escape(m), rate_text(r)),
        })
        .collect();
    Some(format!(
        "Open loop, {}: the highest offered rate each transport sustained: {}",
        bytes(size),
        words.join(", ")
    ))
}

/// How long each transport took to reach every subscriber at the most
/// subscribers, against itself at the fewest, and how many sends that took.
fn broadcast(size: u64, at: &[&Row]) -> Option<String> {
    let counts = at.iter().filter_map(|r| r.subscribers);
    let (fewest, most) = (counts.clone().min()?, counts.max()?);
    let p50 = |r: &Row| r.completion_ns.as_ref().map(|t| t.p50 as f64);
    // The report has put each way of waiting in the name already.
    let at_count = |label: &str, n: u32| {
        at.iter()
            .find(|r| r.mechanism == label && r.subscribers == Some(n))
            .copied()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut words: Vec<(f64, String)> = Vec::new();
    for r in at.iter().filter(|r| r.subscribers == Some(most)) {
        let label = r.mechanism.clone();
        if seen.contains(&label) {
            continue;
        }
        seen.push(label.clone());
        let Some(t) = p50(r) else { continue };
        let sends = match r.sends_per_message {
            Some(1) | None => "one write".to_string(),
            Some(n) => format!("{n} sends"),
        };
        let against = at_count(&label, fewest)
            .and_then(p50)
            .filter(|_| most != fewest)
            .map_or(String::new(), |a| format!(" ({:.1}× to {fewest})", t / a));
        let said = format!("{}, {sends}: {}{against}", escape(&label), ns(t));
        words.push((t, said));
    }
    words.sort_by(|a, b| a.0.total_cmp(&b.0));
    let words: Vec<String> = words.into_iter().map(|w| w.1).collect();
    (!words.is_empty()).then(|| {
        format!(
            "Fan-out, {}, to {most} subscribers, time until every one has answered (p50): {}",
            bytes(size),
            words.join("; ")
        )
    })
}

/// How each transport's rate changed from the fewest senders to the most.
fn scaling(size: u64, at: &[&Row]) -> Option<String> {
    let counts = at.iter().filter_map(|r| r.senders);
    let (fewest, most) = (counts.clone().min()?, counts.max()?);
    let rate = |m: &str, n: u32| {
        at.iter()
            .find(|r| r.mechanism == m && r.senders == Some(n))
            .and_then(|r| r.msgs_per_s)
    };
    let mut scaled: Vec<(&str, f64, f64)> = Vec::new();
    for r in at {
        if let (Some(a), Some(b)) = (rate(&r.mechanism, fewest), rate(&r.mechanism, most)) {
            if !scaled.iter().any(|s| s.0 == r.mechanism) {
                scaled.push((&r.mechanism, a, b));
            }
        }
    }
    scaled.sort_by(|x, y| y.2.total_cmp(&x.2));
    let words: Vec<String> = scaled
        .iter()
        .map(|&(m, a, b)| {
            format!(
                "{} {} → {} ({:.2}×)",
                escape(m),
                rate_text(a),
                rate_text(b),
                b / a
            )
        })
        .collect();
    (!words.is_empty()).then(|| {
        format!(
            "Fan-in, {}, messages/s received from {fewest} to {most} senders: {}",
            bytes(size),
            words.join(", ")
        )
    })
}
