//! Message boundaries, the largest message, one channel for both
//! directions, and descriptor passing. For a kernel object these are
//! properties of the object, tried on a fresh one with both of its ends in
//! this process; for a row with a protocol on top, on the transport's own
//! channel (`channel.rs`).

use super::{call, Stuck};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{mq_close, mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag, MqAttr};
use nix::sys::socket::{
    recv, send, sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use nix::sys::stat::Mode;

use super::helper::unique;
use super::{channel, Finding, Subject};
use crate::results::probe::{Measured, Property};
use crate::sys::fd_passing::{recv_fd, send_fd};
use crate::sys::limits::{dev_shm_free, dev_shm_size, sysctl};
use crate::sys::mapping::Mapping;
use crate::sys::posix_sem::NamedSemaphore;
use crate::transport::Object;

pub fn probe(s: &Subject) -> Vec<(Property, Finding)> {
    let on_channel = s.nature.protocol.and(s.transport);
    let (boundaries, largest, both_ways) = match on_channel {
        Some(t) => (
            channel::boundaries(t),
            channel::largest(t),
            channel::both_ways(t),
        ),
        None => {
            let o = s.nature.object;
            (boundaries(o), max_message(o), bidirectional(o))
        }
    };
    vec![
        (Property::PreservesBoundaries, boundaries),
        (Property::MaxMessageBytes, largest),
        (Property::Bidirectional, both_ways),
        (Property::FdPassing, fd_passing(s.nature.object)),
    ]
}

/// Both ends of a fresh pipe, or of a fresh FIFO for `Object::Fifo`.
pub fn fresh_pipe(object: Object) -> Result<(OwnedFd, OwnedFd), Stuck> {
    if object != Object::Fifo {
        return nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(call("pipe2"));
    }
    let dir = super::helper::private_dir()?;
    let path = dir.path().join("probe.fifo");
    nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(call("mkfifo"))?;
    let open = |flags| nix::fcntl::open(&path, flags | OFlag::O_CLOEXEC, Mode::empty());
    let r = open(OFlag::O_RDONLY | OFlag::O_NONBLOCK).map_err(call("open"))?;
    let w = open(OFlag::O_WRONLY).map_err(call("open"))?;
    Ok((r, w))
}

/// A connected pair of the object's socket type (a TCP connection over
/// loopback for `TcpLoopback`).
pub fn fresh_sockets(object: Object) -> Result<(OwnedFd, OwnedFd), Stuck> {
    if object == Object::TcpLoopback {
        return tcp_pair()
            .map(|(a, b)| (a.into(), b.into()))
            .map_err(super::io_call("a TCP pair"));
    }
    socketpair(
        AddressFamily::Unix,
        socket_type(object)?,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(call("socketpair"))
}

/// The Unix socket type of a kind of object; every kind is named, so a new
/// one is never taken for a stream socket by default.
pub fn socket_type(object: Object) -> Result<SockType, Stuck> {
    match object {
        Object::UnixStream => Ok(SockType::Stream),
        Object::UnixDatagram => Ok(SockType::Datagram),
        Object::UnixSeqpacket => Ok(SockType::SeqPacket),
        Object::Pipe
        | Object::Fifo
        | Object::TcpLoopback
        | Object::PosixQueue
        | Object::SysvQueue
        | Object::PosixSemaphore
        | Object::PosixSharedMemory
        | Object::Ring
        | Object::NodeChannel(_) => Err(Stuck::Saw(format!("{object:?} is not a Unix socket"))),
    }
}

/// Sends 100 then 200 bytes, then reads once with a 4 KiB buffer.
fn boundaries(object: Object) -> Finding {
    let first = |n: Result<usize, Stuck>| {
        match n {
        Ok(100) => Finding::yes("sent 100 then 200 bytes; one read with a 4 KiB buffer returned 100: each message is delivered whole and alone"),
        Ok(300) => Finding::no("sent 100 then 200 bytes; one read with a 4 KiB buffer returned 300: the two messages ran together"),
        Ok(n) => Finding::undecided(format!("sent 100 then 200 bytes; the first read returned {n}")),
        Err(e) => Finding::undecided(e),
    }
    };
    let mut buf = [0u8; 4096];
    match object {
        Object::Pipe | Object::Fifo => first((|| -> Result<usize, Stuck> {
            let (r, w) = fresh_pipe(object)?;
            for n in [100, 200] {
                nix::unistd::write(&w, &vec![1u8; n])?;
            }
            Ok(nix::unistd::read(&r, &mut buf)?)
        })()),
        Object::UnixStream | Object::TcpLoopback | Object::UnixDatagram | Object::UnixSeqpacket => first((|| -> Result<usize, Stuck> {
            let (a, b) = fresh_sockets(object)?;
            for n in [100, 200] {
                send(a.as_raw_fd(), &vec![1u8; n], MsgFlags::empty())?;
            }
            // Both sends are in before the read (TCP delivers on loopback at once).
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(recv(b.as_raw_fd(), &mut buf, MsgFlags::empty())?)
        })()),
        Object::PosixQueue => first(with_mq(4096, |q| {
            mq_send(q, &[1; 100], 0).and_then(|_| mq_send(q, &[1; 200], 0))?;
            mq_receive(q, &mut buf, &mut 0)
        })),
        Object::SysvQueue => first((|| -> Result<usize, Stuck> {
            let q = super::helper::PrivateQueue::create()?;
            for n in [100, 200] {
                let mut msg = 1i64.to_ne_bytes().to_vec();
                msg.extend(std::iter::repeat_n(1u8, n));
                q.send(&msg)?;
            }
            let mut rbuf = vec![0u8; 8 + 4096];
            Ok(q.recv(&mut rbuf, 0)?)
        })()),
        Object::PosixSharedMemory => Finding::fact(Measured::no(), "a segment has no receive call: a reader copies bytes at offsets it chooses, and nothing in the segment marks where one message ends"),
        Object::PosixSemaphore => Finding::fact(Measured::not_applicable(), "a semaphore carries no data, so there is nothing to delimit"),
        Object::Ring => Finding::undecided("a ring with no transport to try"),
        Object::NodeChannel(_) => Finding::undecided(super::node::ELSEWHERE),
    }
}

/// A POSIX queue of one message of `size`, for the experiment in `f`.
pub(super) fn with_mq<T, E: Into<Stuck>>(
    size: i64,
    f: impl FnOnce(&nix::mqueue::MqdT) -> Result<T, E>,
) -> Result<T, Stuck> {
    let name = format!("/{}", unique("mq"));
    let attr = MqAttr::new(0, 4, size, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK;
    let q = mq_open(
        name.as_str(),
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        Some(&attr),
    );
    let _ = mq_unlink(name.as_str());
    let q = q.map_err(call("mq_open"))?;
    let out = f(&q).map_err(Into::into);
    let _ = mq_close(q);
    out
}

/// The largest n in [lo, hi] for which `fits(n)` holds (fits(lo) must).
fn largest(mut lo: usize, mut hi: usize, fits: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

const CEILING: usize = 64 << 20;

fn max_message(object: Object) -> Finding {
    match object {
        Object::Pipe | Object::Fifo | Object::UnixStream | Object::TcpLoopback => stream_write(object),
        Object::UnixDatagram | Object::UnixSeqpacket => {
            let (a, b) = match fresh_sockets(object) {
                Ok(pair) => pair,
                Err(e) => return Finding::undecided(e),
            };
            // Each try is received at once, so the queue never fills.
            let fits = |n: usize| {
                send(a.as_raw_fd(), &vec![0u8; n], MsgFlags::MSG_DONTWAIT).is_ok()
                    && recv(b.as_raw_fd(), &mut vec![0u8; n], MsgFlags::MSG_DONTWAIT).is_ok()
            };
            if fits(CEILING) {
                return Finding::no("a 64 MiB message was accepted: no limit found");
            }
            let n = largest(1, CEILING, fits);
            let refused = send(a.as_raw_fd(), &vec![0u8; n + 1], MsgFlags::MSG_DONTWAIT).err();
            Finding::new(Measured::Number(n as u64), format!("binary search on a fresh socket pair: {n} bytes accepted, {} refused with {refused:?} (bounded by the send buffer SO_SNDBUF, net.core.wmem_default = {})", n + 1, sysctl("net.core.wmem_default").map_or("?".into(), |v| v.to_string())))
        }
        Object::PosixQueue => {
            let fits = |n: usize| with_mq(n as i64, |_| Ok::<(), Stuck>(())).is_ok();
            if !fits(1) {
                return Finding::undecided("mq_open refused even 1-byte messages");
            }
            let n = largest(1, CEILING, fits);
            let refused = with_mq(n as i64 + 1, |_| Ok::<(), Stuck>(()))
                .err()
                .map_or(String::new(), |e| format!("with {}-byte messages, {e}", n + 1));
            Finding::new(Measured::Number(n as u64), format!("binary search over mq_open's message size: {n} bytes accepted; {refused} (fs.mqueue.msgsize_max = {}; above it, EINVAL without CAP_SYS_RESOURCE)", sysctl("fs.mqueue.msgsize_max").map_or("?".into(), |v| v.to_string())))
        }
        Object::SysvQueue => {
            let Ok(q) = super::helper::PrivateQueue::create() else {
                return Finding::undecided("msgget failed");
            };
            let attempt = |n: usize| {
                let mut msg = vec![0u8; 8 + n];
                msg[..8].copy_from_slice(&1i64.to_ne_bytes());
                q.send_flags(&msg, libc::IPC_NOWAIT)?;
                q.recv(&mut vec![0u8; 8 + n], 0).map(drop)
            };
            let n = largest(1, 1 << 20, |n| attempt(n).is_ok());
            let refused = attempt(n + 1).err();
            Finding::new(Measured::Number(n as u64), format!("binary search with msgsnd: {n} bytes accepted, {} refused with {refused:?} (kernel.msgmax = {})", n + 1, sysctl("kernel.msgmax").map_or("?".into(), |v| v.to_string())))
        }
        Object::PosixSharedMemory => match dev_shm_size() {
            Some(size) => Finding::setting(Measured::Number(size), format!("a POSIX segment (and so a message in it) is bounded by the size of the tmpfs behind /dev/shm: {size} bytes ({} free now)", dev_shm_free().unwrap_or(0))),
            None => Finding::undecided("statvfs(/dev/shm) failed"),
        },
        Object::PosixSemaphore => Finding::fact(Measured::not_applicable(), "a semaphore carries no data: it has no message size (n/a, not a limit of 0)"),
        Object::Ring => Finding::undecided("a ring with no transport to try"),
        Object::NodeChannel(_) => Finding::undecided(super::node::ELSEWHERE),
    }
}

/// A byte stream has no message: a large non-blocking write is taken in part.
fn stream_write(object: Object) -> Finding {
    let taken = (|| -> Result<usize, Stuck> {
        let (_keep, fd) = match object {
            Object::Pipe | Object::Fifo => fresh_pipe(object)?,
            Object::UnixStream | Object::TcpLoopback => fresh_sockets(object)?,
            Object::UnixDatagram
            | Object::UnixSeqpacket
            | Object::PosixQueue
            | Object::SysvQueue
            | Object::PosixSemaphore
            | Object::PosixSharedMemory
            | Object::Ring
            | Object::NodeChannel(_) => {
                return Err(Stuck::Saw(format!("{object:?} is not a byte stream")))
            }
        };
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(nix::unistd::write(&fd, &vec![0u8; 1 << 20])?)
    })();
    match taken {
        Ok(n) if n < 1 << 20 => Finding::no(format!("a byte stream has no message size: a non-blocking 1 MiB write took {n} bytes (what the buffer had room for) and leaves the rest to the caller; blocking writes of any size complete in pieces")),
        Ok(n) => Finding::no(format!("a byte stream has no message size: a non-blocking 1 MiB write took all {n} bytes")),
        Err(e) => Finding::undecided(e),
    }
}

fn bidirectional(object: Object) -> Finding {
    match object {
        Object::Pipe | Object::Fifo => match fresh_pipe(object) {
            Ok((r, _w)) => match nix::unistd::write(&r, b"back") {
                Err(Errno::EBADF) => Finding::no("writing on the read end fails with EBADF: one direction per pipe (and per FIFO end); two are needed for a conversation"),
                other => Finding::undecided(format!("writing on the read end gave {other:?}")),
            },
            Err(e) => Finding::undecided(e),
        },
        Object::UnixStream | Object::TcpLoopback | Object::UnixDatagram | Object::UnixSeqpacket => match fresh_sockets(object) {
            Ok((a, b)) => {
                let go = |x: &OwnedFd, y: &OwnedFd| {
                    let mut buf = [0u8; 8];
                    send(x.as_raw_fd(), b"x", MsgFlags::empty()).is_ok()
                        && recv(y.as_raw_fd(), &mut buf, MsgFlags::empty()).is_ok()
                };
                match (go(&a, &b), go(&b, &a)) {
                    (true, true) => Finding::yes("one connected pair carried a message each way"),
                    (there, back) => Finding::undecided(format!("there: {there}, back: {back}")),
                }
            }
            Err(e) => Finding::undecided(e),
        },
        Object::PosixQueue => match with_mq(64, |q| {
            mq_send(q, b"mine", 0)?;
            let mut buf = [0u8; 64];
            mq_receive(q, &mut buf, &mut 0)
        }) {
            Ok(4) => Finding::no("a process that sends and then receives on one queue gets its own message back: a queue has no addressing, so two are needed"),
            other => Finding::undecided(format!("send then receive on one queue: {other:?}")),
        },
        Object::SysvQueue => sysv_both_ways(),
        Object::PosixSharedMemory => shared_both_ways(),
        Object::PosixSemaphore => {
            let name = format!("/{}", unique("sem"));
            let taken = NamedSemaphore::create(&name, 0).and_then(|s| {
                let _ = crate::sys::posix_sem::unlink(&name);
                s.post()?;
                s.try_wait()
            });
            match taken {
                Ok(true) => Finding::no("a process posted and then took its own post back: a semaphore has no direction, so a conversation needs two"),
                other => Finding::undecided(format!("post then try_wait on one semaphore: {other:?}")),
            }
        }
        Object::Ring => Finding::undecided("a ring with no transport to try"),
        Object::NodeChannel(_) => Finding::undecided(super::node::ELSEWHERE),
    }
}

/// One System V queue, types as directions: type 1 one way, 2 the other.
fn sysv_both_ways() -> Finding {
    let outcome = (|| -> nix::Result<(usize, usize)> {
        let q = super::helper::PrivateQueue::create()?;
        for (kind, text) in [(1i64, b"there"), (2i64, b"back!")] {
            let mut msg = kind.to_ne_bytes().to_vec();
            msg.extend_from_slice(text);
            q.send(&msg)?;
        }
        let mut buf = vec![0u8; 8 + 64];
        let back = q.recv(&mut buf, 2)?;
        let back_ok = &buf[8..8 + back] == b"back!";
        let there = q.recv(&mut buf, 1)?;
        let there_ok = &buf[8..8 + there] == b"there";
        Ok((usize::from(back_ok), usize::from(there_ok)))
    })();
    match outcome {
        Ok((1, 1)) => Finding::yes("on one queue, a message of type 1 and one of type 2 were sent; msgrcv for type 2 took only the second and for type 1 only the first: types address the two directions"),
        other => Finding::undecided(format!("two types on one queue: {other:?}")),
    }
}

/// Two mappings of one segment, each writing where the other reads.
fn shared_both_ways() -> Finding {
    let fd = match nix::sys::memfd::memfd_create("probe", nix::sys::memfd::MFdFlags::MFD_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => return Finding::undecided(format!("memfd_create: {e}")),
    };
    let maps = nix::unistd::ftruncate(&fd, 4096)
        .and_then(|_| Ok((Mapping::map_fd(&fd, 4096)?, Mapping::map_fd(&fd, 4096)?)));
    match maps {
        Ok((a, b)) => {
            a.write(0, b"there");
            b.write(64, b"back!");
            let (mut x, mut y) = ([0u8; 5], [0u8; 5]);
            b.read(0, &mut x);
            a.read(64, &mut y);
            Finding::flag(&x == b"there" && &y == b"back!", "two read-write shared mappings of one segment: each wrote where the other read, and each read what the other wrote")
        }
        Err(e) => Finding::undecided(format!("mapping: {e}")),
    }
}

fn fd_passing(object: Object) -> Finding {
    match object {
        Object::UnixStream | Object::UnixDatagram | Object::UnixSeqpacket | Object::TcpLoopback => {
            let what = match object {
                Object::TcpLoopback => "a loopback TCP connection".to_string(),
                o => format!("a Unix {o:?} socket pair"),
            };
            match fresh_sockets(object).and_then(|(a, b)| pass_fd_over(a, b)) {
                Ok(()) => Finding::yes(format!("sent a pipe's write end with SCM_RIGHTS over {what}; the received descriptor wrote into the pipe, and the bytes came out of it")),
                Err(e @ Stuck::Call { call: "sendmsg", .. }) => Finding::no(format!("sendmsg with SCM_RIGHTS over {what}: {e}; descriptors travel only over Unix sockets")),
                Err(Stuck::NoDescriptor) => Finding::no(format!("sendmsg with SCM_RIGHTS over {what} succeeded and its byte arrived, but no descriptor came with it: the kernel dropped it without an error")),
                Err(e) => Finding::undecided(e),
            }
        }
        Object::Pipe | Object::Fifo => match fresh_pipe(object) {
            Ok((_r, w)) => {
                let fds = [w.as_raw_fd()];
                let cmsg = [ControlMessage::ScmRights(&fds)];
                match sendmsg::<()>(w.as_raw_fd(), &[IoSlice::new(b"x")], &cmsg, MsgFlags::empty(), None) {
                    Err(e) => Finding::no(format!("sendmsg with SCM_RIGHTS on a pipe: {e:?}; descriptors travel only over Unix sockets")),
                    Ok(_) => Finding::undecided("sendmsg on a pipe succeeded"),
                }
            }
            Err(e) => Finding::undecided(e),
        },
        Object::PosixQueue | Object::SysvQueue => Finding::fact(Measured::no(), "mq_send and msgsnd carry bytes only; no call takes descriptors"),
        Object::NodeChannel(_) => Finding::undecided(super::node::ELSEWHERE),
        Object::PosixSharedMemory | Object::Ring => Finding::fact(Measured::no(), "a descriptor number written to shared memory means nothing in the other process; only SCM_RIGHTS (or pidfd_getfd) transfers one"),
        Object::PosixSemaphore => Finding::fact(Measured::no(), "a semaphore carries no data"),
    }
}

fn tcp_pair() -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    let a = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (b, _) = listener.accept()?;
    Ok((a, b))
}

/// Sends a pipe's write end from `a` with SCM_RIGHTS, receives on `b`, and
/// checks that the descriptor that arrived writes into the pipe.
fn pass_fd_over(a: OwnedFd, b: OwnedFd) -> Result<(), Stuck> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    send_fd(a.as_fd(), b"x", w.as_fd()).map_err(call("sendmsg"))?;
    drop(w);
    let mut byte = [0u8; 1];
    let (_, received) = recv_fd(b.as_fd(), &mut byte, false).map_err(call("recvmsg"))?;
    let received = received.ok_or(Stuck::NoDescriptor)?;
    nix::unistd::write(&received, b"via")?;
    let mut out = [0u8; 3];
    nix::unistd::read(&r, &mut out)?;
    if &out == b"via" {
        Ok(())
    } else {
        Err(Stuck::Saw("the bytes did not come through".into()))
    }
}
