//! The results table as CSV: the Markdown table's columns as people read
//! them, then the raw numbers behind them, for spreadsheets and scripts.
//! Written by the csv crate, so a reason with commas or quotes stays one
//! field.

use super::markdown::{figures, status, HEADER};
use crate::results::{Floors, ResultFile, Row};

/// The raw figures behind the human columns; the case's own axes come
/// first, from `results::case`.
const RAW: [&str; 41] = [
    "status_raw",
    "rtt_min_ns",
    "rtt_p50_ns",
    "rtt_p90_ns",
    "rtt_p99_ns",
    "rtt_p999_ns",
    "rtt_max_ns",
    "rtt_mean_ns",
    "msgs_per_s",
    "mib_per_s",
    "limit_multiple",
    "limit",
    "cpu_parent_ns_per_msg",
    "cpu_child_ns_per_msg",
    "warmup_messages",
    "elapsed_s",
    "lost",
    "duplicated",
    "reordered",
    "corrupted",
    "timed_by",
    "trials",
    "reason",
    "note",
    "achieved_per_s",
    "sustained",
    "max_lag_ns",
    "end_lag_ns",
    "one_way_p50_ns",
    "one_way_p99_ns",
    "one_way_max_ns",
    "torn",
    "spin_budget_ns",
    "cpu_parent_busy",
    "cpu_child_busy",
    "completion_p50_ns",
    "completion_p99_ns",
    "completion_max_ns",
    "deliveries_per_s",
    "sends_per_message",
    "subscriber_msgs_per_s",
];

/// An absent figure is an empty field, never a zero.
fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn raw(r: &Row, floors: Option<&Floors>) -> Vec<String> {
    let limit = floors.and_then(|f| f.multiple(r));
    let rtt = |f: fn(&crate::results::Rtt) -> u64| opt(r.rtt_ns.as_ref().map(f));
    let cpu = |f: fn(&crate::results::CpuPerMessage) -> f64| opt(r.cpu_ns_per_msg.as_ref().map(f));
    let join = |v: Vec<String>| v.join(" ");
    vec![
        format!("{:?}", r.status).to_lowercase(),
        rtt(|t| t.min),
        rtt(|t| t.p50),
        rtt(|t| t.p90),
        rtt(|t| t.p99),
        rtt(|t| t.p999),
        rtt(|t| t.max),
        opt(r.rtt_ns.as_ref().map(|t| t.mean)),
        opt(r.msgs_per_s),
        opt(r.mib_per_s),
        opt(limit.map(|l| l.0)),
        limit.map_or(String::new(), |l| l.1.to_string()),
        cpu(|c| c.parent),
        cpu(|c| c.child),
        r.warmup_messages.to_string(),
        r.elapsed_s.to_string(),
        r.errors.lost.to_string(),
        r.errors.duplicated.to_string(),
        r.errors.reordered.to_string(),
        r.errors.corrupted.to_string(),
        r.timed_by.clone().unwrap_or_default(),
        join(r.trials.iter().map(|t| t.to_string()).collect()),
        r.reason.clone().unwrap_or_default(),
        r.note.clone().unwrap_or_default(),
        opt(r.schedule.as_ref().map(|s| s.achieved_per_s)),
        opt(r.schedule.as_ref().map(|s| s.sustained)),
        opt(r.schedule.as_ref().map(|s| s.max_lag_ns)),
        opt(r.schedule.as_ref().map(|s| s.end_lag_ns)),
        opt(r.one_way_ns.as_ref().map(|t| t.p50)),
        opt(r.one_way_ns.as_ref().map(|t| t.p99)),
        opt(r.one_way_ns.as_ref().map(|t| t.max)),
        r.errors.torn.to_string(),
        opt(r.spin_budget_ns),
        opt(r.cpu_busy.as_ref().map(|c| c.parent)),
        opt(r.cpu_busy.as_ref().map(|c| c.child)),
        opt(r.completion_ns.as_ref().map(|t| t.p50)),
        opt(r.completion_ns.as_ref().map(|t| t.p99)),
        opt(r.completion_ns.as_ref().map(|t| t.max)),
        opt(r.deliveries_per_s),
        opt(r.sends_per_message),
        join(
            r.subscriber_msgs_per_s
                .iter()
                .map(|v| v.to_string())
                .collect(),
        ),
    ]
}

/// One header line, then one line per row of the result file.
pub fn render(result: &ResultFile) -> std::io::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let axes = crate::results::case::columns();
    w.write_record(HEADER.iter().copied().chain(axes).chain(RAW))?;
    for r in &result.rows {
        let floors = result.floors.as_ref();
        let mut fields = figures(r, floors);
        fields.push(status(r, |reason| format!("({reason})")));
        fields.extend(crate::results::case::cells(r));
        fields.extend(raw(r, floors));
        w.write_record(&fields)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

pub struct Csv;

impl super::Exporter for Csv {
    fn export(&self, result: &ResultFile) -> std::io::Result<super::Exported> {
        render(result).map(super::Exported::Text)
    }
}
