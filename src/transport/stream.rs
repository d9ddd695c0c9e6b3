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

impl Channel for FdStream {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < msg.len() {
            done += retry(|| nix::unistd::write(&self.tx, &msg[done..]))?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match retry(|| nix::unistd::read(&self.rx, &mut buf[done..]))? {
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
}
