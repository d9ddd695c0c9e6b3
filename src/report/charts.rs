//! Charts drawn with plotters, each written as PNG and SVG. The font is
//! carried in the binary (DejaVu Sans through ab_glyph), so charts render the
//! same on any machine, with no fontconfig or freetype.
//!
//! Every chart keeps its legend or its labels outside the plot, so no data
//! is hidden, and tells its series apart by colour *and* marker shape.

use std::path::Path;

use crate::output::WriteError;
use std::sync::Once;

use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::combinators::LogCoord;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordi32;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// How a series looks: the same transport looks the same in every chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Look(pub usize);

/// One line of a line chart.
pub struct Series {
    pub name: String,
    pub look: Look,
    pub points: Vec<(f64, f64)>,
}

/// How an axis is ticked and labelled.
pub struct Axis {
    pub label: String,
    /// Where the ticks go (the measured sizes, the percentiles...).
    pub ticks: Vec<f64>,
    pub format: fn(&f64) -> String,
}

pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

/// One bar of a ranked bar chart: `value`, and a whisker out to `whisker`.
pub struct Bar {
    pub name: String,
    pub look: Look,
    pub value: f64,
    pub whisker: Option<f64>,
    pub label: String,
}

pub struct BarChart {
    pub title: String,
    pub x: Axis,
    pub bars: Vec<Bar>,
}

/// Points on rows: one row per name, x on a log axis, a reference line
/// at `mark`. Each point carries its legend entry.
pub struct DotChart {
    pub title: String,
    pub x: Axis,
    pub rows: Vec<String>,
    pub mark: f64,
    /// (row, x, legend entry): the entry's look draws the point.
    pub dots: Vec<(usize, f64, usize)>,
    pub legend: Vec<(String, Look)>,
}

/// One labelled point of a scatter chart, with a whisker up to `whisker`.
pub struct Point {
    pub name: String,
    pub look: Look,
    pub x: f64,
    pub y: f64,
    pub whisker: Option<f64>,
}

/// Points on log-log axes, and the line through the best of them (the
/// Pareto frontier: none of the others is lower on both axes).
pub struct ScatterChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub points: Vec<Point>,
    pub frontier: Vec<(f64, f64)>,
}

pub enum Chart {
    Line(LineChart),
    Bars(BarChart),
    Dots(DotChart),
    Scatter(ScatterChart),
    Heat(HeatMap),
}

/// A square of cells, one per (row CPU, column CPU), shaded by value.
pub struct HeatMap {
    pub title: String,
    pub cpus: Vec<usize>,
    /// (row CPU, column CPU, ns).
    pub cells: Vec<(usize, usize, u64)>,
}

/// A heatmap's cell, in pixels: large for a few CPUs, never below 12.
fn cell_px(n: usize) -> u32 {
    (720 / n.max(1) as u32).clamp(12, 120)
}

const WIDTH: u32 = 1000;
/// Rows of bar and dot charts are this many y units apart: plotters
/// labels integer axes with a formatter, not fractional ones.
const ROW: i32 = 100;
const LEGEND_WIDTH: u32 = 210;

/// Makes the carried font the "sans-serif" of every plotters chart in this
/// process (criterion's too, in `cargo bench`).
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The bytes are a valid TrueType font, checked by the report tests.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, font);
    });
}

/// Tableau 10: ten colours chosen to stay apart, also for most colour-blind
/// readers. A chart has at most nine series of one group.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Seven marker shapes; seven and ten share no factor, so colour and shape
/// together stay unique for seventy looks.
const MARKERS: usize = 7;

impl Look {
    pub fn color(self) -> RGBColor {
        let (r, g, b) = PALETTE[self.0 % PALETTE.len()];
        RGBColor(r, g, b)
    }

