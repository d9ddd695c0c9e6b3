//! The report page: one HTML file with inline CSS and a small inline
//! script (sorting and filtering), images beside it; it works offline and
//! from a copied folder.

use super::figures::{throughput_size, Drawn, COMPARE_THRESHOLD};
use super::summary::{grid, sentences, Metric};
use super::{placement_words, Figure, Report};
use crate::compare::Verdict;
use crate::export::markdown::size_cell;
use crate::output::{bytes, ns};
use crate::results::probe::{Method, ProbeFile, PROPERTIES};
use crate::results::{multiple_text, Pattern, Placement, ResultFile, Row, Status};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The transport's name after a square of its chart colour.
pub fn swatch(report: &Report, mechanism: &str) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>{}",
        report.look(mechanism).css(),
        escape(mechanism)
    )
}

pub fn page(report: &Report, drawn: &Drawn, baseline: Option<&ResultFile>) -> String {
    let result = report.result;
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>ipcbench report</title><style>{STYLE}</style></head><body>\n<h1>ipcbench report</h1>\n"
    );
    s += &lead(result);
    s += "<nav><a href=\"#summary\">Summary</a> · <a href=\"#charts\">Charts</a> · ";
    if baseline.is_some() {
        s += "<a href=\"#compare\">Compared with the baseline</a> · ";
    }
    s +=
        "<a href=\"#results\">All results</a> · <a href=\"#not-run\">Unsupported and failed</a> · ";
    if result.probe.is_some() {
        s += "<a href=\"#properties\">Properties</a> · ";
    }
    s += "<a href=\"#machine\">Machine and options</a></nav>\n";
    s += &summary(report, drawn);
    s += "<h2 id=\"charts\">Charts</h2>\n";
    for (placement, group, figures) in &drawn.charts {
        s += &format!(
            "<h3>{}, {}</h3>\n",
            capitalised(group.title()),
            placement_words(*placement)
        );
        s += &figures_html(figures);
    }
    if let Some(b) = baseline {
        s += &comparison(report, b, drawn.compare.as_ref());
    }
    s += &results_table(report);
    s += &not_ok(&result.rows);
    if let Some(p) = &result.probe {
        s += &properties(report, p);
    }
    s += &machine(result, baseline.is_some());
    s += &format!("<script>{SCRIPT}</script>\n</body></html>\n");
    s
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The line under the title: what ran where, and how much of it.
fn lead(result: &ResultFile) -> String {
    let count = |st: Status| result.rows.iter().filter(|r| r.status == st).count();
    let mut s = format!(
        "<p class=\"lead\">{} · {} · {} cases ran, {} unsupported, {} failed</p>\n",
        escape(&result.machine.summary()),
        escape(&result.started_at),
        count(Status::Ok),
        count(Status::Unsupported),
        count(Status::Failed)
    );
    if !result.complete {
        s += "<p class=\"bad\">This run was interrupted: only the cases that finished are shown.</p>\n";
    }
    let warnings = &result.machine.warnings;
    if !warnings.is_empty() {
        s += "<div class=\"warnings\"><b>What on this machine may skew the figures</b> (<code>ipcbench doctor</code> at the start of the run; it gives the fixes):<ul>\n";
        for w in warnings {
            s += &format!("<li>{}</li>\n", escape(w.trim_start_matches("doctor: ")));
        }
        s += "</ul></div>\n";
    }
    s
}

fn figures_html(figures: &[Figure]) -> String {
    figures
        .iter()
        .map(|f| {
            format!(
                "<figure><img src=\"{0}.png\" alt=\"{1}\"><figcaption>{1} <a href=\"{0}.svg\">SVG</a></figcaption></figure>\n",
                f.stem,
                escape(&f.caption)
            )
        })
        .collect()
}

