//! The probe file: a contract like the result file. Every mechanism's row
//! has one cell per property, with what was measured, how it was decided
//! (`method`), what the claimed table says (or null), and the evidence. The
//! claimed table itself is data here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Machine;

/// 2: cells gain `method` and `capacity`; `kept_without_receiver` is new.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Property {
    Connectionless,
    KeptWithoutReceiver,
    Reliable,
    FlowControl,
    Priority,
    PreservesBoundaries,
    MaxMessageBytes,
    BufferCapacityBytes,
    Bidirectional,
    PeerDeathDetected,
    FdPassing,
    /// The smallest message size at which several senders' writes mixed.
    WritesMixAtBytes,
    /// A receiver can wait for it in epoll (as event loops do).
    Pollable,
    /// A message no longer changes once sent, whatever its sender does to
    /// the memory it built it in.
    FixedOnceSent,
    /// A receiver that dies holding a lent message makes the sender's
    /// next sends fail, rather than leaving it short of memory, untold.
    ToldWhenReaderDiesHolding,
    /// One send is read by every reader waiting on the channel (a
    /// broadcast), not by one of them.
    OneSendReachesMany,
    /// A peer in a new namespace of that kind reaches the channel the way
    /// the mechanism is reached (its name, path, address or descriptor).
    CrossesIpcNamespace,
    CrossesNetworkNamespace,
    CrossesMountNamespace,
    CrossesPidNamespace,
    CrossesUserNamespace,
    /// A peer in another container of the same pod reaches it.
    CrossesSamePod,
    /// A peer in a separate container (with container networking) reaches it.
    CrossesSeparateContainers,
}

pub const PROPERTIES: [Property; 16] = [
    Property::Connectionless,
    Property::Reliable,
    Property::FlowControl,
    Property::Priority,
    Property::KeptWithoutReceiver,
    Property::PreservesBoundaries,
    Property::MaxMessageBytes,
    Property::BufferCapacityBytes,
    Property::Bidirectional,
    Property::PeerDeathDetected,
    Property::FdPassing,
    Property::WritesMixAtBytes,
    Property::Pollable,
    Property::FixedOnceSent,
    Property::ToldWhenReaderDiesHolding,
    Property::OneSendReachesMany,
];

/// The boundaries a mechanism crosses, or not: a table of their own.
pub const CROSSINGS: [Property; 7] = [
    Property::CrossesIpcNamespace,
    Property::CrossesNetworkNamespace,
    Property::CrossesMountNamespace,
    Property::CrossesPidNamespace,
    Property::CrossesUserNamespace,
    Property::CrossesSamePod,
    Property::CrossesSeparateContainers,
];

/// How to read the crossings' columns, wherever they are shown.
pub const CROSSINGS_LEGEND: &str = "The receiver stays in ipcbench's namespaces; the peer is behind a new namespace of one kind (the user namespace's root is uid 65534 outside), or behind a deployment (the README defines same-pod and separate-containers), and reaches the channel as the mechanism always does. Y: checked messages went both ways. N: the error the peer got.";

impl ProbeFile {
    /// Whether any row has a crossing cell: files from before they were
    /// probed have none, and get no table of dashes.
    pub fn has_crossings(&self) -> bool {
        self.rows
            .iter()
            .any(|r| CROSSINGS.iter().any(|p| r.cells.contains_key(p.key())))
    }
}

/// Every column the probe decides: the properties, then the crossings.
pub fn every_property() -> impl Iterator<Item = Property> {
    PROPERTIES.into_iter().chain(CROSSINGS)
}

