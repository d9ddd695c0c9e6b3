//! The results as a Markdown table, padded so it also reads well as plain
//! text on a terminal.

use crate::results::format::{floors_summary, load_cell, multiple_text, ns, rate, size_cell};
use crate::results::probe::{
    claimed_row, every_property, Cell, Method, ProbeFile, Property, CROSSINGS, CROSSINGS_LEGEND,
    PROPERTIES,
};
use crate::results::{Floors, Pattern, ResultFile, Row, Status};

/// Long reasons go under the table as numbered notes, shared by the rows
/// that have the same one, so the table stays readable.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn mark(&mut self, reason: &str) -> usize {
        match self.0.iter().position(|r| r == reason) {
            Some(i) => i + 1,
            None => {
                self.0.push(reason.to_string());
                self.0.len()
            }
        }
    }
}

/// The table's columns but the last (status), as people read them; the
/// headline against its physical limit when the run measured them.
pub fn figures(row: &Row, floors: Option<&Floors>) -> Vec<String> {
    let dash = || "–".to_string();
    // Fan-in rows have one-way figures in the same columns, and fan-out
    // rows the time until every subscriber answered, marked so.
    let marked = |r: &crate::results::Rtt, mark: &str| {
        let cell = |v: u64| format!("{}{mark}", ns(v as f64));
        (cell(r.p50), cell(r.p99), cell(r.p999))
    };
    let (p50, p99, p999) = match (&row.rtt_ns, &row.completion_ns, &row.one_way_ns) {
        (Some(r), _, _) => marked(r, ""),
        (None, Some(r), _) => marked(r, " to all"),
        (None, None, Some(r)) => marked(r, " 1-way"),
        (None, None, None) => match row.total_ns {
            // A groups row's one time: perf's total, in the first column.
            Some(t) => (format!("{} total", ns(t as f64)), dash(), dash()),
            None => (dash(), dash(), dash()),
        },
    };
    let msgs = row.msgs_per_s.map_or_else(dash, rate);
    let mib = row.mib_per_s.map_or_else(dash, |b| format!("{b:.1}"));
    let cpu = row
        .cpu_ns_per_msg
        .as_ref()
        .map_or_else(dash, |c| format!("{} / {}", ns(c.parent), ns(c.child)));
    vec![
        row.transport_label().into_owned(),
        row.pattern.to_string().to_string(),
        crate::results::case::placement_label(row),
        size_cell(row),
        row.copies.map_or_else(dash, |c| c.to_string()),
        load_cell(row),
        p50,
        p99,
        p999,
        msgs,
        mib,
        floors
            .and_then(|f| f.multiple(row))
            .map_or_else(dash, multiple_text),
        cpu,
        row.messages.to_string(),
    ]
}

/// The status column: ok (and whether its latency held steady), the
/// error counters, or why the case did not run, with `reason` turning the
/// row's reason, or its drift, into what the cell shows.
pub fn status(row: &Row, reason: impl FnOnce(&str) -> String) -> String {
    let text = match (row.status, row.drift) {
        (Status::Ok, Some(d)) => d.warning(),
        _ => row.reason.clone().unwrap_or_default(),
    };
    let why = || reason(&text);
    match row.status {
        Status::Ok if row.errors.total() == 0 && row.drift.is_some() => {
            format!("ok, not steady {}", why())
        }
        Status::Ok if row.errors.total() == 0 => "ok".to_string(),
        Status::Ok => format!(
            "ERRORS lost {} dup {} reord {} corrupt {}{}",
            row.errors.lost,
            row.errors.duplicated,
            row.errors.reordered,
            row.errors.corrupted,
            if row.errors.torn > 0 {
                format!(" torn {}", row.errors.torn)
            } else {
                String::new()
            }
        ),
        Status::Unsupported => format!("unsupported {}", why()),
        Status::Failed => format!("FAILED {}", why()),
    }
}

fn cells(row: &Row, floors: Option<&Floors>, notes: &mut Notes) -> Vec<String> {
    let mut cells = figures(row, floors);
    cells.push(status(row, |r| format!("[{}]", notes.mark(r))));
    cells
}

pub const HEADER: [&str; 15] = [
    "mechanism",
    "pattern",
    "placement",
    "size",
    "copies",
    "load",
    "RTT p50",
    "RTT p99",
    "RTT p99.9",
    "throughput",
    "MiB/s",
    "vs limit",
    "CPU/msg parent / peer",
    "messages",
    "status",
];

