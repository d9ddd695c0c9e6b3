//! iceoryx2's model: a pool of slots in shared memory (an inherited memfd).
//! The sender loans a slot, builds its message there, and publishes only
//! the slot's number; the receiver reads the message where it lies and
//! hands the slot back. No byte of the payload is copied by the transport.
//!
//! Layout: four of shm-ring's rings, each carrying 16-byte notes (a slot's
//! number and the message's length), then the pool. Half the slots are the
//! parent's to lend, half the peer's:
//!   ring 0: parent → peer, messages published (or echoed)
//!   ring 1: peer → parent, the same
//!   ring 2: the parent's slots, handed back by the peer
//!   ring 3: the peer's slots, handed back by the parent
//! A slot travels to the other side and back, or to the other side and,
//! echoed, home again: its owner then frees it without a note. There are
//! never more notes in flight than slots, and each ring holds as many as
//! the pool, so a note never waits for room. shm-ring's rings carry the
//! ordering proof and the futex handshake that loses no wake-up.
//!
//! The receiver waits for a note as `--waits` says; a sender out of slots
//! spins a while and sleeps, as shm-ring's sender does for room.

use std::io;
use std::ops::Range;

use nix::sys::memfd::{memfd_create, MFdFlags};

use super::lending::{recv_by_copy, send_by_copy, Lending};
use super::shm_ring::{ring_len, Ring};
use super::wait::Waiter;
use super::{too_large, Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::mapping::Mapping;

pub struct ShmLoan;

/// A note: the slot's number, then the message's length.
const NOTE: usize = 16;
const RINGS: usize = 4;
const PAGE: usize = 4096;

/// Where things lie in the segment, for messages of `size` bytes.
#[derive(Clone, Copy)]
struct Layout {
    size: usize,
    /// Bytes from one slot to the next: a page for page-sized messages (a
    /// loan then never shares a page with another), a cache line below.
    stride: usize,
    /// Slots each side lends.
    per_side: u64,
    pool: usize,
}

impl Layout {
    fn new(size: usize) -> Layout {
        let align = if size >= PAGE { PAGE } else { 64 };
        let stride = size.max(1).div_ceil(align) * align;
        // At most 4 MiB of slots per side, as shm-ring's rings; at least
        // two, so a sender can build one while the other is read.
        let per_side = ((4 << 20) / stride).clamp(2, 32) as u64;
        Layout {
            size,
            stride,
            per_side,
            pool: (RINGS * ring_len(NOTE)).div_ceil(PAGE) * PAGE,
        }
    }
    fn len(&self) -> usize {
        self.pool + 2 * self.per_side as usize * self.stride
    }
    fn slot(&self, index: u64) -> usize {
        self.pool + index as usize * self.stride
    }
    fn ring(&self, i: usize) -> Ring {
        Ring::new(i * ring_len(NOTE), NOTE)
    }
}

struct LoanChannel {
    map: Mapping,
    layout: Layout,
    /// Notes of messages this side publishes, and of those it receives.
    out: Ring,
    inc: Ring,
    /// This side's slots, handed back; the other side's, handed back.
    home: Ring,
    away: Ring,
    mine: Range<u64>,
    free: Vec<u64>,
    loaned: Option<u64>,
    taken: Option<(u64, usize)>,
    /// The last message published: what `alter_published` reaches for.
    published: Option<(u64, usize)>,
    waiter: Waiter,
}

impl LoanChannel {
    fn new(map: Mapping, layout: Layout, parent: bool) -> LoanChannel {
        let n = layout.per_side;
        let (out, inc, home, away, mine) = if parent {
            (0, 1, 2, 3, 0..n)
        } else {
            (1, 0, 3, 2, n..2 * n)
        };
        map.touch();
        LoanChannel {
            map,
            layout,
            out: layout.ring(out),
            inc: layout.ring(inc),
            home: layout.ring(home),
            away: layout.ring(away),
            free: mine.clone().rev().collect(),
            mine,
            loaned: None,
            taken: None,
            published: None,
            waiter: Waiter::Block,
        }
    }

    fn note(slot: u64, len: usize) -> [u8; NOTE] {
        let mut note = [0u8; NOTE];
        note[..8].copy_from_slice(&slot.to_ne_bytes());
        note[8..].copy_from_slice(&(len as u64).to_ne_bytes());
        note
    }

    /// Reads a note the other side wrote, trusting it no further than the
    /// pool and the slot.
    fn read_note(&self, note: &[u8; NOTE]) -> io::Result<(u64, usize)> {
        let slot = u64::from_ne_bytes(note[..8].try_into().expect("8 bytes"));
        let len = u64::from_ne_bytes(note[8..].try_into().expect("8 bytes"));
        if slot >= 2 * self.layout.per_side || len > self.layout.size as u64 {
            return Err(io::Error::other(format!(
                "shm-loan: the peer sent slot {slot} of {len} bytes; the pool has {} slots of {} bytes",
                2 * self.layout.per_side,
                self.layout.size
            )));
        }
        Ok((slot, len as usize))
    }

    /// One of this side's slots: a free one, or the next handed back.
    fn free_slot(&mut self) -> io::Result<u64> {
        if let Some(slot) = self.free.pop() {
            return Ok(slot);
        }
        let mut note = [0u8; NOTE];
        self.home.recv(&self.map, &mut note, &mut Waiter::Hybrid)?;
        let (slot, _) = self.read_note(&note)?;
        if !self.mine.contains(&slot) {
            return Err(io::Error::other(format!(
                "shm-loan: the peer handed back slot {slot}, which is not this side's"
            )));
        }
        Ok(slot)
    }
}

impl Lending for LoanChannel {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        if len > self.layout.size {
            return Err(too_large(len, self.layout.size));
        }
        let slot = match self.loaned {
            Some(slot) => slot,
            None => self.free_slot()?,
        };
        self.loaned = Some(slot);
        let at = self.layout.slot(slot);
        // SAFETY: the slot is this side's (from its free list or handed
        // back), and the other side touches it again only once `publish`
        // has sent its number; `&mut self` ends this borrow before that.
        Ok(unsafe { self.map.bytes_mut(at, len) })
    }

    fn publish(&mut self, len: usize) -> io::Result<()> {
        let slot = self
            .loaned
            .take()
            .ok_or_else(|| io::Error::other("shm-loan: publish without a loan"))?;
        self.published = Some((slot, len));
        self.out.send(&self.map, &Self::note(slot, len))
    }

    fn take(&mut self) -> io::Result<&[u8]> {
        if self.taken.is_none() {
            let mut note = [0u8; NOTE];
            self.inc.recv(&self.map, &mut note, &mut self.waiter)?;
            self.taken = Some(self.read_note(&note)?);
        }
        let (slot, len) = self.taken.expect("taken above");
        // SAFETY: the sender published this slot and writes it again only
        // after `release` or `echo` has sent it on; `&mut self` ends this
        // borrow before either.
        Ok(unsafe { self.map.bytes(self.layout.slot(slot), len) })
    }

    fn release(&mut self) -> io::Result<()> {
        let Some((slot, _)) = self.taken.take() else {
            return Ok(());
        };
        if self.mine.contains(&slot) {
            self.free.push(slot);
            Ok(())
        } else {
            self.away.send(&self.map, &Self::note(slot, 0))
        }
    }

    fn echo(&mut self) -> io::Result<()> {
        let (slot, len) = self
            .taken
            .take()
            .ok_or_else(|| io::Error::other("shm-loan: echo of nothing taken"))?;
        self.out.send(&self.map, &Self::note(slot, len))
    }

    fn alter_published(&mut self) -> io::Result<()> {
        let (slot, len) = self
            .published
            .ok_or_else(|| io::Error::other("shm-loan: nothing published"))?;
        // SAFETY: against the protocol on purpose (the slot is the
        // receiver's now), for the probe, whose receiver takes the message
        // only after this returns: nobody reads the slot meanwhile.
        let bytes = unsafe { self.map.bytes_mut(self.layout.slot(slot), len) };
        if let Some(last) = bytes.last_mut() {
            *last ^= 0xFF;
        }
        Ok(())
    }
}

