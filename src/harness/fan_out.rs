//! The fan-out workload: this process publishes, N subscriber processes
//! each receive every message.
//!
//! Where the transport has a native broadcast (`Transport::broadcast`),
//! each message is written once and every subscriber reads it; otherwise
//! each subscriber has a channel of its own and each message is sent once
//! to each ([`Unicast`]), which is what an application does over a pipe or
//! a socket. The row says which, by its sends per message.
//!
//! A case has two timed parts after a warm-up, in one session:
//! - **rounds**: a message stamped with its send time (CLOCK_MONOTONIC, one
//!   clock for every process of the machine) is published, and every
//!   subscriber answers it (an echo, on its own return path). The time
//!   until the last answer is the broadcast's completion; each subscriber
//!   times the delivery, one way, from the stamp to its receipt.
//! - **stream**: messages are published back to back and nobody answers;
//!   a publisher that finds no room waits for the slowest subscriber. Each
//!   subscriber reports when its first and last message came, so the rate
//!   to all is the publisher's start to the slowest subscriber's last, and
//!   each subscriber's own rate shows by how much the slowest lags.
//!
//! SYNC between the parts, answered by every subscriber, marks where one
//! ends and the next begins; END closes the case and carries the number of
//! data messages published. Every subscriber checks every message it gets
//! (sequence and CRC32C), so loss, duplication, reordering and corruption
//! are counted per subscriber; the publisher checks that each answer is to
//! the message it published, after the completion's clock has stopped.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::case::CaseSpec;
use super::crowd::{finish, Member, Placed};
use super::latencies::Latencies;
use super::message::{parse, sent_at, zeroed, ErrorCounts, Message, Verifier, DATA, END, SYNC};
use super::workload::{stop_if_asked, PeerReport, Timed};
use super::{Case, CaseError};
use crate::results::distribution::{new_histogram, percentiles};
use crate::results::failure::Failure;
use crate::results::{CpuPerMessage, Row};
use crate::sys::{affinity, process_cpu_time, thread_cpu_time};
use crate::timer::monotonic_ns;
use crate::transport::{Channel, Connect, Publisher, Rendezvous, Unicast};

/// Where one subscriber meets the publisher: a folder for its channel's
/// paths, its case's tag, the token and the descriptors it inherits (all
/// shared under a native broadcast).
struct Door {
    dir: PathBuf,
    tag: String,
    token: String,
    fds: Vec<OwnedFd>,
}

/// The publisher's end, once the subscribers run.
enum Starting {
    Native(Box<dyn Publisher>),
    Unicast(Vec<Connect>),
}

impl Starting {
    fn start(self) -> io::Result<Box<dyn Publisher>> {
        match self {
            Starting::Native(p) => Ok(p),
            Starting::Unicast(connects) => {
                let channels = connects
                    .into_iter()
                    .map(|connect| connect())
                    .collect::<io::Result<Vec<Box<dyn Channel>>>>()?;
                Ok(Box::new(Unicast(channels)))
            }
        }
    }
}

/// What the parent made before its subscribers start.
struct Made {
    doors: Vec<Door>,
    publisher: Starting,
    /// Copies of a payload to reach every subscriber.
    copies: u32,
}

impl Made {
    fn door(&self, subscriber: u32) -> &Door {
        &self.doors[subscriber as usize % self.doors.len()]
    }
}

/// Runs a fan-out case: makes the channels, starts the subscribers,
/// publishes, and stops, reaps and removes everything whatever happened.
/// The report is all subscribers' (their CPU time summed).
pub fn execute(
    case: &Case,
    cpus: Option<(usize, usize)>,
) -> Result<(Timed, PeerReport), CaseError> {
    let dir = super::private_dir()?;
    let made = make(case, dir.path())?;
    let name = case.transport.name();
    let named: Vec<(String, String)> = made
        .doors
        .iter()
        .map(|d| (d.tag.clone(), d.token.clone()))
        .collect();
    for (tag, token) in &named {
        super::janitor::channel(name, tag, token);
    }
    let outcome = with_subscribers(case, cpus, made);
    crate::sys::interrupt::reset_case();
    let _ = affinity::pin_to(&case.settings.cpus);
    drop(dir);
    for (tag, token) in &named {
        super::janitor::channel_closed(name, tag, token);
    }
    outcome
}

