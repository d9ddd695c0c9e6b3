//! A System V message queue, one for both directions: message type 1 goes to
//! the peer, type 2 comes back. Created IPC_PRIVATE; the peer gets its id.
//! A System V queue vanishes at once when removed, so the parent removes it
//! at the end of the case (a harness killed by SIGKILL cannot).

use crate::results::failure::OverLimit;
use std::io;

use super::wait::{nonblocking, Waiter};
use super::{unsupported, Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::interrupt::retry;
use crate::sys::limits::sysctl;
use crate::sys::sysv::MsgQueue;

pub struct SysvMq;

const TO_CHILD: i64 = 1;
const TO_PARENT: i64 = 2;

struct SysvChannel {
    queue: MsgQueue,
    send_type: i64,
    recv_type: i64,
    /// msgsnd/msgrcv want the type in front of the text: one reused buffer.
    scratch: Vec<u8>,
    waiter: Waiter,
}

impl SysvChannel {
    fn new(queue: MsgQueue, send_type: i64, size: usize) -> io::Result<SysvChannel> {
        Ok(SysvChannel {
            queue,
            send_type,
            recv_type: TO_CHILD + TO_PARENT - send_type,
            scratch: crate::sys::memory::zeroed(8 + size)?,
            waiter: Waiter::Block,
        })
    }
}

/// How many messages may be on their way at once when one thread sends
/// while another receives. Both directions share the queue's bytes
/// (kernel.msgmnb): if messages to the peer filled it, the peer could not
/// queue its echo, would stop reading, and both sides would wait forever.
/// Keeping room for one echo prevents that.
fn in_flight_limit(size: usize) -> usize {
    let queue = sysctl("kernel.msgmnb").unwrap_or(16384) as usize;
    (queue / size.max(1)).saturating_sub(1).max(1)
}

/// Messages on their way (sent, not yet answered), and the bound on them.
struct Window {
    in_flight: std::sync::Mutex<usize>,
    changed: std::sync::Condvar,
    limit: usize,
}

impl Window {
    fn enter(&self) {
        let mut n = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= self.limit {
            n = self.changed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
    }
    fn leave(&self) {
        let mut n = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        self.changed.notify_one();
    }
}

impl Channel for SysvChannel {
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let size = self.scratch.len() - 8;
        let window = std::sync::Arc::new(Window {
            in_flight: std::sync::Mutex::new(0),
            changed: std::sync::Condvar::new(),
            limit: in_flight_limit(size),
        });
        let (queue, send_type, recv_type) = (&self.queue, self.send_type, self.recv_type);
        let waiter = &mut self.waiter;
        let zeroed = || crate::sys::memory::zeroed(8 + size);
        let (mut out, mut back) = (zeroed()?, zeroed()?);
        let left = window.clone();
        Ok(super::Halves::new(
            move |m| {
                window.enter();
                send_typed(queue, send_type, &mut out, m)
            },
            move |b| {
                let n = recv_typed(queue, recv_type, &mut back, b, waiter)?;
                left.leave();
                Ok(n)
            },
        ))
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_typed(&self.queue, self.send_type, &mut self.scratch, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let waiter = &mut self.waiter;
        recv_typed(&self.queue, self.recv_type, &mut self.scratch, buf, waiter)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
}

/// msgsnd/msgrcv want the type in front of the text: `scratch` holds both.
fn send_typed(queue: &MsgQueue, kind: i64, scratch: &mut [u8], msg: &[u8]) -> io::Result<()> {
    let buf = &mut scratch[..8 + msg.len()];
    buf[..8].copy_from_slice(&kind.to_ne_bytes());
    buf[8..].copy_from_slice(msg);
    retry(|| queue.send(buf))
}

fn recv_typed(
    queue: &MsgQueue,
    kind: i64,
    scratch: &mut [u8],
    buf: &mut [u8],
    waiter: &mut Waiter,
) -> io::Result<usize> {
    let scratch = std::cell::RefCell::new(&mut scratch[..8 + buf.len()]);
    let n = waiter.receive(
        || nonblocking(queue.try_recv(&mut scratch.borrow_mut(), kind)),
        || retry(|| queue.recv(&mut scratch.borrow_mut(), kind)),
    )?;
    let scratch = scratch.into_inner();
    buf[..n].copy_from_slice(&scratch[8..8 + n]);
    Ok(n)
}

/// A private queue, or why the system has none left.
fn create() -> io::Result<MsgQueue> {
    MsgQueue::create().map_err(|e| match e {
        nix::errno::Errno::ENOSPC => unsupported(format!(
            "msgget: ENOSPC: the system's System V queue count kernel.msgmni = {} is used up",
            sysctl("kernel.msgmni").unwrap_or(0)
        )),
        e => e.into(),
    })
}

impl super::Gather for SysvChannel {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let (queue, kind) = (&self.queue, self.recv_type);
        recv_typed(queue, kind, &mut self.scratch, buf, &mut Waiter::Block).map(Some)
    }
}

impl Transport for SysvMq {
    fn copies(&self) -> super::Copies {
        super::Copies {
            count: 4,
            why: "msgsnd and msgrcv want the message type in front of the text: the sender copies the payload behind the type, msgsnd into the queue, msgrcv out of it, and the receiver out from behind the type",
        }
    }
    fn name(&self) -> &'static str {
        "sysv-mq"
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        super::wait::without_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "System V message queue (msgget), message types per direction"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::SysvQueue, super::Reach::Key)
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        let over = |limit: &str, value: u64, remedy: String| OverLimit {
            what: "message",
            needed: size as u64,
            limit: limit.into(),
            value,
            remedy,
        };
        match (sysctl("kernel.msgmax"), sysctl("kernel.msgmnb")) {
            (Some(max), _) if size as u64 > max => Err(over(
                "kernel.msgmax",
                max,
                format!("raise it as root: sysctl kernel.msgmax={size}, and kernel.msgmnb to at least that"),
            )),
            (_, Some(q)) if size as u64 > q => Err(over(
                "kernel.msgmnb",
                q,
                format!("the queue's capacity; raise it as root: sysctl kernel.msgmnb={size}"),
            )),
            _ => Ok(()),
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let queue = create()?;
        let token = queue.id().to_string();
        let channel = SysvChannel::new(queue, TO_CHILD, at.size)?;
        Ok(Prepared {
            token,
            ..Prepared::ready(Box::new(channel))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let id = inherited
            .token
            .parse()
            .map_err(|_| io::Error::other(format!("bad queue id '{}'", inherited.token)))?;
        Ok(Box::new(SysvChannel::new(
            MsgQueue::attach(id)?,
            TO_PARENT,
            at.size,
        )?))
    }
    fn orphaned(&self, _tag: &str, token: &str) {
        if let Ok(id) = token.parse() {
            drop(MsgQueue::adopt(id));
        }
    }
    /// One queue: every sender sends what a ping-pong peer sends (type
    /// 2), and the receiving end takes what a ping-pong parent takes.
    fn fan_in(&self, at: &Rendezvous, _senders: u32) -> io::Result<super::FanIn> {
        let queue = create()?;
        let token = queue.id().to_string();
        let gather = SysvChannel::new(queue, TO_CHILD, at.size)?;
        Ok(super::FanIn {
            child_fds: Vec::new(),
            token,
            receive: Box::new(move || Ok(Box::new(gather) as _)),
            shared_stream: false,
        })
    }
    fn join_fan_in(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        self.join(at, inherited)
    }
}
