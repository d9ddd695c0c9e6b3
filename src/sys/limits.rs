//! Kernel limits that decide which message sizes an IPC mechanism accepts.
//! They are results, not crashes: transports quote them in `unsupported`
//! rows, and `ipcbench list` prints them.

use nix::sys::resource::{getrlimit, Resource};

/// A sysctl's value, by its dotted name (`fs.mqueue.msgsize_max`).
pub fn sysctl(name: &str) -> Option<u64> {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's address-space limit (`ulimit -v`, RLIMIT_AS soft), in
/// bytes; None when unlimited.
pub fn address_space() -> Option<u64> {
    getrlimit(Resource::RLIMIT_AS)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|&soft| soft != libc::RLIM_INFINITY)
}

/// How many more processes (threads count too) this user may start under
/// RLIMIT_NPROC (`ulimit -u`), or None when nothing limits it: unlimited,
/// or root, whom the kernel does not hold to it.
pub fn processes_left() -> Option<u64> {
    let (soft, _) = getrlimit(Resource::RLIMIT_NPROC).ok()?;
    let uid = nix::unistd::getuid();
    if soft == libc::RLIM_INFINITY || uid.is_root() {
        return None;
    }
    Some(soft.saturating_sub(tasks_of(uid.as_raw())))
}

/// The threads of every process whose real user is `uid`, as
/// /proc/PID/status tells them: what the kernel counts against RLIMIT_NPROC.
fn tasks_of(uid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let field = |status: &str, name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter(|s| field(s, "Uid:") == Some(u64::from(uid)))
        .map(|s| field(&s, "Threads:").unwrap_or(1))
        .sum()
}

/// The per-user byte budget for POSIX message queues (soft, hard).
pub fn rlimit_msgqueue() -> Option<(u64, u64)> {
    getrlimit(Resource::RLIMIT_MSGQUEUE).ok()
}

/// Whether the mqueue file system is mounted where queues can be listed.
pub fn mqueue_mounted() -> bool {
    std::fs::read_to_string("/proc/mounts")
        .map(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("mqueue"))
        })
        .unwrap_or(false)
}

/// Size in bytes of the tmpfs on /dev/shm, where POSIX shared memory lives.
pub fn dev_shm_size() -> Option<u64> {
    let s = nix::sys::statvfs::statvfs("/dev/shm").ok()?;
    Some(s.blocks() as u64 * s.fragment_size() as u64)
}

/// Free bytes on /dev/shm.
pub fn dev_shm_free() -> Option<u64> {
    let s = nix::sys::statvfs::statvfs("/dev/shm").ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// The kernel's default for `kernel.shmmax` and `kernel.shmall`,
/// ULONG_MAX - 2^24: "no limit" (memory bounds a segment), not a size.
pub const SHM_NO_LIMIT: u64 = u64::MAX - (1 << 24);

/// A limit as a person should read it: a sentinel as what it means, with
/// the raw value beside it.
pub fn describe(value: u64) -> String {
    if value >= SHM_NO_LIMIT {
        format!("no limit, memory-bound (raw {value})")
    } else {
        value.to_string()
    }
}

/// Every limit worth knowing, as (name, value, what it bounds).
pub fn report() -> Vec<(String, String, &'static str)> {
    let show = |v: Option<u64>| v.map_or("unreadable".to_string(), describe);
    let mut rows: Vec<(String, String, &'static str)> = [
        ("fs.mqueue.msg_max", "POSIX queue: messages per queue"),
        ("fs.mqueue.msgsize_max", "POSIX queue: bytes per message"),
        ("fs.mqueue.queues_max", "POSIX queue: queues on the system"),
        ("kernel.msgmax", "System V queue: bytes per message"),
        ("kernel.msgmnb", "System V queue: bytes per queue"),
        ("kernel.msgmni", "System V queue: queues on the system"),
        ("kernel.shmmax", "System V shm: bytes per segment"),
        ("kernel.shmall", "System V shm: pages in all segments"),
        ("kernel.sem", "System V semaphores: per set (first of four)"),
        (
            "net.core.wmem_default",
            "socket send buffer (bounds a Unix datagram)",
        ),
        (
            "net.core.wmem_max",
            "largest send buffer setsockopt may ask for",
        ),
        (
            "fs.pipe-max-size",
            "largest pipe buffer F_SETPIPE_SZ may ask for",
        ),
        (
            "net.unix.max_dgram_qlen",
            "Unix datagrams queued on a socket before the sender blocks",
        ),
    ]
    .into_iter()
    .map(|(n, what)| (n.to_string(), show(sysctl(n)), what))
    .collect();
    rows.push((
        "RLIMIT_MSGQUEUE".into(),
        rlimit_msgqueue().map_or("unreadable".into(), |(s, h)| format!("{s} (hard {h})")),
        "POSIX queue: bytes per user, all queues",
    ));
    rows.push((
        "/dev/shm free".into(),
        show(dev_shm_free()),
        "POSIX shared memory: bytes",
    ));
    rows.push((
        "/dev/mqueue".into(),
        if mqueue_mounted() {
            "mounted"
        } else {
            "not mounted"
        }
        .into(),
        "POSIX queues work either way; mounted, they can be listed",
    ));
    rows
}

/// How to raise a limit of `report`, or why it cannot be raised here.
pub fn how_to_raise(name: &str) -> String {
    match name {
        "RLIMIT_MSGQUEUE" => "ulimit -q BYTES up to the hard limit; above it only with CAP_SYS_RESOURCE (limits.conf msgqueue, or prlimit as root)".into(),
        "/dev/shm free" => "sudo mount -o remount,size=SIZE /dev/shm".into(),
        "/dev/mqueue" => "sudo mkdir -p /dev/mqueue && sudo mount -t mqueue none /dev/mqueue (ipcbench mounts it itself as root)".into(),
        sysctl => format!("sudo sysctl -w {sysctl}=VALUE (until reboot; a file in /etc/sysctl.d/ keeps it)"),
    }
}

/// Mounts the mqueue file system on /dev/mqueue when it is absent and we
/// are root, so that leftover POSIX queues can be listed (queues work
/// without it). Returns what happened, for the run's log.
pub fn ensure_mqueue_mounted() -> Result<&'static str, String> {
    if mqueue_mounted() {
        return Ok("already mounted");
    }
    if !nix::unistd::geteuid().is_root() {
        return Err("/dev/mqueue is not mounted and we are not root: leftover POSIX queues cannot be listed".into());
    }
    std::fs::create_dir_all("/dev/mqueue").map_err(|e| format!("creating /dev/mqueue: {e}"))?;
    nix::mount::mount(
        Some("none"),
        "/dev/mqueue",
        Some("mqueue"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .map(|_| "mounted mqueue on /dev/mqueue")
    .map_err(|e| {
        format!("mounting mqueue on /dev/mqueue: {e}; leftover POSIX queues cannot be listed")
    })
}
