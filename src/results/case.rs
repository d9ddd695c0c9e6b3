//! A case's identity, described once: the axes that tell one measured case
//! from another, and how each shows in every place that names a case.
//!
//! `Row::key`, the labels, the CSV columns, the benchmark names of BMF and
//! github-action-benchmark, `compare`'s case names and the report's
//! relabelling all iterate [`AXES`]. Adding an axis is one entry here plus
//! its field in `Row` (criterion's `BenchmarkId` computes its id, title
//! and directory name once in the same way).

use super::format::{rate_text, size_or_none};
use super::{Isolation, Placement, Row, Wait};

/// One axis's value in a row, borrowed from it: comparing cases allocates
/// nothing, however many rows `compare` and the report set side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value<'a> {
    /// The axis does not apply to the row (a rate outside the open loop),
    /// or is set aside (`CaseKey::but`).
    Absent,
    Text(&'a str),
    Number(u64),
    Cpus(usize, usize),
}

/// One axis of a case.
pub struct Axis {
    pub name: &'static str,
    /// The `run` flag that sweeps it.
    pub flag: &'static str,
    /// What tells cases apart on this axis.
    pub value: fn(&Row) -> Value<'_>,
    /// What the transport's label adds in parentheses when the value is
    /// not the usual one ("pipe (spin)", "tcp (separate-containers)").
    pub qualifier: fn(&Row) -> Option<String>,
    /// Its words in a case's title, after the label ("latency", "same",
    /// "64 B", "at 10k/s offered").
    pub words: fn(&Row) -> Option<String>,
    /// Its segment of a benchmark name (`pipe/latency/same/64B/spin`),
    /// stable across runs so that history tools can follow it.
    pub segment: fn(&Row) -> Option<String>,
    /// Its raw CSV column, when the human columns do not already say it.
    pub column: Option<Column>,
}

