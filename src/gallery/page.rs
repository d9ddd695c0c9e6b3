//! The gallery's page: the machines, then every case across them, once
//! as measured and once as multiples of each machine's own limits.

use std::collections::HashMap;

use super::{Entry, Gallery};
use crate::report::{escape, page_end, page_start};
use crate::results::format::{bytes, multiple_text, ns, value};
use crate::results::{CaseKey, Placement, Row, Status};

pub fn page(g: &Gallery) -> String {
    let mut s = page_start("ipcbench gallery");
    s += &format!(
        "<p class=\"lead\">{} runs · <a href=\"#machines\">Machines</a> · <a href=\"#measured\">As measured</a> · <a href=\"#multiples\">As multiples of each machine's limits</a></p>\n",
        g.entries.len()
    );
    s += &refused(&g.refused);
    s += &machines(&g.entries);
    let cases = cases(&g.entries);
    s += &figures(&g.entries, &cases, Way::Measured);
    s += &figures(&g.entries, &cases, Way::Multiple);
    s += &page_end();
    s
}

fn refused(refused: &[String]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let items: String = refused
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect();
    format!(
        "<div class=\"warnings\"><b>Files not shown</b>, each with why:<ul>{items}</ul></div>\n"
    )
}

/// A table cell sorted by `key`, showing `text`.
fn cell(key: impl std::fmt::Display, text: &str) -> String {
    format!("<td data-v=\"{key}\">{}</td>", escape(text))
}

fn or_dash(v: Option<&String>) -> String {
    v.map_or("–".into(), |s| s.clone())
}

fn machines(entries: &[Entry]) -> String {
    let mut s = String::from("<h2 id=\"machines\">Machines</h2>\n<p>One row per run: the CPU (architecture, CPUs, topology), the kernel (whether it is virtualised, the cpufreq governor, the cpuidle driver), the measured limits and the run's options. Click a heading to sort. The limits are each machine's own, measured at the start of its run on its two CPUs: a context switch on one CPU, a futex wake-up and a cache line's round trip across two, and memcpy of 64 KiB. The run's id heads its column in the tables below and links to its full report.</p>\n");
    s += "<div class=\"scroll\"><table id=\"machine-table\" class=\"sortable\"><thead><tr><th>run</th><th>CPU</th><th>kernel</th><th>context switch</th><th>futex wake-up</th><th>cache line</th><th>memcpy 64 KiB</th><th>verify</th><th>cases</th><th>ran</th></tr></thead>\n<tbody>\n";
    for e in entries {
        s += &machine_row(e);
    }
    s + "</tbody></table></div>\n"
}

fn machine_row(e: &Entry) -> String {
    let (m, r) = (&e.result.machine, &e.result);
    let floors = r.floors.as_ref();
    let limit = |f: Option<crate::results::Floor>| match f {
        Some(f) => cell(f.p50, &ns(f.p50 as f64)),
        None => "<td data-v=\"\" class=\"na\" title=\"not measured in this run\">–</td>".into(),
    };
    let memcpy = floors
        .and_then(|f| {
            f.memcpy_mib_per_s
                .iter()
                .find(|(size, _)| *size == 64 << 10)
        })
        .map_or(
            "<td data-v=\"\" class=\"na\">–</td>".into(),
            |(_, mib)| cell(mib, &format!("{mib:.0} MiB/s")),
        );
    let measured = r.rows.iter().filter(|r| r.status == Status::Ok).count();
    let mut row = format!(
        "<tr><td data-v=\"{}\"><a href=\"{}/index.html\">{}</a><br><small class=\"path\">{}</small></td>",
        e.id.trim_start_matches('m'),
        e.id,
        e.id,
        escape(&e.path.display().to_string())
    );
    row += &format!(
        "<td>{}<br><small>{}, {} CPUs online, {} allowed; {}</small></td>",
        escape(&m.cpu_model),
        escape(&m.arch),
        m.cpus_online,
        m.cpus_allowed.len(),
        escape(
            &m.topology
                .as_ref()
                .map_or("topology not recorded".into(), |t| t.line())
        )
    );
    row += &format!(
        "<td>{}<br><small>virtualised: {}; governor {}, idle driver {}</small></td>",
        escape(&m.kernel),
        escape(m.hypervisor.as_deref().unwrap_or("no")),
        escape(&or_dash(m.cpufreq_governor.as_ref())),
        escape(&or_dash(m.cpuidle_driver.as_ref()))
    );
    row += &limit(floors.and_then(|f| f.context_switch_rtt_ns));
    row += &limit(floors.and_then(|f| f.futex_wake_rtt_ns));
    row += &limit(floors.and_then(|f| f.cache_line_rtt_ns));
    row += &memcpy;
    row += &format!("<td>{}</td>", r.options.verify);
    row += &cell(measured, &format!("{measured} of {}", r.rows.len()));
    row + &cell(&r.started_at, &r.started_at) + "</tr>\n"
}

