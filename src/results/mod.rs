//! The result file: a contract read by the report, the regression check and
//! other people's tools. Extend it freely; change a field's meaning only with
//! a new `SCHEMA_VERSION`.

pub mod case;
pub mod distribution;
pub mod failure;
pub mod file;
pub mod format;
pub mod machine;
pub mod pattern;
pub mod probe;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use machine::Machine;
use std::time::Duration;

/// 2: a case is also told apart by its offered rate (`rate` pattern) and
/// its number of senders (`fan-in`); a reader of 1 would merge such rows.
/// Files of version 1 are version 2 files without those rows.
pub const SCHEMA_VERSION: u32 = 2;
/// The versions this build reads.
pub const READS_SCHEMA_VERSIONS: std::ops::RangeInclusive<u32> = 1..=SCHEMA_VERSION;

/// How much the receiver checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Sequence numbers and a CRC32C of every payload.
    Full,
    /// Sequence numbers only (raw-speed runs).
    Seq,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    /// Fan-in only: messages that failed their check on a channel several
    /// senders write to, where the bytes of two messages can mix.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub torn: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ErrorCounts {
    /// Every error, saturating: counters read from a file may be near
    /// 2^64, and a sum that wrapped to 0 would read as "no errors".
    pub fn total(&self) -> u64 {
        [
            self.lost,
            self.duplicated,
            self.reordered,
            self.corrupted,
            self.torn,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }
    pub fn add(&mut self, o: &ErrorCounts) {
        self.lost = self.lost.saturating_add(o.lost);
        self.duplicated = self.duplicated.saturating_add(o.duplicated);
        self.reordered = self.reordered.saturating_add(o.reordered);
        self.corrupted = self.corrupted.saturating_add(o.corrupted);
        self.torn = self.torn.saturating_add(o.torn);
    }
    /// Each counter with its name, in the order tables show them.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("reordered", self.reordered),
            ("corrupted", self.corrupted),
            ("torn", self.torn),
        ]
    }
}

/// How long the timed part of a case lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Length {
    Iterations(u64),
    Duration(#[serde(with = "humantime_serde_compat")] Duration),
}

/// The fastest offered rate accepted: one message every 100 ns, about the
/// cost of the fastest round trip; beyond it every transport is saturated.
pub const MAX_RATE: f64 = 10e6;

pub use case::CaseKey;

/// The longest length, warm-up or timeout anything accepts, from the
/// command line or from a file: a day. Past it a figure would be an
/// accident, and `Duration` arithmetic could overflow.
pub const LONGEST: Duration = Duration::from_secs(86_400);

/// Seconds as a file may hold them: finite, from 0 to [`LONGEST`].
pub fn bounded_seconds(s: f64) -> Result<Duration, String> {
    if s.is_finite() && (0.0..=LONGEST.as_secs_f64()).contains(&s) {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!(
            "{s} s is not a duration ipcbench accepts: expected 0 to {} s",
            LONGEST.as_secs()
        ))
    }
}

