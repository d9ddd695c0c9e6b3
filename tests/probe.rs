//! The probes decide the table's cells by experiment: checked here against
//! what the kernel guarantees, and for stability across runs.

mod common;
use common::*;

use serde_json::Value;

fn probe(sb: &Sandbox, n: usize) -> Value {
    let out = sb.dir.path().join(format!("probe{n}.json"));
    let o = sb.run(&["probe", "--json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("| mechanism | connectionless | reliable | flow control | priority"),
        "{text}"
    );
    assert!(
        text.contains("## As claimed") && text.contains("## Evidence"),
        "{text}"
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn cell<'a>(file: &'a Value, mechanism: &str, property: &str) -> &'a Value {
    let row = file["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mechanism"] == mechanism)
        .unwrap_or_else(|| panic!("no row {mechanism}"));
    &row["cells"][property]
}

fn measured(file: &Value, mechanism: &str, property: &str) -> Value {
    cell(file, mechanism, property)["measured"].clone()
}

const PROPERTIES: [&str; 10] = [
    "connectionless",
    "reliable",
    "flow_control",
    "priority",
    "preserves_boundaries",
    "max_message_bytes",
    "buffer_capacity_bytes",
    "bidirectional",
    "peer_death_detected",
    "fd_passing",
];

#[test]
fn probes_match_kernel_facts_and_are_stable_across_three_runs() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let runs: Vec<Value> = (0..3).map(|n| probe(&sb, n)).collect();
    let first = &runs[0];

    assert_eq!(first["schema_version"], 1);
    let rows = first["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["mechanism"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pipe",
            "fifo",
            "uds-stream",
            "uds-dgram",
            "posix-mq",
            "sysv-mq",
            "shm",
            "shm-posix-sem",
            "shm-sysv-sem",
            "semaphore",
            "tcp",
            "socketpair",
            "uds-seqpacket",
            "eventfd-shm",
            "shm-ring",
            "node-ipc",
            "ipc-channel",
            "interprocess"
        ]
    );
    for row in rows {
        for p in PROPERTIES {
            let c = &row["cells"][p];
            let m = &c["measured"];
            assert!(
                m.is_u64() || ["Y", "N", "undecided"].contains(&m.as_str().unwrap()),
                "{c}"
            );
            assert!(!c["evidence"].as_str().unwrap().is_empty(), "{c}");
        }
    }

    // Facts the kernel guarantees.
    assert_eq!(
        measured(first, "posix-mq", "priority"),
        "Y",
        "a POSIX queue delivers the higher priority first"
    );
    assert_eq!(measured(first, "uds-dgram", "preserves_boundaries"), "Y");
    assert_eq!(measured(first, "uds-stream", "preserves_boundaries"), "N");
    assert_eq!(
        measured(first, "pipe", "connectionless"),
        "N",
        "a process that did not inherit a pipe cannot reach it"
    );
    assert!(cell(first, "pipe", "connectionless")["evidence"]
        .as_str()
        .unwrap()
        .contains("EBADF"));
    assert_eq!(measured(first, "pipe", "flow_control"), "Y");
    // A new pipe holds 16 pages: 64 KiB with 4 KiB pages.
    assert_eq!(
        measured(first, "pipe", "buffer_capacity_bytes"),
        65536,
        "a stalled pipe reader holds the writer back after the pipe's 64 KiB"
    );
    assert_eq!(measured(first, "uds-stream", "fd_passing"), "Y");
    assert_eq!(measured(first, "pipe", "peer_death_detected"), "Y");
    assert!(cell(first, "pipe", "peer_death_detected")["evidence"]
        .as_str()
        .unwrap()
        .contains("EPIPE"));
    let msgsize = ipcbench::sys::limits::sysctl("fs.mqueue.msgsize_max").unwrap();
    assert_eq!(measured(first, "posix-mq", "max_message_bytes"), msgsize);
    // Bare shared memory neither holds a writer back nor keeps what it overwrote.
    assert_eq!(measured(first, "shm", "flow_control"), "N");
    assert_eq!(measured(first, "shm", "reliable"), "N");

    // Claims sit beside the measurements: the claimed table's rows and null elsewhere.
    assert_eq!(cell(first, "posix-mq", "priority")["claimed"], "N");
    assert_eq!(cell(first, "sysv-mq", "connectionless")["claimed"], "N");
    assert_eq!(cell(first, "shm", "flow_control")["claimed"], "Y");
    assert_eq!(
        cell(first, "shm-posix-sem", "flow_control")["claimed"],
        Value::Null
    );
    assert_eq!(cell(first, "pipe", "fd_passing")["claimed"], Value::Null);

    // The same table three times in a row.
    for other in &runs[1..] {
        for row in rows {
            let m = row["mechanism"].as_str().unwrap();
            for p in PROPERTIES {
                assert_eq!(
                    measured(first, m, p),
                    measured(other, m, p),
                    "{m} {p} changed between runs"
                );
            }
        }
    }
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

#[test]
fn probe_json_path_is_checked_before_probing() {
    let sb = Sandbox::new();
    let o = sb.run(&["probe", "--json", "/nonexistent/dir/p.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr_lines(&o).len(), 1);
    assert!(o.stdout.is_empty());
}
