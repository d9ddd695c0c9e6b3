//! Experiments on a transport's own channel, both ends in this process, for
//! the rows whose semantics are a protocol's rather than a kernel object's
//! (ipcbench's rings, a crate's channels, the Node emulation). What they
//! show is what the harness measures through.

use super::Finding;
use super::Stuck;
use crate::harness::janitor;
use crate::results::probe::Measured;
use crate::transport::{open_pair, Channel, Transport};

type Pair = (Box<dyn Channel>, Box<dyn Channel>);

/// Runs `f` on a fresh pair whose slots (where it has any) hold `size` bytes.
fn with_pair(t: &dyn Transport, size: usize, f: impl FnOnce(Pair) -> Finding) -> Finding {
    let dir = match super::helper::private_dir() {
        Ok(d) => d,
        Err(e) => return Finding::undecided(format!("no private directory: {e}")),
    };
    let tag = super::helper::unique("pair");
    let mut token = String::new();
    let opened = open_pair(t, dir.path(), &tag, size, |made| {
        token = made.to_string();
        janitor::channel(t.name(), &tag, made);
    });
    let finding = match opened {
        Ok(pair) => f(pair),
        Err(e) => Finding::undecided(format!("opening both ends of the channel: {e}")),
    };
    janitor::channel_closed(t.name(), &tag, &token);
    finding
}

/// Sends 100 then 200 bytes; one receive with a 4 KiB buffer.
pub fn boundaries(t: &dyn Transport) -> Finding {
    with_pair(t, 4096, |(mut a, mut b)| {
        let sent = a.send(&[1; 100]).and_then(|_| a.send(&[2; 200]));
        if let Err(e) = sent {
            return Finding::undecided(format!("send: {e}"));
        }
        let mut buf = [0u8; 4096];
        match b.recv_any(&mut buf) {
            Ok(100) => Finding::yes("sent 100 then 200 bytes; one receive with a 4 KiB buffer returned 100: each message arrives whole and alone"),
            Ok(n) if n > 100 => Finding::no(format!("sent 100 then 200 bytes; one receive with a 4 KiB buffer returned {n}: the messages ran together")),
            Ok(n) => Finding::undecided(format!("sent 100 then 200 bytes; the first receive returned {n}")),
            Err(e) => Finding::undecided(format!("receive: {e}")),
        }
    })
}

/// Sends "low" then "high"; the channel's send takes no mark, so the
/// question is only the order they come out in.
pub fn order(t: &dyn Transport) -> Finding {
    with_pair(t, 64, |(mut a, mut b)| {
        let msg = |text: &[u8]| {
            let mut m = [0u8; 64];
            m[..text.len()].copy_from_slice(text);
            m
        };
        if let Err(e) = a.send(&msg(b"low")).and_then(|_| a.send(&msg(b"high"))) {
            return Finding::undecided(format!("send: {e}"));
        }
        let mut first = [0u8; 64];
        match b.recv(&mut first) {
            Ok(_) if first.starts_with(b"low") => Finding::no("the channel's send takes no priority; sent \"low\" then \"high\" while nobody read, the receiver got \"low\" first: send order"),
            Ok(_) if first.starts_with(b"high") => Finding::yes("sent \"low\" then \"high\"; the receiver got \"high\" first"),
            Ok(n) => Finding::undecided(format!("the first receive returned {n} unexpected bytes")),
            Err(e) => Finding::undecided(format!("receive: {e}")),
        }
    })
}

/// One message each way over one pair of ends.
pub fn both_ways(t: &dyn Transport) -> Finding {
    with_pair(t, 64, |(mut a, mut b)| {
        let mut buf = [0u8; 64];
        let there = a.send(&[1; 64]).and_then(|_| b.recv(&mut buf));
        let back = b.send(&[2; 64]).and_then(|_| a.recv(&mut buf));
        match (there, back) {
            (Ok(_), Ok(_)) => Finding::yes("one channel carried a message each way"),
            (there, back) => Finding::undecided(format!("there: {there:?}, back: {back:?}")),
        }
    })
}

