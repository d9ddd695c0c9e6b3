//! How a receiver waits for its next message, written once for every
//! transport (the `--waits` axis). A transport supplies two calls, one that
//! returns at once (None: nothing yet) and its blocking one, and its
//! descriptor when it has one; the strategy decides how to go between them.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::results::Wait;
use crate::sys::interrupt::{aborted, retry};
use crate::sys::uring::{Op, Ring};

/// How long a `hybrid` receive spins before it blocks: about a round trip
/// of the fastest kernel transports here, so a busy exchange never sleeps
/// and an idle one stops burning the CPU at once.
pub const HYBRID_SPIN: Duration = Duration::from_micros(50);
/// A spinning receiver gives its CPU away every this many empty polls, so
/// a peer pinned to the same CPU can run (on its own CPU the yield returns
/// at once), and sees whether the case was stopped.
const YIELD_EVERY: u32 = 16;

/// A receiver's way of waiting, with what it needs: an epoll instance
/// watching its descriptor, or an io_uring.
pub enum Waiter {
    Block,
    Spin,
    Hybrid,
    Epoll(Epoll),
    IoUring(Box<Ring>),
}

impl Waiter {
    /// For a receiver without a descriptor (a System V object, a futex):
    /// only the ways that need none.
    pub fn without_fd(wait: Wait) -> io::Result<Waiter> {
        match wait {
            Wait::Block => Ok(Waiter::Block),
            Wait::Spin => Ok(Waiter::Spin),
            Wait::Hybrid => Ok(Waiter::Hybrid),
            Wait::Epoll | Wait::IoUring => Err(super::unsupported(format!(
                "{wait} waits on a descriptor, and this receiver has none"
            ))),
        }
    }

    /// For a receiver of `fd`: epoll watches it; io_uring gets a ring.
    /// Making `fd` non-blocking, where the way needs it, is the caller's.
    pub fn on_fd(wait: Wait, fd: BorrowedFd) -> io::Result<Waiter> {
        match wait {
            Wait::Epoll => {
                let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
                let watch = EpollEvent::new(EpollFlags::EPOLLIN, 0);
                epoll.add(fd, watch).map_err(|e| match e {
                    Errno::EPERM => super::unsupported(
                        "epoll_ctl: EPERM: this descriptor cannot be polled".into(),
                    ),
                    e => e.into(),
                })?;
                Ok(Waiter::Epoll(epoll))
            }
            Wait::IoUring => Ring::new().map(|r| Waiter::IoUring(Box::new(r))),
            other => Waiter::without_fd(other),
        }
    }

    /// Whether the receiver's descriptor must not block: every way but
    /// `block` and `io-uring` tries before it waits.
    pub fn needs_nonblocking(&self) -> bool {
        !matches!(self, Waiter::Block | Waiter::IoUring(_))
    }

    /// One receive: `attempt` returns at once (None when nothing is there
    /// yet), `blocking` sleeps until something is.
    pub fn receive<T>(
        &mut self,
        mut attempt: impl FnMut() -> io::Result<Option<T>>,
        mut blocking: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        match self {
            Waiter::Block | Waiter::IoUring(_) => blocking(),
            Waiter::Spin | Waiter::Hybrid => {
                // Only a hybrid's spin runs out; then it blocks.
                let budget = matches!(self, Waiter::Hybrid).then_some(HYBRID_SPIN);
                match spin(&mut attempt, budget)? {
                    Some(v) => Ok(v),
                    None => blocking(),
                }
            }
            Waiter::Epoll(epoll) => loop {
                // As an event loop: wait for readiness, then receive.
                let mut events = [EpollEvent::empty()];
                retry(|| epoll.wait(&mut events, EpollTimeout::NONE))?;
                if let Some(v) = attempt()? {
                    return Ok(v);
                }
            },
        }
    }

