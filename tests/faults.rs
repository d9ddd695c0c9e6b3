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
    let mechanisms = extra
        .iter()
        .position(|a| *a == "-m")
        .map_or("all", |i| extra[i + 1]);
    let mut args = vec!["run"];
    args.extend(sizes_arg(mechanisms, "64"));
    args.extend(["--pin", "none", "--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let child = sb.spawn(&args);
    let pid = child.id();
    let mut peer = 0;
    wait_until(
        &format!("{extra:?}'s peer"),
        Duration::from_secs(10),
        || {
            // A live peer: a child that has just exited (the `node --version`
            // check, reaped within milliseconds) shows as a zombie meanwhile.
            peer = children(pid)
                .into_iter()
                .find(|c| c.1 != 'Z')
                .map_or(0, |c| c.0);
            peer != 0
        },
    );
    // Let the case get under way.
    std::thread::sleep(Duration::from_millis(200));
    (child, peer)
}

#[test]
fn a_peer_killed_mid_case_fails_that_case_and_the_run_goes_on() {
    // One run of every transport in both workloads; each peer is killed
    // shortly after it appears, except the last one's, which must finish.
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let every = all().join(",");
    let run = sb.spawn(&[
        "run",
        "-m",
        &every,
        "--sizes",
        "64",
        "--pin",
        "none",
        "--duration",
        "1s",
        "--out",
        out.to_str().unwrap(),
    ]);
    let cases = all().len() * 2;
    let mut killed: Vec<u32> = Vec::new();
    while killed.len() < cases - 1 {
        let mut peer = 0;
        wait_until("the next peer", Duration::from_secs(10), || {
            let now = children(run.id());
            peer = now
                .iter()
                .find(|c| !killed.contains(&c.0) && c.1 != 'Z')
                .map_or(0, |c| c.0);
            // The harness reaps a dead peer before it starts the next one.
            if peer != 0 {
                assert!(
                    now.iter().all(|c| !killed.contains(&c.0)),
                    "a killed peer was not reaped: {now:?}"
                );
            }
            peer != 0
        });
        std::thread::sleep(Duration::from_millis(150));
        kill(Pid::from_raw(peer as i32), Signal::SIGKILL).unwrap();
        killed.push(peer);
    }
    let o = run.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed case makes the run exit 1"
    );
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows.len(), cases);
    for row in &rows[..cases - 1] {
        assert_eq!(row["status"], "failed", "{row}");
        let why = row["reason"].as_str().unwrap();
        assert!(why.contains("signal 9") && why.contains("after"), "{row}");
        // The same failure, typed: a reader matches on it, not on words.
        assert_eq!(row["failure"]["kind"], "peer-killed", "{row}");
        assert_eq!(row["failure"]["signal"], 9, "{row}");
    }
    assert_eq!(rows[cases - 1]["status"], "ok", "{}", rows[cases - 1]);
    for pid in killed {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "peer {pid} was not reaped"
        );
    }
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

/// The transports whose receivers read a message where it lies.
const LENDERS: [&str; 4] = ["shm-loan", "memfd-pass", "vmsplice", "cma"];

#[test]
fn a_peer_that_dies_holding_a_loan_fails_its_case_and_the_run_goes_on() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        &LENDERS.join(","),
        "--sizes",
        "4KiB",
        "--pin",
        "none",
        "-n",
        "1000",
        "--warmup",
        "0ms",
        "--inject",
        "dies-holding@50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let rows = rows(&r);
    // Both workloads of every lender ran, each ending in the peer's death.
    assert_eq!(rows.len(), LENDERS.len() * 2);
    for row in rows {
        assert_eq!(row["status"], "failed", "{row}");
        let why = row["reason"].as_str().unwrap();
        assert!(why.contains("signal 9"), "{row}");
    }
    assert!(sb.processes().is_empty(), "{:?}", sb.processes());
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