    pub fn css(self) -> String {
        let RGBColor(r, g, b) = self.color();
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// The marker, centred on `at`.
    fn marker<C>(self, at: C) -> Marker<C> {
        Marker { at, look: self }
    }
}

/// A series' marker shape at one point, drawn in pixels whatever the axes.
pub struct Marker<C> {
    at: C,
    look: Look,
}

impl<'a, C> PointCollection<'a, C> for &'a Marker<C> {
    type Point = &'a C;
    type IntoIter = std::iter::Once<&'a C>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<C, DB: DrawingBackend> Drawable<DB> for Marker<C> {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut at: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        let Some((x, y)) = at.next() else {
            return Ok(());
        };
        let color = self.look.color();
        let (fill, line) = (color.filled(), color.stroke_width(2));
        match self.look.0 % MARKERS {
            0 => backend.draw_circle((x, y), 4, &fill, true),
            1 => backend.draw_rect((x - 4, y - 4), (x + 4, y + 4), &fill, true),
            2 => backend.fill_polygon([(x, y - 6), (x + 6, y + 4), (x - 6, y + 4)], &fill),
            3 => backend.draw_circle((x, y), 4, &line, false),
            4 => backend.draw_rect((x - 4, y - 4), (x + 4, y + 4), &line, false),
            5 => {
                backend.draw_line((x - 5, y - 5), (x + 5, y + 5), &line)?;
                backend.draw_line((x - 5, y + 5), (x + 5, y - 5), &line)
            }
            _ => backend.fill_polygon([(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)], &fill),
        }
    }
}

/// Writes `stem.png` and `stem.svg` in `dir`.
pub fn write(chart: &Chart, dir: &Path, stem: &str) -> Result<(), WriteError> {
    // Between charts is where a report notices Ctrl-C: each takes well
    // under a second, whatever the file holds.
    if crate::sys::interrupt::interrupted() {
        return Err(WriteError::Interrupted);
    }
    register_font();
    let size = (WIDTH, height(chart));
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw(&root, chart).map_err(drawing(&png))?;
        root.present().map_err(drawing(&png))?;
    }
    let root = SVGBackend::new(&svg, size).into_drawing_area();
    draw(&root, chart).map_err(drawing(&svg))?;
    root.present().map_err(drawing(&svg))?;
    Ok(())
}

/// Plotters' error, generic over its backend, as the words it has.
fn drawing<E: std::fmt::Display>(path: &Path) -> impl FnOnce(E) -> WriteError + '_ {
    move |e| WriteError::Draw {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Bar and dot charts grow with their rows, so labels never overlap.
fn height(chart: &Chart) -> u32 {
    match chart {
        Chart::Line(_) => 520,
        Chart::Bars(b) => 110 + 34 * b.bars.len().max(2) as u32,
        Chart::Dots(d) => 120 + 30 * d.rows.len().max(2) as u32,
        // The legend lists every point.
        Chart::Scatter(s) => 520.max(90 + 24 * s.points.len() as u32),
        Chart::Heat(h) => 110 + cell_px(h.cpus.len()) * h.cpus.len() as u32,
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    match chart {
        Chart::Line(c) => draw_lines(root, c),
        Chart::Bars(c) => draw_bars(root, c),
        Chart::Dots(c) => draw_dots(root, c),
        Chart::Scatter(c) => draw_scatter(root, c),
        Chart::Heat(c) => draw_heat(root, c),
    }
}

/// Cells shaded from light (fastest) to dark (slowest) on a log scale,
/// each with its figure when there is room; empty cells stay white.
fn draw_heat<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &HeatMap,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let style = |size: u32| ("sans-serif", size).into_font().color(&BLACK);
    root.draw(&Text::new(h.title.clone(), (20, 12), style(20)))?;
    let (px, left, top) = (cell_px(h.cpus.len()) as i32, 110, 80);
    let logs: Vec<f64> = h.cells.iter().map(|c| (c.2.max(1) as f64).ln()).collect();
    let (lo, hi) = logs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let place = |cpu: usize| h.cpus.iter().position(|&c| c == cpu).unwrap_or(0) as i32;
    for (i, &cpu) in h.cpus.iter().enumerate() {
        let at = i as i32 * px + px / 2;
        root.draw(&Text::new(
            format!("{cpu}"),
            (left + at - 6, top - 22),
            style(13),
        ))?;
        root.draw(&Text::new(
            format!("CPU {cpu}"),
            (20, top + at - 7),
            style(13),
        ))?;
    }
    root.draw(&Text::new("parent ↓  peer →", (20, top - 22), style(12)))?;
    for (&(a, b, ns), &log) in h.cells.iter().zip(&logs) {
        let shade = if hi > lo { (log - lo) / (hi - lo) } else { 0.5 };
        let level = (230.0 - 180.0 * shade) as u8;
        let (x, y) = (left + place(b) * px, top + place(a) * px);
        let fill = RGBColor(level, level, 255).filled();
        root.draw(&Rectangle::new([(x, y), (x + px - 1, y + px - 1)], fill))?;
        if px >= 56 {
            let ink = if shade > 0.6 { WHITE } else { BLACK };
            let label = crate::results::format::short_ns(&(ns as f64));
            let font = ("sans-serif", 13).into_font().color(&ink);
            root.draw(&Text::new(label, (x + 6, y + px / 2 - 7), font))?;
        }
    }
    Ok(())
}

/// A log range around `values`, with room for markers at both ends.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (1.0, 10.0)
    } else {
        (lo / 1.4, hi * 1.4)
    }
}

