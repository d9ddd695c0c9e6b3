//! Ping-pong and streaming, parent side and peer side (the open loop's
//! timed part is in `open_loop.rs`, fan-in in `fan_in.rs`). Timing happens
//! in these three and nowhere else; the transport under test only sees
//! `send` and `recv`.

pub use crate::results::Length;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::case::CaseSpec;
use super::latencies::Latencies;
use super::message::{parse, zeroed, ErrorCounts, Message, Verifier, Verify, DATA, END, SYNC};
use crate::results::distribution::{new_histogram, Timeline};
use crate::results::{Pattern, Schedule};
use crate::sys::{process_cpu_time, thread_cpu_time};
use crate::transport::{Channel, Lending};

impl Length {
    /// Whether a timed part that has done `done` messages since `start` is over.
    /// The clock is read every 16 messages only: reading it costs ~20 ns,
    /// which matters against the fastest transports.
    /// At least one message is always timed, however short the duration.
    pub(crate) fn over(&self, done: u64, start: Instant) -> bool {
        match *self {
            Length::Iterations(n) => done >= n,
            Length::Duration(d) => done > 0 && done.is_multiple_of(16) && start.elapsed() >= d,
        }
    }
}

/// A deliberate fault, for tests that prove the verifier counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Corrupt,
    Drop,
    Repeat,
    Swap,
    /// The peer answers a latency message with garbage (header included).
    PeerGarbage,
    /// The first fan-in sender kills itself after `at` timed messages.
    SenderDies,
    /// The peer stalls 1 ms every 64 messages (`at` is ignored).
    SlowPeer,
    /// The peer of a lending channel takes a data message and, holding
    /// it, kills itself.
    DiesHolding,
    /// The peer makes each message's cycle `at` percent longer: what
    /// `compare` must flag (scripts/compare-power.sh).
    Slower,
}

