//! The physical limits every transport is bounded by, measured on the CPUs
//! a run uses: how fast two processes can hand over a cache line (the floor
//! of any cross-CPU transport), a futex wake-up across CPUs (the floor of
//! any transport that sleeps), a context switch on one CPU (the floor of
//! any same-CPU round trip), and memcpy on one core (the ceiling of any
//! transport that copies).
//!
//! The two-process limits fork a child that shares one page with the
//! parent; it dies with the parent (PR_SET_PDEATHSIG), so a killed run
//! leaves nothing behind.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use crate::results::{Floor, Floors};
use crate::sys::mapping::Mapping;
use crate::sys::{affinity, futex};

/// Words of the shared page, each on its own cache line but `PING` and
/// `PONG`, which share one: the cache-line round trip moves that line.
const PING: usize = 0;
const PONG: usize = 8;
const WAKE_PING: usize = 64;
const WAKE_PONG: usize = 128;
const STOP: usize = 192;

/// Why a limit was not measured; the result file's notes carry its words.
#[derive(Debug, thiserror::Error)]
enum Unmeasured {
    #[error("{call}: {errno}")]
    Call {
        call: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("pinning to CPU {cpu}: {error}")]
    Pinning {
        cpu: usize,
        error: nix::errno::Errno,
    },
    #[error("the measuring child (pid {child}) did not exit within {} s of being told to stop: killed", within.as_secs())]
    ChildStuck {
        child: nix::unistd::Pid,
        within: Duration,
    },
    #[error("no answer to round trip {0} within a second")]
    NoAnswer(u32),
    #[error("no round trip was timed")]
    NothingTimed,
    #[error("allocating {0} bytes: out of memory")]
    NoMemory(usize),
    #[error("interrupted")]
    Interrupted,
}

fn call(call: &'static str) -> impl FnOnce(nix::errno::Errno) -> Unmeasured {
    move |errno| Unmeasured::Call { call, errno }
}

/// How a handover is made: by spinning on the line, or by sleeping on a
/// futex until woken.
#[derive(Clone, Copy)]
enum Handover {
    Spin,
    Sleep,
}

/// Measures every limit on `cpus` (`same` on the first, `cross` on both)
/// and memcpy at each of `sizes`. A limit that could not be measured is
/// left out with the reason in `notes`.
pub fn measure(cpus: (usize, usize), sizes: &[u64]) -> Floors {
    let mut floors = Floors {
        cpus: vec![cpus.0, cpus.1],
        ..Floors::default()
    };
    let mut notes = Vec::new();
    let note = |what: &str, e: Unmeasured| format!("{what} not measured: {e}");
    let cross = cpus.0 != cpus.1;
    if cross {
        match round_trips(cpus, Handover::Spin, 20_000) {
            Ok(f) => floors.cache_line_rtt_ns = Some(f),
            Err(e) => notes.push(note("cache-line round trip", e)),
        }
        match round_trips(cpus, Handover::Sleep, 2_000) {
            Ok(f) => floors.futex_wake_rtt_ns = Some(f),
            Err(e) => notes.push(note("futex wake-up round trip", e)),
        }
    } else {
        notes.push("the cross-CPU limits need two CPUs; this run has one".into());
    }
    match round_trips((cpus.0, cpus.0), Handover::Sleep, 5_000) {
        Ok(f) => floors.context_switch_rtt_ns = Some(f),
        Err(e) => notes.push(note("same-CPU context switch", e)),
    }
    for &size in sizes.iter().filter(|s| **s > 0) {
        // Stopped: no more buffers to allocate and fill, one note for all.
        if crate::sys::interrupt::interrupted() {
            notes.push("memcpy not measured at every size: interrupted".into());
            break;
        }
        match mib_per_s(cpus.0, size as usize, Work::Copy) {
            Ok(rate) => floors.memcpy_mib_per_s.push((size, rate)),
            Err(e) => notes.push(note(&format!("memcpy of {size} bytes"), e)),
        }
        match mib_per_s(cpus.0, size as usize, Work::Checksum) {
            Ok(rate) => floors.crc32c_mib_per_s.push((size, rate)),
            Err(e) => notes.push(note(&format!("CRC32C of {size} bytes"), e)),
        }
    }
    floors.notes = notes;
    floors
}

