//! What a run or a probe leaves in the kernel's namespaces, removed even if
//! it is SIGKILLed.
//!
//! A peer removes its channel's objects when the harness dies (see
//! peer.rs), but not when it is already gone: killed by the watchdog or by
//! a probe experiment, or killed together with the harness. And some probe
//! experiments need an object that outlives every process holding it (a
//! message left by an exited sender). So one janitor process (`__janitor`,
//! in its own process group so Ctrl-C leaves it be) is told every channel,
//! name, key, folder and veth pair as it is made. When its standard input closes,
//! which is when its parent ends by any means, it removes what is still
//! there and exits. Names and keys hold the parent's pid, so nothing of
//! anyone else's matches them; channels are forgotten once closed, since
//! the kernel reuses System V ids.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

static JANITOR: Mutex<Option<(Child, ChildStdin)>> = Mutex::new(None);

/// Starts the janitor, unless one is running; true if this call started
/// it (and so should `finish` it). Without one (it could not start) the
/// work goes on; only a SIGKILL could then leave something behind.
pub fn start() -> bool {
    let mut janitor = lock();
    if janitor.is_some() {
        return false;
    }
    let Ok(exe) = crate::sys::process::own_exe() else {
        return false;
    };
    let mut cmd = Command::new(exe);
    cmd.arg("__janitor")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let stdin = child.stdin.take().expect("stdin is piped");
    // A janitor that stops reading (SIGSTOPped, say) must not stop the run
    // once the pipe is full: an entry it cannot take is dropped.
    let flags = nix::fcntl::fcntl(&stdin, nix::fcntl::FcntlArg::F_GETFL)
        .map(nix::fcntl::OFlag::from_bits_truncate)
        .unwrap_or(nix::fcntl::OFlag::empty());
    let _ = nix::fcntl::fcntl(
        &stdin,
        nix::fcntl::FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
    );
    *janitor = Some((child, stdin));
    true
}

/// How long the janitor may take to remove what is left: little, since the
/// run removed everything itself; more means it is stopped or stuck. After
/// Ctrl-C it gets the short grace every bounded wait gives.
const FINISH_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Closes the janitor's input and waits while it removes anything left; a
/// janitor that does not finish in time is killed, so that the run ends.
pub fn finish() {
    let Some((mut child, stdin)) = lock().take() else {
        return;
    };
    drop(stdin);
    let exited =
        crate::sys::process::exits_within(FINISH_WITHIN, || !matches!(child.try_wait(), Ok(None)));
    if exited {
        return;
    }
    crate::output::warn(&format!(
        "the janitor (pid {}) did not finish in time (stopped?): killed; the run had removed its objects itself",
        child.id()
    ));
    let _ = child.kill();
    let _ = child.wait();
}

/// A POSIX name (queue, semaphore or segment) about to be created.
pub fn name(name: &str) {
    tell(&["name", name]);
}

/// A System V key about to be used.
pub fn key(key: i32) {
    tell(&["key", &key.to_string()]);
}

/// A private folder (sockets, FIFOs).
pub fn folder(path: &Path) {
    tell(&["folder", &path.to_string_lossy()]);
}

/// A veth pair about to be made, by its host end's name.
pub fn veth(name: &str) {
    tell(&["veth", name]);
}

/// A transport's channel just made: `orphaned(tag, token)` removes it.
pub fn channel(mechanism: &str, tag: &str, token: &str) {
    tell(&["channel", mechanism, tag, token]);
}

/// The channel is gone: its System V ids may now be someone else's.
pub fn channel_closed(mechanism: &str, tag: &str, token: &str) {
    tell(&["forget", "channel", mechanism, tag, token]);
}

/// A peer just started, leading its own process group: killed with it
/// should the harness die and the peer miss its parent-death signal (one
/// that arrives between fork and exec reaches the handler the child still
/// shares with us, and is lost).
pub fn peer(pid: u32, tag: &str) {
    tell(&["peer", &pid.to_string(), tag]);
}

/// The peer is reaped: its pid may now be someone else's.
pub fn peer_reaped(pid: u32, tag: &str) {
    tell(&["forget", "peer", &pid.to_string(), tag]);
}

fn tell(fields: &[&str]) {
    if let Some((_, stdin)) = lock().as_mut() {
        // Tabs and newlines never occur in these names; one line an entry,
        // written at once: a pipe takes up to PIPE_BUF bytes whole or not at
        // all, so a full pipe drops the entry, never half of it.
        let line = format!("{}\n", fields.join("\t"));
        let _ = stdin.write(line.as_bytes());
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<(Child, ChildStdin)>> {
    JANITOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// The janitor's side: collect entries until its parent is gone, then
/// remove them all. Returns the exit code.
pub fn serve() -> i32 {
    let mut entries: Vec<Vec<String>> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let fields: Vec<String> = line.split('\t').map(str::to_string).collect();
        match fields.split_first() {
            Some((first, rest)) if first == "forget" => entries.retain(|e| e[..] != *rest),
            Some(_) => entries.push(fields),
            None => {}
        }
    }
    // Peers first, so that none is left to hold or remake what follows.
    let (peers, rest): (Vec<_>, Vec<_>) = entries.iter().partition(|e| e[0] == "peer");
    peers.into_iter().chain(rest).for_each(|e| remove(e));
    0
}

fn remove(entry: &[String]) {
    let strs: Vec<&str> = entry.iter().map(String::as_str).collect();
    match strs[..] {
        ["name", n] => {
            let _ = nix::mqueue::mq_unlink(n);
            let _ = crate::sys::posix_sem::unlink(n);
            let _ = nix::sys::mman::shm_unlink(n);
        }
        ["key", k] => {
            if let Ok(k) = k.parse() {
                crate::sys::sysv::remove_keyed(k);
            }
        }
        ["peer", pid, tag] => kill_peer(pid, tag),
        ["folder", p] => {
            // A helper that dies with the harness may still be adding a
            // socket or a FIFO: up to a second for it to stop.
            let pause = std::time::Duration::from_millis(20);
            crate::sys::remove_tree(std::path::Path::new(p), 50, pause);
        }
        ["veth", name] => crate::isolation::remove_veth(name),
        ["channel", m, tag, token] => {
            if let Some(t) = crate::transport::by_name(m) {
                t.orphaned(tag, token);
            }
        }
        _ => {}
    }
}

/// Kills a peer's process group, if `pid` is still that peer: its command
/// line holds the case's unguessable tag, so a reused pid is left alone.
fn kill_peer(pid: &str, tag: &str) {
    let Ok(pid) = pid.parse::<i32>() else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if tag.is_empty() || !cmdline.windows(tag.len()).any(|w| w == tag.as_bytes()) {
        return;
    }
    use nix::sys::signal::{kill, Signal};
    let _ = kill(nix::unistd::Pid::from_raw(-pid), Signal::SIGKILL);
    let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
}
