//! Every chart of the report, drawn from the result file: which rows go
//! into which chart, and what its caption says.

use std::path::Path;

use super::charts::{self, Axis, Bar, BarChart, Chart, DotChart, LineChart, Look, Series};
use super::{at_smallest_size, placement_words, Figure, Group, Report};
use crate::compare::Verdict;
use crate::results::format::{short_count, short_ns, size_label};
use crate::results::{Pattern, Placement, ResultFile, Row};

/// The charts, by where the page shows them.
pub struct Drawn {
    /// Per placement: the ranked bars of each group.
    pub summary: Vec<(Placement, Vec<Figure>)>,
    /// Per placement and group: the line charts.
    pub charts: Vec<(Placement, Group, Vec<Figure>)>,
    pub compare: Option<Figure>,
}

/// Writes a chart's files and gives its figure; Ctrl-C is honoured
/// between charts, each of which takes a fraction of a second.
fn emit(chart: Chart, out: &Path, stem: String, caption: String) -> Result<Figure, String> {
    if crate::sys::interrupt::interrupted() {
        return Err("interrupted; no report was written".to_string());
    }
    charts::write(&chart, out, &stem)?;
    Ok(Figure { stem, caption })
}

pub fn draw(report: &Report, out: &Path, baseline: Option<&ResultFile>) -> Result<Drawn, String> {
    let mut drawn = Drawn {
        summary: Vec::new(),
        charts: Vec::new(),
        compare: None,
    };
    for &placement in &report.placements {
        drawn
            .summary
            .push((placement, summary_bars(report, placement, out)?));
        for group in Group::ALL {
            let figures = line_charts(report, placement, group, out)?;
            if !figures.is_empty() {
                drawn.charts.push((placement, group, figures));
            }
        }
    }
    if let Some(b) = baseline {
        drawn.compare = ratio_chart(report, b, out)?;
    }
    Ok(drawn)
}

fn size_axis(report: &Report) -> Axis {
    Axis {
        label: "message size".into(),
        ticks: report.sizes.iter().map(|s| *s as f64).collect(),
        format: size_label,
    }
}

fn ns_axis(label: &str) -> Axis {
    Axis {
        label: label.into(),
        ticks: Vec::new(),
        format: short_ns,
    }
}

fn count_axis(label: &str) -> Axis {
    Axis {
        label: label.into(),
        ticks: Vec::new(),
        format: short_count,
    }
}

/// x = 1 / (1 - q): the tail gets the room (HdrHistogram's percentile plot).
fn percentile_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    // 99 %, 99.9 %, 99.99 %: as many decimals as the tick has nines past two.
    let digits = (x.log10().round() as i32 - 2).max(0) as usize;
    format!("{p:.digits$} %")
}

const PERCENTILE_TICKS: [f64; 5] = [2.0, 10.0, 100.0, 1000.0, 10000.0];

/// The rows of one group and placement.
fn rows_of<'a>(report: &'a Report, placement: Placement, group: Group) -> Vec<&'a Row> {
    report
        .ok(placement)
        .filter(|r| report.group_of(&r.mechanism) == group)
        .collect()
}

fn series(
    report: &Report,
    rows: &[&Row],
    point: impl Fn(&Row) -> Option<(f64, f64)>,
) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for r in rows {
        let Some(p) = point(r) else { continue };
        match out.iter_mut().find(|s| s.name == r.mechanism) {
            Some(s) => s.points.push(p),
            None => out.push(Series {
                name: r.mechanism.clone(),
                look: report.look(&r.mechanism),
                points: vec![p],
            }),
        }
    }
    for s in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Which percentile of a round trip a chart shows.
type RttPick = fn(&crate::results::Rtt) -> u64;
/// Which throughput figure of a row a chart shows.
type RowValue = fn(&Row) -> Option<f64>;

fn line_charts(
    report: &Report,
    placement: Placement,
    group: Group,
    out: &Path,
) -> Result<Vec<Figure>, String> {
    let rows = rows_of(report, placement, group);
    let at = Where {
        placement,
        group,
        out,
    };
    let mut figures = latency_lines(report, &rows, &at)?;
    figures.extend(distribution(report, &rows, &at)?);
    figures.extend(throughput_lines(report, &rows, &at)?);
    figures.extend(open_loop_lines(report, &rows, &at)?);
    figures.extend(fan_in_lines(report, &rows, &at)?);
    Ok(figures)
}

