//! Connectionless, one rule for every row, in two parts, each tried by a
//! second process that inherited nothing:
//! - **connectionless** (the claimed column): with a receiver present, the
//!   sender delivers one message using only the object's name or address,
//!   in calls that need nothing from the receiver (no connect/accept, no
//!   open that waits for the other end). Y when the message arrives; N when
//!   the sender's call is refused (the errno is the evidence).
//! - **kept without receiver**: with no receiver present, the sender sends
//!   by name and exits; a receiver that comes later finds the message.
//!
//! Objects reached by name or key are tried the strict way (the sender
//! creates the object itself and leaves before anyone opens it), which
//! proves both parts at once when the message is found.

use super::{call, Stuck};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::helper::{run_helper, unique, unique_key, Action, Nameless, UnixKind, SHM_LEN, STORED};
use super::{errno_sign, Finding, Subject};
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::sysv::{MsgQueue, Segment, SemSet};
use crate::transport::{Object, Reach};

/// (connectionless, kept without receiver)
pub fn probe(s: &Subject) -> (Finding, Finding) {
    let dir = match super::helper::private_dir() {
        Ok(d) => d,
        Err(e) => {
            let why = format!("no private directory: {e}");
            return (Finding::undecided(&why), Finding::undecided(why));
        }
    };
    match (s.nature.reach, s.nature.object) {
        (Reach::Inherited, object) => inherited(object),
        (Reach::Path, Object::Fifo) => (fifo_present(dir.path()), fifo_absent(dir.path())),
        (Reach::Path, object) => sockets_by_path(object, dir.path()),
        (Reach::Port, _) => tcp(),
        (Reach::Name | Reach::Key, object) => {
            let f = left_by_name(s.nature.reach, object);
            (both_parts(&f), f)
        }
    }
}

/// A sender that created the object by name and left before any receiver
/// came reached it with no handshake at all: part one follows from part two.
fn both_parts(kept: &Finding) -> Finding {
    let verdict = kept.measured.clone();
    Finding::new(
        verdict,
        format!(
            "the sender needed no receiver at all (see kept without receiver): {}",
            kept.evidence
        ),
    )
}

/// What the experiment makes of `object`, named as the report says it, or
/// why the object is not one that is reached by inheritance.
fn nameless(object: Object) -> Result<(&'static str, Nameless), Stuck> {
    match object {
        Object::Pipe => Ok(("pipe", Nameless::Pipe)),
        Object::Ring => Ok(("memfd", Nameless::Memfd)),
        Object::UnixStream | Object::UnixDatagram | Object::UnixSeqpacket => {
            Ok(("socketpair", Nameless::Socketpair))
        }
        Object::Fifo
        | Object::TcpLoopback
        | Object::PosixQueue
        | Object::SysvQueue
        | Object::PosixSemaphore
        | Object::PosixSharedMemory
        | Object::NodeChannel(_) => Err(Stuck::Saw(format!(
            "{object:?} is not reached by inheritance"
        ))),
    }
}