impl Fault {
    /// Whether the harness's sender makes it (the rest are the peer's).
    fn is_senders(self) -> bool {
        matches!(
            self,
            Fault::Corrupt | Fault::Drop | Fault::Repeat | Fault::Swap
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injection {
    pub fault: Fault,
    /// Which data message (counted from the first timed one) it hits;
    /// for `Slower`, by how many percent.
    pub at: u64,
    /// The one transport it hits (`slower@25:pipe`); every one if none.
    pub only: Option<&'static str>,
}

/// What the peer reports over the control pipe when it is done.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PeerReport {
    pub errors: ErrorCounts,
    pub received: u64,
    /// Data messages sent in the timed part (a fan-in sender).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sent: u64,
    /// CPU time of the peer process during the timed part.
    pub cpu_ns: u64,
    /// Wall time of that part as the peer saw it (SYNC to END), so its
    /// share of a CPU is over its own window (a fan-in sender's, from its
    /// first timed message to END).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ns: Option<u64>,
    /// What a peer program that drove both ends timed itself (Node on both
    /// ends); the figures above are then its child's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_by_peer: Option<Box<PeerTimed>>,
    /// What ran the peer when it is not ipcbench ("node v20.20.2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// A fan-out subscriber's delivery latencies over the timed rounds, as
    /// (ns, count) in the histogram's own buckets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries_ns: Vec<(u64, u64)>,
    /// A fan-out subscriber's first and last data message while streaming
    /// (CLOCK_MONOTONIC ns, one clock for every process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_window_ns: Option<(u64, u64)>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The timed part as a peer program that drives both ends measured it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PeerTimed {
    pub messages: u64,
    pub warmup_messages: u64,
    pub elapsed_ns: u64,
    /// CPU time of the driving process (all its threads).
    pub cpu_ns: u64,
    /// Errors in the echoes it checked.
    pub errors: ErrorCounts,
    /// Round trips as (ns, count), in buckets no coarser than the
    /// histogram's own; empty for throughput.
    pub rtt_ns: Vec<(u64, u64)>,
    /// Its round trips over time, sampled as the harness samples its own
    /// (`Latencies`); absent for throughput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
}

impl PeerTimed {
    /// The parent-side figures the harness would have measured itself.
    pub fn measured(&self, latency: bool) -> Timed {
        let histogram = latency.then(|| {
            let mut h = new_histogram();
            for &(ns, n) in &self.rtt_ns {
                h.saturating_record_n(ns, n);
            }
            h
        });
        Timed {
            histogram,
            timeline: self.timeline.clone().filter(|_| latency),
            messages: self.messages,
            elapsed: Duration::from_nanos(self.elapsed_ns),
            cpu: Duration::from_nanos(self.cpu_ns),
            warmup_messages: self.warmup_messages,
            errors: self.errors,
            schedule: None,
            fan_out: None,
            groups: None,
        }
    }
}

/// What the parent measured.
pub struct Timed {
    pub histogram: Option<Histogram<u64>>,
    /// The latencies over time, sampled (none for throughput).
    pub timeline: Option<Timeline>,
    pub messages: u64,
    pub elapsed: Duration,
    pub cpu: Duration,
    pub warmup_messages: u64,
    pub errors: ErrorCounts,
    /// `rate`: how the sender kept to its schedule.
    pub schedule: Option<Schedule>,
    /// `fan-out`: what the subscribers' reports add.
    pub fan_out: Option<super::fan_out::FannedOut>,
    /// `groups`: the total time, and perf's own figure beside it.
    pub groups: Option<super::groups::Grouped>,
}

/// Parent side. `progress` counts data messages done so far: the watchdog
/// reads it to tell a slow case from a hung one, and a case that dies midway
/// says how far it got.
pub fn drive(
    ch: &mut dyn Channel,
    case: &CaseSpec,
    inject: Option<Injection>,
    progress: &AtomicU64,
) -> io::Result<Timed> {
    let mut ends = Ends::new(ch, case)?;
    let warmup_messages = ends.warm_up(ch, case, progress)?;
    // The peer answers SYNC once it has read everything before it, so the
    // timed part starts with an empty channel and the peer's CPU clock reset.
    ends.exchange(ch, SYNC, warmup_messages)?;
    let timed = match case.pattern {
        Pattern::Rate => ends.open_loop(ch, case, warmup_messages, progress),
        _ => ends.closed_loop(ch, case, (warmup_messages, inject), progress),
    }?;
    Ok(Timed {
        warmup_messages,
        ..timed
    })
}

/// The parent's message buffers, and what checks the echoes.
struct Ends {
    out: Message,
    back: Vec<u8>,
    replies: Verifier,
}

impl Ends {
    fn new(ch: &dyn Channel, case: &CaseSpec) -> io::Result<Ends> {
        let mut back = zeroed(case.size)?;
        // First touch of both buffers happens here, not in the timed part.
        back.fill(0xA5);
        Ok(Ends {
            out: Message::try_new(case.size)?,
            back,
            replies: verifier(case.verify, ch),
        })
    }

    fn exchange(&mut self, ch: &mut dyn Channel, flags: u32, seq: u64) -> io::Result<()> {
        exchange(ch, &mut self.out, &mut self.back, flags, seq)
    }

    /// At least one message, so the first (cold) one is never timed;
    /// returns how many.
    fn warm_up(
        &mut self,
        ch: &mut dyn Channel,
        case: &CaseSpec,
        progress: &AtomicU64,
    ) -> io::Result<u64> {
        // The peer echoes ping-pong and open-loop messages alike.
        let round_trip = case.pattern.is_latency();
        let start = Instant::now();
        let mut seq = 0u64;
        while seq == 0 || start.elapsed() < case.warmup() {
            stop_if_asked()?;
            send_data(ch, &mut self.out, (seq, case.verify), || {})?;
            if round_trip {
                receive_checked(ch, &mut self.back, &mut self.replies, || {})?;
            }
            seq += 1;
            progress.store(seq, Ordering::Relaxed);
        }
        Ok(seq)
    }

    /// The open loop's timed part (`open_loop.rs`), then END.
    fn open_loop(
        mut self,
        ch: &mut dyn Channel,
        case: &CaseSpec,
        first: u64,
        progress: &AtomicU64,
    ) -> io::Result<Timed> {
        // Two threads send and receive: the process's time is the parent's.
        let cpu0 = process_cpu_time();
        let timed = super::open_loop::run(ch, case, first, &mut self.replies, progress)?;
        // The closing message took one sequence number too.
        let seq = first + timed.messages + 1;
        self.exchange(ch, END, seq)?;
        let (histogram, timeline) = timed.latencies.finish();
        Ok(Timed {
            histogram: Some(histogram),
            timeline,
            messages: timed.messages,
            elapsed: timed.elapsed,
            cpu: process_cpu_time().saturating_sub(cpu0),
            warmup_messages: 0,
            errors: self.replies.finish(seq),
            schedule: Some(timed.schedule),
            fan_out: None,
            groups: None,
        })
    }

    /// Ping-pong round trips, or messages streamed one way, then END.
    fn closed_loop(
        mut self,
        ch: &mut dyn Channel,
        case: &CaseSpec,
        (first, inject): (u64, Option<Injection>),
        progress: &AtomicU64,
    ) -> io::Result<Timed> {
        let round_trip = case.pattern == Pattern::Latency;
        let mut latencies = round_trip.then(Latencies::new);
        let (out, back) = (&mut self.out, &mut self.back);
        let cpu0 = thread_cpu_time();
        let start = Instant::now();
        let (mut seq, mut done) = (first, 0u64);
        while !case.length.over(done, start) {
            // One load of a flag: cheap beside the fastest round trip (~100 ns),
            // and what lets Ctrl-C end a case of any length at once.
            stop_if_asked()?;
            let used = match &mut latencies {
                Some(l) => {
                    // The clock starts once the message is built, and stops
                    // once the echo is there, before it is checked.
                    let mut t0 = Instant::now();
                    send_data(ch, out, (seq, case.verify), || t0 = Instant::now())?;
                    let into = || t0.duration_since(start).as_nanos() as u64;
                    let arrived = || l.record(t0.elapsed().as_nanos() as u64, into);
                    receive_checked(ch, back, &mut self.replies, arrived)?;
                    1
                }
                // The test-only faults stay out of the measured path, and
                // the peer's own leave the sender's path as in a normal run.
                None if !inject.is_some_and(|i| i.fault.is_senders()) => {
                    send_data(ch, out, (seq, case.verify), || {})?;
                    1
                }
                None => send_with_fault(ch, out, seq, done, inject)?,
            };
            seq += used;
            done += used;
            progress.store(seq, Ordering::Relaxed);
        }
        self.exchange(ch, END, seq)?;
        let elapsed = start.elapsed();
        let cpu = thread_cpu_time().saturating_sub(cpu0);
        let errors = if round_trip {
            self.replies.finish(seq)
        } else {
            ErrorCounts::default()
        };
        let (histogram, timeline) = latencies.map(Latencies::finish).unzip();
        Ok(Timed {
            histogram,
            timeline: timeline.flatten(),
            messages: done,
            elapsed,
            cpu,
            warmup_messages: 0,
            errors,
            schedule: None,
            fan_out: None,
            groups: None,
        })
    }
}

/// Drives a live session from outside the harness's own timed loops (for
/// criterion, which keeps the clock itself). Echoes are checked as they come
/// back; the peer verifies what it receives and reports at `end`.
pub struct Exchange {
    out: Message,
    back: Vec<u8>,
    seq: u64,
    replies: Verifier,
}

impl Exchange {
    pub fn new(ch: &dyn Channel, size: usize) -> Exchange {
        let mut back = vec![0u8; size];
        back.fill(0xA5);
        Exchange {
            out: Message::new(size),
            back,
            seq: 0,
            replies: verifier(Verify::Full, ch),
        }
    }

    /// `n` ping-pong round trips (the peer must serve the latency pattern),
    /// each message built and read as in a run (in place, on a lending
    /// channel).
    pub fn round_trips(&mut self, ch: &mut dyn Channel, n: u64) -> io::Result<()> {
        for _ in 0..n {
            send_data(ch, &mut self.out, (self.seq, Verify::Full), || {})?;
            receive_checked(ch, &mut self.back, &mut self.replies, || {})?;
            self.seq += 1;
        }
        Ok(())
    }

    /// `n` messages one way, then a SYNC round trip: when it returns, the
    /// peer (serving the throughput pattern) has read them all.
    pub fn stream(&mut self, ch: &mut dyn Channel, n: u64) -> io::Result<()> {
        for _ in 0..n {
            send_data(ch, &mut self.out, (self.seq, Verify::Full), || {})?;
            self.seq += 1;
        }
        exchange(ch, &mut self.out, &mut self.back, SYNC, self.seq)
    }

    /// Ends the session's workload; returns the errors seen in echoes.
    pub fn end(mut self, ch: &mut dyn Channel, echoes: bool) -> io::Result<ErrorCounts> {
        exchange(ch, &mut self.out, &mut self.back, END, self.seq)?;
        Ok(if echoes {
            self.replies.finish(self.seq)
        } else {
            ErrorCounts::default()
        })
    }
}

/// Puts data message `seq` on its way, built as `verify` says
/// (`Message::build`): in the harness's buffer and sent, which copies it;
/// or, on a lending channel, in its loan and published as it lies.
/// `built` runs between the two, where a round trip's clock starts.
fn send_data(
    ch: &mut dyn Channel,
    out: &mut Message,
    (seq, verify): (u64, Verify),
    built: impl FnOnce(),
) -> io::Result<()> {
    let len = out.buf.len();
    match ch.lending() {
        Some(lender) => {
            out.build_in(lender.loan(len)?, seq, verify);
            built();
            lender.publish(len)
        }
        None => {
            out.build(seq, verify);
            built();
            ch.send(&out.buf)
        }
    }
}

/// Receives the next message, where it lies on a lending channel, and has
/// `replies` check it; `arrived` runs as soon as it is there.
fn receive_checked(
    ch: &mut dyn Channel,
    back: &mut [u8],
    replies: &mut Verifier,
    arrived: impl FnOnce(),
) -> io::Result<()> {
    let size = back.len();
    match ch.lending() {
        Some(lender) => {
            let msg = lender.take()?;
            arrived();
            replies.check(msg, size);
            lender.release()
        }
        None => {
            let n = ch.recv(back)?;
            arrived();
            replies.check(&back[..n.min(size)], size);
            Ok(())
        }
    }
}

/// A lending channel's next message, at the peer: a data message is
/// echoed as it lies, or checked where it lies and released (None); a
/// control message is copied into `buf` for the usual answer (its length).
fn take_lent(
    lender: &mut dyn Lending,
    buf: &mut [u8],
    echo: bool,
    verifier: &mut Verifier,
) -> io::Result<Option<usize>> {
    let size = buf.len();
    let msg = lender.take()?;
    if parse(msg).is_some_and(|h| h.flags != DATA) {
        let n = msg.len().min(size);
        buf[..n].copy_from_slice(&msg[..n]);
        lender.release()?;
        return Ok(Some(n));
    }
    if echo {
        lender.echo()?;
    } else {
        verifier.check(msg, size);
        lender.release()?;
    }
    Ok(None)
}

/// Gives up when the user or the watchdog asked: a channel that never
/// blocks (a spinning ring) would otherwise not notice.
pub(super) fn stop_if_asked() -> io::Result<()> {
    if crate::sys::interrupt::aborted() {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "aborted"));
    }
    Ok(())
}

