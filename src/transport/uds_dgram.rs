//! Unix domain datagram sockets: each side binds a path and connects to the
//! other's. The peer announces itself with a one-byte datagram, which tells
//! the parent that the peer's path exists.

use crate::results::failure::OverLimit;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;

use nix::sys::socket::MsgFlags;

use super::gather::PacketGather;
use super::packets::Packets;
use super::{Channel, FanIn, Inherited, Prepared, Rendezvous, SendOnly, Transport};
use crate::sys::interrupt::retry;

pub struct UdsDgram;

const PARENT: &str = "parent.sock";
const CHILD: &str = "child.sock";

impl Transport for UdsDgram {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "uds-dgram"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "Unix domain SOCK_DGRAM sockets, each bound to a path"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::UnixDatagram, super::Reach::Path)
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        super::packets::check_fits(nix::sys::socket::SockType::Datagram, size)
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let own = at.socket(PARENT)?;
        let peer = at.socket(CHILD)?;
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
                Ok(Box::new(Packets::new(socket.into())) as _)
            }),
        })
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let socket = UnixDatagram::bind(at.socket(CHILD)?)?;
        socket.connect(at.socket(PARENT)?)?;
        socket.send(&[1])?;
        Ok(Box::new(Packets::new(socket.into())))
    }
    /// One bound socket; each sender connects an unbound one to its path.
    fn fan_in(&self, at: &Rendezvous, _senders: u32) -> io::Result<FanIn> {
        let socket = UnixDatagram::bind(at.socket(PARENT)?)?;
        Ok(FanIn {
            child_fds: Vec::new(),
            token: String::new(),
            receive: Box::new(move || Ok(Box::new(PacketGather(socket.into())) as _)),
            shared_stream: false,
        })
    }
    fn join_fan_in(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(at.socket(PARENT)?)?;
        Ok(SendOnly::packets(socket.into()))
    }
}
