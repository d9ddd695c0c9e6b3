//! The experiments that need a live channel to a peer process, run over the
//! same transports and harness as `ipcbench run`:
//! - flow control and buffer capacity: the peer joins and never reads; we
//!   send until a send blocks (no progress for the stall timeout) or a cap;
//! - peer death: the peer is killed, then we send: an error, or nothing;
//! - reliability: a throughput case whose receiver falls behind, fully
//!   verified.
//!
//! The bare segment (`shm`) is no transport; its versions are at the end.
//!
//! "Held back" rests on the watchdog having seen the sender stand still for
//! the stall timeout while the receiver was alive; a peer that died or
//! failed to start makes the cell `undecided`, never a verdict.

use super::{call, Stuck};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;

use super::helper::{finish, spawn_helper, unique, Action, SHM_LEN};
use super::{Finding, Subject};
use crate::harness::message::{Message, HEADER_BYTES};
use crate::harness::workload::Length;
use crate::harness::{session, Case, CaseError, PeerRole, Settings};
use crate::results::probe::{Capacity, Measured, Property};
use crate::results::Pattern;
use crate::sys::interrupt;
use crate::sys::mapping::Mapping;
use crate::transport::{Object, Transport};

/// Messages sent before concluding that a sender is never held back.
const CAP: u64 = 1_000_000;
/// Message size for the capacity experiment.
const PROBE_SIZE: usize = 1024;

pub fn probe(s: &Subject, settings: &Settings) -> Vec<(Property, Finding)> {
    let Some(t) = s.transport else {
        return bare_shm();
    };
    let (flow, mut capacity) = flow_control(t, settings);
    if s.nature.object == Object::UnixDatagram && s.nature.protocol.is_none() {
        unconnected_sender(&mut capacity);
    }
    vec![
        (Property::FlowControl, flow),
        (Property::BufferCapacityBytes, capacity),
        (Property::PeerDeathDetected, peer_death(t, settings)),
        (
            Property::ToldWhenReaderDiesHolding,
            dies_holding(t, settings),
        ),
        (Property::Reliable, reliable(t, settings)),
    ]
}

fn size_for(t: &dyn Transport) -> usize {
    if t.carries_payload() {
        PROBE_SIZE
    } else {
        HEADER_BYTES
    }
}

/// How a run of sends ended.
enum Sent {
    /// A send blocked for the stall timeout after this many went through.
    Blocked(u64),
    /// A send failed with this error after this many.
    Refused(u64, String),
    /// The cap was reached without either.
    Never(u64),
}

/// Sends until blocked, refused or the cap. A send that blocks is kicked
/// out by the watchdog, which then also kills the peer. Any other abort (the
/// peer died on its own, the user's interrupt) is the experiment's failure,
/// returned as an error for the session to explain.
fn send_until_held(live: &mut crate::harness::Live, size: usize) -> std::io::Result<Sent> {
    let mut msg = Message::new(size);
    let mut sent = 0u64;
    while sent < CAP {
        msg.stamp(crate::harness::message::DATA, sent);
        match live.channel()?.send(&msg.buf) {
            Ok(()) => {
                sent += 1;
                live.progress.store(sent, Ordering::Relaxed);
            }
            Err(_) if live.watchdog.stalled() => return Ok(Sent::Blocked(sent)),
            Err(e) if interrupt::aborted() => return Err(e),
            Err(e) => return Ok(Sent::Refused(sent, error_name(&e))),
        }
    }
    Ok(Sent::Never(sent))
}

fn error_name(e: &std::io::Error) -> String {
    e.raw_os_error()
        .map(|n| format!("{:?}", nix::errno::Errno::from_raw(n)))
        .unwrap_or_else(|| e.to_string())
}

fn spec<'a>(t: &'static dyn Transport, role: PeerRole, settings: &'a Settings) -> Case<'a> {
    Case::session(t, Pattern::Throughput, size_for(t), role, settings)
}

