//! The building of a case's row: whether the case can run here at all,
//! then what its session measured, filled into the row its pattern has.

use crate::results::failure::Cause;
use crate::results::{CpuPerMessage, Pattern, Placement, Row, Status, Wait};
use crate::transport::Transport;

use super::runner::Runner;
use super::workload::{PeerReport, Timed};
use super::{execute, message, Case, CaseError};

/// Runs one case to a result row; never panics on what the peer or the
/// kernel does, and leaves no process or IPC object behind.
pub fn run_case(case: &Case) -> Row {
    let row = case.row();
    if let Err(reason) = workload_supported(case) {
        return row.with_status(Status::Unsupported, reason.to_string());
    }
    if let Err(over) = case.transport.check_size(case.spec.size) {
        return Row {
            cause: Some(over.cause()),
            ..row.with_status(Status::Unsupported, over.to_string())
        };
    }
    if let Err((bytes, e)) = memory_admits(case) {
        return Row {
            cause: Some(Cause::OutOfMemory { bytes }),
            ..row.with_status(Status::Unsupported, e)
        };
    }
    let cpus = match placement_cpus(case) {
        Ok(c) => c,
        Err(reason) => return row.with_status(Status::Unsupported, reason.to_string()),
    };
    if let Some(why) = unplaceable(case) {
        return row.with_status(Status::Unsupported, why);
    }
    let mut row = Row {
        cpus: cpus.map_or_else(Vec::new, |(p, c)| vec![p, c]),
        ..row
    };
    let node = case.settings.memory_node;
    crate::sys::numa::place_new_mappings(node);
    let executed = execute(case, cpus);
    let found = crate::sys::numa::found();
    crate::sys::numa::place_new_mappings(None);
    match executed {
        Ok((measured, report)) => {
            fill(&mut row, case, &measured, &report);
            if let Some(asked) = node {
                row.note = Some(join_note(row.note.take(), memory_found(asked, &found)));
                row.memory_nodes = Some(found);
            }
            row.member_cpus = super::crowd::member_cpus(case, cpus);
            if let Some(crowded) = super::crowd::crowding(case, cpus) {
                row.note = Some(join_note(row.note.take(), crowded));
            }
            row
        }
        Err(CaseError::Unsupported { reason, cause }) => Row {
            cause,
            ..row.with_status(Status::Unsupported, reason)
        },
        Err(CaseError::Failed(failure)) => Row {
            failure: Some(failure.clone()),
            ..row.with_status(Status::Failed, failure.to_string())
        },
    }
}

/// A row's note with `more` after what it said already.
pub(super) fn join_note(note: Option<String>, more: String) -> String {
    match note {
        Some(n) => format!("{n}; {more}"),
        None => more,
    }
}

/// `--memory-node` with a transport that has no shared memory to place.
fn unplaceable(case: &Case) -> Option<String> {
    let node = case.settings.memory_node?;
    (!case.transport.shared_memory())
        .then(|| format!("--memory-node {node}: it makes no shared mapping for the node to hold"))
}

/// Where the pages were found, against where they were asked to be.
fn memory_found(asked: usize, found: &[usize]) -> String {
    match found {
        [] => format!(
            "memory bound to node {asked}; where its pages are could not be read (move_pages)"
        ),
        [only] if *only == asked => {
            format!("memory on node {asked}, as asked (move_pages after the first touch)")
        }
        _ => format!("memory asked on node {asked}, pages found on nodes {found:?}"),
    }
}

/// Why a lending transport runs no open loop.
const LENT_OPEN_LOOP: &str = "its messages are lent, and the open loop sends and receives on two threads at once, which ipcbench's loan API does not split in halves";

/// Why `transport` cannot run `pattern` at all, if it cannot.
pub fn refusal(transport: &dyn Transport, pattern: Pattern) -> Option<String> {
    let runner = Runner::of(transport);
    match (runner.refuses(pattern), pattern) {
        (Some(why), _) => Some(why),
        (None, Pattern::FanIn) => transport.fan_in_refused().map(str::to_string),
        (None, Pattern::Rate) if transport.nature().lends => Some(LENT_OPEN_LOOP.into()),
        (None, Pattern::FanOut) => transport.fan_out_refused().map(str::to_string),
        (None, Pattern::Groups) => transport.groups_refused().map(str::to_string),
        (None, _) => None,
    }
}

/// Why a transport cannot run a case's workload here.
#[derive(Debug, thiserror::Error)]
enum Unworkable {
    /// The pattern is not one its channel or its runner can do.
    #[error("{0}")]
    Pattern(String),
    #[error(
        "its peer program drives both ends, so both would be behind {0}: nothing would cross it"
    )]
    BothEndsBehind(String),
    #[error("it cannot wait as {wait}: {why}")]
    Wait { wait: Wait, why: &'static str },
    /// The machine refuses the way of waiting (io_uring disabled).
    #[error("{0}")]
    WaitUnavailable(std::io::Error),
    #[error(
        "a fan-in message carries its send time after the header: at least {} bytes",
        message::TIMED_BYTES
    )]
    TooSmallForFanIn,
}

/// Whether the transport can run the case's workload at all.
fn workload_supported(case: &Case) -> Result<(), Unworkable> {
    if let Some(why) = refusal(case.transport, case.spec.pattern) {
        return Err(Unworkable::Pattern(why));
    }
    if !case.separation.is_none() && !Runner::of(case.transport).holds_channel() {
        return Err(Unworkable::BothEndsBehind(case.separation.describe()));
    }
    let wait = case.spec.wait;
    if let Some(why) = case.transport.wait_refused(wait) {
        return Err(Unworkable::Wait { wait, why });
    }
    crate::transport::wait::available(wait).map_err(Unworkable::WaitUnavailable)?;
    match case.spec.pattern {
        Pattern::FanIn if case.spec.size < message::TIMED_BYTES => {
            Err(Unworkable::TooSmallForFanIn)
        }
        _ => Ok(()),
    }
}