    /// One receive from a descriptor with `call` (a `read`, a `recv`,
    /// an `mq_receive`); `uring` is how io_uring would do it, if it can.
    /// The descriptor is non-blocking for every way but `block` and
    /// `io-uring` (`needs_nonblocking`), so `call` then returns at once.
    pub fn receive_fd(
        &mut self,
        fd: BorrowedFd,
        uring: Option<Op>,
        buf: &mut [u8],
        mut call: impl FnMut(&mut [u8]) -> nix::Result<usize>,
    ) -> io::Result<usize> {
        match self {
            Waiter::Block => retry(|| call(buf)),
            Waiter::IoUring(ring) => match uring {
                Some(op) => ring.receive(op, fd, buf),
                None => Err(super::unsupported(
                    "io_uring has no operation for this receive".into(),
                )),
            },
            _ => {
                let state = std::cell::RefCell::new((buf, call));
                let once = || {
                    let (buf, call) = &mut *state.borrow_mut();
                    nonblocking(call(buf))
                };
                self.receive(once, || loop {
                    readable(fd)?;
                    if let Some(n) = once()? {
                        return Ok(n);
                    }
                })
            }
        }
    }
}

/// Calls `attempt` until it yields or `budget` runs out (None: never).
fn spin<T>(
    attempt: &mut impl FnMut() -> io::Result<Option<T>>,
    budget: Option<Duration>,
) -> io::Result<Option<T>> {
    // The clock is read only once a poll came back empty: a message that
    // is already there costs no clock read (~20 ns, on both sides of a
    // round trip).
    let mut start: Option<Instant> = None;
    let mut empty: u32 = 0;
    loop {
        if let Some(v) = attempt()? {
            return Ok(Some(v));
        }
        empty = empty.wrapping_add(1);
        if budget.is_some() && start.is_none() {
            start = Some(Instant::now());
        }
        if !empty.is_multiple_of(YIELD_EVERY) {
            std::hint::spin_loop();
            continue;
        }
        if aborted() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "aborted"));
        }
        if budget.zip(start).is_some_and(|(b, s)| s.elapsed() >= b) {
            return Ok(None);
        }
        std::thread::yield_now();
    }
}

/// A non-blocking call's result: EAGAIN (and an EINTR nobody asked for)
/// is "nothing yet".
pub fn nonblocking<T>(result: nix::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Errno::EAGAIN) => Ok(None),
        Err(Errno::EINTR) if !aborted() => Ok(None),
        Err(Errno::EINTR) => Err(io::Error::new(io::ErrorKind::Interrupted, "aborted")),
        Err(e) => Err(e.into()),
    }
}

/// Sleeps until `fd` has something to read (or its peer hung up).
pub fn readable(fd: BorrowedFd) -> io::Result<()> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    retry(|| poll(&mut fds, PollTimeout::NONE)).map(drop)
}

/// Sleeps until `fd` has room to write: a send on a descriptor that a
/// non-blocking receiver shares (a socket's one description) waits so.
pub fn writable(fd: BorrowedFd) -> io::Result<()> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    retry(|| poll(&mut fds, PollTimeout::NONE)).map(drop)
}

/// Sets or clears O_NONBLOCK on `fd`'s open file description (which a
/// socket's duplicate for sending shares: its sends wait with `writable`).
pub fn set_nonblocking(fd: BorrowedFd, on: bool) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    let flags = if on {
        flags | OFlag::O_NONBLOCK
    } else {
        flags - OFlag::O_NONBLOCK
    };
    fcntl(fd, FcntlArg::F_SETFL(flags))?;
    Ok(())
}

/// Whether this machine lets a receiver wait as `wait` at all: io_uring
/// may be disabled by the kernel or a sysctl.
pub fn available(wait: Wait) -> io::Result<()> {
    match wait {
        Wait::IoUring => Ring::new().map(drop),
        _ => Ok(()),
    }
}

/// What a receiver of a descriptor that epoll and io_uring take (a pipe,
/// FIFO, socket or eventfd) refuses: nothing.
pub fn on_descriptor(_: Wait) -> Option<&'static str> {
    None
}

/// What a receiver without a descriptor (a System V object, a semaphore,
/// a futex) refuses.
pub fn without_descriptor(wait: Wait) -> Option<&'static str> {
    match wait {
        Wait::Block | Wait::Spin | Wait::Hybrid => None,
        Wait::Epoll => Some("it has no descriptor for epoll to watch: only pipes, FIFOs, sockets, eventfd and POSIX queues are pollable"),
        Wait::IoUring => Some("io_uring has no operation that receives from it, and no descriptor to poll"),
    }
}