/// The hockey stick: latency from the due time against the offered rate,
/// at the smallest size measured so.
fn open_loop_lines(report: &Report, rows: &[&Row], at: &Where) -> Result<Vec<Figure>, String> {
    let Some((size, loaded)) = at_smallest_size(rows, Pattern::Rate) else {
        return Ok(Vec::new());
    };
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let tails: [(&str, &str, RttPick); 2] = [
        ("p99", "99th percentile", |r| r.p99),
        ("p50", "median", |r| r.p50),
    ];
    let mut figures = Vec::new();
    for (key, name, pick) in tails {
        let lines = series(report, &loaded, |r| {
            Some((r.offered_per_s?, pick(r.rtt_ns.as_ref()?) as f64))
        });
        if lines.is_empty() {
            continue;
        }
        let shown = crate::results::format::bytes(size);
        let chart = LineChart {
            title: format!("Under load, {name} from the due time, {shown}: {title}"),
            x: count_axis("offered messages/s (log)"),
            y: ns_axis(&format!("{key} from due time (log)")),
            series: lines,
        };
        figures.push(emit(
            Chart::Line(chart),
            at.out,
            format!("rate-{key}-{}-{}", at.placement, at.group.key()),
            format!("Open loop, {shown} messages (a semaphore carries none), {title}, {words}: the {name} of the time from when each message was due to its echo, against the offered rate. Where a line turns up, the transport saturates; past that the sender cannot keep its schedule (the load table says CANNOT SUSTAIN) and the latency is the queue it built."),
        )?);
    }
    Ok(figures)
}

/// Fan-in: the receiver's messages/s and the one-way median against the
/// number of senders, at the smallest size measured so.
fn fan_in_lines(report: &Report, rows: &[&Row], at: &Where) -> Result<Vec<Figure>, String> {
    let Some((size, loaded)) = at_smallest_size(rows, Pattern::FanIn) else {
        return Ok(Vec::new());
    };
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let shown = crate::results::format::bytes(size);
    let senders_axis = || Axis {
        label: "senders".into(),
        ticks: [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0].to_vec(),
        format: |v| format!("{v:.0}"),
    };
    let per: [(&str, &str, Axis, RowValue); 2] = [
        (
            "msgs",
            "messages/s received",
            count_axis("messages/s (log)"),
            |r| r.msgs_per_s,
        ),
        (
            "one-way-p50",
            "one-way median",
            ns_axis("one-way p50 (log)"),
            |r| r.one_way_ns.as_ref().map(|t| t.p50 as f64),
        ),
    ];
    let mut figures = Vec::new();
    for (key, name, y, pick) in per {
        let lines = series(report, &loaded, |r| Some((r.senders? as f64, pick(r)?)));
        if lines.is_empty() {
            continue;
        }
        let chart = LineChart {
            title: format!("Fan-in, {name}, {shown}: {title}"),
            x: senders_axis(),
            y,
            series: lines,
        };
        figures.push(emit(
            Chart::Line(chart),
            at.out,
            format!("fan-in-{key}-{}-{}", at.placement, at.group.key()),
            format!("Fan-in, {shown} messages, {title}, {words}: the {name} against the number of sender processes. Senders beyond the CPUs they run on take turns (the load table's notes say where)."),
        )?);
    }
    Ok(figures)
}

/// The rows of `pattern` that carry a message (not signal-only).
fn sized<'a>(rows: &[&'a Row], pattern: Pattern) -> Vec<&'a Row> {
    rows.iter()
        .copied()
        .filter(|r| r.pattern == pattern && r.size_bytes > 0)
        .collect()
}

/// Round trip p50 and p99 against message size.
fn latency_lines(report: &Report, rows: &[&Row], at: &Where) -> Result<Vec<Figure>, String> {
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let tails: [(&str, &str, RttPick); 2] = [
        ("p50", "median", |r| r.p50),
        ("p99", "99th percentile", |r| r.p99),
    ];
    let mut figures = Vec::new();
    for (key, name, pick) in tails {
        let lines = series(report, &sized(rows, Pattern::Latency), |r| {
            r.rtt_ns
                .as_ref()
                .map(|t| (r.size_bytes as f64, pick(t) as f64))
        });
        if lines.is_empty() {
            continue;
        }
        let chart = LineChart {
            title: format!("Round trip, {name}: {title}"),
            x: size_axis(report),
            y: ns_axis(&format!("RTT {key} (log)")),
            series: lines,
        };
        figures.push(emit(
            Chart::Line(chart),
            at.out,
            format!("latency-{key}-{}-{}", at.placement, at.group.key()),
            format!("Round-trip time ({name}) against message size, {title}, {words}. One-way latency is about half."),
        )?);
    }
    Ok(figures)
}

