//! `ipcbench probe`: decides every cell of the claimed comparison table
//! (and a few more columns) by experiment on the running kernel.
//!
//! Each property has its own experiment; `sessions` runs the ones that need
//! a live channel to a peer process (flow control, buffer capacity, peer
//! death, reliability under overload), the other files the rest. A probe that
//! cannot decide says `undecided` and why; none guesses.

mod connectionless;
pub mod helper;
mod priority;
mod semantics;
mod sessions;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::Settings;
use crate::results::probe::{
    claimed, Cell, Measured, ProbeFile, ProbeRow, Property, MECHANISMS, SCHEMA_VERSION,
};
use crate::results::Machine;

/// What an experiment found, before the claim is set beside it.
pub struct Finding {
    pub measured: Measured,
    pub evidence: String,
}

impl Finding {
    pub fn new(measured: Measured, evidence: impl Into<String>) -> Finding {
        Finding {
            measured,
            evidence: evidence.into(),
        }
    }
    pub fn yes(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::yes(), evidence)
    }
    pub fn no(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::no(), evidence)
    }
    pub fn undecided(evidence: impl Into<String>) -> Finding {
        Finding::new(Measured::undecided(), evidence)
    }
}

/// Runs every experiment for every mechanism.
pub fn run(settings: &Settings) -> ProbeFile {
    // Short stall timeout: a send blocked this long is "held back".
    let settings = Settings {
        timeout: Duration::from_millis(500),
        ..settings.clone()
    };
    let rows = MECHANISMS
        .iter()
        .map(|&m| {
            let mut found = BTreeMap::new();
            found.insert(Property::Connectionless, connectionless::probe(m));
            found.insert(Property::Priority, priority::probe(m));
            for (p, f) in semantics::probe(m) {
                found.insert(p, f);
            }
            for (p, f) in sessions::probe(m, &settings) {
                found.insert(p, f);
            }
            let cells = found
                .into_iter()
                .map(|(p, f)| {
                    (
                        p.key().to_string(),
                        Cell {
                            measured: f.measured,
                            claimed: claimed(m, p),
                            evidence: f.evidence,
                        },
                    )
                })
                .collect();
            ProbeRow {
                mechanism: m.to_string(),
                cells,
            }
        })
        .collect();
    ProbeFile {
        schema_version: SCHEMA_VERSION,
        machine: Machine::detect(),
        rows,
    }
}
