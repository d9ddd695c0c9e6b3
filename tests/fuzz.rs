//! Result files changed at random, byte by byte and field by field: every
//! command that reads one ends with exit 0, 1 or 2 (never a panic's 101)
//! within a time limit.

mod common;
use common::*;

use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn seed() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/results/baseline.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One change to a JSON document: the value at a path picked by `pick`
/// becomes `with`, or is removed, or (for a row) repeated.
#[derive(Clone, Debug)]
enum Edit {
    Replace(u64, Value),
    Remove(u64),
    RepeatRow(u64),
}

fn values() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(0)),
        Just(Value::from(-1.5)),
        Just(Value::from(1e300)),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z-]{0,80}".prop_map(Value::from),
        Just(Value::from("x".repeat(70_000))),
        Just(Value::Array(vec![])),
        Just(serde_json::json!({})),
    ]
}

fn edits() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<u64>(), values()).prop_map(|(p, v)| Edit::Replace(p, v)),
        any::<u64>().prop_map(Edit::Remove),
        any::<u64>().prop_map(Edit::RepeatRow),
    ]
}

/// Every path of the document, parents before children.
fn paths(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            let mut p = at.clone();
            p.push(k.clone());
            paths(c, p, out)
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| {
            let mut p = at.clone();
            p.push(i.to_string());
            paths(c, p, out)
        }),
        _ => {}
    }
}

fn apply(doc: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    paths(doc, Vec::new(), &mut all);
    let pick = |n: u64| all[1 + (n as usize) % (all.len() - 1)].clone();
    match edit {
        Edit::Replace(n, with) => {
            let p = pick(*n);
            *doc.pointer_mut(&pointer(&p)).unwrap() = with.clone();
        }
        Edit::Remove(n) => {
            let p = pick(*n);
            let (last, parent) = p.split_last().unwrap();
            match doc.pointer_mut(&pointer(parent)).unwrap() {
                Value::Object(m) => drop(m.remove(last)),
                Value::Array(a) => drop(a.remove(last.parse::<usize>().unwrap())),
                _ => {}
            }
        }
        Edit::RepeatRow(n) => {
            let rows = doc["rows"].as_array_mut().unwrap();
            let row = rows[(*n as usize) % rows.len()].clone();
            rows.push(row);
        }
    }
}