/// MiB/s and messages/s against message size.
fn throughput_lines(report: &Report, rows: &[&Row], at: &Where) -> Result<Vec<Figure>, String> {
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let per: [(&str, &str, RowValue); 2] = [
        ("mib", "MiB/s", |r| r.mib_per_s),
        ("msgs", "messages/s", |r| r.msgs_per_s),
    ];
    let mut figures = Vec::new();
    for (key, unit, pick) in per {
        let lines = series(report, &sized(rows, Pattern::Throughput), |r| {
            pick(r).map(|v| (r.size_bytes as f64, v))
        });
        if lines.is_empty() {
            continue;
        }
        let chart = LineChart {
            title: format!("One-way throughput, {unit}: {title}"),
            x: size_axis(report),
            y: count_axis(&format!("{unit} (log)")),
            series: lines,
        };
        figures.push(emit(
            Chart::Line(chart),
            at.out,
            format!("throughput-{key}-{}-{}", at.placement, at.group.key()),
            format!("One-way throughput in {unit} against message size, {title}, {words} (MiB = 2^20 bytes)."),
        )?);
    }
    Ok(figures)
}

/// The round-trip distribution at the smallest size (signal-only rows too).
fn distribution(report: &Report, rows: &[&Row], at: &Where) -> Result<Option<Figure>, String> {
    let (placement, group, out) = (at.placement, at.group, at.out);
    let Some(&smallest) = report.sizes.first() else {
        return Ok(None);
    };
    let at: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|r| {
            r.pattern == Pattern::Latency && (r.size_bytes == smallest || r.size_bytes == 0)
        })
        .collect();
    let mut lines = Vec::new();
    for r in at {
        let points: Vec<(f64, f64)> = r
            .rtt_curve_ns
            .iter()
            .filter(|(q, v)| *q < 1.0 && *v > 0)
            .map(|&(q, v)| (1.0 / (1.0 - q), v as f64))
            .collect();
        if !points.is_empty() {
            lines.push(Series {
                name: r.mechanism.clone(),
                look: report.look(&r.mechanism),
                points,
            });
        }
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let size = crate::results::format::bytes(smallest);
    let chart = LineChart {
        title: format!("Round-trip distribution, {size}: {}", group.title()),
        x: Axis {
            label: "percentile".into(),
            ticks: PERCENTILE_TICKS.to_vec(),
            format: percentile_label,
        },
        y: ns_axis("RTT (log)"),
        series: lines,
    };
    emit(
        Chart::Line(chart),
        out,
        format!("latency-distribution-{placement}-{}", group.key()),
        format!("Round-trip time at each percentile, {size} messages (a semaphore carries none), {}, {}. The right of the chart is the tail.", group.title(), placement_words(placement)),
    )
    .map(Some)
}

/// The size that most transports carry, largest first: the throughput
/// summary's size, so that it compares many transports at a size that
/// moves data.
pub fn throughput_size(report: &Report, placement: Placement) -> Option<u64> {
    let count = |size: u64| {
        report
            .ok(placement)
            .filter(|r| r.pattern == Pattern::Throughput && r.size_bytes == size)
            .count()
    };
    let most = report.sizes.iter().map(|s| count(*s)).max()?;
    report
        .sizes
        .iter()
        .rev()
        .find(|s| count(**s) * 3 >= most * 2)
        .copied()
}

fn summary_bars(report: &Report, placement: Placement, out: &Path) -> Result<Vec<Figure>, String> {
    let mut figures = Vec::new();
    for group in Group::ALL {
        let rows = rows_of(report, placement, group);
        let at = Where {
            placement,
            group,
            out,
        };
        if let Some(&size) = report.sizes.first() {
            figures.extend(rtt_bars(report, &rows, size, &at)?);
        }
        if let Some(size) = throughput_size(report, placement) {
            figures.extend(throughput_bars(report, &rows, size, &at)?);
        }
    }
    Ok(figures)
}

/// Which part of the page a chart is for, and where its files go.
struct Where<'a> {
    placement: Placement,
    group: Group,
    out: &'a Path,
}

/// The round trip of every transport at `size` (signal-only ones too),
/// fastest first, p99 as the whisker.
fn rtt_bars(
    report: &Report,
    rows: &[&Row],
    size: u64,
    at: &Where,
) -> Result<Option<Figure>, String> {
    let ns = crate::results::format::ns;
    let mut bars: Vec<Bar> = rows
        .iter()
        .filter(|r| r.pattern == Pattern::Latency && (r.size_bytes == size || r.size_bytes == 0))
        .filter_map(|r| {
            let t = r.rtt_ns.as_ref()?;
            let (p50, p99) = (t.p50 as f64, t.p99 as f64);
            Some(Bar {
                name: if r.size_bytes == 0 {
                    format!("{} (no payload)", r.mechanism)
                } else {
                    r.mechanism.clone()
                },
                look: report.look(&r.mechanism),
                value: p50,
                whisker: Some(p99),
                label: format!("{}  (p99 {})", ns(p50), ns(p99)),
            })
        })
        .collect();
    bars.sort_by(|a, b| a.value.total_cmp(&b.value));
    let size = crate::results::format::bytes(size);
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let caption = format!("Median round trip of a {size} message (bar) and its 99th percentile (whisker), {title}, {words}.");
    let chart = BarChart {
        title: format!("Round trip at {size}, fastest first: {title}"),
        x: ns_axis("RTT p50, whisker to p99 (log)"),
        bars,
    };
    summary_figure(chart, "rtt", at, caption)
}