/// The ticks that fall inside the range; when none was asked for, 1-2-5
/// steps, so a log axis always has labels.
fn ticks_in(asked: &[f64], (lo, hi): (f64, f64)) -> Vec<f64> {
    let inside = |v: &f64| *v >= lo && *v <= hi;
    let mine: Vec<f64> = asked.iter().copied().filter(inside).collect();
    if !mine.is_empty() {
        return mine;
    }
    let mut out = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        out.extend(
            [1.0, 2.0, 5.0]
                .map(|m| m * decade)
                .iter()
                .filter(|v| inside(v)),
        );
        decade *= 10.0;
    }
    out
}

/// A chart of one row per name, the first on top, over a log x axis;
/// `row_lines` draws a line along each row.
#[allow(clippy::type_complexity)]
fn rows_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    xr: (f64, f64),
    names: &[String],
    row_lines: bool,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<WithKeyPoints<LogCoord<f64>>, WithKeyPoints<RangedCoordi32>>>,
    DrawingAreaErrorKind<DB::ErrorType>,
> {
    let n = names.len();
    // Room for the longest name at 14 px (about 7.5 px a character), so a
    // transport with its way of waiting is not cut at the left edge.
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let label_room = (longest as u32 * 15 / 2 + 16).clamp(170, 400);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(label_room)
        .build_cartesian_2d(
            (xr.0..xr.1)
                .log_scale()
                .with_key_points(ticks_in(&x.ticks, xr)),
            rows_axis(n),
        )?;
    // Row 0 is the bottom of the chart: the last name.
    let row_name = |y: &i32| {
        let row = (*y / ROW) as usize;
        if row < n {
            names[n - 1 - row].clone()
        } else {
            String::new()
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&x.label)
        .x_label_formatter(&x.format)
        .y_label_formatter(&row_name)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE);
    if !row_lines {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// One key point per row, with room above and below.
fn rows_axis(n: usize) -> WithKeyPoints<RangedCoordi32> {
    (-ROW * 6 / 10..(n as i32 - 1) * ROW + ROW * 6 / 10)
        .with_key_points((0..n as i32).map(|i| i * ROW).collect())
}

fn label_style() -> TextStyle<'static> {
    ("sans-serif", 14).into_font().color(&BLACK)
}

/// Log scales on both axes, meshed and labelled.
#[allow(clippy::type_complexity)]
fn log_log_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    (x, xr): (&Axis, (f64, f64)),
    (y, yr): (&Axis, (f64, f64)),
) -> Result<
    ChartContext<'a, DB, Cartesian2d<WithKeyPoints<LogCoord<f64>>, WithKeyPoints<LogCoord<f64>>>>,
    DrawingAreaErrorKind<DB::ErrorType>,
> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (xr.0..xr.1)
                .log_scale()
                .with_key_points(ticks_in(&x.ticks, xr)),
            (yr.0..yr.1)
                .log_scale()
                .with_key_points(ticks_in(&y.ticks, yr)),
        )?;
    chart
        .configure_mesh()
        .x_desc(&x.label)
        .y_desc(&y.label)
        .x_label_formatter(&x.format)
        .y_label_formatter(&y.format)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(WHITE)
        .draw()?;
    Ok(chart)
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &LineChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let points = || c.series.iter().flat_map(|s| s.points.iter());
    let xr = bounds(points().map(|p| p.0));
    let yr = bounds(points().map(|p| p.1));
    let mut chart = log_log_chart(&plot, &c.title, (&c.x, xr), (&c.y, yr))?;
    for s in &c.series {
        let color = s.look.color();
        chart.draw_series(LineSeries::new(
            s.points.iter().copied(),
            color.stroke_width(2),
        ))?;
        chart.draw_series(s.points.iter().map(|&p| s.look.marker(p)))?;
    }
    let entries: Vec<(&str, Look)> = c.series.iter().map(|s| (s.name.as_str(), s.look)).collect();
    draw_legend(&legend, &entries, true)
}

