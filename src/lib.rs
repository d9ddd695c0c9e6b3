//! ipcbench: measures Linux IPC mechanisms between two real processes.
//!
//! Where things are: `transport` (one file per mechanism behind one trait),
//! `harness` (peer process, workloads, verification, timing), `results` (the
//! result-file contract), `export` and `output` (what people read), `sys`
//! (the system calls the standard library and nix do not cover cleanly).

// Every transport, the peer's supervision and the probes are Linux system
// calls; there is nothing to measure elsewhere.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "ipcbench measures Linux IPC mechanisms and builds only for Linux (target_os = \"linux\")"
);

pub mod cli;
pub mod compare;
pub mod doctor;
pub mod error;
pub mod export;
pub mod floors;
pub mod gallery;
pub mod harness;
pub mod isolation;
pub mod list;
pub mod options;
pub mod output;
pub mod probe;
pub mod report;
pub mod results;
pub mod suite;
pub mod sys;
pub mod timer;
pub mod topology;
pub mod transport;

/// Tests that fork a copy of this process, and tests that such a copy
/// would disturb (a memfd sealed while a forked child still maps it
/// writable), run one at a time.
#[cfg(test)]
pub(crate) static FORKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
