//! Anonymous pipes: one per direction, inherited by the peer.

use std::io;
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use super::gather::StreamGather;
use super::{Channel, FanIn, FdStream, Inherited, Prepared, Rendezvous, SendOnly, Transport};

pub struct Pipe;

impl Transport for Pipe {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "pipe"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "anonymous pipe pair (pipe2), ends inherited by the peer"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::Pipe, super::Reach::Inherited)
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        let (to_child_r, to_child_w) = pipe2(OFlag::O_CLOEXEC)?;
        let (to_parent_r, to_parent_w) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(Prepared {
            child_fds: vec![to_child_r, to_parent_w],
            token: String::new(),
            connect: Box::new(move || Ok(Box::new(FdStream::new(to_parent_r, to_child_w)) as _)),
        })
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let [rx, tx]: [OwnedFd; 2] = inherited
            .fds
            .try_into()
            .map_err(|_| io::Error::other("pipe expects two inherited descriptors"))?;
        Ok(Box::new(FdStream::new(rx, tx)))
    }
    /// One pipe whose write end every sender inherits.
    fn groups_refused(&self) -> Option<&'static str> {
        None
    }
    /// hackbench's `-p`: one pipe per receiver, every sender of the group
    /// holding its write end.
    fn group_channel(&self) -> io::Result<super::GroupChannel> {
        let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(super::GroupChannel {
            read,
            write,
            packets: false,
            hackbench: Some(super::Hackbench::Pipes),
        })
    }
    fn fan_in(&self, _at: &Rendezvous, _senders: u32) -> io::Result<FanIn> {
        let (rx, tx) = pipe2(OFlag::O_CLOEXEC)?;
        Ok(FanIn {
            child_fds: vec![tx],
            token: String::new(),
            receive: Box::new(move || Ok(Box::new(StreamGather(rx)) as _)),
            shared_stream: true,
        })
    }
    fn join_fan_in(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Ok(SendOnly::stream(super::only_fd(inherited, "pipe")?))
    }
}
