//! The interprocess crate's local sockets, used as a portable-API user
//! would: a name, a listener, a stream, and std's Read and Write.

use std::io::{self, Read, Write};
use std::time::Duration;

use interprocess::local_socket::{
    prelude::*, GenericFilePath, ListenerNonblockingMode, ListenerOptions, Stream,
};

use super::{Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::interrupt;

pub struct Interprocess;

const SOCKET: &str = "interprocess.sock";

struct Local(Stream);

impl Channel for Local {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.0.write_all(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_exact(buf)?;
        Ok(buf.len())
    }
    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        // The crate reads and writes through a shared reference as well.
        let stream = &self.0;
        Ok(super::Halves::new(
            move |m| { stream }.write_all(m),
            move |b| {
                { stream }.read_exact(b)?;
                Ok(b.len())
            },
        ))
    }
}

impl Transport for Interprocess {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        (!wait.is_block()).then_some("the crate's local socket is measured through its blocking stream API, as an application uses it")
    }
    fn name(&self) -> &'static str {
        "interprocess"
    }
    fn family(&self) -> crate::results::Family {
        crate::results::Family::Library
    }
    fn description(&self) -> &'static str {
        "the interprocess crate's local socket (a Unix socket by path here)"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("the interprocess crate's local socket (a Unix stream socket here)"),
            facts: &[super::Fact {
                property: crate::results::probe::Property::FdPassing,
                holds: false,
                why: "the crate's portable local-socket API has no call for descriptors (the Unix socket underneath could carry them)",
            }],
            ..super::Nature::kernel(super::Object::UnixStream, super::Reach::Path)
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let name = at
            .socket(SOCKET)?
            .to_fs_name::<GenericFilePath>()?
            .into_owned();
        // A non-blocking accept, polled, so a peer that never connects
        // cannot hold the case forever (the crate's blocking accept retries
        // interrupted calls).
        let listener = ListenerOptions::new()
            .name(name)
            .nonblocking(ListenerNonblockingMode::Accept)
            .create_sync()?;
        Ok(Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || loop {
                match listener.accept() {
                    Ok(stream) => return Ok(Box::new(Local(stream)) as _),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if interrupt::aborted() {
                            return Err(io::Error::new(io::ErrorKind::Interrupted, "aborted"));
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    Err(e) => return Err(e),
                }
            }),
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench yet; the uds-stream rows measure the Unix stream socket underneath with one connection per sender")
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let name = at.socket(SOCKET)?.to_fs_name::<GenericFilePath>()?;
        Ok(Box::new(Local(Stream::connect(name)?)))
    }
}
