//! The page's two big tables: every figure of the run, one row per
//! transport and size; and, with a baseline, every case's change.

use super::figures::COMPARE_THRESHOLD;
use super::html::{escape, figures_html, swatch};
use super::{placement_words, Figure, Report};
use crate::compare::Verdict;
use crate::results::format::{multiple_text, ns, size_cell, value_at, Place};
use crate::results::pattern::{Load, Ranking};
use crate::results::{Pattern, Placement, ResultFile, Row, Status};

/// One row per transport and size; latency and throughput of every
/// placement side by side.
pub fn results(report: &Report) -> String {
    let placements = &report.placements;
    let mut s = String::from("<h2 id=\"results\">All results</h2>\n<p>One row per transport and size. Click a heading to sort (again to reverse); type in the box to keep the rows that hold every word. Error counters add up every case of the row; a non-zero one is highlighted, and hovering it says which case. Every figure of every case is in <a href=\"result.json\">result.json</a>; <code>ipcbench export --format csv</code> gives them as CSV.</p>\n<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. shm 64 KiB\" data-table=\"results-table\" data-count=\"results-count\" aria-label=\"filter the results\"> <span id=\"results-count\"></span></p>\n");
    let columns: Vec<&str> = ranked()
        .flat_map(|(_, r)| std::iter::once(r.by).chain(r.whisker.map(|w| w.1)))
        .map(|m| m.label)
        .collect();
    let (over, under) = placement_heads(placements, &columns);
    s += &format!("<div class=\"scroll\"><table id=\"results-table\" class=\"sortable results\"><thead><tr><th colspan=\"3\"></th>{over}<th colspan=\"5\">every case of the row</th></tr>\n<tr><th>transport</th><th>size</th><th title=\"times the transport copies the payload, as it declares\">copies</th>{under}");
    s += "<th>lost</th><th>dup</th><th>reord</th><th>corrupt</th><th>status</th></tr></thead>\n<tbody>\n";
    let mut keys: Vec<(&str, u64)> = Vec::new();
    for (m, _, _) in &report.transports {
        for r in ping_pong_and_streams(report).filter(|r| r.mechanism == *m) {
            if !keys.contains(&(m.as_str(), r.size_bytes)) {
                keys.push((m.as_str(), r.size_bytes));
            }
        }
    }
    for (m, size) in keys {
        let rows: Vec<&Row> = ping_pong_and_streams(report)
            .filter(|r| r.mechanism == m && r.size_bytes == size)
            .collect();
        s += &result_row(report, &rows, placements);
    }
    s + "</tbody></table></div>\n"
}

/// The patterns the summary ranks by, whose figures the results table
/// shows: each ranking's figure, then its whisker.
fn ranked() -> impl Iterator<Item = (Pattern, &'static Ranking)> {
    Pattern::ALL
        .into_iter()
        .filter_map(|p| Some((p, p.describe().ranking.as_ref()?)))
}

/// A case's figure as a multiple of its physical limit, to show under it.
fn against_limit(report: &Report, case: Option<&&Row>) -> Option<String> {
    let (m, name) = report.result.floors.as_ref()?.multiple(case?)?;
    Some(format!(
        "<span class=\"mult\" title=\"{}\">{m:.2}×</span>",
        escape(&multiple_text((m, name)))
    ))
}

/// Each placement's heading over its columns, and the columns' names.
fn placement_heads(placements: &[Placement], columns: &[&str]) -> (String, String) {
    let mut over = String::new();
    let mut under = String::new();
    for p in placements {
        over += &format!(
            "<th colspan=\"{}\" class=\"place\">{p}: {}</th>",
            columns.len(),
            placement_words(*p)
        );
        for c in columns {
            under += &format!("<th>{c}</th>");
        }
    }
    (over, under)
}

/// The rows of the results table; the loaded workloads have their own.
fn ping_pong_and_streams<'a>(report: &Report<'a>) -> impl Iterator<Item = &'a Row> {
    report
        .result
        .rows
        .iter()
        .filter(|r| r.pattern.describe().load == Load::None)
}