/// A raw CSV column: its name and a row's cell.
pub type Column = (&'static str, fn(&Row) -> String);

fn none(_: &Row) -> Option<String> {
    None
}

/// The pair of CPUs of one case of a `--pairs` sweep.
fn pair(r: &Row) -> Option<(usize, usize)> {
    match (r.placement, &r.cpus[..]) {
        (Placement::Pair, &[a, b]) => Some((a, b)),
        _ => None,
    }
}

/// Every axis, in the order names are written.
pub const AXES: [Axis; 13] = [
    Axis {
        name: "mechanism",
        flag: "--mechanisms",
        value: |r| Value::Text(&r.mechanism),
        qualifier: none,
        words: none,
        segment: |r| Some(r.mechanism.clone()),
        column: Some(("transport", |r| r.mechanism.clone())),
    },
    Axis {
        name: "pattern",
        flag: "--patterns",
        value: |r| Value::Number(r.pattern as u64),
        qualifier: none,
        words: |r| Some(r.pattern.to_string()),
        segment: |r| Some(r.pattern.to_string()),
        column: None,
    },
    Axis {
        name: "placement",
        flag: "--pin",
        value: |r| Value::Number(r.placement as u64),
        qualifier: none,
        words: |r| Some(r.placement.to_string()),
        segment: |r| Some(r.placement.to_string()),
        column: None,
    },
    Axis {
        name: "cpus",
        flag: "--pairs",
        value: |r| pair(r).map_or(Value::Absent, |(a, b)| Value::Cpus(a, b)),
        qualifier: none,
        words: |r| pair(r).map(|(a, b)| format!("{a}→{b}")),
        segment: |r| pair(r).map(|(a, b)| format!("cpus{a}-{b}")),
        column: Some(("cpus", |r| {
            let cpus: Vec<String> = r.cpus.iter().map(|c| c.to_string()).collect();
            cpus.join(" ")
        })),
    },
    Axis {
        name: "size",
        flag: "--sizes",
        value: |r| Value::Number(r.size_bytes),
        qualifier: none,
        words: |r| Some(size_or_none(r.size_bytes)),
        segment: |r| match r.size_bytes {
            0 => Some("none".into()),
            b => Some(format!("{b}B")),
        },
        column: Some(("size_bytes", |r| r.size_bytes.to_string())),
    },
    Axis {
        name: "offered rate",
        flag: "--rates",
        // An f64 compared exactly, by its bits, as it was written.
        value: |r| {
            r.offered_per_s
                .map_or(Value::Absent, |v| Value::Number(v.to_bits()))
        },
        qualifier: none,
        words: |r| {
            r.offered_per_s
                .map(|v| format!("at {}/s offered", rate_text(v)))
        },
        segment: |r| r.offered_per_s.map(|v| format!("{v}per-s")),
        column: Some(("offered_per_s", |r| {
            r.offered_per_s.map_or(String::new(), |v| v.to_string())
        })),
    },
    Axis {
        name: "senders",
        flag: "--senders",
        value: |r| r.senders.map_or(Value::Absent, |n| Value::Number(n.into())),
        qualifier: none,
        words: |r| match r.senders? {
            1 => Some("at 1 sender".into()),
            n => Some(format!("at {n} senders")),
        },
        segment: |r| r.senders.map(|n| format!("{n}senders")),
        column: Some(("senders", |r| {
            r.senders.map_or(String::new(), |n| n.to_string())
        })),
    },
    Axis {
        name: "subscribers",
        flag: "--subscribers",
        value: |r| {
            r.subscribers
                .map_or(Value::Absent, |n| Value::Number(n.into()))
        },
        qualifier: none,
        words: |r| match r.subscribers? {
            1 => Some("to 1 subscriber".into()),
            n => Some(format!("to {n} subscribers")),
        },
        segment: |r| r.subscribers.map(|n| format!("{n}subscribers")),
        column: Some(("subscribers", |r| {
            r.subscribers.map_or(String::new(), |n| n.to_string())
        })),
    },
    Axis {
        name: "groups",
        flag: "--groups",
        value: |r| r.groups.map_or(Value::Absent, |n| Value::Number(n.into())),
        qualifier: none,
        words: |r| match r.groups? {
            1 => Some("in 1 group".into()),
            n => Some(format!("in {n} groups")),
        },
        segment: |r| r.groups.map(|n| format!("{n}groups")),
        column: Some(("groups", |r| {
            r.groups.map_or(String::new(), |n| n.to_string())
        })),
    },
    Axis {
        name: "group size",
        flag: "--group-size",
        value: |r| {
            r.group_size
                .map_or(Value::Absent, |n| Value::Number(n.into()))
        },
        qualifier: none,
        words: |r| {
            r.group_size
                .map(|n| format!("of {n} senders and {n} receivers"))
        },
        segment: |r| r.group_size.map(|n| format!("{n}per-group")),
        column: Some(("group_size", |r| {
            r.group_size.map_or(String::new(), |n| n.to_string())
        })),
    },
    Axis {
        name: "loops",
        flag: "--loops",
        value: |r| r.loops.map_or(Value::Absent, Value::Number),
        qualifier: none,
        words: |r| r.loops.map(|n| format!("{n} loops")),
        segment: |r| r.loops.map(|n| format!("{n}loops")),
        column: Some(("loops", |r| {
            r.loops.map_or(String::new(), |n| n.to_string())
        })),
    },
    Axis {
        name: "wait",
        flag: "--waits",
        value: |r| Value::Number(r.wait as u64),
        qualifier: |r| (r.wait != Wait::Block).then(|| r.wait.to_string()),
        words: none,
        segment: |r| (r.wait != Wait::Block).then(|| r.wait.to_string()),
        column: Some(("wait", |r| r.wait.to_string())),
    },
    Axis {
        name: "isolation",
        flag: "--isolation",
        value: |r| Value::Number(r.isolation as u64),
        qualifier: |r| (r.isolation != Isolation::None).then(|| r.isolation.to_string()),
        words: none,
        segment: |r| (r.isolation != Isolation::None).then(|| r.isolation.to_string()),
        column: Some(("isolation", |r| r.isolation.to_string())),
    },
];

/// What makes two rows the same case: every axis's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaseKey<'a>([Value<'a>; AXES.len()]);

impl<'a> CaseKey<'a> {
    pub fn of(row: &'a Row) -> CaseKey<'a> {
        CaseKey(std::array::from_fn(|i| (AXES[i].value)(row)))
    }

    /// The same case whatever the named axes say.
    pub fn but(mut self, names: &[&str]) -> Self {
        for (value, axis) in self.0.iter_mut().zip(&AXES) {
            if names.contains(&axis.name) {
                *value = Value::Absent;
            }
        }
        self
    }

    /// The same case whatever its placement (and a sweep's pair).
    pub fn but_placement(self) -> Self {
        self.but(&["placement", "cpus"])
    }

    /// The same case of any transport (what `compare`'s reference averages).
    pub fn but_mechanism(self) -> Self {
        self.but(&["mechanism"])
    }
}

/// The transport as people read it: its name, then what the axes that
/// qualify it say when unusual ("pipe (spin, separate-containers)").
pub fn label(row: &Row) -> std::borrow::Cow<'_, str> {
    let how: Vec<String> = AXES.iter().filter_map(|a| (a.qualifier)(row)).collect();
    match how.is_empty() {
        true => std::borrow::Cow::Borrowed(&row.mechanism),
        false => std::borrow::Cow::Owned(format!("{} ({})", row.mechanism, how.join(", "))),
    }
}

/// The whole case in words, one per case: the label, then every other
/// axis ("pipe (spin) latency pair 0→1 64 B at 10k/s offered").
pub fn title(row: &Row) -> String {
    let words = AXES.iter().filter_map(|a| (a.words)(row));
    std::iter::once(label(row).into_owned())
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The benchmark name history tools key on (`pipe/latency/same/64B`).
pub fn benchmark_name(row: &Row) -> String {
    let segments: Vec<String> = AXES.iter().filter_map(|a| (a.segment)(row)).collect();
    segments.join("/")
}

/// The raw CSV columns the axes add.
pub fn columns() -> impl Iterator<Item = &'static str> {
    AXES.iter().filter_map(|a| a.column.map(|c| c.0))
}

/// A row's cells in [`columns`].
pub fn cells(row: &Row) -> impl Iterator<Item = String> + '_ {
    AXES.iter().filter_map(|a| a.column.map(|c| (c.1)(row)))
}

