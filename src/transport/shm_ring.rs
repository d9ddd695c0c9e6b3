//! A lock-free single-producer single-consumer ring per direction in shared
//! memory (an inherited memfd): the fastest path the hardware allows, and
//! the reference for the physical limit. A receiver that finds its ring
//! empty waits as `--waits` says: sleeps on a futex at once (`block`),
//! spins (`spin`), or spins for a bounded time and then sleeps (`hybrid`,
//! what every shm-ring row did before the axis existed); a sender that
//! finds its ring full always does the last.
//!
//! Layout of one ring, each field on its own 64-byte cache line so the two
//! sides never write the same line:
//!   line 0: `head`, messages written (only the producer stores it)
//!   line 1: `tail`, messages read (only the consumer stores it)
//!   line 2: `data_seq` (futex word the consumer sleeps on), `consumer_asleep`
//!   line 3: `space_seq` (futex word the producer sleeps on), `producer_asleep`
//!   then the slots, each a sequence word, an 8-byte length (what was sent)
//!   and `size` bytes, rounded up to a cache line. A message larger than
//!   `size` is refused.
//!
//! A message crosses as few lines as it can: the consumer waits on the
//! sequence word in the slot it reads next, not on `head`, so the line
//! that says "here" also carries the length and the payload's start; the
//! producer keeps its own copy of `tail` and reads the consumer's line only
//! when that copy says the ring is full.
//!
//! Memory ordering:
//! - The producer copies a message into slot `head % n`, then swaps the
//!   slot's sequence word to `head + 1` (SeqCst, so Release too); the consumer loads it
//!   with Acquire and sees `tail + 1` only when message `tail` is whole
//!   (a slot is rewritten a lap later, with a different number).
//! - The consumer copies the slot out, then swaps `tail` to `tail + 1`;
//!   the producer loads `tail` with Acquire before reusing that slot, so it
//!   never overwrites bytes still being read. A stale copy of `tail` only
//!   makes the ring look fuller than it is.
//! - Sleeping is a Dekker handshake. The sleeper stores `asleep = 1`
//!   (SeqCst), issues a SeqCst fence, reads the futex word, and re-checks
//!   the sequence word before futex_wait(word, value); the other side
//!   publishes the sequence word (or `tail`) with a SeqCst swap, whose
//!   locked instruction is the fence, and then loads `asleep` (SeqCst). One of the two must see the
//!   other's store: either the sleeper sees the new index and does not
//!   sleep, or the waker sees `asleep` and bumps the word and wakes it; a
//!   bump between the sleeper's read and its wait makes futex_wait return at
//!   once. No wake-up is lost, and the fast path makes no system call.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use nix::sys::memfd::{memfd_create, MFdFlags};

use super::wait::Waiter;
use super::{too_large, Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::futex;
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;

pub struct ShmRing;

pub(super) const LINE: usize = 64;
const HEADER: usize = 4 * LINE;

/// Slots per ring: many small ones, few large ones (4 MiB per ring at most).
pub(super) fn slots(size: usize) -> usize {
    // A power of two, so a slot's place is a mask, not a division, on the
    // path every message takes.
    let fit = ((4 << 20) / stride(size)).clamp(2, 64);
    1 << fit.ilog2()
}

/// Bytes before each slot's payload: its sequence word (the number of the
/// message in it, plus one: 0 is a slot never written), then the length
/// that was sent.
pub(super) const SEQ_BYTES: usize = 8;
pub(super) const LENGTH_BYTES: usize = 8;
pub(super) const SLOT_HEADER: usize = SEQ_BYTES + LENGTH_BYTES;

pub(super) fn stride(size: usize) -> usize {
    (SLOT_HEADER + size).div_ceil(LINE) * LINE
}

pub(super) fn ring_len(size: usize) -> usize {
    HEADER + slots(size) * stride(size)
}

/// One direction of the channel, as seen from one side.
pub(super) struct Ring {
    base: usize,
    size: usize,
    slots: usize,
    stride: usize,
    /// The producer's last reading of `tail`, in its own memory: it looks
    /// at the consumer's line again only when this says the ring is full.
    seen_tail: AtomicU64,
}

impl Ring {
    pub(super) fn new(base: usize, size: usize) -> Ring {
        Ring {
            base,
            size,
            slots: slots(size),
            stride: stride(size),
            seen_tail: AtomicU64::new(0),
        }
    }
}

impl Ring {
    fn head<'a>(&self, m: &'a Mapping) -> &'a AtomicU64 {
        m.atomic_u64(self.base)
    }
    fn tail<'a>(&self, m: &'a Mapping) -> &'a AtomicU64 {
        m.atomic_u64(self.base + LINE)
    }
    fn data_seq<'a>(&self, m: &'a Mapping) -> &'a AtomicU32 {
        m.atomic_u32(self.base + 2 * LINE)
    }
    fn consumer_asleep<'a>(&self, m: &'a Mapping) -> &'a AtomicU32 {
        m.atomic_u32(self.base + 2 * LINE + 4)
    }
    fn space_seq<'a>(&self, m: &'a Mapping) -> &'a AtomicU32 {
        m.atomic_u32(self.base + 3 * LINE)
    }
    fn producer_asleep<'a>(&self, m: &'a Mapping) -> &'a AtomicU32 {
        m.atomic_u32(self.base + 3 * LINE + 4)
    }
    fn slot(&self, index: u64) -> usize {
        self.base + HEADER + (index as usize & (self.slots - 1)) * self.stride
    }
    /// The sequence word of message `index`'s slot.
    fn seq<'a>(&self, m: &'a Mapping, index: u64) -> &'a AtomicU64 {
        m.atomic_u64(self.slot(index))
    }
    /// Whether message `index` is in its slot.
    fn holds(&self, m: &Mapping, index: u64) -> bool {
        self.seq(m, index).load(Ordering::Acquire) == index + 1
    }
    /// Whether the producer, at `head`, may write: first by what it last
    /// saw of `tail`, then by a fresh look at the consumer's line.
    fn has_room(&self, m: &Mapping, head: u64) -> bool {
        let slots = self.slots as u64;
        if head - self.seen_tail.load(Ordering::Relaxed) < slots {
            return true;
        }
        let tail = self.tail(m).load(Ordering::Acquire);
        self.seen_tail.store(tail, Ordering::Relaxed);
        head - tail < slots
    }
}

