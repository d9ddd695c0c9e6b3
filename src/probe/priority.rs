//! Priority: can the mechanism itself deliver a later high-priority message
//! before an earlier low-priority one? For queues, send low then high while
//! nobody reads, then let another process read. For a semaphore, two waiter
//! processes of different SCHED_FIFO priority, the low one waiting first:
//! which does one post wake?

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use nix::mqueue::{mq_open, mq_send, mq_unlink, MQ_OFlag, MqAttr};
use nix::sys::stat::Mode;

use super::helper::{finish, run_helper, spawn_helper, unique};
use super::Finding;
use crate::results::probe::Measured;
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::process_state;
use crate::sys::sysv::MsgQueue;

pub fn probe(mechanism: &str) -> Finding {
    match mechanism {
        "posix-mq" => posix_mq(),
        "sysv-mq" => sysv_mq(),
        "semaphore" => semaphore(),
        "pipe" | "fifo" | "uds-stream" | "tcp" | "socketpair" | "interprocess" => Finding::no(
            "a byte stream: write/send take no priority, and bytes are read in the order written",
        ),
        "uds-seqpacket" => Finding::no(
            "send() on a seqpacket socket takes no priority; messages are read in the order sent",
        ),
        "eventfd-shm" | "shm-ring" => Finding::no(
            "the ring is FIFO: slots are read in the order written, and nothing marks a message",
        ),
        "node-ipc" => Finding::no(
            "one JSON line after another on one socket: process.send() has no priority",
        ),
        "ipc-channel" => Finding::no(
            "IpcSender::send takes no priority; a channel delivers in send order",
        ),
        "uds-dgram" => Finding::no(
            "send() on a Unix datagram socket takes no priority (SO_PRIORITY only steers network queueing); datagrams are read in the order sent",
        ),
        "shm" => Finding::no(
            "a bare segment is memory: it has no messages, so nothing to order or mark; a protocol on top would have to add priority",
        ),
        "shm-posix-sem" | "shm-sysv-sem" => Finding::no(
            "the bounded buffer is a FIFO ring; its semaphores count slots and carry no priority",
        ),
        other => Finding::undecided(format!("no priority experiment for {other}")),
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
        Ok(()) => run_helper(&["mq-drain", &name, "2"]),
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
    let queue = match MsgQueue::create() {
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
    match run_helper(&["sysv-drain", &queue.id().to_string(), "2", "2"]).as_str() {
        "1,2" => Finding::yes("sent type 2 then type 1 while no one read; the reading process, asking msgrcv for type -2 (lowest type first), received type 1 first: message types act as priorities"),
        "2,1" => Finding::no("sent type 2 then 1; msgrcv(-2) returned them in send order"),
        other => Finding::undecided(format!("the experiment failed: {other}")),
    }
}

/// Starts a waiter at a SCHED_FIFO priority and returns it once it has
/// blocked in sem_wait.
fn waiter(sem: &str, prio: i32) -> Result<std::process::Child, String> {
    let mut child =
        spawn_helper(&["sem-wait", sem, &prio.to_string()]).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let out = child.stdout.as_mut().ok_or("no stdout")?;
    BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(line.trim().to_string());
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
