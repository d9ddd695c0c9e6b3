//! `ipcbench list`: each transport, whether it works here, and why not.

use crate::transport;

pub fn render() -> String {
    let mut s = String::new();
    for t in transport::all() {
        let state = match t.availability() {
            Ok(()) => "available".to_string(),
            Err(why) => format!("unavailable: {why}"),
        };
        s += &format!("{:<12} {:<11} {}\n", t.name(), state, t.description());
    }
    s
}
