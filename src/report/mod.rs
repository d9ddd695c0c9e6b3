//! `ipcbench report`: a self-contained folder (index.html, PNG and SVG
//! charts, a copy of the result file) made from a result file alone, so a
//! run from another machine can be reported anywhere.
//!
//! The page opens with a summary per placement (ranked bars, transport ×
//! size grids, sentences drawn from the data), then the line charts, one
//! group of transports at a time, then a sortable table of every figure.

mod charts;
mod figures;
mod frontier;
mod heatmap;
mod html;
pub use html::{escape, page_end, page_start};
mod summary;
mod tables;
mod timeline;

pub use charts::register_font;

use std::path::Path;

use crate::output::WriteError;

use crate::results::probe::CLAIMED_TABLE_ROWS;
use crate::results::{Family, Pattern, Placement, ResultFile, Row, Status};
use charts::Look;

/// A chart as the page shows it.
pub struct Figure {
    pub stem: String,
    pub caption: String,
}

/// Writes the report for `result` (read from `source`) into `out`; with
/// `compare`, a second run is set beside it. Returns the page's path.
///
/// The report is made in a hidden folder beside `out` and moved into place
/// only when whole: a full disk or a Ctrl-C leaves the old report or none,
/// and no hidden folder. Only a folder ipcbench made is written into, and
/// only its own files there are replaced (`output::folder`).
pub fn write(
    result: &ResultFile,
    source: &Path,
    out: &Path,
    compare: Option<(&ResultFile, &Path)>,
) -> Result<std::path::PathBuf, WriteError> {
    let building = crate::output::folder::Building::beside(out)?;
    fill(result, source, building.path(), compare)?;
    if crate::sys::interrupt::interrupted() {
        return Err(WriteError::Interrupted);
    }
    Ok(building.install()?.join("index.html"))
}

/// Writes every file of the report into `out`.
fn fill(
    result: &ResultFile,
    source: &Path,
    out: &Path,
    compare: Option<(&ResultFile, &Path)>,
) -> Result<(), WriteError> {
    let copy = |from: &Path, name: &str| {
        std::fs::copy(from, out.join(name))
            .map(drop)
            .map_err(WriteError::io("copy into the report", from))
    };
    copy(source, "result.json")?;
    if let Some((_, path)) = compare {
        copy(path, "baseline.json")?;
    }
    let shown = by_wait(result);
    let report = Report::of(&shown, result);
    let drawn = figures::draw(&report, out, compare.map(|c| c.0))?;
    let page = html::page(&report, &drawn, compare.map(|c| c.0));
    let index = out.join("index.html");
    std::fs::write(&index, page).map_err(WriteError::io("write", &index))
}

/// The groups a report shows apart, so that no chart holds more than nine
/// transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Claimed,
    Kernel,
    Library,
    Middleware,
}

impl Group {
    pub const ALL: [Group; 4] = [
        Group::Claimed,
        Group::Kernel,
        Group::Library,
        Group::Middleware,
    ];

    pub fn of(row: &Row) -> Group {
        if CLAIMED_TABLE_ROWS.contains(&row.mechanism.as_str()) {
            return Group::Claimed;
        }
        match row.family {
            Family::Kernel => Group::Kernel,
            Family::Library => Group::Library,
            Family::Middleware => Group::Middleware,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Group::Claimed => "the claimed table's transports",
            Group::Kernel => "other kernel mechanisms",
            Group::Library => "libraries and runtimes",
            Group::Middleware => "middleware",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Group::Claimed => "claimed",
            Group::Kernel => "kernel",
            Group::Library => "library",
            Group::Middleware => "middleware",
        }
    }
}

/// The run as the page shows it: a transport qualified by an axis (a
/// receiver that did not block, a boundary) is a transport of its own,
/// "pipe (spin)", "tcp (separate-containers)", with its own line and colour.
fn by_wait(result: &ResultFile) -> std::borrow::Cow<'_, ResultFile> {
    if result
        .rows
        .iter()
        .all(|r| r.transport_label() == r.mechanism)
    {
        return std::borrow::Cow::Borrowed(result);
    }
    let mut shown = result.clone();
    for r in &mut shown.rows {
        r.mechanism = r.transport_label().into_owned();
    }
    std::borrow::Cow::Owned(shown)
}

