//! The machine a run happened on. Placement, virtualisation and the idle
//! driver dominate IPC figures, so they travel with every result file.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    pub kernel: String,
    pub arch: String,
    pub cpu_model: String,
    /// CPUs online on the machine.
    pub cpus_online: usize,
    /// CPUs this process may use (its affinity mask).
    pub cpus_allowed: Vec<usize>,
    /// The running hypervisor, when the CPU says it runs under one.
    pub hypervisor: Option<String>,
    pub cpufreq_governor: Option<String>,
    pub cpuidle_driver: Option<String>,
    pub clocksource: Option<String>,
    pub memory_mib: u64,
    /// What `ipcbench doctor` found would skew the figures, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// How its CPUs are grouped, as sysfs says (absent from older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologySummary>,
}

/// Packages, NUMA nodes, last-level caches, SMT siblings and core types:
/// what decides which pairs of CPUs a placement class can have.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologySummary {
    pub packages: usize,
    /// Each NUMA node's CPUs.
    pub nodes: Vec<Vec<usize>>,
    /// The CPUs of each last-level cache.
    pub llc_groups: Vec<Vec<usize>>,
    /// The CPUs of each core with more than one hardware thread.
    pub smt_groups: Vec<Vec<usize>>,
    /// A hybrid processor's performance and efficiency cores' CPUs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p_cores: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub e_cores: Vec<usize>,
}

impl TopologySummary {
    /// "1 package, 1 NUMA node, last-level caches [0-1], no SMT".
    pub fn line(&self) -> String {
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let lists =
            |groups: &[Vec<usize>]| groups.iter().map(|g| list(g)).collect::<Vec<_>>().join(" ");
        let mut s = format!(
            "{}, {}, last-level caches {}",
            plural(self.packages, "package"),
            plural(self.nodes.len(), "NUMA node"),
            lists(&self.llc_groups)
        );
        s += &match self.smt_groups.len() {
            0 => ", no SMT".to_string(),
            n => format!(
                ", SMT: {} with {} threads",
                plural(n, "core"),
                self.smt_groups[0].len()
            ),
        };
        if !self.p_cores.is_empty() || !self.e_cores.is_empty() {
            s += &format!(
                ", P-cores {}, E-cores {}",
                list(&self.p_cores),
                list(&self.e_cores)
            );
        }
        s
    }
}

/// "[0-3,8]": a CPU list as sysfs writes it.
fn list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(match j > i {
            true => format!("{}-{}", cpus[i], cpus[j]),
            false => cpus[i].to_string(),
        });
        i = j + 1;
    }
    format!("[{}]", parts.join(","))
}

impl Machine {
    /// One line for people: what the figures should be read against.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} ({} CPUs online, {} allowed), Linux {}",
            self.cpu_model,
            self.cpus_online,
            self.cpus_allowed.len(),
            self.kernel
        );
        if let Some(h) = &self.hypervisor {
            s += &format!(", virtualised ({h})");
        }
        if let Some(d) = &self.cpuidle_driver {
            s += &format!(", cpuidle {d}");
        }
        if let Some(c) = &self.clocksource {
            s += &format!(", clocksource {c}");
        }
        if let Some(t) = &self.topology {
            s += &format!("; {}", t.line());
        }
        s
    }
}
