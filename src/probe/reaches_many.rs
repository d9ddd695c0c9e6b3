//! "One send reaches many": two readers wait on one channel, one message
//! is sent, and each says whether it got it. Both: the mechanism
//! broadcasts (Y). One: each message goes to one reader, and a second
//! needs a send of its own (N). The readers are two threads of this
//! process sharing the object (what two processes that inherited it
//! share), each trying without blocking until a deadline, so that a
//! message that reaches only one leaves the other with nothing, not hung.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{recv, send, MsgFlags};

use super::semantics::{fresh_pipe, fresh_sockets};
use super::{Finding, Stuck, Subject};
use crate::results::probe::Measured;
use crate::transport::{Inherited, Object, Rendezvous, Transport};

/// How long each reader keeps trying once the message is sent.
const DEADLINE: Duration = Duration::from_millis(300);
const MESSAGE: &[u8] = b"one for all";

pub fn probe(s: &Subject) -> Finding {
    if let Some(t) = s.transport.filter(|t| t.broadcast_refused().is_none()) {
        return verdict(native(t), "one publication");
    }
    let tried = match s.nature.object {
        Object::Pipe | Object::Fifo => stream_of(fresh_pipe(s.nature.object)),
        Object::UnixStream | Object::TcpLoopback | Object::UnixDatagram | Object::UnixSeqpacket => {
            socket_of(fresh_sockets(s.nature.object))
        }
        Object::PosixQueue => posix_queue(),
        Object::SysvQueue => sysv_queue(),
        Object::PosixSharedMemory => bare_segment(),
        Object::PosixSemaphore => semaphore(),
        Object::Ring | Object::NodeChannel(_) => return declared(s),
    };
    verdict(tried, "one send")
}

/// What two readers got of one message: Y when both, N when one.
fn verdict(tried: Result<(usize, String), Stuck>, what: &str) -> Finding {
    match tried {
        Ok((2, how)) => Finding::yes(format!("{what} ({how}): both of two waiting readers got it")),
        Ok((1, how)) => Finding::no(format!("{what} ({how}): of two waiting readers, one got it and the other had nothing after {} ms; each reader needs a send of its own", DEADLINE.as_millis())),
        Ok((n, how)) => Finding::undecided(format!("{what} ({how}): {n} of two waiting readers got it")),
        Err(e) => Finding::undecided(format!("the experiment could not run: {e}")),
    }
}

/// A ring with one reader's cursor, or a channel of one parent and one
/// child: a second reader cannot even attach, which the transport says.
fn declared(s: &Subject) -> Finding {
    match s.transport.and_then(|t| t.broadcast_refused()) {
        Some(why) => Finding::fact(
            Measured::no(),
            format!("no second reader can attach: {why}"),
        ),
        None => Finding::undecided("no transport to ask"),
    }
}

/// Two readers, each calling `attempt` (which must not block) until it
/// returns true or the deadline passes; `send` once both are trying.
/// Returns how many got the message.
fn two_readers(
    attempt: impl Fn(usize) -> Result<bool, Stuck> + Sync,
    send: impl FnOnce() -> Result<(), Stuck>,
) -> Result<usize, Stuck> {
    let sent = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|i| {
                let (attempt, sent) = (&attempt, &sent);
                scope.spawn(move || -> Result<bool, Stuck> {
                    let mut until = None;
                    loop {
                        if attempt(i)? {
                            return Ok(true);
                        }
                        if sent.load(Ordering::Acquire) {
                            let deadline = *until.get_or_insert_with(|| Instant::now() + DEADLINE);
                            if Instant::now() > deadline {
                                return Ok(false);
                            }
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                })
            })
            .collect();
        // Both are trying before the message goes.
        std::thread::sleep(Duration::from_millis(20));
        let outcome = send();
        sent.store(true, Ordering::Release);
        let got: Vec<Result<bool, Stuck>> = readers
            .into_iter()
            .map(|r| {
                r.join()
                    .unwrap_or(Err(Stuck::Saw("a reader panicked".into())))
            })
            .collect();
        outcome?;
        got.into_iter()
            .try_fold(0, |n, g| g.map(|got| n + usize::from(got)))
    })
}

fn would_block(e: nix::errno::Errno) -> bool {
    e == nix::errno::Errno::EAGAIN
}