/// The open-loop and fan-in cases: one row per transport, size and load,
/// every placement side by side.
pub fn under_load(report: &Report) -> String {
    let loaded: Vec<&Row> = report
        .result
        .rows
        .iter()
        .filter(|r| r.pattern.describe().load != Load::None)
        .collect();
    if loaded.is_empty() {
        return String::new();
    }
    let placements = &report.placements;
    let mut s = String::from("<h2 id=\"load\">Under load</h2>\n<p><b>rate</b>: an open loop; messages leave when due at the offered rate and are echoed, and the latency runs from when each was due, so a stall counts against every message it delayed (no coordinated omission). <b>fan-in</b>: several sender processes into one receiver; throughput is the receiver's total, latency one way, from each sender's CLOCK_MONOTONIC stamp. <b>fan-out</b>: one publisher, several subscriber processes, every message to every one; latency until the last subscriber has answered, throughput the messages/s delivered to all. Hover a figure for how it was reached.</p>\n<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. fan-in pipe\" data-table=\"load-table\" data-count=\"load-count\" aria-label=\"filter the loaded cases\"> <span id=\"load-count\"></span></p>\n<div class=\"scroll\"><table id=\"load-table\" class=\"sortable results\"><thead><tr><th colspan=\"4\"></th>");
    let (over, under) = placement_heads(placements, &["p50", "p99", "msg/s"]);
    s += &format!("{over}</tr>\n<tr><th>transport</th><th>pattern</th><th>size</th><th>load</th>{under}</tr></thead>\n<tbody>\n");
    let mut seen: Vec<&Row> = Vec::new();
    for r in &loaded {
        if seen.iter().any(|o| o.same_but_placement(r)) {
            continue;
        }
        seen.push(r);
        let rows: Vec<&Row> = loaded
            .iter()
            .copied()
            .filter(|o| o.same_but_placement(r))
            .collect();
        s += &load_row(report, &rows, placements);
    }
    s + "</tbody></table></div>\n"
}

fn load_row(report: &Report, rows: &[&Row], placements: &[Placement]) -> String {
    let first = rows[0];
    let load = first.load_label().unwrap_or_default();
    let order = first
        .offered_per_s
        .or(first.senders.or(first.subscribers).map(f64::from))
        .unwrap_or(0.0);
    let mut s = format!(
        "<tr><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{order}\">{}</td>",
        swatch(report, &first.mechanism),
        first.pattern,
        first.size_bytes,
        size_cell(first),
        escape(&load)
    );
    for &p in placements {
        let row = rows.iter().find(|r| r.placement == p);
        let latency = |r: &Row| {
            (r.rtt_ns.clone().or_else(|| r.completion_ns.clone())).or_else(|| r.one_way_ns.clone())
        };
        s += &figure(row, |r| latency(r).map(|t| t.p50 as f64), ns, None);
        s += &figure(row, |r| latency(r).map(|t| t.p99 as f64), ns, None);
        s += &figure(
            row,
            achieved,
            crate::results::format::rate,
            how_reached(row),
        );
    }
    s + "</tr>\n"
}

/// Messages/s: what an open loop achieved, what a fan-in received.
fn achieved(r: &Row) -> Option<f64> {
    r.schedule
        .as_ref()
        .map(|s| s.achieved_per_s)
        .or(r.msgs_per_s)
}

/// Under the figure: whether the offered rate was kept, and the errors.
fn how_reached(row: Option<&&Row>) -> Option<String> {
    let r = row?;
    let mut words = Vec::new();
    if let Some(s) = r.schedule.as_ref().filter(|s| !s.sustained) {
        words.push(format!(
            "<span class=\"bad\" title=\"the exchange ended {} behind its schedule\">cannot sustain</span>",
            ns(s.end_lag_ns as f64)
        ));
    }
    if r.errors.total() > 0 {
        let counts: Vec<String> = r
            .errors
            .named()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        words.push(format!("<span class=\"bad\">{}</span>", counts.join(", ")));
    }
    if let Some(note) = &r.note {
        words.push(format!(
            "<span class=\"mult\" title=\"{}\">note</span>",
            escape(note)
        ));
    }
    (!words.is_empty()).then(|| format!(" {}", words.join(" ")))
}

