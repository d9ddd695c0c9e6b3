//! A report made from a small real run: the page parses, every image it
//! references is a real PNG, every transport is on it; and a real browser
//! loads it cleanly.

mod common;
use common::browser::*;
use common::*;

use std::path::{Path, PathBuf};

const MECHANISMS: [&str; 4] = ["pipe", "uds-dgram", "semaphore", "socketpair"];

/// Runs a small suite; the run writes its report beside the result file.
fn small_run(sb: &Sandbox) -> (PathBuf, PathBuf) {
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        &MECHANISMS.join(","),
        "--sizes",
        "64,4KiB",
        "-n",
        "200",
        "--pin",
        "same,none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let index = out.with_extension("").join("index.html");
    assert!(
        stdout.contains(&format!("report written to {}", index.display())),
        "{stdout}"
    );
    (out, index)
}

/// Width and height of a PNG, after checking its signature.
fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = reader.info();
    (info.width, info.height)
}

fn check_page(index: &Path, expect: &[&str]) -> String {
    let html = std::fs::read_to_string(index).unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "HTML errors: {:?}", doc.errors);
    let imgs = scraper::Selector::parse("img").unwrap();
    let dir = index.parent().unwrap();
    let mut count = 0;
    for img in doc.select(&imgs) {
        let src = img.value().attr("src").unwrap();
        let (w, h) = png_size(&dir.join(src));
        assert!(
            (400..=4000).contains(&w) && (150..=4000).contains(&h),
            "{src}: {w}x{h}"
        );
        assert!(
            dir.join(src.replace(".png", ".svg")).exists(),
            "{src} has no SVG"
        );
        count += 1;
    }
    assert!(count >= 6, "only {count} charts");
    let text: String = doc.root_element().text().collect();
    for m in expect {
        assert!(text.contains(m), "{m} is not on the page");
    }
    for heading in [
        "Summary",
        "Machine and options",
        "Charts",
        "All results",
        "Unsupported and failed cases",
    ] {
        assert!(text.contains(heading), "no {heading}");
    }
    assert!(dir.join("result.json").exists());
    html
}

#[test]
fn a_run_writes_a_report_that_parses_with_real_charts() {
    let sb = Sandbox::new();
    let (_, index) = small_run(&sb);
    let html = check_page(&index, &MECHANISMS);
    // Error counters are shown even when they are all zero.
    assert!(html.contains("<th>lost</th>") && html.contains("<td data-v=\"0\">0</td>"));
    // The claimed table's transports and the others are charted apart.
    assert!(html.contains("latency-distribution-same-claimed.png"));
    assert!(html.contains("latency-distribution-same-kernel.png"));
    assert!(html.contains("summary-rtt-same-claimed.png"));
    // The summary names the fastest at each size.
    assert!(
        html.contains("64 B, round trip</b>: fastest"),
        "no summary sentence"
    );
    sb.assert_nothing_left();
}

