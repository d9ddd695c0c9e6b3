//! Every chart of the report, drawn from the result file: which rows go
//! into which chart, and what its caption says.

use std::path::Path;

use crate::output::WriteError;

use super::charts::{self, Axis, Bar, BarChart, Chart, DotChart, LineChart, Look, Series};
use super::{at_smallest_size, placement_words, Figure, Group, Report};
use crate::compare::Verdict;
use crate::results::format::{short_count, short_ns, size_label, value_at, Place};
use crate::results::pattern::{Against, Better, Load, Metric, Plot, RankedAt, Ranking, Unit};
use crate::results::{Pattern, Placement, ResultFile, Row};

/// The charts, by where the page shows them.
pub struct Drawn {
    /// `run --pairs`: a heatmap per transport and size.
    pub pairs: Vec<Figure>,
    /// Per placement: the ranked bars of each group.
    pub summary: Vec<(Placement, Vec<Figure>)>,
    /// Per placement and group: the line charts.
    pub charts: Vec<(Placement, Group, Vec<Figure>)>,
    pub compare: Option<Figure>,
}

/// Writes a chart's files and gives its figure; Ctrl-C is honoured
/// between charts, each of which takes a fraction of a second.
pub(super) fn emit(
    chart: Chart,
    out: &Path,
    stem: String,
    caption: String,
) -> Result<Figure, WriteError> {
    if crate::sys::interrupt::interrupted() {
        return Err(WriteError::Interrupted);
    }
    charts::write(&chart, out, &stem)?;
    Ok(Figure { stem, caption })
}

