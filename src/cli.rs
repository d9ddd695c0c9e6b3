//! Command-line words. Parsing only: validation lives in `options`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use crate::export::ExportFormat;
use crate::harness::message::Verify;
use crate::harness::peer::PeerArgs;
use crate::options;
use crate::results::{Isolation, Pattern, Placement, Wait};

/// The command line's words for an enum of the result contract, which
/// knows nothing of clap: its variants offered, each spelt by its own
/// `name()` (serde's), with its help. A variant left out (`pair`) is not
/// offered.
macro_rules! offered {
    ($t:ty { $($v:ident: $help:literal),* $(,)? }) => {
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$t>::$v),*]
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                let help = match self {
                    $(<$t>::$v => $help,)*
                    #[allow(unreachable_patterns)]
                    _ => return None,
                };
                Some(clap::builder::PossibleValue::new(self.name()).help(help))
            }
        }
    };
}

offered!(Verify {
    Full: "Sequence numbers and a CRC32C of every payload",
    Seq: "Sequence numbers only (raw-speed runs)",
});
offered!(Pattern {
    Latency: "Ping-pong round trips",
    Throughput: "One-way streaming",
    Rate: "Open loop: messages sent at fixed times for each offered rate (--rates), echoed, timed from when each was due",
    FanIn: "Several sender processes into one receiver (--senders): aggregate throughput and one-way latency",
    FanOut: "One publisher, several subscriber processes (--subscribers): every message to every one; time to all, delivery, throughput",
    Groups: "hackbench's groups, as perf bench sched messaging (--groups, --group-size, --loops): senders each write to every receiver of their group",
});
offered!(Wait {
    Block: "The mechanism's blocking call: the thread sleeps until woken",
    Spin: "Non-blocking calls in a loop until a message is there: a whole CPU",
    Hybrid: "Spins for a bounded time (the row's spin_budget_ns), then blocks",
    Epoll: "epoll_wait, then a non-blocking receive, as an event loop does",
    IoUring: "The receive is submitted to an io_uring and its completion awaited",
});
offered!(Isolation {
    None: "Both processes in ipcbench's own namespaces",
    SamePod: "Containers of one Kubernetes pod: own mount, PID and UTS namespaces; network, IPC and /dev/shm shared; one shared volume",
    SeparateContainers: "Two containers: own mount, PID, UTS, IPC, network and cgroup namespaces, TCP over a veth pair; one shared volume",
});
offered!(Placement {
    Same: "Both processes pinned to one CPU",
    Cross: "Parent and peer pinned to two different CPUs",
    None: "Left to the scheduler",
    Smt: "Two hardware threads of one core",
    Llc: "Two cores that share the last-level cache",
    CrossLlc: "Two cores of one NUMA node on different last-level caches",
    CrossNode: "Two CPUs on different NUMA nodes",
    PCore: "Two performance cores of a hybrid processor",
    ECore: "Two efficiency cores of a hybrid processor",
});