/// The legend, beside the plot: a short line with the marker, then the name.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(&str, Look)],
    lines: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, (name, look)) in entries.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        if lines {
            area.draw(&PathElement::new(
                vec![(4, y), (32, y)],
                look.color().stroke_width(2),
            ))?;
        }
        area.draw(&look.marker((18, y)))?;
        let style = label_style().pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(name.to_string(), (40, y), style))?;
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &BarChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = c.bars.len();
    let xr = bounds(
        c.bars
            .iter()
            .flat_map(|b| [Some(b.value), b.whisker])
            .flatten(),
    );
    // Room on the right for the value written after each bar.
    let xr = (xr.0, xr.1 * 4.0);
    let names: Vec<String> = c.bars.iter().map(|b| b.name.clone()).collect();
    let mut chart = rows_chart(root, &c.title, &c.x, xr, &names, false)?;
    for (i, b) in c.bars.iter().enumerate() {
        // The first bar is the best: it goes on top.
        let y = (n - 1 - i) as i32 * ROW;
        let color = b.look.color();
        chart.draw_series([Rectangle::new(
            [(xr.0, y - 32), (b.value, y + 32)],
            color.mix(0.85).filled(),
        )])?;
        let end = match b.whisker {
            Some(w) => {
                let line = BLACK.stroke_width(1);
                chart.draw_series([
                    PathElement::new(vec![(b.value, y), (w, y)], line),
                    PathElement::new(vec![(w, y - 18), (w, y + 18)], line),
                ])?;
                w.max(b.value)
            }
            None => b.value,
        };
        let style = label_style().pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series([Text::new(b.label.clone(), (end * 1.12, y), style)])?;
    }
    Ok(())
}

fn draw_dots<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &DotChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let n = c.rows.len();
    let (lo, hi) = bounds(c.dots.iter().map(|d| d.1).chain([c.mark]));
    // Symmetric around the mark, so faster and slower read alike.
    let reach = (hi / c.mark).max(c.mark / lo);
    let xr = (c.mark / reach, c.mark * reach);
    let mut chart = rows_chart(&plot, &c.title, &c.x, xr, &c.rows, true)?;
    chart.draw_series([PathElement::new(
        vec![(c.mark, -ROW / 2), (c.mark, n as i32 * ROW - ROW / 2)],
        BLACK.stroke_width(1),
    )])?;
    chart.draw_series(
        c.dots
            .iter()
            .map(|&(row, x, entry)| c.legend[entry].1.marker((x, (n - 1 - row) as i32 * ROW))),
    )?;
    let entries: Vec<(&str, Look)> = c.legend.iter().map(|(s, l)| (s.as_str(), *l)).collect();
    draw_legend(&legend, &entries, false)
}

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &ScatterChart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH - 40);
    let xr = bounds(c.points.iter().map(|p| p.x));
    let yr = bounds(
        c.points
            .iter()
            .flat_map(|p| [Some(p.y), p.whisker])
            .flatten(),
    );
    let mut chart = log_log_chart(&plot, &c.title, (&c.x, xr), (&c.y, yr))?;
    chart.draw_series(LineSeries::new(
        c.frontier.iter().copied(),
        BLACK.mix(0.6).stroke_width(2),
    ))?;
    for p in &c.points {
        if let Some(w) = p.whisker {
            let line = p.look.color().stroke_width(1);
            chart.draw_series([PathElement::new(vec![(p.x, p.y), (p.x, w)], line)])?;
        }
        chart.draw_series([p.look.marker((p.x, p.y))])?;
    }
    let entries: Vec<(&str, Look)> = c.points.iter().map(|p| (p.name.as_str(), p.look)).collect();
    draw_legend(&legend, &entries, false)
}
