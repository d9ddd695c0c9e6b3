//! POSIX shared memory (shm_open + ftruncate + mmap) carrying the payload in
//! a bounded buffer, synchronised by four named POSIX semaphores (sem_open).
//! All five names are unlinked once the peer has opened them.

use crate::results::failure::OverLimit;
use std::io;

use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;

use super::bounded_buffer::{region_len, BoundedBuffer, Semaphores, INITIAL};
use super::{unsupported, Channel, Inherited, Names, Prepared, Rendezvous, Transport};
use crate::sys::limits::dev_shm_free;
use crate::sys::mapping::Mapping;
use crate::sys::posix_sem::NamedSemaphore;

pub struct ShmPosixSem;

struct PosixSems(Vec<NamedSemaphore>);

impl Semaphores for PosixSems {
    fn wait(&self, which: usize) -> nix::Result<()> {
        self.0[which].wait()
    }
    fn try_wait(&self, which: usize) -> nix::Result<bool> {
        self.0[which].try_wait()
    }
    fn post(&self, which: usize) -> nix::Result<()> {
        self.0[which].post()
    }
}

fn shm_name(tag: &str) -> String {
    format!("/{tag}-shm")
}

fn sem_names(tag: &str) -> Vec<String> {
    (0..INITIAL.len())
        .map(|i| format!("/{tag}-sem{i}"))
        .collect()
}

impl Transport for ShmPosixSem {
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_A_SLOT
    }
    fn name(&self) -> &'static str {
        "shm-posix-sem"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::without_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "POSIX shared memory ring (shm_open, mmap) with POSIX named semaphores"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's bounded buffer (8 slots per direction) over a POSIX segment, with POSIX named semaphores"),
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Name)
        }
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        let needed = region_len(size) as u64;
        match dev_shm_free() {
            Some(free) if needed > free => Err(OverLimit {
                what: "ring segment",
                needed,
                limit: "the free space of /dev/shm".into(),
                value: free,
                remedy: "free some, or remount /dev/shm larger".into(),
            }),
            _ => Ok(()),
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let mut shm_guard = Names::new(|n| {
            let _ = shm_unlink(n);
        });
        let mut sem_guard = Names::new(|n| {
            let _ = crate::sys::posix_sem::unlink(n);
        });
        let name = shm_name(at.tag);
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )?;
        shm_guard.add(&name);
        let len = region_len(at.size);
        nix::unistd::ftruncate(&fd, len as i64).map_err(|e| match e {
            nix::errno::Errno::ENOSPC => {
                unsupported(format!("/dev/shm has no room for {len} bytes"))
            }
            e => e.into(),
        })?;
        let map = Mapping::map_fd(&fd, len)?;
        let mut sems = Vec::new();
        for (n, &v) in sem_names(at.tag).iter().zip(&INITIAL) {
            sems.push(NamedSemaphore::create(n, v as u32)?);
            sem_guard.add(n);
        }
        let channel =
            BoundedBuffer::new(map, PosixSems(sems), at.size, true).on_joined(move || {
                drop(shm_guard);
                drop(sem_guard);
            });
        Ok(Prepared::ready(Box::new(channel)))
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some(super::bounded_buffer::NO_FAN_IN)
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let fd = shm_open(
            shm_name(at.tag).as_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let map = Mapping::map_fd(&fd, region_len(at.size))?;
        let sems = sem_names(at.tag)
            .iter()
            .map(|n| NamedSemaphore::open(n))
            .collect::<nix::Result<Vec<_>>>()?;
        Ok(Box::new(BoundedBuffer::new(
            map,
            PosixSems(sems),
            at.size,
            false,
        )))
    }
    fn orphaned(&self, tag: &str, _token: &str) {
        let _ = shm_unlink(shm_name(tag).as_str());
        for n in sem_names(tag) {
            let _ = crate::sys::posix_sem::unlink(&n);
        }
    }
}
