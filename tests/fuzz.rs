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
        vec!["report".into(), f, "--out".into(), out],
    ]
}

fn every_reader_ends_well(bytes: &[u8]) {
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