/// An object of this kind for the experiment, held by this process.
fn inherited_object(made: Nameless, object: Object) -> Result<OwnedFd, Stuck> {
    match made {
        Nameless::Pipe => nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map(|(r, _w)| r)
            .map_err(call("pipe2")),
        Nameless::Memfd => {
            nix::sys::memfd::memfd_create("probe", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(call("memfd_create"))
        }
        Nameless::Socketpair => super::semantics::fresh_sockets(object).map(|(a, _b)| a),
    }
}

/// An inherited object has no name of its own: the kernel calls it
/// `pipe:[inode]`, `socket:[inode]` or `/memfd:… (deleted)`. A process that
/// inherited nothing is given that name and tries to open it; a process
/// that made one, wrote into it and exited leaves a path that opens nothing.
fn inherited(object: Object) -> (Finding, Finding) {
    let (kind, made) = match nameless(object) {
        Ok(made) => made,
        Err(why) => return (Finding::undecided(why.to_string()), Finding::undecided(why)),
    };
    let present = match inherited_object(made, object) {
        Ok(fd) => {
            let name = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let seen = run_helper(&Action::OpenPath { path: name.clone() });
            match errno_sign(&seen) {
                Some(e) => Finding::no(format!("the receiver holds the {kind}; its only name is the kernel's '{name}', and a process that inherited nothing, opening that name, got {e}: it is reached only by inheritance (or SCM_RIGHTS)")),
                None => Finding::undecided(format!("opening '{name}' from a process that inherited nothing: {seen}")),
            }
        }
        Err(e) => Finding::undecided(e),
    };
    let left = run_helper(&Action::InheritedLeave { kind: made });
    let absent = if left.starts_with("/proc/") {
        match nix::fcntl::open(left.as_str(), OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty()) {
            Err(e) => Finding::no(format!("a process made a {kind}, wrote a message into it and exited; afterwards its descriptor's path {left} gives {e:?}: the object, and the message, went with the last process that held it")),
            Ok(_) => Finding::undecided(format!("{left} still opened after its process exited")),
        }
    } else {
        Finding::undecided(format!(
            "the sending process could not make a {kind}: {left}"
        ))
    };
    (present, absent)
}

fn fifo_present(dir: &Path) -> Finding {
    let p = dir.join("present.fifo");
    if let Err(e) = nix::unistd::mkfifo(&p, Mode::S_IRUSR | Mode::S_IWUSR) {
        return Finding::undecided(format!("mkfifo: {e}"));
    }
    let reader = match nix::fcntl::open(&p, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty()) {
        Ok(r) => r,
        Err(e) => return Finding::undecided(format!("opening the reading end: {e}")),
    };
    let seen = run_helper(&Action::FifoWrite {
        path: p.to_string_lossy().into(),
    });
    let mut buf = [0u8; 64];
    let got = nix::unistd::read(&reader, &mut buf).map(|n| &buf[..n] == STORED);
    match (seen.as_str(), got) {
        ("ok", Ok(true)) => Finding::yes("with a reader holding the FIFO open, a process that inherited nothing opened it by path (O_WRONLY|O_NONBLOCK returned at once, nothing waited for the reader) and wrote; the reader got the message"),
        (e, _) if errno_sign(e).is_some() => Finding::no(format!("with a reader holding the FIFO open, opening it by path and writing gave {e}")),
        (seen, got) => Finding::undecided(format!("writer: {seen}, reader: {got:?}")),
    }
}

fn fifo_absent(dir: &Path) -> Finding {
    let p = dir.join("absent.fifo");
    if let Err(e) = nix::unistd::mkfifo(&p, Mode::S_IRUSR | Mode::S_IWUSR) {
        return Finding::undecided(format!("mkfifo: {e}"));
    }
    let seen = run_helper(&Action::FifoWrite {
        path: p.to_string_lossy().into(),
    });
    match errno_sign(&seen) {
        Some(e) => Finding::no(format!("with no process holding the FIFO for reading, a writer opening it by path got {e} (O_NONBLOCK; a blocking open waits until a reader opens it): nothing can be left in it")),
        None => Finding::undecided(format!("opening a FIFO with no reader for writing: {seen}")),
    }
}

/// Unix sockets by path: tried with a receiver bound at the path, and with
/// the path left behind by a receiver that has gone.
fn sockets_by_path(object: Object, dir: &Path) -> (Finding, Finding) {
    let (kind, unix) = match super::semantics::socket_type(object) {
        Ok(nix::sys::socket::SockType::Datagram) => ("datagram", UnixKind::Datagram),
        Ok(nix::sys::socket::SockType::SeqPacket) => ("seqpacket", UnixKind::SeqPacket),
        Ok(_) => ("stream", UnixKind::Stream),
        Err(e) => return (Finding::undecided(e.to_string()), Finding::undecided(e)),
    };
    let send = |path: &Path| Action::SendTo {
        kind: unix,
        path: path.to_string_lossy().into(),
    };
    // A datagram sender reaches a path by sending; the others connect.
    let reach = |path: &Path| match unix {
        UnixKind::Datagram => send(path),
        UnixKind::Stream | UnixKind::SeqPacket => Action::Connect {
            kind: unix,
            path: path.to_string_lossy().into(),
        },
    };
    let live = dir.join("present.sock");
    let present = match bind(object, &live) {
        Ok(receiver) => {
            let seen = run_helper(&send(&live));
            let got = received(&receiver);
            match (errno_sign(&seen), got) {
                (None, true) if seen == "ok" => Finding::yes(format!("with a {kind} receiver bound at a path, a process that inherited nothing sent with sendto() to the path, no connect; the receiver got the message")),
                (Some(e), _) => Finding::no(format!("with a {kind} receiver bound (and listening) at a path, sendto() to the path without connect gave {e}: a connect/accept handshake comes first")),
                _ => Finding::undecided(format!("sendto() by path: {seen}, received: {got}")),
            }
        }
        Err(e) => Finding::undecided(format!("binding the receiver: {e}")),
    };
    let stale = dir.join("gone.sock");
    let absent = match bind(object, &stale) {
        Ok(receiver) => {
            drop(receiver);
            let seen = run_helper(&reach(&stale));
            match errno_sign(&seen) {
                Some(e) => Finding::no(format!("the receiver bound a path and went away; a sender reaching for the path got {e}: nothing is kept for a later receiver")),
                None => Finding::undecided(format!("sending to a path whose receiver has gone: {seen}")),
            }
        }
        Err(e) => Finding::undecided(format!("binding the receiver: {e}")),
    };
    (present, absent)
}

fn bind(object: Object, path: &Path) -> Result<OwnedFd, Stuck> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
    };
    let kind = super::semantics::socket_type(object)?;
    let fd = socket(
        AddressFamily::Unix,
        kind,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    bind(fd.as_raw_fd(), &addr)?;
    if kind != SockType::Datagram {
        listen(&fd, Backlog::new(1)?)?;
    }
    Ok(fd)
}

