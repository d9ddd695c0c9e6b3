//! A native broadcast in shared memory (an inherited memfd): one ring that
//! the publisher writes once and every subscriber reads with a cursor of
//! its own, as LMAX's Disruptor and iceoryx2's publish-subscribe do. The
//! publisher waits for the slowest subscriber when the ring is full; a
//! blocking subscriber sleeps on one futex word that one wake-all call
//! wakes. Each subscriber answers on a ring of its own (shm-ring's SPSC
//! ring, subscriber to publisher).
//!
//! With one subscriber it is an ordinary channel, so it runs the one-to-one
//! workloads too: the publisher's send is a publication, its receive the
//! subscriber's answer.
//!
//! Layout, each field on its own 64-byte cache line:
//!   line 0: `bell` (the futex word subscribers sleep on), `sleepers`
//!   line 1: `space` (the futex word the publisher sleeps on), `publisher_asleep`
//!   lines 2..2+N: subscriber i's cursor (messages it has read; only it stores)
//!   then N answer rings (`shm_ring::Ring`), then the slots, each a sequence
//!   word, an 8-byte length and `size` bytes, as shm-ring's.
//!
//! Memory ordering:
//! - The publisher copies message `head` into slot `head % K`, then swaps the
//!   slot's sequence word to `head + 1` (SeqCst, so Release too). A
//!   subscriber at cursor `c` loads that word with Acquire and reads the slot
//!   only when it says `c + 1`: the bytes are whole. Slot `c % K` is written
//!   again only for message `c + K`, whose number differs.
//! - The publisher writes message `head` only when every cursor is past
//!   `head - K` (each loaded with Acquire; a copy of their minimum, kept in
//!   its own memory, only makes the ring look fuller than it is). A
//!   subscriber swaps its cursor to `c + 1` (SeqCst) after it has copied the
//!   slot out, so the publisher never overwrites bytes still being read.
//! - Sleeping is a Dekker handshake with a count. A subscriber adds itself
//!   to `sleepers` (SeqCst), fences, reads `bell`, re-checks its slot, and
//!   futex_waits on `bell` with the value read. The publisher publishes with
//!   a SeqCst swap (a full barrier) and then loads `sleepers`: if any sleep
//!   or are about to, it bumps `bell` and wakes them all. Either the
//!   subscriber sees the new message and does not sleep, or the publisher
//!   sees it counted and wakes it; a bump between its read of `bell` and its
//!   wait makes the wait return at once. The publisher's own sleep, for
//!   room, is shm-ring's one-sleeper handshake on `space`, and every
//!   subscriber that moves its cursor wakes it if it sleeps.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use nix::sys::memfd::{memfd_create, MFdFlags};

