//! The report page: one HTML file, inline CSS, no script, images beside it.

use super::{color_index, Figure};
use crate::export::markdown::size_cell;
use crate::output::{ns, rate};
use crate::results::probe::{Method, ProbeFile, PROPERTIES};
use crate::results::{Pattern, ResultFile, Row, Status};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}\
.bad{background:#fdd;font-weight:bold}.disagree{background:#fdd;font-weight:bold}\
.swatch{display:inline-block;width:0.9em;height:0.9em;margin-right:0.4em;vertical-align:middle}\
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.9em;color:#555}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:bold}\
.evidence{font-size:0.85em}";

fn swatch(mechanism: &str) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>{}",
        super::charts::css_color(color_index(mechanism)),
        escape(mechanism)
    )
}

fn placement(r: &Row) -> String {
    r.placement.to_string()
}

pub fn page(result: &ResultFile, figures: &[Figure], baseline: Option<&ResultFile>) -> String {
    let m = &result.machine;
    let o = &result.options;
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ipcbench report</title><style>{STYLE}</style></head><body>\n<h1>ipcbench report</h1>\n"
    );
    if !result.complete {
        s += "<p class=\"bad\">This run was interrupted: only the cases that finished are shown.</p>\n";
    }
    s += "<h2>Machine and options</h2>\n<dl>\n";
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
            .map(|b| crate::output::bytes(*b))
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
    item("verification", o.verify.to_string());
    item(
        "clock read",
        format!(
            "{:.0} ns (included once in every round trip, not subtracted)",
            result.calibration.timer_overhead_ns
        ),
    );
    s += "</dl>\n<p>Data: <a href=\"result.json\">result.json</a>";
    if baseline.is_some() {
        s += ", baseline: <a href=\"baseline.json\">baseline.json</a>";
    }
    s += "</p>\n<p>RTT is a round trip (the message and its echo); one-way latency is about half. Throughput is one way; MiB = 2<sup>20</sup> bytes. Compare rows of the same placement: on a virtual machine a wake-up across CPUs can cost more than any transport.</p>\n";

    s += "<h2>Charts</h2>\n";
    for f in figures {
        s += &format!(
            "<figure><img src=\"{0}.png\" alt=\"{1}\"><figcaption>{1} <a href=\"{0}.svg\">SVG</a></figcaption></figure>\n",
            f.stem,
            escape(&f.caption)
        );
    }
    if let Some(b) = baseline {
        s += &comparison(result, b);
    }
    s += &results_table(&result.rows);
    s += &not_ok(&result.rows);
    if let Some(p) = &result.probe {
        s += &properties(p);
    }
    s += "</body></html>\n";
    s
}

fn results_table(rows: &[Row]) -> String {
    let mut s = String::from("<h2>All results</h2>\n");
    for group in ["from the claimed table", "for comparison"] {
        let mine: Vec<&Row> = rows
            .iter()
            .filter(|r| crate::transport::group(&r.mechanism) == group)
            .collect();
        if !mine.is_empty() {
            s += &format!("<h3>Transports {group}</h3>\n");
            s += &rows_table(&mine);
        }
    }
    s + "<p>The four error counters are shown for every row; zero means every message arrived once, intact and in order.</p>\n"
}

fn rows_table(rows: &[&Row]) -> String {
    let mut s = String::from("<table><tr><th>mechanism</th><th>pattern</th><th>placement</th><th>size</th><th>RTT p50</th><th>RTT p99</th><th>RTT p99.9</th><th>RTT max</th><th>msg/s</th><th>MiB/s</th><th>CPU/msg parent</th><th>CPU/msg peer</th><th>messages</th><th>lost</th><th>duplicated</th><th>reordered</th><th>corrupted</th><th>status</th></tr>\n");
    for r in rows {
        let dash = || "–".to_string();
        let t = |f: fn(&crate::results::Rtt) -> u64| {
            r.rtt_ns.as_ref().map_or_else(dash, |x| ns(f(x) as f64))
        };
        let cpu = |f: fn(&crate::results::CpuPerMessage) -> f64| {
            r.cpu_ns_per_msg.as_ref().map_or_else(dash, |c| ns(f(c)))
        };
        let e = &r.errors;
        let err = |v: u64| {
            if v > 0 {
                format!("<td class=\"bad\">{v}</td>")
            } else {
                format!("<td>{v}</td>")
            }
        };
        let status = match r.status {
            Status::Ok => "ok",
            Status::Unsupported => "unsupported",
            Status::Failed => "FAILED",
        };
        s += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}{}{}{}<td>{}</td></tr>\n",
            swatch(&r.mechanism),
            r.pattern,
            placement(r),
            size_cell(r),
            t(|x| x.p50),
            t(|x| x.p99),
            t(|x| x.p999),
            t(|x| x.max),
            r.msgs_per_s.map_or_else(dash, rate),
            r.mib_per_s.map_or_else(dash, |v| format!("{v:.1}")),
            cpu(|c| c.parent),
            cpu(|c| c.child),
            r.messages,
            err(e.lost),
            err(e.duplicated),
            err(e.reordered),
            err(e.corrupted),
            status
        );
    }
    s + "</table>\n"
}

