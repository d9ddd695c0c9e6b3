//! hackbench's groups: every sender writes every loop to every receiver of
//! its group, every message is checked, and a member that dies or is
//! interrupted leaves nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn group_rows(r: &Value) -> Vec<&Value> {
    rows(r)
        .iter()
        .filter(|r| r["pattern"] == "groups")
        .collect()
}

#[test]
fn every_receiver_gets_every_loop_of_every_sender_of_its_group() {
    let sb = Sandbox::new();
    let out = sb.out();
    let r = sb.run_ok(&[
        "run",
        "-m",
        "pipe,uds-stream,uds-seqpacket",
        "--patterns",
        "groups",
        "--groups",
        "1,2",
        "--group-size",
        "5",
        "--loops",
        "200",
        "--pin",
        "cross",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = group_rows(&r);
    assert_eq!(rows.len(), 3 * 2, "mechanisms × group counts");
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
        assert_eq!(row["errors"]["torn"].as_u64().unwrap_or(0), 0, "{row}");
        // 100 B by default, as perf's; G × S senders × S receivers × loops.
        assert_eq!(row["size_bytes"], 100, "{row}");
        let g = row["groups"].as_u64().unwrap();
        assert_eq!(row["messages"].as_u64().unwrap(), g * 5 * 5 * 200, "{row}");
        // Perf's total runs to the last reap, past the last receipt.
        let total = row["total_ns"].as_f64().unwrap();
        let receipt = row["elapsed_s"].as_f64().unwrap() * 1e9;
        assert!(receipt > 0.0 && receipt <= total, "{row}");
        assert!(row["msgs_per_s"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
}

#[test]
fn a_transport_without_a_group_channel_says_why_and_bad_shapes_are_refused() {
    let sb = Sandbox::new();
    let out = sb.out();
    let r = sb.run_ok(&[
        "run",
        "-m",
        "posix-mq",
        "--patterns",
        "groups",
        "--groups",
        "1",
        "--group-size",
        "2",
        "--loops",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    for row in group_rows(&r) {
        assert_eq!(row["status"], "unsupported", "{row}");
    }
    let cases: [(&[&str], &str); 5] = [
        (&["--patterns", "groups", "--groups", "0"], "'0'"),
        (&["--patterns", "groups", "--group-size", "65"], "1 to 64"),
        (
            &[
                "--patterns",
                "groups",
                "--groups",
                "64",
                "--group-size",
                "64",
            ],
            "8192 processes",
        ),
        (&["--groups", "2"], "add --patterns groups"),
        (&["--loops", "2"], "add --patterns groups"),
    ];
    for (args, says) in cases {
        let mut all = vec!["run", "-m", "pipe"];
        all.extend_from_slice(args);
        let o = sb.run(&all);
        let said = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {said:?}");
        assert_eq!(said.len(), 1, "{args:?}: {said:?}");
        assert!(said[0].contains(says), "{args:?}: {said:?}");
    }
}

/// A member killed mid-case fails the row, naming it, and no member is
/// left behind.
#[test]
fn a_member_killed_mid_case_fails_its_row() {
    let sb = Sandbox::new();
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "pipe,uds-stream",
        "--patterns",
        "groups",
        "--groups",
        "1",
        "--group-size",
        "4",
        "--loops",
        "10000000",
        "--pin",
        "same",
        "--timeout",
        "60s",
        "--out",
        out.to_str().unwrap(),
    ]);
    wait_until("eight members", Duration::from_secs(20), || {
        children(run.id()).len() >= 8
    });
    std::thread::sleep(some_moment(
        Duration::from_millis(200),
        Duration::from_millis(800),
    ));
    kill(
        Pid::from_raw(children(run.id())[5].0 as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    // The next transport's case starts; it is killed too.
    wait_until("the next case", Duration::from_secs(30), || {
        let now = children(run.id());
        now.len() >= 8 && now.iter().all(|c| c.1 != 'Z')
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(
        Pid::from_raw(children(run.id())[0].0 as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let o = run.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    for row in group_rows(&r) {
        assert_eq!(row["status"], "failed", "{row}");
        assert_eq!(row["failure"]["kind"], "member", "{row}");
        assert_eq!(row["failure"]["failure"]["kind"], "peer-killed", "{row}");
    }
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
}

#[test]
fn ctrl_c_in_a_groups_case_stops_within_a_second() {
    let sb = Sandbox::new();
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "uds-stream",
        "--patterns",
        "groups",
        "--groups",
        "2",
        "--group-size",
        "4",
        "--loops",
        "10000000",
        "--pin",
        "cross",
        "--timeout",
        "60s",
        "--out",
        out.to_str().unwrap(),
    ]);
    wait_until("sixteen members", Duration::from_secs(20), || {
        children(run.id()).len() >= 16
    });
    std::thread::sleep(some_moment(
        Duration::from_millis(200),
        Duration::from_millis(1500),
    ));
    let sent = Instant::now();
    kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
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
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
}
