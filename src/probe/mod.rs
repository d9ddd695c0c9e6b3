//! `ipcbench probe`: decides every cell of the claimed comparison table
//! (and a few more columns) on the running kernel.
//!
//! Each row is a [`Subject`]: a transport, or the bare shared-memory segment
//! the claimed table's "shared memory" row is about. What a subject is comes
//! from its declared [`Nature`] (the kernel object, how it is reached, whose
//! protocol is on top); the experiments are chosen from that, never from a
//! name. Each cell records how it was decided ([`Method`]): an experiment,
//! a kernel setting read, or a fact of the API that the transport declares.
//! A verdict rests on the sign that proves it (an errno, a message that
//! arrived or did not, an observed block); anything else is `undecided`.

mod channel;
mod connectionless;
pub mod helper;
mod interleave;
mod namespaces;
mod node;
mod pollable;
mod priority;
mod reaches_many;
mod semantics;
mod sessions;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::Settings;
use crate::results::probe::{
    claimed, Capacity, Cell, Measured, Method, ProbeFile, ProbeRow, Property, SCHEMA_VERSION,
};
use crate::transport::{self, Nature, Object, Reach, Transport};

/// Why an experiment could not decide: a call that failed (which one, and
/// its errno), or what it met instead of an answer. Its words become the
/// `undecided` cell's evidence; a verdict matches on the variant.
#[derive(Debug, thiserror::Error)]
pub enum Stuck {
    #[error("{call}: {errno}")]
    Call {
        call: &'static str,
        errno: nix::errno::Errno,
    },
    #[error(transparent)]
    Errno(#[from] nix::errno::Errno),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A descriptor sent with SCM_RIGHTS did not come with its byte.
    #[error("the byte arrived without a descriptor")]
    NoDescriptor,
    #[error("{0}")]
    Saw(String),
}

/// The failure of the call `name`, for `map_err`.
pub fn call(name: &'static str) -> impl FnOnce(nix::errno::Errno) -> Stuck {
    move |errno| Stuck::Call { call: name, errno }
}

/// An I/O error of the call `name`, kept as its errno where it has one.
pub fn io_call(name: &'static str) -> impl FnOnce(std::io::Error) -> Stuck {
    move |e| match e.raw_os_error() {
        Some(n) => Stuck::Call {
            call: name,
            errno: nix::errno::Errno::from_raw(n),
        },
        None => Stuck::Io(e),
    }
}

impl From<Stuck> for String {
    fn from(s: Stuck) -> String {
        s.to_string()
    }
}

/// What an experiment found, before the claim is set beside it.
pub struct Finding {
    pub measured: Measured,
    pub method: Method,
    pub evidence: String,
    pub capacity: Vec<Capacity>,
}

impl Finding {
    pub fn new(measured: Measured, evidence: impl Into<String>) -> Finding {
        Finding {
            measured,
            method: Method::Experiment,
            evidence: evidence.into(),
            capacity: Vec::new(),
        }
    }
    pub fn yes(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::yes(), evidence)
    }
    pub fn no(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::no(), evidence)
    }
    pub fn flag(holds: bool, evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::flag(holds), evidence)
    }
    pub fn undecided(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::undecided(), evidence)
    }
    /// A fact of the API: nothing was tried.
    pub fn fact(measured: Measured, evidence: impl Into<String>) -> Finding {
        Finding {
            method: Method::ApiFact,
            ..Finding::new(measured, evidence)
        }
    }
    /// A kernel setting that was read: nothing was sent.
    pub fn setting(measured: Measured, evidence: impl Into<String>) -> Finding {
        Finding {
            method: Method::KernelSetting,
            ..Finding::new(measured, evidence)
        }
    }
    /// Prefixes the evidence with whose semantics it shows.
    fn about(mut self, protocol: Option<&str>) -> Finding {
        if let Some(p) = protocol {
            self.evidence = format!("{p}: {}", self.evidence);
        }
        self
    }
}

/// One row of the probe table.
pub struct Subject {
    pub name: &'static str,
    pub nature: Nature,
    /// None for the bare segment, which no workload runs over.
    pub transport: Option<&'static dyn Transport>,
}

/// The probed rows: every transport, and the bare segment after the queues,
/// where the claimed table has it.
pub fn subjects() -> Vec<Subject> {
    let mut rows: Vec<Subject> = transport::all()
        .iter()
        // Node on both ends is the same channel as its harness-driven row.
        .filter(|t| t.timed_by().is_none())
        .map(|&t| Subject {
            name: t.name(),
            nature: t.nature(),
            transport: Some(t),
        })
        .collect();
    let after_queues = rows
        .iter()
        .rposition(|s| matches!(s.nature.object, Object::PosixQueue | Object::SysvQueue))
        .map_or(rows.len(), |i| i + 1);
    rows.insert(
        after_queues,
        Subject {
            name: "shm",
            nature: Nature::kernel(Object::PosixSharedMemory, Reach::Name),
            transport: None,
        },
    );
    rows
}

/// The name of every probed row, in the table's order.
pub fn subject_names() -> Vec<&'static str> {
    subjects().iter().map(|s| s.name).collect()
}