/// MiB/s of every transport at `size`, fastest first.
fn throughput_bars(
    report: &Report,
    rows: &[&Row],
    size: u64,
    at: &Where,
) -> Result<Option<Figure>, String> {
    let mut bars: Vec<Bar> = rows
        .iter()
        .filter(|r| r.pattern == Pattern::Throughput && r.size_bytes == size)
        .filter_map(|r| {
            let mib = r.mib_per_s?;
            Some(Bar {
                name: r.mechanism.clone(),
                look: report.look(&r.mechanism),
                value: mib,
                whisker: None,
                label: format!("{mib:.0} MiB/s"),
            })
        })
        .collect();
    bars.sort_by(|a, b| b.value.total_cmp(&a.value));
    let size = crate::results::format::bytes(size);
    let (title, words) = (at.group.title(), placement_words(at.placement));
    let caption = format!("One-way throughput of {size} messages, {title}, {words}: the largest size that most transports carry.");
    let chart = BarChart {
        title: format!("Throughput at {size}, fastest first: {title}"),
        x: count_axis("MiB/s, one way (log)"),
        bars,
    };
    summary_figure(chart, "throughput", at, caption)
}

/// A ranked bar chart of the summary, or none when no transport ran.
fn summary_figure(
    chart: BarChart,
    kind: &str,
    at: &Where,
    caption: String,
) -> Result<Option<Figure>, String> {
    if chart.bars.is_empty() {
        return Ok(None);
    }
    let stem = format!("summary-{kind}-{}-{}", at.placement, at.group.key());
    emit(Chart::Bars(chart), at.out, stem, caption).map(Some)
}

/// Per case, current / baseline cost, one row per transport, coloured by
/// the verdict `compare` gives it.
fn ratio_chart(
    report: &Report,
    baseline: &ResultFile,
    out: &Path,
) -> Result<Option<Figure>, String> {
    let changes = crate::compare::compare(baseline, report.result, COMPARE_THRESHOLD);
    if changes.is_empty() {
        return Ok(None);
    }
    let verdicts = [
        Verdict::Regression,
        Verdict::Noisy,
        Verdict::Unchanged,
        Verdict::Improvement,
    ];
    // Red, orange, grey and green of the palette.
    let looks = [Look(3), Look(1), Look(7), Look(2)];
    let mut rows: Vec<String> = Vec::new();
    let mut dots = Vec::new();
    for c in &changes {
        let row = match rows.iter().position(|r| *r == c.mechanism) {
            Some(i) => i,
            None => {
                rows.push(c.mechanism.clone());
                rows.len() - 1
            }
        };
        let ratio = 1.0 + c.raw_change;
        let ratio = if ratio.is_finite() && ratio > 0.0 {
            ratio
        } else {
            100.0
        };
        let entry = verdicts.iter().position(|v| *v == c.verdict).unwrap_or(2);
        dots.push((row, ratio, entry));
    }
    let counts: Vec<usize> = verdicts
        .iter()
        .map(|v| changes.iter().filter(|c| c.verdict == *v).count())
        .collect();
    let legend = verdicts
        .iter()
        .zip(looks)
        .zip(&counts)
        .map(|((v, l), n)| (format!("{} ({n})", v.word().to_lowercase()), l))
        .collect();
    let chart = DotChart {
        title: "Current against baseline, every case".into(),
        x: Axis {
            label: "cost, current / baseline (log; right is slower)".into(),
            ticks: vec![0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0],
            format: |x| format!("{x:.2}×"),
        },
        rows,
        mark: 1.0,
        dots,
        legend,
    };
    emit(
        Chart::Dots(chart),
        out,
        "compare-ratio".into(),
        format!("Each dot is one case (pattern, placement, size): its cost (RTT p50, or time per message) in this run over the baseline's. The verdict is `ipcbench compare`'s at {:.0} %: a change confirmed by the raw figure, the figure normalised by the same run's reference, and trial ranges that stay apart; noisy means past the threshold against the reference only.", COMPARE_THRESHOLD * 100.0),
    )
    .map(Some)
}

/// `ipcbench compare`'s default threshold, which the report uses too.
pub const COMPARE_THRESHOLD: f64 = 0.10;
