//! `ipcbench list`: each transport, whether it works here, and why not.

use crate::harness;
use crate::results::Pattern;
use crate::transport;

pub fn render() -> String {
    let mut s = String::new();
    for group in ["from the claimed table", "for comparison"] {
        s += &format!("Transports {group}:\n");
        for t in transport::all()
            .iter()
            .filter(|t| transport::group(t.name()) == group)
        {
            let state = match t.availability() {
                Ok(()) => "available".to_string(),
                Err(why) => format!("unavailable ({why}):"),
            };
            s += &format!("  {:<18} {:<11} {}\n", t.name(), state, t.description());
        }
        s += "\n";
    }
    s += &loaded_workloads();
    s += &match transport::node::node() {
        Ok(n) => {
            let (a, b, c) = n.version;
            format!("Node.js found: v{a}.{b}.{c} at {}\n", n.path.display())
        }
        Err(why) => format!("Node.js: {why}\n"),
    };
    s += "\nKernel limits that decide which message sizes are supported:\n";
    for (name, value, what) in crate::sys::limits::report() {
        s += &format!("  {name:<24} {value:<22} {what}\n");
    }
    s
}

/// Which transports run the open loop and fan-in, and why not.
fn loaded_workloads() -> String {
    let mut s = String::from("The loaded workloads (run --patterns rate,fan-in):\n");
    let can = |t: &dyn transport::Transport, p: Pattern| match harness::refusal(t, p) {
        None => "yes".to_string(),
        Some(why) => format!("no: {why}"),
    };
    for &t in transport::all() {
        s += &format!(
            "  {:<18} rate {}; fan-in {}\n",
            t.name(),
            can(t, Pattern::Rate),
            can(t, Pattern::FanIn)
        );
    }
    s + "\n"
}
