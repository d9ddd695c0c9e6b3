//! The fan-in workload: N sender processes write to one receiver, this
//! process.
//!
//! Every sender joins the transport's fan-in channel and says `ready`; when
//! all have, the harness closes the write end of a pipe that is every
//! sender's standard input, so all of them start at once. Each warms up for
//! the warm-up time, then sends data messages for the case's length, then
//! one END. A message carries its sender in the top 16 bits of its sequence
//! number and the time it was sent (CLOCK_MONOTONIC, one clock for every
//! process of the machine) in its payload, under the checksum.
//!
//! The receiver keeps one verifier per sender, so loss, duplication and
//! reordering are counted within each sender's own order, and interleaving
//! between senders is not mistaken for them. Where all senders write into
//! one byte stream (pipe, FIFO), a message whose bytes fail their check was
//! torn by another sender's write, and is counted so. Throughput is the
//! receiver's: data messages over the time from the first to the last.
//!
//! Placement: on one CPU, every process shares it; across CPUs, the
//! receiver keeps the first CPU and the senders take the others in turn
//! (only the second on a 2-CPU machine, so there 4 or 8 senders take turns
//! on one CPU; on a many-core machine with `--cpus` picking the receiver's
//! core, each sender gets a core of its own up to the CPUs allowed).

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::case::{CaseSpec, PeerStart};
use super::latencies::Latencies;
use super::message::{parse, sent_at, zeroed, ErrorCounts, Message, Verifier, DATA, END, WARM};
use super::watchdog::{Event, Watchdog};
use super::workload::{stop_if_asked, PeerReport, Timed};
use super::{Case, CaseError};
use crate::results::failure::Failure;
use crate::results::Placement;
use crate::sys::{affinity, interrupt};
use crate::timer::monotonic_ns;
use crate::transport::{Channel, FanIn, Gather, Rendezvous};

/// Sender i numbers its messages from `i << SENDER_SHIFT`.
const SENDER_SHIFT: u32 = 48;

fn first_seq(sender: u32) -> u64 {
    (sender as u64) << SENDER_SHIFT
}

/// One sender process and what watches it.
struct Sender {
    child: Child,
    watchdog: Watchdog,
}

/// Runs a fan-in case: starts the senders, receives, and stops, reaps and
/// removes everything whatever happened. The report is all senders' (their
/// CPU time and messages summed).
pub fn execute(
    case: &Case,
    cpus: Option<(usize, usize)>,
) -> Result<(Timed, PeerReport), CaseError> {
    let dir = super::private_dir()?;
    let senders = case.spec.senders.unwrap_or(1);
    let host = std::net::Ipv4Addr::LOCALHOST;
    let (tag, fan) = super::with_fresh_names(dir.path(), (case.spec.size, host), |at| {
        case.transport.fan_in(at, senders)
    })?;
    let at = Rendezvous {
        dir: dir.path(),
        tag: &tag,
        size: case.spec.size,
        host,
    };
    let name = case.transport.name();
    super::janitor::channel(name, &tag, &fan.token);
    let token = fan.token.clone();
    let outcome = with_senders(case, cpus, &at, fan);
    // See `session`: the case's abort ends with it.
    crate::sys::interrupt::reset_case();
    let _ = affinity::pin_to(&case.settings.cpus);
    drop(dir);
    super::janitor::channel_closed(name, &tag, &token);
    outcome
}

