//! Message boundaries, the largest message, one channel for both
//! directions, and descriptor passing. These are properties of the kernel
//! object itself, so each experiment works on a fresh object with both of
//! its ends in this process.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{mq_close, mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag, MqAttr};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags, SockType};
use nix::sys::stat::Mode;

use super::helper::unique;
use super::Finding;
use crate::results::probe::{Measured, Property};
use crate::sys::limits::{dev_shm_free, dev_shm_size, sysctl};
use crate::sys::sysv::MsgQueue;

pub fn probe(m: &str) -> Vec<(Property, Finding)> {
    vec![
        (Property::PreservesBoundaries, boundaries(m)),
        (Property::MaxMessageBytes, max_message(m)),
        (Property::Bidirectional, bidirectional(m)),
        (Property::FdPassing, fd_passing(m)),
    ]
}

/// Sends 100 then 200 bytes, then reads once with a 4 KiB buffer.
fn boundaries(m: &str) -> Finding {
    let first = |n: Result<usize, String>| {
        match n {
        Ok(100) => Finding::yes("sent 100 then 200 bytes; one read with a 4 KiB buffer returned 100: each message is delivered whole and alone"),
        Ok(300) => Finding::no("sent 100 then 200 bytes; one read with a 4 KiB buffer returned 300: the two messages ran together"),
        Ok(n) => Finding::undecided(format!("sent 100 then 200 bytes; the first read returned {n}")),
        Err(e) => Finding::undecided(e),
    }
    };
    let e = |e: std::io::Error| e.to_string();
    let mut buf = [0u8; 4096];
    match m {
        "pipe" | "fifo" => first((|| {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
            for n in [100, 200] {
                nix::unistd::write(&w, &vec![1u8; n]).map_err(|e| e.to_string())?;
            }
            nix::unistd::read(&r, &mut buf).map_err(|e| e.to_string())
        })()),
        "tcp" => first((|| {
            use std::io::{Read, Write};
            let (mut a, mut b) = tcp_pair().map_err(e)?;
            a.write_all(&[1; 100]).and_then(|_| a.write_all(&[1; 200])).map_err(e)?;
            // Both writes are in before the read, as with the other streams.
            std::thread::sleep(std::time::Duration::from_millis(20));
            b.read(&mut buf).map_err(e)
        })()),
        "uds-seqpacket" => first((|| {
            let (a, b) = seqpacket_pair().map_err(|e| e.to_string())?;
            for n in [100, 200] {
                nix::sys::socket::send(a.as_raw_fd(), &vec![1u8; n], MsgFlags::empty()).map_err(|e| e.to_string())?;
            }
            nix::sys::socket::recv(b.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(|e| e.to_string())
        })()),
        "ipc-channel" => first((|| {
            let (tx, rx) = ipc_channel::ipc::bytes_channel().map_err(e)?;
            tx.send(&[1; 100]).and_then(|_| tx.send(&[1; 200])).map_err(e)?;
            rx.recv().map(|m| m.len()).map_err(|e| format!("{e:?}"))
        })()),
        "node-ipc" => Finding::yes("each message is one line of JSON; the reader splits at newlines and gets one message per receive"),
        "eventfd-shm" | "shm-ring" => Finding::yes("the ring moves one message per slot: each receive takes exactly one slot"),
        "uds-stream" | "socketpair" | "interprocess" => first((|| {
            use std::io::{Read, Write};
            let (mut a, mut b) = UnixStream::pair().map_err(e)?;
            a.write_all(&[1; 100]).and_then(|_| a.write_all(&[1; 200])).map_err(e)?;
            b.read(&mut buf).map_err(e)
        })()),
        "uds-dgram" => first((|| {
            let (a, b) = UnixDatagram::pair().map_err(e)?;
            a.send(&[1; 100]).and_then(|_| a.send(&[1; 200])).map_err(e)?;
            b.recv(&mut buf).map_err(e)
        })()),
        "posix-mq" => first(with_mq(4096, |q| {
            mq_send(q, &[1; 100], 0).and_then(|_| mq_send(q, &[1; 200], 0))?;
            mq_receive(q, &mut buf, &mut 0)
        })),
        "sysv-mq" => first((|| {
            let q = MsgQueue::create().map_err(|e| e.to_string())?;
            for n in [100, 200] {
                let mut msg = 1i64.to_ne_bytes().to_vec();
                msg.extend(std::iter::repeat_n(1u8, n));
                q.send(&msg).map_err(|e| e.to_string())?;
            }
            let mut rbuf = vec![0u8; 8 + 4096];
            q.recv(&mut rbuf, 0).map_err(|e| e.to_string())
        })()),
        "shm" => Finding::no("a segment is shared bytes: a write lands at an offset, and nothing marks where one message ends"),
        "shm-posix-sem" | "shm-sysv-sem" => Finding::yes("the bounded buffer moves one message per slot: each receive takes exactly one slot"),
        "semaphore" => Finding::no("a semaphore carries no data, so there is nothing to delimit"),
        other => Finding::undecided(format!("no boundaries experiment for {other}")),
    }
}

/// A POSIX queue of one message of `size`, for the experiment in `f`.
fn with_mq<T>(
    size: i64,
    f: impl FnOnce(&nix::mqueue::MqdT) -> nix::Result<T>,
) -> Result<T, String> {
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
    let q = q.map_err(|e| format!("mq_open with {size}-byte messages: {e}"))?;
    let out = f(&q).map_err(|e| e.to_string());
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

fn max_message(m: &str) -> Finding {
    const CEILING: usize = 64 << 20;
    match m {
        "pipe" | "fifo" | "uds-stream" | "socketpair" | "interprocess" | "tcp" | "node-ipc" => {
            let accepted = (|| -> Result<usize, String> {
                let (a, _b) = UnixStream::pair().map_err(|e| e.to_string())?;
                let (_r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK).map_err(|e| e.to_string())?;
                let big = vec![0u8; 1 << 20];
                let fd: OwnedFd = if m != "pipe" && m != "fifo" {
                    a.set_nonblocking(true).map_err(|e| e.to_string())?;
                    a.into()
                } else {
                    w
                };
                nix::unistd::write(&fd, &big).map_err(|e| e.to_string())
            })();
            match accepted {
                Ok(n) => Finding::no(format!("a byte stream has no message size: a non-blocking 1 MiB write took {n} bytes (what the buffer had room for) and leaves the rest to the caller; blocking writes of any size complete in pieces")),
                Err(e) => Finding::undecided(e),
            }
        }
        "uds-seqpacket" => {
            let Ok((a, b)) = seqpacket_pair() else {
                return Finding::undecided("socketpair failed");
            };
            let fits = |n: usize| {
                nix::sys::socket::send(a.as_raw_fd(), &vec![0u8; n], MsgFlags::MSG_DONTWAIT).is_ok()
                    && nix::sys::socket::recv(b.as_raw_fd(), &mut vec![0u8; n], MsgFlags::MSG_DONTWAIT).is_ok()
            };
            let n = largest(1, CEILING, fits);
            Finding::new(Measured::Number(n as u64), format!("the largest message send() accepted on a fresh seqpacket pair is {n} bytes; one more gives EMSGSIZE (bounded by SO_SNDBUF)"))
        }
        "eventfd-shm" | "shm-ring" => Finding::no("no fixed limit: the ring's slots are sized for the message, in a memfd bounded only by memory"),
        "ipc-channel" => {
            let (Ok((tx, rx)), big) = (ipc_channel::ipc::bytes_channel(), vec![7u8; 16 << 20]) else {
                return Finding::undecided("bytes_channel failed");
            };
            let reader = std::thread::spawn(move || rx.recv().map(|m| m.len()));
            let sent = tx.send(&big);
            match (sent, reader.join()) {
                (Ok(()), Ok(Ok(n))) if n == big.len() => Finding::no("no fixed limit: a 16 MiB message went through whole (the crate splits large messages itself)"),
                (s, r) => Finding::undecided(format!("a 16 MiB message: send {s:?}, receive {r:?}")),
            }
        }
        "uds-dgram" => {
            let Ok((a, b)) = UnixDatagram::pair() else {
                return Finding::undecided("socketpair failed");
            };
            let _ = a.set_nonblocking(true);
            // Each try is received at once, so the queue never fills.
            let fits = |n: usize| a.send(&vec![0u8; n]).is_ok() && b.recv(&mut vec![0u8; n]).is_ok();
            if fits(CEILING) {
                return Finding::no("a 64 MiB datagram was accepted: no limit found");
            }
            let n = largest(1, CEILING, fits);
            Finding::new(Measured::Number(n as u64), format!("the largest datagram send() accepted on a fresh socket pair is {n} bytes; one more gives EMSGSIZE (bounded by the send buffer SO_SNDBUF, net.core.wmem_default = {})", sysctl("net.core.wmem_default").map_or("?".into(), |v| v.to_string())))
        }
        "posix-mq" => {
            let fits = |n: usize| with_mq(n as i64, |_| Ok(())).is_ok();
            if !fits(1) {
                return Finding::undecided("mq_open refused even 1-byte messages");
            }
            let n = largest(1, CEILING, fits);
            Finding::new(Measured::Number(n as u64), format!("the largest message size mq_open accepted is {n} bytes (fs.mqueue.msgsize_max = {}; above it, EINVAL without CAP_SYS_RESOURCE)", sysctl("fs.mqueue.msgsize_max").map_or("?".into(), |v| v.to_string())))
        }
        "sysv-mq" => {
            let Ok(q) = MsgQueue::create() else {
                return Finding::undecided("msgget failed");
            };
            let fits = |n: usize| {
                let mut msg = vec![0u8; 8 + n];
                msg[..8].copy_from_slice(&1i64.to_ne_bytes());
                let ok = q.send_flags(&msg, libc::IPC_NOWAIT).is_ok();
                let mut back = vec![0u8; 8 + n];
                ok && q.recv(&mut back, 0).is_ok()
            };
            let n = largest(1, 1 << 20, fits);
            Finding::new(Measured::Number(n as u64), format!("the largest message msgsnd accepted is {n} bytes (kernel.msgmax = {}; above it, EINVAL)", sysctl("kernel.msgmax").map_or("?".into(), |v| v.to_string())))
        }
        "shm" | "shm-posix-sem" => match dev_shm_size() {
            Some(size) => Finding::new(Measured::Number(size), format!("a POSIX segment (and so a message in it) is bounded by the size of the tmpfs behind /dev/shm: {size} bytes ({} free now)", dev_shm_free().unwrap_or(0))),
            None => Finding::undecided("statvfs(/dev/shm) failed"),
        },
        "shm-sysv-sem" => match (sysctl("kernel.shmmax"), sysctl("kernel.shmall")) {
            (Some(max), Some(all)) => {
                let pages = all.saturating_mul(4096);
                let n = max.min(pages);
                Finding::new(Measured::Number(n), format!("a System V segment is bounded by kernel.shmmax = {max} and kernel.shmall = {all} pages"))
            }
            _ => Finding::undecided("kernel.shmmax or kernel.shmall unreadable"),
        },
        "semaphore" => Finding::new(Measured::Number(0), "a semaphore carries no data"),
        other => Finding::undecided(format!("no size experiment for {other}")),
    }
}

fn bidirectional(m: &str) -> Finding {
    match m {
        "pipe" | "fifo" => {
            let Ok((r, _w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
                return Finding::undecided("pipe2 failed");
            };
            match nix::unistd::write(&r, b"back") {
                Err(Errno::EBADF) => Finding::no("writing on the read end fails with EBADF: one direction per pipe (and per FIFO end); two are needed for a conversation"),
                other => Finding::undecided(format!("writing on the read end gave {other:?}")),
            }
        }
        "tcp" => match tcp_pair() {
            Ok((a, b)) => {
                use std::io::{Read, Write};
                let mut buf = [0u8; 1];
                let ok = (&a).write_all(b"x").and_then(|_| (&b).read_exact(&mut buf)).is_ok()
                    && (&b).write_all(b"y").and_then(|_| (&a).read_exact(&mut buf)).is_ok();
                Finding::new(Measured::flag(ok), "one TCP connection carried a message each way")
            }
            Err(e) => Finding::undecided(format!("TCP pair: {e}")),
        },
        "uds-seqpacket" => match seqpacket_pair() {
            Ok((a, b)) => {
                let mut buf = [0u8; 8];
                let go = |x: &OwnedFd, y: &OwnedFd, buf: &mut [u8]| {
                    nix::sys::socket::send(x.as_raw_fd(), b"x", MsgFlags::empty()).is_ok()
                        && nix::sys::socket::recv(y.as_raw_fd(), buf, MsgFlags::empty()).is_ok()
                };
                let ok = go(&a, &b, &mut buf) && go(&b, &a, &mut buf);
                Finding::new(Measured::flag(ok), "one connected seqpacket pair carried a message each way")
            }
            Err(e) => Finding::undecided(format!("seqpacket pair: {e}")),
        },
        "socketpair" | "interprocess" | "node-ipc" => {
            let mut f = bidirectional("uds-stream");
            f.evidence = format!("a Unix stream socket underneath: {}", f.evidence);
            f
        }
        "eventfd-shm" | "shm-ring" => Finding::yes("one memfd holds a ring per direction; the transport runs both directions over it"),
        "ipc-channel" => Finding::no("an IpcSender/IpcReceiver pair carries one direction (the sender has no receive); a conversation needs two channels"),
        "uds-stream" | "uds-dgram" => {
            let talk = |a: &dyn Fn(&[u8]) -> std::io::Result<usize>, b: &dyn Fn(&mut [u8]) -> std::io::Result<usize>| {
                let mut buf = [0u8; 8];
                a(b"x").and_then(|_| b(&mut buf)).is_ok()
            };
            let ok = if m == "uds-stream" {
                use std::io::{Read, Write};
                UnixStream::pair().is_ok_and(|(a, b)| {
                    talk(&|d| (&a).write(d), &|d| (&b).read(d)) && talk(&|d| (&b).write(d), &|d| (&a).read(d))
                })
            } else {
                UnixDatagram::pair().is_ok_and(|(a, b)| {
                    talk(&|d| a.send(d), &|d| b.recv(d)) && talk(&|d| b.send(d), &|d| a.recv(d))
                })
            };
            Finding::new(Measured::flag(ok), "one connected socket pair carried a message each way")
        }
        "posix-mq" => match with_mq(64, |q| {
            mq_send(q, b"mine", 0)?;
            let mut buf = [0u8; 64];
            mq_receive(q, &mut buf, &mut 0)
        }) {
            Ok(4) => Finding::no("a process that sends and then receives on one queue gets its own message back: a queue has no addressing, so two are needed"),
            other => Finding::undecided(format!("send then receive on one queue: {other:?}")),
        },
        "sysv-mq" => Finding::yes("message types address the two directions on one queue: msgrcv takes only the type asked for (the sysv-mq transport runs both directions on one queue, types 1 and 2)"),
        "shm" => Finding::yes("both processes map the segment read-write and can write to each other"),
        "shm-posix-sem" | "shm-sysv-sem" => Finding::yes("one segment holds a ring per direction; the transport runs both directions over it"),
        "semaphore" => Finding::no("a semaphore has no direction: a process that posts can take its own post; a conversation needs two"),
        other => Finding::undecided(format!("no bidirectional experiment for {other}")),
    }
}

fn fd_passing(m: &str) -> Finding {
    match m {
        "uds-stream" | "uds-dgram" | "socketpair" | "uds-seqpacket" | "node-ipc" => {
            let kind = match m {
                "uds-dgram" => SockType::Datagram,
                "uds-seqpacket" => SockType::SeqPacket,
                _ => SockType::Stream,
            };
            let node = if m == "node-ipc" { " (Node itself passes handles this way: child.send(message, handle))" } else { "" };
            match pass_fd(kind) {
                Ok(()) => Finding::yes(format!("sent a pipe's write end with SCM_RIGHTS over a {kind:?} socket pair; the received descriptor wrote into the pipe, and the bytes came out of it{node}")),
                Err(e) => Finding::no(format!("SCM_RIGHTS failed: {e}")),
            }
        }
        "tcp" => match tcp_pair() {
            Ok((a, b)) => match pass_fd_over(a.into(), b.into()) {
                Ok(()) => Finding::yes("a descriptor sent with SCM_RIGHTS over TCP arrived and worked"),
                Err(e) => Finding::no(format!("sendmsg with SCM_RIGHTS over loopback TCP: {e}; descriptors travel only over Unix sockets")),
            },
            Err(e) => Finding::undecided(format!("TCP pair: {e}")),
        },
        "eventfd-shm" | "shm-ring" => Finding::no("a descriptor number written to shared memory means nothing in the other process; the memfd itself had to be inherited"),
        "ipc-channel" => Finding::no("the crate passes its own channels and shared-memory regions (SCM_RIGHTS underneath) but has no call for an arbitrary descriptor"),
        "interprocess" => Finding::no("the crate's portable local-socket API has no call for descriptors (the Unix socket underneath could carry them)"),
        "pipe" | "fifo" => {
            let Ok((_r, w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
                return Finding::undecided("pipe2 failed");
            };
            let fds = [w.as_raw_fd()];
            let cmsg = [ControlMessage::ScmRights(&fds)];
            match sendmsg::<()>(w.as_raw_fd(), &[IoSlice::new(b"x")], &cmsg, MsgFlags::empty(), None) {
                Err(e) => Finding::no(format!("sendmsg with SCM_RIGHTS on a pipe: {e:?}; descriptors travel only over Unix sockets")),
                Ok(_) => Finding::undecided("sendmsg on a pipe succeeded"),
            }
        }
        "posix-mq" | "sysv-mq" => Finding::no("mq_send and msgsnd carry bytes only; no call takes descriptors"),
        "shm" | "shm-posix-sem" | "shm-sysv-sem" => Finding::no("a descriptor number written to shared memory means nothing in the other process; only SCM_RIGHTS (or pidfd_getfd) transfers one"),
        "semaphore" => Finding::no("a semaphore carries no data"),
        other => Finding::undecided(format!("no descriptor-passing experiment for {other}")),
    }
}

fn tcp_pair() -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    let a = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (b, _) = listener.accept()?;
    Ok((a, b))
}

fn seqpacket_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
}

fn pass_fd(kind: SockType) -> Result<(), String> {
    let (a, b) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        kind,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| e.to_string())?;
    pass_fd_over(a, b)
}

/// Sends a pipe's write end from `a` with SCM_RIGHTS, receives on `b`, and
/// checks that the descriptor that arrived writes into the pipe.
fn pass_fd_over(a: OwnedFd, b: OwnedFd) -> Result<(), String> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
    let fds = [w.as_raw_fd()];
    sendmsg::<()>(
        a.as_raw_fd(),
        &[IoSlice::new(b"x")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("sendmsg: {e}"))?;
    drop(w);
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut byte)];
    let msg = recvmsg::<()>(
        b.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    let received = msg
        .cmsgs()
        .map_err(|e| e.to_string())?
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .ok_or("no descriptor arrived")?;
    // SAFETY: recvmsg just installed this descriptor in our table for us alone.
    let received = unsafe { OwnedFd::from_raw_fd(received) };
    nix::unistd::write(&received, b"via").map_err(|e| e.to_string())?;
    let mut out = [0u8; 3];
    nix::unistd::read(&r, &mut out).map_err(|e| e.to_string())?;
    if &out == b"via" {
        Ok(())
    } else {
        Err("the bytes did not come through".into())
    }
}
