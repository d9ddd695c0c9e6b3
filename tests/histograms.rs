//! Whole distributions: every latency row of a fresh run carries its
//! histogram (HdrHistogram's V2 compressed encoding) and its timeline, and
//! HdrHistogram's own Python implementation reads the histograms back to
//! the row's figures.

mod common;

use std::process::Command;

use common::{rows, Sandbox};
use serde_json::Value;

/// A fresh run of every pattern that has latencies, two trials each, so
/// that the histograms are merged ones.
fn fresh_run(sb: &Sandbox) -> Value {
    sb.run_ok(&[
        "run",
        "-m",
        "pipe,uds-stream,node-node-json",
        "--patterns",
        "latency,rate,fan-in,throughput",
        "--rates",
        "1000,20000",
        "--senders",
        "2",
        "--sizes",
        "64",
        "--duration",
        "150ms",
        "--warmup",
        "20ms",
        "--repeat",
        "2",
        "--out",
        sb.out().to_str().unwrap(),
    ])
}

#[test]
fn every_latency_row_has_a_histogram_and_a_timeline_that_agree_with_it() {
    let sb = Sandbox::new();
    let result = fresh_run(&sb);
    let mut latency_rows = 0;
    for r in rows(&result).iter().filter(|r| r["status"] == "ok") {
        let name = format!("{} {} {}", r["mechanism"], r["pattern"], r["placement"]);
        let has_latency = r.get("rtt_ns").is_some() || r.get("one_way_ns").is_some();
        assert_eq!(r.get("histogram").is_some(), has_latency, "{name}");
        assert_eq!(r.get("timeline").is_some(), has_latency, "{name}");
        if !has_latency {
            continue;
        }
        latency_rows += 1;
        let encoded = r["histogram"].as_str().unwrap();
        assert!(encoded.starts_with("HISTFAAA"), "{name}: {encoded:.20}");
        let points = r["timeline"]["points"].as_array().unwrap();
        assert!(!points.is_empty() && points.len() <= 128, "{name}");
        // Time runs forward, and each point's largest is at least its sample.
        let at = |p: &Value, i: usize| p[i].as_u64().unwrap();
        assert!(
            points.windows(2).all(|w| at(&w[0], 0) <= at(&w[1], 0)),
            "{name}"
        );
        assert!(points.iter().all(|p| at(p, 2) >= at(p, 1)), "{name}");
    }
    // pipe and uds-stream: latency, two rates and fan-in in two placements;
    // node-node-json: latency in two.
    assert_eq!(latency_rows, 2 * (2 * 4) + 2);
    decoded_by_hdrhistogram_from_pypi(&sb);
}

/// `tests/decode/histograms.py` with PyPI's `hdrhistogram` (which
/// `.ci/run` installs). Outside CI a machine without it says it skipped.
fn decoded_by_hdrhistogram_from_pypi(sb: &Sandbox) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/decode/histograms.py");
    let present = Command::new("python3")
        .args(["-c", "import hdrh.histogram"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have PyPI's hdrhistogram (.ci/run installs it)"
        );
        eprintln!(
            "skipped: python3 with PyPI's hdrhistogram is not installed (pip install hdrhistogram)"
        );
        return;
    }
    let o = Command::new("python3")
        .arg(script)
        .arg(sb.out())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("18 histograms decoded, 0 disagree"), "{text}");
}

#[test]
fn a_histogram_that_does_not_decode_is_refused_in_one_line() {
    let sb = Sandbox::new();
    let mut result: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/results/sample-run.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let row = result["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["status"] == "ok" && r.get("rtt_ns").is_some())
        .unwrap();
    row["histogram"] = Value::from("HISTFAAAbroken");
    let path = sb.dir.path().join("broken.json");
    std::fs::write(&path, result.to_string()).unwrap();
    let o = sb.run(&["report", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("histogram"), "{err}");
}
