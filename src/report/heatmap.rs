//! `run --pairs all`: a heatmap per transport and size of the round trip
//! between every pair of CPUs (rows: the parent's CPU; columns: the
//! peer's), drawn as a chart (PNG and SVG, p50 in the cells) and as a
//! table on the page (p99 when the pointer rests on a cell).

use std::path::Path;

use crate::output::WriteError;

use super::charts::{Chart, HeatMap};
use super::figures::emit;
use super::{Figure, Report};
use crate::results::format::{short_ns, size_label};
use crate::results::{Pattern, Placement, Row, Status};

/// The round trips of one transport at one size, by pair.
struct Grid<'a> {
    label: String,
    size: u64,
    cpus: Vec<usize>,
    rows: Vec<&'a Row>,
}

impl Grid<'_> {
    fn at(&self, parent: usize, peer: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.cpus[..] == [parent, peer])
            .copied()
    }
    fn stem(&self) -> String {
        let safe: String = self
            .label
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        format!("pairs-{safe}-{}", self.size)
    }
}

fn grids<'a>(report: &'a Report<'a>) -> Vec<Grid<'a>> {
    let pairs = report.result.rows.iter().filter(|r| {
        r.placement == Placement::Pair
            && r.pattern == Pattern::Latency
            && r.status == Status::Ok
            && r.cpus.len() == 2
    });
    let mut grids: Vec<Grid> = Vec::new();
    for row in pairs {
        // The shown rows' mechanism is already the label (`by_wait`).
        let label = row.mechanism.clone();
        let i = match grids
            .iter()
            .position(|g| g.label == label && g.size == row.size_bytes)
        {
            Some(i) => i,
            None => {
                grids.push(Grid {
                    label,
                    size: row.size_bytes,
                    cpus: Vec::new(),
                    rows: Vec::new(),
                });
                grids.len() - 1
            }
        };
        grids[i].rows.push(row);
        grids[i].cpus.extend(&row.cpus);
    }
    for g in &mut grids {
        g.cpus.sort_unstable();
        g.cpus.dedup();
    }
    grids
}

/// One chart per transport and size.
pub fn charts(report: &Report, out: &Path) -> Result<Vec<Figure>, WriteError> {
    grids(report)
        .iter()
        .map(|g| {
            let cells = g.rows.iter().filter_map(|r| Some((r.cpus[0], r.cpus[1], r.rtt_ns.as_ref()?.p50))).collect();
            let title = format!("{}: RTT p50 between CPUs, {}", g.label, size_label(&(g.size as f64)));
            let chart = Chart::Heat(HeatMap { title, cpus: g.cpus.clone(), cells });
            let caption = format!("{}, {}: round trip p50 from the parent's CPU (row) to the peer's (column); darker is slower", g.label, size_label(&(g.size as f64)));
            emit(chart, out, g.stem(), caption)
        })
        .collect()
}

/// The page's section: each grid as a table, p99 on hover.
pub fn tables(report: &Report, figures: &[Figure]) -> String {
    let grids = grids(report);
    if grids.is_empty() {
        return String::new();
    }
    let mut s = String::from("<h2 id=\"pairs\">Pairs of CPUs</h2>\n<p>Each cell is the round trip's p50 with the parent on the row's CPU and the peer on the column's (the same CPU twice is the diagonal); rest the pointer on a cell for its p99. Sampled sweeps leave cells empty.</p>\n");
    for g in &grids {
        s += &format!(
            "<h3>{}, {}</h3>\n<div class=\"scroll\"><table><tr><th>parent \\ peer</th>",
            super::html::escape(&g.label),
            size_label(&(g.size as f64))
        );
        for c in &g.cpus {
            s += &format!("<th>CPU {c}</th>");
        }
        s += "</tr>\n";
        for &a in &g.cpus {
            s += &format!("<tr><th>CPU {a}</th>");
            for &b in &g.cpus {
                s += &match g.at(a, b).and_then(|r| r.rtt_ns.as_ref()) {
                    Some(rtt) => format!(
                        "<td title=\"p99 {}\">{}</td>",
                        short_ns(&(rtt.p99 as f64)),
                        short_ns(&(rtt.p50 as f64))
                    ),
                    None => "<td>–</td>".to_string(),
                };
            }
            s += "</tr>\n";
        }
        s += "</table></div>\n";
        if let Some(f) = figures.iter().find(|f| f.stem == g.stem()) {
            s += &super::html::figures_html(std::slice::from_ref(f));
        }
    }
    s
}
