//! The machine's CPU topology, read from sysfs: which CPUs are hardware
//! threads of one core, which share a last-level cache, which NUMA node
//! and package each belongs to, and which are performance or efficiency
//! cores. The placement classes of `--pin` (smt, llc, cross-llc,
//! cross-node, p-core, e-core) are resolved to a pair of CPUs here.
//!
//! What is read, and only that (`scripts/capture-topology.sh` captures the
//! same files from any machine, as `path:value` lines):
//! - `devices/system/cpu/online`;
//! - per CPU, `topology/{physical_package_id,core_id,thread_siblings_list}`
//!   and `cache/indexN/{level,type,shared_cpu_list}`;
//! - `devices/system/node/online` and `nodeN/cpulist`;
//! - `devices/cpu_core/cpus` and `devices/cpu_atom/cpus` (hybrid Intel).

pub mod machine;
mod pairs;

pub use pairs::{NoPair, CLASSES, EVERY_PAIR_UP_TO};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::results::machine::TopologySummary;

/// Where sysfs is read from: the running kernel's, or a capture.
pub enum Source {
    Sysfs(PathBuf),
    /// `path:value` lines, paths relative to /sys; `#` starts a comment.
    Capture(HashMap<String, String>),
}

impl Source {
    pub fn capture(text: &str) -> Source {
        let files = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(p, v)| (p.trim().to_string(), v.trim().to_string()))
            .collect();
        Source::Capture(files)
    }

    fn read(&self, path: &str) -> Option<String> {
        let text = match self {
            Source::Sysfs(root) => std::fs::read_to_string(root.join(path)).ok()?,
            Source::Capture(files) => files.get(path)?.clone(),
        };
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// A core's kind on a hybrid processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Performance,
    Efficiency,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpu {
    pub id: usize,
    pub package: usize,
    /// The CPUs of its core, itself included.
    pub siblings: Vec<usize>,
    /// The CPUs that share its last-level cache, itself included; empty
    /// when sysfs does not say.
    pub llc: Vec<usize>,
    pub node: usize,
    pub kind: Option<Kind>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    pub cpus: Vec<Cpu>,
    /// NUMA nodes with CPUs, and their CPUs (one node 0 when the kernel
    /// has none).
    pub nodes: Vec<(usize, Vec<usize>)>,
    /// Whether the kernel lists core types (cpu_core, cpu_atom).
    pub hybrid: bool,
}

pub use crate::sys::affinity::cpu_list;

/// Why sysfs (or a capture of it) gave no topology.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("devices/system/cpu/online is missing: no CPU topology in sysfs")]
    NoOnlineCpus,
    #[error("{0} is missing or not a number")]
    NotANumber(String),
}

impl Topology {
    /// The running machine's, read once.
    pub fn this_machine() -> Result<&'static Topology, Unreadable> {
        static READ: std::sync::OnceLock<Result<Topology, Unreadable>> = std::sync::OnceLock::new();
        READ.get_or_init(|| Topology::read(&Source::Sysfs(Path::new("/sys").into())))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn read(source: &Source) -> Result<Topology, Unreadable> {
        let online = source
            .read("devices/system/cpu/online")
            .ok_or(Unreadable::NoOnlineCpus)?;
        let online = cpu_list(&online);
        let mut nodes = nodes(source);
        if nodes.is_empty() {
            // A kernel without NUMA: one node holds every CPU.
            nodes = vec![(0, online.clone())];
        }
        let kinds = kinds(source);
        let cpus = online
            .into_iter()
            .map(|id| read_cpu(source, id, &nodes, &kinds))
            .collect::<Result<Vec<Cpu>, Unreadable>>()?;
        Ok(Topology {
            cpus,
            nodes,
            hybrid: !kinds.is_empty(),
        })
    }

    pub fn cpu(&self, id: usize) -> Option<&Cpu> {
        self.cpus.iter().find(|c| c.id == id)
    }

