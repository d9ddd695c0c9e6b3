//! One function per thing the doctor checks, each reading what decides it
//! and saying what it means for the figures.

use super::{Finding, Level};
use std::fs;

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn cpu_path(cpu: usize, rest: &str) -> String {
    format!("/sys/devices/system/cpu/cpu{cpu}/{rest}")
}

pub use crate::topology::cpu_list;

/// The CPUs that share `cpu`'s core, itself included, as the topology
/// read them (the CPU alone where sysfs does not say).
pub fn siblings(cpu: usize) -> Vec<usize> {
    crate::topology::Topology::this_machine()
        .ok()
        .and_then(|t| t.cpu(cpu))
        .map_or_else(|| vec![cpu], |c| c.siblings.clone())
}

pub fn frequency(cpus: (usize, usize)) -> Vec<Finding> {
    vec![governor(cpus), boost()]
}

fn governor((a, b): (usize, usize)) -> Finding {
    let governors: Vec<(usize, Option<String>)> = [a, b]
        .iter()
        .map(|&c| (c, read(&cpu_path(c, "cpufreq/scaling_governor"))))
        .collect();
    if governors.iter().all(|(_, g)| g.is_none()) {
        return Finding::new(
            "cpufreq governor",
            Level::Info,
            format!("none: no {} (a virtual machine, or frequency left to the firmware)", cpu_path(a, "cpufreq")),
            "the guest cannot see or set the clock speed; the host's settings decide it and may change between runs",
        )
        .fix("cannot be set from inside this machine; on a host: sudo cpupower frequency-set -g performance");
    }
    let slow: Vec<String> = governors
        .iter()
        .filter(|(_, g)| g.as_deref() != Some("performance"))
        .map(|(c, g)| format!("CPU {c}: {}", g.as_deref().unwrap_or("unreadable")))
        .collect();
    if slow.is_empty() {
        return Finding::new(
            "cpufreq governor",
            Level::Ok,
            "performance on the CPUs used",
            "the clock stays at its highest speed",
        );
    }
    Finding::new(
        "cpufreq governor",
        Level::Warn,
        slow.join(", "),
        "the clock speeds up only under load, so short cases and wake-ups run slower than long ones",
    )
    .fix("sudo cpupower frequency-set -g performance (or: echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)")
}

fn boost() -> Finding {
    let on = match (
        read("/sys/devices/system/cpu/cpufreq/boost"),
        read("/sys/devices/system/cpu/intel_pstate/no_turbo"),
    ) {
        (Some(b), _) if b == "1" => Some((
            "/sys/devices/system/cpu/cpufreq/boost = 1",
            "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost",
        )),
        (_, Some(n)) if n == "0" => Some((
            "/sys/devices/system/cpu/intel_pstate/no_turbo = 0",
            "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo",
        )),
        (None, None) => {
            return Finding::new(
                "turbo boost",
                Level::Info,
                "not exposed (no cpufreq/boost, no intel_pstate)",
                "whether the CPU boosts is the host's or the firmware's decision",
            )
        }
        _ => None,
    };
    match on {
        Some((observed, fix)) => Finding::new(
            "turbo boost",
            Level::Warn,
            observed,
            "the clock rises above nominal when the package is cool and the other cores idle, so figures depend on what else runs",
        )
        .fix(fix),
        None => Finding::new("turbo boost", Level::Ok, "off", "the clock does not depend on temperature or on the other cores' load"),
    }
}

/// How the CPUs are grouped, and the pair each placement class of `--pin`
/// resolves to here (or why there is none).
pub fn topology() -> Finding {
    let t = match crate::topology::Topology::this_machine() {
        Ok(t) => t,
        Err(e) => {
            return Finding::new(
                "topology",
                Level::Info,
                e.to_string(),
                "the placement classes of --pin cannot be resolved: their rows say unsupported",
            )
        }
    };
    let allowed = crate::sys::affinity::allowed_cpus();
    let pairs: Vec<String> = crate::topology::CLASSES
        .iter()
        .map(|&c| match t.pair(c, &allowed) {
            Ok((x, y)) => format!("{c} → CPUs {x} and {y}"),
            Err(why) => format!("{c}: none ({why})"),
        })
        .collect();
    Finding::new(
        "topology",
        Level::Info,
        t.summary().line(),
        format!("--pin classes here: {}", pairs.join("; ")),
    )
}

