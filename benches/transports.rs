//! Criterion benchmarks of every transport: round-trip latency and one-way
//! throughput at a few sizes. The peer is a separate process, the
//! `ipcbench` binary itself, started by the same harness as `ipcbench run`;
//! criterion times in this process.
//!
//! Latency benches pin both processes to one CPU, throughput benches to two
//! (when there are two): unpinned, a virtual machine's cross-CPU wake-ups
//! make the figures bimodal and criterion's change detection useless.
//!
//! `cargo bench` runs them all (a few minutes on two cores);
//! `cargo bench -- pipe` runs one transport's groups.
//!
//! The loaded workloads are not here: criterion times closed iterations,
//! while the open loop (`rate`) sends on a schedule and measures from it,
//! and fan-in needs several sender processes per sample. `ipcbench run
//! --patterns rate,fan-in` and `compare` track those.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

use ipcbench::harness::watchdog::Event;
use ipcbench::harness::workload::{Exchange, Length};
use ipcbench::harness::{session, Case, PeerRole, Settings};
use ipcbench::results::Pattern;
use ipcbench::transport::{self, Transport};

const LATENCY_SIZES: [usize; 2] = [64, 4096];
const THROUGHPUT_SIZES: [usize; 2] = [64, 65536];

/// What criterion can time: a batch of round trips, or a batch streamed.
#[derive(Clone, Copy, PartialEq)]
enum Workload {
    RoundTrips,
    Stream,
}

impl Workload {
    fn pattern(self) -> Pattern {
        match self {
            Workload::RoundTrips => Pattern::Latency,
            Workload::Stream => Pattern::Throughput,
        }
    }
}

fn settings() -> Settings {
    Settings {
        length: Length::Iterations(1),
        warmup: Duration::ZERO,
        verify: ipcbench::results::Verify::Full,
        // Criterion keeps a session busy for seconds between our progress
        // updates; only a real hang should end it.
        timeout: Duration::from_secs(600),
        peer_exe: PathBuf::from(env!("CARGO_BIN_EXE_ipcbench")),
        cpus: ipcbench::sys::affinity::allowed_cpus(),
        inject: None,
        memory_node: None,
    }
}

/// Sizes to run: a signal-only transport has one (its bare header).
fn sizes(t: &dyn Transport, wanted: &[usize]) -> Vec<usize> {
    if !t.carries_payload() {
        return vec![ipcbench::harness::message::HEADER_BYTES];
    }
    wanted
        .iter()
        .copied()
        .filter(|&s| match t.check_size(s) {
            Ok(()) => true,
            Err(why) => {
                eprintln!("{} {s} B skipped: {why}", t.name());
                false
            }
        })
        .collect()
}

fn bench(c: &mut Criterion, t: &'static dyn Transport, workload: Workload) {
    let settings = settings();
    let pattern = workload.pattern();
    let wanted = match workload {
        Workload::RoundTrips => &LATENCY_SIZES[..],
        Workload::Stream => &THROUGHPUT_SIZES[..],
    };
    let mut group = c.benchmark_group(format!("{}/{pattern}", t.name()));
    for size in sizes(t, wanted) {
        if workload == Workload::Stream {
            group.throughput(if t.carries_payload() {
                Throughput::Bytes(size as u64)
            } else {
                Throughput::Elements(1)
            });
        }
        let cpus = match (workload, &settings.cpus[..]) {
            (Workload::RoundTrips, [c, ..]) => Some((*c, *c)),
            (Workload::Stream, [a, b, ..]) => Some((*a, *b)),
            _ => None,
        };
        let spec = Case {
            cpus,
            ..Case::session(t, pattern, size, PeerRole::Serve, &settings)
        };
        let label = if t.carries_payload() {
            size.to_string()
        } else {
            "post".to_string()
        };
        session(&spec, |live| {
            let watchdog = live.watchdog;
            let channel = live.channel()?;
            let mut ex = Exchange::new(&*channel, size);
            group.bench_function(BenchmarkId::from_parameter(&label), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    match workload {
                        Workload::RoundTrips => ex.round_trips(&mut *channel, iters),
                        Workload::Stream => ex.stream(&mut *channel, iters),
                    }
                    .expect("the peer answers");
                    start.elapsed()
                })
            });
            let echo_errors = ex.end(&mut *channel, pattern == Pattern::Latency)?;
            match watchdog.next() {
                Some(Event::Report(r)) if r.errors.total() + echo_errors.total() == 0 => Ok(()),
                other => Err(std::io::Error::other(format!(
                    "verification failed: {other:?}, echoes {echo_errors:?}"
                ))),
            }
        })
        .unwrap_or_else(|e| panic!("{} {size} B: {e}", t.name()));
    }
    group.finish();
}

fn all(c: &mut Criterion) {
    for &t in transport::all() {
        bench(c, t, Workload::RoundTrips);
        bench(c, t, Workload::Stream);
    }
}

criterion_group! {
    name = benches;
    // Short groups keep the whole suite within minutes on two cores.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        // The analysis, not the measuring, dominated the suite's time.
        .nresamples(10_000)
        .sample_size(20);
    targets = all
}
fn main() {
    // Criterion draws its plots with plotters, which here renders text with
    // the font ipcbench carries.
    ipcbench::report::register_font();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
