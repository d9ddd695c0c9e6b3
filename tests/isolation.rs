//! Peers behind namespaces (`run --isolation`, the probe's crossing
//! columns): the rows, the verdicts with their evidence, and nothing left
//! behind (namespace-holding processes, veth interfaces, mounts) however
//! the harness ends. These tests need root, as the CI runs them.

mod common;
use common::*;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The veth interfaces a harness with this pid made (their names hold it).
fn veths_of(harness: u32) -> Vec<String> {
    let prefix = format!("ipb{harness}-");
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Mounts of this (the host's) mount namespace under the sandbox: a peer's
/// mounts must stay in its own namespace.
fn host_mounts_under(sb: &Sandbox) -> Vec<String> {
    let root = sb.dir.path().to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_string)
        .collect()
}

fn namespace(pid: u32, kind: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()
}

/// Processes of the sandbox in a network namespace other than ours.
fn behind_a_boundary(sb: &Sandbox) -> Vec<u32> {
    let ours = namespace(std::process::id(), "net");
    sb.processes()
        .into_iter()
        .filter(|&p| namespace(p, "net").is_some_and(|n| Some(n) != ours))
        .collect()
}

#[test]
fn pipe_uds_stream_and_tcp_cross_both_deployments_with_ok_rows() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let r = sb.run_ok(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "-m",
        "pipe,uds-stream,tcp,posix-mq",
        "--patterns",
        "latency,throughput",
        "--sizes",
        "64",
        "--isolation",
        "none,same-pod,separate-containers",
        "--duration",
        "50ms",
        "--warmup",
        "10ms",
    ]);
    let rows = rows(&r);
    assert_eq!(r["options"]["isolations"].as_array().unwrap().len(), 3);
    for mechanism in ["pipe", "uds-stream", "tcp"] {
        for isolation in ["same-pod", "separate-containers"] {
            let theirs: Vec<&Value> = rows
                .iter()
                .filter(|row| row["mechanism"] == mechanism && row["isolation"] == isolation)
                .collect();
            // Two patterns, two placements.
            assert_eq!(theirs.len(), 4, "{mechanism} {isolation}: {theirs:?}");
            for row in theirs {
                assert_eq!(row["status"], "ok", "{row}");
                assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
                assert!(row["messages"].as_u64().unwrap() > 0, "{row}");
                let note = row["note"].as_str().unwrap();
                assert!(note.contains(&format!("peer behind {isolation}")), "{note}");
                let veth = mechanism == "tcp" && isolation == "separate-containers";
                assert_eq!(note.contains("veth pair"), veth, "{note}");
            }
        }
    }
    // Loopback TCP sits beside it, and a queue's name does not cross.
    assert!(rows.iter().any(|row| row["mechanism"] == "tcp"
        && row.get("isolation").is_none()
        && row["status"] == "ok"));
    for row in rows
        .iter()
        .filter(|row| row["mechanism"] == "posix-mq" && row["isolation"] == "separate-containers")
    {
        assert_eq!(row["status"], "unsupported", "{row}");
        let reason = row["reason"].as_str().unwrap();
        assert!(
            reason.contains("does not cross separate-containers") && reason.contains("ENOENT"),
            "{reason}"
        );
        // The kind is typed in the row, as the probe reads it: ENOENT is 2.
        assert_eq!(
            row["cause"],
            serde_json::json!({"kind": "does-not-cross", "errno": 2}),
            "{row}"
        );
    }
    assert!(rows
        .iter()
        .filter(|row| row["mechanism"] == "posix-mq" && row["isolation"] == "same-pod")
        .all(|row| row["status"] == "ok"));
    sb.assert_nothing_left();
    assert!(host_mounts_under(&sb).is_empty());
    watch.assert_nothing_new();
}

/// Starts a long isolated TCP case and waits until its peer is behind the
/// boundary and the veth pair is up.
fn start_isolated(sb: &Sandbox) -> std::process::Child {
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "tcp",
        "--patterns",
        "latency",
        "--sizes",
        "64",
        "--pin",
        "none",
        "--isolation",
        "separate-containers",
        "--duration",
        "5s",
        "--out",
        out.to_str().unwrap(),
    ]);
    let harness = run.id();
    wait_until(
        "a peer behind the boundary, and its veth",
        Duration::from_secs(10),
        || !behind_a_boundary(sb).is_empty() && !veths_of(harness).is_empty(),
    );
    std::thread::sleep(Duration::from_millis(200));
    run
}

fn assert_all_gone(sb: &Sandbox, harness: u32) {
    wait_until(
        "every process of the run to exit",
        Duration::from_secs(5),
        || sb.processes().is_empty(),
    );
    // A namespace's end (and so its veth's) is deferred work in the kernel;
    // the janitor deletes the host's end anyway.
    wait_until("the veth pair to go", Duration::from_secs(5), || {
        veths_of(harness).is_empty()
    });
    assert!(
        host_mounts_under(sb).is_empty(),
        "{:?}",
        host_mounts_under(sb)
    );
    sb.assert_nothing_left();
}

#[test]
fn a_harness_killed_during_an_isolated_case_leaves_no_namespace_veth_or_mount() {
    let sb = Sandbox::new();
    let run = start_isolated(&sb);
    let harness = run.id();
    kill(Pid::from_raw(harness as i32), Signal::SIGKILL).unwrap();
    let _ = run.wait_with_output();
    assert_all_gone(&sb, harness);
}

