//! A pipe per direction, whose sender hands its pages to the kernel with
//! `vmsplice` instead of copying them in with `write`; the receiver
//! `read`s, which copies them out: one copy where a pipe makes two.
//!
//! vmsplice puts references to the sender's pages in the pipe, so the
//! sender must not change a buffer until the receiver has read it all.
//! The sender builds each message in a buffer of its own pool (a loan),
//! and reuses a buffer only once the pipe has given up every byte of it:
//! it counts the bytes it spliced, and the pipe's unread bytes (FIONREAD)
//! tell how many of those were read, so a buffer whose last byte lies
//! before that point is free. A pipe holds at most its capacity in slots
//! (16 pages by default; ipcbench enlarges it to hold four messages,
//! within `fs.pipe-max-size`), so the pool stays a handful of buffers.
//!
//! SPLICE_F_GIFT is not used: it lets the kernel take the pages over only
//! when the reader splices them onward (into a file, say); a reader that
//! calls `read` copies either way, and a gifted page must never be
//! written again, which a reused buffer would be.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, vmsplice, FcntlArg, OFlag, SpliceFFlags};
use nix::unistd::pipe2;

use super::lending::{send_by_copy, Lending};
use super::stream::read_exact;
use super::wait::{set_nonblocking, Waiter};
use super::{Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::interrupt::retry;
use crate::sys::limits::sysctl;
use crate::sys::mapping::Mapping;
use crate::sys::pipes::unread;

pub struct Vmsplice;

const PAGE: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// Lent to the caller, or holding a message it has taken.
    Held,
    /// Spliced into the pipe; its last byte is byte `end` of all spliced.
    InPipe {
        end: u64,
    },
}

struct Buffer {
    mem: Mapping,
    state: State,
}

struct SpliceChannel {
    rx: OwnedFd,
    tx: OwnedFd,
    size: usize,
    pool: Vec<Buffer>,
    /// Bytes spliced into `tx` so far, and how many of them the receiver
    /// is known to have read.
    spliced: u64,
    read_by_peer: u64,
    loaned: Option<usize>,
    taken: Option<usize>,
    /// The buffer and length last spliced: what `alter_published` reaches for.
    spliced_last: Option<(usize, usize)>,
    waiter: Waiter,
}

impl SpliceChannel {
    fn new(rx: OwnedFd, tx: OwnedFd, size: usize) -> SpliceChannel {
        SpliceChannel {
            rx,
            tx,
            size,
            pool: Vec::new(),
            spliced: 0,
            read_by_peer: 0,
            loaned: None,
            taken: None,
            spliced_last: None,
            waiter: Waiter::Block,
        }
    }

    /// A buffer of at least `len` bytes that no pipe references and nobody
    /// holds, now held.
    fn free_buffer(&mut self, len: usize) -> io::Result<usize> {
        let found = match self.find_free(len) {
            Some(i) => i,
            None => {
                let unread = unread(self.tx.as_fd())? as u64;
                self.read_by_peer = self.spliced.saturating_sub(unread);
                match self.find_free(len) {
                    Some(i) => i,
                    None => self.grow(len)?,
                }
            }
        };
        self.pool[found].state = State::Held;
        Ok(found)
    }

    fn find_free(&self, len: usize) -> Option<usize> {
        self.pool.iter().position(|b| {
            b.mem.len() >= len
                && match b.state {
                    State::Free => true,
                    State::InPipe { end } => end <= self.read_by_peer,
                    State::Held => false,
                }
        })
    }

    fn grow(&mut self, len: usize) -> io::Result<usize> {
        let pages = len.max(self.size).max(1).div_ceil(PAGE);
        let mem = Mapping::anonymous(pages * PAGE)?;
        self.pool.push(Buffer {
            mem,
            state: State::Free,
        });
        Ok(self.pool.len() - 1)
    }

    /// Splices the first `len` bytes of buffer `i` into the pipe.
    fn splice(&mut self, i: usize, len: usize) -> io::Result<()> {
        // SAFETY: the buffer is this process's own memory and held by this
        // side; nothing writes it while the kernel takes its pages.
        let bytes = unsafe { self.pool[i].mem.bytes(0, len) };
        let mut done = 0;
        while done < len {
            let iov = [IoSlice::new(&bytes[done..])];
            done += retry(|| vmsplice(self.tx.as_fd(), &iov, SpliceFFlags::empty()))?;
        }
        self.spliced += len as u64;
        self.pool[i].state = State::InPipe { end: self.spliced };
        self.spliced_last = Some((i, len));
        Ok(())
    }
}