/// Waits until `ready()` holds, as `waiter` says: spins, sleeps on `seq`
/// with `asleep` raised (see the module comment for why no wake-up is
/// lost), or spins and then sleeps.
pub(super) fn wait_until(
    ready: impl Fn() -> bool,
    seq: &AtomicU32,
    asleep: &AtomicU32,
    waiter: &mut Waiter,
) -> io::Result<()> {
    waiter.receive(
        || Ok(ready().then_some(())),
        || sleep_until(&ready, seq, asleep),
    )
}

fn sleep_until(ready: &impl Fn() -> bool, seq: &AtomicU32, asleep: &AtomicU32) -> io::Result<()> {
    loop {
        asleep.store(1, Ordering::SeqCst);
        // Orders the store above before the index load in `ready` (the
        // sleeper's half of the handshake).
        fence(Ordering::SeqCst);
        let value = seq.load(Ordering::SeqCst);
        if ready() {
            asleep.store(0, Ordering::SeqCst);
            return Ok(());
        }
        let slept = retry(|| futex::wait(seq, value));
        asleep.store(0, Ordering::SeqCst);
        slept?;
        if ready() {
            return Ok(());
        }
    }
}

/// Wakes the other side if it went to sleep on `seq`. The caller has just
/// published its index with a SeqCst swap: that locked instruction orders
/// the store before this load (the waker's half of the handshake), for
/// less than a store and a separate fence.
pub(super) fn wake_if_asleep(seq: &AtomicU32, asleep: &AtomicU32) {
    if asleep.load(Ordering::SeqCst) == 1 {
        seq.fetch_add(1, Ordering::SeqCst);
        futex::wake(seq, 1);
    }
}

struct RingChannel {
    map: Mapping,
    out: Ring,
    inc: Ring,
    waiter: Waiter,
}

impl RingChannel {
    fn new(map: Mapping, size: usize, parent: bool) -> RingChannel {
        let ring = |i: usize| Ring::new(i * ring_len(size), size);
        let (out, inc) = if parent {
            (ring(0), ring(1))
        } else {
            (ring(1), ring(0))
        };
        map.touch();
        RingChannel {
            map,
            out,
            inc,
            waiter: Waiter::Block,
        }
    }
}

impl Channel for RingChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.out.send(&self.map, msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inc.recv(&self.map, buf, &mut self.waiter)
    }

    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }

    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        // Each ring has one producer and one consumer: the two threads use
        // different rings.
        let (m, out, inc, waiter) = (&self.map, &self.out, &self.inc, &mut self.waiter);
        Ok(super::Halves::new(
            move |msg| out.send(m, msg),
            move |buf| inc.recv(m, buf, waiter),
        ))
    }
}

