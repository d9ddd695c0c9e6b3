//! What a person sees while a run goes: one progress line per case on
//! stderr, warnings, and human units.
//!
//! Everything a person sees goes through [`say!`](crate::say) and
//! [`tell!`](crate::tell), never `println!`: a closed pipe (`| head -1`) or
//! a full disk behind stdout or stderr loses the text, never the run, its
//! result file or its report.

pub mod folder;

use std::io::Write;

/// Writes to stdout; a reader that went away or a full device is ignored.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// Writes to stderr, with the same indifference.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `println!` to stdout that cannot panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that cannot panic.
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::output::err(&format!("{}\n", format_args!($($arg)*)))
    };
}

use crate::results::{Pattern, Row, Status};

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

/// The headline figure of a row, for progress lines and tables.
pub fn headline(row: &Row) -> String {
    match (row.status, row.pattern) {
        (Status::Ok, Pattern::Latency) => row
            .rtt_ns
            .as_ref()
            .map(|r| format!("RTT p50 {}  p99 {}", ns(r.p50 as f64), ns(r.p99 as f64)))
            .unwrap_or_default(),
        (Status::Ok, Pattern::Rate) => match (&row.rtt_ns, &row.schedule) {
            (Some(r), Some(s)) => format!(
                "p50 {}  p99 {} from due  {}",
                ns(r.p50 as f64),
                ns(r.p99 as f64),
                schedule(s)
            ),
            _ => String::new(),
        },
        (Status::Ok, Pattern::FanIn) => format!(
            "{}  one-way p50 {}",
            rate(row.msgs_per_s.unwrap_or(0.0)),
            row.one_way_ns
                .as_ref()
                .map_or("-".to_string(), |r| ns(r.p50 as f64))
        ),
        (Status::Ok, Pattern::Throughput) => match row.mib_per_s {
            Some(mib) => format!("{}  {mib:.1} MiB/s", rate(row.msgs_per_s.unwrap_or(0.0))),
            None => rate(row.msgs_per_s.unwrap_or(0.0)),
        },
        (Status::Unsupported, _) => format!("unsupported: {}", row.reason.as_deref().unwrap_or("")),
        (Status::Failed, _) => format!("FAILED: {}", row.reason.as_deref().unwrap_or("")),
    }
}

/// "achieved 99.8k/s" or "CANNOT SUSTAIN: achieved 41k/s".
pub fn schedule(s: &crate::results::Schedule) -> String {
    let achieved = crate::results::rate_text(s.achieved_per_s);
    if s.sustained {
        format!("achieved {achieved}/s")
    } else {
        format!(
            "CANNOT SUSTAIN: achieved {achieved}/s, {} behind at the end",
            ns(s.end_lag_ns as f64)
        )
    }
}

pub fn progress(done: usize, total: usize, row: &Row) {
    let width = total.to_string().len();
    let errors = if row.errors.total() > 0 {
        format!("  !! {} verification errors", row.errors.total())
    } else {
        String::new()
    };
    crate::tell!(
        "[{done:>width$}/{total}] {:<11} {:<10} {:<5} {:>7}{}  {}{errors}",
        row.mechanism,
        row.pattern.to_string(),
        row.placement.to_string(),
        crate::export::markdown::size_cell(row),
        row.load_label().map_or(String::new(), |l| format!(" {l}")),
        headline(row),
    );
}

pub fn warn(msg: &str) {
    crate::tell!("warning: {msg}");
}
