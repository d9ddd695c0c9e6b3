//! What fan-in and fan-out share: several peer processes of one case (a
//! fan-in's senders, a fan-out's subscribers), each watched; where each
//! runs; how they are stopped and reaped whatever happened; and which of
//! them explains a failure.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use nix::unistd::Pid;

use super::case::PeerStart;
use super::watchdog::{Event, Watchdog};
use super::{Case, CaseError};
use crate::results::failure::Failure;
use crate::results::Placement;
use crate::sys::interrupt;
use crate::transport::Rendezvous;

/// One of the case's peer processes and what watches it.
pub struct Member {
    pub child: Child,
    pub watchdog: Watchdog,
}

impl Member {
    /// Starts member `member`, meeting at `at` with `token`, pinned to
    /// `cpu`, inheriting `fds`, reading `stdin`; known to the janitor by
    /// its case's tag.
    pub fn start(
        case: &Case,
        (at, fds, token): (&Rendezvous, &[OwnedFd], &str),
        (member, cpu): (u32, Option<usize>),
        stdin: Stdio,
        progress: &Arc<AtomicU64>,
    ) -> io::Result<Member> {
        let start = PeerStart {
            case: case.spec.clone(),
            dir: at.dir.to_path_buf(),
            tag: at.tag.to_string(),
            token: token.to_string(),
            child_cpu: None,
            pinner: None,
            member: Some(member),
        };
        let mut child = super::spawn_peer(case, (at, None), fds, (start, cpu), stdin)?;
        super::janitor::peer(child.id(), at.tag);
        let control: OwnedFd = child.stdout.take().expect("peer stdout is piped").into();
        let pid = Pid::from_raw(child.id() as i32);
        let watchdog = Watchdog::start(control, pid, progress.clone(), case.settings.timeout);
        Ok(Member { child, watchdog })
    }
}

/// Stops and reaps every member; on failure, names the member that
/// explains it best (`role` says what a member is: "sender").
pub fn finish<T>(
    members: Vec<(Member, String)>,
    outcome: io::Result<T>,
    (done, timeout): (u64, Duration),
    role: &str,
) -> Result<T, CaseError> {
    let failed = outcome.is_err();
    let mut ended = Vec::new();
    for (i, (mut member, tag)) in members.into_iter().enumerate() {
        let status = if failed && !interrupt::interrupted() {
            super::exit_within(&mut member.child, Duration::from_millis(200))
        } else {
            None
        };
        if failed && status.is_none() {
            crate::sys::kill_group(member.child.id());
        }
        // Bounded, as every wait for another process: a member that has
        // done everything and does not exit is killed.
        let _ = crate::sys::process::reap_within(&mut member.child, timeout);
        super::janitor::peer_reaped(member.child.id(), &tag);
        let stalled = member.watchdog.stalled();
        let seen = member.watchdog.finish();
        ended.push((i, status, stalled, seen));
    }
    outcome.map_err(|e| {
        // The member that explains the failure: the first to die by a
        // signal, else to stall, else to fail by itself; one that only
        // lost the other end (EPIPE) is a consequence, never the story.
        let telling = ended
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, st, stalled, seen))| (blame(st, *stalled, seen), *i))
            .map_or(0, |(i, _)| i);
        let count = ended.len();
        match ended.into_iter().nth(telling) {
            Some((i, st, stalled, seen)) => {
                match super::explain((e, None), st, stalled, &seen, done, timeout) {
                    CaseError::Failed(why) => CaseError::Failed(Failure::Member {
                        role: role.to_string(),
                        index: i,
                        count,
                        failure: Box::new(why),
                    }),
                    other => other,
                }
            }
            None => super::classify("starting the processes", e),
        }
    })
}

/// How well a member's end explains a failed case: lower is better.
fn blame(status: &Option<std::process::ExitStatus>, stalled: bool, seen: &[Event]) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let spoke = seen.iter().any(|e| matches!(e, Event::PeerError(_)));
    let lost_other_end = seen
        .iter()
        .any(|e| matches!(e, Event::PeerError(f) if f.lost_the_other_end()));
    match () {
        _ if status.is_some_and(|s| s.signal().is_some()) => 0,
        _ if stalled || seen.iter().any(|e| matches!(e, Event::TimedOut)) => 1,
        _ if spoke && !lost_other_end => 2,
        _ if status.is_some_and(|s| !s.success()) && !lost_other_end => 3,
        _ if lost_other_end => 4,
        _ => 5,
    }
}

/// Which CPU each member runs on: the case's own process keeps the
/// first CPU of its pair, and the members take the others in turn.
pub struct Placed(pub Vec<usize>);

impl Placed {
    pub fn new(placement: Placement, cpus: Option<(usize, usize)>, allowed: &[usize]) -> Placed {
        match (placement, cpus) {
            (Placement::Same, Some((own, _))) => Placed(vec![own]),
            // A class's pair places this process and the first member; the
            // others take the remaining CPUs, as under `cross`.
            (_, Some((own, first))) => Placed(
                std::iter::once(first)
                    .chain(allowed.iter().copied().filter(|&c| c != own && c != first))
                    .collect(),
            ),
            _ => Placed(Vec::new()),
        }
    }

    pub fn of(&self, member: u32) -> Option<usize> {
        (!self.0.is_empty()).then(|| self.0[member as usize % self.0.len()])
    }
}

/// How many members a case starts, and what they are called.
fn members(case: &Case) -> Option<(usize, &'static str)> {
    match (case.spec.senders, case.spec.subscribers, case.spec.groups) {
        (Some(n), _, _) => Some((n as usize, "senders")),
        (_, Some(n), _) => Some((n as usize, "subscribers")),
        (_, _, Some((g, s, _))) => Some((2 * g as usize * s as usize, "members")),
        _ => None,
    }
}

/// The CPU each member runs on, in their order (none when unpinned).
pub fn member_cpus(case: &Case, cpus: Option<(usize, usize)>) -> Vec<usize> {
    let placed = Placed::new(case.placement, cpus, &case.settings.cpus);
    let n = members(case).map_or(0, |(n, _)| n);
    (0..n as u32).filter_map(|i| placed.of(i)).collect()
}

/// Says so when the members outnumber the CPUs they run on: they then
/// take turns, and the figures measure the scheduler as much as the
/// transport.
pub fn crowding(case: &Case, cpus: Option<(usize, usize)>) -> Option<String> {
    let (n, role) = members(case)?;
    let placed = Placed::new(case.placement, cpus, &case.settings.cpus).0;
    let (shared, on) = match placed.len() {
        0 => (case.settings.cpus.len(), "the CPUs the scheduler picks"),
        _ => (placed.len(), "their CPUs"),
    };
    (n > shared).then(|| {
        format!(
            "{n} {role} take turns on {on} ({shared} CPU{}{}): more {role} than CPUs",
            if shared == 1 { "" } else { "s" },
            if placed.is_empty() {
                String::new()
            } else {
                format!(" {placed:?}")
            }
        )
    })
}