fn flow_control(t: &'static dyn Transport, settings: &Settings) -> (Finding, Finding) {
    let size = size_for(t);
    let unit = if t.carries_payload() {
        "messages"
    } else {
        "posts"
    };
    let stall = humantime::format_duration(settings.timeout);
    match session(&spec(t, PeerRole::Hold, settings), |live| send_until_held(live, size)) {
        Ok(Sent::Blocked(n)) => {
            let capacity = if t.carries_payload() {
                let bytes = n * size as u64;
                Finding {
                    capacity: vec![Capacity {
                        sender: sender_kind(t).into(),
                        messages: n,
                        message_bytes: size as u64,
                        bytes,
                    }],
                    ..Finding::new(Measured::Number(bytes), format!("{n} messages of {size} bytes ({bytes} bytes) were accepted while the receiving process read nothing; the next send blocked"))
                }
            } else {
                Finding::fact(Measured::not_applicable(), "no payload: posts are counted, not stored")
            };
            (
                Finding::yes(format!("with the receiving process holding its end and reading nothing, the sender was held back (blocked over {stall}) after {n} {unit} of {size} bytes")),
                capacity,
            )
        }
        Ok(Sent::Never(n)) => (
            Finding::no(format!("with the receiving process reading nothing, {n} {unit} were accepted without the sender ever being held back")),
            Finding::no(format!("no bound reached: {n} {unit} accepted with the receiver reading nothing")),
        ),
        Ok(Sent::Refused(n, e)) => (
            Finding::undecided(format!("a send failed with {e} after {n} {unit}, before any blocking")),
            Finding::undecided(format!("a send failed with {e}")),
        ),
        Err(e) => (Finding::undecided(case_error(e)), Finding::undecided("the experiment could not run")),
    }
}

/// A datagram sender of the transport is connected; elsewhere there is
/// only one kind of sender.
fn sender_kind(t: &dyn Transport) -> &'static str {
    if t.nature().object == Object::UnixDatagram {
        "connected"
    } else {
        "sender"
    }
}

fn case_error(e: CaseError) -> String {
    format!("the experiment could not run: {e}")
}

fn peer_death(t: &'static dyn Transport, settings: &Settings) -> Finding {
    let size = size_for(t);
    let outcome = session(&spec(t, PeerRole::Hold, settings), |live| {
        // The kill below is ours: an observation, not a reason to abort.
        live.watchdog.expect_peer_exit();
        let _ = kill(live.peer, Signal::SIGKILL);
        // Until the kernel has torn the peer down (a zombie, not yet reaped).
        let until = Instant::now() + Duration::from_secs(2);
        let pid = live.peer.as_raw() as u32;
        while Instant::now() < until && !matches!(crate::sys::process_state(pid), None | Some('Z'))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        send_until_held(live, size)
    });
    match outcome {
        Ok(Sent::Refused(n, e)) => Finding::yes(format!("after the receiving process was killed, the sender's send failed with {e} (after {n} more went through)")),
        Ok(Sent::Blocked(n)) => Finding::no(format!("after the receiving process was killed, {n} sends still succeeded and the next one blocked: the sender is never told")),
        Ok(Sent::Never(n)) => Finding::no(format!("after the receiving process was killed, {n} sends still succeeded: the sender is never told")),
        Err(e) => Finding::undecided(case_error(e)),
    }
}

pub fn nothing_lent() -> Finding {
    Finding::fact(
        Measured::not_applicable(),
        "nothing is lent: its receiver is given a copy and holds none of the sender's memory",
    )
}

