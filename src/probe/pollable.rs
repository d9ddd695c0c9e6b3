//! Whether a receiver can wait for the mechanism in epoll, as every event
//! loop does: its receiving descriptor is handed to epoll_ctl (which says
//! EPERM for a file that cannot be polled), then a message sent to it must
//! make epoll_wait report it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::{Finding, Subject};
use crate::results::probe::Measured;
use crate::results::Wait;
use crate::transport::Object;

/// How long a sent message may take to make its descriptor ready.
const READY_WITHIN: Duration = Duration::from_secs(1);

pub fn probe(s: &Subject) -> Finding {
    let attempt = match s.nature.object {
        Object::Pipe => pipe(),
        Object::Fifo => fifo(),
        Object::UnixStream => socket(SockType::Stream, "a Unix stream socket"),
        Object::UnixSeqpacket => socket(SockType::SeqPacket, "a Unix seqpacket socket"),
        Object::UnixDatagram => socket(SockType::Datagram, "a Unix datagram socket"),
        Object::TcpLoopback => tcp(),
        Object::PosixQueue => queue(),
        Object::PosixSharedMemory => segment(),
        Object::SysvQueue => Ok(no_descriptor("msgget gives an identifier")),
        Object::PosixSemaphore => Ok(no_descriptor("sem_open gives a sem_t pointer")),
        // The fork() channel is a Unix stream socket pair: what libuv waits on.
        Object::NodeChannel(_) => socket(SockType::Stream, "the socket pair under Node's channel"),
        Object::Ring => Ok(ring(s)),
    };
    attempt.unwrap_or_else(|e| Finding::undecided(format!("setting up the experiment: {e}")))
}

fn no_descriptor(what: &str) -> Finding {
    Finding::fact(
        Measured::no(),
        format!("{what}, not a file descriptor: there is nothing to hand to epoll_ctl"),
    )
}

/// Hands `rx` to epoll, checks it is not ready, sends, and sees it ready.
fn readiness(
    rx: BorrowedFd,
    what: &str,
    send: impl FnOnce() -> io::Result<()>,
) -> io::Result<Finding> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    match epoll.add(rx, EpollEvent::new(EpollFlags::EPOLLIN, 0)) {
        Err(Errno::EPERM) => {
            return Ok(Finding::no(format!(
                "epoll_ctl(EPOLL_CTL_ADD) on the receiving descriptor of {what}: EPERM, it cannot be polled"
            )))
        }
        other => other?,
    }
    let mut events = [EpollEvent::empty()];
    if epoll.wait(&mut events, EpollTimeout::ZERO)? != 0 {
        return Ok(Finding::undecided(format!(
            "{what} was ready before anything was sent"
        )));
    }
    send()?;
    let within = EpollTimeout::try_from(READY_WITHIN).map_err(|_| io::Error::other("timeout"))?;
    Ok(match epoll.wait(&mut events, within)? {
        0 => Finding::undecided(format!(
            "epoll_ctl took the receiving descriptor of {what}, but epoll_wait saw nothing within {READY_WITHIN:?} of a send"
        )),
        _ => Finding::yes(format!(
            "epoll_ctl(EPOLL_CTL_ADD) took the receiving descriptor of {what}, and epoll_wait reported EPOLLIN once a message was sent"
        )),
    })
}

fn pipe() -> io::Result<Finding> {
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    readiness(rx.as_fd(), "a pipe", || {
        nix::unistd::write(&tx, b"x").map(drop).map_err(Into::into)
    })
}

fn fifo() -> io::Result<Finding> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let dir = super::helper::private_dir()?;
    let path = dir.path().join("fifo");
    nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)?;
    // The read end first and non-blocking, so neither open waits.
    let rx = open(
        &path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let tx = open(&path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    readiness(rx.as_fd(), "a FIFO", || {
        nix::unistd::write(&tx, b"x").map(drop).map_err(Into::into)
    })
}

fn socket(kind: SockType, what: &str) -> io::Result<Finding> {
    let (rx, tx) = socketpair(AddressFamily::Unix, kind, None, SockFlag::SOCK_CLOEXEC)?;
    readiness(rx.as_fd(), what, || {
        nix::unistd::write(&tx, b"x").map(drop).map_err(Into::into)
    })
}

fn tcp() -> io::Result<Finding> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut tx = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (rx, _) = listener.accept()?;
    readiness(rx.as_fd(), "a loopback TCP connection", || {
        tx.write_all(b"x")
    })
}

fn queue() -> io::Result<Finding> {
    use nix::mqueue::{mq_open, mq_send, mq_unlink, MQ_OFlag, MqAttr};
    use nix::sys::stat::Mode;
    let name = format!("/{}", super::helper::unique("poll"));
    let attr = MqAttr::new(0, 1, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_CLOEXEC;
    let q = mq_open(
        name.as_str(),
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        Some(&attr),
    )?;
    let _ = mq_unlink(name.as_str());
    let found = readiness(q.as_fd(), "a POSIX queue", || {
        mq_send(&q, b"x", 0).map_err(Into::into)
    });
    let _ = nix::mqueue::mq_close(q);
    found
}

/// The bare segment: a descriptor, of a tmpfs file, which epoll refuses.
fn segment() -> io::Result<Finding> {
    use nix::fcntl::OFlag;
    use nix::sys::mman::{shm_open, shm_unlink};
    use nix::sys::stat::Mode;
    let name = format!("/{}", super::helper::unique("poll"));
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    let fd = shm_open(name.as_str(), flags, Mode::S_IRUSR | Mode::S_IWUSR)?;
    let _ = shm_unlink(name.as_str());
    // Nothing is ever "sent" to a segment: a write to it is the closest.
    readiness(fd.as_fd(), "a shm_open segment", || {
        nix::unistd::write(&fd, b"x").map(drop).map_err(Into::into)
    })
}

/// A ring is ipcbench's protocol: its own receive, asked to wait in epoll.
fn ring(s: &Subject) -> Finding {
    let Some(t) = s.transport else {
        return Finding::undecided("a ring with no transport to try");
    };
    match t.wait_refused(Wait::Epoll) {
        Some(why) => Finding::fact(Measured::no(), why),
        None => super::channel::waits_in_epoll(t),
    }
}
