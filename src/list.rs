//! `ipcbench list`: each transport, whether it works here, and why not.

use crate::harness;
use crate::results::{Pattern, Wait};
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
    s += &ways_of_waiting();
    s += &copies();
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

/// Which transports run the open loop, fan-in and fan-out, and why not.
fn loaded_workloads() -> String {
    let mut s = String::from("The loaded workloads (run --patterns rate,fan-in,fan-out):\n");
    let can = |t: &dyn transport::Transport, p: Pattern| match harness::refusal(t, p) {
        None => "yes".to_string(),
        Some(why) => format!("no: {why}"),
    };
    let fans_out = |t: &dyn transport::Transport| match harness::refusal(t, Pattern::FanOut) {
        None if t.broadcast_refused().is_none() => "yes, a native broadcast".to_string(),
        None => "yes, a send per subscriber".to_string(),
        Some(why) => format!("no: {why}"),
    };
    for &t in transport::all() {
        s += &format!(
            "  {:<18} rate {}; fan-in {}; fan-out {}\n",
            t.name(),
            can(t, Pattern::Rate),
            can(t, Pattern::FanIn),
            fans_out(t)
        );
    }
    s + "\n"
}

/// How each transport's receiver can wait, and why not the other ways
/// (the reasons once, under the table).
fn ways_of_waiting() -> String {
    let mut s = String::from("How receivers can wait (run --waits; block is the default):\n");
    let mut reasons: Vec<String> = Vec::new();
    for &t in transport::all() {
        let (can, cannot): (Vec<Wait>, Vec<Wait>) = Wait::ALL
            .iter()
            .partition(|w| t.wait_refused(**w).is_none());
        let mut line = format!("  {:<18} {}", t.name(), names(&can));
        let mut why_not: Vec<(String, Vec<Wait>)> = Vec::new();
        for w in cannot {
            let why = t.wait_refused(w).unwrap_or_default().to_string();
            match why_not.iter_mut().find(|(r, _)| *r == why) {
                Some((_, ws)) => ws.push(w),
                None => why_not.push((why, vec![w])),
            }
        }
        for (why, ws) in why_not {
            let i = reasons.iter().position(|r| *r == why).unwrap_or_else(|| {
                reasons.push(why);
                reasons.len() - 1
            });
            line += &format!("; not {} [{}]", names(&ws), i + 1);
        }
        s += &(line + "\n");
    }
    for (i, r) in reasons.iter().enumerate() {
        s += &format!("  [{}] {r}\n", i + 1);
    }
    s + "\n"
}

fn names(waits: &[Wait]) -> String {
    let names: Vec<String> = waits.iter().map(|w| w.to_string()).collect();
    names.join(", ")
}

/// How many times each transport copies a message's payload, and why.
fn copies() -> String {
    let mut s = String::from("Copies of the payload per message, as each transport declares:\n");
    for &t in transport::all() {
        let c = t.copies();
        s += &format!("  {:<18} {}  {}\n", t.name(), c.count, c.why);
    }
    s + "\n"
}