impl Property {
    pub fn key(self) -> &'static str {
        match self {
            Property::Connectionless => "connectionless",
            Property::KeptWithoutReceiver => "kept_without_receiver",
            Property::Reliable => "reliable",
            Property::FlowControl => "flow_control",
            Property::Priority => "priority",
            Property::PreservesBoundaries => "preserves_boundaries",
            Property::MaxMessageBytes => "max_message_bytes",
            Property::BufferCapacityBytes => "buffer_capacity_bytes",
            Property::Bidirectional => "bidirectional",
            Property::PeerDeathDetected => "peer_death_detected",
            Property::FdPassing => "fd_passing",
            Property::WritesMixAtBytes => "writes_mix_at_bytes",
            Property::Pollable => "pollable",
            Property::FixedOnceSent => "fixed_once_sent",
            Property::ToldWhenReaderDiesHolding => "told_when_reader_dies_holding",
            Property::OneSendReachesMany => "one_send_reaches_many",
            Property::CrossesIpcNamespace => "crosses_ipc_namespace",
            Property::CrossesNetworkNamespace => "crosses_network_namespace",
            Property::CrossesMountNamespace => "crosses_mount_namespace",
            Property::CrossesPidNamespace => "crosses_pid_namespace",
            Property::CrossesUserNamespace => "crosses_user_namespace",
            Property::CrossesSamePod => "crosses_same_pod",
            Property::CrossesSeparateContainers => "crosses_separate_containers",
        }
    }

    pub fn heading(self) -> &'static str {
        match self {
            Property::Connectionless => "connectionless",
            Property::KeptWithoutReceiver => "kept, no receiver",
            Property::Reliable => "reliable",
            Property::FlowControl => "flow control",
            Property::Priority => "priority",
            Property::PreservesBoundaries => "boundaries",
            Property::MaxMessageBytes => "max message B",
            Property::BufferCapacityBytes => "buffer B",
            Property::Bidirectional => "bidirectional",
            Property::PeerDeathDetected => "peer death seen",
            Property::FdPassing => "fd passing",
            Property::WritesMixAtBytes => "writes mix at B",
            Property::Pollable => "pollable",
            Property::FixedOnceSent => "fixed once sent",
            Property::ToldWhenReaderDiesHolding => "told if reader dies holding",
            Property::OneSendReachesMany => "one send reaches many",
            Property::CrossesIpcNamespace => "IPC ns",
            Property::CrossesNetworkNamespace => "network ns",
            Property::CrossesMountNamespace => "mount ns",
            Property::CrossesPidNamespace => "PID ns",
            Property::CrossesUserNamespace => "user ns",
            Property::CrossesSamePod => "same-pod",
            Property::CrossesSeparateContainers => "separate-containers",
        }
    }
}

/// A measured value: yes, no, a number, or "could not decide".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measured {
    Number(u64),
    Word(String),
}

impl Measured {
    pub fn yes() -> Measured {
        Measured::Word("Y".into())
    }
    pub fn no() -> Measured {
        Measured::Word("N".into())
    }
    pub fn undecided() -> Measured {
        Measured::Word("undecided".into())
    }
    /// The property has no meaning for the mechanism (a message size for a
    /// bare signal), which is not the same as a limit of 0.
    pub fn not_applicable() -> Measured {
        Measured::Word("n/a".into())
    }
    pub fn flag(b: bool) -> Measured {
        if b {
            Measured::yes()
        } else {
            Measured::no()
        }
    }
    pub fn text(&self) -> String {
        match self {
            Measured::Number(n) => n.to_string(),
            Measured::Word(w) => w.clone(),
        }
    }
}

/// How a cell was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Something was done to the mechanism on this kernel and the outcome
    /// observed (an errno, a message that arrived or did not, a block).
    Experiment,
    /// A kernel setting (sysctl, filesystem size) was read; nothing was sent.
    KernelSetting,
    /// A fact of the API that no experiment can change (a call that takes
    /// no priority argument, a semaphore that carries no bytes).
    ApiFact,
}

impl Method {
    /// The mark a table shows after the value; none for an experiment.
    pub fn mark(self) -> &'static str {
        match self {
            Method::Experiment => "",
            Method::KernelSetting => " †",
            Method::ApiFact => " §",
        }
    }

    pub const LEGEND: &'static str = "No mark: decided by experiment on this kernel. † a kernel setting that was read. § a fact of the API that no experiment can change.";
}

/// How much a channel held while its receiver read nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Which sender was measured ("connected", "unconnected", or "sender").
    pub sender: String,
    pub messages: u64,
    pub message_bytes: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub measured: Measured,
    pub method: Method,
    /// The claimed table's `Y`/`N`, or null where it makes no claim.
    pub claimed: Option<String>,
    pub evidence: String,
    /// Buffer capacity cells: what each kind of sender got in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<Capacity>,
}