/// The largest message that goes through whole. A channel made for 1 KiB
/// messages is tried with one byte more: where that is refused (a slot),
/// a binary search finds the limit; where it is not, one 4 MiB message must
/// arrive whole.
pub fn largest(t: &dyn Transport) -> Finding {
    const SLOT: usize = 1024;
    with_pair(t, SLOT, |(mut a, mut b)| {
        let over = match fits(&mut *a, &mut *b, SLOT + 1) {
            Ok(()) => {
                return match whole(a, b) {
                    Ok(()) => Finding::no(format!(
                        "no fixed limit: {} bytes, then a {} MiB message, went through whole",
                        SLOT + 1,
                        BIG >> 20
                    )),
                    Err(e) => Finding::undecided(format!("a {} MiB message: {e}", BIG >> 20)),
                }
            }
            Err(e) => e,
        };
        let (mut lo, mut hi) = (0usize, SLOT);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(&mut *a, &mut *b, mid).is_ok() {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Finding::new(Measured::Number(lo as u64), format!("binary search on a channel made for {SLOT}-byte messages: {lo} bytes went through whole; {} bytes: {over}. The slots are sized when the channel is made (a run sizes them to its message size), and a larger message is refused, never cut short", SLOT + 1))
    })
}

/// The message that must go through whole on a channel without slots.
const BIG: usize = 4 << 20;

/// Sends `n` bytes and receives them back whole, one after the other (for
/// sizes every buffer holds).
fn fits(a: &mut dyn Channel, b: &mut dyn Channel, n: usize) -> Result<(), Stuck> {
    a.send(&vec![7u8; n])?;
    intact(b, n)
}

fn intact(b: &mut dyn Channel, n: usize) -> Result<(), Stuck> {
    let mut buf = vec![0u8; n];
    match b.recv(&mut buf) {
        Ok(got) if got == n && buf.iter().all(|&x| x == 7) => Ok(()),
        Ok(got) => Err(Stuck::Saw(format!("sent {n} bytes, received {got}"))),
        Err(e) => Err(Stuck::Saw(format!("receive: {e}"))),
    }
}

/// One BIG message, received on another thread as it is sent. The sending
/// end is dropped after the send, so a failed send ends the receive too.
fn whole(mut a: Box<dyn Channel>, mut b: Box<dyn Channel>) -> Result<(), Stuck> {
    let receiver = std::thread::spawn(move || intact(&mut *b, BIG));
    let sent = a.send(&vec![7u8; BIG]);
    drop(a);
    let got = receiver
        .join()
        .unwrap_or_else(|_| Err(Stuck::Saw("the receiving thread panicked".into())));
    sent?;
    got
}

/// Whether the channel's receiver can wait in epoll: its receiving end is
/// set to (epoll_ctl refuses what it cannot poll), and a message sent
/// before the wait must come through.
pub fn waits_in_epoll(t: &dyn Transport) -> Finding {
    with_pair(t, 64, |(mut a, mut b)| {
        if let Err(e) = b.wait_with(crate::results::Wait::Epoll) {
            return Finding::no(format!(
                "the receiving end could not be handed to epoll: {e}"
            ));
        }
        let mut buf = [0u8; 64];
        match a.send(&[3; 64]).and_then(|_| b.recv(&mut buf)) {
            Ok(64) if buf == [3; 64] => Finding::yes("epoll_ctl took the receiving end's descriptor, and a message sent to it came through epoll_wait whole"),
            Ok(n) => Finding::undecided(format!("waiting in epoll, the receive returned {n} unexpected bytes")),
            Err(e) => Finding::undecided(format!("waiting in epoll: {e}")),
        }
    })
}

/// Sends a 4 KiB message, then changes its last byte where the sender
/// keeps it (its own buffer; for a lending channel, where it built the
/// message, or the kernel's refusal to let it), then receives it.
pub fn fixed_once_sent(t: &dyn Transport) -> Finding {
    if !t.carries_payload() {
        return Finding::fact(
            Measured::not_applicable(),
            "no payload: a post carries no bytes to change",
        );
    }
    const SIZE: usize = 4096;
    with_pair(t, SIZE, |(mut a, mut b)| {
        let original: Vec<u8> = (0..SIZE).map(|i| (i * 7 + 3) as u8).collect();
        let tried = match send_then_alter(&mut *a, &original) {
            Ok(tried) => tried,
            Err(e) => return Finding::undecided(format!("send: {e}")),
        };
        let mut got = vec![0u8; SIZE];
        match b.recv(&mut got) {
            Ok(SIZE) if got == original => Finding::yes(format!("{tried}; the receiver read the message as it was sent")),
            Ok(SIZE) => Finding::no(format!("{tried}; the receiver read the changed byte: until read, the message is the sender's memory")),
            Ok(n) => Finding::undecided(format!("{tried}; the receive returned {n} bytes")),
            Err(e) => Finding::undecided(format!("{tried}; receive: {e}")),
        }
    })
}

/// Sends `msg` and changes it after, saying how.
fn send_then_alter(a: &mut dyn Channel, msg: &[u8]) -> std::io::Result<String> {
    let Some(lender) = a.lending() else {
        let mut kept = msg.to_vec();
        a.send(&kept)?;
        kept[msg.len() - 1] ^= 0xFF;
        return Ok("the sender changed its buffer after send returned".into());
    };
    lender.loan(msg.len())?.copy_from_slice(msg);
    lender.publish(msg.len())?;
    Ok(match lender.alter_published() {
        Ok(()) => {
            "after publishing, the sender changed the last byte where it had built the message"
                .into()
        }
        Err(e) => format!(
            "after publishing, the sender's attempt to change the message was refused ({e})"
        ),
    })
}
