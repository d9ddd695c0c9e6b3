//! Cross-memory attach: the sender copies each message straight into the
//! receiver's memory with `process_vm_writev`, and rings an eventfd as
//! the doorbell. One copy, by the kernel, between the two address spaces;
//! no buffer of the kernel's and no shared mapping.
//!
//! Each side keeps an inbox in its own private memory: a few slots, each
//! an 8-byte length and the message. The two sides swap their process id
//! and inbox address over an inherited socket when they meet. Per
//! direction, two eventfds (counters) carry the rest:
//! - the doorbell: the sender adds 1 after each message it wrote;
//! - the credits: the receiver adds 1 for each slot it has finished with.
//!
//! A sender starts with a credit per slot and waits for more when it has
//! none, so it never writes a slot that is still being read. Slots are
//! used in turn, so both sides know which one is next without saying so.
//! An echo writes the message from the receiver's inbox slot straight
//! into the sender's: one copy each way.
//!
//! The kernel allows process_vm_writev only where ptrace would be allowed:
//! the parent names its peer with PR_SET_PTRACER (Yama's scope 1 lets a
//! process be traced only by its ancestors otherwise). A refusal makes
//! the case `unsupported`, naming the rule.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, OwnedFd};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::uio::RemoteIoVec;
use nix::unistd::Pid;

