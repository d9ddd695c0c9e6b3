//! The results as a Markdown table, padded so it also reads well as plain
//! text on a terminal.

use crate::output::{bytes, ns, rate};
use crate::results::{Pattern, ResultFile, Row, Status};

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

fn cells(row: &Row, notes: &mut Notes) -> Vec<String> {
    let dash = || "–".to_string();
    let (p50, p99, p999) = match &row.rtt_ns {
        Some(r) => (ns(r.p50 as f64), ns(r.p99 as f64), ns(r.p999 as f64)),
        None => (dash(), dash(), dash()),
    };
    let msgs = row.msgs_per_s.map_or_else(dash, rate);
    let mib = row.mib_per_s.map_or_else(dash, |b| format!("{b:.1}"));
    let cpu = row
        .cpu_ns_per_msg
        .as_ref()
        .map_or_else(dash, |c| format!("{} / {}", ns(c.parent), ns(c.child)));
    let status = match row.status {
        Status::Ok if row.errors.total() == 0 => "ok".to_string(),
        Status::Ok => format!(
            "ERRORS lost {} dup {} reord {} corrupt {}",
            row.errors.lost, row.errors.duplicated, row.errors.reordered, row.errors.corrupted
        ),
        Status::Unsupported => format!(
            "unsupported [{}]",
            notes.mark(row.reason.as_deref().unwrap_or(""))
        ),
        Status::Failed => format!(
            "FAILED [{}]",
            notes.mark(row.reason.as_deref().unwrap_or(""))
        ),
    };
    vec![
        row.mechanism.clone(),
        crate::harness::pattern_name(row.pattern).to_string(),
        format!("{:?}", row.placement).to_lowercase(),
        size_cell(row),
        p50,
        p99,
        p999,
        msgs,
        mib,
        cpu,
        row.messages.to_string(),
        status,
    ]
}

const HEADER: [&str; 12] = [
    "mechanism",
    "pattern",
    "placement",
    "size",
    "RTT p50",
    "RTT p99",
    "RTT p99.9",
    "throughput",
    "MiB/s",
    "CPU/msg parent / peer",
    "messages",
    "status",
];

/// A signal-only row has no size (and says so in its note).
pub fn size_cell(row: &Row) -> String {
    if row.size_bytes == 0 && row.note.is_some() {
        "none".to_string()
    } else {
        bytes(row.size_bytes)
    }
}

/// Renders rows as a padded Markdown table, followed by the notes its
/// status column refers to.
pub fn table(rows: &[Row]) -> String {
    let mut notes = Notes::default();
    let body: Vec<Vec<String>> = rows.iter().map(|r| cells(r, &mut notes)).collect();
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
            .map(|(c, w)| format!("{c:<w$}", w = *w))
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
    let latency = result.rows.iter().any(|r| r.pattern == Pattern::Latency);
    let mut s = format!(
        "# ipcbench results\n\nMachine: {}\n\nipcbench {} ({}), verification: {:?}, clock read: {:.0} ns{}\n\n",
        result.machine.summary(),
        result.tool.version,
        result.tool.git_commit,
        result.options.verify,
        result.calibration.timer_overhead_ns,
        if result.complete { "" } else { ", INCOMPLETE (interrupted)" },
    );
    if latency {
        s += "RTT = round trip (send + echo); one-way latency ≈ RTT / 2. Throughput is one-way, MiB = 2^20 bytes. CPU/msg is user+system CPU time per message of each process.\n\n";
    }
    s + &table(&result.rows)
}