/// Starts the senders, receives from them, then stops and reaps them.
fn with_senders(
    case: &Case,
    cpus: Option<(usize, usize)>,
    at: &Rendezvous,
    fan: FanIn,
) -> Result<(Timed, PeerReport), CaseError> {
    let FanIn {
        child_fds,
        token,
        receive,
        shared_stream,
    } = fan;
    let (gun, fired) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| super::classify("making the start pipe", e.into()))?;
    let mut fired = Some(fired);
    let progress = Arc::new(AtomicU64::new(0));
    let spec = Case {
        cpus,
        ..case.clone()
    };
    let placed = SenderCpus::new(case.placement, cpus, &case.settings.cpus);
    let (senders, spawned) =
        spawn_senders(&spec, at, (&child_fds, &token), gun, &placed, &progress);
    drop(child_fds);
    if let Some((receiver_cpu, _)) = cpus {
        let _ = affinity::pin_to(&[receiver_cpu]);
    }
    // A sender that could not start is the first cause: what the others
    // then say (their start pipe closed) follows from it.
    let first_cause = spawned.as_ref().err().cloned();
    let outcome = spawned.map_err(io::Error::other).and_then(|()| {
        let mut gather = receive()?;
        for sender in &senders {
            super::expect_ready(&sender.watchdog)?;
        }
        gather.senders_joined()?;
        // Every sender has opened what it needed: paths can go.
        let _ = std::fs::remove_dir_all(at.dir);
        drop(fired.take());
        let got = receive_all(&mut *gather, &case.spec, &progress)?;
        if got.timed == 0 {
            return Err(io::Error::other(format!(
                "no data message arrived readable: {} frames failed their check",
                got.unreadable
            )));
        }
        let reports = senders
            .iter()
            .map(|p| super::expect_report(&p.watchdog))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(got.timed(&reports, shared_stream))
    });
    drop(fired);
    let done = progress.load(Ordering::Relaxed);
    match (
        finish(senders, outcome, done, case.settings.timeout),
        first_cause,
    ) {
        (Err(_), Some(cause)) => Err(CaseError::Failed(cause)),
        (other, _) => other,
    }
}

/// Starts every sender, reading `gun` as its standard input. Stops at
/// the first that cannot start.
fn spawn_senders(
    spec: &Case,
    at: &Rendezvous,
    (fds, token): (&[OwnedFd], &str),
    gun: OwnedFd,
    cpus: &SenderCpus,
    progress: &Arc<AtomicU64>,
) -> (Vec<Sender>, Result<(), Failure>) {
    let n = spec.spec.senders.unwrap_or(1);
    let mut senders = Vec::new();
    for i in 0..n {
        let start = PeerStart {
            case: spec.spec.clone(),
            dir: at.dir.to_path_buf(),
            tag: at.tag.to_string(),
            token: token.to_string(),
            child_cpu: None,
            pinner: None,
            sender: Some(i),
        };
        let spawned = gun.try_clone().and_then(|stdin| {
            super::spawn_peer(
                spec,
                (at, None),
                fds,
                (start, cpus.of(i)),
                Stdio::from(stdin),
            )
        });
        match spawned {
            Ok(mut child) => {
                let control: OwnedFd = child.stdout.take().expect("peer stdout is piped").into();
                let pid = Pid::from_raw(child.id() as i32);
                let timeout = spec.settings.timeout;
                let watchdog = Watchdog::start(control, pid, progress.clone(), timeout);
                senders.push(Sender { child, watchdog });
            }
            Err(e) => {
                let doing = format!("starting sender {i} of {n}");
                return (senders, Err(Failure::parent(doing, &e)));
            }
        }
    }
    (senders, Ok(()))
}

/// Stops and reaps every sender; on failure, names the sender that
/// explains it best.
fn finish<T>(
    senders: Vec<Sender>,
    outcome: io::Result<T>,
    done: u64,
    timeout: Duration,
) -> Result<T, CaseError> {
    let failed = outcome.is_err();
    let mut ended = Vec::new();
    for (i, mut sender) in senders.into_iter().enumerate() {
        let status = if failed && !interrupt::interrupted() {
            super::exit_within(&mut sender.child, Duration::from_millis(200))
        } else {
            None
        };
        if failed && status.is_none() {
            crate::sys::kill_group(sender.child.id());
        }
        // Bounded, as every wait for another process: a sender that has
        // sent everything and does not exit is killed.
        let _ = crate::sys::process::reap_within(&mut sender.child, timeout);
        let stalled = sender.watchdog.stalled();
        let seen = sender.watchdog.finish();
        ended.push((i, status, stalled, seen));
    }
    outcome.map_err(|e| {
        // The sender that explains the failure: the first to die by a
        // signal, else to stall, else to fail by itself; one that only
        // lost its receiver (EPIPE) is a consequence, never the story.
        let telling = ended
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, st, stalled, seen))| (blame(st, *stalled, seen), *i))
            .map_or(0, |(i, _)| i);
        let count = ended.len();
        match ended.into_iter().nth(telling) {
            Some((i, st, stalled, seen)) => {
                match super::explain((e, None), st, stalled, &seen, done, timeout) {
                    CaseError::Failed(why) => CaseError::Failed(Failure::Sender {
                        sender: i,
                        senders: count,
                        failure: Box::new(why),
                    }),
                    other => other,
                }
            }
            None => super::classify("starting the senders", e),
        }
    })
}

