//! Signalling alone: named POSIX semaphores and no payload. A round trip is
//! a post answered by a post; a throughput case counts posts per second.
//!
//! A data message is one post of `ping` (answered by one of `pong`), and
//! the harness checks only how many arrive. The harness's control messages
//! (start and end of the timed part) must arrive as bytes, so they travel as
//! notes on two small inherited pipes, one each way. The peer, asleep on
//! `ping`, is woken for a note by a post of `stop` and one of `ping`; the
//! note says how many data posts came before it, so the peer tells those
//! from the wake-up. Neither pipe is touched on the timed path.

use std::io;
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;

use super::stream::{read_exact, write_all};
use super::wait::Waiter;
use super::{Channel, Inherited, Names, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::interrupt::retry;
use crate::sys::posix_sem::NamedSemaphore;

pub struct Semaphore;

fn names(tag: &str) -> [String; 3] {
    ["ping", "pong", "stop"].map(|s| format!("/{tag}-{s}"))
}

/// The longest note a peer accepts: control messages are a few dozen bytes,
/// and a corrupt length must not become an allocation.
const MAX_NOTE: usize = 4096;

/// Writes a note: data posts sent before it, length, bytes.
fn write_note(fd: &OwnedFd, posts_before: u64, msg: &[u8]) -> io::Result<()> {
    if msg.len() > MAX_NOTE {
        return Err(super::too_large(msg.len(), MAX_NOTE));
    }
    let mut note = Vec::with_capacity(12 + msg.len());
    note.extend_from_slice(&posts_before.to_le_bytes());
    note.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    note.extend_from_slice(msg);
    write_all(fd, &note)
}

/// Reads a note: (data posts sent before it, its bytes).
fn read_note(fd: &OwnedFd) -> io::Result<(u64, Vec<u8>)> {
    let mut head = [0u8; 12];
    read_exact(fd, &mut head, &mut Waiter::Block)?;
    let posts_before = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(head[8..].try_into().expect("4 bytes")) as usize;
    if len > MAX_NOTE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a control note of {len} bytes; at most {MAX_NOTE} are sent"),
        ));
    }
    let mut msg = vec![0u8; len];
    read_exact(fd, &mut msg, &mut Waiter::Block)?;
    Ok((posts_before, msg))
}

/// Takes one post of `sem`, waiting as `waiter` does.
fn take(sem: &NamedSemaphore, waiter: &mut Waiter) -> io::Result<()> {
    let attempt = || match sem.try_wait() {
        Ok(true) => Ok(Some(())),
        Ok(false) => Ok(None),
        Err(e) => super::wait::nonblocking(Err(e)),
    };
    waiter.receive(attempt, || retry(|| sem.wait()))
}

/// Copies a note's bytes into a receive buffer.
fn deliver(buf: &mut [u8], msg: &[u8]) -> usize {
    let n = msg.len().min(buf.len());
    buf[..n].copy_from_slice(&msg[..n]);
    n
}

struct ParentEnd {
    ping: NamedSemaphore,
    pong: NamedSemaphore,
    stop: NamedSemaphore,
    notes: OwnedFd,
    answers: OwnedFd,
    /// Data posts since the last note.
    posts: u64,
    /// A note was sent: the next receive is its answer.
    awaiting_answer: bool,
    names: Option<Names>,
    waiter: Waiter,
}

struct PeerEnd {
    ping: NamedSemaphore,
    pong: NamedSemaphore,
    stop: NamedSemaphore,
    notes: OwnedFd,
    answers: OwnedFd,
    /// Data posts handed to the workload since the last note.
    posts: u64,
    /// A note announced by `stop`, not yet delivered.
    pending: Option<(u64, Vec<u8>)>,
    /// A post of `ping` taken while finding the note, not yet accounted.
    banked: bool,
    waiter: Waiter,
}

