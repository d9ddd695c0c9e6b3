//! Fan-out: one publisher, several subscriber processes, every message
//! to every one. The publisher's side is a [`Publisher`]: a native
//! broadcast (one write that each subscriber reads at its own pace, made
//! by `Transport::broadcast`), or [`Unicast`], one channel per subscriber,
//! each message sent to each, which is what an application does over a
//! mechanism that gives each message to one reader.
//!
//! A subscriber's end is a plain [`Channel`]: `recv` takes the next
//! message published, `send` answers the publisher on a path of its own.

use std::io;
use std::os::fd::OwnedFd;

use super::Channel;
use crate::results::Wait;

/// The publisher's side of a one-to-many channel.
pub trait Publisher: Send {
    /// Puts one message where every subscriber will read it.
    fn publish(&mut self, msg: &[u8]) -> io::Result<()>;
    /// As `publish`, for the harness's control messages.
    fn publish_control(&mut self, msg: &[u8]) -> io::Result<()> {
        self.publish(msg)
    }
    /// Receives subscriber `i`'s next answer.
    fn answer(&mut self, i: usize, buf: &mut [u8]) -> io::Result<usize>;
    /// Sends per message published: 1 for a native broadcast.
    fn sends_per_message(&self) -> u32;
    /// Makes the waits for answers (and for room) as `wait` says.
    fn wait_with(&mut self, wait: Wait) -> io::Result<()>;
    /// Every subscriber holds the channel: names can go.
    fn subscribers_joined(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the parent made for a native broadcast before its subscribers
/// start: what every one of them inherits, and the publisher's end.
pub struct Broadcast {
    pub child_fds: Vec<OwnedFd>,
    pub token: String,
    /// Copies of a message's payload to reach every subscriber, as the
    /// transport counts them.
    pub copies: u32,
    pub publisher: Box<dyn Publisher>,
}

/// One channel per subscriber: each message is sent once to each.
pub struct Unicast(pub Vec<Box<dyn Channel>>);

impl Publisher for Unicast {
    fn publish(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|c| c.send(msg))
    }
    fn publish_control(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|c| c.send_control(msg))
    }
    fn answer(&mut self, i: usize, buf: &mut [u8]) -> io::Result<usize> {
        self.0[i].recv(buf)
    }
    fn sends_per_message(&self) -> u32 {
        self.0.len() as u32
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        match wait {
            Wait::Block => Ok(()),
            _ => self.0.iter_mut().try_for_each(|c| c.wait_with(wait)),
        }
    }
    fn subscribers_joined(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|c| c.peer_joined())
    }
}
