//! `ipcbench report`: a self-contained folder (index.html, PNG and SVG
//! charts, a copy of the result file) made from a result file alone, so a
//! run from another machine can be reported anywhere.

mod charts;
mod html;

pub use charts::register_font;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::output::{bytes, ns, rate};
use crate::results::{Pattern, Placement, ResultFile, Row, Status};
use charts::{LineChart, Series};

/// A chart as the page shows it.
pub struct Figure {
    pub stem: String,
    pub caption: String,
}

/// Writes the report for `result` (read from `source`) into `out`; with
/// `compare`, a second run is set beside it. Returns the page's path.
///
/// The report is made in a hidden folder beside `out` and moved into place
/// only when whole, replacing an earlier report there: a full disk or a
/// Ctrl-C leaves the old report or none, never half of one. The caller has
/// checked `out` (`options::check_output_dir`).
pub fn write(
    result: &ResultFile,
    source: &Path,
    out: &Path,
    compare: Option<(&ResultFile, &Path)>,
) -> Result<PathBuf, String> {
    let parent = crate::export::json::parent_dir(out);
    let building = tempfile::Builder::new()
        .prefix(".ipcbench-report-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot make a folder in '{}': {e}", parent.display()))?;
    fill(result, source, building.path(), compare)?;
    if crate::sys::interrupt::interrupted() {
        return Err("interrupted; no report was written".into());
    }
    let mode = 0o777 & !crate::sys::umask();
    std::fs::set_permissions(
        building.path(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .map_err(|e| format!("setting the report folder's mode: {e}"))?;
    // An earlier report moves aside first; rename cannot replace a folder
    // that has files in it.
    let old = tempfile::Builder::new()
        .prefix(".ipcbench-old-report-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot make a folder in '{}': {e}", parent.display()))?;
    if out.exists() {
        std::fs::rename(out, old.path().join("report"))
            .map_err(|e| format!("moving the earlier report '{}' aside: {e}", out.display()))?;
    }
    std::fs::rename(building.keep(), out)
        .map_err(|e| format!("moving the report into '{}': {e}", out.display()))?;
    Ok(out.join("index.html"))
}

/// Writes every file of the report into `out`.
fn fill(
    result: &ResultFile,
    source: &Path,
    out: &Path,
    compare: Option<(&ResultFile, &Path)>,
) -> Result<(), String> {
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, out.join(name))
            .map(drop)
            .map_err(|e| format!("copying '{}' into the report: {e}", from.display()))
    };
    copy(source, "result.json")?;
    if let Some((_, path)) = compare {
        copy(path, "baseline.json")?;
    }
    let figures = draw_charts(result, out)?;
    let page = html::page(result, &figures, compare.map(|c| c.0));
    let index = out.join("index.html");
    std::fs::write(&index, page).map_err(|e| format!("writing '{}': {e}", index.display()))
}

/// A transport's colour index: its place in the list of all transports, so
/// it is the same in every chart of every report.
pub fn color_index(mechanism: &str) -> usize {
    let names = crate::transport::names();
    names
        .iter()
        .position(|n| *n == mechanism)
        .unwrap_or(names.len() + mechanism.len())
}

fn placement_name(p: Placement) -> &'static str {
    match p {
        Placement::Same => "same",
        Placement::Cross => "cross",
        Placement::None => "none",
    }
}

fn placement_words(p: Placement) -> &'static str {
    match p {
        Placement::Same => "both processes on one CPU",
        Placement::Cross => "processes on two CPUs",
        Placement::None => "placed by the scheduler",
    }
}

fn mechanisms(rows: &[&Row]) -> Vec<String> {
    let mut seen = Vec::new();
    for r in rows {
        if !seen.contains(&r.mechanism) {
            seen.push(r.mechanism.clone());
        }
    }
    seen
}

fn series_by_mechanism(rows: &[&Row], point: impl Fn(&Row) -> Option<(f64, f64)>) -> Vec<Series> {
    mechanisms(rows)
        .into_iter()
        .filter_map(|m| {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.mechanism == m)
                .filter_map(|r| point(r))
                .collect();
            (!points.is_empty()).then(|| Series {
                color: charts::color(color_index(&m)),
                name: m,
                points,
            })
        })
        .collect()
}

fn size_label(x: &f64) -> String {
    bytes(x.round() as u64)
}

fn ns_label(y: &f64) -> String {
    ns(*y)
}

fn plain_label(y: &f64) -> String {
    if *y >= 1e6 {
        format!("{:.0}M", y / 1e6)
    } else if *y >= 1e3 {
        format!("{:.0}k", y / 1e3)
    } else {
        format!("{y:.0}")
    }
}

/// x = 1 / (1 - q): the tail gets the room (HdrHistogram's percentile plot).
fn percentile_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 99.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.3}%").trim_end_matches('0').to_string()
    }
}

/// Which percentile of a round-trip distribution a chart shows.
type RttPick = fn(&crate::results::Rtt) -> u64;
/// Which throughput figure of a row a chart shows.
type RowValue = fn(&Row) -> Option<f64>;

