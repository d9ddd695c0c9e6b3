//! Priority: can the mechanism itself deliver a later high-priority message
//! before an earlier low-priority one? Every row sends "low" then "high"
//! while nobody reads, marking "high" with whatever the API offers (a queue
//! priority, a System V type, MSG_OOB on stream sockets and TCP urgent
//! data) or finding that the mark is refused, and then looks at what a
//! reader gets first. For a semaphore, which carries no message, two waiter
//! processes of different SCHED_FIFO priority, the low one waiting first:
//! which does one post wake?

use super::Stuck;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::mqueue::{mq_open, mq_send, mq_unlink, MQ_OFlag, MqAttr};
use nix::sys::socket::{recv, send, MsgFlags};
use nix::sys::stat::Mode;

use super::helper::{finish, run_helper, spawn_helper, unique, Action};
use super::semantics::{fresh_pipe, fresh_sockets};
use super::{channel, Finding, Subject};
use crate::results::probe::Measured;
use crate::sys::mapping::Mapping;
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::process_state;
use crate::transport::Object;

pub fn probe(s: &Subject) -> Finding {
    if let (Some(_), Some(t)) = (s.nature.protocol, s.transport) {
        return channel::order(t);
    }
    match s.nature.object {
        Object::PosixQueue => posix_mq(),
        Object::SysvQueue => sysv_mq(),
        Object::PosixSemaphore => semaphore(),
        Object::Pipe | Object::Fifo => pipe(s.nature.object),
        Object::UnixStream | Object::TcpLoopback => out_of_band(s.nature.object),
        Object::UnixDatagram | Object::UnixSeqpacket => packets(s.nature.object),
        Object::PosixSharedMemory => bare_segment(),
        Object::Ring => Finding::undecided("a ring with no transport to try"),
        Object::NodeChannel(_) => Finding::undecided(super::node::ELSEWHERE),
    }
}

/// What a non-blocking read finds, as text.
fn drain(fd: &OwnedFd, flags: MsgFlags) -> String {
    let mut buf = [0u8; 64];
    match recv(fd.as_raw_fd(), &mut buf, flags | MsgFlags::MSG_DONTWAIT) {
        Ok(n) => format!("\"{}\"", String::from_utf8_lossy(&buf[..n])),
        Err(e) => format!("{e:?}"),
    }
}

fn pipe(object: Object) -> Finding {
    let (r, w) = match fresh_pipe(object) {
        Ok(ends) => ends,
        Err(e) => return Finding::undecided(e),
    };
    let marked = send(w.as_raw_fd(), b"high", MsgFlags::MSG_OOB);
    let wrote = nix::unistd::write(&w, b"low").and_then(|_| nix::unistd::write(&w, b"high"));
    let mut buf = [0u8; 64];
    match (marked, wrote.and_then(|_| nix::unistd::read(&r, &mut buf))) {
        (Err(e), Ok(n)) => Finding::no(format!("write() takes no mark, and send(MSG_OOB) on a pipe gives {e:?}; \"low\" then \"high\" written, one read returned \"{}\": send order", String::from_utf8_lossy(&buf[..n]))),
        (marked, read) => Finding::undecided(format!("send(MSG_OOB): {marked:?}, read: {read:?}")),
    }
}