/// A native broadcast, or one channel per subscriber, each under a fresh tag.
fn make(case: &Case, dir: &Path) -> Result<Made, CaseError> {
    let n = case.spec.subscribers.unwrap_or(1);
    let (size, host) = (case.spec.size, std::net::Ipv4Addr::LOCALHOST);
    let t = case.transport;
    if t.broadcast_refused().is_none() {
        let (tag, b) = super::with_fresh_names(dir, (size, host), |at| t.broadcast(at, n))?;
        return Ok(Made {
            doors: vec![Door {
                dir: dir.to_path_buf(),
                tag,
                token: b.token,
                fds: b.child_fds,
            }],
            publisher: Starting::Native(b.publisher),
            copies: b.copies,
        });
    }
    let mut doors = Vec::new();
    let mut connects = Vec::new();
    for i in 0..n {
        // Paths in the folder (a socket's, a FIFO's) are the transport's
        // own names: each channel needs a folder of its own.
        let own = dir.join(i.to_string());
        std::fs::create_dir(&own)
            .map_err(|e| super::classify("making a subscriber's folder", e))?;
        let (tag, p) = super::with_fresh_names(&own, (size, host), |at| t.prepare(at))?;
        doors.push(Door {
            dir: own,
            tag,
            token: p.token,
            fds: p.child_fds,
        });
        connects.push(p.connect);
    }
    Ok(Made {
        doors,
        publisher: Starting::Unicast(connects),
        copies: u32::from(t.copies().count) * n,
    })
}

/// Starts the subscribers, publishes to them, then stops and reaps them.
fn with_subscribers(
    case: &Case,
    cpus: Option<(usize, usize)>,
    made: Made,
) -> Result<(Timed, PeerReport), CaseError> {
    let progress = Arc::new(AtomicU64::new(0));
    let spec = Case {
        cpus,
        ..case.clone()
    };
    let placed = Placed::new(case.placement, cpus, &case.settings.cpus);
    let (members, spawned) = spawn_subscribers(&spec, &made, &placed, &progress);
    let Made {
        doors,
        publisher,
        copies,
    } = made;
    // The subscribers have their copies; ours would keep ends open.
    drop(doors);
    if let Some((own, _)) = cpus {
        let _ = affinity::pin_to(&[own]);
    }
    let first_cause = spawned.as_ref().err().cloned();
    let outcome = spawned.map_err(io::Error::other).and_then(|()| {
        let mut publisher = publisher.start()?;
        if !case.spec.wait.is_block() {
            publisher.wait_with(case.spec.wait)?;
        }
        for (member, _) in &members {
            super::expect_ready(&member.watchdog)?;
        }
        publisher.subscribers_joined()?;
        let published = publish(&mut *publisher, &case.spec, &progress)?;
        let reports = members
            .iter()
            .map(|(m, _)| super::expect_report(&m.watchdog))
            .collect::<io::Result<Vec<_>>>()?;
        let sends = publisher.sends_per_message();
        Ok(published.timed(&reports, (sends, copies)))
    });
    let done = progress.load(Ordering::Relaxed);
    let timeout = case.settings.timeout;
    match (
        finish(members, outcome, (done, timeout), "subscriber"),
        first_cause,
    ) {
        (Err(_), Some(cause)) => Err(CaseError::Failed(cause)),
        (other, _) => other,
    }
}

/// Starts every subscriber at its door. Stops at the first that cannot
/// start.
fn spawn_subscribers(
    spec: &Case,
    made: &Made,
    cpus: &Placed,
    progress: &Arc<AtomicU64>,
) -> (Vec<(Member, String)>, Result<(), Failure>) {
    let n = spec.spec.subscribers.unwrap_or(1);
    let mut members = Vec::new();
    for i in 0..n {
        let door = made.door(i);
        let at = Rendezvous {
            dir: &door.dir,
            tag: &door.tag,
            size: spec.spec.size,
            host: std::net::Ipv4Addr::LOCALHOST,
        };
        let placed = (i, cpus.of(i));
        let meet = (&at, &door.fds[..], &door.token[..]);
        match Member::start(spec, meet, placed, Stdio::null(), progress) {
            Ok(member) => members.push((member, door.tag.clone())),
            Err(e) => {
                let doing = format!("starting subscriber {i} of {n}");
                return (members, Err(Failure::parent(doing, &e)));
            }
        }
    }
    (members, Ok(()))
}

