//! Signalling alone: named POSIX semaphores and no payload. A round trip is
//! a post answered by a post; a throughput case counts posts per second.
//!
//! A semaphore carries no bytes, so this channel maps the harness's messages
//! onto posts. A data message is one post of `ping`; the peer rebuilds its
//! header from what it has counted, and the parent's `recv` returns the
//! header it last sent (the "echo"). The two control messages of a case
//! (start of timing, end) also need the parent's message count: it goes
//! through a small pipe inherited by the peer, followed by a post of `stop`
//! and one of `ping` to wake the peer. Neither is used on the timed path.
//! A lost post shows up as a peer that never finishes (a timeout), a
//! duplicated one as a post left over.

use std::io;
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;

use super::stream::{read_exact, write_all};
use super::{Channel, Inherited, Names, Prepared, Rendezvous, Transport};
use crate::harness::message::{parse, Message, DATA, HEADER_BYTES};
use crate::sys::interrupt::retry;
use crate::sys::posix_sem::NamedSemaphore;

pub struct Semaphore;

fn names(tag: &str) -> [String; 3] {
    ["ping", "pong", "stop"].map(|s| format!("/{tag}-{s}"))
}

struct ParentEnd {
    ping: NamedSemaphore,
    pong: NamedSemaphore,
    stop: NamedSemaphore,
    /// Write end of the pipe that carries control messages' counts.
    control: OwnedFd,
    last: [u8; HEADER_BYTES],
    names: Option<Names>,
}

struct PeerEnd {
    ping: NamedSemaphore,
    pong: NamedSemaphore,
    stop: NamedSemaphore,
    control: OwnedFd,
    /// Data messages handed to the workload so far.
    delivered: u64,
    /// A control message announced, not yet delivered: (flags, seq).
    pending: Option<(u32, u64)>,
    /// A post taken while discovering the control message, not yet counted.
    banked: bool,
}

impl Channel for ParentEnd {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let header = parse(msg).ok_or_else(|| io::Error::other("unframed message"))?;
        self.last.copy_from_slice(&msg[..HEADER_BYTES]);
        if header.flags != DATA {
            let mut note = [0u8; 12];
            note[..4].copy_from_slice(&header.flags.to_le_bytes());
            note[4..].copy_from_slice(&header.seq.to_le_bytes());
            write_all(&self.control, &note)?;
            retry(|| self.stop.post())?;
        }
        retry(|| self.ping.post())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| self.pong.wait())?;
        buf[..HEADER_BYTES].copy_from_slice(&self.last);
        Ok(HEADER_BYTES)
    }
    fn peer_joined(&mut self) -> io::Result<()> {
        self.names.take();
        Ok(())
    }
}

impl PeerEnd {
    /// One post of `ping`, the banked one first.
    fn take_post(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.banked) {
            return Ok(());
        }
        retry(|| self.ping.wait())
    }

    fn deliver(&self, buf: &mut [u8], flags: u32, seq: u64) -> usize {
        let mut m = Message::new(HEADER_BYTES);
        m.stamp(flags, seq);
        buf[..HEADER_BYTES].copy_from_slice(&m.buf);
        HEADER_BYTES
    }
}

impl Channel for PeerEnd {
    fn send(&mut self, _msg: &[u8]) -> io::Result<()> {
        retry(|| self.pong.post())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_none() {
            retry(|| self.ping.wait())?;
            let announced = retry(|| self.stop.try_wait())?;
            if !announced {
                self.delivered += 1;
                return Ok(self.deliver(buf, DATA, self.delivered - 1));
            }
            // The parent posted all its data before `stop`; the post just
            // taken may be data or the wake-up, so it is banked and counted
            // like any other below.
            let mut note = [0u8; 12];
            read_exact(&self.control, &mut note)?;
            let flags = u32::from_le_bytes(note[..4].try_into().unwrap());
            let seq = u64::from_le_bytes(note[4..].try_into().unwrap());
            self.pending = Some((flags, seq));
            self.banked = true;
        }
        let (flags, seq) = self.pending.expect("set above");
        self.take_post()?;
        if self.delivered < seq {
            self.delivered += 1;
            return Ok(self.deliver(buf, DATA, self.delivered - 1));
        }
        self.pending = None;
        Ok(self.deliver(buf, flags, seq))
    }
}

impl Transport for Semaphore {
    fn name(&self) -> &'static str {
        "semaphore"
    }
    fn description(&self) -> &'static str {
        "named POSIX semaphores (sem_open) ping-pong, no payload"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::PosixSemaphore, super::Reach::Name)
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
        let (control_r, control_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let channel = ParentEnd {
            ping: ping?,
            pong: pong?,
            stop: stop?,
            control: control_w,
            last: [0; HEADER_BYTES],
            names: Some(guard),
        };
        Ok(Prepared {
            child_fds: vec![control_r],
            ..Prepared::ready(Box::new(channel))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let [ping, pong, stop] = names(at.tag).map(|n| NamedSemaphore::open(&n));
        let read = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("semaphore expects its control pipe"))?;
        Ok(Box::new(PeerEnd {
            ping: ping?,
            pong: pong?,
            stop: stop?,
            control: read,
            delivered: 0,
            pending: None,
            banked: false,
        }))
    }
    fn orphaned(&self, tag: &str, _token: &str) {
        for n in names(tag) {
            let _ = crate::sys::posix_sem::unlink(&n);
        }
    }
}
