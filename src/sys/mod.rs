//! The few operating-system services the harness needs beyond what the
//! transports use directly: interruptible blocking calls, CPU placement and
//! per-thread CPU accounting.

pub mod affinity;
pub mod cma;
pub mod cpuid;
pub mod fd_passing;
pub mod futex;
pub mod interrupt;
pub mod limits;
pub mod mapping;
pub mod memory;
pub mod namespaces;
pub mod netlink;
pub mod numa;
pub mod pipes;
pub mod posix_sem;
pub mod process;
pub mod sysv;
pub mod uring;

use std::time::Duration;

/// Removes a folder and everything in it, trying again (`attempts` times,
/// `pause` apart) while another process still adds to it: a dying helper's
/// socket, a file an abandoned thread was writing. Gone already is done.
pub fn remove_tree(path: &std::path::Path, attempts: u32, pause: Duration) {
    for _ in 0..attempts {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => std::thread::sleep(pause),
            _ => return,
        }
    }
}

/// An error that makes the case `unsupported` (a kernel limit, a missing
/// facility) rather than `failed`.
pub fn unsupported(reason: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, reason)
}

/// An error with its errno's name first when it has one ("ENOENT: No
/// such file or directory"): what evidence quotes.
pub fn with_errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{:?}: {e}", nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// CPU time (user + system) consumed so far by the calling thread.
///
/// The parent measures its main thread only, so the watchdog thread's
/// bookkeeping never shows up as transport cost.
pub fn thread_cpu_time() -> Duration {
    cpu_time(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time (user + system) consumed so far by the whole calling process.
pub fn process_cpu_time() -> Duration {
    cpu_time(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
}

/// The scheduler's own count, to the nanosecond: getrusage's user and
/// system split is sampled at ticks and rescaled, so a case shorter than a
/// few ticks could show more CPU time than wall time.
fn cpu_time(clock: nix::time::ClockId) -> Duration {
    match nix::time::clock_gettime(clock) {
        Ok(t) => Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32),
        // Cannot fail for these clocks on Linux; a zero keeps the
        // measurement going rather than aborting a case over bookkeeping.
        Err(_) => Duration::ZERO,
    }
}

/// 16 hex digits no other user can guess, for the names of a case's
/// objects: with the pid alone, another user could create them first and
/// make every case fail (O_EXCL keeps them from being taken over).
pub fn unguessable() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No /dev/urandom (a bare chroot): the clock's nanoseconds, which
        // are at least not the pid's.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = (t.as_nanos() as u64).to_ne_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A private folder (sockets, FIFOs, the Node peer's script) that only
/// this user can list or enter.
pub fn private_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("ipcbench-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
}

/// A process's scheduler state letter (`R`, `S`, `Z`...), or None once it
/// is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name, which may itself
    // hold spaces or parentheses.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// This process's file-creation mask, read without changing it (umask(2)
/// can only be read by setting it). 0o022 if the kernel does not say.
pub fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// Moves the calling process to SCHED_FIFO at `priority`.
pub fn set_fifo_priority(priority: i32) -> nix::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: param is a valid sched_param for the duration of the call.
    nix::errno::Errno::result(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) })
        .map(drop)
}

/// SIGKILLs the process group `leader` leads: a child started with its own
/// group (every peer and helper is), and whatever it started in turn (a
/// Node parent's Node child). Errors are ignored: it may be gone already.
pub fn kill_group(leader: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(leader as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Makes a child started by `cmd` die when this process does, even by
/// SIGKILL, and keeps it out of our process group, so Ctrl-C reaches only
/// us and we stop our children in order.
pub fn dies_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = nix::unistd::getpid();
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe calls (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The parent may have died before the prctl took effect.
            if nix::unistd::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}