fn summary(report: &Report, drawn: &Drawn) -> String {
    let mut s = String::from("<h2 id=\"summary\">Summary</h2>\n<p>RTT is a round trip (the message and its echo); one-way latency is about half. Throughput is one way; MiB = 2<sup>20</sup> bytes. Compare rows of the same placement: on a virtual machine a wake-up across CPUs can cost more than any transport.</p>\n");
    if let Some(f) = &report.result.floors {
        s += &format!(
            "<p class=\"floors\">{} Under each RTT p50 and MiB/s of the results table is that multiple (hover it for the limit).</p>\n",
            escape(&crate::export::markdown::floors_summary(f))
        );
    }
    for (placement, figures) in &drawn.summary {
        s += &format!(
            "<h3>{}</h3>\n<ul class=\"facts\">\n",
            capitalised(placement_words(*placement))
        );
        for line in sentences(report, *placement, throughput_size(report, *placement)) {
            s += &format!("<li>{line}</li>\n");
        }
        s += "</ul>\n";
        s += &figures_html(figures);
        s += "<p>Every size at a glance: each cell is coloured from green (the best of its table) to red (the worst) on a log scale; hover a cell that did not run for the reason.</p>\n<div class=\"grids\">";
        s += &grid(report, *placement, Metric::RttP50);
        s += &grid(report, *placement, Metric::MibPerS);
        s += "</div>\n";
    }
    s
}

/// One row per transport and size; latency and throughput of every
/// placement side by side.
fn results_table(report: &Report) -> String {
    let placements = &report.placements;
    let mut s = String::from("<h2 id=\"results\">All results</h2>\n<p>One row per transport and size. Click a heading to sort (again to reverse); type in the box to keep the rows that hold every word. Error counters add up every case of the row; a non-zero one is highlighted, and hovering it says which case. Every figure of every case is in <a href=\"result.json\">result.json</a>; <code>ipcbench export --format csv</code> gives them as CSV.</p>\n<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. shm 64 KiB\" data-table=\"results-table\" data-count=\"results-count\" aria-label=\"filter the results\"> <span id=\"results-count\"></span></p>\n");
    s += "<div class=\"scroll\"><table id=\"results-table\" class=\"sortable results\"><thead><tr><th colspan=\"2\"></th>";
    for p in placements {
        s += &format!(
            "<th colspan=\"3\" class=\"place\">{p}: {}</th>",
            placement_words(*p)
        );
    }
    s += "<th colspan=\"5\">every case of the row</th></tr>\n<tr><th>transport</th><th>size</th>";
    for _ in placements {
        s += "<th>RTT p50</th><th>RTT p99</th><th>MiB/s</th>";
    }
    s += "<th>lost</th><th>dup</th><th>reord</th><th>corrupt</th><th>status</th></tr></thead>\n<tbody>\n";
    let mut keys: Vec<(&str, u64)> = Vec::new();
    for (m, _, _) in &report.transports {
        for r in report.result.rows.iter().filter(|r| r.mechanism == *m) {
            if !keys.contains(&(m.as_str(), r.size_bytes)) {
                keys.push((m.as_str(), r.size_bytes));
            }
        }
    }
    for (m, size) in keys {
        let rows: Vec<&Row> = report
            .result
            .rows
            .iter()
            .filter(|r| r.mechanism == m && r.size_bytes == size)
            .collect();
        s += &result_row(report, &rows, placements);
    }
    s + "</tbody></table></div>\n"
}

