//! An anonymous Unix stream socket pair (socketpair), one end inherited by
//! the peer: what Node.js's fork() channel runs over, without its JSON.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use super::{Channel, FdStream, Inherited, Prepared, Rendezvous, Transport};

pub struct Socketpair;

impl Transport for Socketpair {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "socketpair"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "anonymous Unix stream socket pair, one end inherited by the peer"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::UnixStream, super::Reach::Inherited)
    }
    fn groups_refused(&self) -> Option<&'static str> {
        None
    }
    /// hackbench's default: a Unix stream socket pair per receiver.
    fn group_channel(&self) -> io::Result<super::GroupChannel> {
        super::GroupChannel::socket_pair(nix::sys::socket::SockType::Stream)
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        let (ours, theirs) = UnixStream::pair()?;
        Ok(Prepared {
            child_fds: vec![theirs.into()],
            ..Prepared::ready(Box::new(FdStream::duplex(ours.into())?))
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("socketpair() makes exactly two connected ends: several senders could only share one end, one byte stream, which the pipe rows measure")
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let fd: OwnedFd = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("socketpair expects one inherited descriptor"))?;
        Ok(Box::new(FdStream::duplex(fd)?))
    }
}
