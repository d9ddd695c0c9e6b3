//! Each message is a memfd of its own: the sender maps a fresh one, builds
//! the message in it, unmaps it, seals it against every change
//! (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`, then `F_SEAL_SEAL`) and
//! passes it with SCM_RIGHTS over an inherited Unix seqpacket socket, with
//! the message's length beside it. The receiver checks the seals before it
//! maps the memfd read-only and reads the message in place: the handoff
//! between processes that do not trust each other, since a sealed memfd
//! can no longer change under its reader. An echo passes the same memfd
//! back.
//!
//! Nothing is copied, but every message costs a memfd, two mappings and
//! their page faults: fresh pages are zeroed by the kernel as the sender
//! first touches them. The sender's mapping is kept out of forked
//! children (MADV_DONTFORK): one that a child inherited would block the
//! write seal until the child exits.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::lending::{recv_by_copy, send_by_copy, Lending};
use super::wait::{nonblocking, Waiter};
use super::{Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::fd_passing::{recv_fd, send_fd};
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;

pub struct MemfdPass;

/// What the receiver requires before it reads: nothing can write, shrink
/// or grow the memfd any more.
const REQUIRED: SealFlag = SealFlag::F_SEAL_WRITE
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW);

/// A memfd and, while this side reads or writes it, its mapping.
struct Held {
    memfd: OwnedFd,
    map: Option<Mapping>,
    len: usize,
}

struct MemfdChannel {
    socket: OwnedFd,
    loaned: Option<Held>,
    taken: Option<Held>,
    /// The memfd last passed, kept until the next: what `alter_published`
    /// reaches for, as a sender that kept its descriptor could.
    passed: Option<OwnedFd>,
    waiter: Waiter,
}

impl MemfdChannel {
    fn new(socket: OwnedFd) -> MemfdChannel {
        MemfdChannel {
            socket,
            loaned: None,
            taken: None,
            passed: None,
            waiter: Waiter::Block,
        }
    }

    /// Passes `memfd`, sealed, with the message's length.
    fn pass(&self, memfd: &OwnedFd, len: usize) -> io::Result<()> {
        let len = (len as u64).to_ne_bytes();
        retry(|| send_fd(self.socket.as_fd(), &len, memfd.as_fd()))
    }

    /// The next memfd and the length sent with it.
    fn receive(&mut self) -> io::Result<(OwnedFd, usize)> {
        let socket = self.socket.as_fd();
        let (len, n, memfd) = self.waiter.receive(
            || nonblocking(note(socket, true)),
            || retry(|| note(socket, false)),
        )?;
        match (n, memfd) {
            (8, Some(memfd)) => Ok((memfd, u64::from_ne_bytes(len) as usize)),
            (0, None) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "memfd-pass: the peer closed its socket",
            )),
            (n, None) => Err(io::Error::other(format!(
                "memfd-pass: a {n}-byte message came without its memfd"
            ))),
            (n, Some(_)) => Err(io::Error::other(format!(
                "memfd-pass: a memfd came with {n} bytes instead of its 8-byte length"
            ))),
        }
    }
}

/// One message off the socket: the length's bytes, how many came, and the
/// descriptor with them.
fn note(
    socket: std::os::fd::BorrowedFd,
    dont_wait: bool,
) -> nix::Result<([u8; 8], usize, Option<OwnedFd>)> {
    let mut len = [0u8; 8];
    let (n, memfd) = recv_fd(socket, &mut len, dont_wait)?;
    Ok((len, n, memfd))
}