mod humantime_serde_compat {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::bounded_seconds(f64::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// A duration in seconds kept as `f64` (warm-up, timeout), bounded on read.
pub mod seconds {
    use serde::{de::Error, Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let s = f64::deserialize(d)?;
        super::bounded_seconds(s).map_err(D::Error::custom)?;
        Ok(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Ping-pong round trips.
    Latency,
    /// One-way streaming.
    Throughput,
    /// Open loop: messages sent at fixed times for each offered rate (--rates), echoed, timed from when each was due
    Rate,
    /// Several sender processes into one receiver (--senders): aggregate throughput and one-way latency
    FanIn,
    /// One publisher, several subscriber processes (--subscribers): every message reaches every one
    FanOut,
    /// hackbench's groups (perf bench sched messaging): senders each write to every receiver of their group
    Groups,
}

/// How a receiver waits for the next message: the second half of what a
/// user chooses with a transport. Files from before it was recorded hold
/// `block` rows (shm-ring's then spun first: see the README).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// The mechanism's blocking call: the thread sleeps until woken.
    #[default]
    Block,
    /// Non-blocking calls in a loop until a message is there: a whole CPU.
    Spin,
    /// Spins for a bounded time (the row's spin_budget_ns), then blocks.
    Hybrid,
    /// epoll_wait, then a non-blocking receive, as an event loop does.
    Epoll,
    /// The receive is submitted to an io_uring and its completion awaited.
    IoUring,
}

impl Wait {
    pub const ALL: [Wait; 5] = [
        Wait::Block,
        Wait::Spin,
        Wait::Hybrid,
        Wait::Epoll,
        Wait::IoUring,
    ];

    pub fn is_block(&self) -> bool {
        *self == Wait::Block
    }
}

/// What separates the peer from the harness: the namespaces a container
/// runtime would give each side (the README defines each deployment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Both processes in ipcbench's own namespaces.
    #[default]
    None,
    /// Containers of one Kubernetes pod: own mount, PID and UTS namespaces; network, IPC and /dev/shm shared; one shared volume
    SamePod,
    /// Two containers: own mount, PID, UTS, IPC, network and cgroup namespaces, TCP over a veth pair; one shared volume
    SeparateContainers,
}

impl Isolation {
    pub fn is_none(&self) -> bool {
        *self == Isolation::None
    }
}

/// Where the two processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Both processes pinned to one CPU.
    Same,
    /// Parent and peer pinned to two different CPUs.
    Cross,
    /// Left to the scheduler.
    None,
    /// Two hardware threads of one core.
    Smt,
    /// Two cores that share the last-level cache.
    Llc,
    /// Two cores of one NUMA node on different last-level caches.
    CrossLlc,
    /// Two CPUs on different NUMA nodes.
    CrossNode,
    /// Two performance cores of a hybrid processor.
    PCore,
    /// Two efficiency cores of a hybrid processor.
    ECore,
    /// One pair of `run --pairs all`'s sweep over pairs of CPUs (the row's
    /// `cpus` say which; the same CPU twice is a pair too).
    Pair,
}

impl Placement {
    /// Whether the topology decides its pair (the classes), rather than
    /// the order of the allowed CPUs.
    pub fn is_class(self) -> bool {
        !matches!(
            self,
            Placement::Same | Placement::Cross | Placement::None | Placement::Pair
        )
    }
}

/// One spelling per enum: the name serde writes, which tables show and
/// the command line accepts (`cli.rs`); a test holds them together.
macro_rules! spelled {
    ($t:ident { $($v:ident => $name:literal),* $(,)? }) => {
        impl $t {
            pub fn name(self) -> &'static str {
                match self {
                    $($t::$v => $name),*
                }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
spelled!(Verify { Full => "full", Seq => "seq" });
spelled!(Pattern { Latency => "latency", Throughput => "throughput", Rate => "rate", FanIn => "fan-in", FanOut => "fan-out", Groups => "groups" });
spelled!(Wait { Block => "block", Spin => "spin", Hybrid => "hybrid", Epoll => "epoll", IoUring => "io-uring" });
spelled!(Isolation { None => "none", SamePod => "same-pod", SeparateContainers => "separate-containers" });
spelled!(Placement {
    Same => "same",
    Cross => "cross",
    None => "none",
    Smt => "smt",
    Llc => "llc",
    CrossLlc => "cross-llc",
    CrossNode => "cross-node",
    PCore => "p-core",
    ECore => "e-core",
    Pair => "pair",
});

/// A measured limit: percentiles of its round trips, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    pub p50: u64,
    pub p99: u64,
    pub samples: u64,
}

/// The physical limits of the run's CPUs (`ipcbench::floors`): what no
/// transport can beat, so that every figure can be read as a multiple.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Floors {
    /// The CPUs: `same` on the first, `cross` on both.
    pub cpus: Vec<usize>,
    /// Two processes on two CPUs handing one cache line back and forth by
    /// spinning: the floor of any cross-CPU transport.
    pub cache_line_rtt_ns: Option<Floor>,
    /// The same handover by futex wait and wake: the floor of any
    /// cross-CPU transport whose receiver sleeps.
    pub futex_wake_rtt_ns: Option<Floor>,
    /// Two processes on one CPU waking each other by futex: the floor of a
    /// same-CPU round trip whose receiver sleeps (one that yields instead
    /// can go below it).
    pub context_switch_rtt_ns: Option<Floor>,
    /// (message size, MiB/s) of memcpy on one core: the ceiling of any
    /// transport that copies each message once.
    pub memcpy_mib_per_s: Vec<(u64, f64)>,
    /// (message size, MiB/s) of CRC32C on one core: what full verification
    /// costs the receiver, and so the ceiling of verified throughput for a
    /// path that copies nothing. Absent from files made before it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crc32c_mib_per_s: Vec<(u64, f64)>,
    /// Limits that could not be measured, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Floors {
    /// A row's headline as a multiple of the limit that bounds it, and the
    /// limit's name: a same-CPU round trip against a context switch, a
    /// cross-CPU one against a futex wake-up (against the cache line when
    /// it is faster than any wake-up), MiB/s against memcpy.
    pub fn multiple(&self, row: &Row) -> Option<(f64, &'static str)> {
        if row.status != Status::Ok {
            return None;
        }
        self.bound(row).filter(|(m, _)| m.is_finite() && *m > 0.0)
    }

    fn cross_floor(&self, rtt: f64) -> Option<(Floor, &'static str)> {
        match (self.futex_wake_rtt_ns, self.cache_line_rtt_ns) {
            (Some(f), Some(c)) if rtt < f.p50 as f64 => Some((c, "cache-line round trip")),
            (f, _) => Some((f?, "futex wake-up")),
        }
    }

    fn bound(&self, row: &Row) -> Option<(f64, &'static str)> {
        match row.pattern.describe().bound {
            pattern::Bound::RoundTrip => {
                let rtt = row.headline()?;
                let (floor, name) = match row.placement {
                    Placement::Same => (self.context_switch_rtt_ns?, "context switch"),
                    // Below the wake-up floor nothing slept: the bound of a
                    // transport that spins is the cache line's handover.
                    Placement::Cross => self.cross_floor(rtt)?,
                    // A class's pair has the cross limits only where it is
                    // the pair they were measured on.
                    Placement::Pair if row.cpus.first() == row.cpus.get(1) => {
                        (self.context_switch_rtt_ns?, "context switch")
                    }
                    p if p != Placement::None && same_pair(&row.cpus, &self.cpus) => {
                        self.cross_floor(rtt)?
                    }
                    _ => return None,
                };
                Some((rtt / floor.p50.max(1) as f64, name))
            }
            pattern::Bound::Unbounded => None,
            pattern::Bound::Copy => {
                let mib = row.mib_per_s?;
                let (_, copy) = self
                    .memcpy_mib_per_s
                    .iter()
                    .find(|(s, _)| *s == row.size_bytes)?;
                Some((mib / copy, "memcpy"))
            }
        }
    }
}

/// Whether two CPU pairs are the same two CPUs, in either order.
fn same_pair(a: &[usize], b: &[usize]) -> bool {
    let sorted = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    };
    a.len() == 2 && sorted(a) == sorted(b)
}

/// What a transport is built from, as the report groups them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// A kernel object, used through its system calls.
    #[default]
    Kernel,
    /// A library's or a language runtime's channel over kernel objects.
    Library,
    /// A messaging library or bus that applications pick as their IPC
    /// (ZeroMQ, iceoryx2), with its own threads, brokers or services.
    Middleware,
}

