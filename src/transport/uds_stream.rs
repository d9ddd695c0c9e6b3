//! Unix domain stream socket: the parent listens on a path, the peer connects.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use super::{Channel, FanIn, FdStream, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::interrupt::retry;

pub struct UdsStream;

const SOCKET: &str = "stream.sock";

impl Transport for UdsStream {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "uds-stream"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "Unix domain SOCK_STREAM socket, bound to a path, connect/accept"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::UnixStream, super::Reach::Path)
    }
    fn groups_refused(&self) -> Option<&'static str> {
        None
    }
    /// hackbench's default: a Unix stream socket pair per receiver.
    fn group_channel(&self) -> io::Result<super::GroupChannel> {
        super::GroupChannel::socket_pair(nix::sys::socket::SockType::Stream)
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let path = at.socket(SOCKET)?;
        let listener = UnixListener::bind(&path)?;
        Ok(Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || {
                // std's accept retries EINTR forever; nix's lets a dead peer end the wait.
                let fd = retry(|| {
                    nix::sys::socket::accept4(
                        listener.as_raw_fd(),
                        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                    )
                })?;
                // SAFETY: accept4 just returned this descriptor and nothing else owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                std::fs::remove_file(&path)?;
                Ok(Box::new(FdStream::duplex(fd)?) as _)
            }),
        })
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let stream = UnixStream::connect(at.socket(SOCKET)?)?;
        Ok(Box::new(FdStream::duplex(stream.into())?))
    }
    /// One listener; one connection per sender, polled.
    fn fan_in(&self, at: &Rendezvous, senders: u32) -> io::Result<FanIn> {
        let listener = UnixListener::bind(at.socket(SOCKET)?)?;
        Ok(FanIn::connections(listener.into(), senders, "", false))
    }
    fn join_fan_in(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let stream = UnixStream::connect(at.socket(SOCKET)?)?;
        FanIn::joined(stream.into(), &inherited.token, false)
    }
}
