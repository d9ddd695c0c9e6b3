//! Result files turned into other formats, one file per format behind one
//! small trait (hyperfine's `Exporter` is the model). Nothing here
//! measures; everything here works from a result file alone.

pub mod bmf;
pub mod csv;
pub mod github_action_benchmark;
pub mod markdown;

use crate::results::ResultFile;

/// The formats `ipcbench export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Bencher Metric Format JSON
    Bmf,
    /// github-action-benchmark customSmallerIsBetter and customBiggerIsBetter JSON (two files in --out DIR)
    GithubActionBenchmark,
    /// The results table as Markdown
    Markdown,
    /// The results table as CSV, with the raw numbers after the readable columns
    Csv,
}

/// What a format makes of a result file: one text (a file, or standard
/// output), or named files for a folder.
pub enum Exported {
    Text(String),
    Files(Vec<(&'static str, String)>),
}

pub trait Exporter {
    /// The result file in this format.
    fn export(&self, result: &ResultFile) -> std::io::Result<Exported>;
    /// Whether it writes several files, and so needs a folder (`--out DIR`).
    fn writes_a_folder(&self) -> bool {
        false
    }
}

/// The exporter of `format`; the match is exhaustive, so a new format
/// cannot fall through to another's.
pub fn exporter(format: ExportFormat) -> &'static dyn Exporter {
    match format {
        ExportFormat::Bmf => &bmf::Bmf,
        ExportFormat::GithubActionBenchmark => &github_action_benchmark::GithubActionBenchmark,
        ExportFormat::Markdown => &markdown::Markdown,
        ExportFormat::Csv => &csv::Csv,
    }
}

/// JSON as the exports write it: pretty, with a final newline.
fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value serialises") + "\n"
}