use super::broadcast::{Broadcast, Publisher};
use super::shm_ring::{
    ring_len, slots, stride, wait_until, wake_if_asleep, Ring, LENGTH_BYTES, LINE, SEQ_BYTES,
    SLOT_HEADER,
};
use super::wait::Waiter;
use super::{too_large, Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::futex;
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;

pub struct ShmBroadcast;

/// Where things lie in the segment, for `subscribers` of messages of
/// `size` bytes.
#[derive(Clone, Copy)]
struct Layout {
    size: usize,
    subscribers: usize,
    slots: usize,
    stride: usize,
}

impl Layout {
    fn new(size: usize, subscribers: u32) -> Layout {
        Layout {
            size,
            subscribers: subscribers as usize,
            slots: slots(size),
            stride: stride(size),
        }
    }
    fn cursor_at(&self, i: usize) -> usize {
        (2 + i) * LINE
    }
    fn answers_at(&self, i: usize) -> usize {
        (2 + self.subscribers) * LINE + i * ring_len(self.size)
    }
    fn slot_at(&self, index: u64) -> usize {
        self.answers_at(self.subscribers) + (index as usize & (self.slots - 1)) * self.stride
    }
    fn len(&self) -> usize {
        self.answers_at(self.subscribers) + self.slots * self.stride
    }
    fn answers(&self, i: usize) -> Ring {
        Ring::new(self.answers_at(i), self.size)
    }
}

/// The segment, mapped, and where things lie in it.
struct Segment {
    map: Mapping,
    at: Layout,
}

impl Segment {
    fn bell(&self) -> (&AtomicU32, &AtomicU32) {
        (self.map.atomic_u32(0), self.map.atomic_u32(4))
    }
    fn space(&self) -> (&AtomicU32, &AtomicU32) {
        (self.map.atomic_u32(LINE), self.map.atomic_u32(LINE + 4))
    }
    fn cursor(&self, i: usize) -> &AtomicU64 {
        self.map.atomic_u64(self.at.cursor_at(i))
    }
    /// The sequence word of message `index`'s slot.
    fn seq(&self, index: u64) -> &AtomicU64 {
        self.map.atomic_u64(self.at.slot_at(index))
    }
    fn holds(&self, index: u64) -> bool {
        self.seq(index).load(Ordering::Acquire) == index + 1
    }
}

/// The publisher's end: it writes each message once.
struct Publishing {
    seg: Segment,
    head: u64,
    /// The least cursor last seen, in the publisher's own memory.
    seen_min: u64,
    /// Its wait for each subscriber's answer.
    waiter: Waiter,
}

impl Publishing {
    fn has_room(&mut self) -> bool {
        let slots = self.seg.at.slots as u64;
        if self.head - self.seen_min < slots {
            return true;
        }
        let seg = &self.seg;
        self.seen_min = (0..seg.at.subscribers)
            .map(|i| seg.cursor(i).load(Ordering::Acquire))
            .min()
            .unwrap_or(self.head);
        self.head - self.seen_min < slots
    }
}

impl Publisher for Publishing {
    fn publish(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.len() > self.seg.at.size {
            return Err(too_large(msg.len(), self.seg.at.size));
        }
        if !self.has_room() {
            let (space, asleep) = self.seg.space();
            let seg = &self.seg;
            let head = self.head;
            let slots = seg.at.slots as u64;
            let room = || {
                (0..seg.at.subscribers)
                    .all(|i| head - seg.cursor(i).load(Ordering::Acquire) < slots)
            };
            // Room is the publisher's wait: it spins a while, then sleeps.
            wait_until(room, space, asleep, &mut Waiter::Hybrid)?;
        }
        let (seg, head) = (&self.seg, self.head);
        let slot = seg.at.slot_at(head);
        seg.map
            .write(slot + SEQ_BYTES, &(msg.len() as u64).to_ne_bytes());
        seg.map.write(slot + SLOT_HEADER, msg);
        seg.seq(head).swap(head + 1, Ordering::SeqCst);
        self.head += 1;
        let (bell, sleepers) = seg.bell();
        if sleepers.load(Ordering::SeqCst) > 0 {
            bell.fetch_add(1, Ordering::SeqCst);
            futex::wake(bell, i32::MAX);
        }
        Ok(())
    }
    fn answer(&mut self, i: usize, buf: &mut [u8]) -> io::Result<usize> {
        let answers = self.seg.at.answers(i);
        answers.recv(&self.seg.map, buf, &mut self.waiter)
    }
    fn sends_per_message(&self) -> u32 {
        1
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
}

/// A subscriber's end: its own cursor, and its own ring for answers.
struct Subscribing {
    seg: Segment,
    me: usize,
    cursor: u64,
    answers: Ring,
    waiter: Waiter,
}

impl Subscribing {
    /// Sleeps on `bell` until message `index` is there (see the module
    /// comment: the count makes the publisher wake every sleeper).
    fn sleep_until_published(&self, index: u64) -> io::Result<()> {
        let (bell, sleepers) = self.seg.bell();
        loop {
            sleepers.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let value = bell.load(Ordering::SeqCst);
            if self.seg.holds(index) {
                sleepers.fetch_sub(1, Ordering::SeqCst);
                return Ok(());
            }
            let slept = retry(|| futex::wait(bell, value));
            sleepers.fetch_sub(1, Ordering::SeqCst);
            slept?;
            if self.seg.holds(index) {
                return Ok(());
            }
        }
    }
}

impl Channel for Subscribing {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.answers.send(&self.seg.map, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let index = self.cursor;
        let mut waiter = std::mem::replace(&mut self.waiter, Waiter::Block);
        let waited = waiter.receive(
            || Ok(self.seg.holds(index).then_some(())),
            || self.sleep_until_published(index),
        );
        self.waiter = waiter;
        waited?;
        let seg = &self.seg;
        let slot = seg.at.slot_at(index);
        let mut length = [0u8; LENGTH_BYTES];
        seg.map.read(slot + SEQ_BYTES, &mut length);
        // The publisher wrote it; trust it no further than the slot.
        let n = (u64::from_ne_bytes(length) as usize).min(seg.at.size);
        let copied = n.min(buf.len());
        seg.map.read(slot + SLOT_HEADER, &mut buf[..copied]);
        seg.cursor(self.me).swap(index + 1, Ordering::SeqCst);
        self.cursor += 1;
        let (space, asleep) = seg.space();
        wake_if_asleep(space, asleep);
        Ok(n)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        Ok(())
    }
}

/// The publisher as a one-to-one channel: with one subscriber, its sends
/// are publications and its receives that subscriber's answers.
struct OneSubscriber(Publishing);

impl Channel for OneSubscriber {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.publish(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.answer(0, buf)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        Publisher::wait_with(&mut self.0, wait)
    }
}

/// A new segment for `subscribers`, mapped, and its memfd to hand over.
fn make(size: usize, subscribers: u32) -> io::Result<(OwnedFd, Publishing)> {
    let at = Layout::new(size, subscribers);
    let memory = memfd_create("ipcbench-shm-broadcast", MFdFlags::MFD_CLOEXEC)?;
    nix::unistd::ftruncate(&memory, at.len() as i64)?;
    let map = Mapping::map_fd(&memory, at.len())?;
    map.touch();
    let publishing = Publishing {
        seg: Segment { map, at },
        head: 0,
        seen_min: 0,
        waiter: Waiter::Block,
    };
    Ok((memory, publishing))
}

/// Subscriber `me` of a segment for `subscribers`.
fn subscribe(
    size: usize,
    (subscribers, me): (u32, u32),
    memory: OwnedFd,
) -> io::Result<Subscribing> {
    if me >= subscribers {
        return Err(io::Error::other(format!(
            "subscriber {me} of a broadcast to {subscribers}"
        )));
    }
    let at = Layout::new(size, subscribers);
    let map = Mapping::map_fd(&memory, at.len())?;
    Ok(Subscribing {
        answers: at.answers(me as usize),
        seg: Segment { map, at },
        me: me as usize,
        cursor: 0,
        waiter: Waiter::Block,
    })
}

impl Transport for ShmBroadcast {
    fn name(&self) -> &'static str {
        "shm-broadcast"
    }
    fn description(&self) -> &'static str {
        "one ring in shared memory (memfd) written once, read by each subscriber at its own pace"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's broadcast ring in an inherited memfd: one writer, a cursor per reader, futex wake-ups"),
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 2,
            why: "into a slot of shared memory by the publisher, once for every subscriber; out of it by each subscriber",
        }
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::Epoll | Wait::IoUring => Some("its subscribers wait on a futex word in shared memory, which has no descriptor for epoll or io_uring"),
            _ => None,
        }
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("a broadcast has one writer: senders of their own would each need a ring")
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let (memory, publishing) = make(at.size, 1)?;
        Ok(Prepared {
            child_fds: vec![memory],
            ..Prepared::ready(Box::new(OneSubscriber(publishing)))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let memory = super::only_fd(inherited, "shm-broadcast")?;
        Ok(Box::new(subscribe(at.size, (1, 0), memory)?))
    }
    fn broadcast_refused(&self) -> Option<&'static str> {
        None
    }
    fn broadcast(&self, at: &Rendezvous, subscribers: u32) -> io::Result<Broadcast> {
        let (memory, publishing) = make(at.size, subscribers)?;
        Ok(Broadcast {
            child_fds: vec![memory],
            token: subscribers.to_string(),
            copies: 1 + subscribers,
            publisher: Box::new(publishing),
        })
    }
    fn join_broadcast(
        &self,
        at: &Rendezvous,
        inherited: Inherited,
    ) -> io::Result<Box<dyn Channel>> {
        let subscribers: u32 = inherited
            .token
            .parse()
            .map_err(|_| io::Error::other("shm-broadcast expects the subscriber count"))?;
        let me = inherited.member;
        let memory = super::only_fd(inherited, "shm-broadcast")?;
        Ok(Box::new(subscribe(at.size, (subscribers, me), memory)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::message::{Message, Verifier, Verify, DATA};

    /// Three subscribers, each a thread with its own mapping (as a process
    /// would have), read every message of a stream far longer than the
    /// ring, at different paces, with full verification; each answers every
    /// 1000th message. A broken ordering shows as a corrupted, lost or
    /// repeated message, a lost wake-up as a hang.
    #[test]
    fn every_subscriber_reads_every_message_intact_at_its_own_pace() {
        const SIZE: usize = 64;
        const COUNT: u64 = 100_000;
        const SUBSCRIBERS: u32 = 3;
        let (memory, mut publishing) = make(SIZE, SUBSCRIBERS).unwrap();
        let readers: Vec<_> = (0..SUBSCRIBERS)
            .map(|me| {
                let fd = memory.try_clone().unwrap();
                std::thread::spawn(move || {
                    let mut sub = subscribe(SIZE, (SUBSCRIBERS, me), fd).unwrap();
                    if me == 1 {
                        sub.wait_with(Wait::Spin).unwrap();
                    }
                    let mut v = Verifier::new(Verify::Full);
                    let mut buf = vec![0u8; SIZE];
                    for seq in 0..COUNT {
                        let n = sub.recv(&mut buf).unwrap();
                        v.check(&buf[..n], SIZE);
                        if me == 2 && seq % 5000 == 0 {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                        if seq % 1000 == 999 {
                            sub.send(&buf[..n]).unwrap();
                        }
                    }
                    v.finish(COUNT)
                })
            })
            .collect();
        let mut msg = Message::new(SIZE);
        let mut back = vec![0u8; SIZE];
        for seq in 0..COUNT {
            msg.stamp(DATA, seq);
            publishing.publish(&msg.buf).unwrap();
            if seq % 1000 == 999 {
                for i in 0..SUBSCRIBERS as usize {
                    assert_eq!(publishing.answer(i, &mut back).unwrap(), SIZE);
                    assert_eq!(back, msg.buf, "subscriber {i}'s answer to {seq}");
                }
            }
        }
        for (i, r) in readers.into_iter().enumerate() {
            let errors = r.join().unwrap();
            assert_eq!(errors.total(), 0, "subscriber {i}: {errors:?}");
        }
    }
}
