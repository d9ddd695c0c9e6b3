//! hackbench's load, as `perf bench sched messaging` runs it: G groups,
//! each of S sender and S receiver processes. Each receiver has one
//! channel (a pipe with `pipe`, a Unix socket pair with the socket
//! transports: `Transport::group_channel`) whose write end every sender of
//! its group holds; every sender writes its loops of messages to every
//! receiver of its group, in turn, and each receiver reads S × loops.
//!
//! Every member joins, says ready, and waits on its standard input, a pipe
//! whose write end this process holds; closing it starts them all at once.
//! The total time runs, as perf's does, from that start to the last member
//! reaped; the rate is the messages over the time from the start to the
//! last receipt. A message carries its sender in the top 16 bits of its
//! sequence number, so each receiver checks every message against its
//! sender's own order (loss, duplication, reordering, corruption); where
//! the senders share a byte stream, a message that fails its check was torn
//! by another sender's write.

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::case::CaseSpec;
use super::crowd::{finish, Member, Placed};
use super::message::{
    first_seq, parse, sender_of, with_unreadable, zeroed, ErrorCounts, Message, Verifier, DATA,
};
use super::workload::{stop_if_asked, PeerReport, Timed};
use super::{Case, CaseError};
use crate::results::failure::Failure;
use crate::results::Row;
use crate::sys::{affinity, process_cpu_time};
use crate::timer::monotonic_ns;
use crate::transport::{GroupChannel, Hackbench, Rendezvous};

/// The case's shape: (groups, senders per group, loops).
fn shape(case: &CaseSpec) -> (u32, u32, u64) {
    case.groups.unwrap_or((1, 1, 1))
}

/// Members are numbered receivers first (group by group), then senders.
enum Role {
    Receiver { group: u32 },
    Sender { id: u32 },
}

fn role(case: &CaseSpec, member: u32) -> Role {
    let (groups, size, _) = shape(case);
    match member.checked_sub(groups * size) {
        None => Role::Receiver {
            group: member / size,
        },
        Some(id) => Role::Sender { id },
    }
}

/// Runs a groups case: makes every receiver's channel, starts every
/// member, fires, and stops, reaps and removes everything whatever
/// happened.
pub fn execute(
    case: &Case,
    cpus: Option<(usize, usize)>,
) -> Result<(Timed, PeerReport), CaseError> {
    let dir = super::private_dir()?;
    let (groups, size, _) = shape(&case.spec);
    let channels = (0..groups * size)
        .map(|_| case.transport.group_channel())
        .collect::<io::Result<Vec<GroupChannel>>>()
        .map_err(|e| super::classify("making the groups' channels", e))?;
    let hackbench = channels.first().and_then(|c| c.hackbench);
    let outcome = with_members(case, cpus, dir.path(), channels);
    crate::sys::interrupt::reset_case();
    let _ = affinity::pin_to(&case.settings.cpus);
    let (mut timed, report) = outcome?;
    if let Some(grouped) = timed.groups.as_mut() {
        // perf gets ten times ipcbench's own total, and five seconds at least.
        let limit = (grouped.total * 10).max(Duration::from_secs(5));
        grouped.beside = hackbench.and_then(|mode| perf_beside(&case.spec, mode, limit));
    }
    Ok((timed, report))
}

/// What a groups case adds to its row.
pub struct Grouped {
    /// From the start signal to the last member reaped, as perf counts.
    total: Duration,
    /// perf's own figure on the same shape, or why there is none.
    beside: Option<Beside>,
}

/// `perf bench sched messaging`'s own figure on the case's shape.
pub struct Beside {
    pub command: String,
    /// Its "Total time", or why there is none.
    pub total: Result<u64, String>,
}

/// perf's shape: 20 senders and receivers per group, 100-byte messages.
const PERF_GROUP_SIZE: u32 = 20;
const PERF_MESSAGE: usize = 100;

/// Runs perf on the same groups and loops right after the case, when the
/// case has perf's shape and channel; None when it has not.
fn perf_beside(case: &CaseSpec, mode: Hackbench, limit: Duration) -> Option<Beside> {
    let (groups, size, loops) = shape(case);
    if size != PERF_GROUP_SIZE || case.size != PERF_MESSAGE || crate::sys::interrupt::interrupted()
    {
        return None;
    }
    let (g, l) = (groups.to_string(), loops.to_string());
    let mut args = vec!["bench", "sched", "messaging", "-g", &g, "-l", &l];
    if mode == Hackbench::Pipes {
        args.push("-p");
    }
    let command = format!("perf {}", args.join(" "));
    let mut cmd = std::process::Command::new("perf");
    cmd.args(&args);
    let total = match crate::sys::process::output_within(&mut cmd, limit) {
        Ok(out) => perf_total(&String::from_utf8_lossy(&out))
            .ok_or_else(|| "it printed no \"Total time\"".to_string()),
        Err(e) => Err(format!("it {e}")),
    };
    Some(Beside { command, total })
}