impl Channel for ParentEnd {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        self.posts += 1;
        retry(|| self.ping.post())
    }
    fn send_control(&mut self, msg: &[u8]) -> io::Result<()> {
        write_note(&self.notes, std::mem::take(&mut self.posts), msg)?;
        self.awaiting_answer = true;
        retry(|| self.stop.post())?;
        retry(|| self.ping.post())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.awaiting_answer) {
            let (_, answer) = read_note(&self.answers)?;
            return Ok(deliver(buf, &answer));
        }
        take(&self.pong, &mut self.waiter)?;
        Ok(0)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
    fn carries_payload(&self) -> bool {
        false
    }
    fn peer_joined(&mut self) -> io::Result<()> {
        self.names.take();
        Ok(())
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        // Posts one way, posts back: two semaphores, no shared state but
        // the count of posts the next control message reports.
        let (ping, pong, posts) = (&self.ping, &self.pong, &mut self.posts);
        let waiter = &mut self.waiter;
        Ok(super::Halves::new(
            move |_| {
                *posts += 1;
                retry(|| ping.post())
            },
            move |_| take(pong, waiter).map(|()| 0),
        ))
    }
}

impl PeerEnd {
    /// One post of `ping`, the banked one first.
    fn take_post(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.banked) {
            return Ok(());
        }
        take(&self.ping, &mut self.waiter)
    }
}

impl Channel for PeerEnd {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        retry(|| self.pong.post())
    }
    fn send_control(&mut self, msg: &[u8]) -> io::Result<()> {
        write_note(&self.answers, 0, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_none() {
            take(&self.ping, &mut self.waiter)?;
            if !retry(|| self.stop.try_wait())? {
                self.posts += 1;
                return Ok(0);
            }
            // The parent posted its data before `stop`; the post just taken
            // may be data or the wake-up, so it is banked and accounted below.
            self.pending = Some(read_note(&self.notes)?);
            self.banked = true;
        }
        self.take_post()?;
        let posts_before = self.pending.as_ref().map_or(0, |(n, _)| *n);
        if self.posts < posts_before {
            self.posts += 1;
            return Ok(0);
        }
        let (_, msg) = self.pending.take().expect("set above");
        self.posts = 0;
        Ok(deliver(buf, &msg))
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
    fn carries_payload(&self) -> bool {
        false
    }
}

impl Transport for Semaphore {
    fn copies(&self) -> super::Copies {
        super::Copies::NO_PAYLOAD
    }
    fn name(&self) -> &'static str {
        "semaphore"
    }
    fn description(&self) -> &'static str {
        "named POSIX semaphores (sem_open) ping-pong, no payload"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::PosixSemaphore, super::Reach::Name)
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        super::wait::without_descriptor(wait)
    }
    fn note(&self) -> Option<&'static str> {
        Some("no payload: message size does not apply; a message is one post, RTT is post-to-answered-post")
    }
    fn carries_payload(&self) -> bool {
        false
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let mut guard = Names::new(|n| {
            let _ = crate::sys::posix_sem::unlink(n);
        });
        let [ping, pong, stop] = names(at.tag).map(|n| {
            let s = NamedSemaphore::create(&n, 0);
            if s.is_ok() {
                guard.add(&n);
            }
            s
        });
        let (notes_r, notes_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (answers_r, answers_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let channel = ParentEnd {
            ping: ping?,
            pong: pong?,
            stop: stop?,
            notes: notes_w,
            answers: answers_r,
            posts: 0,
            awaiting_answer: false,
            names: Some(guard),
            waiter: Waiter::Block,
        };
        Ok(Prepared {
            child_fds: vec![notes_r, answers_w],
            ..Prepared::ready(Box::new(channel))
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("it carries no payload: posts from several senders cannot be told apart, so neither loss nor order could be checked")
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let [ping, pong, stop] = names(at.tag).map(|n| NamedSemaphore::open(&n));
        let [notes, answers]: [OwnedFd; 2] = inherited
            .fds
            .try_into()
            .map_err(|_| io::Error::other("semaphore expects its two note pipes"))?;
        Ok(Box::new(PeerEnd {
            ping: ping?,
            pong: pong?,
            stop: stop?,
            notes,
            answers,
            posts: 0,
            pending: None,
            banked: false,
            waiter: Waiter::Block,
        }))
    }
    fn orphaned(&self, tag: &str, _token: &str) {
        for n in names(tag) {
            let _ = crate::sys::posix_sem::unlink(&n);
        }
    }
}
