//! What each pattern (workload) measures, described once: the figures a
//! row of it carries (name, unit, which way is better, how to read it from
//! a row), the one it is judged by, its distributions, its load axis and
//! how a reader is told to read it. Validation, `compare`, the exports and
//! the terminal ask this description instead of matching on the pattern,
//! so a new pattern is one more `Description` here (and its workload).

use super::format::{ns, rate, schedule};
use super::{Pattern, Row, Rtt};

/// Which way a figure improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// The unit of a figure, and so the range a file may hold it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Ns,
    MsgPerS,
    MibPerS,
}

impl Unit {
    /// How history tools write it.
    pub const fn symbol(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::MsgPerS => "msg/s",
            Unit::MibPerS => "MiB/s",
        }
    }

    /// The widest range a figure can take on any machine, far beyond what
    /// any transport does: outside it a file is wrong, and charts, axis
    /// ticks and multiples could not be computed in bounded time.
    pub const fn range(self) -> (f64, f64) {
        match self {
            Unit::Ns => (1e-3, 1e15),
            Unit::MsgPerS => (1e-6, 1e11),
            Unit::MibPerS => (1e-9, 1e9),
        }
    }
}

/// One figure a row of a pattern carries.
pub struct Metric {
    /// Its name in Bencher Metric Format (and in error messages).
    pub name: &'static str,
    /// How github-action-benchmark's charts name it after the case.
    pub label: &'static str,
    /// Where a result file holds it, as a refusal names it.
    pub field: &'static str,
    pub unit: Unit,
    pub better: Better,
    pub read: fn(&Row) -> Option<f64>,
    /// An `ok` row of the pattern must have it.
    pub required: bool,
    /// Which benchmark-history exports keep it (they chose differently,
    /// and their histories depend on it staying so).
    pub in_bmf: bool,
    pub in_gab: bool,
}

/// A distribution a row of a pattern carries.
pub struct Distribution {
    pub name: &'static str,
    pub read: fn(&Row) -> Option<&Rtt>,
    pub required: bool,
}

/// The extra axis a pattern's cases have beside size and placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    None,
    /// `offered_per_s`: the open loop's offered rate.
    OfferedRate,
    /// `senders`: how many processes send.
    Senders,
}

/// The physical limit a pattern's headline is read against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// A round trip: a context switch on one CPU, a wake-up across two.
    RoundTrip,
    /// memcpy of the message on one core.
    Copy,
    /// None that the limits measure (an open loop, a fan-in).
    Unbounded,
}

pub struct Description {
    /// The figures, the headline (what a row is judged by) first.
    pub metrics: &'static [Metric],
    pub distributions: &'static [Distribution],
    pub load: Load,
    /// What a history tool shows beside the figure.
    pub details: fn(&Row) -> String,
    /// An `ok` row's figures in one line, as progress lines show them.
    pub line: fn(&Row) -> String,
    /// How to read its rows, once above a table that has any.
    pub legend: Option<&'static str>,
    pub bound: Bound,
}

impl Description {
    /// The figure a row is judged by: `compare`, trials, the bars.
    pub fn headline(&self) -> &Metric {
        &self.metrics[0]
    }
}

impl Pattern {
    pub const ALL: [Pattern; 4] = [
        Pattern::Latency,
        Pattern::Throughput,
        Pattern::Rate,
        Pattern::FanIn,
    ];

    pub fn describe(self) -> &'static Description {
        match self {
            Pattern::Latency => &LATENCY,
            Pattern::Throughput => &THROUGHPUT,
            Pattern::Rate => &RATE,
            Pattern::FanIn => &FAN_IN,
        }
    }

    /// Whether its headline is a latency (smaller is better) rather than a rate.
    pub fn is_latency(self) -> bool {
        self.describe().headline().better == Better::Lower
    }
}

fn rtt(r: &Row) -> Option<&Rtt> {
    r.rtt_ns.as_ref()
}

fn one_way(r: &Row) -> Option<&Rtt> {
    r.one_way_ns.as_ref()
}

fn placed(r: &Row) -> String {
    format!("placement {}, CPUs {:?}", r.placement, r.cpus)
}

const RTT: Distribution = Distribution {
    name: "rtt_ns",
    read: rtt,
    required: true,
};

const MESSAGES_PER_S: Metric = Metric {
    name: "throughput",
    label: "messages/s",
    field: "msgs_per_s",
    unit: Unit::MsgPerS,
    better: Better::Higher,
    read: |r| r.msgs_per_s,
    required: true,
    in_bmf: true,
    in_gab: true,
};

const MIB_PER_S: Metric = Metric {
    name: "mib-per-s",
    label: "MiB/s",
    field: "mib_per_s",
    unit: Unit::MibPerS,
    better: Better::Higher,
    read: |r| r.mib_per_s,
    required: false,
    in_bmf: true,
    in_gab: true,
};

