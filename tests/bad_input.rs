//! Bad input: one line naming the value and what is accepted, exit 2,
//! nothing written.

mod common;
use common::*;

fn refused(args: &[&str], names: &str, accepts: &str) {
    let sb = Sandbox::new();
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let o = sb.run(&full);
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {lines:?}");
    assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
    assert!(lines[0].contains(names), "{args:?}: {}", lines[0]);
    assert!(lines[0].contains(accepts), "{args:?}: {}", lines[0]);
    assert!(o.stdout.is_empty());
    assert!(
        !sb.dir.path().join("results").exists(),
        "nothing is half-written"
    );
    sb.assert_nothing_left();
}

#[test]
fn unknown_mechanism() {
    refused(&["-m", "pipe,smoke-signal"], "'smoke-signal'", "uds-stream");
}

#[test]
fn bad_sizes() {
    for s in ["0", "abc", "5XB"] {
        refused(&["--sizes", s], &format!("'{s}'"), "KiB");
    }
}

#[test]
fn bad_duration() {
    refused(&["--duration", "soon"], "'soon'", "500ms");
    refused(&["--duration", "0s"], "'0s'", "more than zero");
}

#[test]
fn unknown_pin_mode() {
    refused(&["--pin", "diagonal"], "'diagonal'", "same, cross, none");
}

#[test]
fn unwritable_output_path() {
    refused(
        &["--out", "/nonexistent/dir/r.json"],
        "'/nonexistent/dir/r.json'",
        "writable directory",
    );
}

#[test]
fn unknown_subcommand() {
    let sb = Sandbox::new();
    let o = sb.run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr_lines(&o).len(), 1, "{:?}", stderr_lines(&o));
}