fn result_row(report: &Report, rows: &[&Row], placements: &[Placement]) -> String {
    let first = rows[0];
    let mut s = format!(
        "<tr><td>{}</td><td data-v=\"{}\">{}</td>",
        swatch(report, &first.mechanism),
        first.size_bytes,
        size_cell(first)
    );
    s += &match first.copies {
        Some(n) => format!("<td data-v=\"{n}\">{n}</td>"),
        None => "<td data-v=\"\">–</td>".into(),
    };
    for &p in placements {
        for (pattern, ranking) in ranked() {
            let case = rows
                .iter()
                .find(|r| r.placement == p && r.pattern == pattern);
            let multiple = against_limit(report, case);
            s += &figure(
                case,
                ranking.by.read,
                |v| value_at(v, ranking.by.unit, Place::Column),
                multiple,
            );
            if let Some((_, w)) = ranking.whisker {
                s += &figure(case, w.read, |v| value_at(v, w.unit, Place::Column), None);
            }
        }
    }
    // Torn messages happen only in fan-in, which the load table shows.
    let counters = first.errors.named();
    for (i, (name, _)) in counters
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| *n != "torn")
    {
        let count = |r: &Row| r.errors.named()[i].1;
        let total: u64 = rows.iter().map(|r| count(r)).sum();
        if total == 0 {
            s += "<td data-v=\"0\">0</td>";
            continue;
        }
        let which: Vec<String> = rows
            .iter()
            .filter(|r| count(r) > 0)
            .map(|r| format!("{} {}: {} {name}", r.pattern, r.placement, count(r)))
            .collect();
        s += &format!(
            "<td class=\"bad\" data-v=\"{total}\" title=\"{}\">{total}</td>",
            escape(&which.join("; "))
        );
    }
    s + &status_cell(rows) + "</tr>\n"
}

/// A figure of one case (with its multiple of the limit under it), or why
/// there is none (hover for the reason).
fn figure(
    row: Option<&&Row>,
    value: impl Fn(&Row) -> Option<f64>,
    fmt: impl Fn(f64) -> String,
    multiple: Option<String>,
) -> String {
    match row {
        None => "<td data-v=\"\"></td>".into(),
        Some(r) => match (r.status, value(r)) {
            (Status::Ok, Some(v)) => format!(
                "<td data-v=\"{v}\">{}{}</td>",
                fmt(v),
                multiple.unwrap_or_default()
            ),
            (Status::Ok, None) => "<td data-v=\"\">–</td>".into(),
            (st, _) => format!(
                "<td data-v=\"\" class=\"{}\" title=\"{}\">{}</td>",
                if st == Status::Failed { "bad" } else { "na" },
                escape(r.reason.as_deref().unwrap_or("")),
                if st == Status::Failed {
                    "failed"
                } else {
                    "n/a"
                }
            ),
        },
    }
}

/// ok, or how many cases of the row did not run and why (on hover).
fn status_cell(rows: &[&Row]) -> String {
    let not_ok: Vec<&&Row> = rows.iter().filter(|r| r.status != Status::Ok).collect();
    let unsteady: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            Some(format!(
                "{} {}: {}",
                r.pattern,
                r.placement,
                r.drift?.warning()
            ))
        })
        .collect();
    if not_ok.is_empty() && !unsteady.is_empty() {
        return format!(
            "<td class=\"warn\" title=\"{}\"><a href=\"#over-time\">ok, {} not steady</a></td>",
            escape(&unsteady.join("\n")),
            unsteady.len()
        );
    }
    if not_ok.is_empty() {
        return "<td>ok</td>".into();
    }
    let failed = not_ok.iter().any(|r| r.status == Status::Failed);
    let word = if failed { "failed" } else { "unsupported" };
    let why: Vec<String> = not_ok
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}",
                r.pattern,
                r.placement,
                r.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    format!(
        "<td class=\"{}\" title=\"{}\">{word} ({} of {})</td>",
        if failed { "bad" } else { "na" },
        escape(&why.join("\n")),
        not_ok.len(),
        rows.len()
    )
}