/// How well a sender's end explains a failed fan-in: lower is better.
fn blame(status: &Option<std::process::ExitStatus>, stalled: bool, seen: &[Event]) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let spoke = seen.iter().any(|e| matches!(e, Event::PeerError(_)));
    let lost_receiver = seen
        .iter()
        .any(|e| matches!(e, Event::PeerError(f) if f.lost_the_other_end()));
    match () {
        _ if status.is_some_and(|s| s.signal().is_some()) => 0,
        _ if stalled || seen.iter().any(|e| matches!(e, Event::TimedOut)) => 1,
        _ if spoke && !lost_receiver => 2,
        _ if status.is_some_and(|s| !s.success()) && !lost_receiver => 3,
        _ if lost_receiver => 4,
        _ => 5,
    }
}

/// Which CPU each sender runs on.
struct SenderCpus(Vec<usize>);

impl SenderCpus {
    fn new(placement: Placement, cpus: Option<(usize, usize)>, allowed: &[usize]) -> SenderCpus {
        match (placement, cpus) {
            (Placement::Same, Some((receiver, _))) => SenderCpus(vec![receiver]),
            // A class's pair places the receiver and the first sender; the
            // others take the remaining CPUs, as under `cross`.
            (_, Some((receiver, first))) => SenderCpus(
                std::iter::once(first)
                    .chain(
                        allowed
                            .iter()
                            .copied()
                            .filter(|&c| c != receiver && c != first),
                    )
                    .collect(),
            ),
            _ => SenderCpus(Vec::new()),
        }
    }

    fn of(&self, sender: u32) -> Option<usize> {
        (!self.0.is_empty()).then(|| self.0[sender as usize % self.0.len()])
    }
}

/// Says so when the senders outnumber the CPUs they run on: they then take
/// turns, and the figures measure the scheduler as much as the transport.
pub fn crowding(case: &Case, cpus: Option<(usize, usize)>) -> Option<String> {
    let n = case.spec.senders? as usize;
    let placed = SenderCpus::new(case.placement, cpus, &case.settings.cpus).0;
    let (shared, on) = match placed.len() {
        0 => (case.settings.cpus.len(), "the CPUs the scheduler picks"),
        _ => (placed.len(), "their CPUs"),
    };
    (n > shared).then(|| {
        format!(
            "{n} senders take turns on {on} ({shared} CPU{}{}): more senders than CPUs",
            if shared == 1 { "" } else { "s" },
            if placed.is_empty() {
                String::new()
            } else {
                format!(" {placed:?}")
            }
        )
    })
}

/// What the receiver saw.
struct Gathered {
    latencies: Latencies,
    verifiers: Vec<Verifier>,
    /// Messages too damaged to tell whose they were.
    unreadable: u64,
    timed: u64,
    warm: u64,
    elapsed: Duration,
    cpu: Duration,
}

/// Receives until every sender's END is in, or every sender has closed.
fn receive_all(
    gather: &mut dyn Gather,
    case: &CaseSpec,
    progress: &AtomicU64,
) -> io::Result<Gathered> {
    let (size, senders) = (case.size, case.senders.unwrap_or(1));
    let mut buf = zeroed(size)?;
    let mut verifiers: Vec<Verifier> = (0..senders)
        .map(|i| Verifier::from_seq(case.verify, first_seq(i)))
        .collect();
    let mut ended = vec![false; senders as usize];
    let mut latencies = Latencies::new();
    let (mut first, mut last) = (None, 0u64);
    let (mut timed, mut warm, mut unreadable) = (0u64, 0u64, 0u64);
    // CPU over the timed messages only, as the wall time is: from the
    // first timed message to the last sender's end, which follows its last
    // message. From the loop's start, the senders' start-up and warm-up
    // counted too: a 100-message case read as 1,900 CPUs busy.
    let cpu_time = crate::sys::thread_cpu_time;
    let (mut cpu_first, mut cpu_end) = (None, None);
    while ended.contains(&false) {
        stop_if_asked()?;
        let Some(n) = gather.recv(&mut buf)? else {
            break;
        };
        let now = monotonic_ns();
        let msg = &buf[..n.min(size)];
        let whose = parse(msg)
            .map(|h| (h, (h.seq >> SENDER_SHIFT) as usize))
            .filter(|&(_, s)| s < ended.len());
        let Some((header, sender)) = whose else {
            unreadable += 1;
            continue;
        };
        match header.flags {
            WARM => warm += 1,
            END => {
                ended[sender] = true;
                cpu_end = Some(cpu_time());
            }
            _ => {
                let intact = verifiers[sender].check(msg, size).is_some();
                if first.is_none() {
                    cpu_first = Some(cpu_time());
                }
                let began = *first.get_or_insert(now);
                if let Some(sent) = sent_at(msg).filter(|_| intact) {
                    latencies.record(now.saturating_sub(sent), || now - began);
                }
                timed += 1;
                last = now;
            }
        }
        progress.store(timed + warm, Ordering::Relaxed);
    }
    Ok(Gathered {
        latencies,
        verifiers,
        unreadable,
        timed,
        warm,
        elapsed: Duration::from_nanos(last.saturating_sub(first.unwrap_or(last)).max(1)),
        cpu: match (cpu_first, cpu_end) {
            (Some(from), Some(to)) => to.saturating_sub(from),
            _ => Duration::ZERO,
        },
    })
}

