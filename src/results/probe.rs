//! The probe file: a contract like the result file. Every mechanism's row
//! has one cell per property, with what was measured, what the claimed table
//! says (or null), and the evidence. The claimed table itself is data here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Machine;

pub const SCHEMA_VERSION: u32 = 1;

/// The probed rows: the transports of `ipcbench run`, plus `shm`, the bare
/// shared-memory segment the claimed table's "shared memory" row is about.
pub const MECHANISMS: [&str; 18] = [
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
    "tcp",
    "socketpair",
    "uds-seqpacket",
    "eventfd-shm",
    "shm-ring",
    "node-ipc",
    "ipc-channel",
    "interprocess",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Property {
    Connectionless,
    Reliable,
    FlowControl,
    Priority,
    PreservesBoundaries,
    MaxMessageBytes,
    BufferCapacityBytes,
    Bidirectional,
    PeerDeathDetected,
    FdPassing,
}

pub const PROPERTIES: [Property; 10] = [
    Property::Connectionless,
    Property::Reliable,
    Property::FlowControl,
    Property::Priority,
    Property::PreservesBoundaries,
    Property::MaxMessageBytes,
    Property::BufferCapacityBytes,
    Property::Bidirectional,
    Property::PeerDeathDetected,
    Property::FdPassing,
];

impl Property {
    pub fn key(self) -> &'static str {
        match self {
            Property::Connectionless => "connectionless",
            Property::Reliable => "reliable",
            Property::FlowControl => "flow_control",
            Property::Priority => "priority",
            Property::PreservesBoundaries => "preserves_boundaries",
            Property::MaxMessageBytes => "max_message_bytes",
            Property::BufferCapacityBytes => "buffer_capacity_bytes",
            Property::Bidirectional => "bidirectional",
            Property::PeerDeathDetected => "peer_death_detected",
            Property::FdPassing => "fd_passing",
        }
    }

    pub fn heading(self) -> &'static str {
        match self {
            Property::Connectionless => "connectionless",
            Property::Reliable => "reliable",
            Property::FlowControl => "flow control",
            Property::Priority => "priority",
            Property::PreservesBoundaries => "boundaries",
            Property::MaxMessageBytes => "max message B",
            Property::BufferCapacityBytes => "buffer B",
            Property::Bidirectional => "bidirectional",
            Property::PeerDeathDetected => "peer death seen",
            Property::FdPassing => "fd passing",
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub measured: Measured,
    /// The claimed table's `Y`/`N`, or null where it makes no claim.
    pub claimed: Option<String>,
    pub evidence: String,
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeFile {
    pub schema_version: u32,
    pub machine: Machine,
    pub rows: Vec<ProbeRow>,
}

/// The claimed table's row for a mechanism, and its four claims
/// (connectionless, reliable, flow control, priority).
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
    let i = PROPERTIES[..4].iter().position(|&q| q == p)?;
    Some(if claims[i] { "Y" } else { "N" }.to_string())
}
