//! The safety net of refactors (issue 23): every export format, the
//! Markdown table and the report's page, made from the committed samples,
//! must come out byte for byte as they did. A change that means to alter
//! them is reviewed with `cargo insta review` (or INSTA_UPDATE=always).

mod common;
use common::*;

const SAMPLES: [&str; 7] = [
    "sample-run",
    "sample-rate",
    "sample-fan-in",
    "baseline",
    "sample-axes",
    "sample-fan-out",
    "sample-groups",
];

fn sample(name: &str) -> String {
    format!("{}/results/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

fn stdout_of(sb: &Sandbox, args: &[&str]) -> String {
    let o = sb.run(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn every_export_format_is_unchanged() {
    let sb = Sandbox::new();
    for name in SAMPLES {
        let file = sample(name);
        for format in ["markdown", "csv", "bmf"] {
            let text = stdout_of(&sb, &["export", &file, "--format", format]);
            insta::assert_snapshot!(format!("{name}.{format}"), text);
        }
        let dir = sb.dir.path().join(format!("gab-{name}"));
        stdout_of(
            &sb,
            &[
                "export",
                &file,
                "--format",
                "github-action-benchmark",
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        for side in ["smaller-is-better", "bigger-is-better"] {
            let text = std::fs::read_to_string(dir.join(format!("{side}.json"))).unwrap();
            insta::assert_snapshot!(format!("{name}.gab-{side}"), text);
        }
    }
}

#[test]
fn the_report_page_is_unchanged() {
    let sb = Sandbox::new();
    for name in SAMPLES {
        let dir = sb.dir.path().join(format!("report-{name}"));
        stdout_of(
            &sb,
            &["report", &sample(name), "--out", dir.to_str().unwrap()],
        );
        let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
        insta::assert_snapshot!(format!("{name}.index.html"), page);
    }
    // Beside another run: the comparison table and its sentences.
    let dir = sb.dir.path().join("report-compared");
    stdout_of(
        &sb,
        &[
            "report",
            &sample("sample-run"),
            "--out",
            dir.to_str().unwrap(),
            "--compare",
            &sample("baseline"),
        ],
    );
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    insta::assert_snapshot!("sample-run-vs-baseline.index.html", page);
}

#[test]
fn compare_s_table_is_unchanged() {
    let sb = Sandbox::new();
    let o = sb.run(&[
        "compare",
        &sample("baseline"),
        &sample("sample-run"),
        "--allow-missing",
    ]);
    insta::assert_snapshot!(
        "baseline-vs-sample-run.compare",
        String::from_utf8(o.stdout).unwrap()
    );
}