impl Family {
    fn is_kernel(&self) -> bool {
        *self == Family::Kernel
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Unsupported,
    Failed,
}

/// Round-trip time distribution in nanoseconds (one-way ≈ RTT / 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rtt {
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
    pub stddev: f64,
}

/// A CPU figure of each side: the time (user + system) per timed message
/// in nanoseconds, or the share of a CPU used over the timed part.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuPerMessage {
    pub parent: f64,
    pub child: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub mechanism: String,
    /// Absent in files from before it was recorded: kernel.
    #[serde(default, skip_serializing_if = "Family::is_kernel")]
    pub family: Family,
    pub placement: Placement,
    pub pattern: Pattern,
    /// How both processes' receives waited (part of the case).
    #[serde(default, skip_serializing_if = "Wait::is_block")]
    pub wait: Wait,
    /// The namespaces between the two processes (part of the case).
    #[serde(default, skip_serializing_if = "Isolation::is_none")]
    pub isolation: Isolation,
    /// `hybrid`: how long a receive spun before it blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spin_budget_ns: Option<u64>,
    /// How many times the transport copies a message's payload, as it
    /// declares (none for a bare signal, and in files from before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<u32>,
    /// `--memory-node`: the NUMA nodes its shared memory's pages were
    /// found on after the first touch (move_pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_nodes: Option<Vec<usize>>,
    pub size_bytes: u64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The kind of limit that made the row unsupported, where one is told
    /// apart (`failure::Cause`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<failure::Cause>,
    /// Why a `failed` row failed, typed (files from before lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<failure::Failure>,
    /// How to read this row when it differs from the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The CPU each of a case's several peer processes was pinned to, in
    /// their order (fan-in's senders, fan-out's subscribers, the groups'
    /// members); empty when unpinned or when there is one peer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_cpus: Vec<usize>,
    /// CPUs the parent and the peer were pinned to (empty: unpinned).
    #[serde(default)]
    pub cpus: Vec<usize>,
    /// Who timed the row when not the harness: "node" for Node on both
    /// ends, where a Node parent timed its own round trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ns: Option<Rtt>,
    /// The round-trip distribution as (quantile, ns) points, for plots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rtt_curve_ns: Vec<(f64, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgs_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mib_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns_per_msg: Option<CpuPerMessage>,
    /// The CPU each side used over the timed part, in CPUs (1.0: one CPU
    /// all the time; a side with two busy threads can pass 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_busy: Option<CpuPerMessage>,
    /// Timed messages (round trips for latency), warm-up excluded.
    pub messages: u64,
    pub warmup_messages: u64,
    /// Wall time of the timed part, in seconds.
    pub elapsed_s: f64,
    pub errors: ErrorCounts,
    /// The headline figure of every trial (`--repeat`), in order: RTT p50 in
    /// ns for latency, messages/s for throughput. The row's other figures
    /// come from the median trial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<f64>,
    /// `rate`: the offered rate, messages/s (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_per_s: Option<f64>,
    /// `rate`: how the sender kept to its schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// `fan-in`: the number of sending processes (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<u32>,
    /// `fan-in`: one-way latency, from the sender's stamp (CLOCK_MONOTONIC,
    /// one clock for every process of the machine) to its receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_way_ns: Option<Rtt>,
    /// `fan-out`: the number of subscriber processes (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<u32>,
    /// `fan-out`: sends per message to reach every subscriber: 1 for a
    /// native broadcast, one per subscriber for unicast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sends_per_message: Option<u32>,
    /// `fan-out`: from a message's publication to the last subscriber's
    /// answer (the broadcast's completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_ns: Option<Rtt>,
    /// `fan-out`: deliveries per second while streaming (messages per
    /// second times subscribers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries_per_s: Option<f64>,
    /// `fan-out`: each subscriber's own rate while streaming, messages/s,
    /// from its first message to its last: how much the slowest lags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriber_msgs_per_s: Vec<f64>,
    /// `groups`: how many groups (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<u32>,
    /// `groups`: senders per group, and as many receivers (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_size: Option<u32>,
    /// `groups`: messages each sender writes to each receiver of its group
    /// (part of the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loops: Option<u64>,
    /// `groups`: from the start signal to the last process reaped, as
    /// `perf bench sched messaging` counts its "Total time".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ns: Option<u64>,
    /// `groups`: `perf bench sched messaging`'s own "Total time" on the
    /// same shape, run right after the case, where perf runs here (the
    /// row's note says the command, or why there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_total_ns: Option<u64>,
    /// The whole distribution behind `rtt_ns` (or `one_way_ns`), every
    /// trial's messages added: HdrHistogram's V2 compressed encoding in
    /// base64 (`distribution.rs`). Absent in files from before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
    /// The latencies of the row's median trial over time, sampled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<distribution::Timeline>,
    /// Set when that trial's first and last thirds differ beyond the noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<distribution::Drift>,
}