impl Channel for LoanChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_by_copy(self, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_by_copy(self, buf)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        Some(self)
    }
}

impl Transport for ShmLoan {
    fn name(&self) -> &'static str {
        "shm-loan"
    }
    fn description(&self) -> &'static str {
        "slots loaned from a pool in shared memory (memfd); only the slot's number moves"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's pool of loaned slots in an inherited memfd, their numbers carried by shm-ring's rings"),
            lends: true,
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 0,
            why: "the sender builds the message in a loaned slot of shared memory and the receiver reads it there; only the slot's number moves",
        }
    }
    fn note(&self) -> Option<&'static str> {
        Some("under --verify seq only a slot's number moves, whatever the size: the transport's own cost; under full the sender writes and the receiver checksums every byte in place")
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::Epoll | Wait::IoUring => Some("its receiver waits on a futex word in shared memory, which has no descriptor for epoll or io_uring"),
            _ => None,
        }
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("each pool is lent between two sides; several senders would need a pool each")
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let layout = Layout::new(at.size);
        let memory = memfd_create("ipcbench-shm-loan", MFdFlags::MFD_CLOEXEC)?;
        nix::unistd::ftruncate(&memory, layout.len() as i64)?;
        let map = Mapping::map_fd(&memory, layout.len())?;
        Ok(Prepared {
            child_fds: vec![memory],
            ..Prepared::ready(Box::new(LoanChannel::new(map, layout, true)))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let layout = Layout::new(at.size);
        let memory = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("shm-loan expects its memfd"))?;
        let map = Mapping::map_fd(&memory, layout.len())?;
        Ok(Box::new(LoanChannel::new(map, layout, false)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::message::{Message, Verifier, Verify};

    /// The parent keeps more messages in flight than it has slots, so it
    /// waits for slots handed back while the peer echoes some and releases
    /// others: every message arrives whole and in order, and every slot
    /// comes home (or the sender would wait for one forever).
    #[test]
    fn loans_travel_and_come_home_intact() {
        const SIZE: usize = 4096;
        const COUNT: u64 = 20_000;
        let dir = tempfile::tempdir().unwrap();
        let (mut parent, mut peer) =
            super::super::open_pair(&ShmLoan, dir.path(), "t", SIZE, |_| {}).unwrap();
        let per_side = Layout::new(SIZE).per_side;
        let echoer = std::thread::spawn(move || {
            let lender = peer.lending().unwrap();
            let mut v = Verifier::new(Verify::Full);
            for seq in 0..COUNT {
                let msg = lender.take().unwrap();
                v.check(msg, SIZE);
                // Every third message is echoed as it lies, the rest released.
                if seq % 3 == 0 {
                    lender.echo().unwrap();
                } else {
                    lender.release().unwrap();
                }
            }
            v.finish(COUNT)
        });
        let lender = parent.lending().unwrap();
        let mut out = Message::new(SIZE);
        let mut echoes = Verifier::new(Verify::Full);
        let mut expected = (0..COUNT).filter(|s| s % 3 == 0).peekable();
        for seq in 0..COUNT {
            out.build_in(lender.loan(SIZE).unwrap(), seq, Verify::Full);
            lender.publish(SIZE).unwrap();
            // Echoes are read in bursts, so slots run out in between.
            if seq % (2 * per_side) == 2 * per_side - 1 || seq == COUNT - 1 {
                while expected.next_if(|&s| s <= seq).is_some() {
                    let msg = lender.take().unwrap();
                    echoes.check(msg, SIZE);
                    lender.release().unwrap();
                }
            }
        }
        assert_eq!(echoer.join().unwrap().total(), 0);
        let echoed = COUNT.div_ceil(3);
        let c = echoes.finish(COUNT);
        // The echoes' sequence numbers step by three: the others count as
        // missing to this verifier, and nothing else may be wrong.
        assert_eq!((c.corrupted, c.duplicated, c.reordered), (0, 0, 0));
        assert_eq!(c.lost, COUNT - echoed);
    }
}