/// What the publisher timed.
struct Published {
    completions: Latencies,
    rounds: u64,
    rounds_elapsed: Duration,
    streamed: u64,
    stream_began_ns: u64,
    stream_elapsed: Duration,
    warmup: u64,
    cpu: Duration,
    /// Answers that were not to the message just published.
    misanswered: u64,
}

/// The publisher's whole workload: warm-up rounds, SYNC, timed rounds,
/// SYNC, the stream, END.
fn publish(p: &mut dyn Publisher, case: &CaseSpec, progress: &AtomicU64) -> io::Result<Published> {
    let n = case.subscribers.unwrap_or(1) as usize;
    let mut out = Message::try_new(case.size)?;
    let mut answers = Answers::new(n, case.size)?;
    let warm_start = Instant::now();
    let mut seq = 0u64;
    while seq == 0 || warm_start.elapsed() < case.warmup() {
        stop_if_asked()?;
        out.stamp_sent(DATA, seq, monotonic_ns());
        p.publish(&out.buf)?;
        answers.collect(p, seq)?;
        seq += 1;
        progress.store(seq, Ordering::Relaxed);
    }
    let warmup = seq;
    answers.control(p, &mut out, SYNC, seq)?;
    let cpu0 = thread_cpu_time();
    let (completions, rounds, rounds_elapsed) =
        rounds(p, case, (&mut out, &mut answers), &mut seq, progress)?;
    answers.control(p, &mut out, SYNC, seq)?;
    let stream_began_ns = monotonic_ns();
    let start = Instant::now();
    let mut streamed = 0u64;
    while !case.length.over(streamed, start) {
        stop_if_asked()?;
        out.stamp_sent(DATA, seq, monotonic_ns());
        p.publish(&out.buf)?;
        seq += 1;
        streamed += 1;
        progress.store(seq, Ordering::Relaxed);
    }
    // END carries the number of data messages published, for the
    // subscribers' accounts; its answers come once each has read them all.
    answers.control(p, &mut out, END, seq)?;
    Ok(Published {
        completions,
        rounds,
        rounds_elapsed,
        streamed,
        stream_began_ns,
        stream_elapsed: start.elapsed(),
        warmup,
        cpu: thread_cpu_time().saturating_sub(cpu0),
        misanswered: answers.wrong,
    })
}

/// The timed rounds: each message published, then every answer awaited.
/// The clock is the one the message is stamped with, so the time to all
/// and each delivery start at the same instant; the answers are checked
/// once it has stopped.
fn rounds(
    p: &mut dyn Publisher,
    case: &CaseSpec,
    (out, answers): (&mut Message, &mut Answers),
    seq: &mut u64,
    progress: &AtomicU64,
) -> io::Result<(Latencies, u64, Duration)> {
    let mut completions = Latencies::new();
    let start = Instant::now();
    let start_ns = monotonic_ns();
    let mut done = 0u64;
    while !case.length.over(done, start) {
        stop_if_asked()?;
        let sent = monotonic_ns();
        out.stamp_sent(DATA, *seq, sent);
        p.publish(&out.buf)?;
        answers.receive(p)?;
        let took = monotonic_ns().saturating_sub(sent);
        completions.record(took, || sent.saturating_sub(start_ns));
        answers.check(*seq);
        *seq += 1;
        done += 1;
        progress.store(*seq, Ordering::Relaxed);
    }
    Ok((completions, done, start.elapsed()))
}

/// Each subscriber's latest answer (its buffer, and how long it was), and
/// how many were not to the message they answered.
struct Answers {
    bufs: Vec<(Vec<u8>, usize)>,
    wrong: u64,
}

impl Answers {
    fn new(n: usize, size: usize) -> io::Result<Answers> {
        let bufs = (0..n)
            .map(|_| zeroed(size).map(|b| (b, 0)))
            .collect::<io::Result<_>>()?;
        Ok(Answers { bufs, wrong: 0 })
    }