static LATENCY: Description = Description {
    metrics: &[
        Metric {
            name: "latency",
            label: "RTT p50",
            field: "rtt_ns.p50",
            unit: Unit::Ns,
            better: Better::Lower,
            read: |r| rtt(r).map(|t| t.p50 as f64),
            required: true,
            in_bmf: true,
            in_gab: true,
        },
        Metric {
            name: "rtt-p99",
            label: "RTT p99",
            field: "rtt_ns.p99",
            unit: Unit::Ns,
            better: Better::Lower,
            read: |r| rtt(r).map(|t| t.p99 as f64),
            required: true,
            in_bmf: true,
            in_gab: false,
        },
    ],
    distributions: &[RTT],
    load: Load::None,
    details: |r| match rtt(r) {
        Some(t) => format!(
            "{}\np99 {} ns, p99.9 {} ns, max {} ns\n{} round trips",
            placed(r),
            t.p99,
            t.p999,
            t.max,
            r.messages
        ),
        None => placed(r),
    },
    line: |r| {
        rtt(r)
            .map(|t| format!("RTT p50 {}  p99 {}", ns(t.p50 as f64), ns(t.p99 as f64)))
            .unwrap_or_default()
    },
    legend: Some("RTT = round trip (send + echo); one-way latency ≈ RTT / 2. Throughput is one-way, MiB = 2^20 bytes. CPU/msg is user+system CPU time per message of each process."),
    bound: Bound::RoundTrip,
};

static THROUGHPUT: Description = Description {
    metrics: &[MESSAGES_PER_S, MIB_PER_S],
    distributions: &[],
    load: Load::None,
    details: |r| format!("{}\n{} messages", placed(r), r.messages),
    line: |r| match r.mib_per_s {
        Some(mib) => format!("{}  {mib:.1} MiB/s", rate(r.msgs_per_s.unwrap_or(0.0))),
        None => rate(r.msgs_per_s.unwrap_or(0.0)),
    },
    legend: None,
    bound: Bound::Copy,
};

static RATE: Description = Description {
    metrics: &[
        Metric {
            name: "latency-p99",
            label: "p99 from due time",
            field: "rtt_ns.p99",
            unit: Unit::Ns,
            better: Better::Lower,
            read: |r| rtt(r).map(|t| t.p99 as f64),
            required: true,
            in_bmf: true,
            in_gab: true,
        },
        Metric {
            name: "latency",
            label: "p50 from due time",
            field: "rtt_ns.p50",
            unit: Unit::Ns,
            better: Better::Lower,
            read: |r| rtt(r).map(|t| t.p50 as f64),
            required: true,
            in_bmf: true,
            in_gab: false,
        },
        Metric {
            name: "achieved",
            label: "achieved messages/s",
            field: "schedule.achieved_per_s",
            unit: Unit::MsgPerS,
            better: Better::Higher,
            read: |r| r.schedule.as_ref().map(|s| s.achieved_per_s),
            required: true,
            in_bmf: true,
            in_gab: false,
        },
    ],
    distributions: &[RTT],
    load: Load::OfferedRate,
    details: |r| {
        format!(
            "{}\np50 {} ns from the due time; achieved {:.0} of {:.0} msg/s offered",
            placed(r),
            rtt(r).map_or(0, |t| t.p50),
            r.schedule.as_ref().map_or(0.0, |s| s.achieved_per_s),
            r.offered_per_s.unwrap_or(0.0)
        )
    },
    line: |r| match (rtt(r), &r.schedule) {
        (Some(t), Some(s)) => format!(
            "p50 {}  p99 {} from due  {}",
            ns(t.p50 as f64),
            ns(t.p99 as f64),
            schedule(s)
        ),
        _ => String::new(),
    },
    legend: Some("rate: an open loop. Messages leave at fixed times for the offered rate and are echoed; the RTT columns run from when each message was due to its echo, so a stall counts against every message it delayed. CANNOT SUSTAIN: the exchange ended further behind its schedule than a round trip and a noisy machine explain (2 ms, two intervals or 5 % of the timed part, whichever is most), so messages went out or came back slower than offered. CPU/msg of the parent includes the sender's wait for each due time, spun for its last stretch."),
    bound: Bound::Unbounded,
};

static FAN_IN: Description = Description {
    metrics: &[
        MESSAGES_PER_S,
        Metric {
            name: "one-way-p50",
            label: "one-way p50",
            field: "one_way_ns.p50",
            unit: Unit::Ns,
            better: Better::Lower,
            read: |r| one_way(r).map(|t| t.p50 as f64),
            required: false,
            in_bmf: true,
            in_gab: false,
        },
        Metric {
            in_bmf: false,
            ..MIB_PER_S
        },
    ],
    // None when no message arrived intact (all torn): no time to trust.
    distributions: &[Distribution {
        name: "one_way_ns",
        read: one_way,
        required: false,
    }],
    load: Load::Senders,
    details: |r| format!("{}\n{} messages", placed(r), r.messages),
    line: |r| {
        format!(
            "{}  one-way p50 {}",
            rate(r.msgs_per_s.unwrap_or(0.0)),
            one_way(r).map_or("-".to_string(), |t| ns(t.p50 as f64))
        )
    },
    legend: Some("fan-in: N sender processes write to one receiver; throughput is the receiver's total, and the latency columns (1-way) run from each sender's CLOCK_MONOTONIC stamp to receipt. torn: messages whose bytes mixed with another sender's. Senders that outnumber the CPUs they run on take turns, and their figures measure the scheduler as much as the transport: the row's note (in the result file and the report) says where."),
    bound: Bound::Unbounded,
};