/// The message-sized buffers each process holds: the message, the
/// pattern it is rebuilt from, and the echo it is compared with.
const HARNESS_BUFFERS: usize = 3;

/// Whether each process can have the case's buffers, its own and those a
/// transport allocates out of our sight (a failed allocation inside a
/// crate aborts). Learned before the peer starts: a buffer the machine
/// cannot give is a limit, like EMSGSIZE, not a crash.
fn memory_admits(case: &Case) -> Result<(), (u64, String)> {
    let hidden = case.transport.hidden_buffers();
    let buffers = HARNESS_BUFFERS + hidden;
    let bytes = buffers.saturating_mul(case.spec.size);
    let whose = match hidden {
        0 => String::new(),
        n => format!(
            ", {n} of them allocated by {}'s own code",
            case.transport.name()
        ),
    };
    crate::sys::memory::headroom(bytes).map_err(|e| {
        let why = format!(
            "{buffers} buffers of {} bytes per process{whose}: {e}",
            case.spec.size
        );
        (bytes as u64, why)
    })
}

/// (parent CPU, peer CPU) for a placement, or why it cannot be had here.
fn placement_cpus(case: &Case) -> Result<Option<(usize, usize)>, Unplaceable> {
    let (placement, allowed) = (case.placement, &case.settings.cpus[..]);
    if placement == Placement::Pair {
        return case.pair.map(Some).ok_or(Unplaceable::PairWithoutCpus);
    }
    if placement.is_class() {
        let topology = crate::topology::Topology::this_machine()?;
        return Ok(Some(topology.pair(placement, allowed)?));
    }
    match (placement, allowed) {
        (Placement::None, _) => Ok(None),
        (_, []) => Err(Unplaceable::NoAffinity),
        (Placement::Same, [c, ..]) => Ok(Some((*c, *c))),
        (_, [p, c, ..]) => Ok(Some((*p, *c))),
        (_, [only]) => Err(Unplaceable::OneCpu(*only)),
    }
}

/// Why a case's processes cannot be placed as asked.
#[derive(Debug, thiserror::Error)]
enum Unplaceable {
    #[error(transparent)]
    Topology(#[from] crate::topology::Unreadable),
    #[error(transparent)]
    NoPair(#[from] crate::topology::NoPair),
    #[error("a pair placement without its CPUs")]
    PairWithoutCpus,
    #[error("cannot read this process's CPU affinity")]
    NoAffinity,
    #[error("cross placement needs two CPUs; this process may only use CPU {0}")]
    OneCpu(usize),
}

fn fill(row: &mut Row, case: &Case, m: &Timed, peer: &PeerReport) {
    let per_msg = |ns: f64| ns / m.messages.max(1) as f64;
    row.timed_by = Runner::of(case.transport).timed_by().map(str::to_string);
    row.note = row_note(case, peer);
    row.messages = m.messages;
    row.warmup_messages = m.warmup_messages;
    row.elapsed_s = m.elapsed.as_secs_f64();
    row.cpu_ns_per_msg = Some(CpuPerMessage {
        parent: per_msg(m.cpu.as_nanos() as f64),
        child: per_msg(peer.cpu_ns as f64),
    });
    // Each side over its own timed window: the peer's starts and ends a
    // control message later, which counts in a case of a few hundred µs.
    let parent_ns = m.elapsed.as_nanos() as u64;
    let busy = |cpu: u64, wall: u64| cpu as f64 / wall.max(1) as f64;
    row.cpu_busy = Some(CpuPerMessage {
        parent: busy(m.cpu.as_nanos() as u64, parent_ns),
        child: busy(peer.cpu_ns, peer.elapsed_ns.unwrap_or(parent_ns)),
    });
    row.errors = m.errors;
    row.schedule = m.schedule.clone();
    row.errors.add(&peer.errors);
    if let Some(h) = &m.histogram {
        row.set_distribution(h);
    }
    row.timeline = m.timeline.clone();
    row.drift = m.timeline.as_ref().and_then(|t| t.drift());
    if matches!(case.spec.pattern, Pattern::FanIn | Pattern::Throughput) {
        fill_rates(row, case, m);
    }
    if let Some(fanned) = &m.fan_out {
        fanned.fill(row, m, peer);
    }
    if let Some(grouped) = &m.groups {
        grouped.fill(row, m);
    }
}

fn fill_rates(row: &mut Row, case: &Case, m: &Timed) {
    let secs = m.elapsed.as_secs_f64();
    row.msgs_per_s = Some(m.messages as f64 / secs);
    if case.transport.carries_payload() {
        row.mib_per_s =
            Some(m.messages as f64 * case.spec.size as f64 / secs / (1u64 << 20) as f64);
    }
}

/// How to read the row, when it differs from the others: what the
/// transport says of itself, who ran the peer, who timed it.
fn row_note(case: &Case, peer: &PeerReport) -> Option<String> {
    let mut notes: Vec<String> = case
        .transport
        .note()
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(runtime) = &peer.runtime {
        notes.push(format!("peer: {runtime}"));
    }
    notes.extend(Runner::of(case.transport).note());
    notes.extend(case.separation.note(case.transport.nature().reach));
    (!notes.is_empty()).then(|| notes.join("; "))
}
