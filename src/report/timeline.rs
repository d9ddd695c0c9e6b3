//! Each latency case over time: a small inline chart of its timeline (the
//! sampled latency, and the largest between samples), and the warning of
//! a case whose first and last thirds differ. This is where a burst of a
//! shared host shows as a burst, not as a steady cost.

use super::html::escape;
use super::Report;
use crate::results::distribution::Timeline;
use crate::results::format::{load_cell, ns, size_cell};
use crate::results::{Row, Status};

const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 48.0;

pub fn section(report: &Report) -> String {
    let rows: Vec<&Row> = report
        .result
        .rows
        .iter()
        .filter(|r| r.status == Status::Ok && r.timeline.is_some())
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let unsteady = rows.iter().filter(|r| r.drift.is_some()).count();
    let mut s = format!(
        "<h2 id=\"over-time\">Over time</h2>\n<p>Each latency case's timed part, left to right: the dark line is a latency sampled evenly by message count, the light one the largest since the previous sample, on a log scale from the case's least to its largest. {unsteady} of {} cases were not steady: their first and last thirds' interquartile ranges do not overlap, and their medians differ by more than 10 %. A burst of the shared host shows as a step or a spike; a steady cost as a flat band.</p>\n",
        rows.len()
    );
    s += "<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. pipe cross\" data-table=\"time-table\" data-count=\"time-count\" aria-label=\"filter the cases over time\"> <span id=\"time-count\"></span></p>\n";
    s += "<div class=\"scroll\"><table id=\"time-table\" class=\"sortable\"><thead><tr><th>transport</th><th>pattern</th><th>placement</th><th>size</th><th>load</th><th>over time</th><th>steady?</th></tr></thead>\n<tbody>\n";
    for r in rows {
        s += &line(r);
    }
    s + "</tbody></table></div>\n"
}

fn line(r: &Row) -> String {
    let chart = r.timeline.as_ref().map_or(String::new(), sparkline);
    let steady = match r.drift {
        Some(d) => format!("<td class=\"bad\">{}</td>", escape(&d.warning())),
        None => "<td>steady</td>".into(),
    };
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{chart}</td>{steady}</tr>\n",
        // The shown rows' mechanism is already the label (`by_wait`).
        escape(&r.mechanism),
        r.pattern,
        crate::results::case::placement_label(r),
        escape(&size_cell(r)),
        escape(&load_cell(r)),
    )
}

/// The timeline as an inline SVG: two polylines on a log scale.
fn sparkline(t: &Timeline) -> String {
    let (Some(first), Some(last)) = (t.points.first(), t.points.last()) else {
        return String::new();
    };
    let low = t.points.iter().map(|p| p.1).min().unwrap_or(1).max(1) as f64;
    let high = t.points.iter().map(|p| p.2).max().unwrap_or(1).max(1) as f64;
    let span = (last.0 - first.0).max(1) as f64;
    let y = |v: u64| {
        let range = (high / low).ln().max(1e-9);
        HEIGHT - 2.0 - (HEIGHT - 4.0) * ((v.max(1) as f64 / low).ln() / range)
    };
    let x = |at: u64| WIDTH * (at - first.0) as f64 / span;
    let path = |pick: fn(&(u64, u64, u64)) -> u64| {
        t.points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "<svg class=\"spark\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\"><title>{} to {} over {}; one point per {} messages</title><polyline fill=\"none\" stroke=\"#9bb8d9\" stroke-width=\"1\" points=\"{}\"/><polyline fill=\"none\" stroke=\"#1f4e8c\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        ns(low),
        ns(high),
        ns(span),
        t.every,
        path(|p| p.2),
        path(|p| p.1)
    )
}