fn draw_charts(result: &ResultFile, out: &Path) -> Result<Vec<Figure>, String> {
    let ok: Vec<&Row> = result
        .rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    let placements: BTreeSet<&str> = ok.iter().map(|r| placement_name(r.placement)).collect();
    let mut figures = Vec::new();
    // Every chart is written (PNG and SVG) and then shown with its caption.
    let mut emit = |chart: LineChart, stem: String, caption: String| {
        // A chart takes a fraction of a second: Ctrl-C is honoured between them.
        if crate::sys::interrupt::interrupted() {
            return Err("interrupted; no report was written".to_string());
        }
        charts::write(&chart, out, &stem)?;
        figures.push(Figure { stem, caption });
        Ok::<(), String>(())
    };
    for placement in [Placement::Same, Placement::Cross, Placement::None] {
        let name = placement_name(placement);
        if !placements.contains(name) {
            continue;
        }
        let rows: Vec<&Row> = ok
            .iter()
            .copied()
            .filter(|r| r.placement == placement)
            .collect();
        let latency: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| r.pattern == Pattern::Latency && r.size_bytes > 0)
            .collect();
        let tails: [(&str, &str, RttPick); 3] = [
            ("p50", "median", |r| r.p50),
            ("p99", "99th percentile", |r| r.p99),
            ("p999", "99.9th percentile", |r| r.p999),
        ];
        for (key, words, pick) in tails {
            let series = series_by_mechanism(&latency, |r| {
                r.rtt_ns
                    .as_ref()
                    .map(|t| (r.size_bytes as f64, pick(t) as f64))
            });
            if series.is_empty() {
                continue;
            }
            let stem = format!("latency-{key}-{name}");
            emit(
                LineChart {
                    title: format!(
                        "Round-trip latency, {words} ({})",
                        placement_words(placement)
                    ),
                    x_label: "message size (bytes, log)".into(),
                    y_label: format!("RTT {key} (log)"),
                    series,
                    x_fmt: size_label,
                    y_fmt: ns_label,
                },
                stem,
                format!("Round-trip time ({words}) against message size, {}. One-way latency is about half.", placement_words(placement)),
            )?;
        }
        // The distribution at the smallest size, with the signal-only rows.
        let smallest = latency.iter().map(|r| r.size_bytes).min();
        let at_smallest: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| {
                r.pattern == Pattern::Latency
                    && (Some(r.size_bytes) == smallest || r.size_bytes == 0)
            })
            .collect();
        let mut series = Vec::new();
        for m in mechanisms(&at_smallest) {
            if let Some(r) = at_smallest.iter().find(|r| r.mechanism == m) {
                let points: Vec<(f64, f64)> = r
                    .rtt_curve_ns
                    .iter()
                    .filter(|(q, v)| *q < 1.0 && *v > 0)
                    .map(|&(q, v)| (1.0 / (1.0 - q), v as f64))
                    .collect();
                if !points.is_empty() {
                    series.push(Series {
                        name: m.clone(),
                        color: charts::color(color_index(&m)),
                        points,
                    });
                }
            }
        }
        if !series.is_empty() {
            let size = smallest.map_or("no".to_string(), bytes);
            let stem = format!("latency-distribution-{name}");
            emit(
                LineChart {
                    title: format!(
                        "Round-trip latency distribution, {size} messages ({})",
                        placement_words(placement)
                    ),
                    x_label: "percentile (log of 1/(1-q))".into(),
                    y_label: "RTT (log)".into(),
                    series,
                    x_fmt: percentile_label,
                    y_fmt: ns_label,
                },
                stem,
                format!("Round-trip time at each percentile, {size} messages (semaphore: no payload), {}. Curves to the right are the tail.", placement_words(placement)),
            )?;
        }
        let throughput: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| r.pattern == Pattern::Throughput && r.size_bytes > 0)
            .collect();
        let per: [(&str, &str, RowValue); 2] = [
            ("mib", "MiB/s", |r| r.mib_per_s),
            ("msgs", "messages/s", |r| r.msgs_per_s),
        ];
        for (key, unit, pick) in per {
            let series =
                series_by_mechanism(&throughput, |r| pick(r).map(|v| (r.size_bytes as f64, v)));
            if series.is_empty() {
                continue;
            }
            let stem = format!("throughput-{key}-{name}");
            emit(
                LineChart {
                    title: format!(
                        "One-way throughput, {unit} ({})",
                        placement_words(placement)
                    ),
                    x_label: "message size (bytes, log)".into(),
                    y_label: format!("{unit} (log)"),
                    series,
                    x_fmt: size_label,
                    y_fmt: plain_label,
                },
                stem,
                format!(
                    "One-way throughput in {unit} against message size, {} (MiB = 2^20 bytes).",
                    placement_words(placement)
                ),
            )?;
        }
    }
    Ok(figures)
}

/// Headline numbers of a row for tables: (RTT p50 or throughput).
pub fn headline(r: &Row) -> String {
    match r.pattern {
        Pattern::Latency => r.rtt_ns.as_ref().map_or("–".into(), |t| ns(t.p50 as f64)),
        Pattern::Throughput => r.msgs_per_s.map_or("–".into(), rate),
    }
}
