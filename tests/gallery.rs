//! `ipcbench gallery`: a site from the result files of several machines
//! (the committed sample, a fresh quick run, the baseline, a file of
//! schema 1), each with its own report; bad files are named and left out;
//! a real browser loads the page cleanly at a desktop's and a phone's
//! width.

mod common;
use common::browser::*;
use common::*;

use std::path::{Path, PathBuf};

fn committed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(name)
}

/// A fresh quick run of two transports, with its limits measured.
fn fresh(sb: &Sandbox) -> PathBuf {
    sb.run_ok(&[
        "run",
        "-m",
        "pipe,uds-stream",
        "--patterns",
        "latency,throughput",
        "--sizes",
        "64,64KiB",
        "-n",
        "300",
        "--out",
        sb.out().to_str().unwrap(),
    ]);
    sb.out()
}

fn gallery(sb: &Sandbox, inputs: &[&Path], out: &Path) -> std::process::Output {
    let mut args = vec!["gallery".to_string()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--out".to_string(), out.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.run(&args)
}

#[test]
fn four_runs_make_a_gallery_with_their_reports_and_bad_files_named() {
    let sb = Sandbox::new();
    let fresh = fresh(&sb);
    let bad = sb.dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("notes.json"), "{\"hello\": 1}").unwrap();
    let mut broken: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fresh).unwrap()).unwrap();
    let latency = broken["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r.get("histogram").is_some())
        .unwrap();
    latency["histogram"] = "HISTFAAAAAAA".into();
    std::fs::write(bad.join("broken.json"), broken.to_string()).unwrap();
    // A file of schema 1, from an older ipcbench on another host.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed("sample-run.json")).unwrap())
            .unwrap();
    old["schema_version"] = 1.into();
    old["machine"]["hostname"] = "an-older-host".into();
    old["started_at"] = "2026-11-01T10:00:00Z".into();
    let old_path = sb.dir.path().join("old.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    let out = sb.dir.path().join("site");
    let o = gallery(
        &sb,
        &[
            &committed("sample-run.json"),
            &fresh,
            &committed("baseline.json"),
            &old_path,
            &bad,
        ],
        &out,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // One line each for the two bad files, naming the file and why.
    let left_out: Vec<&str> = err.lines().filter(|l| l.contains("left out")).collect();
    assert_eq!(left_out.len(), 2, "{err}");
    assert!(left_out
        .iter()
        .any(|l| l.contains("notes.json") && l.contains("schema_version")));
    assert!(left_out
        .iter()
        .any(|l| l.contains("broken.json") && l.contains("histogram")));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML errors: {:?}", doc.errors);
    for id in ["m1", "m2", "m3", "m4"] {
        assert!(out.join(id).join("index.html").exists(), "{id}'s report");
        assert!(
            html.contains(&format!("href=\"{id}/index.html\"")),
            "{id}'s link"
        );
    }
    assert!(!html.contains("m5/index.html"));
    assert!(html.contains("notes.json") && html.contains("broken.json"));
    // The fresh run's pipe round trip on one CPU, as measured and as a
    // multiple of that machine's context switch.
    let row = |table: &str| {
        let sel = scraper::Selector::parse(&format!("#{table}-table tbody tr")).unwrap();
        doc.select(&sel)
            .map(|r| r.text().collect::<Vec<_>>().join("|"))
            .find(|t| t.starts_with("pipe|latency|same|64 B|"))
            .unwrap()
    };
    assert!(row("measured").contains("µs"), "{}", row("measured"));
    assert!(row("multiples").contains('×'), "{}", row("multiples"));
    // A second gallery into the same folder replaces its own files.
    let again = gallery(&sb, &[&fresh], &out);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(out.join("m1").exists() && !out.join("m2").exists());
}

/// The committed sample, the baseline and a fresh run, at 1400 and 390
/// px: no console error, no sideways scroll, the machine table sorts, the
/// filter keeps what it should.
#[test]
fn a_gallery_of_three_files_from_three_kinds_of_run_loads_in_a_browser() {
    let sb = Sandbox::new();
    let fresh = fresh(&sb);
    let out = sb.dir.path().join("three");
    let o = gallery(
        &sb,
        &[
            &committed("sample-run.json"),
            &fresh,
            &committed("baseline.json"),
        ],
        &out,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let Some(chromium) = chromium() else { return };
    for width in [1400, 390] {
        let profile = sb.dir.path().join(format!("chromium-three-{width}"));
        let (_browser, tab, heard) = open_page(&chromium, &out.join("index.html"), width, &profile);
        fits(&tab, width, "gallery");
        let machines = ask(
            &tab,
            "JSON.stringify(document.querySelectorAll('#machine-table tbody tr').length)",
        );
        assert_eq!(machines, serde_json::json!(3));
        // Sorting by the context switch orders the runs by it.
        tab.evaluate(
            "document.querySelectorAll('#machine-table thead th')[3].click(); '\"\"'",
            false,
        )
        .unwrap();
        let keys = ask(&tab, "JSON.stringify([...document.querySelectorAll('#machine-table tbody tr')].map(r => r.cells[3].getAttribute('data-v')))");
        let numbers: Vec<f64> = keys
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k.as_str()?.parse().ok())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{keys}");
        let kept = ask(&tab, "const f = document.querySelector('input[data-table=measured-table]'); f.value = 'uds-stream throughput'; f.dispatchEvent(new Event('input')); JSON.stringify([...document.querySelectorAll('#measured-table tbody tr')].filter(r => !r.hidden).map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent))");
        let kept = kept.as_array().unwrap();
        assert!(kept.len() >= 2, "the filter kept {kept:?}");
        assert!(
            kept.iter().all(|k| k == "uds-stream throughput"),
            "{kept:?}"
        );
        let heard = heard.lock().unwrap();
        assert!(heard.is_empty(), "the page complained: {heard:?}");
    }
}

#[test]
fn a_gallery_of_no_readable_file_is_one_line_and_exit_2() {
    let sb = Sandbox::new();
    let junk = sb.dir.path().join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let out = sb.dir.path().join("none");
    let o = gallery(&sb, &[&junk, Path::new("/nonexistent/run.json")], &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("none of the 2 files"), "{err}");
    assert!(!out.exists());
    // A folder that is not ipcbench's is refused before anything is read.
    let theirs = sb.dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("mine.txt"), "keep").unwrap();
    let o = gallery(&sb, &[&committed("sample-run.json")], &theirs);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(theirs.join("mine.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn two_runs_are_told_apart_by_their_identity_not_their_times_and_host() {
    // Issue 35: a file with the same start, end and hostname as another,
    // but another CPU and other rows, was dropped as "the same run".
    let sb = Sandbox::new();
    let first = fresh(&sb);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    let id = doc["run_id"].as_str().expect("a run id").to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let dir = sb.dir.path();
    let write = |name: &str, doc: &serde_json::Value| {
        let p = dir.join(name);
        std::fs::write(&p, doc.to_string()).unwrap();
        p
    };
    // Another machine's run that started and ended in the same seconds.
    let mut other = doc.clone();
    other["run_id"] = "0b3f3c52-1d6c-4c7e-9a51-3d2c6f0e9a11".into();
    other["machine"]["cpu_model"] = "Another CPU".into();
    other["rows"].as_array_mut().unwrap().truncate(2);
    let other = write("other.json", &other);
    // A copy is the same run; two files from before ids differ by content.
    let copy = write("copy.json", &doc);
    let mut old_a = doc.clone();
    old_a.as_object_mut().unwrap().remove("run_id");
    let mut old_b = old_a.clone();
    old_b["rows"].as_array_mut().unwrap().truncate(1);
    let (old_a, old_b) = (write("old-a.json", &old_a), write("old-b.json", &old_b));
    let out = dir.join("site");
    let inputs = [&first, &other, &copy, &old_a, &old_b].map(PathBuf::as_path);
    let o = gallery(&sb, &inputs, &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let said = stderr_lines(&o);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("copy.json") && said[0].contains(&id),
        "{said:?}"
    );
    for m in ["m1", "m2", "m3", "m4"] {
        assert!(out.join(m).join("index.html").exists(), "{m}: {said:?}");
    }
    assert!(!out.join("m5").exists());
    // compare knows a run compared with itself.
    let o = sb.run(&["compare", first.to_str().unwrap(), copy.to_str().unwrap()]);
    let warned = String::from_utf8_lossy(&o.stderr);
    assert!(
        warned.contains(&format!("both files are the same run ({id})")),
        "{warned}"
    );
    let o = sb.run(&["compare", first.to_str().unwrap(), other.to_str().unwrap()]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("same run"));
}