pub fn smt((a, b): (usize, usize)) -> Finding {
    let shared = siblings(a);
    let active = read("/sys/devices/system/cpu/smt/active").unwrap_or_else(|| "unknown".into());
    if a != b && shared.contains(&b) {
        let others: Vec<usize> = crate::sys::affinity::allowed_cpus();
        let suggestion = super::suggested_pair(&others).map_or(
            "no allowed pair of CPUs on different cores".to_string(),
            |(x, y)| format!("run with --cpus {x},{y}"),
        );
        Finding::new(
            "SMT siblings",
            Level::Warn,
            format!("the cross CPUs {a} and {b} are siblings of one core (thread_siblings_list {shared:?})"),
            "'cross' then measures two hardware threads sharing one core's caches and execution units, not two cores",
        )
        .fix(suggestion)
    } else {
        Finding::new(
            "SMT siblings",
            Level::Ok,
            format!("CPUs {a} and {b} are on different cores (CPU {a} shares its core with {shared:?}; smt/active {active})"),
            "'cross' measures two cores",
        )
    }
}

/// The idle driver, and halt-polling when a virtual machine's guest polls.
pub fn idle() -> Vec<Finding> {
    let driver = read("/sys/devices/system/cpu/cpuidle/current_driver");
    let governor = read("/sys/devices/system/cpu/cpuidle/current_governor_ro")
        .or_else(|| read("/sys/devices/system/cpu/cpuidle/current_governor"));
    let mut out = vec![Finding::new(
        "cpuidle driver",
        Level::Info,
        format!(
            "{} (governor {})",
            driver.as_deref().unwrap_or("none"),
            governor.as_deref().unwrap_or("none")
        ),
        "what a CPU does when its process sleeps decides what a wake-up from another CPU costs",
    )];
    if driver.as_deref() == Some("haltpoll") {
        out.push(haltpoll());
    }
    out.extend(deep_states());
    out
}

fn haltpoll() -> Finding {
    let param = |name: &str| read(&format!("/sys/module/haltpoll/parameters/{name}"));
    let ns = param("guest_halt_poll_ns");
    let observed = format!(
        "guest_halt_poll_ns {}, grow {}, grow_start {}, shrink {}, allow_shrink {}",
        ns.as_deref().unwrap_or("?"),
        param("guest_halt_poll_grow").as_deref().unwrap_or("?"),
        param("guest_halt_poll_grow_start")
            .as_deref()
            .unwrap_or("?"),
        param("guest_halt_poll_shrink").as_deref().unwrap_or("?"),
        param("guest_halt_poll_allow_shrink")
            .as_deref()
            .unwrap_or("?"),
    );
    let meaning = if ns.as_deref() == Some("0") {
        "an idle vCPU halts at once: every cross-CPU wake-up is a VM exit and an interrupt through the host (tens of µs here); same-CPU figures are unaffected"
    } else {
        "an idle vCPU polls for up to guest_halt_poll_ns before halting, and the window grows and shrinks with the load: a wake-up inside it is cheap, after it a VM exit; cross-CPU figures follow the window and change between runs"
    };
    Finding::new("halt-polling", Level::Warn, observed, meaning).fix(
        "set one window for every run: echo N | sudo tee /sys/module/haltpoll/parameters/guest_halt_poll_ns, and echo N | sudo tee .../guest_halt_poll_allow_shrink (the kernel command line haltpoll.guest_halt_poll_ns=N does it at boot); compare cross-CPU figures only between runs with the same window",
    )
}