    /// Every subscriber's answer, in turn.
    fn receive(&mut self, p: &mut dyn Publisher) -> io::Result<()> {
        for (i, (buf, len)) in self.bufs.iter_mut().enumerate() {
            *len = p.answer(i, buf)?.min(buf.len());
        }
        Ok(())
    }

    /// Counts each answer whose header is not message `seq`'s.
    fn check(&mut self, seq: u64) {
        let right = |(b, len): &(Vec<u8>, usize)| parse(&b[..*len]).is_some_and(|h| h.seq == seq);
        self.wrong += self.bufs.iter().filter(|a| !right(a)).count() as u64;
    }

    fn collect(&mut self, p: &mut dyn Publisher, seq: u64) -> io::Result<()> {
        self.receive(p)?;
        self.check(seq);
        Ok(())
    }

    /// Publishes a control message and waits for every answer to it.
    fn control(
        &mut self,
        p: &mut dyn Publisher,
        out: &mut Message,
        flags: u32,
        seq: u64,
    ) -> io::Result<()> {
        out.stamp(flags, seq);
        p.publish_control(&out.buf)?;
        self.receive(p)
    }
}

/// What a fan-out case adds to a row, from the subscribers' reports.
pub struct FannedOut {
    subscribers: u32,
    sends: u32,
    copies: u32,
    deliveries: Histogram<u64>,
    /// Messages/s delivered to all while streaming.
    msgs_per_s: f64,
    /// Each subscriber's own rate while streaming.
    each_per_s: Vec<f64>,
}

impl Published {
    fn timed(self, reports: &[PeerReport], (sends, copies): (u32, u32)) -> (Timed, PeerReport) {
        let mut deliveries = new_histogram();
        let mut errors = ErrorCounts::default();
        for r in reports {
            for &(ns, count) in &r.deliveries_ns {
                deliveries.saturating_record_n(ns, count);
            }
            errors.add(&r.errors);
        }
        errors.corrupted += self.misanswered;
        let windows: Vec<(u64, u64)> = reports.iter().filter_map(|r| r.stream_window_ns).collect();
        let last = windows
            .iter()
            .map(|w| w.1)
            .max()
            .unwrap_or(self.stream_began_ns);
        let secs = |ns: u64| (ns as f64 / 1e9).max(1e-9);
        let fanned = FannedOut {
            subscribers: reports.len() as u32,
            sends,
            copies,
            deliveries,
            msgs_per_s: self.streamed as f64 / secs(last.saturating_sub(self.stream_began_ns)),
            // Between a subscriber's first message and its last lie one
            // fewer intervals than messages.
            each_per_s: windows
                .iter()
                .filter(|(first, last)| last > first && self.streamed > 1)
                .map(|(first, last)| (self.streamed - 1) as f64 / secs(last - first))
                .collect(),
        };
        let all = PeerReport {
            cpu_ns: reports.iter().map(|r| r.cpu_ns).sum(),
            received: reports.iter().map(|r| r.received).sum(),
            elapsed_ns: reports.iter().filter_map(|r| r.elapsed_ns).max(),
            ..PeerReport::default()
        };
        let (histogram, timeline) = self.completions.finish();
        let timed = Timed {
            histogram: Some(histogram),
            timeline,
            messages: self.rounds + self.streamed,
            elapsed: self.rounds_elapsed + self.stream_elapsed,
            cpu: self.cpu,
            warmup_messages: self.warmup,
            errors,
            schedule: None,
            fan_out: Some(fanned),
            groups: None,
        };
        (timed, all)
    }
}

impl FannedOut {
    /// The row's fan-out figures; its CPU per message is per delivery
    /// (each message times each subscriber), each side's total over them.
    pub fn fill(&self, row: &mut Row, m: &Timed, subscribers: &PeerReport) {
        let deliveries = (m.messages * u64::from(self.subscribers)).max(1) as f64;
        row.cpu_ns_per_msg = Some(CpuPerMessage {
            parent: m.cpu.as_nanos() as f64 / deliveries,
            child: subscribers.cpu_ns as f64 / deliveries,
        });
        row.sends_per_message = Some(self.sends);
        row.copies = Some(self.copies);
        if !self.deliveries.is_empty() {
            row.one_way_ns = Some(percentiles(&self.deliveries));
        }
        row.msgs_per_s = Some(self.msgs_per_s);
        row.deliveries_per_s = Some(self.msgs_per_s * f64::from(self.subscribers));
        row.subscriber_msgs_per_s = self.each_per_s.clone();
        if self.sends > 1 {
            let note = format!(
                "{} sends per message: one channel per subscriber",
                self.sends
            );
            row.note = Some(super::rows::join_note(row.note.take(), note));
        }
    }
}

