//! Issue 36: every case has exactly one name in every place that names
//! one (BMF, github-action-benchmark, a CSV line, `compare`, the report),
//! and no two cases share any. Checked on every committed sample and on a
//! fresh run along every axis at once: pairs of CPUs, ways of waiting,
//! isolation, offered rates and senders.

mod common;
use common::*;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn committed() -> Vec<PathBuf> {
    [
        "sample-run",
        "sample-rate",
        "sample-fan-in",
        "baseline",
        "sample-axes",
        "sample-fan-out",
        "sample-groups",
    ]
    .iter()
    .map(|n| Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("results/{n}.json")))
    .collect()
}

/// A fresh run along every axis.
fn every_axis(sb: &Sandbox) -> PathBuf {
    let out = sb.dir.path().join("every-axis.json");
    let args = [
        "run",
        "-m",
        "pipe,tcp",
        "-s",
        "64",
        "--patterns",
        "latency,throughput,rate,fan-in,fan-out,groups",
        "--waits",
        "block,spin",
        "--isolation",
        "none,same-pod",
        "--pairs",
        "all",
        "--rates",
        "1k",
        "--senders",
        "1,2",
        "--subscribers",
        "1,2",
        "--groups",
        "1,2",
        "--group-size",
        "2",
        "--loops",
        "20",
        "-n",
        "100",
        "--out",
    ];
    let o = sb.run(&[&args[..], &[out.to_str().unwrap()]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The committed sample's blocking rows alone: isolation is then the only
/// axis that qualifies a label (the report once relabelled only for waits).
fn isolated_but_blocking(sb: &Sandbox) -> PathBuf {
    let sample = &committed()[4];
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
    let blocking: Vec<Value> = rows(&doc)
        .iter()
        .filter(|r| r.get("wait").is_none_or(|w| w == "block"))
        .cloned()
        .collect();
    doc["rows"] = Value::Array(blocking);
    doc["options"]["waits"] = serde_json::json!(["block"]);
    let out = sb.dir.path().join("isolated-but-blocking.json");
    std::fs::write(&out, doc.to_string()).unwrap();
    out
}

fn stdout(sb: &Sandbox, args: &[&str]) -> String {
    let o = sb.run(args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{args:?}: {o:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// Asserts that `names` holds `expected` names, all different.
fn one_each(what: &str, file: &Path, names: Vec<String>, expected: usize) {
    let distinct: HashSet<&String> = names.iter().collect();
    assert_eq!(names.len(), expected, "{what} of {}", file.display());
    assert_eq!(
        distinct.len(),
        names.len(),
        "{what} of {}: shared names",
        file.display()
    );
}

#[test]
fn every_case_has_one_name_everywhere_and_no_two_share_one() {
    let sb = Sandbox::new();
    let mut files = committed();
    files.push(every_axis(&sb));
    files.push(isolated_but_blocking(&sb));
    for file in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let f = file.to_str().unwrap();
        let all = rows(&doc).len();
        let ok = rows(&doc).iter().filter(|r| r["status"] == "ok").count();
        // BMF: a map, so a shared name would leave fewer keys than cases.
        let bmf: Value =
            serde_json::from_str(&stdout(&sb, &["export", f, "--format", "bmf"])).unwrap();
        let names = bmf.as_object().unwrap().keys().cloned().collect();
        one_each("BMF", file, names, ok);
        // github-action-benchmark: one entry per case and figure.
        let dir = sb.dir.path().join(format!(
            "gab-{}",
            file.file_stem().unwrap().to_string_lossy()
        ));
        stdout(
            &sb,
            &[
                "export",
                f,
                "--format",
                "github-action-benchmark",
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        for side in ["smaller-is-better", "bigger-is-better"] {
            let gab: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{side}.json"))).unwrap(),
            )
            .unwrap();
            let names: Vec<String> = gab
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect();
            let n = names.len();
            one_each(side, file, names, n);
        }
        // CSV: one line per case, told apart by the case's own columns.
        let csv = stdout(&sb, &["export", f, "--format", "csv"]);
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header = reader.headers().unwrap().clone();
        // The human columns that name a case, then every axis's own.
        let axes: Vec<&str> = ["pattern", "placement"]
            .into_iter()
            .chain(ipcbench::results::case::columns())
            .collect();
        let at: Vec<usize> = axes
            .iter()
            .map(|a| {
                header
                    .iter()
                    .position(|h| h == *a)
                    .unwrap_or_else(|| panic!("no {a} column"))
            })
            .collect();
        let lines: Vec<String> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                at.iter()
                    .map(|&i| r[i].to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        one_each("CSV", file, lines, all);
        // compare: against a run of none, every case is named once.
        let mut empty = doc.clone();
        empty["rows"] = Value::Array(vec![]);
        empty.as_object_mut().unwrap().remove("run_id");
        let none = sb.dir.path().join("none.json");
        std::fs::write(&none, empty.to_string()).unwrap();
        let said = stdout(
            &sb,
            &["compare", none.to_str().unwrap(), f, "--allow-missing"],
        );
        let names = said
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(str::to_string)
            .collect();
        one_each("compare", file, names, ok);
        report_labels_apart(&sb, file);
    }
}

/// The report's table of results has one row per transport as labelled
/// and size: two cases of one transport and size that differ on another
/// axis (wait, isolation) must not share one.
fn report_labels_apart(sb: &Sandbox, file: &Path) {
    let dir = sb.dir.path().join("report");
    let o = sb.run(&[
        "report",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let page =
        scraper::Html::parse_document(&std::fs::read_to_string(dir.join("index.html")).unwrap());
    let cell = scraper::Selector::parse("td").unwrap();
    // Each table's rows by the cells that name them: the results table's
    // transport and pattern; the load table's transport, pattern, size and
    // load (every placement side by side).
    let keys_of = |table: &str, cells: usize| -> Vec<String> {
        let row = scraper::Selector::parse(&format!("#{table} tbody tr")).unwrap();
        page.select(&row)
            .map(|tr| {
                tr.select(&cell)
                    .take(cells)
                    .map(|td| td.text().collect::<String>())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let mut keys = Vec::new();
    for (table, cells) in [("results-table", 2), ("load-table", 4)] {
        let these = keys_of(table, cells);
        let n = these.len();
        one_each(table, file, these.clone(), n);
        keys.extend(these);
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let qualified = rows(&doc).iter().any(|r| {
        r["wait"].as_str().is_some_and(|w| w != "block")
            || r["isolation"].as_str().is_some_and(|i| i != "none")
    });
    if qualified {
        assert!(
            keys.iter().any(|k| k.contains(" (")),
            "{}: no qualified label: {keys:?}",
            file.display()
        );
    }
}