pub fn draw(
    report: &Report,
    out: &Path,
    baseline: Option<&ResultFile>,
) -> Result<Drawn, WriteError> {
    let mut drawn = Drawn {
        pairs: super::heatmap::charts(report, out)?,
        summary: Vec::new(),
        charts: Vec::new(),
        compare: None,
    };
    for &placement in &report.placements {
        let mut summary = summary_bars(report, placement, out)?;
        summary.extend(super::frontier::charts(report, placement, out)?);
        drawn.summary.push((placement, summary));
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

/// Fills in a description's `{size}`, `{group}` and `{where}`.
fn fill(text: &str, size: &str, at: &Where) -> String {
    text.replace("{size}", size)
        .replace("{group}", at.group.title())
        .replace("{where}", placement_words(at.placement))
}

/// The axis of a figure in `unit`.
fn value_axis(label: String, unit: Unit) -> Axis {
    match unit {
        Unit::Ns => ns_axis(&label),
        Unit::MsgPerS | Unit::MibPerS => count_axis(&label),
    }
}

/// The axis of a pattern's load.
fn load_axis(load: Load) -> Axis {
    match load {
        Load::OfferedRate => count_axis("offered messages/s (log)"),
        Load::Senders | Load::Subscribers | Load::Groups => Axis {
            label: match load {
                Load::Senders => "senders",
                Load::Subscribers => "subscribers",
                _ => "groups",
            }
            .into(),
            ticks: [
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]
            .to_vec(),
            format: |v| format!("{v:.0}"),
        },
        Load::None => count_axis(""),
    }
}

/// Every pattern's charts of one group and placement, as its description
/// lists them.
fn line_charts(
    report: &Report,
    placement: Placement,
    group: Group,
    out: &Path,
) -> Result<Vec<Figure>, WriteError> {
    let rows = rows_of(report, placement, group);
    let at = Where {
        placement,
        group,
        out,
    };
    let mut figures = Vec::new();
    for pattern in Pattern::ALL {
        for plot in pattern.describe().plots {
            figures.extend(line_chart(report, &rows, pattern, plot, &at)?);
        }
    }
    Ok(figures)
}

fn line_chart(
    report: &Report,
    rows: &[&Row],
    pattern: Pattern,
    plot: &Plot,
    at: &Where,
) -> Result<Option<Figure>, WriteError> {
    let Some((size, x, y, lines)) = plotted(report, rows, pattern, &plot.against) else {
        return Ok(None);
    };
    if lines.is_empty() {
        return Ok(None);
    }
    let size = size.map(crate::results::format::bytes).unwrap_or_default();
    let chart = LineChart {
        title: fill(plot.title, &size, at),
        x,
        y,
        series: lines,
    };
    let stem = format!("{}-{}-{}", plot.key, at.placement, at.group.key());
    emit(
        Chart::Line(chart),
        at.out,
        stem,
        fill(plot.caption, &size, at),
    )
    .map(Some)
}

/// What a chart plots: the size it is at (if one), its axes and lines.
fn plotted(
    report: &Report,
    rows: &[&Row],
    pattern: Pattern,
    against: &Against,
) -> Option<(Option<u64>, Axis, Axis, Vec<Series>)> {
    let y = |m: &Metric| value_axis(format!("{} (log)", m.label), m.unit);
    match *against {
        Against::Size(m) => {
            let sized: Vec<&Row> = rows
                .iter()
                .copied()
                .filter(|r| r.pattern == pattern && r.size_bytes > 0)
                .collect();
            let lines = series(report, &sized, |r| {
                Some((r.size_bytes as f64, (m.read)(r)?))
            });
            Some((None, size_axis(report), y(m), lines))
        }
        Against::Load(m) => {
            let load = pattern.describe().load;
            let (size, loaded) = at_smallest_size(rows, pattern)?;
            let lines = series(report, &loaded, |r| Some((load.of(r)?, (m.read)(r)?)));
            Some((Some(size), load_axis(load), y(m), lines))
        }
        Against::Percentile => {
            let smallest = *report.sizes.first()?;
            let x = Axis {
                label: "percentile".into(),
                ticks: PERCENTILE_TICKS.to_vec(),
                format: percentile_label,
            };
            let lines = curves(report, rows, pattern, smallest);
            Some((Some(smallest), x, ns_axis("RTT (log)"), lines))
        }
    }
}

/// Each transport's round trip at each percentile, at `size` (and the
/// rows that carry no payload).
fn curves(report: &Report, rows: &[&Row], pattern: Pattern, size: u64) -> Vec<Series> {
    let mut lines = Vec::new();
    let at = rows
        .iter()
        .filter(|r| r.pattern == pattern && (r.size_bytes == size || r.size_bytes == 0));
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
    lines
}

/// The size a ranking's bars are at: the smallest, or the largest that
/// most transports carry (so that it compares many at a size that moves
/// data).
pub fn ranked_size(report: &Report, placement: Placement, pattern: Pattern) -> Option<u64> {
    let ranking = pattern.describe().ranking.as_ref()?;
    if ranking.at == RankedAt::EverySize {
        return report.sizes.first().copied();
    }
    let count = |size: u64| {
        report
            .ok(placement)
            .filter(|r| r.pattern == pattern && r.size_bytes == size)
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

fn summary_bars(
    report: &Report,
    placement: Placement,
    out: &Path,
) -> Result<Vec<Figure>, WriteError> {
    let mut figures = Vec::new();
    for group in Group::ALL {
        let rows = rows_of(report, placement, group);
        let at = Where {
            placement,
            group,
            out,
        };
        for pattern in Pattern::ALL {
            if let Some(size) = ranked_size(report, placement, pattern) {
                figures.extend(ranked_bars(report, &rows, pattern, size, &at)?);
            }
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

/// Every transport's figure at `size` (with those that carry no payload),
/// best first, its whisker if the ranking has one.
fn ranked_bars(
    report: &Report,
    rows: &[&Row],
    pattern: Pattern,
    size: u64,
    at: &Where,
) -> Result<Option<Figure>, WriteError> {
    let Some(ranking) = &pattern.describe().ranking else {
        return Ok(None);
    };
    let mut bars: Vec<Bar> = rows
        .iter()
        .filter(|r| r.pattern == pattern && (r.size_bytes == size || r.size_bytes == 0))
        .filter_map(|r| ranked_bar(report, r, ranking))
        .collect();
    bars.sort_by(|a, b| a.value.total_cmp(&b.value));
    if ranking.by.better == Better::Higher {
        bars.reverse();
    }
    let size = crate::results::format::bytes(size);
    let chart = BarChart {
        title: fill(ranking.title, &size, at),
        x: value_axis(ranking.axis.to_string(), ranking.by.unit),
        bars,
    };
    summary_figure(chart, ranking.key, at, fill(ranking.caption, &size, at))
}

fn ranked_bar(report: &Report, r: &Row, ranking: &Ranking) -> Option<Bar> {
    let value = (ranking.by.read)(r)?;
    let mut label = value_at(value, ranking.by.unit, Place::Ranked);
    let whisker = match ranking.whisker {
        Some((name, w)) => {
            let v = (w.read)(r)?;
            label += &format!("  ({name} {})", value_at(v, w.unit, Place::Ranked));
            Some(v)
        }
        None => None,
    };
    Some(Bar {
        name: if r.size_bytes == 0 {
            format!("{} (no payload)", r.mechanism)
        } else {
            r.mechanism.clone()
        },
        look: report.look(&r.mechanism),
        value,
        whisker,
        label,
    })
}

/// A ranked bar chart of the summary, or none when no transport ran.
fn summary_figure(
    chart: BarChart,
    kind: &str,
    at: &Where,
    caption: String,
) -> Result<Option<Figure>, WriteError> {
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
) -> Result<Option<Figure>, WriteError> {
    let changes = crate::compare::compare(
        baseline,
        report.measured,
        COMPARE_THRESHOLD,
        crate::compare::By::default(),
    );
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