/// The ns of perf's "Total time: 0.364 [sec]".
fn perf_total(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains("Total time"))?;
    let secs: f64 = line
        .split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((secs * 1e9).round() as u64)
}

fn with_members(
    case: &Case,
    cpus: Option<(usize, usize)>,
    dir: &std::path::Path,
    channels: Vec<GroupChannel>,
) -> Result<(Timed, PeerReport), CaseError> {
    let (gun, fired) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| super::classify("making the start pipe", e.into()))?;
    let progress = Arc::new(AtomicU64::new(0));
    let spec = Case {
        cpus,
        ..case.clone()
    };
    let placed = Placed::new(case.placement, cpus, &case.settings.cpus);
    let tag = super::fresh_tag();
    let at = Rendezvous {
        dir,
        tag: &tag,
        size: case.spec.size,
        host: std::net::Ipv4Addr::LOCALHOST,
    };
    let packets = channels.first().is_some_and(|c| c.packets);
    let (members, spawned) =
        spawn_members(&spec, (&at, packets), &channels, gun, &placed, &progress);
    // The members hold the ends now; a receiver must not find ours open.
    drop(channels);
    if let Some((own, _)) = cpus {
        let _ = affinity::pin_to(&[own]);
    }
    let first_cause = spawned.as_ref().err().cloned();
    let mut fired = Some(fired);
    let outcome = spawned.map_err(io::Error::other).and_then(|()| {
        for (member, _) in &members {
            super::expect_ready(&member.watchdog)?;
        }
        let cpu0 = crate::sys::thread_cpu_time();
        let start = monotonic_ns();
        drop(fired.take());
        let reports = members
            .iter()
            .map(|(m, _)| super::expect_report(&m.watchdog))
            .collect::<io::Result<Vec<_>>>()?;
        progress.fetch_add(1, Ordering::Relaxed);
        let cpu = crate::sys::thread_cpu_time().saturating_sub(cpu0);
        Ok((start, cpu, reports))
    });
    drop(fired);
    let done = progress.load(Ordering::Relaxed);
    let timeout = case.settings.timeout;
    let reaped = finish(members, outcome, (done, timeout), "member");
    let ended = monotonic_ns();
    match (reaped, first_cause) {
        (Err(_), Some(cause)) => Err(CaseError::Failed(cause)),
        (Err(e), None) => Err(e),
        (Ok((start, cpu, reports)), _) => Ok(timed(&case.spec, (start, ended), cpu, &reports)),
    }
}

/// Starts every member, reading `gun` as its standard input: receivers
/// with their channel's read end, senders with the write ends of their
/// group's receivers. Stops at the first that cannot start.
fn spawn_members(
    case: &Case,
    (at, packets): (&Rendezvous, bool),
    channels: &[GroupChannel],
    gun: OwnedFd,
    cpus: &Placed,
    progress: &Arc<AtomicU64>,
) -> (Vec<(Member, String)>, Result<(), Failure>) {
    let (groups, size, _) = shape(&case.spec);
    let count = 2 * groups * size;
    let token = if packets { "packets" } else { "stream" };
    let mut members = Vec::new();
    for i in 0..count {
        let fds: Vec<OwnedFd> = match role(&case.spec, i) {
            Role::Receiver { .. } => channels[i as usize].read.try_clone().into_iter().collect(),
            Role::Sender { id } => {
                let group = (id / size) as usize * size as usize;
                channels[group..group + size as usize]
                    .iter()
                    .filter_map(|c| c.write.try_clone().ok())
                    .collect()
            }
        };
        let started = gun.try_clone().and_then(|stdin| {
            let placed = (i, cpus.of(i));
            Member::start(
                case,
                (at, &fds, token),
                placed,
                Stdio::from(stdin),
                progress,
            )
        });
        match started {
            Ok(member) => members.push((member, at.tag.to_string())),
            Err(e) => {
                let doing = format!("starting member {i} of {count}");
                return (members, Err(Failure::parent(doing, &e)));
            }
        }
    }
    (members, Ok(()))
}