/// How an open loop kept to its schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Messages echoed per second, from the first message's due time to
    /// the last echo.
    pub achieved_per_s: f64,
    /// How late, at worst, the sender sent a message after it was due.
    pub max_lag_ns: u64,
    /// How far behind its schedule the exchange ended: from when the last
    /// message was due to when its echo came back.
    pub end_lag_ns: u64,
    /// False when the exchange ended further behind than a round trip and
    /// a noisy machine explain (2 ms, two intervals, or 5 % of the timed
    /// part, whichever is most): the messages went out or came back slower
    /// than offered, and a backlog grew.
    pub sustained: bool,
}

impl Row {
    pub fn new(mechanism: &str, placement: Placement, pattern: Pattern, size: usize) -> Row {
        Row {
            mechanism: mechanism.to_string(),
            family: Family::Kernel,
            placement,
            pattern,
            wait: Wait::Block,
            isolation: Isolation::None,
            spin_budget_ns: None,
            copies: None,
            memory_nodes: None,
            size_bytes: size as u64,
            status: Status::Ok,
            reason: None,
            cause: None,
            failure: None,
            note: None,
            cpus: Vec::new(),
            member_cpus: Vec::new(),
            timed_by: None,
            rtt_ns: None,
            rtt_curve_ns: Vec::new(),
            msgs_per_s: None,
            mib_per_s: None,
            cpu_ns_per_msg: None,
            cpu_busy: None,
            messages: 0,
            warmup_messages: 0,
            elapsed_s: 0.0,
            errors: ErrorCounts::default(),
            trials: Vec::new(),
            offered_per_s: None,
            schedule: None,
            senders: None,
            one_way_ns: None,
            subscribers: None,
            sends_per_message: None,
            completion_ns: None,
            deliveries_per_s: None,
            subscriber_msgs_per_s: Vec::new(),
            groups: None,
            group_size: None,
            loops: None,
            total_ns: None,
            perf_total_ns: None,
            histogram: None,
            timeline: None,
            drift: None,
        }
    }

