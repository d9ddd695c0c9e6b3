//! What a result file must hold to be believed. A file that parses can
//! still say impossible things (an `ok` row with no figure, a negative time,
//! one case twice); every command that reads one refuses those, naming the
//! row and the value.

use std::collections::HashSet;

use super::{Pattern, ResultFile, Row, Rtt, Status};

/// The longest mechanism name accepted: ipcbench's are under 20 characters.
pub const MAX_NAME: usize = 64;

pub fn validate(file: &ResultFile) -> Result<(), String> {
    let c = &file.calibration;
    non_negative("calibration.timer_overhead_ns", c.timer_overhead_ns)?;
    for (i, r) in c.reference_ns.iter().enumerate() {
        positive(&format!("calibration.reference_ns[{i}]"), *r)?;
    }
    let mut seen = HashSet::new();
    for (i, row) in file.rows.iter().enumerate() {
        let at = |what: &str| format!("rows[{i}] ({}): {what}", row.mechanism_for_errors());
        check_row(row).map_err(|e| at(&e))?;
        let case = format!(
            "{} {} {} {} {:?} {:?}",
            row.mechanism,
            row.pattern,
            row.placement,
            row.size_bytes,
            row.offered_per_s,
            row.senders
        );
        if !seen.insert(case) {
            return Err(at("the same case appears twice; each case has one row"));
        }
    }
    Ok(())
}

fn check_row(row: &Row) -> Result<(), String> {
    let name_ok = !row.mechanism.is_empty()
        && row.mechanism.len() <= MAX_NAME
        && row
            .mechanism
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(format!(
            "mechanism name must be 1 to {MAX_NAME} characters of a-z, 0-9 and '-'"
        ));
    }
    non_negative("elapsed_s", row.elapsed_s)?;
    if let Some(cpu) = &row.cpu_ns_per_msg {
        non_negative("cpu_ns_per_msg.parent", cpu.parent)?;
        non_negative("cpu_ns_per_msg.child", cpu.child)?;
    }
    for (i, t) in row.trials.iter().enumerate() {
        positive(&format!("trials[{i}]"), *t)?;
    }
    for (q, _) in &row.rtt_curve_ns {
        if !(0.0..=1.0).contains(q) {
            return Err(format!(
                "rtt_curve_ns has quantile {q}; quantiles are 0 to 1"
            ));
        }
    }
    if row.status == Status::Ok {
        check_figures(row)?;
    }
    Ok(())
}

/// An `ok` row has timed something, and has the figures of its pattern.
fn check_figures(row: &Row) -> Result<(), String> {
    if row.messages == 0 {
        return Err("status ok with 0 timed messages".into());
    }
    if row.trials.is_empty() {
        return Err("status ok with no trials; each measured row has one figure per trial".into());
    }
    match row.pattern {
        Pattern::Latency => percentiles("rtt_ns", row.rtt_ns.as_ref()),
        Pattern::Rate => {
            let offered = row.offered_per_s.ok_or("a rate row has no offered_per_s")?;
            positive("offered_per_s", offered)?;
            let s = row.schedule.as_ref().ok_or("a rate row has no schedule")?;
            positive("schedule.achieved_per_s", s.achieved_per_s)?;
            percentiles("rtt_ns", row.rtt_ns.as_ref())
        }
        Pattern::FanIn => {
            match row.senders {
                Some(n) if n > 0 => {}
                other => return Err(format!("a fan-in row needs senders ≥ 1; got {other:?}")),
            }
            positive("msgs_per_s", row.msgs_per_s.unwrap_or(0.0))?;
            // None when no message arrived intact (all torn): no time to trust.
            match &row.one_way_ns {
                Some(t) => percentiles("one_way_ns", Some(t)),
                None => Ok(()),
            }
        }
        Pattern::Throughput => {
            let rate = row
                .msgs_per_s
                .ok_or("a throughput row with status ok has no msgs_per_s")?;
            positive("msgs_per_s", rate)?;
            match row.mib_per_s {
                Some(m) => positive("mib_per_s", m),
                None => Ok(()),
            }
        }
    }
}

/// A distribution that is there, positive and ordered.
fn percentiles(what: &str, r: Option<&Rtt>) -> Result<(), String> {
    let r = r.ok_or_else(|| format!("a row with status ok has no {what}"))?;
    let order = [r.min, r.p50, r.p90, r.p99, r.p999, r.max];
    if r.min == 0 || order.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!(
            "{what} must be positive and min ≤ p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max; got {order:?}"
        ));
    }
    positive(&format!("{what}.mean"), r.mean)?;
    non_negative(&format!("{what}.stddev"), r.stddev)
}

fn positive(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("{what} is {v}; it must be a positive number"))
    }
}

fn non_negative(what: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{what} is {v}; it must be zero or more"))
    }
}

impl Row {
    /// The name as an error message may quote it: never a screenful.
    fn mechanism_for_errors(&self) -> String {
        let mut name: String = self.mechanism.chars().take(MAX_NAME).collect();
        if name.len() < self.mechanism.len() {
            name += "…";
        }
        name
    }
}
