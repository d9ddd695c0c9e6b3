//! How the receiver waits (`--waits`): every way a transport declares runs
//! and verifies every message, every way it refuses is an `unsupported` row
//! with the transport's reason, bad flags are refused, and a spinning case
//! stops as fast as a sleeping one, leaving no spinning orphan behind.

mod common;
use common::*;

use std::time::{Duration, Instant};

use ipcbench::results::Wait;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn wait_names() -> Vec<String> {
    Wait::ALL.iter().map(|w| w.to_string()).collect()
}

/// io_uring is refused on machines whose sysctl says so; elsewhere it runs.
fn io_uring_allowed() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").map_or(true, |v| v.trim() == "0")
}

#[test]
fn every_declared_way_of_waiting_runs_and_every_other_says_why() {
    let sb = Sandbox::new();
    let out = sb.out();
    let every = all().join(",");
    let waits = wait_names().join(",");
    let mut args = vec![
        "run",
        "-m",
        &every,
        "--waits",
        &waits,
        "--pin",
        "cross",
        "--patterns",
        "latency,throughput",
        // Long enough for a CPU share to mean something (a few hundred
        // microseconds would be a handful of scheduler ticks' noise).
        "--duration",
        "20ms",
        "--warmup",
        "10ms",
        "--out",
    ];
    args.push(out.to_str().unwrap());
    args.extend(sizes_arg(&every, "64"));
    let result = sb.run_ok(&args);
    let rows = rows(&result);
    assert_eq!(rows.len(), all().len() * Wait::ALL.len() * 2);
    // The checksum's own rate is a physical limit of the run, beside memcpy.
    let crc = &result["floors"]["crc32c_mib_per_s"];
    assert_eq!(crc[0][0], 64, "{crc}");
    assert!(crc[0][1].as_f64().unwrap() > 0.0, "{crc}");
    for row in rows {
        let name = row["mechanism"].as_str().unwrap();
        let t = ipcbench::transport::by_name(name).unwrap();
        let wait: Wait =
            serde_json::from_value(row.get("wait").cloned().unwrap_or("block".into())).unwrap();
        let reason = row["reason"].as_str().unwrap_or("");
        // Every row says how many times its transport copies the payload.
        let copies = t.carries_payload().then(|| u64::from(t.copies().count));
        assert_eq!(row.get("copies").and_then(|c| c.as_u64()), copies, "{row}");
        match t.wait_refused(wait) {
            Some(why) => {
                assert_eq!(row["status"], "unsupported", "{row}");
                assert!(
                    reason.contains(why) && reason.contains(&wait.to_string()),
                    "{row}"
                );
            }
            None if wait == Wait::IoUring && !io_uring_allowed() => {
                assert_eq!(row["status"], "unsupported", "{row}");
                assert!(reason.contains("io_uring_disabled"), "{row}");
            }
            // The machine's CPUs are two; a transport that cannot run at
            // all here (Node absent) is unsupported in every way alike.
            None if row["status"] == "unsupported" => {
                assert!(t.availability().is_err(), "{row}");
            }
            None => {
                assert_eq!(row["status"], "ok", "{row}");
                assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
                // One thread on each side, measured by the scheduler's
                // clock; a runtime's peer (Node) has helper threads too,
                // but no process uses more CPUs than the machine has.
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                let most = match row.get("family") {
                    None => 1.1,
                    Some(_) => cpus as f64 * 1.1,
                };
                for side in ["parent", "child"] {
                    let share = row["cpu_busy"][side].as_f64().unwrap();
                    assert!(share > 0.0 && share <= most, "{row}");
                }
                assert_eq!(
                    row.get("spin_budget_ns").is_some(),
                    wait == Wait::Hybrid,
                    "{row}"
                );
            }
        }
    }
    // Each way has its own rows in the table, the block ones as before.
    let md = sb.run(&["export", out.to_str().unwrap(), "--format", "markdown"]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("| pipe (spin) ") && md.contains("| pipe  "),
        "{md}"
    );
}