/// Renders rows as a padded Markdown table, followed by the notes its
/// status column refers to.
pub fn table(rows: &[Row], floors: Option<&Floors>) -> String {
    let mut notes = Notes::default();
    let body: Vec<Vec<String>> = rows.iter().map(|r| cells(r, floors, &mut notes)).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            body.iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: Vec<String>| {
        let padded: Vec<String> = cols
            .iter()
            .zip(&widths)
            // Padded by hand: format!'s width stops at 65,535.
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(HEADER.iter().map(|s| s.to_string()).collect());
    out += &line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in body {
        out += &line(r);
    }
    if !notes.0.is_empty() {
        out += "\n";
        for (i, n) in notes.0.iter().enumerate() {
            out += &format!("[{}] {n}\n", i + 1);
        }
    }
    out
}

/// A whole report: machine, how to read it, the table.
pub fn report(result: &ResultFile) -> String {
    let mut s = format!(
        "# ipcbench results\n\nMachine: {}\n\nipcbench {} ({}), verification: {:?}, clock read: {:.0} ns{}\n\n",
        result.machine.summary(),
        result.tool.version,
        result.tool.git_commit,
        result.options.verify,
        result.calibration.timer_overhead_ns,
        if result.complete { "" } else { ", INCOMPLETE (interrupted)" },
    );
    for w in &result.machine.warnings {
        s += &format!("Warning, {w}\n\n");
    }
    for pattern in Pattern::ALL {
        let legend = pattern.describe().legend;
        if let (Some(text), true) = (legend, result.rows.iter().any(|r| r.pattern == pattern)) {
            s += &format!("{text}\n\n");
        }
    }
    if let Some(f) = &result.floors {
        s += &format!("{}\n\n", floors_summary(f));
    }
    s += &table(&result.rows, result.floors.as_ref());
    if let Some(p) = &result.probe {
        s += "\n# Properties, regenerated on this kernel\n\n";
        s += &probe_tables(p);
    }
    s
}

/// The regenerated table, the claimed one beside it, and the evidence.
pub fn probe_tables(file: &ProbeFile) -> String {
    let mut s = String::from("## Measured on this machine\n\n");
    s += &format!("{}\n\n", file.machine.summary());
    s += &format!("{}\n\n", file.method_summary());
    s += &format!(
        "{} A cell marked ✗ contradicts the claimed table (its claim in brackets).\n\n",
        Method::LEGEND
    );
    s += &probe_table(file, &PROPERTIES);
    s += "\n## As claimed\n\n| mechanism | connectionless | reliable | flow control | priority | probed as |\n|---|---|---|---|---|---|\n";
    let mut seen = Vec::new();
    for row in &file.rows {
        let Some((name, claims)) = claimed_row(&row.mechanism) else {
            continue;
        };
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let probed: Vec<&str> = file
            .rows
            .iter()
            .map(|r| r.mechanism.as_str())
            .filter(|&x| claimed_row(x).is_some_and(|(n, _)| n == name))
            .collect();
        let yn = |b: bool| if b { "Y" } else { "N" };
        s += &format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            yn(claims[0]),
            yn(claims[1]),
            yn(claims[2]),
            yn(claims[3]),
            probed.join(", ")
        );
    }
    if file.has_crossings() {
        s += &format!("\n## Which boundaries each mechanism crosses\n\n{CROSSINGS_LEGEND}\n\n");
        s += &probe_table(file, &CROSSINGS);
    }
    s += "\n## Evidence\n\n";
    for row in &file.rows {
        for p in every_property() {
            if let Some(c) = row.cells.get(p.key()) {
                let mark = if c.disagrees() { " ✗" } else { "" };
                s += &format!(
                    "- {} / {}: {}{}{}{} — {}\n",
                    row.mechanism,
                    p.key(),
                    c.measured.text(),
                    c.method.mark(),
                    c.claimed
                        .as_ref()
                        .map_or(String::new(), |c| format!(" (claimed {c})")),
                    mark,
                    c.evidence
                );
            }
        }
    }
    s
}

/// One row per mechanism, one column per property in `columns`.
fn probe_table(file: &ProbeFile, columns: &[Property]) -> String {
    let head: Vec<&str> = columns.iter().map(|p| p.heading()).collect();
    let mut s = format!("| mechanism | {} |\n", head.join(" | "));
    s += &format!("|---|{}\n", "---|".repeat(head.len()));
    for row in &file.rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|p| row.cells.get(p.key()).map_or("–".into(), probe_cell))
            .collect();
        s += &format!("| {} | {} |\n", row.mechanism, cells.join(" | "));
    }
    s
}

/// One cell of the probe table: the value, its method's mark, the claim
/// where measurement contradicts it, and capacities in messages and bytes.
pub fn probe_cell(c: &Cell) -> String {
    let mut value = c.measured.text();
    if !c.capacity.is_empty() {
        let each: Vec<String> = c
            .capacity
            .iter()
            .map(|k| format!("{}: {} × {} B", k.sender, k.messages, k.message_bytes))
            .collect();
        value = format!("{value} ({})", each.join("; "));
    }
    let value = format!("{value}{}", c.method.mark());
    match &c.claimed {
        Some(claim) if c.disagrees() => format!("**{value}** ✗ (claimed {claim})"),
        _ => value,
    }
}

pub struct Markdown;

impl super::Exporter for Markdown {
    fn export(&self, result: &ResultFile) -> std::io::Result<super::Exported> {
        Ok(super::Exported::Text(report(result)))
    }
}
