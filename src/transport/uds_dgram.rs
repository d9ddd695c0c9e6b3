//! Unix domain datagram sockets: each side binds a path and connects to the
//! other's. The peer announces itself with a one-byte datagram, which tells
//! the parent that the peer's path exists.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;

use nix::sys::socket::{getsockopt, sockopt, MsgFlags};

use super::{Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::interrupt::retry;

pub struct UdsDgram;

const PARENT: &str = "parent.sock";
const CHILD: &str = "child.sock";

struct Dgram(UnixDatagram);

impl Channel for Dgram {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let n = retry(|| nix::sys::socket::send(self.0.as_raw_fd(), msg, MsgFlags::empty()))?;
        if n != msg.len() {
            return Err(io::Error::other(format!(
                "datagram sent short: {n} of {}",
                msg.len()
            )));
        }
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // MSG_TRUNC makes the kernel report the datagram's real length, so an
        // oversized one shows up as a size mismatch instead of silent truncation.
        retry(|| nix::sys::socket::recv(self.0.as_raw_fd(), buf, MsgFlags::MSG_TRUNC))
    }
}

impl Transport for UdsDgram {
    fn name(&self) -> &'static str {
        "uds-dgram"
    }
    fn description(&self) -> &'static str {
        "Unix domain SOCK_DGRAM sockets, each bound to a path"
    }
    fn check_size(&self, size: usize) -> Result<(), String> {
        // Ask the kernel itself: send one datagram of that size on a fresh pair.
        let (a, _b) = UnixDatagram::pair().map_err(|e| format!("socketpair: {e}"))?;
        a.set_nonblocking(true).map_err(|e| e.to_string())?;
        match a.send(&vec![0u8; size]) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                let sndbuf = getsockopt(&a, sockopt::SndBuf).unwrap_or(0);
                Err(format!(
                    "the kernel refuses a {size}-byte datagram: EMSGSIZE ({e}); a Unix datagram must fit the socket send buffer, SO_SNDBUF = {sndbuf} bytes (net.core.wmem_default; up to net.core.wmem_max with setsockopt)"
                ))
            }
            Err(e) => Err(format!("sending a {size}-byte datagram: {e}")),
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let own = at.dir.join(PARENT);
        let peer = at.dir.join(CHILD);
        let socket = UnixDatagram::bind(&own)?;
        Ok(Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || {
                let mut hello = [0u8; 1];
                retry(|| {
                    nix::sys::socket::recv(socket.as_raw_fd(), &mut hello, MsgFlags::empty())
                })?;
                socket.connect(&peer)?;
                // Connected datagram sockets reach each other without the paths.
                std::fs::remove_file(&own)?;
                std::fs::remove_file(&peer)?;
                Ok(Box::new(Dgram(socket)) as _)
            }),
        })
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let socket = UnixDatagram::bind(at.dir.join(CHILD))?;
        socket.connect(at.dir.join(PARENT))?;
        socket.send(&[1])?;
        Ok(Box::new(Dgram(socket)))
    }
}
