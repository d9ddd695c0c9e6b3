//! The report page: one HTML file with inline CSS and a small inline
//! script (sorting and filtering), images beside it; it works offline and
//! from a copied folder.

use super::figures::Drawn;
use super::summary::{grid, load_sentences, sentences};
use super::{placement_words, Figure, Report};
use crate::results::format::{bytes, size_cell};
use crate::results::pattern::Load;
use crate::results::probe::{
    every_property, Method, ProbeFile, Property, CROSSINGS, CROSSINGS_LEGEND, PROPERTIES,
};
use crate::results::{Pattern, ResultFile, Row, Status};

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

/// A page of ipcbench's up to its heading: the report's and the gallery's
/// share one style and one script, so they read and sort alike.
pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    )
}

/// The page's script (sorting, filtering) and its end.
pub fn page_end() -> String {
    format!("<script>{SCRIPT}</script>\n</body></html>\n")
}

pub fn page(report: &Report, drawn: &Drawn, baseline: Option<&ResultFile>) -> String {
    let result = report.result;
    let mut s = page_start("ipcbench report");
    s += &lead(result);
    s += "<nav><a href=\"#summary\">Summary</a> · <a href=\"#charts\">Charts</a> · ";
    if baseline.is_some() {
        s += "<a href=\"#compare\">Compared with the baseline</a> · ";
    }
    if has_ping_pong(report) {
        s += "<a href=\"#results\">All results</a> · ";
    }
    if has_load(report) {
        s += "<a href=\"#load\">Under load</a> · ";
    }
    if !drawn.pairs.is_empty() {
        s += "<a href=\"#pairs\">Pairs of CPUs</a> · ";
    }
    if result.rows.iter().any(|r| r.timeline.is_some()) {
        s += "<a href=\"#over-time\">Over time</a> · ";
    }
    s += "<a href=\"#not-run\">Unsupported and failed</a> · ";
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
        s += &super::tables::comparison(report, b, drawn.compare.as_ref());
    }
    if has_ping_pong(report) {
        s += &super::tables::results(report);
    }
    s += &super::tables::under_load(report);
    s += &super::tables::beside_perf(report);
    s += &super::heatmap::tables(report, &drawn.pairs);
    s += &super::timeline::section(report);
    s += &not_ok(&result.rows);
    if let Some(p) = &result.probe {
        s += &properties(report, p);
    }
    s += &machine(result, baseline.is_some());
    s += &page_end();
    s
}

pub fn capitalised(s: &str) -> String {
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

pub fn figures_html(figures: &[Figure]) -> String {
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

/// Whether a row moved a payload without copying it.
fn copies_nothing(report: &Report) -> bool {
    let rows = &report.result.rows;
    rows.iter().any(|r| r.copies == Some(0) && r.size_bytes > 0)
}

fn summary(report: &Report, drawn: &Drawn) -> String {
    let mut s = String::from("<h2 id=\"summary\">Summary</h2>\n<p>RTT is a round trip (the message and its echo); one-way latency is about half. Throughput is one way; MiB = 2<sup>20</sup> bytes. Compare rows of the same placement: on a virtual machine a wake-up across CPUs can cost more than any transport.</p>\n");
    if let Some(f) = &report.result.floors {
        let under = if has_ping_pong(report) {
            " Under each RTT p50 and MiB/s of the results table is that multiple (hover it for the limit)."
        } else {
            ""
        };
        let lent = if copies_nothing(report) {
            " A path that copies nothing (copies 0) can pass memcpy: the bytes are not moved, so its ceiling is what its two ends do with them, CRC32C under full verification."
        } else {
            ""
        };
        s += &format!(
            "<p class=\"floors\">{}{under}{lent}</p>\n",
            escape(&crate::results::format::floors_summary(f))
        );
    }
    for (placement, figures) in &drawn.summary {
        s += &format!(
            "<h3>{}</h3>\n<ul class=\"facts\">\n",
            capitalised(placement_words(*placement))
        );
        let lines = sentences(report, *placement)
            .into_iter()
            .chain(load_sentences(report, *placement))
            .chain(super::frontier::sentences(report, *placement));
        for line in lines {
            s += &format!("<li>{line}</li>\n");
        }
        s += "</ul>\n";
        s += &figures_html(figures);
        if has_ping_pong(report) {
            s += "<p>Every size at a glance: each cell is coloured from green (the best of its table) to red (the worst) on a log scale; hover a cell that did not run for the reason.</p>\n<div class=\"grids\">";
            for pattern in Pattern::ALL {
                s += &grid(report, *placement, pattern);
            }
            s += "</div>\n";
        }
    }
    s
}

/// Whether the run has rows of any of `patterns`.
/// Whether any row's pattern is loaded (an extra axis) or not, as asked.
fn ran_any(report: &Report, loaded: bool) -> bool {
    report
        .result
        .rows
        .iter()
        .any(|r| (r.pattern.describe().load != Load::None) == loaded)
}

/// Ping-pong or streaming rows (a run of the loaded workloads alone has
/// neither, and no grid or results table to show).
fn has_ping_pong(report: &Report) -> bool {
    ran_any(report, false)
}

fn has_load(report: &Report) -> bool {
    ran_any(report, true)
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
        item("physical limits", crate::results::format::floors_summary(f));
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

/// One row per mechanism, one column per property in `columns`, with
/// the evidence on hover.
fn property_table(report: &Report, p: &ProbeFile, columns: &[Property]) -> String {
    let mut s = String::from("<div class=\"scroll\"><table><tr><th>mechanism</th>");
    for prop in columns {
        s += &format!("<th>{}</th>", prop.heading());
    }
    s += "</tr>\n";
    for row in &p.rows {
        s += &format!("<tr><td>{}</td>", swatch(report, &row.mechanism));
        for prop in columns {
            match row.cells.get(prop.key()) {
                Some(c) => s += &property_cell(c),
                None => s += "<td>–</td>",
            }
        }
        s += "</tr>\n";
    }
    s + "</table></div>\n"
}

fn property_cell(c: &crate::results::probe::Cell) -> String {
    let claimed = c
        .claimed
        .as_ref()
        .map_or(String::new(), |c| format!(" ({c})"));
    let class = if c.disagrees() {
        " class=\"disagree\""
    } else {
        ""
    };
    format!(
        "<td{class} title=\"{}\">{}{}{}</td>",
        escape(&c.evidence),
        escape(&c.measured.text()),
        c.method.mark(),
        claimed
    )
}

fn properties(report: &Report, p: &ProbeFile) -> String {
    let mut s = format!(
        "<h2>Properties, regenerated on this machine</h2>\n<p>{} {} The claimed table's value is in brackets, and a <span class=\"disagree\">highlighted</span> cell contradicts it. Hover a cell for its evidence; all evidence is listed below.</p>\n",
        escape(&p.method_summary()),
        escape(Method::LEGEND)
    );
    s += &property_table(report, p, &PROPERTIES);
    if p.has_crossings() {
        s += &format!(
            "<h3>Which boundaries each mechanism crosses</h3>\n<p>{}</p>\n",
            escape(CROSSINGS_LEGEND)
        );
        s += &property_table(report, p, &CROSSINGS);
    }
    s += "<h3>Evidence</h3>\n<ul class=\"evidence\">\n";
    for row in &p.rows {
        for prop in every_property() {
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
