//! What the page says first, per placement: sentences drawn from the data,
//! and transport × size grids coloured on a log scale.

use super::html::escape;
use super::{at_smallest_size, Group, Report};
use crate::results::format::{bytes, ns};
use crate::results::format::{multiple_text, rate_text};
use crate::results::{Pattern, Placement, Row, Status};

/// The fastest and the slowest round trip at each size, and the throughput
/// at the summary's size: the answer to "which transport, for my size".
pub fn sentences(report: &Report, placement: Placement, wide: Option<u64>) -> Vec<String> {
    let mut out = Vec::new();
    for &size in &report.sizes {
        let mut at: Vec<Ranked> = report
            .ok(placement)
            .filter(|r| r.pattern == Pattern::Latency && r.size_bytes == size)
            .filter_map(|r| Some(ranked_row(report, r, r.rtt_ns.as_ref()?.p50 as f64)))
            .collect();
        at.sort_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(first), Some(last)) = (at.first(), at.last()) {
            out.push(ranked(
                &format!("{}, round trip", bytes(size)),
                first,
                last,
                at.len(),
                ns,
                "as long",
            ));
        }
    }
    if let Some(size) = wide {
        let mut at: Vec<Ranked> = report
            .ok(placement)
            .filter(|r| r.pattern == Pattern::Throughput && r.size_bytes == size)
            .filter_map(|r| Some(ranked_row(report, r, r.mib_per_s?)))
            .collect();
        at.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let (Some(first), Some(last)) = (at.first(), at.last()) {
            out.push(ranked(
                &format!("{}, throughput", bytes(size)),
                first,
                last,
                at.len(),
                |v| format!("{v:.0} MiB/s"),
                "less",
            ));
        }
    }
    out
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

/// The figure a grid shows.
#[derive(Clone, Copy)]
pub enum Metric {
    RttP50,
    MibPerS,
}

impl Metric {
    fn pattern(self) -> Pattern {
        match self {
            Metric::RttP50 => Pattern::Latency,
            Metric::MibPerS => Pattern::Throughput,
        }
    }

    fn value(self, r: &Row) -> Option<f64> {
        match self {
            Metric::RttP50 => r.rtt_ns.as_ref().map(|t| t.p50 as f64),
            Metric::MibPerS => r.mib_per_s,
        }
    }

    fn text(self, v: f64) -> String {
        match self {
            Metric::RttP50 => ns(v),
            Metric::MibPerS => format!("{v:.0}"),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Metric::RttP50 => "Round trip p50",
            Metric::MibPerS => "Throughput, MiB/s",
        }
    }
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
pub fn grid(report: &Report, placement: Placement, metric: Metric) -> String {
    let rows: Vec<&Row> = report
        .result
        .rows
        .iter()
        .filter(|r| r.placement == placement && r.pattern == metric.pattern())
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
        metric.title(),
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
    s += &grid_body(report, &rows, &sizes, metric);
    s + "</table></div>\n"
}

/// One row per transport, under its group's heading.
fn grid_body(report: &Report, rows: &[&Row], sizes: &[u64], metric: Metric) -> String {
    let range = rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| metric.value(r))
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lower_is_better = matches!(metric, Metric::RttP50);
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

fn cell(row: Option<&Row>, metric: Metric, range: (f64, f64), lower_is_better: bool) -> String {
    let Some(r) = row else {
        return "<td></td>".into();
    };
    let reason = escape(r.reason.as_deref().unwrap_or(""));
    match (r.status, metric.value(r)) {
        (Status::Ok, Some(v)) => format!(
            "<td style=\"background:{}\">{}</td>",
            shade(v, range, lower_is_better),
            metric.text(v)
        ),
        (Status::Unsupported, _) => format!("<td class=\"na\" title=\"{reason}\">unsupported</td>"),
        (Status::Failed, _) => format!("<td class=\"bad\" title=\"{reason}\">failed</td>"),
        _ => "<td>–</td>".into(),
    }
}

/// The loaded workloads at their smallest message size, per placement:
/// the highest offered rate each transport sustained, and how fan-in
/// scaled from the fewest senders to the most.
pub fn load_sentences(report: &Report, placement: Placement) -> Vec<String> {
    let rows: Vec<&Row> = report.ok(placement).collect();
    [saturation(&rows), fan_in_scaling(&rows)]
        .into_iter()
        .flatten()
        .collect()
}

fn saturation(rows: &[&Row]) -> Option<String> {
    let (size, at) = at_smallest_size(rows, Pattern::Rate).filter(|(s, _)| *s > 0)?;
    let top = at
        .iter()
        .filter_map(|r| r.offered_per_s)
        .fold(0.0, f64::max);
    let mut best: Vec<(&str, f64)> = Vec::new();
    for r in &at {
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

fn fan_in_scaling(rows: &[&Row]) -> Option<String> {
    let (size, at) = at_smallest_size(rows, Pattern::FanIn).filter(|(s, _)| *s > 0)?;
    let counts = at.iter().filter_map(|r| r.senders);
    let (fewest, most) = (counts.clone().min()?, counts.max()?);
    let rate = |m: &str, n: u32| {
        at.iter()
            .find(|r| r.mechanism == m && r.senders == Some(n))
            .and_then(|r| r.msgs_per_s)
    };
    let mut scaled: Vec<(&str, f64, f64)> = Vec::new();
    for r in &at {
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