/// Adds `seals`. F_SEAL_WRITE is refused (EBUSY) while any process maps
/// the memfd writable: a child that another thread forked between our
/// mmap and MADV_DONTFORK holds a copy of the loan until it execs or
/// exits, so the seal is tried again for a while before giving up.
fn seal(memfd: &OwnedFd, seals: SealFlag) -> io::Result<()> {
    for _ in 0..SEAL_TRIES {
        match fcntl(memfd, FcntlArg::F_ADD_SEALS(seals)) {
            Err(nix::errno::Errno::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            done => return done.map(drop).map_err(io::Error::from),
        }
    }
    Err(io::Error::other(format!(
        "memfd-pass: F_SEAL_WRITE refused (EBUSY) for {SEAL_TRIES} ms: another process still maps the memfd writable"
    )))
}

const SEAL_TRIES: u32 = 100;

/// Refuses a memfd that its sender could still change, or that holds less
/// than the length sent with it.
fn check_sealed(memfd: &OwnedFd, len: usize) -> io::Result<()> {
    let seals = SealFlag::from_bits_truncate(fcntl(memfd, FcntlArg::F_GET_SEALS)?);
    if !seals.contains(REQUIRED) {
        return Err(io::Error::other(format!(
            "memfd-pass: refused a memfd sealed {seals:?}: a reader needs F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW, or the sender could still change it"
        )));
    }
    let size = nix::sys::stat::fstat(memfd)?.st_size as usize;
    if size < len {
        return Err(io::Error::other(format!(
            "memfd-pass: the memfd holds {size} bytes, less than the {len} sent with it"
        )));
    }
    Ok(())
}

impl Lending for MemfdChannel {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        if self.loaned.as_ref().is_none_or(|held| held.len != len) {
            let memfd = memfd_create(
                "ipcbench-memfd-pass",
                MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
            )?;
            nix::unistd::ftruncate(&memfd, len as i64)?;
            // A mapping is never empty; the memfd's size says what is sent.
            let map = Mapping::map_fd(&memfd, len.max(1))?;
            map.dont_fork()?;
            let map = Some(map);
            self.loaned = Some(Held { memfd, map, len });
        }
        let map = self.loaned.as_mut().and_then(|h| h.map.as_mut());
        let map = map.expect("a loan is mapped until published");
        // SAFETY: the memfd is new and this side's alone: nobody else holds
        // it until `publish` passes it, after unmapping.
        Ok(unsafe { map.bytes_mut(0, len) })
    }

    fn publish(&mut self, len: usize) -> io::Result<()> {
        let mut held = self
            .loaned
            .take()
            .ok_or_else(|| io::Error::other("memfd-pass: publish without a loan"))?;
        // F_SEAL_WRITE is refused while a writable mapping exists.
        held.map = None;
        if len != held.len {
            nix::unistd::ftruncate(&held.memfd, len as i64)?;
        }
        let seals = REQUIRED | SealFlag::F_SEAL_SEAL;
        seal(&held.memfd, seals)?;
        self.pass(&held.memfd, len)?;
        self.passed = Some(held.memfd);
        Ok(())
    }

    fn take(&mut self) -> io::Result<&[u8]> {
        if self.taken.is_none() {
            let (memfd, len) = self.receive()?;
            check_sealed(&memfd, len)?;
            let map = Some(Mapping::map_fd_read_only(&memfd, len.max(1))?);
            self.taken = Some(Held { memfd, map, len });
        }
        let held = self.taken.as_ref().expect("taken above");
        let map = held.map.as_ref().expect("a taken memfd is mapped");
        // SAFETY: the memfd is sealed against writes (checked above), so
        // no process can change these bytes while they are read.
        Ok(unsafe { map.bytes(0, held.len) })
    }

    fn release(&mut self) -> io::Result<()> {
        self.taken = None;
        Ok(())
    }

    fn echo(&mut self) -> io::Result<()> {
        let held = self
            .taken
            .take()
            .ok_or_else(|| io::Error::other("memfd-pass: echo of nothing taken"))?;
        self.pass(&held.memfd, held.len)
    }

    fn alter_published(&mut self) -> io::Result<()> {
        let memfd = self
            .passed
            .as_ref()
            .ok_or_else(|| io::Error::other("memfd-pass: nothing published"))?;
        let size = nix::sys::stat::fstat(memfd)?.st_size;
        let written = nix::sys::uio::pwrite(memfd, &[0xFF], (size - 1).max(0));
        let mapped = Mapping::map_fd(memfd, 1);
        match (written, mapped) {
            (Err(w), Err(m)) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("pwrite: {w}; mmap(PROT_WRITE, MAP_SHARED): {m}"),
            )),
            _ => Ok(()),
        }
    }
}

impl Channel for MemfdChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_by_copy(self, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_by_copy(self, buf)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        // Every attempt says MSG_DONTWAIT itself: the socket stays blocking.
        self.waiter = Waiter::on_fd(wait, self.socket.as_fd())?;
        Ok(())
    }
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        Some(self)
    }
}

impl Transport for MemfdPass {
    fn name(&self) -> &'static str {
        "memfd-pass"
    }
    fn description(&self) -> &'static str {
        "each message a sealed memfd, passed with SCM_RIGHTS and read in place"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's handoff of sealed memfds (one per message) over an inherited Unix seqpacket socket"),
            lends: true,
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 0,
            why: "the sender builds the message in a memfd it maps; the receiver maps the same pages; only the descriptor moves",
        }
    }
    fn note(&self) -> Option<&'static str> {
        Some("every message is a fresh memfd: its cost is a memfd, two mappings and a page fault per page touched, which --verify seq (only the header touched) leaves out")
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::IoUring => Some("the memfd arrives as SCM_RIGHTS ancillary data, which ipcbench's io_uring receive (a plain read) does not take"),
            _ => None,
        }
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench: each sender would need a socket of its own to pass memfds on")
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(Prepared {
            child_fds: vec![theirs],
            ..Prepared::ready(Box::new(MemfdChannel::new(ours)))
        })
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let socket = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("memfd-pass expects its socket"))?;
        Ok(Box::new(MemfdChannel::new(socket)))
    }
}