/// A case (every axis but the machine), the first row of it seen, which
/// names it, and its row in each run that has it.
type Lined<'a> = (&'a Row, HashMap<&'a str, &'a Row>);

/// Every case any run measured or tried, in the order first seen, told
/// apart as `compare` tells them (`Row::key`); a sweep over pairs of CPUs
/// is each machine's own (its report has it).
fn cases(entries: &[Entry]) -> Vec<Lined<'_>> {
    let mut order: Vec<Lined> = Vec::new();
    let mut index: HashMap<CaseKey, usize> = HashMap::new();
    for e in entries {
        for r in e
            .result
            .rows
            .iter()
            .filter(|r| r.placement != Placement::Pair)
        {
            let i = *index.entry(r.key()).or_insert_with(|| {
                order.push((r, HashMap::new()));
                order.len() - 1
            });
            order[i].1.insert(&e.id, r);
        }
    }
    order
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Measured,
    Multiple,
}

fn figures(entries: &[Entry], cases: &[Lined], way: Way) -> String {
    let (id, title, text) = match way {
        Way::Measured => ("measured", "As measured", "Each case's headline figure on each run: the RTT p50 for latency, the p99 from the due time for an open loop, messages/s for throughput and fan-in. An empty cell is a case the run did not include; n/a and failed say why on hover."),
        Way::Multiple => ("multiples", "As multiples of each machine's limits", "The same figures divided by the limit that bounds them on that machine: a same-CPU round trip by its context switch, a cross-CPU one by its futex wake-up (or its cache line's round trip, when faster than any wake-up), throughput in MiB/s by memcpy's. 1× is the machine's floor; a VM with slow wake-ups and a bare-metal server read alike. Cases with no such limit (open loop, fan-in) are left empty."),
    };
    let mut s = format!("<h2 id=\"{id}\">{title}</h2>\n<p>{text} Click a heading to sort; type in the box to keep the rows that hold every word.</p>\n");
    s += &format!("<p><input class=\"filter\" type=\"search\" placeholder=\"filter, e.g. pipe latency cross 64 B\" data-table=\"{id}-table\" data-count=\"{id}-count\" aria-label=\"filter the cases\"> <span id=\"{id}-count\"></span></p>\n");
    s += &format!("<div class=\"scroll\"><table id=\"{id}-table\" class=\"sortable\"><thead><tr><th>transport</th><th>pattern</th><th>placement</th><th>size</th><th>load</th>");
    for e in entries {
        s += &format!(
            "<th title=\"{}\">{}</th>",
            escape(&e.result.machine.summary()),
            e.id
        );
    }
    s += "</tr></thead>\n<tbody>\n";
    for (case, rows) in cases {
        s += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td>",
            escape(&case.transport_label()),
            case.pattern,
            case.placement,
            cell(case.size_bytes, &bytes(case.size_bytes)),
            escape(&case.load_label().unwrap_or_default())
        );
        for e in entries {
            s += &figure(e, rows.get(e.id.as_str()).copied(), way);
        }
        s += "</tr>\n";
    }
    s + "</tbody></table></div>\n"
}

fn figure(e: &Entry, row: Option<&Row>, way: Way) -> String {
    let Some(r) = row else {
        return "<td data-v=\"\" title=\"not in this run\"></td>".into();
    };
    if r.status != Status::Ok {
        let (class, word) = match r.status {
            Status::Failed => ("bad", "failed"),
            _ => ("na", "n/a"),
        };
        return format!(
            "<td data-v=\"\" class=\"{class}\" title=\"{}\">{word}</td>",
            escape(r.reason.as_deref().unwrap_or(""))
        );
    }
    match way {
        Way::Measured => match r.headline() {
            Some(v) => cell(v, &value(v, r.pattern.describe().headline().unit)),
            None => "<td data-v=\"\">–</td>".into(),
        },
        Way::Multiple => match e.result.floors.as_ref().and_then(|f| f.multiple(r)) {
            Some((m, name)) => format!(
                "<td data-v=\"{m}\" title=\"{}\">{m:.2}×</td>",
                escape(&multiple_text((m, name)))
            ),
            None => "<td data-v=\"\" class=\"na\" title=\"no limit bounds this case on this run\">–</td>".into(),
        },
    }
}
