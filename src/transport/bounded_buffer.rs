//! The classic bounded buffer over shared memory, shared by the POSIX and
//! System V shared-memory transports: per direction, a ring of slots, one
//! semaphore counting free slots and one counting full ones, so a fast
//! writer waits for a slow reader. Head and tail are private to each side
//! (one producer, one consumer per ring); the semaphores order the copies.
//! Each slot starts with the length that was sent, so a receive returns the
//! message as sent; a message larger than the slot is refused, never cut
//! short and never spilled into the next slot.

use std::io;
use std::os::fd::BorrowedFd;

use super::wait::{set_nonblocking, Waiter};
use super::{too_large, Channel};
use crate::results::Wait;
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;
use crate::sys::uring::Op;

/// Slots per direction.
pub const SLOTS: usize = 8;

/// Semaphore numbers: per ring, "free" then "full".
pub const TO_CHILD_FREE: usize = 0;
pub const TO_CHILD_FULL: usize = 1;
pub const TO_PARENT_FREE: usize = 2;
pub const TO_PARENT_FULL: usize = 3;
pub const INITIAL: [u16; 4] = [SLOTS as u16, 0, SLOTS as u16, 0];

/// The four counting semaphores, however the mechanism provides them.
pub trait Semaphores: Send + Sync {
    fn wait(&self, which: usize) -> nix::Result<()>;
    /// Takes one if the count is above zero; false if it is zero.
    fn try_wait(&self, which: usize) -> nix::Result<bool>;
    fn post(&self, which: usize) -> nix::Result<()>;
    /// A descriptor that a read takes one from (an eventfd): then the
    /// receiver waits on it as on any descriptor, epoll and io_uring too.
    fn descriptor(&self, _which: usize) -> Option<BorrowedFd<'_>> {
        None
    }
}

/// Bytes before each slot's payload: the length that was sent.
const LENGTH_BYTES: usize = 8;

fn stride(size: usize) -> usize {
    LENGTH_BYTES + size
}

pub fn region_len(size: usize) -> usize {
    2 * SLOTS * stride(size)
}

/// Why the bounded-buffer transports have no fan-in.
pub const NO_FAN_IN: &str = "its bounded buffer keeps each direction's slot index in the one producer's own memory: several producers would fill the same slot (the shm-ring rows measure a shared-memory fan-in, one ring per sender)";

pub struct BoundedBuffer<S: Semaphores> {
    map: Mapping,
    sems: S,
    size: usize,
    parent: bool,
    next_out: usize,
    next_in: usize,
    /// How a receive waits for its "full" semaphore.
    waiter: Waiter,
    /// Runs once the peer has joined (removes names).
    on_joined: Option<Box<dyn FnOnce() + Send>>,
}

impl<S: Semaphores> BoundedBuffer<S> {
    pub fn new(map: Mapping, sems: S, size: usize, parent: bool) -> Self {
        // First-touch page faults happen here, before anything is timed.
        map.touch();
        BoundedBuffer {
            map,
            sems,
            size,
            parent,
            next_out: 0,
            next_in: 0,
            waiter: Waiter::Block,
            on_joined: None,
        }
    }

    pub fn on_joined(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_joined = Some(Box::new(f));
        self
    }

    /// (ring offset, free semaphore, full semaphore) of a direction.
    fn ring(&self, to_child: bool) -> (usize, usize, usize) {
        if to_child {
            (0, TO_CHILD_FREE, TO_CHILD_FULL)
        } else {
            (SLOTS * stride(self.size), TO_PARENT_FREE, TO_PARENT_FULL)
        }
    }
}

/// One direction's ring, with the index this side uses next.
struct Direction<'a, S> {
    map: &'a Mapping,
    sems: &'a S,
    size: usize,
    /// (ring offset, free semaphore, full semaphore).
    ring: (usize, usize, usize),
    next: &'a mut usize,
    /// The receiving direction's; the sending one blocks.
    waiter: Option<&'a mut Waiter>,
}

impl<S: Semaphores> Direction<'_, S> {
    fn put(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.len() > self.size {
            return Err(too_large(msg.len(), self.size));
        }
        let (base, free, full) = self.ring;
        retry(|| self.sems.wait(free))?;
        let slot = base + *self.next * stride(self.size);
        self.map.write(slot, &(msg.len() as u64).to_ne_bytes());
        self.map.write(slot + LENGTH_BYTES, msg);
        *self.next = (*self.next + 1) % SLOTS;
        retry(|| self.sems.post(full))
    }

    /// Takes one from `full`, waiting as the receiver's waiter does.
    fn wait_full(&mut self, full: usize) -> io::Result<()> {
        let sems = self.sems;
        let Some(waiter) = self.waiter.as_deref_mut() else {
            return retry(|| sems.wait(full));
        };
        if let Some(fd) = sems.descriptor(full) {
            let mut count = [0u8; 8];
            let read = |b: &mut [u8]| nix::unistd::read(fd, b);
            return waiter
                .receive_fd(fd, Some(Op::Read), &mut count, read)
                .map(drop);
        }
        let taken = || match sems.try_wait(full) {
            Ok(true) => Ok(Some(())),
            Ok(false) => Ok(None),
            Err(e) => super::wait::nonblocking(Err(e)),
        };
        waiter.receive(taken, || retry(|| sems.wait(full)))
    }

    fn take(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (base, free, full) = self.ring;
        self.wait_full(full)?;
        let slot = base + *self.next * stride(self.size);
        let mut length = [0u8; LENGTH_BYTES];
        self.map.read(slot, &mut length);
        // The peer wrote it; trust it no further than the slot.
        let n = (u64::from_ne_bytes(length) as usize).min(self.size);
        let copied = n.min(buf.len());
        self.map.read(slot + LENGTH_BYTES, &mut buf[..copied]);
        *self.next = (*self.next + 1) % SLOTS;
        retry(|| self.sems.post(free))?;
        // A length other than buf.len() is the verifier's business, as with
        // datagrams received with MSG_TRUNC.
        Ok(n)
    }
}

impl<S: Semaphores> BoundedBuffer<S> {
    /// (outgoing, incoming), each with its own index.
    fn directions(&mut self) -> (Direction<'_, S>, Direction<'_, S>) {
        let (out, inc) = (self.ring(self.parent), self.ring(!self.parent));
        let (map, sems, size) = (&self.map, &self.sems, self.size);
        let direction = |ring, next, waiter| Direction {
            map,
            sems,
            size,
            ring,
            next,
            waiter,
        };
        (
            direction(out, &mut self.next_out, None),
            direction(inc, &mut self.next_in, Some(&mut self.waiter)),
        )
    }
}

impl<S: Semaphores> Channel for BoundedBuffer<S> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.directions().0.put(msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.directions().1.take(buf)
    }

    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let (mut out, mut inc) = self.directions();
        Ok(super::Halves::new(
            move |m| out.put(m),
            move |b| inc.take(b),
        ))
    }

    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        let full = self.ring(!self.parent).2;
        self.waiter = match self.sems.descriptor(full) {
            Some(fd) => {
                let waiter = Waiter::on_fd(wait, fd)?;
                set_nonblocking(fd, waiter.needs_nonblocking())?;
                waiter
            }
            None => Waiter::without_fd(wait)?,
        };
        Ok(())
    }

    fn peer_joined(&mut self) -> io::Result<()> {
        if let Some(f) = self.on_joined.take() {
            f();
        }
        Ok(())
    }
}
