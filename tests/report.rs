//! A report made from a small real run: the page parses, every image it
//! references is a real PNG, every transport is on it; and a real browser
//! loads it cleanly.

mod common;
use common::*;

use std::path::{Path, PathBuf};

const MECHANISMS: [&str; 3] = ["pipe", "uds-dgram", "semaphore"];

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
            (400..=4000).contains(&w) && (300..=4000).contains(&h),
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
    assert!(html.contains("<th>lost</th>") && html.contains("<td>0</td>"));
    assert!(html.contains("latency-distribution-same.png"));
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
        html.contains("Compared with the baseline") && html.contains("<td>1.00</td>"),
        "a run compared with itself has ratio 1"
    );
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

#[test]
fn the_report_loads_in_a_real_browser() {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium; .ci/run does)");
        return;
    };
    let sb = Sandbox::new();
    let (_, index) = small_run(&sb);
    let profile = sb.dir.path().join("chromium-profile");
    let shot = sb.dir.path().join("screenshot.png");
    let o = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", index.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    // The page has no script: any console message is a load problem.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console: {console:?}");
    // Not blank: a rendered page has many distinct colours.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let pixels = &buf[..frame.buffer_size()];
    let step = frame.color_type.samples();
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(step).step_by(7).collect();
    assert!(
        distinct.len() > 50,
        "the screenshot looks blank: {} colours",
        distinct.len()
    );
}
