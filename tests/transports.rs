//! Every transport moves verified messages in both workloads, and a run
//! leaves nothing behind.

mod common;
use common::*;

#[test]
fn every_transport_moves_verified_messages_in_both_workloads() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let all = all().join(",");
    let o = sb.run(&[
        "run",
        "-m",
        &all,
        "--sizes",
        "64,4KiB,64KiB",
        "-n",
        "300",
        "--warmup",
        "0ms",
        "--pin",
        "none,same",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = sb.result();
    assert_eq!(r["schema_version"], 2);
    assert_eq!(r["options"]["verify"], "full");
    let rows = rows(&r);
    // Every transport but the semaphore with three sizes, the semaphore
    // with none; two patterns, two placements.
    let carriers = common::all().len() - 1;
    assert_eq!(rows.len(), (carriers * 3 + 1) * 2 * 2);
    for row in rows {
        let queue = row["mechanism"] == "posix-mq" || row["mechanism"] == "sysv-mq";
        if queue && row["size_bytes"] == 65536 {
            // Over the default queue limits (8192 bytes); see the test below.
            assert_eq!(row["status"], "unsupported", "{row}");
            continue;
        }
        if row["mechanism"] == "semaphore" {
            assert_eq!(row["size_bytes"], 0, "{row}");
            assert!(row["note"].as_str().unwrap().contains("no payload"));
            assert!(row.get("mib_per_s").is_none(), "{row}");
        }
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["messages"], 300, "{row}");
        assert!(row["warmup_messages"].as_u64().unwrap() >= 1, "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
        match row["pattern"].as_str().unwrap() {
            "latency" => {
                let rtt = &row["rtt_ns"];
                let (min, p50, max) = (
                    rtt["min"].as_u64().unwrap(),
                    rtt["p50"].as_u64().unwrap(),
                    rtt["max"].as_u64().unwrap(),
                );
                assert!(0 < min && min <= p50 && p50 <= max, "{rtt}");
            }
            _ => {
                assert!(row["msgs_per_s"].as_f64().unwrap() > 0.0, "{row}");
                let Some(mib) = row["mib_per_s"].as_f64() else {
                    assert_eq!(row["mechanism"], "semaphore", "{row}");
                    continue;
                };
                let msgs = row["msgs_per_s"].as_f64().unwrap();
                let size = row["size_bytes"].as_f64().unwrap();
                assert!(
                    (mib - msgs * size / 1048576.0).abs() < 1e-6 * mib.max(1.0),
                    "{row}"
                );
            }
        }
        if row["placement"] == "same" {
            let cpus = row["cpus"].as_array().unwrap();
            assert_eq!(cpus.len(), 2);
            assert_eq!(cpus[0], cpus[1]);
        }
    }
    assert!(r["machine"]["kernel"].as_str().unwrap().len() > 1);
    assert!(r["calibration"]["timer_overhead_ns"].as_f64().unwrap() > 0.0);
    sb.assert_nothing_left();
    watch.assert_nothing_new();
}

#[test]
fn a_message_over_a_queue_limit_is_unsupported_and_names_the_limit() {
    let watch = IpcWatch::start();
    let sb = Sandbox::new();
    let out = sb.out();
    let msgmax = ipcbench::sys::limits::sysctl("kernel.msgmax").unwrap();
    let mqmax = ipcbench::sys::limits::sysctl("fs.mqueue.msgsize_max").unwrap();
    let over = (msgmax.max(mqmax) + 1).to_string();
    let o = sb.run(&[
        "run",
        "-m",
        "posix-mq,sysv-mq",
        "--sizes",
        &format!("64,{over}"),
        "-n",
        "50",
        "--pin",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = sb.result();
    for row in rows(&r) {
        if row["size_bytes"] == 64 {
            assert_eq!(row["status"], "ok", "{row}");
            continue;
        }
        assert_eq!(row["status"], "unsupported", "{row}");
        let why = row["reason"].as_str().unwrap();
        let limit = if row["mechanism"] == "posix-mq" {
            format!("fs.mqueue.msgsize_max = {mqmax}")
        } else {
            format!("kernel.msgmax = {msgmax}")
        };
        assert!(why.contains(&limit) && why.contains("sysctl"), "{why}");
    }
    watch.assert_nothing_new();
}

#[test]
fn sequence_only_verification_is_recorded() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "1KiB",
        "-n",
        "100",
        "--verify",
        "seq",
        "--pin",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(sb.result()["options"]["verify"], "seq");
}

#[test]
fn a_datagram_over_the_socket_limit_is_unsupported_not_a_crash() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "uds-dgram,pipe",
        "--sizes",
        "1MiB",
        "-n",
        "20",
        "--pin",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = sb.result();
    for row in rows(&r) {
        if row["mechanism"] == "uds-dgram" {
            assert_eq!(row["status"], "unsupported");
            let why = row["reason"].as_str().unwrap();
            assert!(
                why.contains("EMSGSIZE") && why.contains("SO_SNDBUF"),
                "{why}"
            );
        } else {
            assert_eq!(row["status"], "ok", "{row}");
        }
    }
    sb.assert_nothing_left();
}

#[test]
fn list_names_every_transport() {
    let sb = Sandbox::new();
    let o = sb.run(&["list"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("fs.mqueue.msgsize_max") && text.contains("kernel.msgmnb"),
        "{text}"
    );
    for m in all() {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(m) && l.contains("available")),
            "{text}"
        );
    }
    // Grouped: the claimed table's transports first, the others after.
    let claimed = text.find("Transports from the claimed table").unwrap();
    let comparison = text.find("Transports for comparison").unwrap();
    let at = |m: &str| text.find(&format!("  {m} ")).unwrap();
    assert!(
        claimed < at("semaphore") && at("semaphore") < comparison && comparison < at("shm-ring")
    );
}

#[test]
fn the_lock_free_ring_stays_exact_under_sustained_load() {
    // Many messages both ways, on one CPU and across two, every one
    // checksummed: a memory-ordering bug shows up as an error count.
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "shm-ring",
        "--sizes",
        "64,4KiB",
        "-n",
        "50000",
        "--warmup",
        "0ms",
        "--pin",
        "same,cross",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = sb.result();
    for row in rows(&r) {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["messages"], 50000, "{row}");
        assert_eq!(errors(row), (0, 0, 0, 0), "{row}");
    }
    sb.assert_nothing_left();
}
