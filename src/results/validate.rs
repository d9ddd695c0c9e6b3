//! What a result file must hold to be believed. A file that parses can
//! still say impossible things (an `ok` row with no figure, a negative time,
//! one case twice); every command that reads one refuses those, naming the
//! row and the value.

use std::collections::HashSet;

use super::pattern::{Load, Unit};
use super::{Floors, ResultFile, Row, Rtt, Status};

/// The longest mechanism name accepted: ipcbench's are under 20 characters.
pub const MAX_NAME: usize = 64;

/// Times and memcpy rates, in the ranges of their units.
const NS: (f64, f64) = Unit::Ns.range();
const MIB_PER_S: (f64, f64) = Unit::MibPerS.range();

/// What makes a result file unbelievable: a value out of its unit's
/// range, figures that contradict each other, a histogram that does not
/// decode; in a row, which one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    #[error("{field} is {value}; expected a number from {lo} to {hi}")]
    OutOfRange {
        field: String,
        value: f64,
        lo: f64,
        hi: f64,
    },
    /// Figures, or a figure and the row's status, that cannot both hold.
    #[error("{0}")]
    Contradiction(String),
    #[error(transparent)]
    Histogram(#[from] super::distribution::BadHistogram),
    #[error("rows[{index}] ({mechanism}): {problem}")]
    Row {
        index: usize,
        mechanism: String,
        problem: Box<Invalid>,
    },
}

pub fn validate(file: &ResultFile) -> Result<(), Invalid> {
    let c = &file.calibration;
    within(
        "calibration.timer_overhead_ns",
        c.timer_overhead_ns,
        (0.0, NS.1),
    )?;
    for (i, r) in c.reference_ns.iter().enumerate() {
        within(&format!("calibration.reference_ns[{i}]"), *r, NS)?;
    }
    if let Some(f) = &file.floors {
        check_floors(f)?;
    }
    let mut seen = HashSet::new();
    for (i, row) in file.rows.iter().enumerate() {
        let at = |problem: Invalid| Invalid::Row {
            index: i,
            mechanism: row.mechanism_for_errors(),
            problem: Box::new(problem),
        };
        check_row(row).map_err(at)?;
        if !seen.insert(row.key()) {
            return Err(at(Invalid::Contradiction(
                "the same case appears twice; each case has one row".into(),
            )));
        }
    }
    Ok(())
}

fn check_row(row: &Row) -> Result<(), Invalid> {
    let name_ok = !row.mechanism.is_empty()
        && row.mechanism.len() <= MAX_NAME
        && row
            .mechanism
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(Invalid::Contradiction(format!(
            "mechanism name must be 1 to {MAX_NAME} characters of a-z, 0-9 and '-'"
        )));
    }
    within("elapsed_s", row.elapsed_s, (0.0, 1e9))?;
    if let Some(cpu) = &row.cpu_ns_per_msg {
        within("cpu_ns_per_msg.parent", cpu.parent, (0.0, NS.1))?;
        within("cpu_ns_per_msg.child", cpu.child, (0.0, NS.1))?;
    }
    // A process has as many busy threads as it runs, and ipcbench's run
    // a handful: a thousand CPUs is no machine's reading.
    if let Some(busy) = &row.cpu_busy {
        within("cpu_busy.parent", busy.parent, (0.0, 1e3))?;
        within("cpu_busy.child", busy.child, (0.0, 1e3))?;
    }
    let trial_range = row.pattern.describe().headline().unit.range();
    for (i, t) in row.trials.iter().enumerate() {
        within(&format!("trials[{i}]"), *t, trial_range)?;
    }
    for (q, _) in &row.rtt_curve_ns {
        if !(0.0..=1.0).contains(q) {
            return Err(Invalid::Contradiction(format!(
                "rtt_curve_ns has quantile {q}; quantiles are 0 to 1"
            )));
        }
    }
    if row.status == Status::Ok {
        check_figures(row)?;
    }
    Ok(())
}

/// An `ok` row has timed something, and has the figures of its pattern.
fn check_figures(row: &Row) -> Result<(), Invalid> {
    if row.messages == 0 {
        return Err(Invalid::Contradiction(
            "status ok with 0 timed messages".into(),
        ));
    }
    if row.trials.is_empty() {
        return Err(Invalid::Contradiction(
            "status ok with no trials; each measured row has one figure per trial".into(),
        ));
    }
    pattern_figures(row)?;
    match row.decoded_histogram() {
        Some(h) => figures_of_histogram(row, &h?),
        None => median_of_trials(row),
    }
}

/// A row with its histogram shows that histogram's percentiles (every
/// trial's messages added): a file whose figures say otherwise would let
/// a reader of the histogram and a reader of the row disagree.
fn figures_of_histogram(row: &Row, h: &hdrhistogram::Histogram<u64>) -> Result<(), Invalid> {
    let Some(d) = row.pattern.describe().distributions.first() else {
        return Err(Invalid::Contradiction(format!(
            "a {} row carries no histogram",
            row.pattern
        )));
    };
    let shown = (d.read)(row)
        .ok_or_else(|| Invalid::Contradiction(format!("it has a histogram but no {}", d.name)))?;
    let decoded = super::distribution::percentiles(h);
    let pairs = [
        ("p50", shown.p50, decoded.p50),
        ("p99", shown.p99, decoded.p99),
        ("p99.9", shown.p999, decoded.p999),
    ];
    match pairs.iter().find(|(_, a, b)| a != b) {
        Some((q, a, b)) => Err(Invalid::Contradiction(format!(
            "its {}.{q} is {a} ns but its histogram's is {b} ns; the figures are read from the histogram",
            d.name
        ))),
        None => Ok(()),
    }
}

