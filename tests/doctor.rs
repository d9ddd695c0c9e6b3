//! Knowing the machine: `ipcbench doctor` reads what decides each finding,
//! quotes it, and exits 1 exactly when something would skew the figures; a
//! run records the same warnings, and the physical limits of its CPUs, in
//! its result file.

mod common;
use common::*;

use serde_json::Value;

fn sysfs(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn findings(sb: &Sandbox) -> (Vec<Value>, Option<i32>) {
    let o = sb.run(&["doctor", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (list, o.status.code())
}

fn find<'a>(list: &'a [Value], check: &str) -> &'a Value {
    list.iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no '{check}' finding"))
}

#[test]
fn every_check_is_there_and_quotes_what_decided_it() {
    let sb = Sandbox::new();
    let (list, code) = findings(&sb);
    for check in [
        "cpufreq governor",
        "turbo boost",
        "SMT siblings",
        "cpuidle driver",
        "isolcpus",
        "other load",
        "clock source",
        "hypervisor",
        "io_uring",
        "isolation",
        "limit fs.mqueue.msg_max",
        "limit fs.mqueue.msgsize_max",
        "limit RLIMIT_MSGQUEUE",
        "limit kernel.msgmax",
        "limit kernel.msgmnb",
        "limit fs.pipe-max-size",
        "limit net.core.wmem_max",
        "limit net.unix.max_dgram_qlen",
        "limit /dev/mqueue",
    ] {
        let f = find(&list, check);
        assert!(
            !f["meaning"].as_str().unwrap().is_empty(),
            "{check} says nothing"
        );
    }
    // As root here: the widest deployment, veth included, can be made,
    // and the doctor leaves no interface of its own behind.
    let isolation = find(&list, "isolation");
    assert_eq!(isolation["level"], "ok", "{isolation}");
    // A veth's name holds its maker's pid: none may outlive its maker.
    let orphaned: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let pid = n.strip_prefix("ipb").and_then(|r| r.split('-').next());
            pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        })
        .collect();
    assert!(
        orphaned.is_empty(),
        "veth pairs left by a process gone: {orphaned:?}"
    );
    let warned = list.iter().any(|f| f["level"] == "warn");
    assert_eq!(
        code,
        Some(i32::from(warned)),
        "exit status and warnings disagree"
    );
    for f in list.iter().filter(|f| f["level"] == "warn") {
        assert!(f["fix"].is_string(), "a warning without a fix: {f}");
    }
    // Quoted, not guessed: each finding carries what the kernel says.
    let clock = sysfs("/sys/devices/system/clocksource/clocksource0/current_clocksource").unwrap();
    assert!(find(&list, "clock source")["observed"]
        .as_str()
        .unwrap()
        .starts_with(&clock));
    let msgsize = sysfs("/proc/sys/fs/mqueue/msgsize_max").unwrap();
    assert_eq!(
        find(&list, "limit fs.mqueue.msgsize_max")["observed"],
        msgsize.as_str()
    );
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let guest = cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|w| w == "hypervisor"));
    let hypervisor = find(&list, "hypervisor");
    if guest {
        assert!(
            hypervisor["observed"]
                .as_str()
                .unwrap()
                .contains("CPUID signature"),
            "{hypervisor}"
        );
    } else {
        assert_eq!(hypervisor["level"], "ok");
    }
    if sysfs("/sys/devices/system/cpu/cpuidle/current_driver").as_deref() == Some("haltpoll") {
        let ns = sysfs("/sys/module/haltpoll/parameters/guest_halt_poll_ns").unwrap();
        let halt = find(&list, "halt-polling");
        assert!(
            halt["observed"]
                .as_str()
                .unwrap()
                .starts_with(&format!("guest_halt_poll_ns {ns},")),
            "{halt}"
        );
        assert_eq!(halt["level"], "warn");
    }
    // The text form says the same, warnings first.
    let o = sb.run(&["doctor"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), code);
    if warned {
        assert!(text.starts_with("WARN "), "{text}");
    }
}

#[test]
fn a_run_prints_and_records_the_doctors_warnings() {
    let sb = Sandbox::new();
    let (list, _) = findings(&sb);
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "-n",
        "50",
        "--pin",
        "same",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recorded: Vec<String> = sb.result()["machine"]["warnings"]
        .as_array()
        .map(|w| w.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let stderr = String::from_utf8_lossy(&o.stderr);
    for line in &recorded {
        assert!(line.starts_with("doctor: "), "{line}");
        assert!(stderr.contains(line.as_str()), "not printed: {line}");
    }
    // Load comes and goes between the two looks; the machine's settings do not.
    for f in list
        .iter()
        .filter(|f| f["level"] == "warn" && f["check"] != "other load")
    {
        let check = f["check"].as_str().unwrap();
        assert!(
            recorded
                .iter()
                .any(|l| l.starts_with(&format!("doctor: {check}:"))),
            "{check} not recorded: {recorded:?}"
        );
    }
    let report = out.with_extension("").join("index.html");
    let html = std::fs::read_to_string(report).unwrap();
    for line in &recorded {
        let check = line
            .trim_start_matches("doctor: ")
            .split(':')
            .next()
            .unwrap();
        assert!(html.contains(check), "the report does not show {check}");
    }
}

#[test]
fn bad_cpu_pairs_get_one_line_and_exit_2() {
    let sb = Sandbox::new();
    for (args, says) in [
        (vec!["doctor", "--cpus", "0,0"], "two different CPU numbers"),
        (vec!["doctor", "--cpus", "0"], "two different CPU numbers"),
        (vec!["doctor", "--cpus", "a,b"], "two different CPU numbers"),
        (
            vec!["doctor", "--cpus", "0,4096"],
            "CPU 4096 is not one this process may use",
        ),
        (
            vec!["run", "--cpus", "1,4096"],
            "CPU 4096 is not one this process may use",
        ),
    ] {
        let o = sb.run(&args);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].contains(says), "{args:?}: {}", lines[0]);
    }
}

