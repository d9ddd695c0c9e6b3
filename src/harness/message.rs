//! The message every transport carries, and the receiver's verification.
//!
//! Layout (little endian), then the payload:
//! `magic u32 | flags u32 | seq u64 | len u32 | crc32c(payload) u32`.
//! `size_bytes` in results counts the header: it is what the transport moved.

pub use crate::results::{ErrorCounts, Verify};
use std::collections::BTreeSet;

pub const HEADER_BYTES: usize = 24;
const MAGIC: u32 = 0x4950_4342; // "IPCB"

/// A data message: counted and verified.
pub const DATA: u32 = 0;
/// Asks the peer to answer; marks the start of the timed part.
pub const SYNC: u32 = 1;
/// Asks the peer to answer and stop; its `seq` is the number of data messages sent.
pub const END: u32 = 2;
/// A fan-in sender's warm-up message: received, not counted.
pub const WARM: u32 = 3;

/// Where a fan-in message carries the time it was sent (CLOCK_MONOTONIC
/// ns): the payload's first 8 bytes, covered by the checksum.
const SENT_AT: std::ops::Range<usize> = HEADER_BYTES..HEADER_BYTES + 8;
/// The smallest message that has room for it.
pub const TIMED_BYTES: usize = HEADER_BYTES + 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub flags: u32,
    pub seq: u64,
    pub len: u32,
    pub crc: u32,
}

/// A reusable message buffer of one case's size. The payload is a fixed
/// pseudo-random pattern, so its checksum is computed once per case; the
/// receiver recomputes it for every message it gets.
pub struct Message {
    pub buf: Vec<u8>,
    /// The payload as first made, which `build` writes again.
    pattern: Vec<u8>,
    payload_crc: u32,
    /// For messages that carry their send time, computed once: the
    /// checksum of the payload after it, and how to fold the time's
    /// checksum in front of that.
    after_sent_at: Option<(u32, Prepend)>,
}

impl Message {
    pub fn new(size: usize) -> Self {
        Message::try_new(size).expect("memory for one message")
    }

    /// A message, or ENOMEM as an error when the memory is not there: a
    /// case too big for the machine fails alone instead of aborting the run.
    pub fn try_new(size: usize) -> std::io::Result<Self> {
        assert!(size >= HEADER_BYTES, "message smaller than its header");
        let mut buf = zeroed(size)?;
        // xorshift: cheap, and not compressible or constant like zeroes would be.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for b in &mut buf[HEADER_BYTES..] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let payload_crc = crc32c::crc32c(&buf[HEADER_BYTES..]);
        let mut pattern = zeroed(size - HEADER_BYTES)?;
        pattern.copy_from_slice(&buf[HEADER_BYTES..]);
        Ok(Message {
            buf,
            pattern,
            payload_crc,
            after_sent_at: None,
        })
    }

    /// Stamps like [`Message::stamp`], with the send time in the payload
    /// (the message must be at least `TIMED_BYTES`). The checksum is
    /// combined from the time's and the rest's, so the payload is not
    /// read again for every message.
    pub fn stamp_sent(&mut self, flags: u32, seq: u64, sent_ns: u64) {
        let (rest, prepend) = *self.after_sent_at.get_or_insert_with(|| {
            let rest = &self.buf[SENT_AT.end..];
            (crc32c::crc32c(rest), Prepend::before(rest.len()))
        });
        let time = sent_ns.to_le_bytes();
        self.buf[SENT_AT].copy_from_slice(&time);
        let crc = prepend.apply(crc32c::crc32c(&time)) ^ rest;
        self.stamp(flags, seq);
        self.buf[20..24].copy_from_slice(&crc.to_le_bytes());
    }

    /// Builds data message `seq` as an application builds one, in this
    /// buffer: under `Verify::Full` every byte (the payload written anew),
    /// under `Verify::Seq` only the header, so that the sender touches no
    /// more of the payload than the transport itself does.
    pub fn build(&mut self, seq: u64, verify: Verify) {
        if verify == Verify::Full {
            self.buf[HEADER_BYTES..].copy_from_slice(&self.pattern);
        }
        self.stamp(DATA, seq);
    }

    /// As `build`, in `dst`: memory a lending channel lent, as long as the
    /// message. Under `Verify::Seq` the rest of `dst` keeps whatever it held.
    pub fn build_in(&mut self, dst: &mut [u8], seq: u64, verify: Verify) {
        self.stamp(DATA, seq);
        let written = match verify {
            Verify::Full => self.buf.len(),
            Verify::Seq => HEADER_BYTES,
        };
        dst[..written].copy_from_slice(&self.buf[..written]);
    }

    pub fn stamp(&mut self, flags: u32, seq: u64) {
        let len = self.buf.len() as u32;
        let h = &mut self.buf[..HEADER_BYTES];
        h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        h[4..8].copy_from_slice(&flags.to_le_bytes());
        h[8..16].copy_from_slice(&seq.to_le_bytes());
        h[16..20].copy_from_slice(&len.to_le_bytes());
        h[20..24].copy_from_slice(&self.payload_crc.to_le_bytes());
    }
}