/// The figures a row of its pattern carries (its description says which),
/// each in its unit's range, and its load axis.
fn pattern_figures(row: &Row) -> Result<(), Invalid> {
    let described = row.pattern.describe();
    for d in described.distributions {
        match (d.read)(row) {
            Some(t) => percentiles(d.name, Some(t))?,
            None if d.required => percentiles(d.name, None)?,
            None => {}
        }
    }
    for m in described.metrics {
        match (m.read)(row) {
            Some(v) => within(m.field, v, m.unit.range())?,
            None if m.required => {
                return Err(Invalid::Contradiction(format!(
                    "a {} row with status ok has no {}",
                    row.pattern, m.field
                )))
            }
            None => {}
        }
    }
    match described.load {
        Load::None => Ok(()),
        Load::OfferedRate => {
            let offered = row.offered_per_s.ok_or(Invalid::Contradiction(
                "a rate row has no offered_per_s".into(),
            ))?;
            within("offered_per_s", offered, (1.0, crate::results::MAX_RATE))
        }
        Load::Senders => at_least_one("senders", row.senders, row),
        Load::Subscribers => at_least_one("subscribers", row.subscribers, row),
        Load::Groups => at_least_one("groups", row.groups, row).and(at_least_one(
            "group_size",
            row.group_size,
            row,
        )),
    }
}

/// A count of processes a row of its pattern needs: one or more.
fn at_least_one(what: &str, count: Option<u32>, row: &Row) -> Result<(), Invalid> {
    match count {
        Some(n) if n > 0 => Ok(()),
        other => Err(Invalid::Contradiction(format!(
            "a {} row needs {what} ≥ 1; got {other:?}",
            row.pattern
        ))),
    }
}

/// A distribution that is there, positive and ordered.
fn percentiles(what: &str, r: Option<&Rtt>) -> Result<(), Invalid> {
    let r =
        r.ok_or_else(|| Invalid::Contradiction(format!("a row with status ok has no {what}")))?;
    let order = [r.min, r.p50, r.p90, r.p99, r.p999, r.max];
    if r.min == 0 || order.windows(2).any(|w| w[0] > w[1]) {
        return Err(Invalid::Contradiction(format!(
            "{what} must be positive and min ≤ p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max; got {order:?}"
        )));
    }
    within(&format!("{what}.max"), r.max as f64, NS)?;
    within(&format!("{what}.mean"), r.mean, NS)?;
    within(&format!("{what}.stddev"), r.stddev, (0.0, NS.1))
}

/// A case's figure is the median of its trials' (the upper one of an even
/// count), as `run` chose it: a file whose trials say otherwise would let
/// `compare` judge by numbers the row does not show.
fn median_of_trials(row: &Row) -> Result<(), Invalid> {
    let Some(figure) = row.headline() else {
        return Ok(());
    };
    let mut sorted = row.trials.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if (median - figure).abs() > 1e-9 * figure.abs().max(1.0) {
        return Err(Invalid::Contradiction(format!(
            "its figure {figure} is not the median of its trials {:?} ({median}); trials and figure must agree",
            row.trials
        )));
    }
    Ok(())
}

/// Each measured limit positive, p99 at least p50; each memcpy and CRC32C
/// rate in range.
fn check_floors(f: &Floors) -> Result<(), Invalid> {
    let limits = [
        ("cache_line_rtt_ns", f.cache_line_rtt_ns),
        ("futex_wake_rtt_ns", f.futex_wake_rtt_ns),
        ("context_switch_rtt_ns", f.context_switch_rtt_ns),
    ];
    for (name, limit) in limits {
        let Some(l) = limit else { continue };
        if l.p50 == 0 || l.p99 < l.p50 || l.samples == 0 || l.p99 as f64 > NS.1 {
            return Err(Invalid::Contradiction(format!(
                "floors.{name} is p50 {} ns, p99 {} ns over {} samples; a limit is positive, p50 ≤ p99, measured at least once",
                l.p50, l.p99, l.samples
            )));
        }
    }
    let rates = [
        ("memcpy_mib_per_s", &f.memcpy_mib_per_s),
        ("crc32c_mib_per_s", &f.crc32c_mib_per_s),
    ];
    for (name, rates) in rates {
        for (i, (size, mib)) in rates.iter().enumerate() {
            if *size == 0 {
                return Err(Invalid::Contradiction(format!(
                    "floors.{name}[{i}] is for 0 bytes"
                )));
            }
            within(&format!("floors.{name}[{i}]"), *mib, MIB_PER_S)?;
        }
    }
    Ok(())
}

/// A finite value from `lo` to `hi`.
fn within(what: &str, v: f64, (lo, hi): (f64, f64)) -> Result<(), Invalid> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Invalid::OutOfRange {
            field: what.to_string(),
            value: v,
            lo,
            hi,
        })
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