#[test]
fn a_pinned_run_records_the_physical_limits_and_reads_figures_against_them() {
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "pipe,shm-ring",
        "--sizes",
        "64,4KiB",
        "-n",
        "300",
        "--pin",
        "same,cross",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let result = sb.result();
    let floors = &result["floors"];
    let p50 = |key: &str| {
        floors[key]["p50"]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key}: {floors}"))
    };
    let allowed = &result["machine"]["cpus_allowed"];
    assert_eq!(floors["cpus"], serde_json::json!([allowed[0], allowed[1]]));
    // A wake-up is a cache-line handover and much more.
    assert!(p50("cache_line_rtt_ns") > 0);
    assert!(
        p50("futex_wake_rtt_ns") > p50("cache_line_rtt_ns"),
        "{floors}"
    );
    assert!(p50("context_switch_rtt_ns") > 0);
    let copies = floors["memcpy_mib_per_s"].as_array().unwrap();
    let sizes: Vec<u64> = copies.iter().map(|c| c[0].as_u64().unwrap()).collect();
    assert_eq!(sizes, [64, 4096]);
    assert!(copies.iter().all(|c| c[1].as_f64().unwrap() > 0.0));
    // The Markdown table reads each figure against its limit ...
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("vs limit") && table.contains("× context switch"),
        "{table}"
    );
    // ... and the CSV gives the multiple as a number, computed as documented.
    let csv = sb.run(&["export", out.to_str().unwrap(), "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut checked = 0;
    for record in reader.records().map(|r| r.unwrap()) {
        if &record[col("pattern")] == "latency" && &record[col("placement")] == "same" {
            let rtt: f64 = record[col("rtt_p50_ns")].parse().unwrap();
            let multiple: f64 = record[col("limit_multiple")].parse().unwrap();
            let expected = rtt / p50("context_switch_rtt_ns") as f64;
            assert!(
                (multiple - expected).abs() < 1e-6 * expected,
                "{multiple} vs {expected}"
            );
            assert_eq!(&record[col("limit")], "context switch");
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
    // A run that pins nothing measures no CPU's limits.
    let o = sb.run(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "-n",
        "50",
        "--pin",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(sb.result().get("floors").is_none());
}

#[test]
fn a_run_killed_while_measuring_the_limits_leaves_nothing() {
    use std::io::{BufRead, BufReader};
    let watch = IpcWatch::start();
    // How many of the kills came while the limits' child was alive.
    let mut caught = 0;
    for _ in 0..3 {
        let sb = Sandbox::new();
        let out = sb.out();
        let mut run = sb.spawn(&[
            "run",
            "-m",
            "pipe",
            "--sizes",
            "64",
            "-n",
            "100",
            "--out",
            out.to_str().unwrap(),
        ]);
        let mut stderr = BufReader::new(run.stderr.take().unwrap());
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap() > 0
            && !line.contains("measuring the physical limits")
        {
            line.clear();
        }
        assert!(
            line.contains("measuring the physical limits"),
            "the run never said it measures the limits"
        );
        let pid = run.id();
        let forked =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        caught += usize::from(!forked.trim().is_empty());
        run.kill().unwrap();
        let _ = run.wait();
        wait_until(
            "the limits' child to exit",
            std::time::Duration::from_secs(5),
            || sb.processes().is_empty(),
        );
        sb.assert_nothing_left();
    }
    assert!(caught > 0, "no kill came while the limits were measured");
    watch.assert_nothing_new();
}

/// Puts a sysctl back as it was, however the test ends.
struct Restore(&'static str, String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0, &self.1);
    }
}

/// With io_uring refused by its sysctl, the doctor says so with the fix,
/// and a run's io-uring rows are unsupported naming the sysctl, while its
/// other rows run. Root only (CI is root): the sysctl is the machine's.
#[test]
fn io_uring_refused_by_the_kernel_is_reported_not_failed() {
    const SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";
    let Some(before) = sysfs(SYSCTL) else {
        eprintln!("skipped: this kernel has no {SYSCTL}");
        return;
    };
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: changing {SYSCTL} needs root");
        return;
    }
    let _restore = Restore(SYSCTL, before);
    // A container's /proc/sys is often read-only, even to its root.
    if let Err(e) = std::fs::write(SYSCTL, "2") {
        eprintln!("skipped: {SYSCTL} cannot be written here: {e}");
        return;
    }
    let sb = Sandbox::new();
    let (list, _) = findings(&sb);
    let f = find(&list, "io_uring");
    assert_eq!(f["level"], "info", "{f}");
    assert!(
        f["fix"].as_str().unwrap().contains("io_uring_disabled=0"),
        "{f}"
    );
    let out = sb.out();
    let result = sb.run_ok(&[
        "run",
        "-m",
        "pipe",
        "--waits",
        "block,io-uring",
        "--sizes",
        "64",
        "--pin",
        "none",
        "-n",
        "100",
        "--patterns",
        "latency",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = rows(&result);
    assert_eq!(rows[0]["status"], "ok", "{}", rows[0]);
    assert_eq!(rows[1]["status"], "unsupported", "{}", rows[1]);
    let reason = rows[1]["reason"].as_str().unwrap();
    assert!(reason.contains("kernel.io_uring_disabled = 2"), "{reason}");
}
