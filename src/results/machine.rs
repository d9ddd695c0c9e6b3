//! The machine a run happened on. Placement, virtualisation and the idle
//! driver dominate IPC figures, so they travel with every result file.

use serde::{Deserialize, Serialize};
use std::fs;

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
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn cpuinfo_field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Machine {
    pub fn detect() -> Machine {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags = cpuinfo_field(&cpuinfo, "flags").unwrap_or_default();
        let hypervisor = flags
            .split_whitespace()
            .any(|f| f == "hypervisor")
            .then(|| {
                read_trimmed("/sys/hypervisor/type")
                    .or_else(crate::sys::cpuid::hypervisor)
                    .or_else(|| read_trimmed("/sys/class/dmi/id/sys_vendor"))
                    .unwrap_or_else(|| "unknown hypervisor".to_string())
            });
        let memory_mib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| cpuinfo_field(&m, "MemTotal"))
            .and_then(|v| v.trim_end_matches(" kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024);
        Machine {
            hostname: field(|u| u.nodename()),
            kernel: field(|u| u.release()),
            arch: field(|u| u.machine()),
            cpu_model: cpuinfo_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            cpus_online: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .max(
                    cpuinfo
                        .lines()
                        .filter(|l| l.starts_with("processor"))
                        .count(),
                ),
            cpus_allowed: crate::sys::affinity::allowed_cpus(),
            hypervisor,
            cpufreq_governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            cpuidle_driver: read_trimmed("/sys/devices/system/cpu/cpuidle/current_driver"),
            clocksource: read_trimmed(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            ),
            memory_mib,
            warnings: Vec::new(),
        }
    }

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
        s
    }
}