impl Ring {
    pub(super) fn send(&self, m: &Mapping, msg: &[u8]) -> io::Result<()> {
        self.send_waking(m, msg, (self.data_seq(m), self.consumer_asleep(m)))
    }

    /// Sends, then wakes the consumer through `bell` (its futex word and
    /// asleep flag) if it sleeps there.
    fn send_waking(
        &self,
        m: &Mapping,
        msg: &[u8],
        (bell, bell_asleep): (&AtomicU32, &AtomicU32),
    ) -> io::Result<()> {
        let r = self;
        if msg.len() > r.size {
            return Err(too_large(msg.len(), r.size));
        }
        // Only the producer writes `head`: it stays in its cache.
        let head = r.head(m).load(Ordering::Relaxed);
        // Room is the sender's wait, not the receiver's: it always spins a
        // while before it sleeps.
        let waiter = &mut Waiter::Hybrid;
        let has_room = || r.has_room(m, head);
        wait_until(has_room, r.space_seq(m), r.producer_asleep(m), waiter)?;
        let slot = r.slot(head);
        m.write(slot + SEQ_BYTES, &(msg.len() as u64).to_ne_bytes());
        m.write(slot + SLOT_HEADER, msg);
        // The slot's own word publishes it: the consumer reads the line it
        // was going to read anyway, not a separate index.
        r.seq(m, head).swap(head + 1, Ordering::SeqCst);
        r.head(m).store(head + 1, Ordering::Relaxed);
        wake_if_asleep(bell, bell_asleep);
        Ok(())
    }

    pub(super) fn recv(
        &self,
        m: &Mapping,
        buf: &mut [u8],
        waiter: &mut Waiter,
    ) -> io::Result<usize> {
        let r = self;
        let tail = r.tail(m).load(Ordering::Relaxed);
        let has_data = || r.holds(m, tail);
        wait_until(has_data, r.data_seq(m), r.consumer_asleep(m), waiter)?;
        Ok(r.take(m, buf))
    }

    fn has_data(&self, m: &Mapping) -> bool {
        self.holds(m, self.tail(m).load(Ordering::Relaxed))
    }

    /// Takes the next message, which must be there.
    fn take(&self, m: &Mapping, buf: &mut [u8]) -> usize {
        let r = self;
        let tail = r.tail(m).load(Ordering::Relaxed);
        let mut length = [0u8; LENGTH_BYTES];
        m.read(r.slot(tail) + SEQ_BYTES, &mut length);
        // The peer wrote it; trust it no further than the slot.
        let n = (u64::from_ne_bytes(length) as usize).min(r.size);
        let copied = n.min(buf.len());
        m.read(r.slot(tail) + SLOT_HEADER, &mut buf[..copied]);
        r.tail(m).swap(tail + 1, Ordering::SeqCst);
        wake_if_asleep(r.space_seq(m), r.producer_asleep(m));
        n
    }
}

/// Fan-in: one ring per sender after a doorbell line (the futex word the
/// receiver sleeps on, and its asleep flag). Each ring keeps one producer
/// and one consumer, so the SPSC protocol above holds unchanged; a sender
/// rings the shared doorbell instead of its ring's own word, and the
/// receiver takes from the rings in turn.
fn fan_in_len(size: usize, senders: u32) -> usize {
    LINE + senders as usize * ring_len(size)
}

fn fan_in_ring(size: usize, sender: u32) -> Ring {
    Ring::new(LINE + sender as usize * ring_len(size), size)
}

fn doorbell(m: &Mapping) -> (&AtomicU32, &AtomicU32) {
    (m.atomic_u32(0), m.atomic_u32(4))
}

struct RingGather {
    map: Mapping,
    rings: Vec<Ring>,
    next: usize,
}

impl super::Gather for RingGather {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let (m, rings) = (&self.map, &self.rings);
        let (bell, asleep) = doorbell(m);
        // Fan-in rows are `block`: the receiver sleeps at once.
        let ready = || rings.iter().any(|r| r.has_data(m));
        wait_until(ready, bell, asleep, &mut Waiter::Block)?;
        let n = rings.len();
        let i = (0..n)
            .map(|k| (self.next + k) % n)
            .find(|&i| rings[i].has_data(m))
            .expect("a ring with data, as waited for");
        self.next = (i + 1) % n;
        Ok(Some(rings[i].take(m, buf)))
    }
}

struct RingSender {
    map: Mapping,
    ring: Ring,
}

impl Channel for RingSender {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.ring.send_waking(&self.map, msg, doorbell(&self.map))
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("a fan-in sender receives nothing"))
    }
}

