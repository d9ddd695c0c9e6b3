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
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::case::CaseSpec;
use super::crowd::{finish, Member, Placed};
use super::latencies::Latencies;
use super::message::{
    first_seq, parse, sender_of, sent_at, with_unreadable, zeroed, ErrorCounts, Message, Verifier,
    DATA, END, WARM,
};
use super::workload::{stop_if_asked, PeerReport, Timed};
use super::{Case, CaseError};
use crate::results::failure::Failure;
use crate::sys::affinity;
use crate::timer::monotonic_ns;
use crate::transport::{Channel, FanIn, Gather, Rendezvous};

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
    let placed = Placed::new(case.placement, cpus, &case.settings.cpus);
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
            super::expect_ready(&sender.0.watchdog)?;
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
            .map(|p| super::expect_report(&p.0.watchdog))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(got.timed(&reports, shared_stream))
    });
    drop(fired);
    let done = progress.load(Ordering::Relaxed);
    match (
        finish(senders, outcome, (done, case.settings.timeout), "sender"),
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
    cpus: &Placed,
    progress: &Arc<AtomicU64>,
) -> (Vec<(Member, String)>, Result<(), Failure>) {
    let n = spec.spec.senders.unwrap_or(1);
    let mut senders = Vec::new();
    for i in 0..n {
        let started = gun.try_clone().and_then(|stdin| {
            let placed = (i, cpus.of(i));
            Member::start(spec, (at, fds, token), placed, Stdio::from(stdin), progress)
        });
        match started {
            Ok(member) => senders.push((member, at.tag.to_string())),
            Err(e) => {
                let doing = format!("starting sender {i} of {n}");
                return (senders, Err(Failure::parent(doing, &e)));
            }
        }
    }
    (senders, Ok(()))
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
            .map(|h| (h, sender_of(h.seq) as usize))
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
                // The wall time ends where the CPU time does: with every
                // message but one torn, first and last would be one.
                if first.is_some() {
                    last = now;
                }
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
        let errors = with_unreadable(errors, self.unreadable, shared_stream);
        let all = PeerReport {
            cpu_ns: reports.iter().map(|r| r.cpu_ns).sum(),
            sent: reports.iter().map(|r| r.sent).sum(),
            // The senders' CPU over the longest sender's window: up to one
            // CPU per sender.
            elapsed_ns: reports.iter().filter_map(|r| r.elapsed_ns).max(),
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
            fan_out: None,
            groups: None,
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
        elapsed_ns: Some(start.elapsed().as_nanos() as u64),
        ..PeerReport::default()
    })
}
