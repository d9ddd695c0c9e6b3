//! Issue 22: what a careless or hostile user could do to a run. Nothing
//! hangs, nothing panics, no file that is not ipcbench's is removed.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Runs `args` with IPCBENCH_NODE set, and how long it took.
fn with_node(sb: &Sandbox, node: &Path, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let o = sb
        .command(args)
        .env("IPCBENCH_NODE", node)
        .output()
        .unwrap();
    (o, start.elapsed())
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_node_whose_version_never_ends_does_not_hang_list_or_run() {
    let sb = Sandbox::new();
    let sleeps = script(sb.dir.path(), "sleepy-node", "sleep 300");
    // Prints a version, then leaves a child holding the pipe.
    let holds = script(sb.dir.path(), "holding-node", "sleep 300 &\necho v20.0.0");
    for node in [&sleeps, &holds] {
        let (o, took) = with_node(&sb, node, &["list"]);
        assert!(took < Duration::from_secs(15), "list took {took:?}");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let (o, _) = with_node(&sb, &sleeps, &["list"]);
    assert!(text(&o).contains("did not exit within 5s"), "{}", text(&o));
    let out = sb.out();
    let (o, took) = with_node(
        &sb,
        &sleeps,
        &[
            "run",
            "-m",
            "node-json",
            "--quick",
            "--pin",
            "same",
            "--patterns",
            "latency",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(took < Duration::from_secs(20), "run took {took:?}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = sb.result();
    let row = &rows(&r)[0];
    assert_eq!(row["status"], "unsupported", "{row}");
    assert!(
        sb.processes().is_empty(),
        "left running: {:?}",
        sb.processes()
    );
}

#[test]
fn ctrl_c_stops_a_run_waiting_for_node_s_version_within_a_second() {
    let sb = Sandbox::new();
    let sleeps = script(sb.dir.path(), "sleepy-node", "sleep 300");
    let out = sb.out();
    let child = sb
        .command(&[
            "run",
            "-m",
            "node-json",
            "--quick",
            "--pin",
            "same",
            "--patterns",
            "latency",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("IPCBENCH_NODE", &sleeps)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Until the script runs: the version check is under way.
    wait_until("node --version", Duration::from_secs(20), || {
        sb.processes().iter().any(|&p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .unwrap_or_default()
                .windows(5)
                .any(|w| w == b"sleep")
        }) && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok()
    });
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    wait_until("the script's end", Duration::from_secs(5), || {
        sb.processes().is_empty()
    });
}

#[test]
fn a_node_that_lingers_after_its_report_fails_its_case_within_the_timeout() {
    let sb = Sandbox::new();
    // Answers --version; as a peer, runs node, then closes its stdout (the
    // control pipe) and sleeps.
    let node = which("node");
    let lingers = script(
        sb.dir.path(),
        "lingering-node",
        &format!(
            "if [ \"$1\" = --version ]; then exec {node} --version; fi\n{node} \"$@\"\nexec >&-\nsleep 300"
        ),
    );
    let out = sb.out();
    let (o, took) = with_node(
        &sb,
        &lingers,
        &[
            "run",
            "-m",
            "node-json",
            "-s",
            "64",
            "-n",
            "100",
            "--pin",
            "same",
            "--patterns",
            "latency",
            "--timeout",
            "2s",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(took < Duration::from_secs(20), "run took {took:?}");
    let r = sb.result();
    let row = &rows(&r)[0];
    assert_eq!(row["status"], "failed", "{}", text(&o));
    let why = row["reason"].as_str().unwrap();
    assert!(why.contains("did not exit within 2s"), "{why}");
    assert!(
        sb.processes().is_empty(),
        "left running: {:?}",
        sb.processes()
    );
    sb.assert_nothing_left();
}

fn which(program: &str) -> String {
    let o = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(!path.is_empty(), "{program} is not on PATH");
    path
}