/// Whether a bound datagram receiver holds the stored message (stream
/// listeners never do: nothing arrives without a connection).
fn received(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 64];
    nix::sys::socket::recv(
        fd.as_raw_fd(),
        &mut buf,
        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
    )
    .is_ok_and(|n| &buf[..n] == STORED)
}

fn tcp() -> (Finding, Finding) {
    let present = match std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)) {
        Ok(listener) => {
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            let seen = run_helper(&Action::TcpSendTo { port });
            match errno_sign(&seen) {
                Some(e) => Finding::no(format!("with a receiver listening on a loopback port, sendto() to the port without connect gave {e}: TCP's handshake comes first")),
                None => Finding::undecided(format!("sendto() to a listening port: {seen}")),
            }
        }
        Err(e) => Finding::undecided(format!("bind: {e}")),
    };
    // A port that was just listened on and closed: no receiver is there.
    let closed = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port());
    let absent = match closed {
        Ok(port) => {
            let seen = run_helper(&Action::TcpConnect { port });
            match errno_sign(&seen) {
                Some(e) => Finding::no(format!(
                    "with no receiver on the port, a sender's connect got {e}: nothing is kept"
                )),
                None => Finding::undecided(format!("connecting to a closed port: {seen}")),
            }
        }
        Err(e) => Finding::undecided(format!("bind: {e}")),
    };
    (present, absent)
}

/// The strict test for objects with a name or key: a process that
/// inherited nothing creates the object, leaves a message and exits before
/// anyone else has opened it; then we open it the same way.
fn left_by_name(reach: Reach, object: Object) -> Finding {
    match (reach, object) {
        (Reach::Name, Object::PosixQueue) => posix_queue(),
        (Reach::Key, Object::SysvQueue) => sysv_queue(),
        (Reach::Name, Object::PosixSemaphore) => posix_semaphore(),
        (Reach::Name, Object::PosixSharedMemory) => posix_segment(),
        // ipcbench's bounded buffer by name: its segment and semaphores.
        (Reach::Name, Object::Ring) => all_of(posix_segment(), posix_semaphore()),
        (Reach::Key, Object::Ring) => all_of(sysv_segment(), sysv_semaphore()),
        (reach, object) => Finding::undecided(format!(
            "no experiment for a {object:?} reached by {reach:?}"
        )),
    }
}

