//! `compare` gives verdicts that survive a noisy machine; `export` writes
//! the formats benchmark-history tools read.

mod common;
use common::*;

use serde_json::Value;

fn base_run(sb: &Sandbox) -> std::path::PathBuf {
    let out = sb.dir.path().join("base.json");
    let o = sb.run(&[
        "run",
        "-m",
        "pipe,uds-stream",
        "--sizes",
        "64",
        "-n",
        "300",
        "--pin",
        "same",
        "--repeat",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The run's trials flattened to each row's median (and the CPU reference to
/// its median), so the doctored copies below differ from it by exactly the
/// factor applied: the verdicts must not depend on this machine's noise.
fn flattened(sb: &Sandbox, from: &std::path::Path) -> std::path::PathBuf {
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    for row in r["rows"].as_array_mut().unwrap() {
        let mut t: Vec<f64> = row["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let m = median(&mut t);
        row["trials"] = Value::from(vec![m; t.len()]);
    }
    let mut refs: Vec<f64> = r["calibration"]["reference_ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let m = median(&mut refs);
    r["calibration"]["reference_ns"] = Value::from(vec![m; refs.len()]);
    let p = sb.dir.path().join("flat.json");
    std::fs::write(&p, r.to_string()).unwrap();
    p
}

/// A copy of a result file with one transport's figures scaled.
fn doctored(
    sb: &Sandbox,
    from: &std::path::Path,
    mechanism: &str,
    slower: f64,
    machine: Option<&str>,
) -> String {
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    for row in r["rows"].as_array_mut().unwrap() {
        if row["mechanism"] != mechanism {
            continue;
        }
        // The row's own figures change with its trials: a file whose figure
        // is not the median of its trials is refused.
        let latency = row["pattern"] == "latency";
        for t in row["trials"].as_array_mut().unwrap() {
            let v = t.as_f64().unwrap();
            *t = Value::from(if latency {
                (v * slower).round()
            } else {
                v / slower
            });
        }
        if let Some(encoded) = row["histogram"].as_str() {
            // Every message slower: the histogram, and the figures read from it.
            let h = ipcbench::results::distribution::decode(encoded).unwrap();
            let mut scaled = ipcbench::results::distribution::new_histogram();
            for v in h.iter_recorded() {
                let at = (v.value_iterated_to() as f64 * slower).round() as u64;
                scaled.record_n(at, v.count_at_value()).unwrap();
            }
            row["histogram"] = Value::from(ipcbench::results::distribution::encode(&scaled));
            row["rtt_ns"] =
                serde_json::to_value(ipcbench::results::distribution::percentiles(&scaled))
                    .unwrap();
        } else if latency {
            for (_, v) in row["rtt_ns"].as_object_mut().unwrap().iter_mut() {
                *v = match v.as_u64() {
                    Some(n) => Value::from((n as f64 * slower).round() as u64),
                    None => Value::from(v.as_f64().unwrap() * slower),
                };
            }
        } else {
            for field in ["msgs_per_s", "mib_per_s"] {
                if let Some(v) = row[field].as_f64() {
                    row[field] = Value::from(v / slower);
                }
            }
        }
    }
    if let Some(model) = machine {
        r["machine"]["cpu_model"] = Value::from(model);
    }
    let p = sb
        .dir
        .path()
        .join(format!("doctored-{mechanism}-{slower}.json"));
    std::fs::write(&p, r.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_run_compared_with_itself_has_no_regression() {
    let sb = Sandbox::new();
    let base = base_run(&sb);
    let b = base.to_str().unwrap();
    let o = sb.run(&["compare", b, b]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("0 regressed") && text.contains("unchanged"),
        "{text}"
    );
    // One warning: the same run, not another machine.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("both files are the same run"), "{err}");
}

#[test]
fn a_slower_transport_is_a_regression_and_a_slower_machine_is_not() {
    let sb = Sandbox::new();
    let base = flattened(&sb, &base_run(&sb));
    let b = base.to_str().unwrap();
    // uds-stream alone 30 % slower: a regression, exit 1.
    let worse = doctored(&sb, &base, "uds-stream", 1.3, None);
    let o = sb.run(&["compare", b, &worse]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("uds-stream") && l.contains("REGRESSION")),
        "{text}"
    );
    // Above a 50 % threshold it is not.
    let o = sb.run(&["compare", b, &worse, "--max-regression", "50%"]);
    assert_eq!(o.status.code(), Some(0));
    // Everything twice as slow (the machine, not the code): no regression,
    // because each row is judged against the same run's reference.
    let all_slow = doctored(&sb, &base, "uds-stream", 2.0, None);
    let all_slow = doctored(&sb, std::path::Path::new(&all_slow), "pipe", 2.0, None);
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(&all_slow).unwrap()).unwrap();
    for v in r["calibration"]["reference_ns"].as_array_mut().unwrap() {
        *v = Value::from(v.as_f64().unwrap() * 2.0);
    }
    std::fs::write(&all_slow, r.to_string()).unwrap();
    let o = sb.run(&["compare", b, &all_slow]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("+100.0%"), "the raw change is shown: {text}");
}

#[test]
fn runs_from_different_machines_compare_with_a_warning() {
    let sb = Sandbox::new();
    let base = base_run(&sb);
    let other = doctored(&sb, &base, "pipe", 1.0, Some("Some Other CPU"));
    let o = sb.run(&["compare", base.to_str().unwrap(), &other]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("different machines") && err.contains("Some Other CPU"),
        "{err}"
    );
}

#[test]
fn bad_files_and_thresholds_get_one_line_and_exit_2() {
    let sb = Sandbox::new();
    let base = base_run(&sb);
    let b = base.to_str().unwrap();
    let junk = sb.dir.path().join("junk.json");
    std::fs::write(&junk, "{\"schema_version\": 1").unwrap();
    for args in [
        vec!["compare", b, "/nonexistent.json"],
        vec!["compare", junk.to_str().unwrap(), b],
        vec!["compare", b, b, "--max-regression", "lots"],
        vec!["export", "/nonexistent.json", "--format", "bmf"],
        vec!["export", b, "--format", "github-action-benchmark"],
    ] {
        let o = sb.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr_lines(&o).len(),
            1,
            "{args:?}: {:?}",
            stderr_lines(&o)
        );
    }
}

#[test]
fn exports_follow_the_documented_shapes() {
    let sb = Sandbox::new();
    let base = base_run(&sb);
    let b = base.to_str().unwrap();
    // Bencher Metric Format: {benchmark: {measure: {value, lower_value?, upper_value?}}}.
    let o = sb.run(&["export", b, "--format", "bmf"]);
    assert!(o.status.success());
    let bmf: Value = serde_json::from_slice(&o.stdout).unwrap();
    let benches = bmf.as_object().unwrap();
    assert_eq!(benches.len(), 4, "{bmf}");
    for (name, measures) in benches {
        assert!(
            name.starts_with("pipe/") || name.starts_with("uds-stream/"),
            "{name}"
        );
        for (measure, m) in measures.as_object().unwrap() {
            let m = m.as_object().unwrap();
            assert!(m["value"].is_number(), "{name} {measure}");
            for k in m.keys() {
                assert!(["value", "lower_value", "upper_value"].contains(&k.as_str()));
            }
            if let (Some(lo), Some(hi)) = (m.get("lower_value"), m.get("upper_value")) {
                let v = m["value"].as_f64().unwrap();
                assert!(lo.as_f64().unwrap() <= v && v <= hi.as_f64().unwrap());
            }
        }
        let kind = if name.contains("/latency/") {
            "latency"
        } else {
            "throughput"
        };
        assert!(measures.get(kind).is_some(), "{name} lacks {kind}");
    }
    // github-action-benchmark: arrays of {name, unit, value, range?, extra?}.
    let dir = sb.dir.path().join("gab");
    let o = sb.run(&[
        "export",
        b,
        "--format",
        "github-action-benchmark",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (file, unit) in [
        ("smaller-is-better.json", "ns"),
        ("bigger-is-better.json", "msg/s"),
    ] {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let entries = v.as_array().unwrap();
        assert!(!entries.is_empty());
        assert!(entries.iter().any(|e| e["unit"] == unit));
        for e in entries {
            let e = e.as_object().unwrap();
            assert!(
                e["name"].is_string() && e["unit"].is_string() && e["value"].is_number(),
                "{e:?}"
            );
            for k in e.keys() {
                assert!(
                    ["name", "unit", "value", "range", "extra"].contains(&k.as_str()),
                    "{k}"
                );
            }
            if let Some(r) = e.get("range") {
                assert!(r.is_string());
            }
        }
    }
}

/// A case that worked in the baseline and fails now collapsed: the worst
/// regression, whatever the threshold.
#[test]
fn a_case_that_now_fails_is_a_regression() {
    let sb = Sandbox::new();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let row = v["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["status"] == "ok" && r["pattern"] == "throughput")
        .unwrap();
    let o = row.as_object_mut().unwrap();
    o.insert("status".into(), "failed".into());
    o.insert(
        "reason".into(),
        "peer killed by signal 9 (SIGKILL) after 0 messages".into(),
    );
    let current = sb.dir.path().join("current.json");
    std::fs::write(&current, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = sb.run(&[
        "compare",
        base,
        current.to_str().unwrap(),
        "--max-regression",
        "1000%",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = String::from_utf8_lossy(&o.stdout);
    let line = table
        .lines()
        .find(|l| l.contains("failed"))
        .expect("the failed row is listed");
    assert!(
        line.contains("collapsed") && line.contains("REGRESSION"),
        "{line}"
    );
}

/// Cases measured in one run only are listed, never dropped in silence.
#[test]
fn cases_measured_in_one_run_only_are_listed() {
    let sb = Sandbox::new();
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let rows = v["rows"].as_array_mut().unwrap();
    let ok: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i]["status"] == "ok")
        .collect();
    let name = |r: &Value| {
        format!(
            "{} {}",
            r["mechanism"].as_str().unwrap(),
            r["pattern"].as_str().unwrap()
        )
    };
    let unsupported = name(&rows[ok[1]]);
    let row = rows[ok[1]].as_object_mut().unwrap();
    row.insert("status".into(), "unsupported".into());
    row.insert(
        "reason".into(),
        "message too long, msgsize_max is 8192".into(),
    );
    let removed = name(&rows[ok[0]]);
    rows.remove(ok[0]);
    let current = sb.dir.path().join("current.json");
    std::fs::write(&current, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = sb.run(&["compare", base, current.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    let listed = text
        .split("Measured only in the baseline (2 cases, not compared):")
        .nth(1)
        .unwrap_or_else(|| panic!("no list of one-sided cases: {text}"));
    assert!(
        listed.contains(&removed) && listed.contains("the other run: absent"),
        "{listed}"
    );
    assert!(
        listed.contains(&unsupported)
            && listed.contains("unsupported: message too long, msgsize_max is 8192"),
        "{listed}"
    );
    let o = sb.run(&["compare", current.to_str().unwrap(), base]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Measured only in the current run (2 cases"),
        "{text}"
    );
}

#[test]
fn loaded_cases_are_compared_load_by_load() {
    // The committed open-loop sample against itself with one case's p99
    // doubled and one rate no longer sustained: only those two regress,
    // each named by its offered rate.
    let sb = Sandbox::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = root.join("results/sample-rate.json");
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let row = r["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|row| {
            row["mechanism"] == "pipe"
                && row["placement"] == "same"
                && row["offered_per_s"] == 50000.0
        })
        .expect("pipe at 50k/s on one CPU in the sample");
    let p99 = row["rtt_ns"]["p99"].as_u64().unwrap();
    row["rtt_ns"]["p99"] = (p99 * 2).into();
    row["rtt_ns"]["p999"] = row["rtt_ns"]["p999"].as_u64().unwrap().max(p99 * 2).into();
    row["rtt_ns"]["max"] = row["rtt_ns"]["max"].as_u64().unwrap().max(p99 * 2).into();
    row["trials"] = serde_json::json!([(p99 * 2) as f64]);
    // And one rate that was sustained no longer is.
    let lost = r["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|row| {
            row["mechanism"] == "fifo"
                && row["placement"] == "cross"
                && row["offered_per_s"] == 500000.0
        })
        .expect("fifo at 500k/s across CPUs in the sample");
    assert_eq!(lost["schedule"]["sustained"], true);
    lost["schedule"]["sustained"] = false.into();
    let current = sb.dir.path().join("current.json");
    std::fs::write(&current, serde_json::to_string(&r).unwrap()).unwrap();
    let o = sb.run(&["compare", base.to_str().unwrap(), current.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let regressions: Vec<&str> = text.lines().filter(|l| l.contains("REGRESSION")).collect();
    assert_eq!(regressions.len(), 2, "{text}");
    assert!(
        regressions
            .iter()
            .any(|l| l.contains("pipe") && l.contains("64 B at 50k/s offered |")),
        "{text}"
    );
    assert!(
        regressions.iter().any(|l| l.contains("fifo")
            && l.contains("500k/s offered, no longer sustained")
            && l.contains("collapsed")),
        "{text}"
    );
    // Rates neither run sustained measured queues, not transports.
    assert!(
        !text.contains("| pipe | rate | same | 64 B at 2M/s offered"),
        "{text}"
    );
}
