//! The classic bounded buffer over shared memory, shared by the POSIX and
//! System V shared-memory transports: per direction, a ring of slots, one
//! semaphore counting free slots and one counting full ones, so a fast
//! writer waits for a slow reader. Head and tail are private to each side
//! (one producer, one consumer per ring); the semaphores order the copies.

use std::io;

use super::Channel;
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;

/// Slots per direction.
pub const SLOTS: usize = 8;

/// Semaphore numbers: per ring, "free" then "full".
pub const TO_CHILD_FREE: usize = 0;
pub const TO_CHILD_FULL: usize = 1;
pub const TO_PARENT_FREE: usize = 2;
pub const TO_PARENT_FULL: usize = 3;
pub const INITIAL: [u16; 4] = [SLOTS as u16, 0, SLOTS as u16, 0];

/// The four counting semaphores, however the mechanism provides them.
pub trait Semaphores {
    fn wait(&self, which: usize) -> nix::Result<()>;
    fn post(&self, which: usize) -> nix::Result<()>;
}

pub fn region_len(size: usize) -> usize {
    2 * SLOTS * size
}

pub struct BoundedBuffer<S: Semaphores> {
    map: Mapping,
    sems: S,
    size: usize,
    parent: bool,
    next_out: usize,
    next_in: usize,
    /// Runs once the peer has joined (removes names).
    on_joined: Option<Box<dyn FnOnce()>>,
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
            on_joined: None,
        }
    }

    pub fn on_joined(mut self, f: impl FnOnce() + 'static) -> Self {
        self.on_joined = Some(Box::new(f));
        self
    }

    /// (ring offset, free semaphore, full semaphore) of a direction.
    fn ring(&self, to_child: bool) -> (usize, usize, usize) {
        if to_child {
            (0, TO_CHILD_FREE, TO_CHILD_FULL)
        } else {
            (SLOTS * self.size, TO_PARENT_FREE, TO_PARENT_FULL)
        }
    }
}

impl<S: Semaphores> Channel for BoundedBuffer<S> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let (base, free, full) = self.ring(self.parent);
        retry(|| self.sems.wait(free))?;
        self.map.write(base + self.next_out * self.size, msg);
        self.next_out = (self.next_out + 1) % SLOTS;
        retry(|| self.sems.post(full))
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (base, free, full) = self.ring(!self.parent);
        retry(|| self.sems.wait(full))?;
        let n = buf.len().min(self.size);
        self.map
            .read(base + self.next_in * self.size, &mut buf[..n]);
        self.next_in = (self.next_in + 1) % SLOTS;
        retry(|| self.sems.post(free))?;
        Ok(n)
    }

    fn peer_joined(&mut self) -> io::Result<()> {
        if let Some(f) = self.on_joined.take() {
            f();
        }
        Ok(())
    }
}