    /// The case this row measured: what two runs are compared by, and
    /// what appears once in a result file.
    /// What makes this row's case: every axis of `case::AXES`.
    pub fn key(&self) -> CaseKey<'_> {
        CaseKey::of(self)
    }

    /// The transport as people read it: its name, and what the axes that
    /// qualify it say when unusual ("pipe (spin)", "tcp
    /// (separate-containers)"), so that tables and charts keep them apart.
    pub fn transport_label(&self) -> std::borrow::Cow<'_, str> {
        case::label(self)
    }

    /// Whether `other` measured the same case, as when two runs are compared.
    pub fn same_case(&self, other: &Row) -> bool {
        self.key() == other.key()
    }

    /// Whether `other` is the same case in another placement.
    pub fn same_but_placement(&self, other: &Row) -> bool {
        self.key().but_placement() == other.key().but_placement()
    }

    /// The figure a row is judged by: RTT p50 (ns) for latency, the p99
    /// from the due time for an open loop (its tail is what load changes),
    /// messages/s for throughput and fan-in.
    pub fn headline(&self) -> Option<f64> {
        (self.pattern.describe().headline().read)(self)
    }

    /// The case's extra dimension, as tables name it: "10k/s offered",
    /// "4 senders", "8 subscribers".
    pub fn load_label(&self) -> Option<String> {
        let counted = |n: u32, what: &str| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        };
        if let (Some(g), Some(size), Some(loops)) = (self.groups, self.group_size, self.loops) {
            return Some(format!(
                "{} of {size}+{size}, {loops} loops",
                counted(g, "group")
            ));
        }
        match (self.offered_per_s, self.senders, self.subscribers) {
            (Some(r), _, _) => Some(format!("{}/s offered", format::rate_text(r))),
            (_, Some(n), _) => Some(counted(n, "sender")),
            (_, _, Some(n)) => Some(counted(n, "subscriber")),
            _ => None,
        }
    }

    pub fn with_status(mut self, status: Status, reason: impl Into<String>) -> Row {
        self.status = status;
        self.reason = Some(reason.into());
        self
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    pub git_commit: String,
}