/// Two threads reading one pipe's or FIFO's read end.
fn stream_of(ends: Result<(OwnedFd, OwnedFd), Stuck>) -> Result<(usize, String), Stuck> {
    let (r, w) = ends?;
    fcntl(&r, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(super::call("fcntl"))?;
    let n = two_readers(
        |_| match nix::unistd::read(&r, &mut [0u8; 64]) {
            Ok(n) => Ok(n > 0),
            Err(e) if would_block(e) => Ok(false),
            Err(e) => Err(super::call("read")(e)),
        },
        || {
            nix::unistd::write(&w, MESSAGE)
                .map(drop)
                .map_err(super::call("write"))
        },
    )?;
    Ok((
        n,
        "11 bytes written, two threads in read() on the read end".into(),
    ))
}

/// Two threads receiving on one end of a connected pair.
fn socket_of(ends: Result<(OwnedFd, OwnedFd), Stuck>) -> Result<(usize, String), Stuck> {
    let (a, b) = ends?;
    let n = two_readers(
        |_| match recv(b.as_raw_fd(), &mut [0u8; 64], MsgFlags::MSG_DONTWAIT) {
            Ok(n) => Ok(n > 0),
            Err(e) if would_block(e) => Ok(false),
            Err(e) => Err(super::call("recv")(e)),
        },
        || {
            send(a.as_raw_fd(), MESSAGE, MsgFlags::empty())
                .map(drop)
                .map_err(super::call("send"))
        },
    )?;
    Ok((
        n,
        "one send(), two threads in recv() on the other end".into(),
    ))
}

fn posix_queue() -> Result<(usize, String), Stuck> {
    use nix::mqueue::{mq_receive, mq_send};
    let n = super::semantics::with_mq(64, |q| {
        two_readers(
            |_| match mq_receive(q, &mut [0u8; 64], &mut 0) {
                Ok(_) => Ok(true),
                Err(e) if would_block(e) => Ok(false),
                Err(e) => Err(super::call("mq_receive")(e)),
            },
            || mq_send(q, MESSAGE, 0).map_err(super::call("mq_send")),
        )
    })?;
    Ok((
        n,
        "one mq_send(), two threads in mq_receive() on one queue".into(),
    ))
}

fn sysv_queue() -> Result<(usize, String), Stuck> {
    let q = super::helper::PrivateQueue::create().map_err(super::call("msgget"))?;
    let mut msg = 1i64.to_ne_bytes().to_vec();
    msg.extend_from_slice(MESSAGE);
    let n = two_readers(
        |_| match q.try_recv(&mut [0u8; 8 + 64], 0) {
            Ok(_) => Ok(true),
            Err(e) if e == nix::errno::Errno::ENOMSG || would_block(e) => Ok(false),
            Err(e) => Err(super::call("msgrcv")(e)),
        },
        || q.send(&msg).map_err(super::call("msgsnd")),
    )?;
    Ok((
        n,
        "one msgsnd(), two threads in msgrcv(IPC_NOWAIT) on one queue".into(),
    ))
}

/// Two readers of one shared mapping: a write is there for every reader
/// (and nothing tells either that it came).
fn bare_segment() -> Result<(usize, String), Stuck> {
    let fd = nix::sys::memfd::memfd_create("probe-many", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(super::call("memfd_create"))?;
    nix::unistd::ftruncate(&fd, 4096).map_err(super::call("ftruncate"))?;
    let maps = [
        crate::sys::mapping::Mapping::map_fd(&fd, 4096).map_err(super::call("mmap"))?,
        crate::sys::mapping::Mapping::map_fd(&fd, 4096).map_err(super::call("mmap"))?,
    ];
    let writer = crate::sys::mapping::Mapping::map_fd(&fd, 4096).map_err(super::call("mmap"))?;
    let n = two_readers(
        |i| {
            let mut seen = [0u8; MESSAGE.len()];
            maps[i].read(0, &mut seen);
            Ok(seen == MESSAGE)
        },
        || {
            writer.write(0, MESSAGE);
            Ok(())
        },
    )?;
    Ok((
        n,
        "11 bytes written into a segment that two threads read through mappings of their own"
            .into(),
    ))
}

/// One post, two waiters: a post lets one wait through.
fn semaphore() -> Result<(usize, String), Stuck> {
    use crate::sys::posix_sem::NamedSemaphore;
    let name = format!("/{}", super::helper::unique("sem-many"));
    let sem = NamedSemaphore::create(&name, 0).map_err(super::call("sem_open"))?;
    let _ = sem.unlink();
    let n = two_readers(
        |_| sem.try_wait().map_err(super::call("sem_trywait")),
        || sem.post().map_err(super::call("sem_post")),
    )?;
    Ok((n, "one sem_post(), two threads in sem_trywait()".into()))
}

/// A native broadcast to two subscribers, both joined here.
fn native(t: &dyn Transport) -> Result<(usize, String), Stuck> {
    let dir = super::helper::private_dir()?;
    let tag = super::helper::unique("broadcast");
    let at = Rendezvous {
        dir: dir.path(),
        tag: &tag,
        size: 64,
        host: std::net::Ipv4Addr::LOCALHOST,
    };
    let mut made = t.broadcast(&at, 2)?;
    let mut subscribers = Vec::new();
    for member in 0..2 {
        let fds = made
            .child_fds
            .iter()
            .map(|fd| fd.try_clone())
            .collect::<std::io::Result<Vec<_>>>()?;
        let token = made.token.clone();
        let inherited = Inherited { fds, token, member };
        subscribers.push(t.join_broadcast(&at, inherited)?);
    }
    made.publisher.subscribers_joined()?;
    let mut msg = [0u8; 64];
    msg[..MESSAGE.len()].copy_from_slice(MESSAGE);
    let n = native_readers(subscribers, || {
        made.publisher.publish(&msg).map_err(Stuck::from)
    })?;
    Ok((
        n,
        format!("{} written once, two subscribers reading", t.name()),
    ))
}

/// Each subscriber receives on a thread of its own, blocking; one that
/// has nothing by the deadline counts as not reached, and its thread is
/// left asleep (it ends with the probe, costing nothing meanwhile).
fn native_readers(
    subscribers: Vec<Box<dyn crate::transport::Channel>>,
    publish: impl FnOnce() -> Result<(), Stuck>,
) -> Result<usize, Stuck> {
    let (tx, rx) = std::sync::mpsc::channel();
    let count = subscribers.len();
    for mut s in subscribers {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let got = s
                .recv(&mut buf)
                .is_ok_and(|n| buf[..n.min(64)].starts_with(MESSAGE));
            let _ = tx.send(got);
        });
    }
    std::thread::sleep(Duration::from_millis(20));
    publish()?;
    let until = Instant::now() + DEADLINE;
    let mut n = 0;
    for _ in 0..count {
        let left = until.saturating_duration_since(Instant::now());
        if rx.recv_timeout(left) == Ok(true) {
            n += 1;
        }
    }
    Ok(n)
}
