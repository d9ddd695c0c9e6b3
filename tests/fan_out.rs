//! Fan-out: one publisher, several subscriber processes. Every message
//! reaches every subscriber, natively (shm-broadcast) or by one send per
//! subscriber; every delivery is checked; a subscriber that dies or is
//! interrupted leaves nothing behind.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const MECHANISMS: &str = "shm-broadcast,pipe,uds-stream,uds-dgram,posix-mq";

fn fan_out_rows(r: &Value) -> Vec<&Value> {
    rows(r)
        .iter()
        .filter(|r| r["pattern"] == "fan-out")
        .collect()
}

/// The facts a fan-out row must hold whatever the machine: each delivery
/// comes before the last answer, the rate to all times the subscribers is
/// the deliveries' rate, one rate per subscriber, and the sends and copies
/// the way of fanning out implies.
fn assert_consistent(row: &Value) {
    let n = row["subscribers"].as_u64().unwrap();
    let completion = row["completion_ns"]["p50"].as_u64().unwrap();
    let delivery = row["one_way_ns"]["p50"].as_u64().unwrap();
    assert!(delivery > 0 && delivery <= completion, "{row}");
    let (all, deliveries) = (
        row["msgs_per_s"].as_f64().unwrap(),
        row["deliveries_per_s"].as_f64().unwrap(),
    );
    assert!(
        (deliveries - all * n as f64).abs() <= 1e-6 * deliveries,
        "{row}"
    );
    assert_eq!(
        row["subscriber_msgs_per_s"].as_array().unwrap().len() as u64,
        n,
        "{row}"
    );
    // Each subscriber's CPU is in the row: under cross, the publisher
    // keeps the first and the subscribers take the others in turn.
    let cpus = row["member_cpus"].as_array().unwrap();
    assert_eq!(cpus.len() as u64, n, "{row}");
    assert!(
        cpus.iter()
            .all(|c| *c != row["cpus"][0] || row["cpus"][0] == row["cpus"][1]),
        "{row}"
    );
    let native = row["mechanism"] == "shm-broadcast";
    let sends = row["sends_per_message"].as_u64().unwrap();
    assert_eq!(sends, if native { 1 } else { n }, "{row}");
    let copies = row["copies"].as_u64().unwrap();
    assert_eq!(copies, if native { 1 + n } else { 2 * n }, "{row}");
    let said = row["note"]
        .as_str()
        .unwrap_or("")
        .contains("sends per message");
    assert_eq!(said, sends > 1, "{row}");
}

#[test]
fn every_subscriber_gets_every_message_natively_or_by_one_send_each() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let r = sb.run_ok(&[
        "run",
        "-m",
        MECHANISMS,
        "--patterns",
        "fan-out",
        "--subscribers",
        "1,2,4",
        "--waits",
        "block,spin",
        "-s",
        "64,4KiB",
        "--pin",
        "cross",
        "-n",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = fan_out_rows(&r);
    assert_eq!(
        rows.len(),
        5 * 3 * 2 * 2,
        "mechanisms × subscribers × waits × sizes"
    );
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
        assert_consistent(row);
        // 300 rounds and 300 streamed messages, each to every subscriber.
        assert_eq!(row["messages"], 600, "{row}");
    }
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

#[test]
fn the_subscribers_are_an_axis_of_the_case_in_every_name() {
    let sb = Sandbox::new();
    let out = sb.out();
    sb.run_ok(&[
        "run",
        "-m",
        "shm-broadcast,pipe",
        "--patterns",
        "fan-out",
        "--subscribers",
        "1,2",
        "-s",
        "64",
        "--pin",
        "same",
        "-n",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    let o = sb.run(&["export", out.to_str().unwrap(), "--format", "bmf"]);
    let bmf: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&String> = bmf.as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("/2subscribers")),
        "{names:?}"
    );
    let o = sb.run(&["export", out.to_str().unwrap(), "--format", "csv"]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .split(',')
            .any(|c| c == "subscribers"),
        "{csv}"
    );
}

/// A subscriber killed while the publisher streams to it fails that row,
/// naming the subscriber, and the run goes on to the next case with
/// nothing left behind: no process, no segment, no queue.
#[test]
fn a_subscriber_killed_mid_case_fails_its_row_alone() {
    for mechanism in ["shm-broadcast", "posix-mq"] {
        let watch = IpcWatch::start();
        let sb = Sandbox::new();
        let out = sb.out();
        let run = sb.spawn(&[
            "run",
            "-m",
            mechanism,
            "--patterns",
            "fan-out",
            "--subscribers",
            "4,1",
            "-s",
            "64",
            "--pin",
            "same",
            "--duration",
            "3s",
            "--out",
            out.to_str().unwrap(),
        ]);
        let mut victim = None;
        wait_until("subscriber 2", Duration::from_secs(20), || {
            victim = member(run.id(), 2);
            victim.is_some()
        });
        std::thread::sleep(some_moment(
            Duration::from_millis(300),
            Duration::from_millis(1500),
        ));
        kill(Pid::from_raw(victim.unwrap() as i32), Signal::SIGKILL).unwrap();
        let o = run.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = sb.result();
        let rows = fan_out_rows(&r);
        assert_eq!(rows[0]["status"], "failed", "{}", rows[0]);
        let failure = &rows[0]["failure"];
        assert_eq!(failure["kind"], "member", "{failure}");
        assert_eq!(failure["role"], "subscriber", "{failure}");
        assert_eq!(failure["index"], 2, "the one killed: {failure}");
        assert_eq!(failure["failure"]["kind"], "peer-killed", "{failure}");
        assert_eq!(rows[1]["status"], "ok", "the next case runs: {}", rows[1]);
        assert!(sb.processes().is_empty());
        sb.assert_nothing_left();
        watch.assert_nothing_new();
    }
}

#[test]
fn ctrl_c_in_a_fan_out_stops_within_a_second_and_leaves_nothing() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "shm-broadcast",
        "--patterns",
        "fan-out",
        "--subscribers",
        "8",
        "--waits",
        "spin",
        "-s",
        "64",
        "--pin",
        "cross",
        "--duration",
        "20s",
        "--out",
        out.to_str().unwrap(),
    ]);
    wait_until("eight subscribers", Duration::from_secs(20), || {
        children(run.id()).len() >= 8
    });
    std::thread::sleep(some_moment(
        Duration::from_millis(200),
        Duration::from_millis(1500),
    ));
    let sent = Instant::now();
    kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
    let o = run.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