fn posix_queue() -> Finding {
    use nix::mqueue::{mq_open, mq_receive, mq_unlink, MQ_OFlag};
    let name = format!("/{}", unique("mq"));
    let left = run_helper(&Action::MqLeave { name: name.clone() });
    let got = mq_open(
        name.as_str(),
        MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK,
        Mode::empty(),
        None,
    )
    .and_then(|q| {
        let mut buf = vec![0u8; 64];
        mq_receive(&q, &mut buf, &mut 0).map(|n| buf[..n] == *STORED)
    });
    let _ = mq_unlink(name.as_str());
    store_and_forward("POSIX queue by name", &left, got)
}

fn sysv_queue() -> Finding {
    let key = unique_key();
    let left = run_helper(&Action::SysvMqLeave { key });
    let got = MsgQueue::open_keyed(key).and_then(|q| {
        if left != "ok" {
            return Ok(false);
        }
        let mut buf = vec![0u8; 8 + 64];
        // The message is there or the queue is empty: recv would then block,
        // so look only when the sender said it left one.
        q.recv(&mut buf, 0).map(|n| buf[8..8 + n] == *STORED)
    });
    store_and_forward("System V queue by key", &left, got)
}

fn posix_semaphore() -> Finding {
    let sem = format!("/{}", unique("sem"));
    let posted = run_helper(&Action::SemLeave { name: sem.clone() });
    let taken = NamedSemaphore::open(&sem).and_then(|s| s.try_wait());
    let _ = crate::sys::posix_sem::unlink(&sem);
    store_and_forward(
        "POSIX semaphore by name (a post is its message)",
        &posted,
        taken,
    )
}

fn posix_segment() -> Finding {
    let name = format!("/{}", unique("shm"));
    let left = run_helper(&Action::ShmLeave { name: name.clone() });
    let got =
        nix::sys::mman::shm_open(name.as_str(), OFlag::O_RDONLY, Mode::empty()).and_then(|fd| {
            let mut buf = [0u8; 6];
            nix::unistd::read(&fd, &mut buf).map(|_| buf == *STORED)
        });
    let _ = nix::sys::mman::shm_unlink(name.as_str());
    store_and_forward("POSIX segment by name", &left, got)
}

fn sysv_segment() -> Finding {
    let key = unique_key();
    let left = run_helper(&Action::SysvShmLeave { key });
    let got = Segment::keyed(key, SHM_LEN, false).map(|seg| {
        let _ = seg.mark_for_removal();
        let mut buf = [0u8; 6];
        seg.into_map().read(0, &mut buf);
        buf == *STORED
    });
    store_and_forward("System V segment by key", &left, got)
}

fn sysv_semaphore() -> Finding {
    let key = unique_key();
    let posted = run_helper(&Action::SysvSemLeave { key });
    let taken = SemSet::open_keyed(key).and_then(|s| s.try_wait(0));
    store_and_forward(
        "System V semaphore by key (a post is its message)",
        &posted,
        taken,
    )
}

/// A process created the object by name, left something in it and exited;
/// did we, opening it by name afterwards, find it?
fn store_and_forward(what: &str, left: &str, got: nix::Result<bool>) -> Finding {
    match (left, got) {
        ("ok", Ok(true)) => Finding::yes(format!(
            "a process that inherited nothing created the {what}, left a message and exited before any receiver existed; opened the same way afterwards, the message was there"
        )),
        ("ok", Ok(false)) => Finding::no(format!("the {what} was found but the message was not in it")),
        ("ok", Err(e)) => Finding::no(format!("the {what} left by another process could not be opened: {e}")),
        (why, _) => Finding::undecided(format!("the sending process could not create the {what}: {why}")),
    }
}

/// Both objects of a protocol must keep their message for the protocol to.
fn all_of(a: Finding, b: Finding) -> Finding {
    let measured = if a.measured == b.measured {
        a.measured
    } else {
        crate::results::probe::Measured::undecided()
    };
    Finding::new(measured, format!("{}; {}", a.evidence, b.evidence))
}