impl Cell {
    /// Whether measurement contradicts the claim.
    pub fn disagrees(&self) -> bool {
        match (&self.claimed, &self.measured) {
            (Some(c), Measured::Word(w)) => (w == "Y" || w == "N") && w != c,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    pub mechanism: String,
    pub cells: BTreeMap<String, Cell>,
}

/// How many cells each method decided, over the whole file and over the
/// claimed table's four columns.
pub struct MethodCount {
    pub cells: usize,
    pub experiments: usize,
    pub settings: usize,
    pub facts: usize,
    pub claimed_cells: usize,
    pub claimed_experiments: usize,
}

impl ProbeFile {
    pub fn method_count(&self) -> MethodCount {
        let mut n = MethodCount {
            cells: 0,
            experiments: 0,
            settings: 0,
            facts: 0,
            claimed_cells: 0,
            claimed_experiments: 0,
        };
        for row in &self.rows {
            let claimed_row = CLAIMED_TABLE_ROWS.contains(&row.mechanism.as_str());
            for (key, cell) in &row.cells {
                n.cells += 1;
                match cell.method {
                    Method::Experiment => n.experiments += 1,
                    Method::KernelSetting => n.settings += 1,
                    Method::ApiFact => n.facts += 1,
                }
                let claimed_column = CLAIMED_COLUMNS.iter().any(|p| p.key() == key);
                if claimed_row && claimed_column {
                    n.claimed_cells += 1;
                    n.claimed_experiments += usize::from(cell.method == Method::Experiment);
                }
            }
        }
        n
    }

    /// One sentence on how the file's cells were decided, as the probe
    /// output and the README state it.
    pub fn method_summary(&self) -> String {
        let n = self.method_count();
        format!(
            "{} of {} cells decided by experiment, {} by reading a kernel setting, {} are facts of the API; the claimed table's four columns: {} of {} by experiment.",
            n.experiments, n.cells, n.settings, n.facts, n.claimed_experiments, n.claimed_cells
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeFile {
    pub schema_version: u32,
    pub machine: Machine,
    pub rows: Vec<ProbeRow>,
}

/// The rows that stand for the claimed table: its mechanisms, with the
/// bounded buffers that give shared memory the semaphores the table
/// assumes. The other transports are there for comparison.
pub const CLAIMED_TABLE_ROWS: [&str; 10] = [
    "pipe",
    "fifo",
    "uds-stream",
    "uds-dgram",
    "posix-mq",
    "sysv-mq",
    "shm",
    "shm-posix-sem",
    "shm-sysv-sem",
    "semaphore",
];

/// The columns of the claimed table, in its order.
pub const CLAIMED_COLUMNS: [Property; 4] = [
    Property::Connectionless,
    Property::Reliable,
    Property::FlowControl,
    Property::Priority,
];

/// The claimed table's row for a mechanism, and its four claims
/// (connectionless, reliable, flow control, priority). This is data the
/// project tests, so it lives in the contract, keyed by the probed rows.
pub fn claimed_row(mechanism: &str) -> Option<(&'static str, [bool; 4])> {
    Some(match mechanism {
        "pipe" => ("anonymous pipe", [false, true, true, false]),
        "fifo" => ("named pipe (FIFO)", [false, true, true, false]),
        "posix-mq" | "sysv-mq" => ("message queue", [false, true, true, false]),
        "semaphore" => ("semaphore", [false, true, true, true]),
        "shm" => ("shared memory", [false, true, true, true]),
        "uds-stream" => ("UNIX stream socket", [false, true, true, false]),
        "uds-dgram" => ("UNIX datagram socket", [true, true, false, false]),
        _ => return None,
    })
}

pub fn claimed(mechanism: &str, p: Property) -> Option<String> {
    let (_, claims) = claimed_row(mechanism)?;
    let i = CLAIMED_COLUMNS.iter().position(|&q| q == p)?;
    Some(if claims[i] { "Y" } else { "N" }.to_string())
}