#[test]
fn bad_subscriber_counts_and_idle_flags_are_refused_in_one_line() {
    let sb = Sandbox::new();
    let cases: [(&[&str], &str); 4] = [
        (&["--patterns", "fan-out", "--subscribers", "0"], "'0'"),
        (
            &["--patterns", "fan-out", "--subscribers", "1025"],
            "1 to 1024",
        ),
        (&["--patterns", "fan-out", "--subscribers", "-3"], "'-3'"),
        (&["--subscribers", "4"], "add --patterns fan-out"),
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

/// A transport that cannot fan out says why in its row, and the run goes on.
#[test]
fn a_transport_that_cannot_fan_out_says_why_and_a_lending_one_fans_out() {
    let sb = Sandbox::new();
    let out = sb.out();
    let r = sb.run_ok(&[
        "run",
        "-m",
        "semaphore,shm-loan,shm-ring",
        "--patterns",
        "fan-out",
        "--subscribers",
        "2",
        "--pin",
        "same",
        "-n",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = fan_out_rows(&r);
    let by = |m: &str| rows.iter().find(|r| r["mechanism"] == m).unwrap();
    assert_eq!(by("semaphore")["status"], "unsupported");
    assert!(by("semaphore")["reason"]
        .as_str()
        .unwrap()
        .contains("signal"));
    // A lending channel fans out too: its subscribers check the stream
    // where it lies.
    assert_eq!(by("shm-loan")["status"], "ok", "{}", by("shm-loan"));
    assert_eq!(by("shm-ring")["status"], "ok", "{}", by("shm-ring"));
}

/// The probe's column decides by experiment: two readers wait, one message
/// is sent. A broadcast reaches both; a pipe and a queue give it to one.
#[test]
fn the_probe_finds_one_send_reaching_many_only_in_a_broadcast() {
    let sb = Sandbox::new();
    let out = sb.dir.path().join("probe.json");
    let o = sb.run(&[
        "probe",
        "-m",
        "shm-broadcast,pipe,posix-mq",
        "--json",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for (mechanism, want, sign) in [
        ("shm-broadcast", "Y", "both of two waiting readers got it"),
        ("pipe", "N", "read()"),
        ("posix-mq", "N", "mq_receive()"),
    ] {
        let cell = probe_cell(&file, mechanism, "one_send_reaches_many");
        assert_eq!(cell["measured"], want, "{mechanism}: {cell}");
        assert_eq!(cell["method"], "experiment", "{mechanism}: {cell}");
        assert!(
            cell["evidence"].as_str().unwrap().contains(sign),
            "{mechanism}: {cell}"
        );
    }
    sb.assert_nothing_left();
}

/// More subscribers than the user may still start (RLIMIT_NPROC) is
/// refused before anything runs. The kernel does not hold root to it, so
/// the binary runs as nobody with a limit of 16.
#[test]
fn more_subscribers_than_rlimit_nproc_allows_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("skipped: needs root to run the binary as another user");
        return;
    }
    let sb = Sandbox::new();
    let mut cmd = sb.command(&[
        "run",
        "-m",
        "pipe",
        "--patterns",
        "fan-out",
        "--subscribers",
        "64",
    ]);
    // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe
    // and touch no state shared with the parent.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            use nix::sys::resource::{setrlimit, Resource};
            setrlimit(Resource::RLIMIT_NPROC, 16, 16)?;
            nix::unistd::setgroups(&[])?;
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534))?;
            nix::unistd::setuid(nix::unistd::Uid::from_raw(65534))?;
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let said = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(2), "{said:?}");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("RLIMIT_NPROC") && said[0].contains("'64'"),
        "{said:?}"
    );
}

/// A subscriber that stops (SIGSTOP: alive, reading nothing) holds the
/// publisher back; the watchdog calls the case hung after --timeout, fails
/// its row, and no subscriber is left, the stopped one included.
#[test]
fn a_stalled_subscriber_is_caught_by_the_watchdog() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let run = sb.spawn(&[
        "run",
        "-m",
        "shm-broadcast",
        "--patterns",
        "fan-out",
        "--subscribers",
        "3",
        "-s",
        "64",
        "--pin",
        "same",
        "--duration",
        "5s",
        "--timeout",
        "1s",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut victim = None;
    wait_until("subscriber 1", Duration::from_secs(20), || {
        victim = member(run.id(), 1);
        victim.is_some()
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(Pid::from_raw(victim.unwrap() as i32), Signal::SIGSTOP).unwrap();
    let o = run.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = sb.result();
    let row = fan_out_rows(&r)[0];
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["failure"]["failure"]["kind"], "hung", "{row}");
    assert!(sb.processes().is_empty());
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}