/// The placement as tables show it: the class, and for one pair of a
/// sweep its two CPUs ("pair 0→1").
pub fn placement_label(row: &Row) -> String {
    match pair(row) {
        Some((a, b)) => format!("pair {a}→{b}"),
        None => row.placement.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Pattern;

    fn row() -> Row {
        Row::new("pipe", Placement::Same, Pattern::Latency, 64)
    }

    #[test]
    fn a_plain_case_is_named_as_before() {
        let r = row();
        assert_eq!(benchmark_name(&r), "pipe/latency/same/64B");
        assert_eq!(title(&r), "pipe latency same 64 B");
        assert_eq!(label(&r), "pipe");
    }

    #[test]
    fn every_axis_shows_in_the_names_and_tells_cases_apart() {
        let mut a = row();
        a.placement = Placement::Pair;
        a.cpus = vec![0, 3];
        a.wait = Wait::Spin;
        a.isolation = Isolation::SeparateContainers;
        a.offered_per_s = Some(10_000.0);
        assert_eq!(
            benchmark_name(&a),
            "pipe/latency/pair/cpus0-3/64B/10000per-s/spin/separate-containers"
        );
        assert_eq!(
            title(&a),
            "pipe (spin, separate-containers) latency pair 0→3 64 B at 10k/s offered"
        );
        let mut b = a.clone();
        b.cpus = vec![3, 0];
        assert_ne!(CaseKey::of(&a), CaseKey::of(&b));
        assert_ne!(benchmark_name(&a), benchmark_name(&b));
        assert_eq!(
            CaseKey::of(&a).but_placement(),
            CaseKey::of(&b).but_placement()
        );
    }
}
