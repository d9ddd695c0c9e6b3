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
    /// Where a row keeps it: its percentiles are read from the histogram.
    pub write: fn(&mut Row, Rtt),
    /// Whether the report plots its curve by percentile (`rtt_curve_ns`).
    pub curve: bool,
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
    /// `subscribers`: how many processes every message reaches.
    Subscribers,
    /// `groups`: how many groups of senders and receivers.
    Groups,
}

impl Load {
    /// A row's place on this axis.
    pub fn of(self, r: &Row) -> Option<f64> {
        match self {
            Load::None => None,
            Load::OfferedRate => r.offered_per_s,
            Load::Senders => r.senders.map(f64::from),
            Load::Subscribers => r.subscribers.map(f64::from),
            Load::Groups => r.groups.map(f64::from),
        }
    }
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
    /// Whether the headline is the median of the first distribution, so
    /// that `compare` can read its spread from the row's histogram.
    pub headline_is_median: bool,
    pub load: Load,
    /// Whether how the receiver waits (`--waits`) is an axis of its cases.
    pub waits: bool,
    /// Whether what separates the peer (`--isolation`) is an axis of its
    /// cases: not for fan-in, whose senders would each be a container.
    pub isolates: bool,
    /// What a history tool shows beside the figure.
    pub details: fn(&Row) -> String,
    /// An `ok` row's figures in one line, as progress lines show them.
    pub line: fn(&Row) -> String,
    /// How to read its rows, once above a table that has any.
    pub legend: Option<&'static str>,
    pub bound: Bound,
    /// The report's charts of its rows, in page order.
    pub plots: &'static [Plot],
    /// How the report's summary ranks transports by it, if it does.
    pub ranking: Option<Ranking>,
}

/// A chart of a pattern's rows in the report, one line per transport.
/// `title` and `caption` name `{size}`, `{group}` and `{where}` (the
/// placement in words), which the report fills in.
pub struct Plot {
    /// The start of its files' names.
    pub key: &'static str,
    pub against: Against,
    pub title: &'static str,
    pub caption: &'static str,
}

/// What a chart's x axis is.
pub enum Against {
    /// The message size, over the rows that carry a message.
    Size(&'static Metric),
    /// The pattern's load, at the smallest size it was measured at.
    Load(&'static Metric),
    /// The round-trip curve by percentile, at the smallest size (rows
    /// that carry no payload too).
    Percentile,
}

/// Where the report's summary ranks a pattern's transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankedAt {
    /// A sentence per size; the bars at the smallest, with the rows that
    /// carry no payload.
    EverySize,
    /// The largest size that most transports carry: one that moves data.
    MostCarried,
}

/// How the report's summary ranks transports: the bars, a sentence, and a
/// transport × size grid.
pub struct Ranking {
    /// The bars' files are `summary-{key}-…`.
    pub key: &'static str,
    pub by: &'static Metric,
    /// What the bars' labels call the whisker, and what it is.
    pub whisker: Option<(&'static str, &'static Metric)>,
    pub at: RankedAt,
    /// The sentence's "{size}, {noun}: fastest …".
    pub noun: &'static str,
    /// The bars' title and caption, as a `Plot`'s; the x axis label.
    pub title: &'static str,
    pub caption: &'static str,
    pub axis: &'static str,
    /// The grid's title.
    pub grid: &'static str,
}

impl Description {
    /// The figure a row is judged by: `compare`, trials, the bars.
    pub fn headline(&self) -> &Metric {
        &self.metrics[0]
    }
}

impl Pattern {
    pub const ALL: [Pattern; 6] = [
        Pattern::Latency,
        Pattern::Throughput,
        Pattern::Rate,
        Pattern::FanIn,
        Pattern::FanOut,
        Pattern::Groups,
    ];

