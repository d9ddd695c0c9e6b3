//! The timed part of the `rate` pattern: an open loop.
//!
//! Ping-pong sends the next message only when the previous echo is back, so
//! a stall delays the messages that would have queued behind it and the
//! histogram never sees them (coordinated omission). Here one thread sends
//! message i when it is due, at `start + i / rate` (at once when late), and
//! another receives the echoes; each latency runs from when its message
//! was *due*, so a stall counts against every message it delayed. Neither
//! thread ever waits for the other: the receiver drains echoes whatever the
//! sender's schedule, the sender keeps its schedule whatever comes back.
//! The peer echoes every message, as in ping-pong, and the parent checks
//! every echo's sequence number and checksum.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::case::CaseSpec;
use super::latencies::Latencies;
use super::message::{Message, Verifier, DATA};
use super::workload::stop_if_asked;
use crate::results::{Length, Schedule};
use crate::sys::interrupt;
use crate::transport::{Channel, RecvHalf, SendHalf};

pub struct OpenLoop {
    pub latencies: Latencies,
    /// Timed messages sent (their echoes all came back).
    pub messages: u64,
    /// From the first message's due time to the last echo.
    pub elapsed: Duration,
    pub schedule: Schedule,
}

/// What the sender thread did.
struct Sent {
    messages: u64,
    max_lag: Duration,
}

/// Runs the timed part: messages `first_seq..` at `case.rate_per_s`, then
/// one more that closes it. Echoes are checked by `replies`.
pub fn run(
    ch: &mut dyn Channel,
    case: &CaseSpec,
    first_seq: u64,
    replies: &mut Verifier,
    progress: &AtomicU64,
) -> io::Result<OpenLoop> {
    let rate = case.rate_per_s.unwrap_or(1.0);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let numbered = ch.carries_payload();
    let mut halves = ch.halves()?;
    let margin = wake_up_margin();
    let mut latencies = Latencies::new();
    let shared = Shared::default();
    let mut out = Message::try_new(case.size)?;
    let timing = Timing {
        start: Instant::now(),
        interval,
        first_seq,
    };
    let (sent, received) = std::thread::scope(|s| {
        let send = &mut halves.send;
        let shared = &shared;
        let sender = s.spawn(move || {
            let _kick = interrupt::kick_this_thread_too();
            let _ = nix::sys::prctl::set_timerslack(1);
            timing.sender(case.length, margin, (send, &mut out), shared)
        });
        let received = receive_echoes(
            &mut halves.recv,
            (case.size, numbered),
            replies,
            &timing,
            (&shared.total, &shared.sender_done),
            (&mut latencies, progress),
        );
        shared.receiver_done.store(true, Ordering::SeqCst);
        // A receiver that gave up leaves the sender maybe blocked in a send.
        while received.is_err() && !sender.is_finished() {
            interrupt::abort_case();
            std::thread::sleep(Duration::from_millis(5));
        }
        let sent = sender
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the open loop's sender panicked")));
        (sent, received)
    });
    let closed_at = received?;
    let sent = sent?;
    let elapsed = closed_at - timing.start;
    let end_lag = closed_at.saturating_duration_since(timing.due(sent.messages));
    Ok(OpenLoop {
        latencies,
        messages: sent.messages,
        elapsed,
        schedule: Schedule {
            achieved_per_s: sent.messages as f64 / elapsed.as_secs_f64().max(1e-9),
            max_lag_ns: sent.max_lag.as_nanos() as u64,
            end_lag_ns: end_lag.as_nanos() as u64,
            sustained: end_lag <= tolerance(case.length, interval),
        },
    })
}

/// How far behind its schedule an exchange may end and still have kept
/// up: the last echo may come a round trip late, and a noisy machine
/// stalls for a few ms now and then; a transport past its ceiling falls
/// behind in proportion to the case's length (25 ms of 500 ms here).
fn tolerance(length: Length, interval: Duration) -> Duration {
    let planned = match length {
        Length::Duration(d) => d,
        Length::Iterations(n) => interval.mul_f64(n as f64),
    };
    (planned / 20)
        .max(2 * interval)
        .max(Duration::from_millis(2))
}

/// What the two threads tell each other.
#[derive(Default)]
struct Shared {
    /// Timed messages sent; published before the closing message leaves,
    /// so that its echo finds it.
    total: AtomicU64,
    sender_done: AtomicBool,
    receiver_done: AtomicBool,
}

/// When each message is due.
#[derive(Clone, Copy)]
struct Timing {
    start: Instant,
    interval: Duration,
    first_seq: u64,
}

impl Timing {
    fn due(&self, i: u64) -> Instant {
        self.start + self.interval.mul_f64(i as f64)
    }