/// What checks the messages a channel delivers: their sequence numbers and
/// checksums, or for a channel of bare signals their number.
fn verifier(verify: Verify, ch: &dyn Channel) -> Verifier {
    if ch.carries_payload() {
        Verifier::new(verify)
    } else {
        Verifier::counting()
    }
}

/// Sends a control message and waits for the peer's answer.
fn exchange(
    ch: &mut dyn Channel,
    out: &mut Message,
    back: &mut [u8],
    flags: u32,
    seq: u64,
) -> io::Result<()> {
    out.stamp(flags, seq);
    ch.send_control(&out.buf)?;
    let n = ch.recv(back)?;
    // In a latency case nothing else is in flight; in a throughput case the
    // peer answers only control messages. Anything else is a protocol fault
    // of the transport, reported rather than waited out.
    match parse(&back[..n.min(back.len())]) {
        Some(h) if h.flags == flags => Ok(()),
        _ => Err(io::Error::other(format!(
            "expected the peer's answer to a control message, got {n} bytes of something else"
        ))),
    }
}

/// Sends data message `seq`, or the injected fault in its place. Returns
/// how many sequence numbers it used up (a swap sends two).
fn send_with_fault(
    ch: &mut dyn Channel,
    out: &mut Message,
    seq: u64,
    done: u64,
    inject: Option<Injection>,
) -> io::Result<u64> {
    let fault = inject.filter(|i| i.at == done).map(|i| i.fault);
    out.stamp(DATA, seq);
    match fault {
        // The peer's faults are the peer's to make; a sender's death, the sender's.
        None
        | Some(
            Fault::PeerGarbage
            | Fault::SenderDies
            | Fault::SlowPeer
            | Fault::DiesHolding
            | Fault::Slower,
        ) => ch.send(&out.buf)?,
        Some(Fault::Corrupt) => {
            let last = out.buf.len() - 1;
            out.buf[last] ^= 0x40;
            let sent = ch.send(&out.buf);
            out.buf[last] ^= 0x40;
            sent?
        }
        Some(Fault::Drop) => {}
        Some(Fault::Repeat) => {
            ch.send(&out.buf)?;
            ch.send(&out.buf)?
        }
        Some(Fault::Swap) => {
            out.stamp(DATA, seq + 1);
            ch.send(&out.buf)?;
            out.stamp(DATA, seq);
            ch.send(&out.buf)?;
            return Ok(2);
        }
    }
    Ok(1)
}