#[test]
fn spinning_waits_burn_the_cpu_that_blocking_ones_sleep_through() {
    // At 200 messages/s the blocking receiver sleeps almost all the time;
    // the spinning one polls all the time. Only the direction of the
    // difference is asserted: the size of it is the benchmark's to report.
    // The report then sets latency against CPU, per way of waiting.
    let sb = Sandbox::new();
    let out = sb.out();
    let result = sb.run_ok(&[
        "run",
        "-m",
        "pipe,shm-ring",
        "--waits",
        "block,spin",
        "--patterns",
        "latency,rate",
        "--rates",
        "200",
        "--sizes",
        "64",
        "--pin",
        "cross",
        "--duration",
        "300ms",
        "--warmup",
        "10ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    let busy = |m: &str, spin: bool| {
        let row = rows(&result)
            .iter()
            .find(|r| {
                r["mechanism"] == m && r["pattern"] == "rate" && r.get("wait").is_some() == spin
            })
            .unwrap();
        assert_eq!(row["status"], "ok", "{row}");
        // 300 ms at 200/s is 60 messages: stretched to the hundred a p99 needs.
        assert!(row["messages"].as_u64().unwrap() >= 100, "{row}");
        row["cpu_busy"]["child"].as_f64().unwrap()
    };
    for m in ["pipe", "shm-ring"] {
        assert!(busy(m, true) > 2.0 * busy(m, false), "{m}: {result}");
    }
    let report = out.with_extension("");
    for chart in ["frontier-latency-cross", "frontier-rate-200-cross"] {
        assert!(report.join(format!("{chart}.svg")).is_file(), "{chart}");
    }
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert_eq!(
        page.matches("the least CPU for each latency</b>").count(),
        2,
        "{page}"
    );
    assert!(page.contains("pipe (spin)"), "{page}");
}

#[test]
fn ways_of_waiting_that_cannot_apply_are_refused() {
    let sb = Sandbox::new();
    let out = sb.out();
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--waits", "sleepy"], "sleepy"),
        (
            &["-m", "sysv-mq,semaphore", "--waits", "epoll"],
            "--waits epoll",
        ),
        (
            &["-m", "pipe", "--patterns", "fan-in", "--waits", "spin"],
            "--waits applies to",
        ),
        (&["-m", "node-json", "--waits", "spin"], "--waits spin"),
    ];
    for (extra, names) in cases {
        let mut args = vec!["run", "--out", out];
        args.extend_from_slice(extra);
        let o = sb.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(names), "{extra:?}: {err}");
        assert!(!sb.out().exists(), "{extra:?}");
    }
    // The unknown one is told what is accepted.
    let o = sb.run(&["run", "--out", out, "--waits", "sleepy"]);
    let err = String::from_utf8_lossy(&o.stderr);
    for w in wait_names() {
        assert!(err.contains(&w), "{err}");
    }
}

/// A run of one case that spins for an hour, once its peer is there.
fn start_spinning(mechanism: &str) -> (Sandbox, std::process::Child) {
    let sb = Sandbox::new();
    let out = sb.out();
    let mut args = vec!["run", "-m", mechanism, "--waits", "spin", "--pin", "none"];
    args.extend(sizes_arg(mechanism, "64"));
    args.extend(["--duration", "1h", "--out", out.to_str().unwrap()]);
    let run = sb.spawn(&args);
    let pid = run.id();
    wait_until("the peer", Duration::from_secs(10), || {
        children(pid).iter().any(|c| c.1 != 'Z')
    });
    (sb, run)
}

#[test]
fn a_spinning_case_stops_within_a_second_and_leaves_no_spinning_orphan() {
    let watch = IpcWatch::start();
    for mechanism in ["pipe", "shm-ring", "sysv-mq", "semaphore"] {
        // Ctrl-C.
        let (sb, run) = start_spinning(mechanism);
        std::thread::sleep(some_moment(
            Duration::from_millis(200),
            Duration::from_millis(800),
        ));
        let sent = Instant::now();
        kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
        let o = run.wait_with_output().unwrap();
        let took = sent.elapsed();
        assert!(took < Duration::from_secs(1), "{mechanism}: took {took:?}");
        assert_eq!(o.status.code(), Some(130), "{mechanism}");
        assert!(sb.processes().is_empty(), "{mechanism}");
        sb.assert_nothing_left();

        // The harness killed outright: its spinning peer sees its parent
        // die and must not burn a CPU for long.
        let (sb, run) = start_spinning(mechanism);
        std::thread::sleep(Duration::from_millis(300));
        kill(Pid::from_raw(run.id() as i32), Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        let _ = run.wait_with_output();
        wait_until(
            &format!("{mechanism}'s spinning peer to exit"),
            Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        let took = killed.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "{mechanism}: the orphan spun {took:?}"
        );
        sb.assert_nothing_left();
    }
    watch.assert_nothing_new();
}