/// Stream sockets offer one mark, MSG_OOB (TCP's urgent pointer; Unix
/// stream sockets since Linux 5.15): the last byte of a send becomes urgent.
fn out_of_band(object: Object) -> Finding {
    let (a, b) = match fresh_sockets(object) {
        Ok(pair) => pair,
        Err(e) => return Finding::undecided(e),
    };
    let low = send(a.as_raw_fd(), b"low", MsgFlags::empty());
    let high = send(a.as_raw_fd(), b"high", MsgFlags::MSG_OOB);
    // Loopback TCP delivers on the sender's call, but give it a moment.
    std::thread::sleep(Duration::from_millis(20));
    let (normal, urgent) = (drain(&b, MsgFlags::empty()), drain(&b, MsgFlags::MSG_OOB));
    match (low, high) {
        (Ok(_), Err(e)) => Finding::no(format!("send(MSG_OOB) gives {e:?}: no mark; \"low\" then \"high\" sent, a read returned {normal}")),
        (Ok(_), Ok(_)) if normal.starts_with("\"high") => Finding::yes(format!("\"low\" sent, then \"high\" with MSG_OOB; the first read returned {normal}")),
        (Ok(_), Ok(_)) => Finding::no(format!("\"low\" sent, then \"high\" with MSG_OOB: a normal read returned {normal} and recv(MSG_OOB) returned {urgent}; the mark carries one byte out of band, the message itself stays behind \"low\"")),
        (low, high) => Finding::undecided(format!("send: {low:?}, send(MSG_OOB): {high:?}")),
    }
}

fn packets(object: Object) -> Finding {
    let (a, b) = match fresh_sockets(object) {
        Ok(pair) => pair,
        Err(e) => return Finding::undecided(e),
    };
    let low = send(a.as_raw_fd(), b"low", MsgFlags::empty());
    let marked = send(a.as_raw_fd(), b"high", MsgFlags::MSG_OOB);
    let high = send(a.as_raw_fd(), b"high", MsgFlags::empty());
    let first = drain(&b, MsgFlags::empty());
    match (low, marked, high) {
        (Ok(_), Err(e), Ok(_)) => Finding::no(format!("send(MSG_OOB) gives {e:?}: no mark; \"low\" then \"high\" sent, the first receive returned {first}: send order")),
        (low, marked, high) => Finding::undecided(format!("send: {low:?}, send(MSG_OOB): {marked:?}, then {high:?}; first receive {first}")),
    }
}

/// A bare segment has no send to mark and keeps no queue: write "low",
/// then "high", into its one message slot, and look as a reader would.
fn bare_segment() -> Finding {
    use nix::fcntl::OFlag;
    use nix::sys::mman::{shm_open, shm_unlink};
    let name = format!("/{}", unique("shm"));
    let seen = (|| -> nix::Result<String> {
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )?;
        let _ = shm_unlink(name.as_str());
        nix::unistd::ftruncate(&fd, 4096)?;
        let (writer, reader) = (Mapping::map_fd(&fd, 4096)?, Mapping::map_fd(&fd, 4096)?);
        writer.write(0, b"low\0");
        writer.write(0, b"high");
        let mut slot = [0u8; 4];
        reader.read(0, &mut slot);
        Ok(String::from_utf8_lossy(&slot)
            .trim_end_matches('\0')
            .to_string())
    })();
    let _ = shm_unlink(name.as_str());
    match seen {
        Ok(slot) => Finding::no(format!("no call takes a mark, and nothing queues: \"low\" then \"high\" written to the segment's message slot, a second mapping read \"{slot}\"; the earlier message is overwritten, not delivered later, so there is no delivery order to put priority on")),
        Err(e) => Finding::undecided(format!("shm_open/mmap: {e}")),
    }
}