/// The faults a serving peer plays for tests; none in a normal run.
#[derive(Clone, Copy, Debug)]
pub struct PeerFaults {
    /// Stall 1 ms every 64 data messages.
    pub slow: bool,
    /// Answer this timed data message with garbage.
    pub garbage_at: Option<u64>,
    /// Take this data message (counted from the first, warm-up included)
    /// where it lies, and die holding it.
    pub dies_holding_at: Option<u64>,
    /// Make each message's cycle this many percent longer.
    pub slower_percent: Option<u64>,
}

/// Peer side: answer what the pattern asks for until END.
pub fn serve(
    ch: &mut dyn Channel,
    pattern: Pattern,
    (size, verify): (usize, Verify),
    faults: PeerFaults,
) -> io::Result<PeerReport> {
    let garbage_at = faults.garbage_at.unwrap_or(u64::MAX);
    let mut buf = zeroed(size)?;
    buf.fill(0x5A);
    let mut verifier = verifier(verify, ch);
    let echo_all = pattern.is_latency();
    let mut tally = Tally::new();
    let mut pacer = Pacer::new(faults);
    loop {
        if crate::sys::interrupt::interrupted() {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the harness is gone",
            ));
        }
        // A peer that is to answer with garbage (a test's fault) answers
        // by copy, where the garbage is made.
        let lending = ch.lending().filter(|_| garbage_at == u64::MAX);
        let timed = tally.timed();
        let n = match lending {
            Some(lender) => {
                if Some(tally.data_seen) == faults.dies_holding_at {
                    die_holding(lender)?;
                }
                match take_lent(lender, &mut buf, echo_all, &mut verifier)? {
                    Some(control) => control,
                    None => {
                        tally.data_seen += 1;
                        pacer.pace(tally.data_seen);
                        pacer.stretch();
                        continue;
                    }
                }
            }
            None => ch.recv(&mut buf)?.min(size),
        };
        let flags = parse(&buf[..n]).map_or(DATA, |h| h.flags);
        let garbage = echo_all && flags == DATA && timed == Some(garbage_at);
        answer(ch, &buf[..n], (flags, echo_all, garbage), &mut pacer)?;
        match flags {
            SYNC => {
                pacer.timed = true;
                tally.sync();
            }
            END => return Ok(tally.report(&buf[..n], echo_all, verifier)),
            _ => {
                tally.data_seen += 1;
                pacer.pace(tally.data_seen);
                if !echo_all {
                    pacer.stretch();
                    verifier.check(&buf[..n], size);
                }
            }
        }
    }
}