/// Round trips between this process on `a` and a forked child on `b`.
fn round_trips((a, b): (usize, usize), how: Handover, count: usize) -> Result<Floor, Unmeasured> {
    let fd = nix::sys::memfd::memfd_create(c"ipcbench-floor", nix::sys::memfd::MFdFlags::empty())
        .map_err(call("memfd_create"))?;
    nix::unistd::ftruncate(&fd, 4096).map_err(call("ftruncate"))?;
    let page = Mapping::map_fd(&fd, 4096).map_err(call("mmap"))?;
    let restore = affinity::allowed_cpus();
    affinity::pin_to(&[a]).map_err(|error| Unmeasured::Pinning { cpu: a, error })?;
    // SAFETY: the child only pins itself, runs `echo` (atomics and futex
    // system calls on the shared page, no allocation, no lock) and leaves
    // with _exit, so nothing another thread held at the fork is touched.
    let child = match unsafe { fork() } {
        Err(e) => return Err(call("fork")(e)),
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
            let _ = affinity::pin_to(&[b]);
            echo(&page, how);
            // SAFETY: _exit ends the child without running the parent's
            // destructors or atexit handlers, which are not the child's.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    let timed = drive(&page, how, count);
    tell_child_to_stop(&page, how);
    let reaped = reap_within(child, CHILD_EXIT_WITHIN);
    let _ = affinity::pin_to(&restore);
    match (timed, reaped) {
        (Ok(f), Ok(())) => Ok(f),
        (Ok(_), Err(e)) | (Err(e), _) => Err(e),
    }
}

/// Raises STOP and changes the word the child sleeps on: a child that read
/// STOP = 0 just before the store then finds the word moved and does not
/// sleep, so the wake-up cannot be lost.
fn tell_child_to_stop(page: &Mapping, how: Handover) {
    page.atomic_u32(STOP).store(1, Ordering::Release);
    let ping = ping_word(page, how);
    ping.fetch_add(1, Ordering::Release);
    futex::wake(ping, 1);
}

fn ping_word(page: &Mapping, how: Handover) -> &std::sync::atomic::AtomicU32 {
    match how {
        Handover::Spin => page.atomic_u32(PING),
        Handover::Sleep => page.atomic_u32(WAKE_PING),
    }
}

/// How long the child may take to leave once told to stop; it has nothing
/// left to do, so more means it is stuck.
const CHILD_EXIT_WITHIN: Duration = Duration::from_secs(2);

/// Reaps the forked `child`; one that has not exited within `limit` (or
/// soon after Ctrl-C) is killed and reaped, and that is the error.
fn reap_within(child: nix::unistd::Pid, limit: Duration) -> Result<(), Unmeasured> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus};
    let exited = crate::sys::process::exits_within(limit, || {
        !matches!(
            waitpid(child, Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::StillAlive)
        )
    });
    if exited {
        return Ok(());
    }
    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(child, None);
    Err(Unmeasured::ChildStuck {
        child,
        within: limit,
    })
}

/// The child's side: answer every ping with the same number.
fn echo(page: &Mapping, how: Handover) {
    let word = |offset| page.atomic_u32(offset);
    let (ping, pong) = match how {
        Handover::Spin => (word(PING), word(PONG)),
        Handover::Sleep => (word(WAKE_PING), word(WAKE_PONG)),
    };
    let mut seen = 0;
    while word(STOP).load(Ordering::Acquire) == 0 {
        let now = ping.load(Ordering::Acquire);
        if now == seen {
            match how {
                Handover::Spin => std::hint::spin_loop(),
                // Bounded, so that even a lost wake-up costs 100 ms, never
                // the run: the loop looks at STOP again.
                Handover::Sleep => {
                    let _ = futex::wait_at_most(ping, seen, Duration::from_millis(100));
                }
            }
            continue;
        }
        seen = now;
        pong.store(now, Ordering::Release);
        if let Handover::Sleep = how {
            futex::wake(pong, 1);
        }
    }
}

/// Batches of round trips a limit is measured in; it is the best batch's:
/// a limit is what the machine can do, and a shared host's contention,
/// which comes and goes within a second, only ever adds to it.
const BATCHES: usize = 5;

/// The parent's side: `count` timed round trips in batches, after a tenth
/// as many untimed ones; gives up when the child stops answering for a
/// second.
fn drive(page: &Mapping, how: Handover, count: usize) -> Result<Floor, Unmeasured> {
    let word = |offset| page.atomic_u32(offset);
    let (ping, pong) = match how {
        Handover::Spin => (word(PING), word(PONG)),
        Handover::Sleep => (word(WAKE_PING), word(WAKE_PONG)),
    };
    let per_batch = (count / BATCHES).max(1);
    let mut times = Vec::with_capacity(count);
    let mut best: Option<Floor> = None;
    for i in 1..=(count / 10 + per_batch * BATCHES) as u32 {
        let start = Instant::now();
        ping.store(i, Ordering::Release);
        if let Handover::Sleep = how {
            futex::wake(ping, 1);
        }
        let mut spins = 0u32;
        loop {
            let now = pong.load(Ordering::Acquire);
            if now == i {
                break;
            }
            spins = spins.wrapping_add(1);
            // A spinner reads the clock rarely, so as not to slow the
            // handover; a sleeper wakes at least every 100 ms to look.
            if matches!(how, Handover::Sleep) || spins.is_multiple_of(4096) {
                if crate::sys::interrupt::interrupted() {
                    return Err(Unmeasured::Interrupted);
                }
                if start.elapsed() > Duration::from_secs(1) {
                    return Err(Unmeasured::NoAnswer(i));
                }
            }
            match how {
                Handover::Spin => std::hint::spin_loop(),
                Handover::Sleep => {
                    let _ = futex::wait_at_most(pong, now, Duration::from_millis(100));
                }
            }
        }
        let took = start.elapsed().as_nanos() as u64;
        if i as usize > count / 10 {
            times.push(took);
        }
        if times.len() == per_batch {
            let batch = percentiles(&mut times);
            if best.is_none_or(|b| batch.p50 < b.p50) {
                best = Some(batch);
            }
            times.clear();
        }
    }
    best.ok_or(Unmeasured::NothingTimed)
}

