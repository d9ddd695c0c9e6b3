//! Waiting for another process, always with a limit and always giving up
//! on Ctrl-C: a child that does not end (a hung peer, a `node` wrapper
//! that sleeps, a grandchild holding our pipe) must never hang the run.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{dies_with_parent, interrupt, kill_group};

/// How often a bounded wait looks at the child and the stop flag.
const POLL: Duration = Duration::from_millis(2);

/// How long a child is still given once the user has asked to stop: enough
/// to finish what takes milliseconds (the janitor's removals), and the run
/// still ends within a second.
const GRACE_ONCE_STOPPED: Duration = Duration::from_millis(300);

/// Polls `exited` until it says the child is gone (true), `limit` passes,
/// or the user stopped the run more than a short grace ago (false). The one
/// waiting loop every bounded wait for another process goes through.
pub fn exits_within(limit: Duration, mut exited: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if exited() {
            return true;
        }
        let allowed = match interrupt::interrupted() {
            true => limit.min(GRACE_ONCE_STOPPED),
            false => limit,
        };
        if started.elapsed() >= allowed {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits up to `limit` (less if the user stops the run) for `child`, which
/// leads its own process group; then kills the group and reaps the child.
/// Returns its status if it ended by itself.
pub fn reap_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    let exited = exits_within(limit, || match child.try_wait() {
        Ok(Some(s)) => {
            status = Some(s);
            true
        }
        Ok(None) => false,
        Err(_) => true,
    });
    if !exited {
        kill_group(child.id());
        // After SIGKILL to the group, wait returns at once (a SIGSTOPped
        // child is killed too: SIGKILL needs no scheduling).
        let _ = child.wait();
    }
    status
}

/// What a short-lived program printed on its standard output, if it exits
/// within `limit`. It runs in its own process group, which is killed
/// whatever happens, so a grandchild that keeps the pipe open cannot make
/// us wait for an end of file.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<Vec<u8>, Failure> {
    dies_with_parent(cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new().spawn(move || {
        let mut out = Vec::new();
        // Bounded: a version line, not a stream.
        let _ = (&mut stdout).take(64 << 10).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    // No thread to read with (a thread limit): the program is not waited for.
    if let Err(e) = reader {
        reap_within(&mut child, Duration::ZERO);
        return Err(Failure::Spawn(e));
    }
    let status = reap_within(&mut child, limit);
    // The group is gone now (killed or ended), so the pipe's writers are
    // too, and the reader meets its end of file; one that left the group
    // and holds the pipe costs a short wait and what it kept back.
    kill_group(child.id());
    let out = rx
        .recv_timeout(Duration::from_millis(200))
        .unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(out),
        Some(s) => Err(Failure::Ended(
            s,
            String::from_utf8_lossy(&out).into_owned(),
        )),
        None if interrupt::interrupted() => Err(Failure::Interrupted),
        None => Err(Failure::TooLong(limit)),
    }
}

/// Why `output_within` has no output.
#[derive(Debug)]
pub enum Failure {
    /// The program could not be started (ENOENT: there is none).
    Spawn(std::io::Error),
    /// It exited unsuccessfully, having printed this.
    Ended(ExitStatus, String),
    TooLong(Duration),
    Interrupted,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Failure::Spawn(e) => write!(f, "could not be started: {e}"),
            Failure::Ended(s, _) => write!(f, "failed: {s}"),
            Failure::TooLong(d) => write!(
                f,
                "did not exit within {}: killed",
                humantime::format_duration(*d)
            ),
            Failure::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// This program as a path that stays valid while this process lives, even
/// when its file is deleted or replaced (as `cargo build` does during a
/// run): the kernel's link to the very binary that runs. Every process
/// started from it runs the same build.
pub fn own_exe() -> std::io::Result<std::path::PathBuf> {
    let link = std::path::PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    match std::fs::metadata(&link) {
        Ok(_) => Ok(link),
        Err(_) => std::env::current_exe(),
    }
}

/// What became of the file this program was started from, if it is no
/// longer the binary that runs: deleted, or replaced by another file.
pub fn own_file_changed() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let running = std::fs::metadata("/proc/self/exe").ok()?;
    let link = std::fs::read_link("/proc/self/exe").ok()?;
    let link = link.to_string_lossy();
    let path = link.strip_suffix(" (deleted)").unwrap_or(&link);
    match std::fs::metadata(path) {
        Err(_) => Some(format!("'{path}' was deleted during the run")),
        Ok(now) if (now.dev(), now.ino()) != (running.dev(), running.ino()) => Some(format!(
            "'{path}' was replaced by another file during the run"
        )),
        Ok(_) => None,
    }
}
