//! A channel over one message-preserving socket (datagram or seqpacket):
//! one send, one message; one receive, one message.

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
    fn halves(&mut self) -> Result<super::Halves<'_>, String> {
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
pub fn check_fits(kind: SockType, size: usize) -> Result<(), String> {
    let (a, _b) = socketpair(
        AddressFamily::Unix,
        kind,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("socketpair: {e}"))?;
    let msg = crate::sys::memory::zeroed(size).map_err(|e| e.to_string())?;
    match send(a.as_raw_fd(), &msg, MsgFlags::empty()) {
        Ok(_) => Ok(()),
        Err(nix::errno::Errno::EMSGSIZE) => {
            let sndbuf =
                nix::sys::socket::getsockopt(&a, nix::sys::socket::sockopt::SndBuf).unwrap_or(0);
            Err(format!(
                "the kernel refuses a {size}-byte message: EMSGSIZE; a Unix {kind:?} message must fit the socket send buffer, SO_SNDBUF = {sndbuf} bytes (net.core.wmem_default; up to net.core.wmem_max with setsockopt)"
            ))
        }
        Err(e) => Err(format!("sending a {size}-byte message: {e}")),
    }
}