/// Idle states whose exit takes long enough to show in a round trip.
fn deep_states() -> Option<Finding> {
    let dir = "/sys/devices/system/cpu/cpu0/cpuidle";
    let mut deep = Vec::new();
    for i in 0.. {
        let state = format!("{dir}/state{i}");
        let Some(name) = read(&format!("{state}/name")) else {
            break;
        };
        let latency: u64 = read(&format!("{state}/latency"))
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let disabled = read(&format!("{state}/disable")).as_deref() == Some("1");
        if latency >= 10 && !disabled {
            deep.push(format!("{name} ({latency} µs exit)"));
        }
    }
    (!deep.is_empty()).then(|| {
        Finding::new(
            "deep idle states",
            Level::Warn,
            deep.join(", "),
            "a CPU that sleeps this deep takes that long to wake, which adds to every cross-CPU round trip",
        )
        .fix("sudo cpupower idle-set -D 10 (disables states with an exit latency above 10 µs until reboot)")
    })
}

pub fn isolation((a, b): (usize, usize)) -> Finding {
    let isolated = read("/sys/devices/system/cpu/isolated")
        .map(|t| cpu_list(&t))
        .unwrap_or_default();
    let nohz = read("/sys/devices/system/cpu/nohz_full")
        .map(|t| cpu_list(&t))
        .unwrap_or_default();
    let observed = format!("isolated {isolated:?}, nohz_full {nohz:?}");
    if isolated.contains(&a) && isolated.contains(&b) {
        Finding::new(
            "isolcpus",
            Level::Ok,
            observed,
            "no other task is scheduled on the CPUs used",
        )
    } else {
        Finding::new(
            "isolcpus",
            Level::Info,
            observed,
            "other tasks and the timer tick may run on the CPUs used, and show up as outliers in the tail",
        )
        .fix(format!("boot with isolcpus={a},{b} nohz_full={a},{b} and run with --cpus {a},{b}"))
    }
}

/// The load average, and the processes that used a CPU while we looked.
pub fn load() -> Finding {
    let avg = read("/proc/loadavg").unwrap_or_default();
    let one: f64 = avg
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cpus = crate::sys::affinity::allowed_cpus().len().max(1);
    let busy = busy_processes(std::time::Duration::from_millis(300));
    let names: Vec<String> = busy
        .iter()
        .take(4)
        .map(|(pid, comm, share)| format!("{comm} (pid {pid}, {:.0} % of a CPU)", share * 100.0))
        .collect();
    let observed = format!(
        "load average {} over {cpus} CPUs; busy now: {}",
        avg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    );
    // The load average lags a minute behind (an earlier run of ours shows
    // in it): what decides is who is busy now.
    if busy.is_empty() {
        let meaning = if one >= 0.5 * cpus as f64 {
            "nothing else is busy now; the load average still counts the last minute's work"
        } else {
            "the CPUs are free"
        };
        Finding::new("other load", Level::Ok, observed, meaning)
    } else {
        Finding::new(
            "other load",
            Level::Warn,
            observed,
            "other work takes CPU time from the two processes and delays their wake-ups: figures vary and tails grow",
        )
        .fix("stop the busy processes, or run on a quiet machine; on a shared VM this cannot be fixed from inside")
    }
}

/// (pid, name, share of one CPU) of every other process that used more
/// than a tenth of a CPU during `window`, busiest first.
fn busy_processes(window: std::time::Duration) -> Vec<(u32, String, f64)> {
    let me = std::process::id();
    let sample = || -> Vec<(u32, String, u64)> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me)
            .filter_map(|pid| {
                let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let (head, tail) = stat.rsplit_once(')')?;
                let comm = head.split_once('(')?.1.to_string();
                let f: Vec<&str> = tail.split_whitespace().collect();
                let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
                Some((pid, comm, ticks))
            })
            .collect()
    };
    let before = sample();
    std::thread::sleep(window);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut busy: Vec<(u32, String, f64)> = sample()
        .into_iter()
        .filter_map(|(pid, comm, t)| {
            let (_, _, t0) = before.iter().find(|b| b.0 == pid)?;
            let share = t.saturating_sub(*t0) as f64 / hz / window.as_secs_f64();
            (share > 0.1).then_some((pid, comm, share))
        })
        .collect();
    busy.sort_by(|a, b| b.2.total_cmp(&a.2));
    busy
}

