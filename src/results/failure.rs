//! Why a peer process failed, as it says on its control pipe: a typed
//! value (the stage it reached, the errno), so that the harness tells a
//! boundary the kernel refused from a channel the peer could not reach by
//! `match`, never by reading the words.

use serde::{Deserialize, Serialize};

/// How far the peer got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The launcher could not make the peer's side of a boundary
    /// (a namespace, a mount, the veth's end): the kernel refused.
    Boundary,
    /// The peer could not join the channel the harness made.
    Join,
    /// Anything after joining. What the Node peer's `{"error": ...}`
    /// lines mean, which carry no stage.
    #[default]
    Run,
}

/// One failure line: `{"error": "...", "stage": "join", "errno": 2}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFailure {
    #[serde(default)]
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    /// What happened, in the peer's words.
    pub error: String,
}

impl PeerFailure {
    pub fn new(stage: Stage, e: &std::io::Error) -> PeerFailure {
        PeerFailure {
            stage,
            errno: e.raw_os_error(),
            error: e.to_string(),
        }
    }

    pub fn run(error: impl Into<String>) -> PeerFailure {
        PeerFailure {
            stage: Stage::Run,
            errno: None,
            error: error.into(),
        }
    }

    /// Whether the peer lost the other end (EPIPE, ECONNRESET): what
    /// follows a failure elsewhere, never its cause.
    pub fn lost_the_other_end(&self) -> bool {
        matches!(self.errno, Some(libc_epipe::EPIPE | libc_epipe::ECONNRESET))
    }
}

/// The two errnos, as Linux numbers them (the contract depends on no
/// system crate).
mod libc_epipe {
    pub const EPIPE: i32 = 32;
    pub const ECONNRESET: i32 = 104;
}

impl std::fmt::Display for PeerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.stage {
            Stage::Boundary => write!(f, "could not make the peer's side of the boundary: ")?,
            Stage::Join => write!(f, "could not join the channel: ")?,
            Stage::Run => {}
        }
        f.write_str(&self.error)
    }
}

impl std::error::Error for PeerFailure {}

/// Why a case that ran failed, as its row records it beside its reason
/// (which is this, displayed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Failure {
    #[error("interrupted by the user after {messages} messages")]
    Interrupted { messages: u64 },
    #[error("peer did not answer for {} (--timeout); killed after {messages} messages", humantime::format_duration(std::time::Duration::from_millis(*timeout_ms)))]
    Hung { timeout_ms: u64, messages: u64 },
    #[error("peer failed after {messages} messages: {peer}")]
    PeerFailed { messages: u64, peer: PeerFailure },
    #[error("peer killed by signal {signal} ({name}) after {messages} messages")]
    PeerKilled {
        signal: i32,
        name: String,
        messages: u64,
    },
    #[error("peer exited with status {code} after {messages} messages (parent side: {parent})")]
    PeerExited {
        code: i32,
        messages: u64,
        parent: String,
    },
    /// The harness's own side, and what it was doing.
    #[error("{doing}: {error}")]
    Parent {
        doing: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errno: Option<i32>,
        error: String,
    },
    /// One of the case's several peer processes (a fan-in's senders, a
    /// fan-out's subscribers): the one that explains the failure.
    #[error("{role} {index} of {count}: {failure}")]
    Member {
        role: String,
        index: usize,
        count: usize,
        failure: Box<Failure>,
    },
}

impl Failure {
    /// Our side's `error` while `doing` something.
    pub fn parent(doing: impl Into<String>, error: &std::io::Error) -> Failure {
        Failure::Parent {
            doing: doing.into(),
            errno: error.raw_os_error(),
            error: error.to_string(),
        }
    }
}

/// Why a case could not run here, when the probe or a reader must tell
/// the kind apart: written in the row beside its reason, matched, never
/// read from the words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Cause {
    /// The mechanism could not be reached from behind a boundary: the
    /// peer's join failed, with this errno.
    DoesNotCross { errno: Option<i32> },
    /// The kernel would not make the boundary (a namespace, a mount).
    BoundaryRefused { errno: Option<i32> },
    /// The case's buffers could not be had under this process's limits.
    OutOfMemory { bytes: u64 },
    /// A kernel setting caps what the case needs (`kernel.msgmax`, a
    /// socket's send buffer, free bytes of /dev/shm).
    OverLimit {
        limit: String,
        value: u64,
        needed: u64,
    },
}

/// A kernel setting that a case's message or buffer exceeds: which one,
/// its value, what the case needs, and how to raise it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a {needed}-byte {what} exceeds {limit} = {value} bytes ({remedy})")]
pub struct OverLimit {
    /// What needs the bytes: "message", "ring segment".
    pub what: &'static str,
    pub needed: u64,
    pub limit: String,
    pub value: u64,
    pub remedy: String,
}

impl OverLimit {
    pub fn cause(&self) -> Cause {
        Cause::OverLimit {
            limit: self.limit.clone(),
            value: self.value,
            needed: self.needed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_a_stage_is_a_run_failure_and_a_typed_one_keeps_its_errno() {
        let node: PeerFailure = serde_json::from_str(r#"{"error":"boom"}"#).unwrap();
        assert_eq!(node, PeerFailure::run("boom"));
        let e = std::io::Error::from_raw_os_error(2);
        let join = PeerFailure::new(Stage::Join, &e);
        let line = serde_json::to_string(&join).unwrap();
        assert_eq!(serde_json::from_str::<PeerFailure>(&line).unwrap(), join);
        assert!(join.to_string().starts_with("could not join the channel: "));
        let lost = PeerFailure::new(Stage::Run, &std::io::Error::from_raw_os_error(32));
        assert!(lost.lost_the_other_end() && !join.lost_the_other_end());
    }
}