/// Every case measured in both runs, with `ipcbench compare`'s verdict,
/// after the chart of their ratios.
pub fn comparison(report: &Report, baseline: &ResultFile, chart: Option<&Figure>) -> String {
    let mut s = String::from("<h2 id=\"compare\">Compared with the baseline</h2>\n");
    if let Some(w) = crate::compare::machine_warning(baseline, report.measured) {
        s += &format!("<p class=\"bad\">Warning: {}.</p>\n", escape(&w));
    }
    let changes = crate::compare::compare(
        baseline,
        report.measured,
        COMPARE_THRESHOLD,
        crate::compare::By::default(),
    );
    if let Some(f) = chart {
        s += &figures_html(std::slice::from_ref(f));
    }
    s += "<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. noisy cross\" data-table=\"compare-table\" data-count=\"compare-count\" aria-label=\"filter the comparison\"> <span id=\"compare-count\"></span></p>\n";
    s += "<div class=\"scroll\"><table id=\"compare-table\" class=\"sortable\"><thead><tr><th>transport</th><th>pattern</th><th>placement</th><th>size</th><th>baseline</th><th>current</th><th>raw change</th><th>against the reference</th><th>verdict</th></tr></thead>\n<tbody>\n";
    for c in &changes {
        s += &change_row(report, c);
    }
    s += "</tbody></table></div>\n";
    s + &one_sided(report.measured, baseline)
}

fn change_row(report: &Report, c: &crate::compare::Change) -> String {
    let [_, pattern, placement, size, baseline, current, raw, normalised, verdict] = c.cells();
    // Sorted by the numbers, a collapse last among the changes.
    let number = |v: f64| if v.is_finite() { v } else { 1e300 };
    let class = match c.verdict {
        Verdict::Regression => " class=\"bad\"",
        Verdict::Improvement => " class=\"good\"",
        Verdict::Noisy => " class=\"noisy\"",
        Verdict::Unchanged => "",
    };
    format!(
        "<tr><td>{}</td><td>{pattern}</td><td>{placement}</td><td data-v=\"{}\">{size}</td><td>{baseline}</td><td>{current}</td><td data-v=\"{}\">{raw}</td><td data-v=\"{}\">{normalised}</td><td{class}>{verdict}</td></tr>\n",
        swatch(report, &c.mechanism),
        c.size_bytes,
        number(c.raw_change),
        number(c.change),
    )
}

/// The cases each run measured and the other did not.
fn one_sided(current: &ResultFile, baseline: &ResultFile) -> String {
    let mut s = String::new();
    for (name, only) in crate::compare::one_sided(baseline, current) {
        if only.is_empty() {
            continue;
        }
        s += &format!(
            "<h3>Measured only in the {name} ({} cases, not compared)</h3>\n<ul class=\"cases\">\n",
            only.len()
        );
        for o in only {
            s += &format!(
                "<li>{}: the other run: {}</li>\n",
                escape(&o.case),
                escape(&o.other)
            );
        }
        s += "</ul>\n";
    }
    s
}

/// The groups cases beside `perf bench sched messaging` on the same shape,
/// where the run could run it (each row's note says the command, or why
/// there is no figure).
pub fn beside_perf(report: &Report) -> String {
    let rows: Vec<&Row> = report
        .result
        .rows
        .iter()
        .filter(|r| r.pattern == Pattern::Groups && r.status == Status::Ok)
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h3 id=\"beside-perf\">Groups beside perf bench sched messaging</h3>\n<p>Both count from the start signal to the last process reaped. perf ran right after each case, on the same groups and loops, unpinned, where it ran here and the case has its shape (20 senders and receivers per group, 100-byte messages, a pipe or a Unix stream socket pair); otherwise its column says why not.</p>\n<div class=\"scroll\"><table class=\"results\"><thead><tr><th>transport</th><th>shape</th><th>placement</th><th>ipcbench total</th><th>perf total</th><th>ipcbench / perf</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let ours = r.total_ns.map_or("–".to_string(), |t| ns(t as f64));
        let (theirs, ratio) = match (r.total_ns, r.perf_total_ns) {
            (Some(a), Some(b)) => (ns(b as f64), format!("{:.2}", a as f64 / b.max(1) as f64)),
            _ => {
                let why = r.note.as_deref().unwrap_or("not this shape or channel");
                (
                    format!("<span title=\"{}\">–</span>", escape(why)),
                    "–".to_string(),
                )
            }
        };
        s += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{ours}</td><td>{theirs}</td><td>{ratio}</td></tr>\n",
            escape(&r.mechanism),
            escape(&r.load_label().unwrap_or_default()),
            r.placement
        );
    }
    s + "</tbody></table></div>\n"
}