/// The receiving process takes the first message where it lies and dies
/// holding it (the peer's test-only fault); then we send.
fn dies_holding(t: &'static dyn Transport, settings: &Settings) -> Finding {
    if !t.nature().lends {
        return nothing_lent();
    }
    let size = size_for(t);
    let mut s = spec(t, PeerRole::Serve, settings);
    s.spec.fault = Some(crate::harness::case::PeerFault::DiesHoldingAt(0));
    let outcome = session(&s, |live| {
        live.watchdog.expect_peer_exit();
        let mut first = Message::new(size);
        first.stamp(crate::harness::message::DATA, 0);
        live.channel()?.send(&first.buf)?;
        let until = Instant::now() + Duration::from_secs(2);
        let pid = live.peer.as_raw() as u32;
        while Instant::now() < until && !matches!(crate::sys::process_state(pid), None | Some('Z'))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        send_until_held(live, size)
    });
    let died = "after the receiving process died holding the message it had taken";
    match outcome {
        Ok(Sent::Refused(n, e)) => Finding::yes(format!("{died}, the sender's send failed with {e} (after {n} more went through)")),
        Ok(Sent::Blocked(n)) => Finding::no(format!("{died}, {n} more sends went through and the next one blocked: what the receiver held, and what was sent after, never came back, and the sender is never told")),
        Ok(Sent::Never(n)) => Finding::no(format!("{died}, {n} more sends went through: the sender is never told")),
        Err(e) => Finding::undecided(case_error(e)),
    }
}

fn reliable(t: &'static dyn Transport, settings: &Settings) -> Finding {
    const MESSAGES: u64 = 3000;
    let size = if t.carries_payload() {
        4096
    } else {
        HEADER_BYTES
    };
    let settings = Settings {
        timeout: Duration::from_secs(10),
        length: Length::Iterations(MESSAGES),
        warmup: Duration::ZERO,
        verify: crate::harness::message::Verify::Full,
        inject: None,
        memory_node: None,
        ..settings.clone()
    };
    let mut s = spec(t, PeerRole::SlowServe, &settings);
    s.spec.size = size;
    let outcome = crate::harness::measure(&s);
    match outcome {
        Ok((m, r)) => {
            let mut e = m.errors;
            e.add(&r.errors);
            let what = if t.carries_payload() {
                format!("{MESSAGES} messages of {size} bytes, each checksummed")
            } else {
                format!("{MESSAGES} posts")
            };
            let evidence = format!(
                "{what}, sent as fast as allowed to a receiver that stalls 1 ms every 64: sent {}, received {}, lost {}, duplicated {}, reordered {}, corrupted {}",
                m.messages, r.received, e.lost, e.duplicated, e.reordered, e.corrupted
            );
            Finding::new(
                Measured::flag(e.total() == 0 && r.received == m.messages),
                evidence,
            )
        }
        // A crash or a setup failure is not a delivery failure.
        Err(e) => Finding::undecided(case_error(e)),
    }
}

/// A Unix datagram sender that never connected is limited by the
/// receiver's queue length (net.unix.max_dgram_qlen), not by the send
/// buffer that bounds a connected one: sendto() by path with MSG_DONTWAIT
/// to a receiver that reads nothing, until EAGAIN.
fn unconnected_sender(cell: &mut Finding) {
    use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    let outcome = (|| -> Result<(u64, String), Stuck> {
        let dir = super::helper::private_dir()?;
        let path = dir.path().join("receiver.sock");
        let _receiver = std::os::unix::net::UnixDatagram::bind(&path)?;
        let sender = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        let addr = UnixAddr::new(&path)?;
        let msg = vec![0u8; PROBE_SIZE];
        for n in 0..CAP {
            if let Err(e) = sendto(sender.as_raw_fd(), &msg, &addr, MsgFlags::MSG_DONTWAIT) {
                return Ok((n, format!("{e:?}")));
            }
        }
        Err(Stuck::Saw(format!("{CAP} datagrams accepted")))
    })();
    let qlen =
        crate::sys::limits::sysctl("net.unix.max_dgram_qlen").map_or("?".into(), |v| v.to_string());
    match outcome {
        Ok((n, e)) => {
            let bytes = n * PROBE_SIZE as u64;
            cell.capacity.push(Capacity {
                sender: "unconnected".into(),
                messages: n,
                message_bytes: PROBE_SIZE as u64,
                bytes,
            });
            cell.evidence += &format!("; an unconnected sender (sendto() by path, MSG_DONTWAIT) got {n} datagrams of {PROBE_SIZE} bytes ({bytes} bytes) in before {e} (net.unix.max_dgram_qlen = {qlen})");
        }
        Err(e) => cell.evidence += &format!("; the unconnected-sender experiment failed: {e}"),
    }
}