/// What the peer has counted: data messages seen, and where the timed
/// part began (at SYNC) in messages, CPU time and wall time.
struct Tally {
    data_seen: u64,
    seen_at_sync: Option<u64>,
    cpu0: Duration,
    t0: Instant,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            data_seen: 0,
            seen_at_sync: None,
            cpu0: process_cpu_time(),
            t0: Instant::now(),
        }
    }

    /// Timed data messages so far; None before SYNC.
    fn timed(&self) -> Option<u64> {
        self.seen_at_sync.map(|s| self.data_seen - s)
    }

    fn sync(&mut self) {
        self.cpu0 = process_cpu_time();
        self.t0 = Instant::now();
        self.seen_at_sync = Some(self.data_seen);
    }

    /// The report at END. In a latency case the parent checks the echoes
    /// (the whole round trip); the echoer stays off the timed path.
    fn report(&self, end: &[u8], echo_all: bool, verifier: Verifier) -> PeerReport {
        let sent = parse(end).map_or(0, |h| h.seq);
        let cpu_ns = process_cpu_time().saturating_sub(self.cpu0).as_nanos() as u64;
        let errors = match echo_all {
            true => ErrorCounts::default(),
            false => verifier.finish(sent),
        };
        PeerReport {
            errors,
            received: self.data_seen - self.seen_at_sync.unwrap_or(0),
            cpu_ns,
            elapsed_ns: Some(self.t0.elapsed().as_nanos() as u64),
            ..PeerReport::default()
        }
    }
}