impl Transport for ShmRing {
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_A_SLOT
    }
    fn name(&self) -> &'static str {
        "shm-ring"
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::Epoll | Wait::IoUring => Some("its receiver waits on a futex word in shared memory, which has no descriptor for epoll or io_uring"),
            _ => None,
        }
    }
    fn description(&self) -> &'static str {
        "lock-free SPSC ring in shared memory (memfd), futex wake-ups"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's lock-free ring in an inherited memfd, with futex wake-ups"),
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let memory = memfd_create("ipcbench-shm-ring", MFdFlags::MFD_CLOEXEC)?;
        let len = 2 * ring_len(at.size);
        nix::unistd::ftruncate(&memory, len as i64)?;
        let map = Mapping::map_fd(&memory, len)?;
        Ok(Prepared {
            child_fds: vec![memory],
            ..Prepared::ready(Box::new(RingChannel::new(map, at.size, true)))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let memory: OwnedFd = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("shm-ring expects its memfd"))?;
        let map = Mapping::map_fd(&memory, 2 * ring_len(at.size))?;
        Ok(Box::new(RingChannel::new(map, at.size, false)))
    }
    fn fan_in(&self, at: &Rendezvous, senders: u32) -> io::Result<super::FanIn> {
        let memory = memfd_create("ipcbench-shm-ring-fan-in", MFdFlags::MFD_CLOEXEC)?;
        let len = fan_in_len(at.size, senders);
        nix::unistd::ftruncate(&memory, len as i64)?;
        let map = Mapping::map_fd(&memory, len)?;
        map.touch();
        let rings = (0..senders).map(|i| fan_in_ring(at.size, i)).collect();
        Ok(super::FanIn {
            child_fds: vec![memory],
            token: senders.to_string(),
            receive: Box::new(move || {
                Ok(Box::new(RingGather {
                    map,
                    rings,
                    next: 0,
                }) as _)
            }),
            shared_stream: false,
        })
    }
    fn join_fan_in(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let senders: u32 = inherited
            .token
            .parse()
            .map_err(|_| io::Error::other("shm-ring fan-in expects the sender count"))?;
        let sender = inherited.member;
        let memory = super::only_fd(inherited, "shm-ring")?;
        let map = Mapping::map_fd(&memory, fan_in_len(at.size, senders))?;
        Ok(Box::new(RingSender {
            map,
            ring: fan_in_ring(at.size, sender),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::message::{Message, Verifier, Verify};

    /// Two threads, each with its own mapping of one memfd (as two processes
    /// would have), stream messages both ways at once with full
    /// verification, under contention: a broken ordering shows up as a
    /// corrupted, lost or repeated message.
    #[test]
    fn the_ring_delivers_every_message_intact_under_contention() {
        const SIZE: usize = 64;
        const COUNT: u64 = 200_000;
        let memory = memfd_create("ring-test", MFdFlags::MFD_CLOEXEC).unwrap();
        let len = 2 * ring_len(SIZE);
        nix::unistd::ftruncate(&memory, len as i64).unwrap();
        let peer_map = Mapping::map_fd(&memory, len).unwrap();
        let mut parent = RingChannel::new(Mapping::map_fd(&memory, len).unwrap(), SIZE, true);
        let child = std::thread::spawn(move || {
            let mut ch = RingChannel::new(peer_map, SIZE, false);
            let mut v = Verifier::new(Verify::Full);
            let mut msg = Message::new(SIZE);
            let mut buf = vec![0u8; SIZE];
            for seq in 0..COUNT {
                let n = ch.recv(&mut buf).unwrap();
                v.check(&buf[..n], SIZE);
                msg.stamp(crate::harness::message::DATA, seq);
                ch.send(&msg.buf).unwrap();
            }
            v.finish(COUNT)
        });
        let sender = {
            let mut v = Verifier::new(Verify::Full);
            let mut msg = Message::new(SIZE);
            let mut buf = vec![0u8; SIZE];
            // Keeps up to 32 messages in flight so both rings fill and drain.
            let mut received = 0;
            for seq in 0..COUNT {
                msg.stamp(crate::harness::message::DATA, seq);
                parent.send(&msg.buf).unwrap();
                if seq >= 32 {
                    let n = parent.recv(&mut buf).unwrap();
                    v.check(&buf[..n], SIZE);
                    received += 1;
                }
            }
            while received < COUNT {
                let n = parent.recv(&mut buf).unwrap();
                v.check(&buf[..n], SIZE);
                received += 1;
            }
            v.finish(COUNT)
        };
        let theirs = child.join().unwrap();
        assert_eq!(theirs.total() + sender.total(), 0, "{theirs:?} {sender:?}");
    }
}