impl Tool {
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("IPCBENCH_GIT_COMMIT").to_string(),
        }
    }
}

/// What the harness itself costs, measured at the start of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Calibration {
    /// Cost of one clock read (`Instant::now`), included once in every round
    /// trip; reported, not subtracted.
    pub timer_overhead_ns: f64,
    /// A fixed CPU-only workload (CRC32C of 1 MiB), timed at the start of
    /// each sweep: the reference for the pipe's own rows in `compare`.
    #[serde(default)]
    pub reference_ns: Vec<f64>,
}

/// The options a run used, as recorded in its result file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub mechanisms: Vec<String>,
    pub patterns: Vec<Pattern>,
    pub sizes: Vec<u64>,
    pub placements: Vec<Placement>,
    pub length: Length,
    #[serde(deserialize_with = "seconds::deserialize")]
    pub warmup_s: f64,
    #[serde(deserialize_with = "seconds::deserialize")]
    pub timeout_s: f64,
    pub verify: Verify,
    #[serde(default = "one")]
    pub repeat: usize,
    /// Offered rates of the `rate` pattern, messages/s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<f64>,
    /// Sender counts of the `fan-in` pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub senders: Vec<u32>,
    /// Subscriber counts of the `fan-out` pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribers: Vec<u32>,
    /// Group counts of the `groups` pattern, its senders (and receivers)
    /// per group, and each sender's loops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loops: Option<u64>,
    /// How receivers waited; files from before it was recorded: block.
    #[serde(default = "block_only", skip_serializing_if = "is_block_only")]
    pub waits: Vec<Wait>,
    /// The NUMA node shared memory was bound to, if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_node: Option<usize>,
    /// What separated the peers; files from before it was recorded: none.
    #[serde(default = "not_isolated", skip_serializing_if = "is_not_isolated")]
    pub isolations: Vec<Isolation>,
}

fn not_isolated() -> Vec<Isolation> {
    vec![Isolation::None]
}

fn is_not_isolated(isolations: &Vec<Isolation>) -> bool {
    *isolations == not_isolated()
}

fn block_only() -> Vec<Wait> {
    vec![Wait::Block]
}

fn is_block_only(waits: &Vec<Wait>) -> bool {
    *waits == block_only()
}

fn one() -> usize {
    1
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    /// Given when the run starts, random: two runs are told apart by it,
    /// whatever their times and host. Files from before it: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub tool: Tool,
    pub machine: Machine,
    pub options: RunRecord,
    pub calibration: Calibration,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    /// False while the run is under way and when it was interrupted: the
    /// rows are what had finished.
    pub complete: bool,
    pub rows: Vec<Row>,
    /// The physical limits of the run's CPUs, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floors: Option<Floors>,
    /// The property probes, when the run made them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<probe::ProbeFile>,
}

impl ResultFile {
    /// What tells this run from any other: its run id, or for a file
    /// written before ids, a digest of its content.
    pub fn identity(&self) -> String {
        use sha2::Digest;
        if let Some(id) = &self.run_id {
            return id.clone();
        }
        let content = serde_json::to_vec(self).unwrap_or_default();
        let digest = sha2::Sha256::digest(&content);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}