fn not_ok(rows: &[Row]) -> String {
    let bad: Vec<&Row> = rows.iter().filter(|r| r.status != Status::Ok).collect();
    if bad.is_empty() {
        return "<h2>Unsupported and failed cases</h2>\n<p>None: every case ran.</p>\n".into();
    }
    let mut s = String::from("<h2>Unsupported and failed cases</h2>\n<ul>\n");
    for r in bad {
        s += &format!(
            "<li>{} {} {} {}: <b>{}</b> — {}</li>\n",
            escape(&r.mechanism),
            r.pattern,
            placement(r),
            size_cell(r),
            if r.status == Status::Failed {
                "failed"
            } else {
                "unsupported"
            },
            escape(r.reason.as_deref().unwrap_or(""))
        );
    }
    s + "</ul>\n"
}

fn properties(p: &ProbeFile) -> String {
    let mut s = format!(
        "<h2>Properties, regenerated on this machine</h2>\n<p>{} {} The claimed table's value is in brackets, and a <span class=\"disagree\">highlighted</span> cell contradicts it. Hover a cell for its evidence; all evidence is listed below.</p>\n<table><tr><th>mechanism</th>",
        escape(&p.method_summary()),
        escape(Method::LEGEND)
    );
    for prop in PROPERTIES {
        s += &format!("<th>{}</th>", prop.heading());
    }
    s += "</tr>\n";
    for row in &p.rows {
        s += &format!("<tr><td>{}</td>", swatch(&row.mechanism));
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
    s += "</table>\n<h3>Evidence</h3>\n<ul class=\"evidence\">\n";
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

/// Same cases of two runs side by side: RTT p50 for latency, messages/s for
/// throughput, and their ratio (current / baseline).
fn comparison(current: &ResultFile, baseline: &ResultFile) -> String {
    let mut s = String::from("<h2>Compared with the baseline</h2>\n");
    if current.machine.cpu_model != baseline.machine.cpu_model
        || current.machine.kernel != baseline.machine.kernel
    {
        s += &format!(
            "<p class=\"bad\">The two runs come from different machines ({} / {}): ratios mix the machines with the code.</p>\n",
            escape(&baseline.machine.summary()),
            escape(&current.machine.summary())
        );
    }
    s += "<table><tr><th>mechanism</th><th>pattern</th><th>placement</th><th>size</th><th>baseline</th><th>current</th><th>current / baseline</th></tr>\n";
    for r in current.rows.iter().filter(|r| r.status == Status::Ok) {
        let Some(b) = baseline
            .rows
            .iter()
            .find(|b| b.status == Status::Ok && b.same_case(r))
        else {
            continue;
        };
        let value = |x: &Row| match x.pattern {
            Pattern::Latency => x.rtt_ns.as_ref().map(|t| t.p50 as f64),
            Pattern::Throughput => x.msgs_per_s,
        };
        let (Some(vb), Some(vc)) = (value(b), value(r)) else {
            continue;
        };
        let ratio = vc / vb;
        // Worse: latency up or throughput down by more than 10 %.
        let worse = match r.pattern {
            Pattern::Latency => ratio > 1.1,
            Pattern::Throughput => ratio < 0.9,
        };
        s += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{ratio:.2}</td></tr>\n",
            swatch(&r.mechanism),
            r.pattern,
            placement(r),
            size_cell(r),
            super::headline(b),
            super::headline(r),
            if worse { " class=\"bad\"" } else { "" },
        );
    }
    s + "</table>\n"
}