fn result_row(report: &Report, rows: &[&Row], placements: &[Placement]) -> String {
    let first = rows[0];
    let mut s = format!(
        "<tr><td>{}</td><td data-v=\"{}\">{}</td>",
        swatch(report, &first.mechanism),
        first.size_bytes,
        size_cell(first)
    );
    let case = |p: Placement, pattern: Pattern| {
        rows.iter()
            .find(|r| r.placement == p && r.pattern == pattern)
    };
    let floors = report.result.floors.as_ref();
    let against = |r: Option<&&Row>| {
        let (m, name) = floors?.multiple(r?)?;
        Some(format!(
            "<span class=\"mult\" title=\"{}\">{m:.2}×</span>",
            escape(&multiple_text((m, name)))
        ))
    };
    for &p in placements {
        let latency = case(p, Pattern::Latency);
        let throughput = case(p, Pattern::Throughput);
        let p50 = |r: &Row| r.rtt_ns.as_ref().map(|t| t.p50 as f64);
        s += &figure(latency, p50, ns, against(latency));
        s += &figure(
            latency,
            |r| r.rtt_ns.as_ref().map(|t| t.p99 as f64),
            ns,
            None,
        );
        s += &figure(
            throughput,
            |r| r.mib_per_s,
            |v| format!("{v:.1}"),
            against(throughput),
        );
    }
    for (i, (name, _)) in first.errors.named().iter().enumerate() {
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

/// Cases that did not run, one line per transport and reason.
fn not_ok(rows: &[Row]) -> String {
    let mut s = String::from("<h2 id=\"not-run\">Unsupported and failed cases</h2>\n");
    let mut seen: Vec<(&str, Status, &str, Vec<String>)> = Vec::new();
    for r in rows.iter().filter(|r| r.status != Status::Ok) {
        let reason = r.reason.as_deref().unwrap_or("");
        let case = format!("{} {} {}", r.pattern, r.placement, size_cell(r));
        match seen
            .iter_mut()
            .find(|x| x.0 == r.mechanism && x.1 == r.status && x.2 == reason)
        {
            Some(x) => x.3.push(case),
            None => seen.push((&r.mechanism, r.status, reason, vec![case])),
        }
    }
    if seen.is_empty() {
        return s + "<p>None: every case ran.</p>\n";
    }
    s += "<ul>\n";
    for (m, status, reason, cases) in seen {
        s += &format!(
            "<li><b>{}</b> — {}: {} <span class=\"cases\">({})</span></li>\n",
            escape(m),
            if status == Status::Failed {
                "<span class=\"bad\">failed</span>"
            } else {
                "unsupported"
            },
            escape(reason),
            escape(&cases.join(", "))
        );
    }
    s + "</ul>\n"
}

fn machine(result: &ResultFile, baseline: bool) -> String {
    let m = &result.machine;
    let o = &result.options;
    let mut s = String::from("<h2 id=\"machine\">Machine and options</h2>\n<dl>\n");
    let mut item =
        |k: &str, v: String| s += &format!("<dt>{}</dt><dd>{}</dd>\n", escape(k), escape(&v));
    item("machine", m.summary());
    item("host", m.hostname.clone());
    item("CPUs allowed", format!("{:?}", m.cpus_allowed));
    item(
        "cpufreq governor",
        m.cpufreq_governor
            .clone()
            .unwrap_or_else(|| "not readable".into()),
    );
    item("memory", format!("{} MiB", m.memory_mib));
    item(
        "tool",
        format!(
            "{} {} ({})",
            result.tool.name, result.tool.version, result.tool.git_commit
        ),
    );
    item(
        "run",
        format!("{} to {}", result.started_at, result.finished_at),
    );
    item("mechanisms", o.mechanisms.join(", "));
    item(
        "sizes",
        o.sizes
            .iter()
            .map(|b| bytes(*b))
            .collect::<Vec<_>>()
            .join(", "),
    );
    item(
        "placements",
        o.placements
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    item(
        "length per case",
        match o.length {
            crate::harness::workload::Length::Iterations(n) => format!("{n} messages"),
            crate::harness::workload::Length::Duration(d) => format!("{:.3} s", d.as_secs_f64()),
        },
    );
    item("warm-up", format!("{:.3} s", o.warmup_s));
    if let Some(f) = &result.floors {
        item(
            "physical limits",
            crate::export::markdown::floors_summary(f),
        );
    }
    for w in &m.warnings {
        item("doctor", w.trim_start_matches("doctor: ").to_string());
    }
    item("verification", o.verify.to_string());
    item(
        "clock read",
        format!(
            "{:.0} ns (included once in every round trip, not subtracted)",
            result.calibration.timer_overhead_ns
        ),
    );
    s += "</dl>\n<p>Data: <a href=\"result.json\">result.json</a>";
    if baseline {
        s += ", baseline: <a href=\"baseline.json\">baseline.json</a>";
    }
    s + "</p>\n"
}

fn properties(report: &Report, p: &ProbeFile) -> String {
    let mut s = format!(
        "<h2>Properties, regenerated on this machine</h2>\n<p>{} {} The claimed table's value is in brackets, and a <span class=\"disagree\">highlighted</span> cell contradicts it. Hover a cell for its evidence; all evidence is listed below.</p>\n<div class=\"scroll\"><table><tr><th>mechanism</th>",
        escape(&p.method_summary()),
        escape(Method::LEGEND)
    );
    for prop in PROPERTIES {
        s += &format!("<th>{}</th>", prop.heading());
    }
    s += "</tr>\n";
    for row in &p.rows {
        s += &format!("<tr><td>{}</td>", swatch(report, &row.mechanism));
        for prop in PROPERTIES {
            match row.cells.get(prop.key()) {
                Some(c) => {
                    let claimed = c
                        .claimed
                        .as_ref()
                        .map_or(String::new(), |c| format!(" ({c})"));
                    let class = if c.disagrees() {
                        " class=\"disagree\""
                    } else {
                        ""
                    };
                    s += &format!(
                        "<td{class} title=\"{}\">{}{}{}</td>",
                        escape(&c.evidence),
                        escape(&c.measured.text()),
                        c.method.mark(),
                        claimed
                    );
                }
                None => s += "<td>–</td>",
            }
        }
        s += "</tr>\n";
    }
    s += "</table></div>\n<h3>Evidence</h3>\n<ul class=\"evidence\">\n";
    for row in &p.rows {
        for prop in PROPERTIES {
            if let Some(c) = row.cells.get(prop.key()) {
                s += &format!(
                    "<li{}><b>{} / {}</b>: {}{}{} — {}</li>\n",
                    if c.disagrees() {
                        " class=\"disagree\""
                    } else {
                        ""
                    },
                    escape(&row.mechanism),
                    prop.key(),
                    escape(&c.measured.text()),
                    c.method.mark(),
                    c.claimed
                        .as_ref()
                        .map_or(String::new(), |c| format!(" (claimed {c})")),
                    escape(&c.evidence)
                );
            }
        }
    }
    s + "</ul>\n"
}

/// Every case measured in both runs, with `ipcbench compare`'s verdict,
/// after the chart of their ratios.
fn comparison(report: &Report, baseline: &ResultFile, chart: Option<&Figure>) -> String {
    let mut s = String::from("<h2 id=\"compare\">Compared with the baseline</h2>\n");
    if let Some(w) = crate::compare::machine_warning(baseline, report.result) {
        s += &format!("<p class=\"bad\">Warning: {}.</p>\n", escape(&w));
    }
    let changes = crate::compare::compare(baseline, report.result, COMPARE_THRESHOLD);
    if let Some(f) = chart {
        s += &figures_html(std::slice::from_ref(f));
    }
    s += "<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. noisy cross\" data-table=\"compare-table\" data-count=\"compare-count\" aria-label=\"filter the comparison\"> <span id=\"compare-count\"></span></p>\n";
    s += "<div class=\"scroll\"><table id=\"compare-table\" class=\"sortable\"><thead><tr><th>transport</th><th>pattern</th><th>placement</th><th>size</th><th>baseline</th><th>current</th><th>raw change</th><th>against the reference</th><th>verdict</th></tr></thead>\n<tbody>\n";
    for c in &changes {
        let fmt = |v: f64| match c.pattern {
            _ if v.is_nan() => "failed".to_string(),
            Pattern::Latency => ns(v),
            Pattern::Throughput => crate::output::rate(v),
        };
        let percent = |v: f64| {
            if v.is_finite() {
                format!("<td data-v=\"{v}\">{:+.1} %</td>", v * 100.0)
            } else {
                "<td data-v=\"1e300\">collapsed</td>".to_string()
            }
        };
        let class = match c.verdict {
            Verdict::Regression => " class=\"bad\"",
            Verdict::Improvement => " class=\"good\"",
            Verdict::Noisy => " class=\"noisy\"",
            Verdict::Unchanged => "",
        };
        s += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td>{}</td><td>{}</td>{}{}<td{class}>{}</td></tr>\n",
            swatch(report, &c.mechanism),
            c.pattern,
            c.placement,
            c.size_bytes,
            if c.size_bytes == 0 { "none".into() } else { bytes(c.size_bytes) },
            fmt(c.baseline),
            fmt(c.current),
            percent(c.raw_change),
            percent(c.change),
            c.verdict.word()
        );
    }
    s += "</tbody></table></div>\n";
    let sides = [
        ("baseline", baseline, report.result),
        ("current run", report.result, baseline),
    ];
    for (name, one, other) in sides {
        let only = crate::compare::measured_only_in(one, other);
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
