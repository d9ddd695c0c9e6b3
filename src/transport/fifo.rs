//! Named pipes: two FIFOs in the case's private directory, one per direction.
//!
//! Both sides open "to-child" first and "to-parent" second, so the blocking
//! opens pair up instead of deadlocking. The paths are unlinked as soon as
//! both ends are open: nothing is left on disk even if the run is killed.

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use super::gather::StreamGather;
use super::{Channel, FanIn, FdStream, Inherited, Prepared, Rendezvous, SendOnly, Transport};
use crate::sys::interrupt::retry;

pub struct Fifo;

const TO_CHILD: &str = "to-child.fifo";
const TO_PARENT: &str = "to-parent.fifo";

fn open_fifo(path: &Path, flags: OFlag) -> io::Result<OwnedFd> {
    retry(|| open(path, flags | OFlag::O_CLOEXEC, Mode::empty()))
}

impl Transport for Fifo {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "named pipe pair (mkfifo) opened by path"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::Fifo, super::Reach::Path)
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let to_child = at.dir.join(TO_CHILD);
        let to_parent = at.dir.join(TO_PARENT);
        for p in [&to_child, &to_parent] {
            nix::unistd::mkfifo(p, Mode::S_IRUSR | Mode::S_IWUSR)?;
        }
        Ok(Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || {
                let tx = open_fifo(&to_child, OFlag::O_WRONLY)?;
                let rx = open_fifo(&to_parent, OFlag::O_RDONLY)?;
                std::fs::remove_file(&to_child)?;
                std::fs::remove_file(&to_parent)?;
                Ok(Box::new(FdStream::new(rx, tx)) as _)
            }),
        })
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let rx = open_fifo(&at.dir.join(TO_CHILD), OFlag::O_RDONLY)?;
        let tx = open_fifo(&at.dir.join(TO_PARENT), OFlag::O_WRONLY)?;
        Ok(Box::new(FdStream::new(rx, tx)))
    }
    /// One FIFO that every sender opens for writing. The reader opens it
    /// without blocking (no writer is there yet), and reads only once all
    /// have joined: before that, a read would see the end at once.
    fn fan_in(&self, at: &Rendezvous, _senders: u32) -> io::Result<FanIn> {
        let path = at.dir.join(TO_PARENT);
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)?;
        Ok(FanIn {
            child_fds: Vec::new(),
            token: String::new(),
            receive: Box::new(move || {
                let rx = open_fifo(&path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
                nix::fcntl::fcntl(&rx, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
                Ok(Box::new(StreamGather(rx)) as _)
            }),
            shared_stream: true,
        })
    }
    fn join_fan_in(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Ok(SendOnly::stream(open_fifo(
            &at.dir.join(TO_PARENT),
            OFlag::O_WRONLY,
        )?))
    }
}
