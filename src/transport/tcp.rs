//! TCP over loopback, TCP_NODELAY on (Nagle would hold back small
//! messages): the comparison behind "Unix sockets are faster than TCP".
//! Behind `--isolation separate-containers` it goes over a veth pair
//! instead, as container networking does (`Rendezvous::host`).

use std::io;
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use nix::sys::socket::{setsockopt, sockopt};

use super::{
    admission, Channel, FanIn, FdStream, Inherited, Prepared, Rendezvous, SendOnly, Transport,
};

pub struct Tcp;

/// Connects to the parent's address (loopback, or across a veth pair),
/// Nagle off, and presents the token's secret.
fn connect(token: &str) -> io::Result<OwnedFd> {
    let (address, secret) = admission::split(token)?;
    let address: SocketAddrV4 = address
        .parse()
        .map_err(|_| io::Error::other(format!("bad address '{address}'")))?;
    let stream = TcpStream::connect(address).map_err(|e| {
        let why = crate::sys::with_errno_name(&e);
        io::Error::new(e.kind(), format!("connecting to {address}: {why}"))
    })?;
    stream.set_nodelay(true)?;
    let fd = OwnedFd::from(stream);
    admission::present(&fd, secret)?;
    Ok(fd)
}

impl Transport for Tcp {
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_THE_KERNEL
    }
    fn name(&self) -> &'static str {
        "tcp"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "TCP over loopback 127.0.0.1, TCP_NODELAY on"
    }
    fn nature(&self) -> super::Nature {
        super::Nature::kernel(super::Object::TcpLoopback, super::Reach::Port)
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let listener = TcpListener::bind((at.host, 0))?;
        let (token, secret) = admission::token(&listener.local_addr()?.to_string());
        Ok(Prepared {
            child_fds: Vec::new(),
            token,
            connect: Box::new(move || {
                let fd = admission::accept(&listener.into(), &secret)?;
                setsockopt(&fd, sockopt::TcpNoDelay, &true)?;
                Ok(Box::new(FdStream::duplex(fd)?) as _)
            }),
        })
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Ok(Box::new(FdStream::duplex(connect(&inherited.token)?)?))
    }
    /// One listener; one connection per sender, polled.
    fn fan_in(&self, at: &Rendezvous, senders: u32) -> io::Result<FanIn> {
        let listener = TcpListener::bind((at.host, 0))?;
        let address = listener.local_addr()?.to_string();
        Ok(FanIn::connections(
            listener.into(),
            senders,
            &address,
            false,
        ))
    }
    fn join_fan_in(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Ok(SendOnly::stream(connect(&inherited.token)?))
    }
}
