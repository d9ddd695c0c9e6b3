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

fn measured(file: &Value, mechanism: &str, property: &str) -> Value {
    probe_cell(file, mechanism, property)["measured"].clone()
}

/// Every property the probe decides, from its own list.
fn properties() -> Vec<&'static str> {
    ipcbench::results::probe::every_property()
        .map(|p| p.key())
        .collect()
}

const CLAIMED_ROWS: [&str; 10] = ipcbench::results::probe::CLAIMED_TABLE_ROWS;

fn evidence(file: &Value, mechanism: &str, property: &str) -> String {
    probe_cell(file, mechanism, property)["evidence"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The verdict and the sign that proves it.
fn assert_cell(file: &Value, mechanism: &str, property: &str, verdict: Value, sign: &str) {
    let c = probe_cell(file, mechanism, property);
    assert_eq!(c["measured"], verdict, "{mechanism} {property}: {c}");
    assert!(
        c["evidence"].as_str().unwrap().contains(sign),
        "{mechanism} {property} should quote {sign}: {c}"
    );
}

#[test]
fn probes_match_kernel_facts_and_two_runs_agree() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let runs: Vec<Value> = (0..2).map(|n| probe(&sb, n)).collect();
    let first = &runs[0];

    assert_eq!(first["schema_version"], 2);
    let rows = first["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["mechanism"].as_str().unwrap())
        .collect();
    assert_eq!(
        names[..10],
        CLAIMED_ROWS,
        "the claimed table's rows come first"
    );
    assert_eq!(names, ipcbench::probe::subject_names());
    for row in rows {
        for p in properties() {
            let c = &row["cells"][p];
            let m = &c["measured"];
            assert!(
                m.is_u64() || ["Y", "N", "n/a", "undecided"].contains(&m.as_str().unwrap()),
                "{c}"
            );
            assert!(
                ["experiment", "kernel_setting", "api_fact"]
                    .contains(&c["method"].as_str().unwrap()),
                "{c}"
            );
            assert!(!c["evidence"].as_str().unwrap().is_empty(), "{c}");
        }
    }
    // The claimed table's four columns, on its ten rows: all by experiment,
    // and all decided.
    for m in CLAIMED_ROWS {
        for p in ["connectionless", "reliable", "flow_control", "priority"] {
            let c = probe_cell(first, m, p);
            assert_eq!(c["method"], "experiment", "{m} {p}: {c}");
            assert_ne!(c["measured"], "undecided", "{m} {p}: {c}");
        }
    }

    // Facts the kernel guarantees, each with the sign that shows it.
    const GUARANTEED: [(&str, &str, &str, &str); 33] = [
        ("pipe", "connectionless", "N", "ENOENT"),
        ("pipe", "kept_without_receiver", "N", "ENOENT"),
        ("fifo", "kept_without_receiver", "N", "ENXIO"),
        (
            "uds-dgram",
            "connectionless",
            "Y",
            "the receiver got the message",
        ),
        ("uds-dgram", "kept_without_receiver", "N", "ECONNREFUSED"),
        ("uds-stream", "connectionless", "N", "EOPNOTSUPP"),
        ("posix-mq", "connectionless", "Y", "the message was there"),
        ("posix-mq", "priority", "Y", "received 9 first"),
        ("sysv-mq", "priority", "Y", "received type 1 first"),
        ("uds-dgram", "priority", "N", "EOPNOTSUPP"),
        ("pipe", "priority", "N", "ENOTSOCK"),
        ("uds-dgram", "preserves_boundaries", "Y", "returned 100"),
        ("uds-stream", "preserves_boundaries", "N", "returned 300"),
        ("pipe", "flow_control", "Y", "held back"),
        ("pipe", "peer_death_detected", "Y", "EPIPE"),
        ("uds-stream", "fd_passing", "Y", "SCM_RIGHTS"),
        ("pipe", "fd_passing", "N", "ENOTSOCK"),
        ("shm", "flow_control", "N", "never held back"),
        ("shm", "reliable", "N", "overwritten unread"),
        ("shm", "priority", "N", "overwritten"),
        ("pipe", "pollable", "Y", "reported EPOLLIN"),
        ("uds-dgram", "pollable", "Y", "reported EPOLLIN"),
        ("posix-mq", "pollable", "Y", "reported EPOLLIN"),
        ("shm", "pollable", "N", "EPERM"),
        ("sysv-mq", "pollable", "N", "not a file descriptor"),
        ("eventfd-shm", "pollable", "Y", "came through epoll_wait"),
        // A seal is the kernel's; vmsplice hands over pages, not bytes.
        ("memfd-pass", "fixed_once_sent", "Y", "EPERM"),
        ("vmsplice", "fixed_once_sent", "N", "read the changed byte"),
        ("pipe", "fixed_once_sent", "Y", "as it was sent"),
        ("shm-loan", "told_when_reader_dies_holding", "N", "blocked"),
        ("memfd-pass", "told_when_reader_dies_holding", "Y", "EPIPE"),
        ("vmsplice", "told_when_reader_dies_holding", "Y", "EPIPE"),
        ("cma", "told_when_reader_dies_holding", "Y", "ESRCH"),
    ];
    for (mechanism, property, verdict, sign) in GUARANTEED {
        assert_cell(first, mechanism, property, verdict.into(), sign);
    }
    let msgsize = ipcbench::sys::limits::sysctl("fs.mqueue.msgsize_max").unwrap();
    assert_eq!(measured(first, "posix-mq", "max_message_bytes"), msgsize);
    // A new pipe holds 16 pages: 64 KiB with 4 KiB pages, 64 messages of 1 KiB.
    let pipe = probe_cell(first, "pipe", "buffer_capacity_bytes");
    assert_eq!(pipe["measured"], 65536);
    assert_eq!(pipe["capacity"][0]["messages"], 64);
    assert_eq!(pipe["capacity"][0]["message_bytes"], 1024);
    // A datagram sender is bounded one way connected, another unconnected.
    let senders: Vec<&str> = probe_cell(first, "uds-dgram", "buffer_capacity_bytes")["capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["sender"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["connected", "unconnected"]);
    // TCP's buffer autotunes: plausible, not exact.
    let tcp = measured(first, "tcp", "buffer_capacity_bytes")
        .as_u64()
        .unwrap();
    assert!((64 << 10..64 << 20).contains(&tcp), "tcp buffer {tcp}");

    // Rings (ipcbench's, iceoryx2's samples) carry at most their slot,
    // found by experiment (memfd-pass has no slots: each message is a memfd
    // of its own size); each cell says whose protocol it is about.
    let rings = ipcbench::transport::all()
        .iter()
        .filter(|t| t.nature().object == ipcbench::transport::Object::Ring)
        .filter(|t| t.name() != "memfd-pass")
        .map(|t| (t.name(), t.nature().protocol.unwrap()));
    for (ring, protocol) in rings {
        assert_cell(first, ring, "max_message_bytes", 1024.into(), "EMSGSIZE");
        assert_cell(
            first,
            ring,
            "preserves_boundaries",
            "Y".into(),
            "returned 100",
        );
        assert!(
            evidence(first, ring, "reliable").starts_with(protocol),
            "{ring}: whose property"
        );
    }
    // Node's real channel, seen from Node processes on both ends.
    for node in ["node-json", "node-advanced"] {
        assert_cell(first, node, "fd_passing", "Y".into(), "answered by pid");
        assert_cell(
            first,
            node,
            "flow_control",
            "N".into(),
            "returned false after",
        );
        assert_cell(first, node, "reliable", "Y".into(), "received 3000");
        assert_cell(first, node, "peer_death_detected", "Y".into(), "disconnect");
        assert_cell(first, node, "preserves_boundaries", "Y".into(), "intact");
        let reach = evidence(first, node, "connectionless");
        assert!(
            reach.contains("NODE_CHANNEL_FD=") && reach.contains("SOCK_STREAM"),
            "{reach}"
        );
        assert_eq!(probe_cell(first, node, "priority")["method"], "api_fact");
    }
    assert!(evidence(first, "node-json", "bidirectional").contains("serialize a BigInt"));
    assert!(evidence(first, "node-advanced", "bidirectional").contains("Map arrived as Map"));
    // A bare signal has no message size: n/a, as a fact, not 0.
    let sem = probe_cell(first, "semaphore", "max_message_bytes");
    assert_eq!(sem["measured"], "n/a");
    assert_eq!(sem["method"], "api_fact");

    // Claims sit beside the measurements: the claimed table's rows and null elsewhere.
    assert_eq!(probe_cell(first, "posix-mq", "priority")["claimed"], "N");
    assert_eq!(
        probe_cell(first, "sysv-mq", "connectionless")["claimed"],
        "N"
    );
    assert_eq!(probe_cell(first, "shm", "flow_control")["claimed"], "Y");
    assert_eq!(
        probe_cell(first, "shm-posix-sem", "flow_control")["claimed"],
        Value::Null
    );
    assert_eq!(
        probe_cell(first, "pipe", "fd_passing")["claimed"],
        Value::Null
    );

    // Every Y/N the same in both runs.
    for row in rows {
        let m = row["mechanism"].as_str().unwrap();
        for p in properties() {
            let (a, b) = (measured(first, m, p), measured(&runs[1], m, p));
            if a.is_string() || b.is_string() {
                assert_eq!(a, b, "{m} {p} changed between runs");
            }
        }
    }
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

/// The README states how the committed probe table's cells were decided,
/// in the words the probe itself prints for that file.
#[test]
fn readme_counts_the_methods_of_the_committed_probe_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("results/probe.json")).unwrap();
    let file: ipcbench::results::probe::ProbeFile = serde_json::from_str(&text).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let summary = file.method_summary();
    assert!(readme.contains(&summary), "README should say: {summary}");
    let table = std::fs::read_to_string(root.join("results/probe-table.md")).unwrap();
    assert!(table.contains(&summary));
}

#[test]
fn probe_json_path_is_checked_before_probing() {
    let sb = Sandbox::new();
    let o = sb.run(&["probe", "--json", "/nonexistent/dir/p.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr_lines(&o).len(), 1);
    assert!(o.stdout.is_empty());
}

/// Starts a probe writing to the sandbox, and a moment later signals it.
fn signalled_probe(sb: &Sandbox, signal: nix::sys::signal::Signal) -> std::process::Output {
    let out = sb.dir.path().join("probe.json");
    let probe = sb.spawn(&["probe", "--json", out.to_str().unwrap()]);
    let pid = nix::unistd::Pid::from_raw(probe.id() as i32);
    std::thread::sleep(some_moment(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(10),
    ));
    nix::sys::signal::kill(pid, signal).unwrap();
    let sent = std::time::Instant::now();
    let o = probe.wait_with_output().unwrap();
    if signal != nix::sys::signal::Signal::SIGKILL {
        let took = sent.elapsed();
        assert!(
            took < std::time::Duration::from_secs(1),
            "{signal}: took {took:?}"
        );
    }
    o
}

#[test]
fn the_probe_stops_within_a_second_and_writes_no_half_table() {
    use nix::sys::signal::Signal;
    let watch = IpcWatch::start();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGINT] {
        let sb = Sandbox::new();
        let o = signalled_probe(&sb, signal);
        assert_eq!(o.status.code(), Some(130), "{signal}");
        assert!(!sb.dir.path().join("probe.json").exists());
        wait_until(
            "the probe's children to end",
            std::time::Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}

#[test]
fn a_probe_killed_by_sigkill_leaves_no_process_and_no_ipc_object() {
    let watch = IpcWatch::start();
    for _ in 0..4 {
        let sb = Sandbox::new();
        signalled_probe(&sb, nix::sys::signal::Signal::SIGKILL);
        // Its helpers die with it; its janitor removes what it made, then exits.
        wait_until(
            "the probe's children to end",
            std::time::Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}
