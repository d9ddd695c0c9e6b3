//! Watches the peer while the case thread is busy measuring.
//!
//! The peer speaks on its stdout (the control pipe): `ready`, then one JSON
//! line, either its report or `{"error": ...}`. End of file before the report
//! means the peer died; a case whose message count has not moved for the
//! timeout hangs, and its peer is killed.
//! Either way the case thread is kicked out of whatever call it blocks in.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;

use super::workload::PeerReport;
use crate::results::failure::PeerFailure;
use crate::sys::interrupt;

#[derive(Debug)]
pub enum Event {
    Ready,
    Report(PeerReport),
    /// The peer said what went wrong before exiting.
    PeerError(PeerFailure),
    /// The control pipe closed before a report: the peer is gone.
    Closed,
    TimedOut,
}

pub struct Watchdog {
    events: mpsc::Receiver<Event>,
    case_over: Arc<AtomicBool>,
    exit_expected: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// `progress` is the case's message count, which the case thread bumps;
    /// the peer is declared hung when it stands still for `timeout`.
    pub fn start(
        control: OwnedFd,
        peer: Pid,
        progress: Arc<AtomicU64>,
        timeout: Duration,
    ) -> Watchdog {
        let (tx, events) = mpsc::channel();
        let case_over = Arc::new(AtomicBool::new(false));
        let over = case_over.clone();
        let exit_expected = Arc::new(AtomicBool::new(false));
        let expected = exit_expected.clone();
        let stalled = Arc::new(AtomicBool::new(false));
        let stall_seen = stalled.clone();
        let thread = std::thread::spawn(move || {
            interrupt::block_in_this_thread();
            let must_abort = match watch(&control, peer, &progress, timeout, &tx, &stall_seen) {
                End::Reported => false,
                // A death the case caused: keep watching the case for a stall.
                End::PeerGone if expected.load(Ordering::SeqCst) => {
                    stalls(&progress, timeout, &over, &stall_seen)
                }
                End::PeerGone | End::Hung => true,
            };
            if must_abort {
                // A signal landing between two system calls is lost, so keep
                // kicking until the case thread says it is back.
                while !over.load(Ordering::SeqCst) {
                    interrupt::abort_case();
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        Watchdog {
            events,
            case_over,
            exit_expected,
            stalled,
            thread: Some(thread),
        }
    }

    /// True once the case's progress stood still for the timeout. Set
    /// before the peer is killed and the case thread kicked, so an error
    /// that the kill causes (EPIPE) is still known as a stall.
    pub fn stalled(&self) -> bool {
        self.stalled.load(Ordering::SeqCst)
    }

    /// The case is about to end the peer itself: its death is an
    /// observation, not a reason to abort (a hang still is).
    pub fn expect_peer_exit(&self) {
        self.exit_expected.store(true, Ordering::SeqCst);
    }

    /// Waits for an event the case needs (`Ready` or the report), giving up
    /// when the run is interrupted or the case aborted: in a case of several
    /// peers, another's watchdog may have seen its peer die while this one's
    /// still waits.
    pub fn next(&self) -> Option<Event> {
        loop {
            match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(e) => return Some(e),
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) if interrupt::aborted() => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Everything the watchdog saw that the case did not consume.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Ends the watch once the peer has been reaped.
    pub fn finish(mut self) -> Vec<Event> {
        self.case_over.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.drain()
    }
}

/// Tells a case that has stood still for the timeout from one that moves.
struct Stall<'a> {
    progress: &'a AtomicU64,
    timeout: Duration,
    seen: u64,
    moved_at: Instant,
}

impl<'a> Stall<'a> {
    fn new(progress: &'a AtomicU64, timeout: Duration) -> Self {
        Stall {
            progress,
            timeout,
            seen: progress.load(Ordering::Relaxed),
            moved_at: Instant::now(),
        }
    }

    /// True once the message count has not moved for the timeout.
    fn hung(&mut self) -> bool {
        let now = self.progress.load(Ordering::Relaxed);
        if now != self.seen {
            self.seen = now;
            self.moved_at = Instant::now();
        }
        self.moved_at.elapsed() >= self.timeout
    }
}

/// Waits until the case is over (false) or its progress has stood still
/// for `timeout` (true, and `stalled` raised).
fn stalls(
    progress: &AtomicU64,
    timeout: Duration,
    over: &AtomicBool,
    stalled: &AtomicBool,
) -> bool {
    let mut stall = Stall::new(progress, timeout);
    while !over.load(Ordering::SeqCst) {
        if stall.hung() {
            stalled.store(true, Ordering::SeqCst);
            return true;
        }
        std::thread::sleep(timeout.min(Duration::from_millis(10)));
    }
    false
}

/// Why the watch ended.
enum End {
    /// The peer reported and closed the control pipe.
    Reported,
    /// The control pipe closed before a report.
    PeerGone,
    /// No progress for the timeout; the peer was killed.
    Hung,
}

fn watch(
    control: &OwnedFd,
    peer: Pid,
    progress: &AtomicU64,
    timeout: Duration,
    tx: &mpsc::Sender<Event>,
    stalled: &AtomicBool,
) -> End {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut reported = false;
    let mut stall = Stall::new(progress, timeout);
    let tick = timeout.min(Duration::from_millis(100));
    loop {
        if stall.hung() {
            stalled.store(true, Ordering::SeqCst);
            let _ = tx.send(Event::TimedOut);
            // The whole group: a peer program's own children (a Node child) too.
            crate::sys::kill_group(peer.as_raw() as u32);
            return End::Hung;
        }
        let mut fds = [PollFd::new(control.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(tick.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) if reported => return End::Reported,
            Err(_) => return End::PeerGone,
            Ok(_) => {}
        }
        let n = match nix::unistd::read(control, &mut chunk) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => 0,
        };
        if n == 0 {
            if reported {
                return End::Reported;
            }
            let _ = tx.send(Event::Closed);
            return End::PeerGone;
        }
        pending.extend_from_slice(&chunk[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            // A peer that times itself says how far it got.
            if let Some(n) = line.strip_prefix("progress ").and_then(|n| n.parse().ok()) {
                progress.store(n, Ordering::Relaxed);
                continue;
            }
            let event = if line == "ready" {
                Event::Ready
            } else if let Ok(r) = serde_json::from_str::<PeerReport>(line) {
                reported = true;
                Event::Report(r)
            } else if let Ok(f) = serde_json::from_str::<PeerFailure>(line) {
                Event::PeerError(f)
            } else {
                Event::PeerError(PeerFailure::run(format!(
                    "unexpected line from peer: {line}"
                )))
            };
            let _ = tx.send(event);
        }
    }
}