/// The figures, from the start and the end of reaping, and every
/// member's report.
fn timed(
    case: &CaseSpec,
    (start, reaped): (u64, u64),
    cpu: Duration,
    reports: &[PeerReport],
) -> (Timed, PeerReport) {
    let (groups, size, loops) = shape(case);
    let receivers = &reports[..(groups * size) as usize];
    let last = receivers
        .iter()
        .filter_map(|r| r.stream_window_ns.map(|w| w.1))
        .max()
        .unwrap_or(reaped);
    let mut errors = ErrorCounts::default();
    for r in receivers {
        errors.add(&r.errors);
    }
    let messages = receivers.iter().map(|r| r.received).sum::<u64>();
    let expected = u64::from(groups) * u64::from(size) * u64::from(size) * loops;
    let all = PeerReport {
        cpu_ns: reports.iter().map(|r| r.cpu_ns).sum(),
        received: messages,
        sent: expected,
        ..PeerReport::default()
    };
    let timed = Timed {
        histogram: None,
        timeline: None,
        messages,
        elapsed: Duration::from_nanos(last.saturating_sub(start).max(1)),
        cpu,
        warmup_messages: 0,
        errors,
        schedule: None,
        fan_out: None,
        groups: Some(Grouped {
            total: Duration::from_nanos(reaped.saturating_sub(start)),
            beside: None,
        }),
    };
    (timed, all)
}

impl Grouped {
    /// The row's groups figures: perf's way of counting the total time,
    /// the rate, and perf's own figure beside them where it ran.
    pub fn fill(&self, row: &mut Row, m: &Timed) {
        row.total_ns = Some(self.total.as_nanos() as u64);
        row.msgs_per_s = Some(m.messages as f64 / m.elapsed.as_secs_f64());
        // This process only starts and waits; the members' CPU is summed.
        row.cpu_busy = None;
        let Some(b) = &self.beside else { return };
        let said = match &b.total {
            Ok(ns) => format!(
                "`{}`, run right after, unpinned: total {:.3} s",
                b.command,
                *ns as f64 / 1e9
            ),
            Err(why) => format!("`{}` gave no figure: {why}", b.command),
        };
        row.perf_total_ns = b.total.as_ref().ok().copied();
        row.note = Some(super::rows::join_note(row.note.take(), said));
    }
}

/// A member's whole part, once it holds its descriptors: say ready, wait
/// for the start, then send or receive.
pub fn member(
    case: &CaseSpec,
    (member, packets): (u32, bool),
    fds: Vec<OwnedFd>,
    ready: impl FnOnce() -> io::Result<()>,
) -> io::Result<PeerReport> {
    ready()?;
    // The harness closes the other end when every member is ready.
    io::stdin().lock().read_to_end(&mut Vec::new())?;
    let cpu0 = process_cpu_time();
    let mut report = match role(case, member) {
        Role::Sender { id } => send(case, id, &fds)?,
        Role::Receiver { group } => {
            let fd = fds
                .into_iter()
                .next()
                .ok_or_else(|| io::Error::other("a receiver without its channel"))?;
            receive(case, group, &fd, packets)?
        }
    };
    report.cpu_ns = process_cpu_time().saturating_sub(cpu0).as_nanos() as u64;
    Ok(report)
}

/// A sender: its loops, each one message to every receiver in turn.
fn send(case: &CaseSpec, id: u32, receivers: &[OwnedFd]) -> io::Result<PeerReport> {
    let (_, _, loops) = shape(case);
    let mut out = Message::try_new(case.size)?;
    let first = first_seq(id);
    for l in 0..loops {
        stop_if_asked()?;
        out.build(first + l, case.verify);
        for fd in receivers {
            crate::transport::write_whole(fd, &out.buf)?;
        }
    }
    Ok(PeerReport {
        sent: loops,
        ..PeerReport::default()
    })
}

/// A receiver: size × loops messages, each checked against its sender's
/// own order.
fn receive(case: &CaseSpec, group: u32, fd: &OwnedFd, packets: bool) -> io::Result<PeerReport> {
    let (_, size, loops) = shape(case);
    let first_sender = group * size;
    let mut verifiers: Vec<Verifier> = (0..size)
        .map(|k| Verifier::from_seq(case.verify, first_seq(first_sender + k)))
        .collect();
    let mut buf = zeroed(case.size)?;
    let (mut received, mut unreadable) = (0u64, 0u64);
    let (mut first, mut last) = (None, 0u64);
    while received + unreadable < u64::from(size) * loops {
        stop_if_asked()?;
        let n = crate::transport::read_whole(fd, &mut buf, packets)?;
        if n == 0 {
            break;
        }
        let now = monotonic_ns();
        first.get_or_insert(now);
        last = now;
        let msg = &buf[..n.min(case.size)];
        let whose = parse(msg)
            .filter(|h| h.flags == DATA)
            .map(|h| sender_of(h.seq) as u32)
            .and_then(|s| s.checked_sub(first_sender))
            .filter(|&k| k < size);
        match whose {
            Some(k) => {
                verifiers[k as usize].check(msg, case.size);
                received += 1;
            }
            None => unreadable += 1,
        }
    }
    let mut errors = ErrorCounts::default();
    for v in verifiers {
        errors.add(&v.finish(loops));
    }
    Ok(PeerReport {
        received,
        errors: with_unreadable(errors, unreadable, !packets),
        stream_window_ns: first.map(|f| (f, last)),
        ..PeerReport::default()
    })
}
