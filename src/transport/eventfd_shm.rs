//! The payload in shared memory (an anonymous memfd), wake-ups through
//! eventfds: the same bounded buffer as the semaphore transports, with four
//! eventfds in EFD_SEMAPHORE mode as its counting semaphores (a read takes
//! one, blocking at zero; a write of 1 posts). Every descriptor is inherited,
//! so nothing has a name and nothing can be left behind.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::memfd::{memfd_create, MFdFlags};

use super::bounded_buffer::{region_len, BoundedBuffer, Semaphores, INITIAL};
use super::{Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::mapping::Mapping;

pub struct EventfdShm;

struct EventFds(Vec<OwnedFd>);

impl Semaphores for EventFds {
    fn wait(&self, which: usize) -> nix::Result<()> {
        let mut count = [0u8; 8];
        nix::unistd::read(&self.0[which], &mut count).map(drop)
    }
    fn try_wait(&self, which: usize) -> nix::Result<bool> {
        // Readable means a count above zero; one process reads each eventfd,
        // so the read that follows does not block.
        let mut fds = [PollFd::new(self.0[which].as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO)? == 0 {
            return Ok(false);
        }
        self.wait(which).map(|_| true)
    }
    fn post(&self, which: usize) -> nix::Result<()> {
        nix::unistd::write(&self.0[which], &1u64.to_ne_bytes()).map(drop)
    }
    fn descriptor(&self, which: usize) -> Option<BorrowedFd<'_>> {
        Some(self.0[which].as_fd())
    }
}

impl Transport for EventfdShm {
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_A_SLOT
    }
    fn name(&self) -> &'static str {
        "eventfd-shm"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::on_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "shared memory ring (memfd) with eventfd wake-ups, all inherited"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's bounded buffer (8 slots per direction) in an inherited memfd, with eventfds as semaphores"),
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Inherited)
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let memory = memfd_create("ipcbench-ring", MFdFlags::MFD_CLOEXEC)?;
        let len = region_len(at.size);
        nix::unistd::ftruncate(&memory, len as i64)?;
        let map = Mapping::map_fd(&memory, len)?;
        let mut ours = Vec::new();
        for &v in &INITIAL {
            let fd = EventFd::from_value_and_flags(
                v as u32,
                EfdFlags::EFD_SEMAPHORE | EfdFlags::EFD_CLOEXEC,
            )?;
            ours.push(OwnedFd::from(fd));
        }
        let mut child_fds = vec![memory];
        for fd in &ours {
            child_fds.push(fd.try_clone()?);
        }
        Ok(Prepared {
            child_fds,
            ..Prepared::ready(Box::new(BoundedBuffer::new(
                map,
                EventFds(ours),
                at.size,
                true,
            )))
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some(super::bounded_buffer::NO_FAN_IN)
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let mut fds = inherited.fds.into_iter();
        let memory = fds
            .next()
            .ok_or_else(|| io::Error::other("eventfd-shm expects its memfd"))?;
        let map = Mapping::map_fd(&memory, region_len(at.size))?;
        let events: Vec<OwnedFd> = fds.collect();
        if events.len() != INITIAL.len() {
            return Err(io::Error::other("eventfd-shm expects four eventfds"));
        }
        Ok(Box::new(BoundedBuffer::new(
            map,
            EventFds(events),
            at.size,
            false,
        )))
    }
}