#[derive(Parser, Debug)]
#[command(
    name = "ipcbench",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("IPCBENCH_GIT_COMMIT"), ")"),
    about = "Measures Linux IPC mechanisms between two real processes: round-trip latency, throughput, verified delivery",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the benchmark suite (what `ipcbench` with no arguments does)
    Run(RunArgs),
    /// List the transports, whether each works on this host, and why not
    List,
    /// Decide every cell of the claimed comparison table on this kernel, each saying how
    Probe(ProbeArgs),
    /// Check what on this machine would skew the figures, and how to fix it; exit 1 if something would
    Doctor(DoctorArgs),
    /// Write an HTML report with charts from a result file
    Report(ReportArgs),
    /// Compare two result files; exit 1 when a case regressed
    Compare(CompareArgs),
    /// Build a static site comparing the result files of many machines, each with its own report
    Gallery(GalleryArgs),
    /// Convert a result file for benchmark-history tools
    Export(ExportArgs),
    /// Print a shell completion script (e.g. `ipcbench completions bash > /etc/bash_completion.d/ipcbench`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    #[command(name = "__peer", hide = true)]
    Peer(PeerArgs),
    #[command(name = "__janitor", hide = true)]
    Janitor,
    #[command(name = "__probe-peer", hide = true)]
    ProbePeer(crate::probe::helper::HelperArgs),
    /// Pins itself to one CPU and becomes `command`: how a Node parent
    /// places the child it forks (fork()'s execPath).
    #[command(name = "__pinned", hide = true)]
    Pinned {
        cpu: usize,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Makes the peer's side of a boundary (namespaces, mounts, a veth
    /// end), then becomes `command`: how a peer is put in a container.
    #[command(name = "__isolate", hide = true)]
    Isolate {
        boundary: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    pub baseline: PathBuf,
    pub current: PathBuf,
    /// Largest slowdown (of the cost normalised by the same run's reference) that is not a regression
    #[arg(long, default_value = "10%", value_parser = crate::compare::parse_threshold, allow_hyphen_values = true)]
    pub max_regression: f64,
    /// Do not fail when cases the baseline measured are absent or unsupported in the current run
    #[arg(long)]
    pub allow_missing: bool,
    /// What a change must stay clear of: the quartiles of the merged histograms where both rows have them, or the trials' range
    #[arg(long, value_enum, default_value_t)]
    pub by: crate::compare::By,
}

#[derive(clap::Args, Debug, Clone)]
pub struct GalleryArgs {
    /// Result files, and folders to search for them (*.json, four levels deep)
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The folder to write index.html and each run's report into (new, or one ipcbench wrote)
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    pub result: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where to write (a directory for github-action-benchmark) [default: standard output]
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The result file of a run
    pub result: PathBuf,
    /// Directory to write index.html and the charts into [default: the result file's path without .json]
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// A second result file (the baseline) to set beside the first, with ratios
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Print the findings as JSON
    #[arg(long)]
    pub json: bool,
    /// The CPUs a run would use (see `run --cpus`) [default: the first two allowed]
    #[arg(long, value_parser = options::parse_cpus, allow_hyphen_values = true)]
    pub cpus: Option<(usize, usize)>,
}

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// Also write the probe results as JSON to this path
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Transports to probe: `all` or a comma-separated list (see `ipcbench list`; `shm` is the bare segment)
    #[arg(short, long, default_value = "all")]
    pub mechanisms: String,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Transports to measure: `all` or a comma-separated list (see `ipcbench list`)
    #[arg(short, long, default_value = "all")]
    pub mechanisms: String,

    /// Message sizes in bytes, header included [default: 64,4KiB,64KiB,1MiB]
    #[arg(short, long, value_delimiter = ',', value_parser = options::parse_size, allow_hyphen_values = true)]
    pub sizes: Vec<usize>,

    /// Workloads to run
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [Pattern::Latency, Pattern::Throughput])]
    pub patterns: Vec<Pattern>,

    /// Offered rates of the `rate` pattern, messages per second (k and M allowed) [default: 10,100,1k,10k,30k,100k,300k,1M; a sparse rate's case lasts for 100 messages at least]
    #[arg(long, value_delimiter = ',', value_parser = options::parse_rate, allow_hyphen_values = true)]
    pub rates: Vec<f64>,

    /// Sender processes of the `fan-in` pattern [default: 1,2,4,8]
    #[arg(long, value_delimiter = ',', value_parser = options::parse_senders, allow_hyphen_values = true)]
    pub senders: Vec<u32>,

    /// Subscriber processes of the `fan-out` pattern, 1 to 1024 and within RLIMIT_NPROC [default: 1,2,4,8]
    #[arg(long, value_delimiter = ',', value_parser = options::parse_subscribers, allow_hyphen_values = true)]
    pub subscribers: Vec<u32>,

    /// Groups of the `groups` pattern, 1 to 64 [default: 1,2,4]
    #[arg(long, value_delimiter = ',', value_parser = options::parse_groups, allow_hyphen_values = true)]
    pub groups: Vec<u32>,

    /// Senders per group of the `groups` pattern, and as many receivers, 1 to 64 [default: 20, as perf's]
    #[arg(long, value_parser = options::parse_group_size, allow_hyphen_values = true)]
    pub group_size: Option<u32>,

    /// Messages each sender of the `groups` pattern writes to each receiver of its group [default: 100, as perf's]
    #[arg(long, value_parser = options::parse_loops, allow_hyphen_values = true)]
    pub loops: Option<u64>,

    /// How receivers wait for a message (latency, throughput, rate and fan-out): block, spin, hybrid (spin, then block), epoll, io-uring
    #[arg(long, value_delimiter = ',', value_enum)]
    pub waits: Vec<Wait>,

    /// What separates the peer from the harness (latency, throughput and rate): none, same-pod (containers of one pod), separate-containers (TCP over a veth pair); needs root, as a container runtime does
    #[arg(long, value_delimiter = ',', value_enum)]
    pub isolation: Vec<Isolation>,

    /// CPU placements of the two processes: same (one CPU), cross (two CPUs), none (scheduler's choice), or a class of the machine's topology, resolved to a pair of allowed CPUs (`ipcbench doctor` shows each class's pair here; a class the machine lacks gives unsupported rows saying why)
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = [Placement::Same, Placement::Cross])]
    pub pin: Vec<Placement>,

    /// Instead of --pin: every ordered pair of allowed CPUs in turn (the same CPU twice included), one case per pair, drawn as a heatmap per transport; above 8 CPUs, the first CPU against each plus one pair of each placement class
    #[arg(long, value_enum, conflicts_with = "pin")]
    pub pairs: Option<Pairs>,

    /// The two CPUs to pin to: `same` uses A, `cross` A and B [default: the first two allowed; `ipcbench doctor` suggests a pair on different cores]
    #[arg(long, value_parser = options::parse_cpus, allow_hyphen_values = true)]
    pub cpus: Option<(usize, usize)>,

    /// Timed messages per case (round trips for latency) instead of --duration
    #[arg(short = 'n', long, conflicts_with = "duration", value_parser = options::parse_iterations, allow_hyphen_values = true)]
    pub iterations: Option<u64>,

    /// Timed length of each case [default: 400ms]
    #[arg(short, long, value_parser = options::parse_positive_duration, allow_hyphen_values = true)]
    pub duration: Option<std::time::Duration>,

    /// Untimed warm-up before each case; at least one message is always warm-up [default: 100ms]
    #[arg(long, value_parser = options::parse_duration, allow_hyphen_values = true)]
    pub warmup: Option<std::time::Duration>,

    /// Declare the peer hung, kill it and fail the case when no message moves for this long
    #[arg(long, default_value = "30s", value_parser = options::parse_timeout, allow_hyphen_values = true)]
    pub timeout: std::time::Duration,

    /// What the receiver checks: full (sequence and CRC32C of every payload) or seq (sequence only) [default: full]
    #[arg(long, value_enum)]
    pub verify: Option<Verify>,

    /// A smoke run of a few seconds: 50ms cases, sizes 64 and 64KiB unless --sizes says otherwise
    #[arg(long)]
    pub quick: bool,

    /// Sweep over all cases this many times; each row keeps every sweep's figure, which `compare` uses to tell a change from noise
    #[arg(long, default_value_t = 1, value_parser = options::parse_repeat, allow_hyphen_values = true)]
    pub repeat: u32,

    /// Bind the shared memory of the shared-memory transports to this NUMA node (mbind, before the first touch); each row records the nodes its pages were found on
    #[arg(long, value_name = "NODE", value_parser = options::parse_node, allow_hyphen_values = true)]
    pub memory_node: Option<usize>,

    /// Skip the property probes that a run (other than --quick) ends with
    #[arg(long)]
    pub no_probe: bool,

    /// Where to write the JSON result file; the HTML report goes beside it, in a folder of the same name [default: results/run-<UTC time>.json]
    #[arg(short, long)]
    pub out: Option<PathBuf>,

    /// Test only: inject a fault (corrupt@N, drop@N, repeat@N, swap@N into throughput; garbage@N into echoes; sender-dies@N into fan-in; dies-holding@N: a lending channel's peer dies holding a message; slow@0: a peer that stalls 1 ms every 64 messages; slower@P: a peer whose median cycle is held P % longer; any of them :TRANSPORT for one transport only)
    #[arg(long, hide = true, value_parser = options::parse_injection)]
    pub inject: Option<crate::harness::workload::Injection>,
}

/// Which pairs of CPUs `run --pairs` sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Pairs {
    /// Every ordered pair (a sample above 8 CPUs).
    All,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    /// Every value offered is spelt as serde writes it: one spelling.
    fn spelt_as_serde_writes<T: ValueEnum + serde::Serialize>() {
        for v in T::value_variants() {
            let offered = v.to_possible_value().unwrap();
            let written = serde_json::to_value(v).unwrap();
            assert_eq!(written, offered.get_name(), "{written}");
        }
    }

    #[test]
    fn the_command_line_and_the_result_file_spell_alike() {
        spelt_as_serde_writes::<Verify>();
        spelt_as_serde_writes::<Pattern>();
        spelt_as_serde_writes::<Wait>();
        spelt_as_serde_writes::<Isolation>();
        spelt_as_serde_writes::<Placement>();
        assert_eq!(
            serde_json::to_value(Placement::Pair).unwrap(),
            Placement::Pair.name()
        );
        assert!(Placement::Pair.to_possible_value().is_none());
    }
}