/// A result file with what every part of the page needs to know of it:
/// the transports in order, each with its group and its look.
pub struct Report<'a> {
    /// As shown: each way of waiting a transport of its own (`by_wait`).
    pub result: &'a ResultFile,
    /// As measured, for `compare`, which tells cases apart by their wait.
    pub measured: &'a ResultFile,
    /// Every transport of the run, grouped, in the run's order.
    pub transports: Vec<(String, Group, Look)>,
    pub placements: Vec<Placement>,
    pub sizes: Vec<u64>,
}

impl<'a> Report<'a> {
    pub fn of(result: &'a ResultFile, measured: &'a ResultFile) -> Report<'a> {
        let mut transports: Vec<(String, Group, Look)> = Vec::new();
        // The shown rows are the measured ones renamed (`by_wait`), in the
        // same order: a way of waiting stays in its transport's group.
        for (r, measured) in result.rows.iter().zip(&measured.rows) {
            if !transports.iter().any(|t| t.0 == r.mechanism) {
                transports.push((r.mechanism.clone(), Group::of(measured), Look(0)));
            }
        }
        transports.sort_by_key(|t| t.1);
        // A look is a place within the group: colours stay apart per chart.
        for g in Group::ALL {
            for (i, t) in transports.iter_mut().filter(|t| t.1 == g).enumerate() {
                t.2 = Look(i);
            }
        }
        let mut placements: Vec<Placement> = result.rows.iter().map(|r| r.placement).collect();
        placements.sort_by_key(|p| *p as u8);
        placements.dedup();
        // A sweep's pairs are one case each: the heatmaps show them, not
        // the charts and tables by placement.
        placements.retain(|p| *p != Placement::Pair);
        let mut sizes: Vec<u64> = result
            .rows
            .iter()
            .map(|r| r.size_bytes)
            .filter(|s| *s > 0)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        Report {
            result,
            measured,
            transports,
            placements,
            sizes,
        }
    }

    pub fn look(&self, mechanism: &str) -> Look {
        self.transports
            .iter()
            .find(|t| t.0 == mechanism)
            .map_or(Look(0), |t| t.2)
    }

    pub fn group_of(&self, mechanism: &str) -> Group {
        self.transports
            .iter()
            .find(|t| t.0 == mechanism)
            .map_or(Group::Kernel, |t| t.1)
    }

    /// The rows of one placement that ran.
    pub fn ok(&self, placement: Placement) -> impl Iterator<Item = &'a Row> + '_ {
        self.result
            .rows
            .iter()
            .filter(move |r| r.status == Status::Ok && r.placement == placement)
    }
}

/// The rows of `pattern` at the smallest message size they ran at, with the
/// signal-only rows (which have none) beside them; the size is 0 when only
/// those ran.
pub fn at_smallest_size<'a>(rows: &[&'a Row], pattern: Pattern) -> Option<(u64, Vec<&'a Row>)> {
    let of = || rows.iter().copied().filter(move |r| r.pattern == pattern);
    let size = of().map(|r| r.size_bytes).filter(|&s| s > 0).min();
    let size = size.or_else(|| of().map(|r| r.size_bytes).min())?;
    let at = of()
        .filter(|r| r.size_bytes == size || r.size_bytes == 0)
        .collect();
    Some((size, at))
}

pub fn placement_words(p: Placement) -> &'static str {
    match p {
        Placement::Same => "both processes on one CPU",
        Placement::Cross => "processes on two CPUs",
        Placement::None => "placed by the scheduler",
        Placement::Smt => "two hardware threads of one core",
        Placement::Llc => "two cores sharing the last-level cache",
        Placement::CrossLlc => "two cores of one node on different last-level caches",
        Placement::CrossNode => "two CPUs on different NUMA nodes",
        Placement::PCore => "two performance cores",
        Placement::ECore => "two efficiency cores",
        Placement::Pair => "every pair of CPUs in turn",
    }
}
