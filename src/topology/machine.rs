//! What machine a run measures on, read where it is measured: the result
//! file only holds the description (`results::Machine`).

use std::fs;

use crate::results::Machine;

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

/// The machine this process runs on, as a result file describes it.
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
        topology: super::Topology::this_machine().ok().map(|t| t.summary()),
    }
}