/// crc32c(A ‖ B) = S(crc32c(A)) ^ crc32c(B), where S only depends on B's
/// length and is linear over GF(2) (`crc32c_combine(a, 0, len)`). Its 32
/// columns, computed once, make each combination a handful of XORs instead
/// of zlib's matrix squarings (microseconds per message).
#[derive(Clone, Copy)]
struct Prepend([u32; 32]);

impl Prepend {
    fn before(len: usize) -> Prepend {
        Prepend(std::array::from_fn(|bit| {
            crc32c::crc32c_combine(1 << bit, 0, len)
        }))
    }

    fn apply(&self, crc: u32) -> u32 {
        (0..32)
            .filter(|bit| crc & (1 << bit) != 0)
            .fold(0, |sum, bit| sum ^ self.0[bit])
    }
}

pub use crate::sys::memory::zeroed;

/// The send time a fan-in message carries.
pub fn sent_at(msg: &[u8]) -> Option<u64> {
    msg.get(SENT_AT)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// Reads a header; `None` when the bytes are not a header at all.
pub fn parse(msg: &[u8]) -> Option<Header> {
    if msg.len() < HEADER_BYTES {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(msg[i..i + 4].try_into().unwrap());
    if u32_at(0) != MAGIC {
        return None;
    }
    Some(Header {
        flags: u32_at(4),
        seq: u64::from_le_bytes(msg[8..16].try_into().unwrap()),
        len: u32_at(16),
        crc: u32_at(20),
    })
}

/// Sender `i` of several (a fan-in's, a group's) numbers its messages from
/// `first_seq(i)`, so that a receiver tells whose each one is.
const SENDER_SHIFT: u32 = 48;

pub fn first_seq(sender: u32) -> u64 {
    u64::from(sender) << SENDER_SHIFT
}

/// Whose a message numbered `seq` is (see [`first_seq`]).
pub fn sender_of(seq: u64) -> u64 {
    seq >> SENDER_SHIFT
}

/// Several senders' counts once the `unreadable` messages are in: each,
/// too damaged to tell whose it was, stands for one of the missing (it
/// arrived, damaged); where the senders share one byte stream, the damage
/// is another sender's write tearing it.
pub fn with_unreadable(
    mut errors: ErrorCounts,
    unreadable: u64,
    shared_stream: bool,
) -> ErrorCounts {
    errors.lost = errors.lost.saturating_sub(unreadable);
    let damaged = std::mem::take(&mut errors.corrupted) + unreadable;
    match shared_stream {
        true => errors.torn = damaged,
        false => errors.corrupted = damaged,
    }
    errors
}

/// Counts what went wrong in a stream of received data messages.
///
/// A sequence number above the expected one marks the skipped ones missing;
/// a missing one that turns up later is "reordered" (not lost); one that was
/// already seen is "duplicated". A bad magic, length or checksum is
/// "corrupted", and such a message's sequence number is not trusted.
pub struct Verifier {
    verify: Verify,
    /// For a channel that carries no bytes: every empty message is the next
    /// signal, and only their number can be checked.
    count_only: bool,
    next: u64,
    missing: BTreeSet<u64>,
    counts: ErrorCounts,
    /// Messages too damaged to read a sequence number from.
    unreadable: u64,
}

impl Verifier {
    pub fn new(verify: Verify) -> Self {
        Verifier {
            verify,
            count_only: false,
            next: 0,
            missing: BTreeSet::new(),
            counts: ErrorCounts::default(),
            unreadable: 0,
        }
    }

    /// A verifier of one fan-in sender's messages, whose sequence numbers
    /// start at `first`.
    pub fn from_seq(verify: Verify, first: u64) -> Self {
        Verifier {
            next: first,
            ..Verifier::new(verify)
        }
    }

    /// A verifier of bare signals (a channel without payload): it counts
    /// them, and at the end tells lost or extra ones from the sender's count.
    pub fn counting() -> Self {
        Verifier {
            count_only: true,
            ..Verifier::new(Verify::Seq)
        }
    }

    /// Checks one received message against the size every message of the case has.
    /// Returns its header when it is intact (data or control).
    pub fn check(&mut self, msg: &[u8], expected_len: usize) -> Option<Header> {
        if self.count_only && msg.is_empty() {
            self.next += 1;
            return None;
        }
        let header = match parse(msg) {
            Some(h) if h.len as usize == expected_len && msg.len() == expected_len => h,
            _ => {
                self.counts.corrupted += 1;
                self.unreadable += 1;
                return None;
            }
        };
        if header.flags != DATA {
            return Some(header);
        }
        // A payload that fails its checksum still has a trustworthy header
        // (magic and length matched), so its sequence number is accounted.
        let intact =
            self.verify == Verify::Seq || crc32c::crc32c(&msg[HEADER_BYTES..]) == header.crc;
        if !intact {
            self.counts.corrupted += 1;
        }
        let seq = header.seq;
        if seq == self.next {
            self.next += 1;
        } else if seq > self.next {
            self.missing.extend(self.next..seq);
            self.next = seq + 1;
        } else if self.missing.remove(&seq) {
            self.counts.reordered += 1;
        } else {
            self.counts.duplicated += 1;
        }
        intact.then_some(header)
    }

    /// Final counts, given how many data messages the sender says it sent.
    /// An unreadable message stands for one of the missing sequence
    /// numbers: it arrived, damaged, so it counts as corrupted, not lost.
    pub fn finish(mut self, sent: u64) -> ErrorCounts {
        let missing = self.missing.len() as u64 + sent.saturating_sub(self.next);
        self.counts.lost = missing.saturating_sub(self.unreadable);
        if self.count_only {
            // Signals have no sequence number: one too many is a duplicate.
            self.counts.duplicated += self.next.saturating_sub(sent);
        }
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_stamped_with_its_send_time_passes_the_checksum() {
        for size in [TIMED_BYTES, 64, 4096, 65536] {
            let mut m = Message::new(size);
            let mut v = Verifier::new(Verify::Full);
            for (seq, t) in [(0, 1u64), (1, u64::MAX), (2, 0x0123_4567_89AB_CDEF)] {
                m.stamp_sent(DATA, seq, t);
                let h = parse(&m.buf).unwrap();
                assert_eq!(h.crc, crc32c::crc32c(&m.buf[HEADER_BYTES..]), "size {size}");
                assert!(v.check(&m.buf, size).is_some());
                assert_eq!(sent_at(&m.buf), Some(t));
            }
            let mut torn = m.buf.clone();
            torn[size - 1] ^= 1;
            assert!(v.check(&torn, size).is_none());
        }
    }

    fn msg(seq: u64) -> Vec<u8> {
        let mut m = Message::new(64);
        m.stamp(DATA, seq);
        m.buf
    }

    fn run(seqs: &[u64], sent: u64) -> ErrorCounts {
        let mut v = Verifier::new(Verify::Full);
        for &s in seqs {
            v.check(&msg(s), 64);
        }
        v.finish(sent)
    }

    #[test]
    fn clean_stream_has_no_errors() {
        assert_eq!(run(&[0, 1, 2, 3], 4), ErrorCounts::default());
    }

    #[test]
    fn gaps_repeats_and_swaps_are_told_apart() {
        let c = run(&[0, 2, 3], 4);
        assert_eq!((c.lost, c.reordered, c.duplicated), (1, 0, 0));
        let c = run(&[0, 1, 1, 2], 3);
        assert_eq!((c.lost, c.reordered, c.duplicated), (0, 0, 1));
        let c = run(&[0, 2, 1, 3], 4);
        assert_eq!((c.lost, c.reordered, c.duplicated), (0, 1, 0));
        let c = run(&[0, 1], 4);
        assert_eq!(c.lost, 2);
    }

    #[test]
    fn a_flipped_payload_bit_is_corruption_unless_only_seq_is_checked() {
        let mut m = msg(0);
        m[40] ^= 1;
        let mut v = Verifier::new(Verify::Full);
        assert!(v.check(&m, 64).is_none());
        assert_eq!(v.finish(1).corrupted, 1);
        let mut v = Verifier::new(Verify::Seq);
        assert!(v.check(&m, 64).is_some());
        assert_eq!(v.finish(1), ErrorCounts::default());
    }

    #[test]
    fn an_unreadable_message_is_corrupted_not_also_lost() {
        let mut v = Verifier::new(Verify::Full);
        v.check(&msg(0), 64);
        v.check(&[0xFF; 64], 64);
        v.check(&msg(2), 64);
        let c = v.finish(3);
        assert_eq!((c.corrupted, c.lost), (1, 0));
    }

    #[test]
    fn counted_signals_are_checked_by_their_number() {
        let count = |received: u64, sent: u64| {
            let mut v = Verifier::counting();
            (0..received).for_each(|_| {
                v.check(&[], 64);
            });
            let c = v.finish(sent);
            (c.lost, c.duplicated, c.corrupted)
        };
        assert_eq!(count(5, 5), (0, 0, 0));
        assert_eq!(count(3, 5), (2, 0, 0));
        assert_eq!(count(6, 5), (0, 1, 0));
        // Bytes where only a signal can be are still corruption.
        let mut v = Verifier::counting();
        v.check(&[0xFF; 8], 64);
        assert_eq!(v.finish(0).corrupted, 1);
    }

    #[test]
    fn wrong_length_or_magic_is_corruption() {
        let mut v = Verifier::new(Verify::Full);
        assert!(v.check(&msg(0)[..40], 64).is_none());
        let mut bad = msg(0);
        bad[0] = 0;
        assert!(v.check(&bad, 64).is_none());
        assert_eq!(v.finish(0).corrupted, 2);
    }
}
