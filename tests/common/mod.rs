//! Runs the real binary in a private TMPDIR, so that every file the run
//! might leave behind is visible, and reads back its result file.
#![allow(dead_code)]

pub mod browser;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::Builder::new()
                .prefix("ipcbench-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn tmp(&self) -> PathBuf {
        let t = self.dir.path().join("tmp");
        std::fs::create_dir_all(&t).unwrap();
        t
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("result.json")
    }

    /// The binary with `args`; a `run` skips the property probes (they have
    /// their own tests and would add seconds to every run here).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ipcbench"));
        c.args(args)
            .env("TMPDIR", self.tmp())
            .current_dir(self.dir.path());
        if args.first() == Some(&"run") {
            c.arg("--no-probe");
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// A run that must exit 0 (its stderr tells why not), and its result file.
    pub fn run_ok(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        self.result()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Processes started from this sandbox that are still alive (they
    /// inherit its TMPDIR), zombies excluded.
    pub fn processes(&self) -> Vec<u32> {
        let marker = format!("TMPDIR={}", self.tmp().display());
        let me = std::process::id();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let zombie = stat
                    .rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
                !zombie && env.split(|&b| b == 0).any(|v| v == marker.as_bytes())
            })
            .collect()
    }

    pub fn result(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.out()).unwrap()).unwrap()
    }

    /// Fails if the run left anything in its TMPDIR (private directories,
    /// FIFOs, socket files).
    pub fn assert_nothing_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// Removes the sandbox even while a process that outlived its test (a
/// browser's renderer closing its profile) still writes into it: TempDir
/// gives up at the first error and leaves the folder behind.
impl Drop for Sandbox {
    fn drop(&mut self) {
        let path = self.dir.path();
        for _ in 0..50 {
            match std::fs::remove_dir_all(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => return,
            }
        }
    }
}

/// `--sizes SIZE`, unless no transport of `mechanisms` (a comma-separated
/// list) carries a payload: ipcbench refuses a flag that changes nothing.
pub fn sizes_arg<'a>(mechanisms: &str, size: &'a str) -> Vec<&'a str> {
    let any_payload = mechanisms
        .split(',')
        .any(|m| ipcbench::transport::by_name(m.trim()).is_none_or(|t| t.carries_payload()));
    if any_payload {
        vec!["--sizes", size]
    } else {
        Vec::new()
    }
}

pub fn rows(result: &Value) -> &Vec<Value> {
    result["rows"].as_array().unwrap()
}

pub fn errors(row: &Value) -> (u64, u64, u64, u64) {
    let e = &row["errors"];
    let f = |k: &str| e[k].as_u64().unwrap();
    (f("lost"), f("duplicated"), f("reordered"), f("corrupted"))
}

/// The children of `pid` that run a peer (ipcbench's, Node's, the
/// probe's helpers), with their state letter (R, S, Z, ...): its janitor
/// lives as long as the run and is not one.
pub fn children(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let list = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for c in list
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
        {
            let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .unwrap_or('?');
            let cmdline = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            // Only once it runs a peer's program: between fork and exec a
            // child (the janitor too) still shows the run's own command line.
            // A zombie shows none, and is kept: unreaped peers must be seen.
            let peer = cmdline.split(|&b| b == 0).any(|a| {
                a == b"__peer" || a.ends_with(b"ipcbench-peer.js") || a == b"__probe-peer"
            });
            if !peer && state != 'Z' {
                continue;
            }
            out.push((c, state));
        }
    }
    out
}

/// The peer of the run `pid` started as member `n` of several (a fan-in's
/// sender, a fan-out's subscriber), once it runs.
pub fn member(pid: u32, n: u32) -> Option<u32> {
    let marker = format!("\"member\":{n}");
    children(pid).into_iter().map(|c| c.0).find(|c| {
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default())
            .contains(&marker)
    })
}

pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every transport, as the binary knows them.
pub fn all() -> Vec<&'static str> {
    ipcbench::transport::names()
}

/// Whether `mechanism` carries a payload (the semaphore moves a signal).
pub fn carries_payload(mechanism: &str) -> bool {
    ipcbench::transport::by_name(mechanism).is_none_or(|t| t.carries_payload())
}

static IPC_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// IPC objects that exist on the machine now: POSIX names containing
/// "ipcbench" in /dev/shm and /dev/mqueue, and every System V id.
#[derive(Debug, PartialEq)]
pub struct IpcObjects(Vec<String>);

impl IpcObjects {
    pub fn now() -> IpcObjects {
        let mut v = Vec::new();
        for dir in ["/dev/shm", "/dev/mqueue"] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.contains("ipcbench") {
                        v.push(format!("{dir}/{name}"));
                    }
                }
            }
        }
        for kind in ["msg", "sem", "shm"] {
            let table =
                std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap_or_default();
            for line in table.lines().skip(1) {
                if let Some(id) = line.split_whitespace().nth(1) {
                    v.push(format!("sysv {kind} {id}"));
                }
            }
        }
        v.sort();
        IpcObjects(v)
    }
}

/// Holds the machine's IPC namespace still for one test: snapshots taken
/// before and after must not see another test's objects in flight.
pub struct IpcWatch {
    before: IpcObjects,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl IpcWatch {
    pub fn start() -> IpcWatch {
        let serial = IPC_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        // Listing POSIX queues needs the mqueue file system; we are root in CI.
        let _ = ipcbench::sys::limits::ensure_mqueue_mounted();
        IpcWatch {
            before: IpcObjects::now(),
            _serial: serial,
        }
    }

    pub fn assert_nothing_new(&self) {
        let after = IpcObjects::now();
        let new: Vec<_> = after
            .0
            .iter()
            .filter(|o| !self.before.0.contains(o))
            .collect();
        assert!(new.is_empty(), "IPC objects left behind: {new:?}");
    }
}

/// A moment between `from` and `to`, different on every call: signals in
/// the fault tests land at times nobody chose.
pub fn some_moment(from: Duration, to: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let span = (to - from).as_micros() as u64;
    from + Duration::from_micros(h.finish() % span.max(1))
}

/// A probe file's cell for `mechanism` and `property` (its key).
pub fn probe_cell<'a>(file: &'a Value, mechanism: &str, property: &str) -> &'a Value {
    let row = file["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mechanism"] == mechanism)
        .unwrap_or_else(|| panic!("no row {mechanism}"));
    &row["cells"][property]
}
