//! One case as both processes of a session see it. The parent builds it,
//! measures by it, and hands it to the peer whole as one JSON argument
//! (`--start`); the peer, ipcbench's own or a Node program, reads the same
//! fields back. There is no second encoding to keep in step.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::message::Verify;
use super::workload::Fault;
use super::{PeerRole, Settings};
use crate::results::{Length, Pattern, Wait};
use crate::transport::Transport;

/// What a case does, for the parent's workload and the peer's alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseSpec {
    pub mechanism: String,
    pub pattern: Pattern,
    /// How both processes' receives wait for a message.
    #[serde(default, skip_serializing_if = "Wait::is_block")]
    pub wait: Wait,
    /// Bytes per message on the wire.
    pub size: usize,
    pub verify: Verify,
    pub length: Length,
    /// Untimed warm-up before the timed part, in seconds.
    #[serde(deserialize_with = "crate::results::seconds::deserialize")]
    pub warmup_s: f64,
    pub role: PeerRole,
    /// `rate`: messages per second offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// `fan-in`: how many processes send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub senders: Option<u32>,
    /// `fan-out`: how many processes every message reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribers: Option<u32>,
    /// `groups`: how many groups, their senders (and receivers) each, and
    /// each sender's loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<(u32, u32, u64)>,
    /// `--memory-node`: the node the peer binds the shared mappings it
    /// makes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_node: Option<usize>,
    /// Test only: a fault the peer side commits; absent in every real run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<PeerFault>,
}

/// A fault a test asks the peer side to commit (`--inject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerFault {
    /// The peer spoils the echo of this timed message.
    GarbageAt(u64),
    /// The first fan-in sender kills itself after this many timed messages.
    SenderDiesAt(u64),
    /// The peer of a lending channel dies holding this data message
    /// (counted from the first, warm-up included).
    DiesHoldingAt(u64),
    /// The peer makes each message's cycle this many percent longer (a
    /// slowdown `compare` must flag).
    SlowerPercent(u64),
}

impl CaseSpec {
    /// A case of `transport` moving `size`-byte messages, with the run's
    /// length, warm-up and verification (and the test-only garbage the
    /// settings ask for); no offered rate, no senders.
    pub fn new(
        transport: &dyn Transport,
        pattern: Pattern,
        size: usize,
        settings: &Settings,
    ) -> CaseSpec {
        let at = |fault: Fault| {
            settings
                .inject
                .filter(|i| i.fault == fault && i.only.is_none_or(|m| m == transport.name()))
                .map(|i| i.at)
        };
        CaseSpec {
            mechanism: transport.name().to_string(),
            pattern,
            wait: Wait::Block,
            size,
            verify: settings.verify,
            length: settings.length,
            warmup_s: settings.warmup.as_secs_f64(),
            role: match at(Fault::SlowPeer) {
                Some(_) => PeerRole::SlowServe,
                None => PeerRole::Serve,
            },
            rate_per_s: None,
            senders: None,
            subscribers: None,
            groups: None,
            memory_node: settings.memory_node,
            fault: None
                .or(at(Fault::PeerGarbage).map(PeerFault::GarbageAt))
                .or(at(Fault::SenderDies).map(PeerFault::SenderDiesAt))
                .or(at(Fault::DiesHolding).map(PeerFault::DiesHoldingAt))
                .or(at(Fault::Slower).map(PeerFault::SlowerPercent)),
        }
    }

    /// The message a fault of `kind` strikes at, if the case has one.
    pub fn fault_at(&self, kind: fn(u64) -> PeerFault) -> Option<u64> {
        let at = match self.fault? {
            PeerFault::GarbageAt(n)
            | PeerFault::SenderDiesAt(n)
            | PeerFault::DiesHoldingAt(n)
            | PeerFault::SlowerPercent(n) => n,
        };
        (self.fault == Some(kind(at))).then_some(at)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
}

/// Everything a peer is started with: the case, and where to meet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerStart {
    pub case: CaseSpec,
    /// The session's private folder, the tag its names derive from, and
    /// the transport's token for what it made.
    pub dir: PathBuf,
    pub tag: String,
    pub token: String,
    /// For a peer that forks a child of its own (a runtime timing itself):
    /// the child's CPU, and the program that pins it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_cpu: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinner: Option<PathBuf>,
    /// Which of a fan-in's senders or a fan-out's subscribers this peer
    /// is (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<u32>,
}

impl PeerStart {
    pub fn to_arg(&self) -> String {
        serde_json::to_string(self).expect("a peer start serialises")
    }
}

/// `--start`'s value parser.
pub fn parse_start(s: &str) -> Result<PeerStart, String> {
    let start: PeerStart =
        serde_json::from_str(s).map_err(|e| format!("not a peer start description: {e}"))?;
    match start.case.rate_per_s {
        Some(r) if !(1.0..=crate::results::MAX_RATE).contains(&r) => Err(format!(
            "rate_per_s {r} is outside 1 to {}",
            crate::results::MAX_RATE
        )),
        _ => Ok(start),
    }
}
