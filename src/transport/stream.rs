//! A byte-stream channel over a pair of descriptors (pipes, FIFOs, stream
//! sockets): messages are framed by their known length.

use std::io;
use std::os::fd::OwnedFd;

use super::Channel;
use crate::sys::interrupt::retry;

pub struct FdStream {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl FdStream {
    pub fn new(rx: OwnedFd, tx: OwnedFd) -> Self {
        FdStream { rx, tx }
    }

    /// One descriptor that both reads and writes (a socket).
    pub fn duplex(fd: OwnedFd) -> io::Result<Self> {
        let tx = fd.try_clone()?;
        Ok(FdStream { rx: fd, tx })
    }
}

/// Writes all of `msg`, however many writes it takes.
pub fn write_all(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < msg.len() {
        done += retry(|| nix::unistd::write(fd, &msg[done..]))?;
    }
    Ok(())
}

/// Fills all of `buf`; the peer closing first is an error.
pub fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match retry(|| nix::unistd::read(fd, &mut buf[done..]))? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "peer closed the channel after {done} of {} bytes",
                        buf.len()
                    ),
                ))
            }
            n => done += n,
        }
    }
    Ok(done)
}

impl Channel for FdStream {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        write_all(&self.tx, msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_exact(&self.rx, buf)
    }

    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| nix::unistd::read(&self.rx, buf))
    }

    fn halves(&mut self) -> Result<super::Halves<'_>, String> {
        let (tx, rx) = (&self.tx, &self.rx);
        Ok(super::Halves::new(
            move |m| write_all(tx, m),
            move |b| read_exact(rx, b),
        ))
    }
}