    /// The sending thread: every message when due, then the closing one.
    fn sender(
        &self,
        length: Length,
        margin: Duration,
        (send, out): (&mut SendHalf, &mut Message),
        shared: &Shared,
    ) -> io::Result<Sent> {
        let sent = self.send_all(length, margin, send, out);
        let total = sent.as_ref().map_or(0, |s| s.messages);
        shared.total.store(total, Ordering::SeqCst);
        shared.sender_done.store(true, Ordering::SeqCst);
        let closed = sent.and_then(|s| {
            out.stamp(DATA, self.first_seq + s.messages);
            send(&out.buf).map(|()| s)
        });
        // No closing echo will come: get the receiver out of its wait.
        while closed.is_err() && !shared.receiver_done.load(Ordering::SeqCst) {
            interrupt::abort_case();
            std::thread::sleep(Duration::from_millis(5));
        }
        closed
    }

    /// Sends every message when due, until the timed part is over: all
    /// `n` iterations, or the duration on the wall clock (a sender behind
    /// schedule stops then too, with what it managed).
    fn send_all(
        &self,
        length: Length,
        margin: Duration,
        send: &mut SendHalf,
        out: &mut Message,
    ) -> io::Result<Sent> {
        let (mut i, mut max_lag) = (0u64, Duration::ZERO);
        loop {
            let due = self.due(i);
            let over = match length {
                Length::Iterations(n) => i >= n,
                Length::Duration(d) => i > 0 && Instant::now() >= self.start + d,
            };
            if over {
                return Ok(Sent {
                    messages: i,
                    max_lag,
                });
            }
            stop_if_asked()?;
            wait_until(due, margin);
            max_lag = max_lag.max(Instant::now().saturating_duration_since(due));
            out.stamp(DATA, self.first_seq + i);
            send(&out.buf)?;
            i += 1;
        }
    }
}

/// Receives echoes until the sender's closing message comes back,
/// recording each one's latency from when it was due.
fn receive_echoes(
    recv: &mut RecvHalf,
    (size, numbered): (usize, bool),
    replies: &mut Verifier,
    timing: &Timing,
    (total, sender_done): (&AtomicU64, &AtomicBool),
    (latencies, progress): (&mut Latencies, &AtomicU64),
) -> io::Result<Instant> {
    let mut back = super::message::zeroed(size)?;
    let mut got = 0u64;
    loop {
        stop_if_asked()?;
        let n = recv(&mut back)?;
        let now = Instant::now();
        // A channel of bare signals has no sequence number: echoes come
        // back in order, so the count says which message this was.
        let index = match replies.check(&back[..n.min(size)], size) {
            Some(h) => Some(h.seq.wrapping_sub(timing.first_seq)),
            None if !numbered => Some(got),
            // Damaged (and counted so): when it was due is unknown.
            None => None,
        };
        got += 1;
        progress.store(timing.first_seq + got, Ordering::Relaxed);
        // The closing message's echo: its `total` was published before it left.
        let closing = sender_done.load(Ordering::SeqCst) && {
            let total = total.load(Ordering::SeqCst);
            index == Some(total) || got > total
        };
        if closing {
            return Ok(now);
        }
        if let Some(i) = index {
            let late = now.saturating_duration_since(timing.due(i));
            let into = || now.saturating_duration_since(timing.start).as_nanos() as u64;
            latencies.record(late.as_nanos() as u64, into);
        }
    }
}

/// Waits until `due`: sleeps most of the way, then spins the last stretch,
/// since a sleep overshoots by the timer's wake-up delay and the lateness
/// would count against the transport.
fn wait_until(due: Instant, margin: Duration) {
    // In slices, so that a stop request is seen within a few ms even at
    // one message a second.
    loop {
        let now = Instant::now();
        if due <= now + margin || interrupt::aborted() {
            break;
        }
        std::thread::sleep((due - now - margin).min(Duration::from_millis(20)));
    }
    // Yielding at every turn lets the receiving thread, on the same CPU,
    // run the moment an echo wakes it.
    while Instant::now() < due && !interrupt::aborted() {
        std::thread::yield_now();
    }
}

/// How late a short sleep wakes on this machine (the 90th percentile of
/// 20 sleeps of 50 µs, with the timer slack at its minimum), capped at
/// 200 µs: the stretch before a due time that is spun, not slept.
fn wake_up_margin() -> Duration {
    let _ = nix::sys::prctl::set_timerslack(1);
    static MARGIN: OnceLock<Duration> = OnceLock::new();
    *MARGIN.get_or_init(|| {
        let mut late: Vec<Duration> = (0..20)
            .map(|_| {
                let t = Instant::now();
                std::thread::sleep(Duration::from_micros(50));
                t.elapsed().saturating_sub(Duration::from_micros(50))
            })
            .collect();
        late.sort();
        late[17].min(Duration::from_micros(200))
    })
}
