//! Who runs a case's workload and times it. Every transport but one kind
//! is driven by the harness against a peer that serves; a runtime measured
//! against itself (Node on both ends, `Transport::timed_by`) has its peer
//! program drive both ends and report what it timed, and that peer is then
//! the parent of its own pair. Everything that differs between the two is
//! here, asked of one value.

use std::io;

use crate::results::Pattern;
use crate::transport::Transport;

use super::workload::{PeerReport, Timed};
use super::{expect_report, measure, session, Case, CaseError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// The harness drives and times; the peer serves.
    Harness,
    /// The peer program drives both ends and times itself.
    SelfTimed { by: &'static str },
}

impl Runner {
    pub fn of(transport: &dyn Transport) -> Runner {
        match transport.timed_by() {
            Some(by) => Runner::SelfTimed { by },
            None => Runner::Harness,
        }
    }

    /// Why this runner cannot run `pattern`, if it cannot.
    pub fn refuses(self, pattern: Pattern) -> Option<String> {
        match (self, pattern) {
            (Runner::SelfTimed { by }, Pattern::Rate | Pattern::FanIn | Pattern::FanOut | Pattern::Groups) => Some(format!(
                "timed by {by} itself on both ends, and its driver runs ping-pong and streaming only"
            )),
            _ => None,
        }
    }

    /// Whether the harness holds one end of the channel.
    pub fn holds_channel(self) -> bool {
        self == Runner::Harness
    }

    /// Who timed the row, when not the harness.
    pub fn timed_by(self) -> Option<&'static str> {
        match self {
            Runner::Harness => None,
            Runner::SelfTimed { by } => Some(by),
        }
    }

    /// How the row's figures differ from the harness's, if they do.
    pub fn note(self) -> Option<String> {
        self.timed_by().map(|by| {
            format!("timed by {by} itself on both ends: its parent's clock, warm-up and checks; CPU time of whole processes")
        })
    }

    /// (the peer's CPU, the CPU of the child a self-timed peer starts),
    /// from the case's (parent CPU, peer CPU).
    pub fn peer_cpus(self, cpus: Option<(usize, usize)>) -> (Option<usize>, Option<usize>) {
        match (self, cpus) {
            (_, None) => (None, None),
            (Runner::Harness, Some((_, peer))) => (Some(peer), None),
            (Runner::SelfTimed { .. }, Some((parent, child))) => (Some(parent), Some(child)),
        }
    }

    /// Runs a ping-pong or streaming session and returns what was timed
    /// and the peer's report.
    pub fn run(self, spec: &Case) -> Result<(Timed, PeerReport), CaseError> {
        match self {
            Runner::Harness => measure(spec),
            Runner::SelfTimed { .. } => session(spec, |live| {
                let r = expect_report(live.watchdog)?;
                match &r.timed_by_peer {
                    Some(t) => Ok((t.measured(spec.spec.pattern == Pattern::Latency), r)),
                    None => Err(io::Error::other("the peer program reported no timings")),
                }
            }),
        }
    }
}