#[test]
fn a_hung_peer_times_out_and_is_killed() {
    let watch = IpcWatch::start();
    // A Rust peer, a Node peer, and a Node parent timing its own Node child.
    for first in ["fifo", "node-json", "node-node-json"] {
        let sb = Sandbox::new();
        let mechanisms = format!("{first},pipe");
        let (run, peer) = start_long_run(
            &sb,
            &[
                "-m",
                &mechanisms,
                "--duration",
                "2s",
                "--patterns",
                "latency",
                "--timeout",
                "1s",
            ],
        );
        if let Err(e) = kill(Pid::from_raw(peer as i32), Signal::SIGSTOP) {
            let o = run.wait_with_output().unwrap();
            panic!(
                "{first}: SIGSTOP of peer {peer}: {e}; the run said: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let o = run.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{first}");
        let r = sb.result();
        let rows = rows(&r);
        assert_eq!(rows[0]["status"], "failed", "{first}");
        let why = rows[0]["reason"].as_str().unwrap();
        assert!(
            why.contains("did not answer for 1s (--timeout)"),
            "{first}: {why}"
        );
        assert_eq!(rows[1]["status"], "ok", "{first}");
        assert!(
            !std::path::Path::new(&format!("/proc/{peer}")).exists(),
            "{first}: hung peer {peer} still exists"
        );
        assert!(sb.processes().is_empty(), "{first}: {:?}", sb.processes());
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}

#[test]
fn ctrl_c_stops_the_run_promptly_and_keeps_finished_rows() {
    let watch = IpcWatch::start();
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let sb = Sandbox::new();
        let (run, peer) = start_long_run(
            &sb,
            &[
                "-m",
                "pipe,shm-sysv-sem,posix-mq",
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
    watch.assert_nothing_new();
}

#[test]
fn ctrl_c_ends_a_case_of_any_length_within_a_second() {
    let watch = IpcWatch::start();
    let lengths: [&[&str]; 3] = [
        &["--duration", "1h"],
        &["--warmup", "1h"],
        &["-n", "100000000000"],
    ];
    for length in lengths {
        // A blocking transport, a spinning one that never enters the kernel,
        // a Node peer, and a Node parent with its own Node child.
        // And each path that lends its memory instead of copying.
        for mechanism in [
            "pipe",
            "shm-ring",
            "node-json",
            "node-node-json",
            "shm-loan",
            "memfd-pass",
            "vmsplice",
            "cma",
        ] {
            let sb = Sandbox::new();
            let mut args = vec!["-m", mechanism, "--patterns", "latency"];
            args.extend_from_slice(length);
            let (run, peer) = start_long_run(&sb, &args);
            std::thread::sleep(some_moment(Duration::ZERO, Duration::from_millis(1500)));
            let sent = Instant::now();
            kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
            let o = run.wait_with_output().unwrap();
            let took = sent.elapsed();
            let what = format!("{mechanism} {length:?}");
            assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
            assert_eq!(o.status.code(), Some(130), "{what}");
            let r = sb.result();
            assert_eq!(r["complete"], false, "{what}");
            // The case cut short is no result, and certainly not `ok`.
            assert!(rows(&r).is_empty(), "{what}: {:?}", rows(&r));
            assert!(!std::path::Path::new(&format!("/proc/{peer}")).exists());
            assert!(sb.processes().is_empty(), "{what}: {:?}", sb.processes());
            sb.assert_nothing_left();
        }
    }
    watch.assert_nothing_new();
}

#[test]
fn ctrl_c_ends_a_loaded_case_within_a_second() {
    let watch = IpcWatch::start();
    let lengths: [&[&str]; 3] = [
        &["--duration", "1h"],
        &["--warmup", "1h"],
        &["-n", "100000000000"],
    ];
    // An open loop asleep until its next message (one a second) and one
    // that never keeps up; fan-in through a queue and through spinning rings.
    let loads: [&[&str]; 4] = [
        &["-m", "pipe", "--patterns", "rate", "--rates", "1"],
        &["-m", "shm-ring", "--patterns", "rate", "--rates", "10M"],
        &["-m", "posix-mq", "--patterns", "fan-in", "--senders", "3"],
        &["-m", "shm-ring", "--patterns", "fan-in", "--senders", "3"],
    ];
    for length in lengths {
        for load in loads {
            let sb = Sandbox::new();
            let mut args = load.to_vec();
            args.extend_from_slice(length);
            let (run, _) = start_long_run(&sb, &args);
            std::thread::sleep(some_moment(Duration::ZERO, Duration::from_millis(1500)));
            let sent = Instant::now();
            kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
            let o = run.wait_with_output().unwrap();
            let took = sent.elapsed();
            let what = format!("{load:?} {length:?}");
            assert!(took < Duration::from_secs(1), "{what}: took {took:?}");
            assert_eq!(o.status.code(), Some(130), "{what}");
            assert!(rows(&sb.result()).is_empty(), "{what}");
            assert!(sb.processes().is_empty(), "{what}: {:?}", sb.processes());
            sb.assert_nothing_left();
        }
    }
    watch.assert_nothing_new();
}

#[test]
fn a_case_too_short_to_time_anything_still_times_one_message() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "--pin",
        "none",
        "--duration",
        "1ns",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for row in rows(&sb.result()) {
        assert_eq!(row["status"], "ok", "{row}");
        assert!(row["messages"].as_u64().unwrap() >= 1, "{row}");
        let figure = row["rtt_ns"]["min"]
            .as_u64()
            .or(row["msgs_per_s"].as_f64().map(|f| f as u64));
        assert!(figure.is_some_and(|f| f > 0), "{row}");
    }
}

#[test]
fn a_harness_killed_by_sigkill_leaves_no_peer_and_no_ipc_object() {
    let watch = IpcWatch::start();
    for (i, mechanism) in all().into_iter().enumerate() {
        let pattern = if i % 2 == 0 { "latency" } else { "throughput" };
        let sb = Sandbox::new();
        let (run, peer) = start_long_run(
            &sb,
            &["-m", mechanism, "--patterns", pattern, "--duration", "5s"],
        );
        kill(Pid::from_raw(run.id() as i32), Signal::SIGKILL).unwrap();
        let gone = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    s.rsplit_once(')')
                        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true)
        };
        wait_until(
            &format!("{mechanism}'s orphaned peer to exit"),
            Duration::from_secs(5),
            || gone(peer),
        );
        // Whatever the peer started too (a Node parent's Node child).
        wait_until(
            &format!("{mechanism}'s processes to exit"),
            Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        let _ = run.wait_with_output();
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}

#[test]
fn a_harness_killed_during_fan_in_leaves_no_sender_and_no_ipc_object() {
    // Three senders each: the queues and the socket and FIFO paths are
    // removed by the senders' parent-death handling and the janitor.
    let watch = IpcWatch::start();
    for mechanism in ["posix-mq", "sysv-mq", "fifo", "uds-dgram", "shm-ring"] {
        let sb = Sandbox::new();
        let (run, _) = start_long_run(
            &sb,
            &[
                "-m",
                mechanism,
                "--patterns",
                "fan-in",
                "--senders",
                "3",
                "--duration",
                "5s",
            ],
        );
        wait_until(
            &format!("{mechanism}'s three senders"),
            Duration::from_secs(5),
            || children(run.id()).len() >= 3,
        );
        kill(Pid::from_raw(run.id() as i32), Signal::SIGKILL).unwrap();
        wait_until(
            &format!("{mechanism}'s senders to exit"),
            Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        let _ = run.wait_with_output();
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}

#[test]
fn eight_cases_at_once_lose_nothing_and_leave_nothing() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let mixes = [
        "pipe",
        "fifo",
        "uds-stream",
        "uds-dgram",
        "posix-mq",
        "sysv-mq",
        "shm-posix-sem",
        "shm-sysv-sem",
    ];
    let runs: Vec<_> = mixes
        .iter()
        .map(|m| {
            let out = sb.dir.path().join(format!("{m}.json"));
            let child = sb.spawn(&[
                "run",
                "-m",
                m,
                "--sizes",
                "64,4KiB",
                "-n",
                "2000",
                "--pin",
                "none",
                "--out",
                out.to_str().unwrap(),
            ]);
            (m, out, child)
        })
        .collect();
    for (m, out, child) in runs {
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
        for row in rows(&r) {
            assert_eq!(row["status"], "ok", "{row}");
            assert_eq!(row["messages"], 2000, "{row}");
            assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
        }
    }
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

/// Under an address-space limit a 64 MiB case cannot have its buffers: it
/// is unsupported, naming ENOMEM and the limit, alone, and the run goes on.
#[test]
fn a_case_without_memory_is_unsupported_alone() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let script = "ulimit -v 200000 && exec \"$0\" run -m pipe,ipc-channel --sizes 64,64MiB \
                  --patterns latency --pin none --duration 50ms --no-probe --out \"$1\"";
    let o = std::process::Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_ipcbench")])
        .arg(&out)
        .env("TMPDIR", sb.tmp())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let rows = rows(&r);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in rows {
        if row["size_bytes"] == 64 {
            assert_eq!(row["status"], "ok", "{row}");
        } else {
            assert_eq!(row["status"], "unsupported", "{row}");
            let why = row["reason"].as_str().unwrap();
            assert!(why.contains("ENOMEM") && why.contains("RLIMIT_AS"), "{row}");
        }
    }
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

/// Ctrl-C while the report is drawn: the results are whole and stay, the
/// report is abandoned whole (no half folder), and the exit code says
/// interrupted.
#[test]
fn ctrl_c_while_the_report_is_drawn_keeps_the_results_and_exits_130() {
    let mut hit = 0;
    for _ in 0..4 {
        let sb = Sandbox::new();
        let out = sb.out();
        let run = sb.spawn(&[
            "run",
            "-m",
            "pipe,fifo,uds-stream,socketpair,tcp",
            "--sizes",
            "64,1KiB,4KiB",
            "-n",
            "30",
            "--pin",
            "same,cross",
            "--out",
            out.to_str().unwrap(),
        ]);
        // The result file is complete just before the report is drawn.
        wait_until("the complete result file", Duration::from_secs(60), || {
            std::fs::read_to_string(&out)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v["complete"] == true)
        });
        kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
        let o = run.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let report = out.with_extension("");
        match o.status.code() {
            Some(0) => assert!(report.join("index.html").exists(), "{stderr}"),
            Some(130) => {
                hit += 1;
                assert!(
                    stderr.contains("the results were written, the report was not"),
                    "{stderr}"
                );
                assert!(!report.exists(), "a report folder was left");
                assert_eq!(sb.result()["complete"], true);
            }
            other => panic!("exit {other:?}: {stderr}"),
        }
        let leftovers: Vec<_> = std::fs::read_dir(sb.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ipcbench-"))
            .collect();
        assert!(leftovers.is_empty(), "half-made folders: {leftovers:?}");
        sb.assert_nothing_left();
    }
    assert!(hit > 0, "no Ctrl-C came while the report was drawn");
}

/// A janitor that stops (SIGSTOP) neither hangs the run nor outlives it.
#[test]
fn a_stopped_janitor_neither_hangs_the_run_nor_outlives_it() {
    let sb = Sandbox::new();
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "--patterns",
        "latency",
        "--duration",
        "1s",
        "--pin",
        "same",
        "--out",
        out.to_str().unwrap(),
    ]);
    let pid = run.id();
    let mut janitor = 0;
    wait_until("the janitor", Duration::from_secs(10), || {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        janitor = kids
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
            .find(|c| {
                std::fs::read(format!("/proc/{c}/cmdline"))
                    .is_ok_and(|l| l.split(|&b| b == 0).any(|a| a == b"__janitor"))
            })
            .unwrap_or(0);
        janitor != 0
    });
    kill(Pid::from_raw(janitor as i32), Signal::SIGSTOP).unwrap();
    let started = Instant::now();
    let o = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run waited {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("the janitor") && stderr.contains("killed"),
        "{stderr}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{janitor}")).exists(),
        "the janitor outlived the run"
    );
    sb.assert_nothing_left();
}
