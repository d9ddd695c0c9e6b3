//! A peer that dies or hangs fails its case only; Ctrl-C stops the run
//! cleanly. No zombie, no leftover file, in every case.

mod common;
use common::*;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// Starts a run whose first case lasts long, and returns it with its peer.
fn start_long_run(sb: &Sandbox, extra: &[&str]) -> (std::process::Child, u32) {
    let out = sb.out();
    let mut args = vec![
        "run",
        "--sizes",
        "64",
        "--pin",
        "none",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let child = sb.spawn(&args);
    let pid = child.id();
    let mut peer = 0;
    wait_until("the peer process", Duration::from_secs(10), || {
        peer = children(pid).first().map_or(0, |c| c.0);
        peer != 0
    });
    // Let the case get under way.
    std::thread::sleep(Duration::from_millis(200));
    (child, peer)
}

fn no_zombies_while_running(pid: u32) {
    let zombies: Vec<_> = children(pid).into_iter().filter(|c| c.1 == 'Z').collect();
    assert!(zombies.is_empty(), "unreaped peers: {zombies:?}");
}

#[test]
fn a_peer_killed_mid_case_fails_that_case_and_the_run_goes_on() {
    for pattern in ["latency", "throughput"] {
        let sb = Sandbox::new();
        let (run, peer) = start_long_run(
            &sb,
            &[
                "-m",
                "uds-dgram,pipe",
                "--patterns",
                pattern,
                "--duration",
                "3s",
            ],
        );
        kill(Pid::from_raw(peer as i32), Signal::SIGKILL).unwrap();
        // The next case starts with a new peer; the dead one must be reaped.
        wait_until("the next case", Duration::from_secs(10), || {
            children(run.id()).iter().any(|c| c.0 != peer && c.1 != 'Z')
        });
        no_zombies_while_running(run.id());
        let o = run.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "a failed case makes the run exit 1"
        );
        let r = sb.result();
        let rows = rows(&r);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["status"], "failed", "{}", rows[0]);
        let why = rows[0]["reason"].as_str().unwrap();
        assert!(why.contains("signal 9") && why.contains("after"), "{why}");
        assert_eq!(rows[1]["status"], "ok", "{}", rows[1]);
        sb.assert_nothing_left();
    }
}

#[test]
fn a_hung_peer_times_out_and_is_killed() {
    let sb = Sandbox::new();
    let (run, peer) = start_long_run(
        &sb,
        &[
            "-m",
            "fifo,pipe",
            "--duration",
            "2s",
            "--patterns",
            "latency",
            "--timeout",
            "1s",
        ],
    );
    kill(Pid::from_raw(peer as i32), Signal::SIGSTOP).unwrap();
    let o = run.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows[0]["status"], "failed");
    let why = rows[0]["reason"].as_str().unwrap();
    assert!(why.contains("did not answer for 1s (--timeout)"), "{why}");
    assert_eq!(rows[1]["status"], "ok");
    assert!(
        !std::path::Path::new(&format!("/proc/{peer}")).exists(),
        "hung peer {peer} still exists"
    );
    sb.assert_nothing_left();
}

#[test]
fn ctrl_c_stops_the_run_promptly_and_keeps_finished_rows() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let sb = Sandbox::new();
        let (run, peer) = start_long_run(
            &sb,
            &[
                "-m",
                "pipe,uds-stream,fifo",
                "--duration",
                "1s",
                "--patterns",
                "latency",
            ],
        );
        // Into the second case.
        std::thread::sleep(Duration::from_millis(1200));
        let sent = Instant::now();
        kill(Pid::from_raw(run.id() as i32), signal).unwrap();
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
        let r = sb.result();
        assert_eq!(r["complete"], false);
        let rows = rows(&r);
        assert!(!rows.is_empty() && rows.len() < 3, "{rows:?}");
        assert!(rows.iter().all(|r| r["status"] == "ok"));
        assert!(!std::path::Path::new(&format!("/proc/{peer}")).exists());
        sb.assert_nothing_left();
    }
}