use super::lending::{recv_by_copy, Lending};
use super::stream::write_all;
use super::wait::{set_nonblocking, Waiter};
use super::{too_large, Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::cma::{allow_writes_from, write_into, Ptracer};
use crate::sys::interrupt::retry;
use crate::sys::mapping::Mapping;
use crate::sys::uring::Op;

pub struct Cma;

const LENGTH: usize = 8;

/// The inbox for messages of `size` bytes.
#[derive(Clone, Copy)]
struct Inbox {
    size: usize,
    stride: usize,
    slots: u64,
}

impl Inbox {
    fn new(size: usize) -> Inbox {
        let stride = (LENGTH + size).div_ceil(64) * 64;
        Inbox {
            size,
            stride,
            slots: ((4 << 20) / stride).clamp(2, 32) as u64,
        }
    }
    fn len(&self) -> usize {
        self.stride * self.slots as usize
    }
    fn slot(&self, n: u64) -> usize {
        (n % self.slots) as usize * self.stride
    }
}

/// The four eventfds, as one side uses them.
struct Bells {
    /// Rung after each message written into the other side's inbox.
    ring_out: OwnedFd,
    /// Rung by the other side for each message in this side's inbox.
    ring_in: OwnedFd,
    /// Credits this side receives, and those it gives.
    credit_in: OwnedFd,
    credit_out: OwnedFd,
}

fn add(fd: &OwnedFd, n: u64) -> io::Result<()> {
    retry(|| nix::unistd::write(fd, &n.to_ne_bytes())).map(drop)
}

struct CmaChannel {
    inbox: Mapping,
    shape: Inbox,
    peer: Pid,
    peer_inbox: usize,
    bells: Bells,
    /// Slots free in the other side's inbox, and messages written there.
    credits: u64,
    sent: u64,
    /// Messages announced by the doorbell and not taken yet, and messages
    /// taken so far.
    announced: u64,
    received: u64,
    taken: Option<usize>,
    scratch: Vec<u8>,
    waiter: Waiter,
    /// The parent's permission for its peer to write into it, withdrawn
    /// with the channel.
    ptracer: Option<Ptracer>,
}

impl CmaChannel {
    /// Which slot of the other side's inbox the next message goes to,
    /// waiting for a credit if none is left.
    fn reserve(&mut self, len: usize) -> io::Result<RemoteIoVec> {
        if self.credits == 0 {
            let mut count = [0u8; 8];
            retry(|| nix::unistd::read(&self.bells.credit_in, &mut count))?;
            self.credits += u64::from_ne_bytes(count);
        }
        self.credits -= 1;
        let at = self.shape.slot(self.sent);
        self.sent += 1;
        Ok(RemoteIoVec {
            base: self.peer_inbox + at,
            len: LENGTH + len,
        })
    }

    /// Writes `msg` into the reserved slot, then rings.
    fn deliver(&self, remote: RemoteIoVec, msg: &[u8]) -> io::Result<()> {
        let len = (msg.len() as u64).to_ne_bytes();
        write_into(self.peer, &[IoSlice::new(&len), IoSlice::new(msg)], remote)?;
        add(&self.bells.ring_out, 1)
    }

    fn wait_for_bell(&mut self) -> io::Result<()> {
        let bell = &self.bells.ring_in;
        let mut count = [0u8; 8];
        let read = |b: &mut [u8]| nix::unistd::read(bell, b);
        self.waiter
            .receive_fd(bell.as_fd(), Some(Op::Read), &mut count, read)?;
        self.announced += u64::from_ne_bytes(count);
        Ok(())
    }
}

impl Lending for CmaChannel {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        if len > self.shape.size {
            return Err(too_large(len, self.shape.size));
        }
        // Grown once per case, and without aborting when memory is short.
        crate::sys::memory::grow(&mut self.scratch, len)?;
        Ok(&mut self.scratch)
    }

    fn publish(&mut self, len: usize) -> io::Result<()> {
        let remote = self.reserve(len)?;
        self.deliver(remote, &self.scratch[..len])
    }

    fn take(&mut self) -> io::Result<&[u8]> {
        let at = self.shape.slot(self.received);
        if self.taken.is_none() {
            if self.announced == 0 {
                self.wait_for_bell()?;
            }
            let mut len = [0u8; LENGTH];
            self.inbox.read(at, &mut len);
            // The other side wrote it: trust it no further than the slot.
            self.taken = Some((u64::from_ne_bytes(len) as usize).min(self.shape.size));
        }
        let len = self.taken.expect("taken above");
        // SAFETY: the other side wrote this slot before ringing, and writes
        // it again only after the credit that `release` or `echo` gives.
        Ok(unsafe { self.inbox.bytes(at + LENGTH, len) })
    }

    fn release(&mut self) -> io::Result<()> {
        if self.taken.take().is_some() {
            self.announced -= 1;
            self.received += 1;
            add(&self.bells.credit_out, 1)?;
        }
        Ok(())
    }

    fn echo(&mut self) -> io::Result<()> {
        let len = self
            .taken
            .ok_or_else(|| io::Error::other("cma: echo of nothing taken"))?;
        let remote = self.reserve(len)?;
        let at = self.shape.slot(self.received) + LENGTH;
        // SAFETY: as in `take`: the slot is this side's until released.
        let msg = unsafe { self.inbox.bytes(at, len) };
        self.deliver(remote, msg)?;
        self.release()
    }

    fn alter_published(&mut self) -> io::Result<()> {
        // The message left the sender's memory when it was written across.
        if let Some(last) = self.scratch.last_mut() {
            *last ^= 0xFF;
        }
        Ok(())
    }
}

impl Channel for CmaChannel {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.len() > self.shape.size {
            return Err(too_large(msg.len(), self.shape.size));
        }
        let remote = self.reserve(msg.len())?;
        self.deliver(remote, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_by_copy(self, buf)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        let bell = self.bells.ring_in.as_fd();
        self.waiter = Waiter::on_fd(wait, bell)?;
        set_nonblocking(bell, self.waiter.needs_nonblocking())
    }
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        Some(self)
    }
}

/// What each side tells the other when they meet: where its inbox is.
/// Who it is, the kernel tells (SO_PASSCRED).
fn card(inbox: &Mapping) -> [u8; 8] {
    (inbox.address() as u64).to_ne_bytes()
}