impl Gathered {
    /// The figures, with each sender's messages accounted against what it
    /// says it sent, and all senders' report in one.
    fn timed(self, reports: &[PeerReport], shared_stream: bool) -> (Timed, PeerReport) {
        let mut errors = ErrorCounts::default();
        for (i, (v, r)) in self.verifiers.into_iter().zip(reports).enumerate() {
            errors.add(&v.finish(first_seq(i as u32) + r.sent));
        }
        // A message too damaged to tell whose it was stands for one of the
        // missing: it arrived, damaged.
        errors.lost = errors.lost.saturating_sub(self.unreadable);
        let damaged = std::mem::take(&mut errors.corrupted) + self.unreadable;
        if shared_stream {
            errors.torn = damaged;
        } else {
            errors.corrupted = damaged;
        }
        let all = PeerReport {
            cpu_ns: reports.iter().map(|r| r.cpu_ns).sum(),
            sent: reports.iter().map(|r| r.sent).sum(),
            ..PeerReport::default()
        };
        let measured = !self.latencies.is_empty();
        let (histogram, timeline) = self.latencies.finish();
        let timed = Timed {
            histogram: measured.then_some(histogram),
            // None without a latency: its points are latencies.
            timeline,
            messages: self.timed,
            elapsed: self.elapsed,
            cpu: self.cpu,
            warmup_messages: self.warm,
            errors,
            schedule: None,
        };
        (timed, all)
    }
}

/// A sender process's whole workload, once it has joined and said ready.
pub fn send(ch: &mut dyn Channel, case: &CaseSpec, sender: u32) -> io::Result<PeerReport> {
    // The harness closes the other end when every sender is ready.
    io::stdin().lock().read_to_end(&mut Vec::new())?;
    let mut out = Message::try_new(case.size)?;
    let first = first_seq(sender);
    let warm_start = Instant::now();
    let mut warm = 0u64;
    while warm == 0 || warm_start.elapsed() < case.warmup() {
        stop_if_asked()?;
        out.stamp_sent(WARM, first, monotonic_ns());
        ch.send(&out.buf)?;
        warm += 1;
    }
    let cpu0 = crate::sys::process_cpu_time();
    let start = Instant::now();
    let mut sent = 0u64;
    let mut send_one = |sent: &mut u64| -> io::Result<()> {
        stop_if_asked()?;
        out.stamp_sent(DATA, first + *sent, monotonic_ns());
        ch.send(&out.buf)?;
        *sent += 1;
        Ok(())
    };
    // Test only, and kept out of the measured loop: a sender killed midway.
    if let Some(at) = case
        .fault_at(super::case::PeerFault::SenderDiesAt)
        .filter(|_| sender == 0)
    {
        while sent < at {
            send_one(&mut sent)?;
        }
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    while !case.length.over(sent, start) {
        send_one(&mut sent)?;
    }
    out.stamp_sent(END, first + sent, monotonic_ns());
    ch.send(&out.buf)?;
    Ok(PeerReport {
        sent,
        cpu_ns: crate::sys::process_cpu_time()
            .saturating_sub(cpu0)
            .as_nanos() as u64,
        ..PeerReport::default()
    })
}