impl Lending for SpliceChannel {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        let i = match self.loaned {
            Some(i) if self.pool[i].mem.len() >= len => i,
            _ => self.free_buffer(len)?,
        };
        self.loaned = Some(i);
        // SAFETY: a held buffer of this process's own memory, in no pipe
        // (`free_buffer` proved the receiver read all of it).
        Ok(unsafe { self.pool[i].mem.bytes_mut(0, len) })
    }

    fn publish(&mut self, len: usize) -> io::Result<()> {
        let i = self
            .loaned
            .take()
            .ok_or_else(|| io::Error::other("vmsplice: publish without a loan"))?;
        self.splice(i, len)
    }

    fn take(&mut self) -> io::Result<&[u8]> {
        let size = self.size;
        if self.taken.is_none() {
            let i = self.free_buffer(size)?;
            self.taken = Some(i);
            // SAFETY: as in `loan`.
            let into = unsafe { self.pool[i].mem.bytes_mut(0, size) };
            read_exact(&self.rx, into, &mut self.waiter)?;
        }
        let i = self.taken.expect("taken above");
        // SAFETY: as in `loan`; the read above has finished writing it.
        Ok(unsafe { self.pool[i].mem.bytes(0, size) })
    }

    fn release(&mut self) -> io::Result<()> {
        if let Some(i) = self.taken.take() {
            self.pool[i].state = State::Free;
        }
        Ok(())
    }

    fn echo(&mut self) -> io::Result<()> {
        let i = self
            .taken
            .take()
            .ok_or_else(|| io::Error::other("vmsplice: echo of nothing taken"))?;
        self.splice(i, self.size)
    }

    fn alter_published(&mut self) -> io::Result<()> {
        let (i, len) = self
            .spliced_last
            .ok_or_else(|| io::Error::other("vmsplice: nothing published"))?;
        // SAFETY: this process's own memory; the kernel's pipe references
        // its pages, which is what the probe shows by changing them.
        let bytes = unsafe { self.pool[i].mem.bytes_mut(0, len) };
        if let Some(last) = bytes.last_mut() {
            *last ^= 0xFF;
        }
        Ok(())
    }
}

impl Channel for SpliceChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_by_copy(self, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_exact(&self.rx, buf, &mut self.waiter)
    }
    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| nix::unistd::read(&self.rx, buf))
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::on_fd(wait, self.rx.as_fd())?;
        set_nonblocking(self.rx.as_fd(), self.waiter.needs_nonblocking())
    }
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        Some(self)
    }
}

/// Makes the pipe hold a few whole messages, up to `fs.pipe-max-size`: a
/// message then goes in with one vmsplice and out with one read, and the
/// sender can splice the next while the last is read, instead of 16 pages
/// at a time with a wake-up in between. Best effort: a pipe that stays
/// smaller only takes more turns.
fn enlarge(pipe: &OwnedFd, size: usize) {
    let most = sysctl("fs.pipe-max-size").unwrap_or(0) as usize;
    let want = (MESSAGES_HELD * size).div_ceil(PAGE) * PAGE;
    if want > DEFAULT_PIPE && most > DEFAULT_PIPE {
        let _ = fcntl(pipe, FcntlArg::F_SETPIPE_SZ(want.min(most) as i32));
    }
}

const MESSAGES_HELD: usize = 4;

/// What a pipe holds unless told otherwise (16 pages).
const DEFAULT_PIPE: usize = 16 * PAGE;

impl Transport for Vmsplice {
    fn name(&self) -> &'static str {
        "vmsplice"
    }
    fn description(&self) -> &'static str {
        "pipe pair whose sender vmsplices its pages in; the receiver reads"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("anonymous pipes, the sender's pages spliced in with vmsplice from a pool it reuses only once read"),
            lends: true,
            ..super::Nature::kernel(super::Object::Pipe, super::Reach::Inherited)
        }
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 1,
            why: "vmsplice puts the sender's pages in the pipe by reference; the receiver's read copies them out",
        }
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench: several senders' spliced pages would interleave in one pipe, and each sender's pool needs its own count of what was read")
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let size = at.size;
        let (to_child_r, to_child_w) = pipe2(OFlag::O_CLOEXEC)?;
        let (to_parent_r, to_parent_w) = pipe2(OFlag::O_CLOEXEC)?;
        enlarge(&to_child_w, size);
        enlarge(&to_parent_w, size);
        let channel = SpliceChannel::new(to_parent_r, to_child_w, size);
        Ok(Prepared {
            child_fds: vec![to_child_r, to_parent_w],
            ..Prepared::ready(Box::new(channel))
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let [rx, tx]: [OwnedFd; 2] = inherited
            .fds
            .try_into()
            .map_err(|_| io::Error::other("vmsplice expects two inherited descriptors"))?;
        Ok(Box::new(SpliceChannel::new(rx, tx, at.size)))
    }
}