/// The other side's card: its process as the kernel names it to us (the
/// number it wrote is its own namespace's), and its inbox, which is then
/// written once to prove that the kernel lets us.
fn read_card(socket: &OwnedFd) -> io::Result<(Pid, usize)> {
    let mut card = [0u8; 8];
    let pid = crate::sys::fd_passing::recv_exact_from(socket.as_fd(), &mut card)?;
    if pid == 0 {
        return Err(io::Error::other(
            "ESRCH: the other process is outside this one's PID namespace (its credentials name pid 0), so process_vm_writev cannot name it",
        ));
    }
    let address = u64::from_ne_bytes(card) as usize;
    let peer = Pid::from_raw(pid);
    // The first slot's length word, zero until a message is announced.
    let remote = RemoteIoVec {
        base: address,
        len: LENGTH,
    };
    write_into(peer, &[IoSlice::new(&0u64.to_ne_bytes())], remote)?;
    Ok((peer, address))
}

fn eventfd() -> io::Result<OwnedFd> {
    Ok(EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC)?.into())
}

impl CmaChannel {
    fn new(shape: Inbox, bells: Bells, (peer, peer_inbox): (Pid, usize), inbox: Mapping) -> Self {
        CmaChannel {
            inbox,
            shape,
            peer,
            peer_inbox,
            bells,
            credits: shape.slots,
            sent: 0,
            announced: 0,
            received: 0,
            taken: None,
            scratch: Vec::new(),
            waiter: Waiter::Block,
            ptracer: None,
        }
    }
}

fn new_inbox(shape: Inbox) -> io::Result<Mapping> {
    let inbox = Mapping::anonymous(shape.len())?;
    inbox.touch();
    Ok(inbox)
}

impl Transport for Cma {
    fn name(&self) -> &'static str {
        "cma"
    }
    fn description(&self) -> &'static str {
        "process_vm_writev into the receiver's memory, an eventfd as doorbell"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's inboxes in each process's private memory, written with process_vm_writev, eventfds as doorbell and credits"),
            lends: true,
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 1,
            why: "process_vm_writev copies from the sender's memory straight into the receiver's, which reads it in place",
        }
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench: each sender would need an inbox and credits of its own")
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let shape = Inbox::new(at.size);
        let (socket, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let fds: Vec<OwnedFd> = (0..4).map(|_| eventfd()).collect::<io::Result<_>>()?;
        let mut child_fds = vec![theirs];
        for fd in &fds {
            child_fds.push(fd.try_clone()?);
        }
        let [to_child, to_parent, credit_parent, credit_child]: [OwnedFd; 4] =
            fds.try_into().expect("four eventfds");
        let bells = Bells {
            ring_out: to_child,
            ring_in: to_parent,
            credit_in: credit_parent,
            credit_out: credit_child,
        };
        let inbox = new_inbox(shape)?;
        crate::sys::fd_passing::pass_credentials(socket.as_fd())?;
        let connect = move || -> io::Result<Box<dyn Channel>> {
            // Under Yama's scope 1 only an ancestor may write into a
            // process: the peer, our child, is named before it can try.
            let peer = read_card(&socket)?;
            let ptracer = allow_writes_from(peer.0)?;
            write_all(&socket, &card(&inbox))?;
            let mut channel = CmaChannel::new(shape, bells, peer, inbox);
            channel.ptracer = Some(ptracer);
            Ok(Box::new(channel))
        };
        Ok(Prepared {
            child_fds,
            token: String::new(),
            connect: Box::new(connect),
        })
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let shape = Inbox::new(at.size);
        let [socket, to_child, to_parent, credit_parent, credit_child]: [OwnedFd; 5] = inherited
            .fds
            .try_into()
            .map_err(|_| io::Error::other("cma expects a socket and four eventfds"))?;
        let bells = Bells {
            ring_out: to_parent,
            ring_in: to_child,
            credit_in: credit_child,
            credit_out: credit_parent,
        };
        let inbox = new_inbox(shape)?;
        crate::sys::fd_passing::pass_credentials(socket.as_fd())?;
        write_all(&socket, &card(&inbox))?;
        let parent = read_card(&socket)?;
        Ok(Box::new(CmaChannel::new(shape, bells, parent, inbox)))
    }
}
