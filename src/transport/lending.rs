//! Channels that move a message without copying it through a buffer of
//! their own: the sender builds the message in memory the channel lends
//! it, and the receiver reads it where it lies (iceoryx2's loan model, and
//! what a sealed memfd or a spliced page makes possible).
//!
//! The harness drives such a channel through [`Lending`] for data
//! messages; `send` and `recv` on it still work, by copying into a loan and
//! out of a taken message ([`send_by_copy`], [`recv_by_copy`]), for control
//! messages and for the probe, which asks about the channel's semantics and
//! not its cost.

use std::io;

pub trait Lending {
    /// Memory for the next message, `len` bytes, which the caller fills.
    /// It stays this side's alone until `publish`.
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]>;
    /// Sends the first `len` bytes of the last loan, as they lie.
    fn publish(&mut self, len: usize) -> io::Result<()>;
    /// Waits for the next message and shows it where it lies, until
    /// `release` or `echo`.
    fn take(&mut self) -> io::Result<&[u8]>;
    /// Hands the taken message's memory back to whoever lent it.
    fn release(&mut self) -> io::Result<()>;
    /// Sends the taken message back to the other side, as it lies: a
    /// ping-pong's echo moves no more than the channel itself does.
    fn echo(&mut self) -> io::Result<()>;
    /// What a sender that kept its hands on the message it last published
    /// could do to it: tries to change the message's last byte, as it lies
    /// where the sender built it. An error is the refusal (a sealed
    /// memfd's EPERM). For the probe, which then reads what arrived.
    fn alter_published(&mut self) -> io::Result<()>;
}

/// `send` for a lending channel: the message copied into a loan.
pub fn send_by_copy(lender: &mut dyn Lending, msg: &[u8]) -> io::Result<()> {
    lender.loan(msg.len())?.copy_from_slice(msg);
    lender.publish(msg.len())
}

/// `recv` for a lending channel: the taken message copied out (as much as
/// `buf` holds), then released; returns its whole length.
pub fn recv_by_copy(lender: &mut dyn Lending, buf: &mut [u8]) -> io::Result<usize> {
    let msg = lender.take()?;
    let n = msg.len();
    let copied = n.min(buf.len());
    buf[..copied].copy_from_slice(&msg[..copied]);
    lender.release()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::{all, open_pair};
    use crate::harness::message::{Message, Verifier, Verify};

    /// Every lending transport, its receiver lagging (1 ms every 64
    /// messages) so that the sender runs out of room and reuses memory:
    /// each message arrives whole, in order, once. A loan reused while its
    /// last message is still unread shows up as a wrong checksum or a
    /// sequence number seen twice.
    #[test]
    fn lent_messages_arrive_intact_while_the_receiver_lags() {
        const SIZE: usize = 3 * 4096 + 100;
        const COUNT: u64 = 3000;
        let _one_at_a_time = crate::FORKING.lock();
        let mut lenders = 0;
        for &t in all() {
            let dir = tempfile::tempdir().unwrap();
            let tag = format!("ipcbench-test-{}-lend-{}", std::process::id(), t.name());
            let Ok((mut a, mut b)) = open_pair(t, dir.path(), &tag, SIZE, |_| {}) else {
                continue;
            };
            if a.lending().is_none() {
                continue;
            }
            lenders += 1;
            let reader = std::thread::spawn(move || {
                let lender = b.lending().unwrap();
                let mut v = Verifier::new(Verify::Full);
                for seq in 0..COUNT {
                    v.check(lender.take().unwrap(), SIZE);
                    lender.release().unwrap();
                    if seq % 64 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                v.finish(COUNT)
            });
            let lender = a.lending().unwrap();
            let mut out = Message::new(SIZE);
            for seq in 0..COUNT {
                out.build_in(lender.loan(SIZE).unwrap(), seq, Verify::Full);
                lender.publish(SIZE).unwrap();
            }
            let errors = reader.join().unwrap();
            assert_eq!(errors.total(), 0, "{}: {errors:?}", t.name());
        }
        assert!(lenders >= 4, "only {lenders} lending transports ran");
    }
}
