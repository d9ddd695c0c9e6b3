//! POSIX message queues: one queue per direction, created by the parent,
//! opened by name by the peer, unlinked once both hold them. All messages go
//! at one priority (0).

use crate::results::failure::OverLimit;
use std::io;

use nix::errno::Errno;
use std::os::fd::AsFd;

use nix::mqueue::{mq_close, mq_open, mq_receive, mq_remove_nonblock, mq_send, mq_set_nonblock};
use nix::mqueue::{mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;

use super::wait::Waiter;
use super::{unsupported, Channel, Inherited, Names, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::interrupt::retry;
use crate::sys::limits::{rlimit_msgqueue, sysctl};

pub struct PosixMq;

/// A queue descriptor that closes itself.
struct Queue(Option<MqdT>);

impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = mq_close(q);
        }
    }
}

impl Queue {
    fn get(&self) -> &MqdT {
        self.0.as_ref().expect("open until dropped")
    }
}

struct MqChannel {
    tx: Queue,
    rx: Queue,
    waiter: Waiter,
    names: Option<Names>,
}

impl Queue {
    fn send(&self, msg: &[u8]) -> io::Result<()> {
        retry(|| mq_send(self.get(), msg, 0))
    }
    /// A queue descriptor is a file descriptor on Linux: epoll watches it,
    /// and O_NONBLOCK (set with mq_setattr) makes mq_receive return EAGAIN.
    fn recv(&self, buf: &mut [u8], waiter: &mut Waiter) -> io::Result<usize> {
        let queue = self.get();
        let mut prio = 0;
        let call = |b: &mut [u8]| mq_receive(queue, b, &mut prio);
        waiter.receive_fd(queue.as_fd(), None, buf, call)
    }
}

impl Channel for MqChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rx.recv(buf, &mut self.waiter)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        if let Some(why) = PosixMq.wait_refused(wait) {
            return Err(unsupported(why.into()));
        }
        self.waiter = Waiter::on_fd(wait, self.rx.get().as_fd())?;
        match self.waiter.needs_nonblocking() {
            true => mq_set_nonblock(self.rx.get())?,
            false => mq_remove_nonblock(self.rx.get())?,
        };
        Ok(())
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let (tx, rx, waiter) = (&self.tx, &self.rx, &mut self.waiter);
        Ok(super::Halves::new(
            move |m| tx.send(m),
            move |b| rx.recv(b, waiter),
        ))
    }
    fn peer_joined(&mut self) -> io::Result<()> {
        self.names.take();
        Ok(())
    }
}

/// Queue depth: the kernel's default maximum, bounded so two queues fit the
/// per-user byte budget at the sizes we accept.
fn depth() -> i64 {
    sysctl("fs.mqueue.msg_max").unwrap_or(10).min(10) as i64
}

fn names(tag: &str) -> (String, String) {
    (format!("/{tag}-to-child"), format!("/{tag}-to-parent"))
}

fn open(name: &str, create: Option<&MqAttr>) -> io::Result<Queue> {
    let flags = MQ_OFlag::O_RDWR | MQ_OFlag::O_CLOEXEC;
    let flags = if create.is_some() {
        flags | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL
    } else {
        flags
    };
    match mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, create) {
        Ok(q) => Ok(Queue(Some(q))),
        Err(Errno::EMFILE) if create.is_some() => Err(unsupported(format!(
            "mq_open: EMFILE: the per-user POSIX queue budget RLIMIT_MSGQUEUE ({} bytes) is exhausted; it is raised with ulimit -q, which needs CAP_SYS_RESOURCE above the hard limit",
            rlimit_msgqueue().map_or(0, |l| l.0)
        ))),
        Err(Errno::ENOSYS) => Err(unsupported("mq_open: ENOSYS: this kernel has no POSIX message queues".into())),
        Err(e) => Err(e.into()),
    }
}

/// The receiving queue of a fan-in case; its name goes once all senders
/// have opened it.
struct QueueGather {
    queue: Queue,
    names: Names,
}

impl super::Gather for QueueGather {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.queue.recv(buf, &mut Waiter::Block).map(Some)
    }
    fn senders_joined(&mut self) -> io::Result<()> {
        self.names.remove_all();
        Ok(())
    }
}

/// Names that unlink their queues when dropped.
fn unlinker() -> Names {
    Names::new(|n| {
        let _ = mq_unlink(n);
    })
}

/// A new queue of `size`-byte messages, its name kept in `guard`.
fn create(name: &str, size: usize, guard: &mut Names) -> io::Result<Queue> {
    let attr = MqAttr::new(0, depth(), size as i64, 0);
    let queue = open(name, Some(&attr))?;
    guard.add(name);
    Ok(queue)
}

impl Transport for PosixMq {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "posix-mq"
    }
    fn description(&self) -> &'static str {
        "POSIX message queue pair (mq_open), opened by name"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::PosixQueue, super::Reach::Name)
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        match sysctl("fs.mqueue.msgsize_max") {
            Some(max) if size as u64 > max => Err(OverLimit {
                what: "message",
                needed: size as u64,
                limit: "fs.mqueue.msgsize_max".into(),
                value: max,
                remedy: format!("raise it as root: sysctl fs.mqueue.msgsize_max={size}; RLIMIT_MSGQUEUE must also hold two queues of {} such messages", depth()),
            }),
            _ => Ok(()),
        }
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::IoUring => {
                Some("io_uring has no mq_receive: a queue descriptor can only be polled")
            }
            _ => None,
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let (to_child, to_parent) = names(at.tag);
        let mut guard = unlinker();
        let tx = create(&to_child, at.size, &mut guard)?;
        let rx = create(&to_parent, at.size, &mut guard)?;
        Ok(Prepared::ready(Box::new(MqChannel {
            tx,
            rx,
            waiter: Waiter::Block,
            names: Some(guard),
        })))
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let (to_child, to_parent) = names(at.tag);
        Ok(Box::new(MqChannel {
            rx: open(&to_child, None)?,
            tx: open(&to_parent, None)?,
            waiter: Waiter::Block,
            names: None,
        }))
    }
    /// One queue that every sender opens by name.
    fn fan_in(&self, at: &Rendezvous, _senders: u32) -> io::Result<super::FanIn> {
        let mut guard = unlinker();
        let queue = create(&names(at.tag).1, at.size, &mut guard)?;
        Ok(super::FanIn {
            child_fds: Vec::new(),
            token: String::new(),
            receive: Box::new(move || {
                Ok(Box::new(QueueGather {
                    queue,
                    names: guard,
                }) as _)
            }),
            shared_stream: false,
        })
    }
    fn join_fan_in(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let queue = open(&names(at.tag).1, None)?;
        Ok(super::SendOnly::channel(move |m| queue.send(m)))
    }
    fn orphaned(&self, tag: &str, _token: &str) {
        let (a, b) = names(tag);
        let _ = (mq_unlink(a.as_str()), mq_unlink(b.as_str()));
    }
}