    pub fn describe(self) -> &'static Description {
        match self {
            Pattern::Latency => &LATENCY,
            Pattern::Throughput => &THROUGHPUT,
            Pattern::Rate => &RATE,
            Pattern::FanIn => &FAN_IN,
            Pattern::FanOut => &FAN_OUT,
            Pattern::Groups => &GROUPS,
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
    write: |r, d| r.rtt_ns = Some(d),
    curve: true,
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

const RTT_P50: Metric = Metric {
    name: "latency",
    label: "RTT p50",
    field: "rtt_ns.p50",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| rtt(r).map(|t| t.p50 as f64),
    required: true,
    in_bmf: true,
    in_gab: true,
};

const RTT_P99: Metric = Metric {
    name: "rtt-p99",
    label: "RTT p99",
    field: "rtt_ns.p99",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| rtt(r).map(|t| t.p99 as f64),
    required: true,
    in_bmf: true,
    in_gab: false,
};

static LATENCY: Description = Description {
    metrics: &[RTT_P50, RTT_P99],
    distributions: &[RTT],
    headline_is_median: true,
    load: Load::None,
    waits: true,
    isolates: true,
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
    plots: &[
        Plot {
            key: "latency-p50",
            against: Against::Size(&RTT_P50),
            title: "Round trip, median: {group}",
            caption: "Round-trip time (median) against message size, {group}, {where}. One-way latency is about half.",
        },
        Plot {
            key: "latency-p99",
            against: Against::Size(&RTT_P99),
            title: "Round trip, 99th percentile: {group}",
            caption: "Round-trip time (99th percentile) against message size, {group}, {where}. One-way latency is about half.",
        },
        Plot {
            key: "latency-distribution",
            against: Against::Percentile,
            title: "Round-trip distribution, {size}: {group}",
            caption: "Round-trip time at each percentile, {size} messages (a semaphore carries none), {group}, {where}. The right of the chart is the tail.",
        },
    ],
    ranking: Some(Ranking {
        key: "rtt",
        by: &RTT_P50,
        whisker: Some(("p99", &RTT_P99)),
        at: RankedAt::EverySize,
        noun: "round trip",
        title: "Round trip at {size}, fastest first: {group}",
        caption: "Median round trip of a {size} message (bar) and its 99th percentile (whisker), {group}, {where}.",
        axis: "RTT p50, whisker to p99 (log)",
        grid: "Round trip p50",
    }),
};

static THROUGHPUT: Description = Description {
    metrics: &[MESSAGES_PER_S, MIB_PER_S],
    distributions: &[],
    headline_is_median: false,
    load: Load::None,
    waits: true,
    isolates: true,
    details: |r| format!("{}\n{} messages", placed(r), r.messages),
    line: |r| match r.mib_per_s {
        Some(mib) => format!("{}  {mib:.1} MiB/s", rate(r.msgs_per_s.unwrap_or(0.0))),
        None => rate(r.msgs_per_s.unwrap_or(0.0)),
    },
    legend: None,
    bound: Bound::Copy,
    plots: &[
        Plot {
            key: "throughput-mib",
            against: Against::Size(&MIB_PER_S),
            title: "One-way throughput, MiB/s: {group}",
            caption: "One-way throughput in MiB/s against message size, {group}, {where} (MiB = 2^20 bytes).",
        },
        Plot {
            key: "throughput-msgs",
            against: Against::Size(&MESSAGES_PER_S),
            title: "One-way throughput, messages/s: {group}",
            caption: "One-way throughput in messages/s against message size, {group}, {where} (MiB = 2^20 bytes).",
        },
    ],
    ranking: Some(Ranking {
        key: "throughput",
        by: &MIB_PER_S,
        whisker: None,
        at: RankedAt::MostCarried,
        noun: "throughput",
        title: "Throughput at {size}, fastest first: {group}",
        caption: "One-way throughput of {size} messages, {group}, {where}: the largest size that most transports carry.",
        axis: "MiB/s, one way (log)",
        grid: "Throughput, MiB/s",
    }),
};

const DUE_P99: Metric = Metric {
    name: "latency-p99",
    label: "p99 from due time",
    field: "rtt_ns.p99",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| rtt(r).map(|t| t.p99 as f64),
    required: true,
    in_bmf: true,
    in_gab: true,
};

const DUE_P50: Metric = Metric {
    name: "latency",
    label: "p50 from due time",
    field: "rtt_ns.p50",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| rtt(r).map(|t| t.p50 as f64),
    required: true,
    in_bmf: true,
    in_gab: false,
};

/// What a rate chart's caption says after what it plots.
macro_rules! saturation {
    () => { " from when each message was due to its echo, against the offered rate. Where a line turns up, the transport saturates; past that the sender cannot keep its schedule (the load table says CANNOT SUSTAIN) and the latency is the queue it built." };
}

static RATE: Description = Description {
    metrics: &[
        DUE_P99,
        DUE_P50,
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
    headline_is_median: false,
    load: Load::OfferedRate,
    waits: true,
    isolates: true,
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
    plots: &[
        Plot {
            key: "rate-p99",
            against: Against::Load(&DUE_P99),
            title: "Under load, 99th percentile from the due time, {size}: {group}",
            caption: concat!("Open loop, {size} messages (a semaphore carries none), {group}, {where}: the 99th percentile of the time", saturation!()),
        },
        Plot {
            key: "rate-p50",
            against: Against::Load(&DUE_P50),
            title: "Under load, median from the due time, {size}: {group}",
            caption: concat!("Open loop, {size} messages (a semaphore carries none), {group}, {where}: the median of the time", saturation!()),
        },
    ],
    ranking: None,
};

const ONE_WAY_P50: Metric = Metric {
    name: "one-way-p50",
    label: "one-way p50",
    field: "one_way_ns.p50",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| one_way(r).map(|t| t.p50 as f64),
    required: false,
    in_bmf: true,
    in_gab: false,
};

/// What a fan-in chart's caption says after what it plots.
macro_rules! turns {
    () => { " against the number of sender processes. Senders beyond the CPUs they run on take turns (the load table's notes say where)." };
}

static FAN_IN: Description = Description {
    metrics: &[
        MESSAGES_PER_S,
        ONE_WAY_P50,
        Metric {
            in_bmf: false,
            ..MIB_PER_S
        },
    ],
    // None when no message arrived intact (all torn): no time to trust.
    distributions: &[Distribution {
        name: "one_way_ns",
        read: one_way,
        write: |r, d| r.one_way_ns = Some(d),
        curve: false,
        required: false,
    }],
    headline_is_median: false,
    load: Load::Senders,
    // Its receiver gathers from many senders, each transport in its own
    // way; its rows are `block`.
    waits: false,
    isolates: false,
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
    plots: &[
        Plot {
            key: "fan-in-msgs",
            against: Against::Load(&MESSAGES_PER_S),
            title: "Fan-in, messages/s received, {size}: {group}",
            caption: concat!("Fan-in, {size} messages, {group}, {where}: the messages/s received", turns!()),
        },
        Plot {
            key: "fan-in-one-way-p50",
            against: Against::Load(&ONE_WAY_P50),
            title: "Fan-in, one-way median, {size}: {group}",
            caption: concat!("Fan-in, {size} messages, {group}, {where}: the one-way median", turns!()),
        },
    ],
    ranking: None,
};

fn completion(r: &Row) -> Option<&Rtt> {
    r.completion_ns.as_ref()
}

const COMPLETION_P50: Metric = Metric {
    name: "completion-p50",
    label: "to all, p50",
    field: "completion_ns.p50",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| completion(r).map(|t| t.p50 as f64),
    required: true,
    in_bmf: true,
    in_gab: true,
};

const COMPLETION_P99: Metric = Metric {
    name: "completion-p99",
    label: "to all, p99",
    field: "completion_ns.p99",
    read: |r| completion(r).map(|t| t.p99 as f64),
    in_gab: false,
    ..COMPLETION_P50
};

const DELIVERY_P50: Metric = Metric {
    name: "delivery-p50",
    label: "delivery p50",
    ..ONE_WAY_P50
};

const DELIVERIES_PER_S: Metric = Metric {
    name: "deliveries",
    label: "deliveries/s",
    field: "deliveries_per_s",
    read: |r| r.deliveries_per_s,
    in_gab: false,
    ..MESSAGES_PER_S
};

/// What a fan-out chart's caption says after what it plots.
macro_rules! subscribers {
    () => { " against the number of subscriber processes. A native broadcast writes each message once; the others send it to each subscriber (the row's sends per message). Subscribers beyond the CPUs they run on take turns." };
}

/// The slowest subscriber's rate as a share of the fastest's, in words.
fn lag(r: &Row) -> String {
    let rates = &r.subscriber_msgs_per_s;
    let (slow, fast) = rates
        .iter()
        .fold((f64::MAX, 0.0f64), |(s, f), &v| (s.min(v), f.max(v)));
    match rates.len() {
        0 | 1 => String::new(),
        _ => format!(
            "  slowest subscriber {:.0} % of the fastest",
            100.0 * slow / fast.max(1e-9)
        ),
    }
}

static FAN_OUT: Description = Description {
    metrics: &[
        COMPLETION_P50,
        COMPLETION_P99,
        DELIVERY_P50,
        MESSAGES_PER_S,
        DELIVERIES_PER_S,
    ],
    distributions: &[
        Distribution {
            name: "completion_ns",
            read: completion,
            write: |r, d| r.completion_ns = Some(d),
            curve: false,
            required: true,
        },
        Distribution {
            name: "one_way_ns",
            read: one_way,
            write: |r, d| r.one_way_ns = Some(d),
            curve: false,
            required: false,
        },
    ],
    headline_is_median: true,
    load: Load::Subscribers,
    waits: true,
    isolates: false,
    details: |r| {
        format!(
            "{}\n{} sends per message\n{} messages",
            placed(r),
            r.sends_per_message.unwrap_or(1),
            r.messages
        )
    },
    line: |r| {
        format!(
            "to all p50 {}  p99 {}  delivery p50 {}  {}{}",
            completion(r).map_or("-".to_string(), |t| ns(t.p50 as f64)),
            completion(r).map_or("-".to_string(), |t| ns(t.p99 as f64)),
            one_way(r).map_or("-".to_string(), |t| ns(t.p50 as f64)),
            rate(r.msgs_per_s.unwrap_or(0.0)),
            lag(r)
        )
    },
    legend: Some("fan-out: one publisher, N subscriber processes; every message reaches every subscriber. \"to all\" runs from a message's publication to the last subscriber's answer (the broadcast's completion); delivery is one-way, from the publisher's CLOCK_MONOTONIC stamp to each subscriber's receipt. Throughput is messages/s delivered to all while streaming. A native broadcast (shm-broadcast) writes each message once; every other transport sends it once per subscriber, and its copies count each send."),
    bound: Bound::Unbounded,
    plots: &[
        Plot {
            key: "fan-out-completion-p50",
            against: Against::Load(&COMPLETION_P50),
            title: "Fan-out, to all subscribers, median, {size}: {group}",
            caption: concat!("Fan-out, {size} messages, {group}, {where}: the median time until every subscriber has answered", subscribers!()),
        },
        Plot {
            key: "fan-out-completion-p99",
            against: Against::Load(&COMPLETION_P99),
            title: "Fan-out, to all subscribers, 99th percentile, {size}: {group}",
            caption: concat!("Fan-out, {size} messages, {group}, {where}: the 99th percentile of the time until every subscriber has answered", subscribers!()),
        },
        Plot {
            key: "fan-out-deliveries",
            against: Against::Load(&DELIVERIES_PER_S),
            title: "Fan-out, deliveries/s, {size}: {group}",
            caption: concat!("Fan-out, {size} messages, {group}, {where}: deliveries per second while streaming (messages/s × subscribers)", subscribers!()),
        },
    ],
    ranking: None,
};

const TOTAL: Metric = Metric {
    name: "total-time",
    label: "total time",
    field: "total_ns",
    unit: Unit::Ns,
    better: Better::Lower,
    read: |r| r.total_ns.map(|t| t as f64),
    required: true,
    in_bmf: true,
    in_gab: true,
};

/// What a groups chart's caption says after what it plots.
macro_rules! groups {
    () => { " against the number of groups, each of its senders and as many receivers, every sender writing its loops to every receiver of its group: perf bench sched messaging's shape. Processes beyond the CPUs take turns." };
}

static GROUPS: Description = Description {
    metrics: &[TOTAL, MESSAGES_PER_S],
    distributions: &[],
    headline_is_median: false,
    load: Load::Groups,
    // Every member blocks in its read or write, as hackbench's do.
    waits: false,
    isolates: false,
    details: |r| format!("{}\n{} messages", placed(r), r.messages),
    line: |r| {
        format!(
            "total {}  {}",
            r.total_ns.map_or("-".to_string(), |t| ns(t as f64)),
            rate(r.msgs_per_s.unwrap_or(0.0))
        )
    },
    legend: Some("groups: hackbench's load (perf bench sched messaging). G groups, each of S sender and S receiver processes; every sender writes its loops of messages to every receiver of its group, which checks each. Total time runs, as perf's does, from the start signal to the last process reaped; messages/s is the messages over the time from the start signal to the last receipt."),
    bound: Bound::Unbounded,
    plots: &[
        Plot {
            key: "groups-total",
            against: Against::Load(&TOTAL),
            title: "Groups, total time, {size}: {group}",
            caption: concat!("Groups, {size} messages, {group}, {where}: the total time", groups!()),
        },
        Plot {
            key: "groups-msgs",
            against: Against::Load(&MESSAGES_PER_S),
            title: "Groups, messages/s, {size}: {group}",
            caption: concat!("Groups, {size} messages, {group}, {where}: messages/s received in all", groups!()),
        },
    ],
    ranking: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A chart against the load of a pattern that has none would plot
    /// nothing; two charts with one key would overwrite each other's files.
    #[test]
    fn every_plot_has_its_axis_and_its_own_files() {
        let mut keys = Vec::new();
        for p in Pattern::ALL {
            let d = p.describe();
            for plot in d.plots {
                if matches!(plot.against, Against::Load(_)) {
                    assert_ne!(d.load, Load::None, "{p}: {} is against no load", plot.key);
                }
                assert!(!keys.contains(&plot.key), "{} twice", plot.key);
                keys.push(plot.key);
            }
            if let Some(r) = &d.ranking {
                assert!(!keys.contains(&r.key), "{} twice", r.key);
                keys.push(r.key);
            }
        }
    }

    /// What the summary ranks by is a figure the pattern carries, and so
    /// is validated and exported like the others.
    #[test]
    fn rankings_rank_by_the_patterns_own_figures() {
        for p in Pattern::ALL {
            let d = p.describe();
            let carried = |m: &Metric| d.metrics.iter().any(|o| o.field == m.field);
            if let Some(r) = &d.ranking {
                assert!(carried(r.by), "{p}: {}", r.by.field);
                assert!(r.whisker.is_none_or(|(_, w)| carried(w)), "{p}");
            }
        }
    }
}
