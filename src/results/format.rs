//! How figures are spelt for people: sizes, times, rates, multiples of a
//! limit, a case's load and the limits' summary. Exports, the terminal and
//! the report all use these, so a figure reads the same everywhere.

use super::{Floors, Row};

/// `1.23 µs`, `456 ns`, `12.3 ms`.
pub fn ns(v: f64) -> String {
    if v < 1_000.0 {
        format!("{v:.0} ns")
    } else if v < 1_000_000.0 {
        format!("{:.2} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// `64 B`, `4 KiB`, `1 MiB`: binary units, as the sizes are given.
pub fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A case's size: `none` for a signal-only transport's (0), else `bytes`.
pub fn size_or_none(b: u64) -> String {
    if b == 0 {
        "none".to_string()
    } else {
        bytes(b)
    }
}

/// A figure in its unit, as tables show it.
pub fn value(v: f64, unit: super::pattern::Unit) -> String {
    match unit {
        super::pattern::Unit::Ns => ns(v),
        super::pattern::Unit::MsgPerS => rate(v),
        super::pattern::Unit::MibPerS => format!("{v:.1} MiB/s"),
    }
}

/// Where a figure is written, which decides how much of its unit it
/// keeps: a report's table column or grid cell has the unit in its
/// heading; a ranked bar or sentence stands alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The results table's column: one decimal of MiB/s.
    Column,
    /// A grid's cell: whole numbers.
    Cell,
    /// A ranked bar's label, a summary sentence.
    Ranked,
}

/// A figure as `place` writes it; times are always `ns()`.
pub fn value_at(v: f64, unit: super::pattern::Unit, place: Place) -> String {
    use super::pattern::Unit;
    match (unit, place) {
        (Unit::Ns, _) => ns(v),
        (Unit::MibPerS, Place::Column) => format!("{v:.1}"),
        (Unit::MsgPerS, Place::Column) => rate(v),
        (Unit::MibPerS | Unit::MsgPerS, Place::Cell) => format!("{v:.0}"),
        (Unit::MibPerS, Place::Ranked) => format!("{v:.0} MiB/s"),
        (Unit::MsgPerS, Place::Ranked) => format!("{}/s", rate_text(v)),
    }
}

/// `1.2 M msg/s`.
pub fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M msg/s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k msg/s", v / 1e3)
    } else {
        format!("{v:.0} msg/s")
    }
}

/// "achieved 99.8k/s" or "CANNOT SUSTAIN: achieved 41k/s".
pub fn schedule(s: &super::Schedule) -> String {
    let achieved = rate_text(s.achieved_per_s);
    if s.sustained {
        format!("achieved {achieved}/s")
    } else {
        format!(
            "CANNOT SUSTAIN: achieved {achieved}/s, {} behind at the end",
            ns(s.end_lag_ns as f64)
        )
    }
}

/// "500", "10k", "1.5M": a rate, short.
pub fn rate_text(r: f64) -> String {
    let (v, unit) = match r {
        r if r >= 1e6 => (r / 1e6, "M"),
        r if r >= 1e3 => (r / 1e3, "k"),
        r => (r, ""),
    };
    let v = format!("{v:.1}");
    format!("{}{unit}", v.trim_end_matches(".0"))
}

/// "1.1× futex wake-up".
pub fn multiple_text((m, name): (f64, &str)) -> String {
    // Two significant digits below 0.1, so that a small multiple never
    // reads as zero.
    let digits = match m {
        m if m <= 0.0 || !m.is_finite() => 1,
        m if m < 0.1 => (-m.log10()).ceil() as usize + 1,
        m if m < 10.0 => 1,
        _ => 0,
    };
    format!("{m:.digits$}× {name}")
}

/// The case's load: what was offered and achieved, or how many sent.
pub fn load_cell(row: &Row) -> String {
    match (row.offered_per_s, &row.schedule, row.senders) {
        (Some(offered), Some(s), _) => {
            let achieved = format!(
                "{}/s offered: {}/s",
                rate_text(offered),
                rate_text(s.achieved_per_s)
            );
            if s.sustained {
                achieved
            } else {
                format!("{achieved}, CANNOT SUSTAIN")
            }
        }
        _ => row.load_label().unwrap_or_else(|| "–".to_string()),
    }
}

/// A signal-only row has no size, whether its case ran or not.
pub fn size_cell(row: &Row) -> String {
    // Sizes start at a message's header: 0 is a transport without payload.
    if row.size_bytes == 0 {
        "none".to_string()
    } else {
        bytes(row.size_bytes)
    }
}

/// The physical limits in one paragraph, as "vs limit" refers to them.
pub fn floors_summary(f: &Floors) -> String {
    let rtt = |x: &Option<super::Floor>| {
        x.map_or("not measured".to_string(), |x| {
            format!("{} (p99 {})", ns(x.p50 as f64), ns(x.p99 as f64))
        })
    };
    let rates = |r: &[(u64, f64)]| {
        let each: Vec<String> = r
            .iter()
            .map(|(s, m)| format!("{} {m:.0} MiB/s", bytes(*s)))
            .collect();
        match each.is_empty() {
            true => "not measured".to_string(),
            false => each.join(", "),
        }
    };
    // Files from before the checksum's rate was measured say nothing of it.
    let checksum = match f.crc32c_mib_per_s.is_empty() {
        true => String::new(),
        false => format!("; CRC32C on one core {}", rates(&f.crc32c_mib_per_s)),
    };
    format!(
        "Physical limits of CPUs {:?} (\"vs limit\" is a figure over its limit): cache-line round trip across CPUs {}; futex wake-up round trip across CPUs {}; context switch round trip on one CPU {}; memcpy on one core {}{checksum}.",
        f.cpus,
        rtt(&f.cache_line_rtt_ns),
        rtt(&f.futex_wake_rtt_ns),
        rtt(&f.context_switch_rtt_ns),
        rates(&f.memcpy_mib_per_s),
    )
}

/// `10 µs`, `2.5 ms`: axis labels, without the table's trailing zeros.
pub fn short_ns(v: &f64) -> String {
    let (x, unit) = match *v {
        v if v < 1e3 => (v, "ns"),
        v if v < 1e6 => (v / 1e3, "µs"),
        v if v < 1e9 => (v / 1e6, "ms"),
        v => (v / 1e9, "s"),
    };
    let digits = if x >= 10.0 || x.fract().abs() < 1e-9 {
        0
    } else {
        1
    };
    format!("{x:.digits$} {unit}")
}

/// `1 k`, `20 M`: counts on an axis.
pub fn short_count(v: &f64) -> String {
    let (x, unit) = match *v {
        v if v < 1e3 => (v, ""),
        v if v < 1e6 => (v / 1e3, "k"),
        v if v < 1e9 => (v / 1e6, "M"),
        v => (v / 1e9, "G"),
    };
    let digits = if x >= 10.0 || x.fract().abs() < 1e-9 {
        0
    } else {
        1
    };
    format!("{x:.digits$}{unit}")
}

/// `64 B`, `4 KiB`: sizes in the units the run was given in.
pub fn size_label(x: &f64) -> String {
    bytes(x.round() as u64)
}
