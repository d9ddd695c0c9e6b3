//! One receive at a time through an io_uring: submitted, then its
//! completion awaited. The only unsafe part is handing the kernel a buffer;
//! `receive` does not return while the kernel may still write into it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::{opcode, types, IoUring};

/// The receive's tag in the ring; its cancellation has another.
const RECEIVE: u64 = 1;
const CANCEL: u64 = 2;

pub struct Ring(IoUring);

/// How the kernel receives: `read` (pipes, FIFOs, streams, eventfd), or
/// `recv` with MSG_TRUNC so that a message's real length shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    RecvTruncated,
}

impl Ring {
    /// A small ring; a refusal names `kernel.io_uring_disabled`, which is
    /// what refuses it on most machines that do.
    pub fn new() -> io::Result<Ring> {
        IoUring::new(4).map(Ring).map_err(|e| {
            let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|_| "absent".into());
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring_setup: {e} (kernel.io_uring_disabled = {disabled}: 0 allows io_uring, 1 only to the io_uring_group, 2 to nobody)"),
            )
        })
    }

    /// Receives into `buf` from `fd` and waits for it. A signal that asks the
    /// case to stop cancels the receive and waits for the cancellation, so
    /// the kernel is done with `buf` whenever this returns.
    pub fn receive(&mut self, op: Op, fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
        let (fd, ptr, len) = (
            types::Fd(fd.as_raw_fd()),
            buf.as_mut_ptr(),
            buf.len() as u32,
        );
        let entry = match op {
            Op::Read => opcode::Read::new(fd, ptr, len).build(),
            Op::RecvTruncated => opcode::Recv::new(fd, ptr, len)
                .flags(libc::MSG_TRUNC)
                .build(),
        };
        // SAFETY: the entry points into `buf`, which stays borrowed until this
        // function returns, and it returns only once the receive's completion
        // has been reaped (done, failed or cancelled).
        unsafe { self.0.submission().push(&entry.user_data(RECEIVE)) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        let mut cancelled = false;
        loop {
            match self.0.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                    if super::interrupt::aborted() && !cancelled {
                        cancelled = true;
                        self.cancel()?;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            if let Some(result) = self.reaped() {
                return match result {
                    n if n >= 0 => Ok(n as usize),
                    _ if cancelled => Err(io::Error::new(io::ErrorKind::Interrupted, "aborted")),
                    n => Err(io::Error::from_raw_os_error(-n)),
                };
            }
        }
    }

    /// The receive's result, once its completion is in the queue.
    fn reaped(&mut self) -> Option<i32> {
        self.0
            .completion()
            .find(|c| c.user_data() == RECEIVE)
            .map(|c| c.result())
    }

    fn cancel(&mut self) -> io::Result<()> {
        let entry = opcode::AsyncCancel::new(RECEIVE).build().user_data(CANCEL);
        // SAFETY: a cancellation refers to no memory of ours.
        unsafe { self.0.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))
    }
}