#[test]
fn report_compares_two_runs() {
    let sb = Sandbox::new();
    let (result, _) = small_run(&sb);
    let dir = sb.dir.path().join("compared");
    let o = sb.run(&[
        "report",
        result.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--compare",
        result.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = check_page(&dir.join("index.html"), &MECHANISMS);
    assert!(
        html.contains("Compared with the baseline") && html.contains(">+0.0%</td>"),
        "a run compared with itself has not changed"
    );
    assert!(html.contains("compare-ratio.png") && html.contains(">unchanged</td>"));
    assert!(!html.contains(">REGRESSION</td>") && !html.contains(">noisy</td>"));
    assert!(dir.join("baseline.json").exists());
}

#[test]
fn bad_result_files_get_one_line_and_exit_2() {
    let sb = Sandbox::new();
    let dir = sb.dir.path();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases = [
        (
            dir.join("missing.json").to_str().unwrap().to_string(),
            "cannot read",
        ),
        (
            write("truncated.json", "{\"schema_version\": 1, \"rows\": ["),
            "not a JSON result file",
        ),
        (write("text.json", "hello"), "not a JSON result file"),
        (
            write("old.json", "{\"schema_version\": 99}"),
            "schema_version 99",
        ),
        (
            write("shape.json", "{\"schema_version\": 1, \"rows\": 3}"),
            "does not match",
        ),
    ];
    for (path, says) in cases {
        let o = sb.run(&["report", &path]);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{path}: {lines:?}");
        assert_eq!(lines.len(), 1, "{path}: {lines:?}");
        assert!(
            lines[0].contains(says) && lines[0].contains(&path),
            "{path}: {}",
            lines[0]
        );
    }
}

/// The screenshots of the browser test, kept for a person to look at.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The results table's sort keys of one column, in the order shown.
const COLUMN: &str = "(c) => JSON.stringify([...document.querySelectorAll('#results-table tbody tr')].filter(r => !r.hidden).map(r => r.cells[c].getAttribute('data-v')))";

fn sorted_keys(keys: &[serde_json::Value], ascending: bool) -> bool {
    let numbers: Vec<f64> = keys
        .iter()
        .filter_map(|k| k.as_str()?.parse().ok())
        .collect();
    let empties_last = keys
        .iter()
        .skip(numbers.len())
        .all(|k| k.as_str() == Some(""));
    empties_last
        && numbers.windows(2).all(|w| {
            if ascending {
                w[0] <= w[1]
            } else {
                w[0] >= w[1]
            }
        })
}

/// Opens the page at `width` CSS pixels and checks it as a reader would.
fn look_at(chromium: &Path, index: &Path, width: u32, profile: &Path) {
    let (_browser, tab, heard) = open_page(chromium, index, width, profile);
    let name = if width >= 1000 { "desktop" } else { "mobile" };
    let shot = |what: &str| {
        let png = tab
            .capture_screenshot(
                headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption::Png,
                None,
                None,
                true,
            )
            .unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}-{what}.png")), png).unwrap();
    };
    shot("top");
    let viewport = ask(&tab, "JSON.stringify(document.documentElement.clientWidth)");
    assert_eq!(
        viewport.as_u64(),
        Some(width as u64),
        "the window is not {width} px wide"
    );
    let broken = ask(&tab, "JSON.stringify([...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')))");
    assert_eq!(
        broken,
        serde_json::json!([]),
        "{name}: images that did not load"
    );
    let images = ask(&tab, "JSON.stringify(document.images.length)");
    assert!(
        images.as_u64().unwrap() >= 10,
        "{name}: only {images} images"
    );
    fits(&tab, width, name);
    // Sort by the first RTT p50 column, both ways.
    let before = ask(&tab, &format!("({COLUMN})(2)"));
    let click =
        "document.querySelectorAll('#results-table thead tr:last-child th')[2].click(); '\"\"'";
    tab.evaluate(click, false).unwrap();
    let ascending = ask(&tab, &format!("({COLUMN})(2)"));
    assert!(
        sorted_keys(ascending.as_array().unwrap(), true),
        "{name}: not ascending: {ascending}"
    );
    assert_ne!(
        before, ascending,
        "{name}: sorting did not reorder the rows"
    );
    tab.evaluate(click, false).unwrap();
    let descending = ask(&tab, &format!("({COLUMN})(2)"));
    assert!(
        sorted_keys(descending.as_array().unwrap(), false),
        "{name}: not descending: {descending}"
    );
    // The filter keeps the rows that hold every word.
    let kept = ask(&tab, "const f = document.querySelector('input[data-table=results-table]'); f.value = 'pipe 4 KiB'; f.dispatchEvent(new Event('input')); JSON.stringify([...document.querySelectorAll('#results-table tbody tr')].filter(r => !r.hidden).map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent))");
    assert_eq!(
        kept,
        serde_json::json!(["pipe 4 KiB"]),
        "{name}: the filter"
    );
    tab.evaluate(
        "document.getElementById('results').scrollIntoView(); '\"\"'",
        false,
    )
    .unwrap();
    shot("results");
    let heard = heard.lock().unwrap();
    assert!(heard.is_empty(), "{name}: the page complained: {heard:?}");
}

#[test]
fn the_report_reads_well_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let sb = Sandbox::new();
    let (result, _) = small_run(&sb);
    let dir = sb.dir.path().join("compared");
    let o = sb.run(&[
        "report",
        result.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--compare",
        result.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = dir.join("index.html");
    for width in [1400, 390] {
        let profile = sb.dir.path().join(format!("chromium-{width}"));
        look_at(&chromium, &index, width, &profile);
    }
}

/// The loaded workloads' table sorts by load and filters, and the page
/// fits, on a desktop and a phone.
#[test]
fn the_load_table_reads_well_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let sb = Sandbox::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = sb.dir.path().join("fan-in");
    let sample = root.join("results/sample-fan-in.json");
    let o = sb.run(&[
        "report",
        sample.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = "[...document.querySelectorAll('#load-table tbody tr')].filter(r => !r.hidden)";
    for width in [1400, 390] {
        let profile = sb.dir.path().join(format!("chromium-load-{width}"));
        let (_browser, tab, heard) = open_page(&chromium, &dir.join("index.html"), width, &profile);
        fits(&tab, width, "load");
        let loads = format!("JSON.stringify({rows}.map(r => r.cells[3].getAttribute('data-v')))");
        tab.evaluate(
            "document.querySelectorAll('#load-table thead tr:last-child th')[3].click(); '\"\"'",
            false,
        )
        .unwrap();
        let ascending = ask(&tab, &loads);
        assert!(
            sorted_keys(ascending.as_array().unwrap(), true),
            "not ascending: {ascending}"
        );
        let kept = ask(&tab, &format!("const f = document.querySelector('input[data-table=load-table]'); f.value = 'sysv-mq 4 KiB'; f.dispatchEvent(new Event('input')); JSON.stringify({rows}.map(r => r.cells[0].textContent + ' ' + r.cells[2].textContent + ' ' + r.cells[3].textContent))"));
        assert_eq!(
            kept,
            serde_json::json!([
                "sysv-mq 4 KiB 1 sender",
                "sysv-mq 4 KiB 2 senders",
                "sysv-mq 4 KiB 4 senders",
                "sysv-mq 4 KiB 8 senders"
            ]),
            "the filter"
        );
        let heard = heard.lock().unwrap();
        assert!(heard.is_empty(), "the page complained: {heard:?}");
    }
}

#[test]
fn csv_export_keeps_reasons_with_commas_whole() {
    let sb = Sandbox::new();
    let (result, _) = small_run(&sb);
    // A reason as the kernel gives them: commas, quotes, a new line.
    let reason = "message too long: msg_max is 10, \"msgsize_max\" 8192\n(raise it)";
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let row = &mut file["rows"][0];
    row["status"] = "unsupported".into();
    row["reason"] = reason.into();
    std::fs::write(&result, serde_json::to_string(&file).unwrap()).unwrap();
    let o = sb.run(&["export", result.to_str().unwrap(), "--format", "csv"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), rows(&file).len(), "one line per row");
    // The Markdown table's columns come first, in its order.
    for (i, name) in [
        "mechanism",
        "pattern",
        "placement",
        "size",
        "copies",
        "load",
        "RTT p50",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(&header[i], *name);
    }
    let first = &records[0];
    assert_eq!(&first[column("reason")], reason);
    assert_eq!(&first[column("status_raw")], "unsupported");
    assert!(first[column("status")].starts_with("unsupported ("));
    // Raw numbers: an empty field where the file has no figure, never 0.
    for (record, row) in records.iter().zip(rows(&file)).skip(1) {
        assert_eq!(record[column("size_bytes")], row["size_bytes"].to_string());
        match row["rtt_ns"]["p50"].as_u64() {
            Some(p50) => assert_eq!(record[column("rtt_p50_ns")], p50.to_string()),
            None => assert_eq!(&record[column("rtt_p50_ns")], ""),
        }
    }
}