/// Answers one message as the pattern asks: a control message always, a
/// data message when echoing (or, a test's fault, garbage in its place).
fn answer(
    ch: &mut dyn Channel,
    msg: &[u8],
    (flags, echo_all, garbage): (u32, bool, bool),
    pacer: &mut Pacer,
) -> io::Result<()> {
    if garbage {
        // Test-only: an echo of garbage, header and all.
        let junk: Vec<u8> = (0..msg.len())
            .map(|i| (i as u8).wrapping_mul(37) ^ 0xA5)
            .collect();
        ch.send(&junk)
    } else if flags != DATA {
        ch.send_control(msg)
    } else if echo_all {
        // A stretch after the echo would hide in the other side's
        // wake-up; before it, it lengthens the round trip.
        pacer.stretch();
        ch.send(msg)
    } else {
        Ok(())
    }
}

/// Takes the next message and, holding it, dies (a test's fault): what
/// the sender sees of a receiver that crashed mid-read.
fn die_holding(lender: &mut dyn Lending) -> io::Result<()> {
    lender.take()?;
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL)?;
    unreachable!("SIGKILL cannot be caught")
}

/// How a peer slows itself down for a test: a stall of 1 ms every 64
/// messages, or its median cycle between messages made a share longer
/// than it was over the timed part's first cycles. The share is held by
/// feedback, not added once: on a VM a CPU that spins before it sleeps
/// wakes faster, so a fixed spin can hide in the wake-up it replaces
/// (seen: 15 µs of spin left a 62 µs cross-CPU round trip unchanged). The
/// warm-up cannot be the reference either: its cross-CPU cycle here was
/// 47 µs against the timed part's 62 µs.
struct Pacer {
    slow: bool,
    stretch: Option<f64>,
    /// Set at SYNC: the timed part's cycles are learned, then held.
    timed: bool,
    last: Option<Instant>,
    /// The first timed cycles, whose median sets the target.
    learned: Vec<f64>,
    target_ns: Option<f64>,
    spin_ns: f64,
}

/// Each step of the spin, as a share of the target: about a hundred
/// cycles to settle, and a burst moves it no more than a step.
const STEP: f64 = 0.01;
/// Timed cycles whose median sets the target: a few percent of a short
/// cross-CPU case's, unslowed.
const LEARNED: usize = 256;

impl Pacer {
    fn new(faults: PeerFaults) -> Pacer {
        Pacer {
            slow: faults.slow,
            stretch: faults.slower_percent.map(|p| p as f64 / 100.0),
            timed: false,
            last: None,
            learned: Vec::with_capacity(LEARNED),
            target_ns: None,
            spin_ns: 0.0,
        }
    }

    fn pace(&mut self, data_seen: u64) {
        if self.slow && data_seen.is_multiple_of(64) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Learns the median of the first timed cycles; then spins as long as
    /// holds the median cycle at that times one plus the share.
    fn stretch(&mut self) {
        let Some(share) = self.stretch else { return };
        let now = Instant::now();
        let Some(last) = self.last.replace(now) else {
            return;
        };
        let cycle = (now - last).as_nanos() as f64;
        if !self.timed {
            return;
        }
        if self.learned.len() < LEARNED {
            self.learned.push(cycle);
            return;
        }
        let target = *self.target_ns.get_or_insert_with(|| {
            self.learned.sort_by(f64::total_cmp);
            self.learned[LEARNED / 2] * (1.0 + share)
        });
        self.spin_ns = (self.spin_ns + STEP * target * (target - cycle).signum()).clamp(0.0, 1e7);
        let spin = Duration::from_nanos(self.spin_ns as u64);
        // The clock alone: a pause instruction in the loop would let the
        // hypervisor take the CPU away (pause-loop exiting).
        while now.elapsed() < spin {}
    }
}
