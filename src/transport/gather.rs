//! Fan-in: several sender processes, one receiving end. What a transport
//! makes for it, the receiving end's trait, and the receiving ends that
//! several transports share (one byte stream, one datagram socket, one
//! connection per sender polled).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::packets::{recv_packet, send_packet};
use super::stream::write_all;
use super::wait::Waiter;
use super::{Channel, SendHalf};
use crate::sys::interrupt::retry;

/// The receiving end of a fan-in channel.
pub trait Gather: Send {
    /// Receives one message into `buf` and returns its length, or `None`
    /// once every sender has closed its end (for mechanisms that tell:
    /// message queues and datagram sockets never do).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    /// Every sender holds the channel: names can go.
    fn senders_joined(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the parent made for a fan-in case before its senders start.
pub struct FanIn {
    /// Inherited by every sender.
    pub child_fds: Vec<OwnedFd>,
    /// Handed to every sender as is.
    pub token: String,
    /// Completes the receiving end once the senders run (accepting their
    /// connections, where there are any).
    pub receive: Box<dyn FnOnce() -> io::Result<Box<dyn Gather>>>,
    /// All senders write into one byte stream, where one write can land
    /// between the pieces of another (pipes, FIFOs): a message that fails
    /// its check there is counted torn.
    pub shared_stream: bool,
}

impl FanIn {
    /// One connection per sender, accepted on `listener` once the senders
    /// run, and polled; `packets` when each read is one message. Each
    /// sender presents the secret its token carries beside `address`
    /// before it counts (`admission`).
    pub fn connections(listener: OwnedFd, senders: u32, address: &str, packets: bool) -> FanIn {
        let (token, secret) = super::admission::token(address);
        FanIn {
            child_fds: Vec::new(),
            token,
            receive: Box::new(move || {
                let connections = (0..senders)
                    .map(|_| super::admission::accept(&listener, &secret))
                    .collect::<io::Result<_>>()?;
                Ok(Box::new(PolledGather::new(connections, packets)) as _)
            }),
            shared_stream: false,
        }
    }

    /// A sender's connection to what `connections` listens on: it presents
    /// the token's secret first.
    pub fn joined(fd: OwnedFd, token: &str, packets: bool) -> io::Result<Box<dyn Channel>> {
        super::admission::present(&fd, super::admission::split(token)?.1)?;
        Ok(match packets {
            true => SendOnly::packets(fd),
            false => SendOnly::stream(fd),
        })
    }
}

/// A fan-in sender's end: it only sends.
pub struct SendOnly(SendHalf<'static>);

impl SendOnly {
    pub fn channel(send: impl FnMut(&[u8]) -> io::Result<()> + Send + 'static) -> Box<dyn Channel> {
        Box::new(SendOnly(Box::new(send)))
    }

    /// Writes whole messages into a byte stream.
    pub fn stream(fd: OwnedFd) -> Box<dyn Channel> {
        SendOnly::channel(move |m| write_all(&fd, m))
    }

    /// Sends each message as one packet of a connected socket.
    pub fn packets(fd: OwnedFd) -> Box<dyn Channel> {
        SendOnly::channel(move |m| send_packet(&fd, m))
    }
}

impl Channel for SendOnly {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        (self.0)(msg)
    }
    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("a fan-in sender receives nothing"))
    }
}

/// Fills `buf` from a byte stream. Returns 0 at the end of the stream
/// before any byte, and what it has when the stream ends within a message.
pub(super) fn read_message(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match retry(|| nix::unistd::read(fd, &mut buf[done..]))? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// One byte stream that every sender writes into (a pipe, a FIFO).
pub struct StreamGather(pub OwnedFd);

impl Gather for StreamGather {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // A stream that ends within a message: its piece is still handed
        // over, to be counted, and the next call sees the end.
        Ok(match read_message(&self.0, buf)? {
            0 => None,
            n => Some(n),
        })
    }
}

/// One socket that keeps message boundaries (a bound datagram socket).
pub struct PacketGather(pub OwnedFd);

impl Gather for PacketGather {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        recv_packet(&self.0, buf, &mut Waiter::Block).map(Some)
    }
}

/// One connection per sender, polled: the next message comes from the
/// next connection with data, in turn, so that no sender is starved.
pub struct PolledGather {
    connections: Vec<OwnedFd>,
    /// Whether each connection delivers packets (seqpacket) or a stream.
    packets: bool,
    open: Vec<bool>,
    next: usize,
}

impl PolledGather {
    pub fn new(connections: Vec<OwnedFd>, packets: bool) -> PolledGather {
        let open = vec![true; connections.len()];
        PolledGather {
            connections,
            packets,
            open,
            next: 0,
        }
    }

    /// The first connection from `self.next` on that has data or has ended.
    fn ready(&mut self) -> io::Result<Option<usize>> {
        let mut fds: Vec<PollFd> = self
            .connections
            .iter()
            .zip(&self.open)
            .map(|(c, &open)| {
                let events = if open {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                };
                PollFd::new(c.as_fd(), events)
            })
            .collect();
        retry(|| poll(&mut fds, PollTimeout::NONE))?;
        let n = fds.len();
        Ok((0..n).map(|k| (self.next + k) % n).find(|&i| {
            fds[i]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
        }))
    }
}

impl Gather for PolledGather {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        while self.open.contains(&true) {
            let Some(i) = self.ready()? else { continue };
            self.next = (i + 1) % self.connections.len();
            let fd = &self.connections[i];
            let got = if self.packets {
                recv_packet(fd, buf, &mut Waiter::Block)?
            } else {
                read_message(fd, buf)?
            };
            if got == 0 {
                self.open[i] = false;
                continue;
            }
            return Ok(Some(got));
        }
        Ok(None)
    }
}
