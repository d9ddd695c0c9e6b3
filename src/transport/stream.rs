//! A byte-stream channel over a pair of descriptors (pipes, FIFOs, stream
//! sockets): messages are framed by their known length.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::wait::{nonblocking, set_nonblocking, writable, Waiter};
use super::Channel;
use crate::results::Wait;
use crate::sys::uring::Op;

pub struct FdStream {
    rx: OwnedFd,
    tx: OwnedFd,
    waiter: Waiter,
}

impl FdStream {
    pub fn new(rx: OwnedFd, tx: OwnedFd) -> Self {
        FdStream {
            rx,
            tx,
            waiter: Waiter::Block,
        }
    }

    /// One descriptor that both reads and writes (a socket).
    pub fn duplex(fd: OwnedFd) -> io::Result<Self> {
        let tx = fd.try_clone()?;
        Ok(FdStream::new(fd, tx))
    }
}

/// Writes all of `msg`, however many writes it takes; on a descriptor
/// made non-blocking for its receiver, a full buffer is waited out.
pub fn write_all(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < msg.len() {
        match nonblocking(nix::unistd::write(fd, &msg[done..]))? {
            Some(n) => done += n,
            None => writable(fd.as_fd())?,
        }
    }
    Ok(())
}

/// Fills all of `buf`, each read waiting as `waiter` does; the peer
/// closing first is an error.
pub fn read_exact(fd: &OwnedFd, buf: &mut [u8], waiter: &mut Waiter) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let read = |b: &mut [u8]| nix::unistd::read(fd, b);
        match waiter.receive_fd(fd.as_fd(), Some(Op::Read), &mut buf[done..], read)? {
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
        read_exact(&self.rx, buf, &mut self.waiter)
    }

    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::sys::interrupt::retry(|| nix::unistd::read(&self.rx, buf))
    }

    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::on_fd(wait, self.rx.as_fd())?;
        set_nonblocking(self.rx.as_fd(), self.waiter.needs_nonblocking())
    }

    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let (tx, rx, waiter) = (&self.tx, &self.rx, &mut self.waiter);
        Ok(super::Halves::new(
            move |m| write_all(tx, m),
            move |b| read_exact(rx, b, waiter),
        ))
    }
}
