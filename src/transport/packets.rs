//! A channel over one message-preserving socket (datagram or seqpacket):
//! one send, one message; one receive, one message.

use crate::results::failure::OverLimit;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use super::wait::{nonblocking, set_nonblocking, writable, Waiter};
use super::Channel;
use crate::results::Wait;
use crate::sys::uring::Op;

pub struct Packets {
    fd: OwnedFd,
    waiter: Waiter,
}

impl Packets {
    pub fn new(fd: OwnedFd) -> Packets {
        Packets {
            fd,
            waiter: Waiter::Block,
        }
    }
}

impl Channel for Packets {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_packet(&self.fd, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_packet(&self.fd, buf, &mut self.waiter)
    }
    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_packet(&self.fd, buf, &mut Waiter::Block)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::on_fd(wait, self.fd.as_fd())?;
        set_nonblocking(self.fd.as_fd(), self.waiter.needs_nonblocking())
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        // One socket, sent on and received from at once: the kernel keeps
        // the two directions apart.
        let (fd, waiter) = (&self.fd, &mut self.waiter);
        Ok(super::Halves::new(
            move |m| send_packet(fd, m),
            move |b| recv_packet(fd, b, waiter),
        ))
    }
}

/// Sends one message whole (a datagram or a sequenced packet); a socket
/// made non-blocking for its receiver waits for room.
pub fn send_packet(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    let n = loop {
        match nonblocking(send(fd.as_raw_fd(), msg, MsgFlags::empty()))? {
            Some(n) => break n,
            None => writable(fd.as_fd())?,
        }
    };
    if n != msg.len() {
        return Err(io::Error::other(format!(
            "message sent short: {n} of {}",
            msg.len()
        )));
    }
    Ok(())
}

/// Receives one message. MSG_TRUNC makes the kernel report the message's
/// real length, so an oversized one shows up as a size mismatch instead of
/// silent truncation.
pub fn recv_packet(fd: &OwnedFd, buf: &mut [u8], waiter: &mut Waiter) -> io::Result<usize> {
    let call = |b: &mut [u8]| recv(fd.as_raw_fd(), b, MsgFlags::MSG_TRUNC);
    waiter.receive_fd(fd.as_fd(), Some(Op::RecvTruncated), buf, call)
}

/// Asks the kernel whether one message of `size` bytes fits a fresh socket
/// pair of this type, and says which limit stops it if not.
/// Any other failure (no socket, no memory for the message) is left to the
/// case itself, which meets it again and reports it as what it is.
pub fn check_fits(kind: SockType, size: usize) -> Result<(), OverLimit> {
    let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
    let Ok((a, _b)) = socketpair(AddressFamily::Unix, kind, None, flags) else {
        return Ok(());
    };
    let Ok(msg) = crate::sys::memory::zeroed(size) else {
        return Ok(());
    };
    match send(a.as_raw_fd(), &msg, MsgFlags::empty()) {
        Err(nix::errno::Errno::EMSGSIZE) => Err(OverLimit {
            what: "message",
            needed: size as u64,
            limit: "SO_SNDBUF".into(),
            value: nix::sys::socket::getsockopt(&a, nix::sys::socket::sockopt::SndBuf)
                .map_or(0, |b| b as u64),
            remedy: format!("the kernel refuses it with EMSGSIZE: a Unix {kind:?} message must fit the socket send buffer, net.core.wmem_default; up to net.core.wmem_max with setsockopt"),
        }),
        _ => Ok(()),
    }
}
