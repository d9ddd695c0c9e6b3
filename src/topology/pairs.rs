//! A placement class resolved to a concrete pair of allowed CPUs, or the
//! reason this machine has no such pair.

use super::{Kind, Topology};
use crate::results::Placement;

/// Up to this many allowed CPUs, a sweep takes every ordered pair (the
/// same CPU twice included); above, a sample: see `sweep`.
pub const EVERY_PAIR_UP_TO: usize = 8;

/// The placement classes, in the order `sweep` samples them.
pub const CLASSES: [Placement; 6] = [
    Placement::Smt,
    Placement::Llc,
    Placement::CrossLlc,
    Placement::CrossNode,
    Placement::PCore,
    Placement::ECore,
];

impl Topology {
    /// The pairs (parent's CPU, peer's CPU) of `run --pairs all`: every
    /// ordered pair of `allowed`, or above `EVERY_PAIR_UP_TO` CPUs the
    /// first CPU against each (one row of the matrix, itself included)
    /// and each class's pair this machine has. True when sampled.
    pub fn sweep(&self, allowed: &[usize]) -> (Vec<(usize, usize)>, bool) {
        let mut sorted = allowed.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() <= EVERY_PAIR_UP_TO {
            let all = sorted
                .iter()
                .flat_map(|&a| sorted.iter().map(move |&b| (a, b)));
            return (all.collect(), false);
        }
        let first = sorted[0];
        let mut pairs: Vec<(usize, usize)> = sorted.iter().map(|&b| (first, b)).collect();
        for class in CLASSES {
            if let Ok(pair) = self.pair(class, &sorted) {
                if !pairs.contains(&pair) {
                    pairs.push(pair);
                }
            }
        }
        (pairs, true)
    }

    /// The first pair (lowest CPU numbers) of `allowed` CPUs in `class`,
    /// or why there is none: what the machine lacks, or what the affinity
    /// mask leaves out.
    pub fn pair(&self, class: Placement, allowed: &[usize]) -> Result<(usize, usize), NoPair> {
        let mut sorted = allowed.to_vec();
        sorted.sort_unstable();
        self.first_pair(class, &sorted)
            .ok_or_else(|| match self.lacks(class) {
                Some(why) => NoPair::MachineLacks(why),
                None => NoPair::MaskLeavesOut {
                    class,
                    allowed: sorted,
                },
            })
    }

    fn first_pair(&self, class: Placement, sorted: &[usize]) -> Option<(usize, usize)> {
        let fits = |a: usize, b: usize| self.relation(a, b).is_some_and(|r| r.is(class));
        sorted.iter().enumerate().find_map(|(i, &a)| {
            let b = sorted[i + 1..].iter().find(|&&b| fits(a, b))?;
            Some((a, *b))
        })
    }

    fn relation(&self, a: usize, b: usize) -> Option<Relation> {
        let (x, y) = (self.cpu(a)?, self.cpu(b)?);
        let both = |k: Kind| x.kind == Some(k) && y.kind == Some(k);
        Some(Relation {
            same_core: x.siblings.contains(&b),
            same_llc: (!x.llc.is_empty()).then(|| x.llc.contains(&b)),
            same_node: x.node == y.node,
            kinds: (both(Kind::Performance), both(Kind::Efficiency)),
        })
    }

    /// What the whole machine lacks for `class`, whatever the mask.
    fn lacks(&self, class: Placement) -> Option<String> {
        let all: Vec<usize> = self.cpus.iter().map(|c| c.id).collect();
        if self.first_pair(class, &all).is_some() {
            return None;
        }
        Some(match class {
            Placement::Smt => "no SMT: every core has one thread".to_string(),
            Placement::Llc if self.cpus.iter().any(|c| c.llc.is_empty()) => {
                "sysfs does not say which CPUs share the last-level cache (cache/index*/shared_cpu_list)".into()
            }
            Placement::Llc => "no two cores share a last-level cache".into(),
            Placement::CrossLlc => "each NUMA node has one last-level cache: every pair of one node shares it".into(),
            Placement::CrossNode => format!("one NUMA node: node {} holds every CPU", self.nodes.first().map_or(0, |n| n.0)),
            Placement::PCore | Placement::ECore if !self.hybrid => {
                "no hybrid cores: the kernel lists no cpu_core or cpu_atom CPUs (every core is of one type)".into()
            }
            _ => format!("fewer than two {class} cores on different cores"),
        })
    }
}

/// Why a placement class has no pair here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoPair {
    /// The machine has none, whatever the mask: what it lacks.
    #[error("{0}")]
    MachineLacks(String),
    #[error("no two of the allowed CPUs {allowed:?} form a {class} pair")]
    MaskLeavesOut {
        class: Placement,
        allowed: Vec<usize>,
    },
}

/// How two CPUs stand to each other.
struct Relation {
    same_core: bool,
    /// None when sysfs does not say.
    same_llc: Option<bool>,
    same_node: bool,
    /// Both performance cores; both efficiency cores.
    kinds: (bool, bool),
}

impl Relation {
    fn is(&self, class: Placement) -> bool {
        match class {
            Placement::Smt => self.same_core,
            Placement::Llc => !self.same_core && self.same_llc == Some(true),
            Placement::CrossLlc => self.same_node && self.same_llc == Some(false),
            Placement::CrossNode => !self.same_node,
            Placement::PCore => !self.same_core && self.kinds.0,
            Placement::ECore => !self.same_core && self.kinds.1,
            Placement::Same | Placement::Cross | Placement::None | Placement::Pair => false,
        }
    }
}