#[test]
fn ctrl_c_ends_an_isolated_case_within_a_second_and_leaves_nothing() {
    let sb = Sandbox::new();
    let run = start_isolated(&sb);
    let harness = run.id();
    let sent = Instant::now();
    kill(Pid::from_raw(harness as i32), Signal::SIGINT).unwrap();
    let o = run.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_all_gone(&sb, harness);
}

#[test]
fn isolation_without_a_pattern_that_has_it_is_refused() {
    let sb = Sandbox::new();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--patterns",
        "fan-in",
        "--isolation",
        "same-pod",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr_lines(&o).join("\n");
    assert!(
        err.contains("--isolation applies to the patterns latency, throughput, rate"),
        "{err}"
    );
    let o = sb.run(&["run", "-m", "pipe", "--isolation", "same-host"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_probe_decides_every_crossing_by_experiment_with_its_evidence() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let json = sb.dir.path().join("probe.json");
    let o = sb.run(&[
        "probe",
        "-m",
        "pipe,socketpair,posix-mq,sysv-mq,tcp,shm,cma",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let columns: Vec<&str> = ipcbench::results::probe::CROSSINGS
        .iter()
        .map(|p| p.key())
        .collect();
    for row in file["rows"].as_array().unwrap() {
        let m = row["mechanism"].as_str().unwrap();
        for column in &columns {
            let c = &row["cells"][column];
            assert_eq!(c["method"], "experiment", "{m} {column}: {c}");
            assert!(!c["evidence"].as_str().unwrap().is_empty(), "{m} {column}");
        }
    }
    let says = |m: &str, column: &str, verdict: &str, sign: &str| {
        let c = probe_cell(&file, m, column);
        assert_eq!(c["measured"], verdict, "{m} {column}: {c}");
        assert!(
            c["evidence"].as_str().unwrap().contains(sign),
            "{m} {column}: {c}"
        );
    };
    says("posix-mq", "crosses_ipc_namespace", "N", "ENOENT");
    says("sysv-mq", "crosses_ipc_namespace", "N", "EINVAL");
    says("tcp", "crosses_network_namespace", "N", "ECONNREFUSED");
    says(
        "tcp",
        "crosses_separate_containers",
        "Y",
        "every message checked",
    );
    says(
        "shm",
        "crosses_mount_namespace",
        "N",
        "ENOENT from shm_open",
    );
    says("shm", "crosses_same_pod", "Y", "read what was left");
    // A pid means nothing across a PID namespace: the kernel's credentials
    // say so, and nothing is written into whichever process has that number.
    says("cma", "crosses_pid_namespace", "N", "ESRCH");
    says("cma", "crosses_user_namespace", "N", "EPERM");
    for m in ["pipe", "socketpair"] {
        for column in &columns {
            says(m, column, "Y", "every message checked");
        }
    }
    assert!(veths_of(std::process::id()).is_empty());
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

/// The binary run with `args` inside a user namespace of its own, which
/// leaves it no capability over the host's namespaces; it must exit 0.
fn without_rights(sb: &Sandbox, args: &[&str]) {
    let o = std::process::Command::new("unshare")
        .arg("-U")
        .arg(env!("CARGO_BIN_EXE_ipcbench"))
        .args(args)
        .env("TMPDIR", sb.tmp())
        .current_dir(sb.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Without the rights a container runtime has (here: inside a user
/// namespace of its own, where the host's network namespace is not ours),
/// every isolated case is unsupported, naming the refused call, and the
/// run goes on and succeeds.
#[test]
fn a_kernel_that_refuses_the_namespaces_gives_unsupported_rows_naming_the_call() {
    let sb = Sandbox::new();
    let out = sb.out();
    without_rights(
        &sb,
        &[
            "run",
            "-m",
            "pipe,tcp",
            "--patterns",
            "latency",
            "--sizes",
            "64",
            "--pin",
            "none",
            "--isolation",
            "none,separate-containers",
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let r = sb.result();
    for row in rows(&r) {
        match row.get("isolation") {
            None => assert_eq!(row["status"], "ok", "{row}"),
            Some(_) => {
                assert_eq!(row["status"], "unsupported", "{row}");
                let reason = row["reason"].as_str().unwrap();
                assert!(
                    reason.contains("EPERM") || reason.contains("Operation not permitted"),
                    "{reason}"
                );
            }
        }
    }
    sb.assert_nothing_left();
}

/// Where namespaces cannot be made, the crossing cells are undecided with
/// the refusal, never a verdict.
#[test]
fn the_probe_without_namespaces_leaves_the_crossings_undecided_saying_why() {
    let sb = Sandbox::new();
    let json = sb.dir.path().join("probe.json");
    without_rights(
        &sb,
        &["probe", "-m", "pipe", "--json", json.to_str().unwrap()],
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for property in ipcbench::results::probe::CROSSINGS {
        let c = probe_cell(&file, "pipe", property.key());
        assert_eq!(c["measured"], "undecided", "{c}");
        let evidence = c["evidence"].as_str().unwrap();
        assert!(
            evidence.contains("refused") || evidence.contains("EPERM"),
            "{evidence}"
        );
    }
    sb.assert_nothing_left();
}