fn percentiles(times: &mut [u64]) -> Floor {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    Floor {
        p50: at(0.50),
        p99: at(0.99),
        samples: times.len() as u64,
    }
}

/// What is done to each message-sized buffer.
#[derive(Clone, Copy)]
enum Work {
    /// memcpy into another buffer: what a transport does per copy.
    Copy,
    /// CRC32C of every byte: what full verification does per message.
    Checksum,
}

/// Bytes copied (or checksummed) per second, `size` at a time, on one core,
/// over about 20 ms after a warm-up. Fails when the buffers cannot be had
/// (`ulimit -v`) or the user stops the run.
fn mib_per_s(cpu: usize, size: usize, work: Work) -> Result<f64, Unmeasured> {
    let src = buffer(size, 0x5a)?;
    let mut dst = buffer(size, 0)?;
    let restore = affinity::allowed_cpus();
    let _ = affinity::pin_to(&[cpu]);
    let mut copy_for = |d: Duration| {
        let start = Instant::now();
        let mut copies = 0u64;
        // The stop flag is read between batches: one 64 MiB batch is the
        // longest, well under a second.
        while start.elapsed() < d && !crate::sys::interrupt::interrupted() {
            for _ in 0..8 {
                match work {
                    Work::Copy => dst.copy_from_slice(std::hint::black_box(&src)),
                    Work::Checksum => dst[0] = crc32c::crc32c(std::hint::black_box(&src)) as u8,
                }
                std::hint::black_box(&mut dst);
            }
            copies += 8;
        }
        (copies, start.elapsed())
    };
    copy_for(Duration::from_millis(5));
    let (copies, took) = copy_for(Duration::from_millis(20));
    let _ = affinity::pin_to(&restore);
    if crate::sys::interrupt::interrupted() {
        return Err(Unmeasured::Interrupted);
    }
    Ok((copies * size as u64) as f64 / took.as_secs_f64() / (1u64 << 20) as f64)
}

/// `size` bytes of `fill`, or why they could not be allocated.
fn buffer(size: usize, fill: u8) -> Result<Vec<u8>, Unmeasured> {
    let mut v = Vec::new();
    v.try_reserve_exact(size)
        .map_err(|_| Unmeasured::NoMemory(size))?;
    v.resize(size, fill);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a measurement raced the child into a futex sleep that
    /// nothing woke (issue 22): 300 short measurements, each of which must
    /// end, child reaped, well within 20 s.
    #[test]
    fn the_limits_never_hang() {
        let _one_at_a_time = crate::FORKING.lock();
        let cpus = affinity::allowed_cpus();
        let (a, b) = (cpus[0], *cpus.get(1).unwrap_or(&cpus[0]));
        // As `measure` does: the spin across CPUs, the sleep across and on
        // one CPU (where the waker is often preempted by the woken).
        let kinds = [
            ((a, b), Handover::Spin),
            ((a, b), Handover::Sleep),
            ((a, a), Handover::Sleep),
        ];
        // Busy threads make the scheduler preempt at every wake-up, which
        // opens the window the lost wake-up needed.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hogs: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for round in 0..300 {
            let (pair, how) = kinds[round % kinds.len()];
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(round_trips(pair, how, 50)));
            let outcome = rx.recv_timeout(Duration::from_secs(20));
            assert!(matches!(outcome, Ok(Ok(_))), "round {round}: {outcome:?}");
        }
        stop.store(true, Ordering::Relaxed);
        hogs.into_iter().for_each(|h| h.join().unwrap());
    }

    /// The lost wake-up itself, made certain: the child has read STOP = 0
    /// and the word, then the stop comes, then it sleeps on what it read.
    #[test]
    fn a_stop_between_the_check_and_the_sleep_is_not_lost() {
        let fd =
            nix::sys::memfd::memfd_create(c"test", nix::sys::memfd::MFdFlags::empty()).unwrap();
        nix::unistd::ftruncate(&fd, 4096).unwrap();
        let page = Mapping::map_fd(&fd, 4096).unwrap();
        let ping = ping_word(&page, Handover::Sleep);
        assert_eq!(page.atomic_u32(STOP).load(Ordering::Acquire), 0);
        let seen = ping.load(Ordering::Acquire);
        tell_child_to_stop(&page, Handover::Sleep);
        let start = Instant::now();
        futex::wait_at_most(ping, seen, Duration::from_secs(5)).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the sleeper was not told"
        );
    }

    #[test]
    fn a_buffer_that_cannot_be_had_is_an_error_not_an_abort() {
        let e = buffer(usize::MAX / 2, 0).unwrap_err();
        assert!(
            matches!(e, Unmeasured::NoMemory(n) if n == usize::MAX / 2),
            "{e}"
        );
    }
}