    /// What the result file's `machine` and the doctor say of it.
    pub fn summary(&self) -> TopologySummary {
        let groups = |of: fn(&Cpu) -> &Vec<usize>| {
            let mut all: Vec<Vec<usize>> = self.cpus.iter().map(|c| of(c).clone()).collect();
            all.retain(|g| !g.is_empty());
            all.sort();
            all.dedup();
            all
        };
        let mut packages: Vec<usize> = self.cpus.iter().map(|c| c.package).collect();
        packages.sort_unstable();
        packages.dedup();
        let of_kind = |k: Kind| {
            self.cpus
                .iter()
                .filter(|c| c.kind == Some(k))
                .map(|c| c.id)
                .collect()
        };
        TopologySummary {
            packages: packages.len(),
            nodes: self.nodes.iter().map(|(_, cpus)| cpus.clone()).collect(),
            llc_groups: groups(|c| &c.llc),
            smt_groups: groups(|c| &c.siblings)
                .into_iter()
                .filter(|g| g.len() > 1)
                .collect(),
            p_cores: of_kind(Kind::Performance),
            e_cores: of_kind(Kind::Efficiency),
        }
    }
}

fn read_cpu(
    source: &Source,
    id: usize,
    nodes: &[(usize, Vec<usize>)],
    kinds: &HashMap<usize, Kind>,
) -> Result<Cpu, Unreadable> {
    let at = |rest: &str| format!("devices/system/cpu/cpu{id}/{rest}");
    let number = |rest: &str| -> Result<usize, Unreadable> {
        let path = at(rest);
        source
            .read(&path)
            .and_then(|v| v.parse().ok())
            .ok_or(Unreadable::NotANumber(path))
    };
    let siblings = source
        .read(&at("topology/thread_siblings_list"))
        .map_or(vec![id], |t| cpu_list(&t));
    Ok(Cpu {
        id,
        package: number("topology/physical_package_id")?,
        siblings,
        llc: last_level_cache(source, id),
        node: nodes
            .iter()
            .find(|(_, cpus)| cpus.contains(&id))
            .map_or(0, |(n, _)| *n),
        kind: kinds.get(&id).copied(),
    })
}

/// The CPUs sharing the highest-level data or unified cache of `id`.
fn last_level_cache(source: &Source, id: usize) -> Vec<usize> {
    let mut best: Option<(u32, Vec<usize>)> = None;
    for index in 0.. {
        let at = |f: &str| format!("devices/system/cpu/cpu{id}/cache/index{index}/{f}");
        let Some(level) = source.read(&at("level")) else {
            break;
        };
        if source.read(&at("type")).as_deref() == Some("Instruction") {
            continue;
        }
        let (Ok(level), Some(shared)) = (level.parse::<u32>(), source.read(&at("shared_cpu_list")))
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(l, _)| level > *l) {
            best = Some((level, cpu_list(&shared)));
        }
    }
    best.map(|(_, cpus)| cpus).unwrap_or_default()
}

fn nodes(source: &Source) -> Vec<(usize, Vec<usize>)> {
    let Some(online) = source.read("devices/system/node/online") else {
        return Vec::new();
    };
    cpu_list(&online)
        .into_iter()
        .filter_map(|n| {
            let cpus = source.read(&format!("devices/system/node/node{n}/cpulist"))?;
            Some((n, cpu_list(&cpus)))
        })
        .filter(|(_, cpus)| !cpus.is_empty())
        .collect()
}

fn kinds(source: &Source) -> HashMap<usize, Kind> {
    let of = |path: &str, kind: Kind| {
        source
            .read(path)
            .map(|t| cpu_list(&t))
            .unwrap_or_default()
            .into_iter()
            .map(move |c| (c, kind))
    };
    of("devices/cpu_core/cpus", Kind::Performance)
        .chain(of("devices/cpu_atom/cpus", Kind::Efficiency))
        .collect()
}