/// The next message into `buf` (its length), or None for a data message
/// of the stream on a lending channel, which is checked where it lies and
/// handed back: there the stream measures the path that lends. Every other
/// message is copied out, to be answered.
fn next_message(
    ch: &mut dyn Channel,
    buf: &mut [u8],
    (streaming, verifier): (bool, &mut Verifier),
) -> io::Result<Option<usize>> {
    let size = buf.len();
    let Some(lender) = ch.lending() else {
        return Ok(Some(ch.recv(buf)?.min(size)));
    };
    let msg = lender.take()?;
    if streaming && parse(msg).is_none_or(|h| h.flags == DATA) {
        verifier.check(msg, size);
        lender.release()?;
        return Ok(None);
    }
    let n = msg.len().min(size);
    buf[..n].copy_from_slice(&msg[..n]);
    lender.release()?;
    Ok(Some(n))
}

/// What a subscriber received, and the window of the stream it took.
#[derive(Default)]
struct Received {
    count: u64,
    first: Option<u64>,
    last: u64,
}

impl Received {
    /// A data message of the stream, there at `now`.
    fn streamed(&mut self, now: u64) {
        self.first.get_or_insert(now);
        self.last = now;
        self.count += 1;
    }
}

/// A subscriber's whole workload, once it has joined and said ready: it
/// answers every data message until the second SYNC, timing the delivery
/// of those after the first; then it takes the stream, answering nothing,
/// until END. Every data message is checked.
pub fn subscribe(ch: &mut dyn Channel, case: &CaseSpec) -> io::Result<PeerReport> {
    let size = case.size;
    let mut buf = zeroed(size)?;
    let mut verifier = Verifier::new(case.verify);
    let mut deliveries = new_histogram();
    let mut syncs = 0;
    let mut received = Received::default();
    let (mut cpu0, mut t0) = (process_cpu_time(), Instant::now());
    loop {
        if crate::sys::interrupt::interrupted() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the harness is gone",
            ));
        }
        let streaming = syncs >= 2;
        let Some(n) = next_message(ch, &mut buf, (streaming, &mut verifier))? else {
            // A lent message of the stream, checked where it lay.
            received.streamed(monotonic_ns());
            continue;
        };
        let now = monotonic_ns();
        let msg = &buf[..n];
        match parse(msg).map_or(DATA, |h| h.flags) {
            SYNC => {
                syncs += 1;
                if syncs == 1 {
                    (cpu0, t0) = (process_cpu_time(), Instant::now());
                }
                ch.send_control(msg)?;
            }
            END => {
                ch.send_control(msg)?;
                let sent = parse(msg).map_or(0, |h| h.seq);
                return Ok(PeerReport {
                    errors: verifier.finish(sent),
                    received: received.count,
                    cpu_ns: process_cpu_time().saturating_sub(cpu0).as_nanos() as u64,
                    elapsed_ns: Some(t0.elapsed().as_nanos() as u64),
                    deliveries_ns: deliveries
                        .iter_recorded()
                        .map(|v| (v.value_iterated_to(), v.count_at_value()))
                        .collect(),
                    stream_window_ns: received.first.map(|f| (f, received.last)),
                    ..PeerReport::default()
                });
            }
            _ => {
                // The answer first: checking is not the publisher's wait.
                if syncs < 2 {
                    ch.send(msg)?;
                }
                let intact = verifier.check(msg, size).is_some();
                match syncs {
                    0 => {}
                    1 => {
                        if let Some(sent) = sent_at(msg).filter(|_| intact) {
                            deliveries.saturating_record(now.saturating_sub(sent));
                        }
                        received.count += 1;
                    }
                    _ => received.streamed(now),
                }
            }
        }
    }
}