/// `all`, or names of probed rows (see `subjects`) separated by commas.
pub fn parse_subjects(list: &str) -> Result<Vec<&'static str>, String> {
    let all = subject_names();
    if list.trim() == "all" {
        return Ok(all);
    }
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim) {
        let Some(&known) = all.iter().find(|&&n| n == name) else {
            return Err(format!(
                "unknown mechanism '{name}' to probe: expected all or a comma-separated list of {} (node-node-* is probed as node-*)",
                all.join(", ")
            ));
        };
        if !chosen.contains(&known) {
            chosen.push(known);
        }
    }
    Ok(chosen)
}

/// The address space the experiments need: 64 MiB messages sent and
/// received whole, Node children, helper processes' threads.
const NEEDS_ADDRESS_SPACE: u64 = 1 << 30;

/// Why the probe cannot run here, if it cannot: under a smaller `ulimit -v`
/// its own allocations would fail, and a refused 64 MiB buffer of ours
/// would read as the kernel's limit.
pub fn room() -> Result<(), String> {
    match crate::sys::limits::address_space() {
        Some(limit) if limit < NEEDS_ADDRESS_SPACE => Err(format!(
            "the property probes need {} MiB of address space and RLIMIT_AS (ulimit -v) allows {} MiB; raise it to probe",
            NEEDS_ADDRESS_SPACE >> 20,
            limit >> 20
        )),
        _ => Ok(()),
    }
}

/// Runs every experiment for every subject; None once the user asked to
/// stop (a half-probed table would read as a verdict).
pub fn run(settings: &Settings, only: &[&str]) -> Option<ProbeFile> {
    // Short stall timeout: a send blocked this long is "held back".
    let settings = Settings {
        timeout: Duration::from_millis(500),
        ..settings.clone()
    };
    let janitor = crate::harness::janitor::start();
    let mut rows = Vec::new();
    let chosen: Vec<Subject> = subjects()
        .into_iter()
        .filter(|s| only.contains(&s.name))
        .collect();
    // No plan to go by but that each takes about as long as the others.
    let mut eta = crate::output::Eta::new(vec![Duration::from_secs(1); chosen.len()]);
    for (i, s) in chosen.iter().enumerate() {
        let cells = probe_subject(s, &settings);
        if crate::sys::interrupt::interrupted() {
            break;
        }
        eta.step();
        let left = eta.suffix();
        if !left.is_empty() {
            crate::tell!("probed [{}/{}] {}{left}", i + 1, chosen.len(), s.name);
        }
        rows.push(ProbeRow {
            mechanism: s.name.to_string(),
            cells,
        });
    }
    if janitor {
        crate::harness::janitor::finish();
    }
    (!crate::sys::interrupt::interrupted()).then(|| ProbeFile {
        schema_version: SCHEMA_VERSION,
        machine: crate::topology::machine::detect(),
        rows,
    })
}

fn probe_subject(s: &Subject, settings: &Settings) -> BTreeMap<String, Cell> {
    let experiments: [&dyn Fn() -> Vec<(Property, Finding)>; 4] = [
        &|| {
            let (reach, kept) = connectionless::probe(s);
            vec![
                (Property::Connectionless, reach),
                (Property::KeptWithoutReceiver, kept),
            ]
        },
        &|| vec![(Property::Priority, priority::probe(s))],
        &|| semantics::probe(s),
        &|| sessions::probe(s, settings),
    ];
    let mut found: BTreeMap<Property, Finding> = BTreeMap::new();
    match s.nature.object {
        Object::NodeChannel(mode) => found.extend(node::probe(mode)),
        _ => {
            for experiment in experiments {
                // Each takes well under a second; the user's stop is honoured between them.
                if crate::sys::interrupt::interrupted() {
                    break;
                }
                found.extend(experiment());
            }
        }
    }
    if !crate::sys::interrupt::interrupted() {
        found.insert(Property::WritesMixAtBytes, interleave::probe(s, settings));
        found.insert(Property::Pollable, pollable::probe(s));
        found.insert(Property::FixedOnceSent, fixed_once_sent(s));
        found.insert(Property::OneSendReachesMany, reaches_many::probe(s));
        found.extend(namespaces::probe(s, settings));
    }
    if !s.nature.lends {
        // Node's channel and the bare segment never reach the sessions.
        found.insert(
            Property::ToldWhenReaderDiesHolding,
            sessions::nothing_lent(),
        );
    }
    // What the API settles, no experiment overrides.
    for fact in s.nature.facts {
        let finding = Finding::fact(Measured::flag(fact.holds), fact.why);
        found.insert(fact.property, finding);
    }
    found
        .into_iter()
        .map(|(p, f)| {
            let f = f.about(s.nature.protocol);
            let cell = Cell {
                measured: f.measured,
                method: f.method,
                claimed: claimed(s.name, p),
                evidence: f.evidence,
                capacity: f.capacity,
            };
            (p.key().to_string(), cell)
        })
        .collect()
}

fn fixed_once_sent(s: &Subject) -> Finding {
    match (s.transport, s.nature.object) {
        (_, Object::NodeChannel(_)) => Finding::undecided(
            "not tried: Node's channel is probed by its own peer program, which has no such experiment",
        ),
        (Some(t), _) => channel::fixed_once_sent(t),
        (None, _) => Finding::undecided(
            "the bare segment has no send: what a writer writes, any reader sees, at any time",
        ),
    }
}

/// The errno name a helper or call answered with, if that is what it was.
fn errno_sign(line: &str) -> Option<&str> {
    let is_errno = line.len() > 1
        && line.starts_with('E')
        && line
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    is_errno.then_some(line)
}