pub fn clock() -> Finding {
    let base = "/sys/devices/system/clocksource/clocksource0";
    let current =
        read(&format!("{base}/current_clocksource")).unwrap_or_else(|| "unreadable".into());
    let available = read(&format!("{base}/available_clocksource")).unwrap_or_default();
    let cost = crate::timer::clock_overhead_ns();
    let observed =
        format!("{current} (available: {available}); one clock read costs {cost:.0} ns here");
    if current == "tsc" {
        Finding::new(
            "clock source",
            Level::Ok,
            observed,
            "clock reads stay in user space and cost tens of nanoseconds",
        )
    } else {
        let fix = if available.split_whitespace().any(|c| c == "tsc") {
            format!("echo tsc | sudo tee {base}/current_clocksource")
        } else {
            "tsc is not offered (unstable, or hidden by the hypervisor): cannot be changed here"
                .to_string()
        };
        Finding::new(
            "clock source",
            Level::Warn,
            observed,
            "a clock read that leaves user space costs more, and every round trip includes one",
        )
        .fix(fix)
    }
}

pub fn hypervisor() -> Finding {
    match crate::sys::cpuid::hypervisor() {
        Some(name) => Finding::new(
            "hypervisor",
            Level::Info,
            name,
            "virtual CPUs share physical ones with other guests; a wake-up across vCPUs goes through the host, and figures vary with the host's load",
        )
        .fix("cannot be changed from inside; same-CPU figures are the steadier ones here"),
        None => Finding::new("hypervisor", Level::Ok, "none (bare metal)", "CPUs are the machine's own"),
    }
}

/// Whether `--waits io-uring` can run here, by making a ring: the kernel
/// or `kernel.io_uring_disabled` may refuse it, and its rows would then be
/// unsupported.
pub fn io_uring() -> Finding {
    let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|v| format!("kernel.io_uring_disabled = {}", v.trim()))
        .unwrap_or_else(|_| "no kernel.io_uring_disabled".into());
    match crate::sys::uring::Ring::new() {
        Ok(_) => Finding::new(
            "io_uring",
            Level::Ok,
            format!("a ring was made ({sysctl})"),
            "run --waits io-uring measures receives submitted to an io_uring",
        ),
        Err(e) => Finding::new(
            "io_uring",
            Level::Info,
            e.to_string(),
            "run --waits io-uring gives unsupported rows here; the other ways of waiting are unaffected",
        )
        .fix("as root: sysctl kernel.io_uring_disabled=0 (or add the user to kernel.io_uring_group when it is 1)"),
    }
}

/// Whether `--isolation` can run here, by making the peer's side of the
/// widest deployment (every namespace, the mounts, a veth pair) for a
/// program that only prints its version.
pub fn containers() -> Finding {
    let what =
        "run --isolation same-pod,separate-containers puts the peer behind containers' namespaces";
    match crate::isolation::try_here(crate::harness::janitor::veth) {
        Ok(()) => Finding::new(
            "isolation",
            Level::Ok,
            "the namespaces, mounts and veth pair of separate-containers were made",
            what,
        ),
        Err(e) => Finding::new("isolation", Level::Info, e, "run --isolation gives unsupported rows here, saying why; without it nothing changes")
            .fix("run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN), as a container runtime does, outside a container that forbids unshare"),
    }
}

/// The kernel limits transports hit, as information: a limit makes a case
/// unsupported (and says so), it does not skew a figure.
pub fn limits() -> Vec<Finding> {
    crate::sys::limits::report()
        .into_iter()
        .map(|(name, value, what)| {
            Finding::new(&format!("{}{name}", super::LIMIT), Level::Info, value, what)
                .fix(crate::sys::limits::how_to_raise(&name))
        })
        .collect()
}