fn pointer(p: &[String]) -> String {
    p.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The commands that read a result file, each given `file`.
fn readers(file: &Path, sb: &Sandbox) -> Vec<Vec<String>> {
    let f = file.to_str().unwrap().to_string();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json").to_string();
    let out = sb.dir.path().join("out").to_str().unwrap().to_string();
    vec![
        vec!["compare".into(), seed.clone(), f.clone()],
        vec!["compare".into(), f.clone(), seed],
        vec!["export".into(), "--format".into(), "bmf".into(), f.clone()],
        vec![
            "export".into(),
            "--format".into(),
            "markdown".into(),
            f.clone(),
        ],
        vec!["export".into(), "--format".into(), "csv".into(), f.clone()],
        vec![
            "export".into(),
            "--format".into(),
            "github-action-benchmark".into(),
            "--out".into(),
            format!("{out}-gab"),
            f.clone(),
        ],
        vec!["report".into(), f, "--out".into(), out],
    ]
}

fn every_reader_ends_well(bytes: &[u8]) {
    every_reader_ends_with(bytes, None);
}

/// As `every_reader_ends_well`; with `refused`, every reader must refuse
/// the file (exit 2) with a line that names it.
fn every_reader_ends_with(bytes: &[u8], refused: Option<&str>) {
    let sb = Sandbox::new();
    let file = sb.dir.path().join("mutated.json");
    std::fs::write(&file, bytes).unwrap();
    for args in readers(&file, &sb) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = Instant::now();
        let o = sb.run(&args);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{args:?} ended with {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        if let Some(says) = refused {
            assert_eq!(code, Some(2), "{args:?} accepted a file with {says}");
            assert!(
                stderr_lines(&o)[0].contains(says),
                "{args:?}: {:?}",
                stderr_lines(&o)
            );
        }
        if code == Some(2) {
            // A refusal is one line naming what is wrong.
            assert_eq!(
                stderr_lines(&o).len(),
                1,
                "{args:?}: {:?}",
                stderr_lines(&o)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn edited_fields_never_crash_a_reader(edits in proptest::collection::vec(edits(), 1..4)) {
        let mut doc = seed();
        for e in &edits {
            apply(&mut doc, e);
        }
        every_reader_ends_well(serde_json::to_string(&doc).unwrap().as_bytes());
    }

    #[test]
    fn damaged_bytes_never_crash_a_reader(cut in any::<u64>(), flips in proptest::collection::vec((any::<u64>(), any::<u8>()), 0..8)) {
        let mut bytes = serde_json::to_vec(&seed()).unwrap();
        for (at, b) in flips {
            let i = (at as usize) % bytes.len();
            bytes[i] ^= b;
        }
        let keep = (cut as usize) % (bytes.len() + 1);
        every_reader_ends_well(&bytes[..keep.max(bytes.len() / 2)]);
    }
}

fn sample(name: &str) -> Value {
    let path = format!("{}/results/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Values no figure, limit or duration can take.
const EXTREMES: [f64; 6] = [-1.0, 0.0, 1e-300, 1e300, 18446744073709551616.0, -1e300];

/// Every duration field and every figure, set to extremes, in every sample:
/// each reader refuses the file naming the field, at once (issue 22: these
/// panicked, aborted, or drew charts for minutes).
#[test]
fn extreme_durations_and_figures_are_refused_by_every_reader() {
    let fields: [(&str, &str, &str); 12] = [
        ("baseline", "/options/length/duration", "duration"),
        ("baseline", "/options/warmup_s", "duration"),
        ("baseline", "/options/timeout_s", "duration"),
        (
            "sample-run",
            "/floors/cache_line_rtt_ns/p50",
            "floors.cache_line_rtt_ns",
        ),
        (
            "sample-run",
            "/floors/memcpy_mib_per_s/0/1",
            "floors.memcpy_mib_per_s[0]",
        ),
        (
            "sample-rate",
            "/rows/0/schedule/achieved_per_s",
            "achieved_per_s",
        ),
        ("sample-rate", "/rows/0/offered_per_s", "offered_per_s"),
        (
            "sample-run",
            "/calibration/timer_overhead_ns",
            "timer_overhead_ns",
        ),
        ("sample-fan-in", "/rows/0/msgs_per_s", "msgs_per_s"),
        (
            "sample-fan-in",
            "/rows/0/one_way_ns/mean",
            "one_way_ns.mean",
        ),
        (
            "sample-run",
            "/rows/0/cpu_ns_per_msg/parent",
            "cpu_ns_per_msg.parent",
        ),
        ("sample-run", "/rows/0/elapsed_s", "elapsed_s"),
    ];
    for (file, path, says) in fields {
        for v in EXTREMES {
            // Zero, and so anything near it, is a value some fields may take.
            let zero_ok = ["cpu_ns_per_msg", "elapsed_s", "timer_overhead", "duration"]
                .iter()
                .any(|f| says.contains(f));
            if zero_ok && (v == 0.0 || v == 1e-300) {
                continue;
            }
            let mut doc = sample(file);
            let at = doc
                .pointer_mut(path)
                .unwrap_or_else(|| panic!("{file}{path}"));
            *at = serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
            every_reader_ends_with(serde_json::to_string(&doc).unwrap().as_bytes(), Some(says));
        }
    }
}

/// A row's figure at the widest range the contract accepts still reports
/// in bounded time, and error counters near 2^64 never add up to "ok".
#[test]
fn figures_at_the_edge_report_quickly_and_huge_error_counts_are_errors() {
    let mut doc = sample("sample-run");
    for (i, row) in doc["rows"].as_array_mut().unwrap().iter_mut().enumerate() {
        if row["pattern"] == "throughput" && row["status"] == "ok" {
            let v = if i % 2 == 0 { 1e-6 } else { 1e11 };
            row["msgs_per_s"] = Value::from(v);
            row["mib_per_s"] = Value::from(if i % 2 == 0 { 1e-9 } else { 1e9 });
            row["trials"] = Value::from(vec![v]);
        }
    }
    let first = &mut doc["rows"][0]["errors"];
    first["lost"] = Value::from(u64::MAX);
    first["duplicated"] = Value::from(1u64);
    every_reader_ends_well(serde_json::to_string(&doc).unwrap().as_bytes());
    let sb = Sandbox::new();
    let file = sb.dir.path().join("edge.json");
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let o = sb.run(&["export", "--format", "csv", file.to_str().unwrap()]);
    let csv = String::from_utf8_lossy(&o.stdout);
    let row = csv.lines().nth(1).unwrap();
    assert!(row.contains("18446744073709551615"), "{row}");
    assert!(
        row.contains("ERRORS lost 18446744073709551615 dup 1"),
        "an errored row reads ok: {row}"
    );
}

/// The figure a row shows must be the median of its trials: `compare`
/// judged by trials while the table showed a figure 2000× slower.
#[test]
fn a_figure_that_is_not_its_trials_median_is_refused() {
    let mut doc = sample("baseline");
    let row = &mut doc["rows"][0];
    // Without its histogram, a row's figure is checked against its trials
    // (with one, against the histogram: the test below).
    row.as_object_mut().unwrap().remove("histogram");
    let p50 = row["rtt_ns"]["p50"].as_u64().unwrap();
    for k in ["p50", "p90", "p99", "p999", "max"] {
        row["rtt_ns"][k] = Value::from(p50 * 2000);
    }
    every_reader_ends_with(
        serde_json::to_string(&doc).unwrap().as_bytes(),
        Some("median of its trials"),
    );
}

#[test]
fn a_figure_that_is_not_its_histogram_s_is_refused() {
    let mut doc = sample("baseline");
    let row = &mut doc["rows"][0];
    assert!(
        row.get("histogram").is_some(),
        "the baseline's rows carry histograms"
    );
    let p50 = row["rtt_ns"]["p50"].as_u64().unwrap();
    for k in ["p50", "p90", "p99", "p999", "max"] {
        row["rtt_ns"][k] = Value::from(p50 * 2000);
    }
    every_reader_ends_with(
        serde_json::to_string(&doc).unwrap().as_bytes(),
        Some("the figures are read from the histogram"),
    );
}
