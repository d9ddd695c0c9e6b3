//! Blocking calls that can be abandoned.
//!
//! A transport blocks in the kernel (read, recv, mq_receive, sem_wait, ...)
//! until its peer answers. When the peer dies or hangs, or the user presses
//! Ctrl-C, the harness must get its thread back. It does so the classic way:
//! signal handlers installed without `SA_RESTART`, so the blocked call returns
//! `EINTR`, and [`retry`] turns that `EINTR` into an error only when an abort
//! was actually requested (any other `EINTR` is retried).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::sys::pthread::{pthread_kill, pthread_self, Pthread};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Set when the current case must stop (peer died, timed out).
static CASE_ABORTED: AtomicBool = AtomicBool::new(false);
/// Set by SIGINT/SIGTERM: the whole run must stop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static MAIN_THREAD: OnceLock<Pthread> = OnceLock::new();
/// Other threads of the current case that block in transport calls (the
/// open loop's sender).
static CASE_THREADS: Mutex<Vec<Pthread>> = Mutex::new(Vec::new());

extern "C" fn on_stop_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_wake_signal(_: libc::c_int) {}

extern "C" fn on_orphaned(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // A backstop: should the peer not get out of its blocking call, the
    // default SIGALRM action ends it in two seconds.
    // SAFETY: alarm is async-signal-safe.
    unsafe { libc::alarm(2) };
}

/// For the peer process: SIGTERM, its parent-death signal, asks it to clean
/// up what the dead harness cannot and exit.
pub fn install_peer() -> nix::Result<()> {
    let orphaned = SigAction::new(
        SigHandler::Handler(on_orphaned),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler stores to an atomic and calls alarm, both
    // async-signal-safe.
    unsafe { sigaction(Signal::SIGTERM, &orphaned) }.map(drop)
}

/// Installs the handlers. Call once, from the thread that runs the cases.
pub fn install() -> nix::Result<()> {
    let _ = MAIN_THREAD.set(pthread_self());
    let stop = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let wake = SigAction::new(
        SigHandler::Handler(on_wake_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: both handlers only store to an atomic (or do nothing), which is
    // async-signal-safe, and they replace no handler anyone else relies on.
    unsafe {
        sigaction(Signal::SIGINT, &stop)?;
        sigaction(Signal::SIGTERM, &stop)?;
        sigaction(Signal::SIGUSR1, &wake)?;
    }
    Ok(())
}

/// Keeps SIGINT/SIGTERM/SIGUSR1 away from helper threads, so that the kernel
/// delivers them to the thread blocked in a transport call.
pub fn block_in_this_thread() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGUSR1);
    let _ = set.thread_block();
}

/// True once the user asked the run to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// True when the current case (or the whole run) must stop.
pub fn aborted() -> bool {
    CASE_ABORTED.load(Ordering::SeqCst) || interrupted()
}

/// Asks the case thread to give up, and kicks it out of a blocking call.
/// Safe to call repeatedly: a signal that lands between two system calls is
/// lost, so the watchdog keeps calling this until the case thread is back.
pub fn abort_case() {
    CASE_ABORTED.store(true, Ordering::SeqCst);
    if let Some(main) = MAIN_THREAD.get() {
        let _ = pthread_kill(*main, Signal::SIGUSR1);
    }
    for t in CASE_THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        let _ = pthread_kill(*t, Signal::SIGUSR1);
    }
}

/// Makes [`abort_case`] kick the calling thread too, until the guard is
/// dropped (before the thread ends: a finished thread's id may be reused).
pub fn kick_this_thread_too() -> KickGuard {
    let me = pthread_self();
    CASE_THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(me);
    KickGuard(me)
}

pub struct KickGuard(Pthread);

impl Drop for KickGuard {
    fn drop(&mut self) {
        CASE_THREADS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t| *t != self.0);
    }
}

/// Clears a previous case's abort before the next case starts.
pub fn reset_case() {
    CASE_ABORTED.store(false, Ordering::SeqCst);
}

/// Runs a blocking system call, retrying spurious `EINTR` but returning
/// `ErrorKind::Interrupted` once an abort has been requested.
pub fn retry<T>(mut call: impl FnMut() -> nix::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(nix::errno::Errno::EINTR) if !aborted() => continue,
            Err(nix::errno::Errno::EINTR) => {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "aborted"))
            }
            Err(e) => return Err(e.into()),
            Ok(v) => return Ok(v),
        }
    }
}
