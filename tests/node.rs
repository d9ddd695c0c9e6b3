//! Node.js on the other end: real `node` processes, started the way
//! child_process.fork() starts them, run clean; without Node the rows say
//! what is missing.

mod common;
use common::*;

const NODE_ROWS: [&str; 4] = [
    "node-json",
    "node-advanced",
    "node-node-json",
    "node-node-advanced",
];

#[test]
fn node_rows_run_clean_with_a_real_node_on_the_other_end() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        &NODE_ROWS.join(","),
        "-s",
        "64,64KiB",
        "--pin",
        "same,cross",
        "-d",
        "200ms",
        "--warmup",
        "50ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows.len(), 4 * 2 * 2 * 2);
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
        assert!(row["messages"].as_u64().unwrap() > 0, "{row}");
        let note = row["note"].as_str().unwrap();
        let by_node = row["mechanism"].as_str().unwrap().starts_with("node-node");
        if by_node {
            assert_eq!(row["timed_by"], "node", "{row}");
            assert!(note.contains("timed by node itself"), "{note}");
        } else {
            // The peer said what ran it, which only a Node process can.
            assert!(note.contains("peer: node v"), "{note}");
            assert!(row.get("timed_by").is_none(), "{row}");
        }
        if row["pattern"] == "latency" {
            assert!(row["rtt_ns"]["p50"].as_u64().unwrap() > 0, "{row}");
        }
    }
    sb.assert_nothing_left();
    assert!(
        sb.processes().is_empty(),
        "left running: {:?}",
        sb.processes()
    );
}

#[test]
fn without_node_the_rows_are_unsupported_and_name_what_is_missing() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb
        .command(&[
            "run",
            "-m",
            &NODE_ROWS.join(","),
            "-s",
            "64",
            "--pin",
            "same",
            "-n",
            "10",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("IPCBENCH_NODE", "/nonexistent/node")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for row in rows(&sb.result()) {
        assert_eq!(row["status"], "unsupported", "{row}");
        let why = row["reason"].as_str().unwrap();
        assert!(
            why.contains("Node.js not found") && why.contains("/nonexistent/node"),
            "{why}"
        );
    }
    let list = sb
        .command(&["list"])
        .env("IPCBENCH_NODE", "/nonexistent/node")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("Node.js: Node.js not found"), "{text}");
}

#[test]
fn list_shows_the_node_version_it_found() {
    let sb = Sandbox::new();
    let o = sb.run(&["list"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let version = std::process::Command::new("node")
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert!(
        text.contains(&format!("Node.js found: {version}")),
        "{text}"
    );
}

#[test]
fn a_node_too_old_for_advanced_serialization_is_named() {
    // A stand-in that answers --version as Node 12.0.0 would.
    let sb = Sandbox::new();
    let fake = sb.dir.path().join("old-node");
    std::fs::write(&fake, "#!/bin/sh\necho v12.0.0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sb.out();
    let o = sb
        .command(&[
            "run",
            "-m",
            "node-advanced",
            "-s",
            "64",
            "--pin",
            "same",
            "--patterns",
            "latency",
            "-n",
            "10",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("IPCBENCH_NODE", &fake)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let why = rows(&r)[0]["reason"].as_str().unwrap().to_string();
    assert!(why.contains("v12.0.0") && why.contains("12.16.0"), "{why}");
}