fn posix_mq() -> Finding {
    let name = format!("/{}", unique("mq"));
    let attr = MqAttr::new(0, 4, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_WRONLY;
    let sent = mq_open(
        name.as_str(),
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        Some(&attr),
    )
    .and_then(|q| mq_send(&q, b"low", 1).and_then(|_| mq_send(&q, b"high", 9)));
    let order = match sent {
        Ok(()) => run_helper(&Action::MqDrain {
            name: name.clone(),
            count: 2,
        }),
        Err(e) => format!("mq_send: {e}"),
    };
    let _ = mq_unlink(name.as_str());
    match order.as_str() {
        "9,1" => Finding::yes("sent priority 1 then priority 9 while no one read; the reading process received 9 first (mq_send's priority argument)"),
        "1,9" => Finding::no("sent priority 1 then 9; received in send order"),
        other => Finding::undecided(format!("the experiment failed: {other}")),
    }
}

fn sysv_mq() -> Finding {
    let queue = match super::helper::PrivateQueue::create() {
        Ok(q) => q,
        Err(e) => return Finding::undecided(format!("msgget: {e}")),
    };
    for kind in [2i64, 1] {
        let mut msg = kind.to_ne_bytes().to_vec();
        msg.extend_from_slice(b"m");
        if let Err(e) = queue.send(&msg) {
            return Finding::undecided(format!("msgsnd: {e}"));
        }
    }
    match run_helper(&Action::SysvDrain {
        id: queue.id(),
        count: 2,
        max_type: 2,
    }).as_str() {
        "1,2" => Finding::yes("sent type 2 then type 1 while no one read; the reading process, asking msgrcv for type -2 (lowest type first), received type 1 first: message types act as priorities"),
        "2,1" => Finding::no("sent type 2 then 1; msgrcv(-2) returned them in send order"),
        other => Finding::undecided(format!("the experiment failed: {other}")),
    }
}

/// Starts a waiter at a SCHED_FIFO priority and returns it once it has
/// blocked in sem_wait.
fn waiter(sem: &str, prio: i32) -> Result<std::process::Child, Stuck> {
    let mut child = spawn_helper(&Action::SemWait {
        name: sem.to_string(),
        priority: prio,
    })?;
    let mut line = String::new();
    let out = child
        .stdout
        .as_mut()
        .ok_or(Stuck::Saw("no stdout".into()))?;
    BufReader::new(out).read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Stuck::Saw(line.trim().to_string()));
    }
    // "ready" is printed just before sem_wait; wait until the kernel shows it
    // sleeping, so the order in which the two waiters queued is known.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until && process_state(child.id()) != Some('S') {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(child)
}

fn semaphore() -> Finding {
    let name = format!("/{}", unique("sem"));
    let sem = match NamedSemaphore::create(&name, 0) {
        Ok(s) => s,
        Err(e) => return Finding::undecided(format!("sem_open: {e}")),
    };
    let unlink = || {
        let _ = crate::sys::posix_sem::unlink(&name);
    };
    let low = match waiter(&name, 10) {
        Ok(c) => c,
        Err(why) => {
            unlink();
            return Finding::undecided(format!("a SCHED_FIFO waiter could not start ({why}); without real-time priorities the wake order cannot be tested"));
        }
    };
    let high = match waiter(&name, 20) {
        Ok(c) => c,
        Err(why) => {
            let _ = sem.post();
            finish(low, Duration::from_secs(1));
            unlink();
            return Finding::undecided(format!(
                "the second SCHED_FIFO waiter could not start: {why}"
            ));
        }
    };
    let (low_pid, high_pid) = (low.id(), high.id());
    let _ = sem.post();
    // Whichever waiter the single post woke exits; the other still sleeps.
    std::thread::sleep(Duration::from_millis(100));
    let gone = |pid: u32| matches!(process_state(pid), None | Some('Z'));
    let (low_woke, high_woke) = (gone(low_pid), gone(high_pid));
    let _ = sem.post();
    let _ = (
        finish(low, Duration::from_secs(1)),
        finish(high, Duration::from_secs(1)),
    );
    unlink();
    match (low_woke, high_woke) {
        (false, true) => Finding::new(Measured::yes(), "two waiter processes, SCHED_FIFO priority 10 waiting first and 20 second; one sem_post woke the priority-20 waiter: waiters are woken by scheduling priority, not arrival (this orders waiters, not messages)"),
        (true, false) => Finding::no("two SCHED_FIFO waiters, priority 10 waiting first and 20 second; one sem_post woke the first (priority 10): arrival order"),
        _ => Finding::undecided(format!("one post woke low: {low_woke}, high: {high_woke}; expected exactly one")),
    }
}
