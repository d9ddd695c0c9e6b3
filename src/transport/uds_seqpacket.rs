//! Unix domain SOCK_SEQPACKET: connection-oriented like a stream, but
//! message boundaries are kept like datagrams.

use crate::results::failure::OverLimit;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::sys::socket::{
    accept4, bind, connect, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};

use super::packets::{check_fits, Packets};
use super::{Channel, FanIn, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::interrupt::retry;

pub struct UdsSeqpacket;

const SOCKET: &str = "seqpacket.sock";

fn seqpacket() -> io::Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?)
}

impl Transport for UdsSeqpacket {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "uds-seqpacket"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "Unix domain SOCK_SEQPACKET socket, bound to a path, connect/accept"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::UnixSeqpacket, super::Reach::Path)
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        check_fits(SockType::SeqPacket, size)
    }
    fn groups_refused(&self) -> Option<&'static str> {
        None
    }
    /// A seqpacket socket pair per receiver: each read one message.
    fn group_channel(&self) -> io::Result<super::GroupChannel> {
        super::GroupChannel::socket_pair(SockType::SeqPacket)
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let path = at.socket(SOCKET)?;
        let listener = seqpacket()?;
        bind(listener.as_raw_fd(), &UnixAddr::new(&path)?)?;
        listen(&listener, Backlog::new(1)?)?;
        Ok(Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || {
                let fd = retry(|| accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC))?;
                // SAFETY: accept4 just returned this descriptor and nothing else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                std::fs::remove_file(&path)?;
                Ok(Box::new(Packets::new(fd)) as _)
            }),
        })
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let fd = seqpacket()?;
        connect(fd.as_raw_fd(), &UnixAddr::new(&at.socket(SOCKET)?)?)?;
        Ok(Box::new(Packets::new(fd)))
    }
    /// One listener; one connection per sender, polled.
    fn fan_in(&self, at: &Rendezvous, senders: u32) -> io::Result<FanIn> {
        let listener = seqpacket()?;
        bind(listener.as_raw_fd(), &UnixAddr::new(&at.socket(SOCKET)?)?)?;
        listen(&listener, Backlog::new(senders as i32)?)?;
        Ok(FanIn::connections(listener, senders, "", true))
    }
    fn join_fan_in(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let fd = seqpacket()?;
        connect(fd.as_raw_fd(), &UnixAddr::new(&at.socket(SOCKET)?)?)?;
        FanIn::joined(fd, &inherited.token, true)
    }
}