/// The bare segment: one message slot, no synchronisation at all.
fn bare_shm() -> Vec<(Property, Finding)> {
    const WRITES: u64 = 20_000;
    /// The writer's pace: far faster than the stalling reader, slow enough
    /// that the reader samples throughout.
    const PACE: Duration = Duration::from_micros(2);
    let name = format!("/{}", unique("shm"));
    let outcome = (|| -> Result<(u64, u64, u64), Stuck> {
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(call("shm_open"))?;
        nix::unistd::ftruncate(&fd, SHM_LEN as i64)?;
        let map = Mapping::map_fd(&fd, SHM_LEN)?;
        map.touch();
        let mut sampler = spawn_helper(&Action::ShmSample {
            name: name.clone(),
            last: WRITES,
        })?;
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(
            sampler
                .stdout
                .as_mut()
                .ok_or(Stuck::Saw("no stdout".into()))?,
        )
        .read_line(&mut line)?;
        let start = Instant::now();
        for seq in 1..=WRITES {
            let next = Instant::now() + PACE;
            while Instant::now() < next {
                std::hint::spin_loop();
            }
            // Sequence, its copy, a checksum of both: a reader that catches
            // the slot half-written sees them disagree.
            map.write(0, &seq.to_le_bytes());
            map.write(8, &seq.to_le_bytes());
            let mut both = [0u8; 16];
            both[..8].copy_from_slice(&seq.to_le_bytes());
            both[8..].copy_from_slice(&seq.to_le_bytes());
            map.write(16, &crc32c::crc32c(&both).to_le_bytes());
        }
        let writing = start.elapsed().as_micros() as u64;
        let seen = finish(sampler, Duration::from_secs(12));
        // The reader has exited: does anything tell the writer?
        map.write(0, &0u64.to_le_bytes());
        let mut it = seen.split_whitespace().map(|v| v.parse::<u64>());
        match (it.next(), it.next()) {
            (Some(Ok(s)), Some(Ok(t))) => Ok((s, t, writing)),
            _ => Err(Stuck::Saw(format!("the reading process said: {seen}"))),
        }
    })();
    let _ = shm_unlink(name.as_str());
    match outcome {
        Ok((seen, torn, micros)) => vec![
            (
                Property::FlowControl,
                Finding::no(format!("the writer was never held back: {WRITES} writes into one slot took {micros} µs while the reading process fell behind")),
            ),
            (
                Property::BufferCapacityBytes,
                Finding::no(format!("the segment is not a queue: of {WRITES} messages written into its one slot, the reader saw {seen}; each write replaced what was there")),
            ),
            (
                Property::Reliable,
                Finding::no(format!("{WRITES} messages written into one slot without a protocol, one every 2 µs, to a reading process that stalls 1 ms every 64 reads: it saw {seen} of them ({} overwritten unread) and {torn} half-written (torn) reads", WRITES - seen.min(WRITES))),
            ),
            (
                Property::PeerDeathDetected,
                Finding::no("after the reading process had exited, a write into the segment still succeeded: nothing tells the writer"),
            ),
        ],
        Err(e) => [Property::FlowControl, Property::BufferCapacityBytes, Property::Reliable, Property::PeerDeathDetected]
            .into_iter()
            .map(|p| (p, Finding::undecided(e.to_string())))
            .collect(),
    }
}
