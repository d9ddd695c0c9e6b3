//! System V shared memory (shmget/shmat) carrying the payload in a bounded
//! buffer, synchronised by a System V semaphore set of four. The segment is
//! marked for removal as soon as the parent has attached it (Linux still
//! lets the peer attach by id), so it cannot outlive the two processes; the
//! semaphore set is removed when the case ends.

use crate::results::failure::OverLimit;
use std::io;

use super::bounded_buffer::{region_len, BoundedBuffer, Semaphores, INITIAL};
use super::{unsupported, Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::limits::sysctl;
use crate::sys::sysv::{Segment, SemSet};

pub struct ShmSysvSem;

impl Semaphores for SemSet {
    fn wait(&self, which: usize) -> nix::Result<()> {
        SemSet::wait(self, which as u16)
    }
    fn try_wait(&self, which: usize) -> nix::Result<bool> {
        SemSet::try_wait(self, which as u16)
    }
    fn post(&self, which: usize) -> nix::Result<()> {
        SemSet::post(self, which as u16)
    }
}

fn parse_token(token: &str) -> io::Result<(i32, i32)> {
    token
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| io::Error::other(format!("bad System V ids '{token}'")))
}

impl Transport for ShmSysvSem {
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> super::Copies {
        super::Copies::THROUGH_A_SLOT
    }
    fn name(&self) -> &'static str {
        "shm-sysv-sem"
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        super::wait::without_descriptor(wait)
    }
    fn description(&self) -> &'static str {
        "System V shared memory ring (shmget, shmat) with a System V semaphore set"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's bounded buffer (8 slots per direction) over a System V segment, with a System V semaphore set"),
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Key)
        }
    }
    fn check_size(&self, size: usize) -> Result<(), OverLimit> {
        let needed = region_len(size) as u64;
        match sysctl("kernel.shmmax") {
            Some(max) if needed > max => Err(OverLimit {
                what: "ring segment",
                needed,
                limit: "kernel.shmmax".into(),
                value: max,
                remedy: format!("raise it as root: sysctl kernel.shmmax={needed}"),
            }),
            _ => Ok(()),
        }
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let segment = Segment::create(region_len(at.size)).map_err(|e| match e {
            nix::errno::Errno::ENOSPC | nix::errno::Errno::ENOMEM => unsupported(format!(
                "shmget: {e}: System V shared memory limits (kernel.shmall, kernel.shmmni) are used up"
            )),
            e => e.into(),
        })?;
        segment.mark_for_removal()?;
        let sems = SemSet::create(&INITIAL).map_err(|e| match e {
            nix::errno::Errno::ENOSPC => unsupported(
                "semget: ENOSPC: the system's System V semaphore limits (kernel.sem) are used up"
                    .into(),
            ),
            e => e.into(),
        })?;
        let token = format!("{},{}", segment.id(), sems.id());
        let channel = BoundedBuffer::new(segment.into_map(), sems, at.size, true);
        Ok(Prepared {
            token,
            ..Prepared::ready(Box::new(channel))
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some(super::bounded_buffer::NO_FAN_IN)
    }
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let (shm, sem) = parse_token(&inherited.token)?;
        let segment = Segment::attach(shm, region_len(at.size))?;
        Ok(Box::new(BoundedBuffer::new(
            segment.into_map(),
            SemSet::attach(sem)?,
            at.size,
            false,
        )))
    }
    fn orphaned(&self, _tag: &str, token: &str) {
        // The segment was marked for removal at creation; the set was not.
        if let Ok((_, sem)) = parse_token(token) {
            drop(SemSet::adopt(sem));
        }
    }
}
