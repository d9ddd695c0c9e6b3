//! The libraries users pick (iceoryx2, ZeroMQ) are measured like every
//! transport: verified rows, and nothing of theirs left behind, whether a
//! case ends well or the harness is SIGKILLed; and a user's own iceoryx2
//! on the same machine is never touched.

mod common;
use common::*;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MIDDLEWARE: [&str; 2] = ["iceoryx2", "zeromq"];

/// Every entry of /dev/shm, and whether iceoryx2's default root exists.
fn shared_memory() -> (Vec<String>, bool) {
    let mut names: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (names, Path::new("/tmp/iceoryx2").exists())
}

/// What appeared in /dev/shm since `before`: every name, not only
/// ipcbench's, since a library may choose its own (this binary's tests hold
/// IpcWatch, one at a time).
fn new_segments(before: &[String]) -> Vec<String> {
    shared_memory()
        .0
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect()
}

/// A user's own iceoryx2 segment, there before the run and after it.
struct Planted(PathBuf);

impl Planted {
    fn new() -> Planted {
        let path = PathBuf::from(format!("/dev/shm/iox2_users_own_{}", std::process::id()));
        std::fs::write(&path, b"someone else's").unwrap();
        Planted(path)
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn middleware_rows_are_verified_and_leave_nothing_of_the_library_behind() {
    let watch = IpcWatch::start();
    let planted = Planted::new();
    let (before, had_root) = shared_memory();
    let sb = Sandbox::new();
    let out = sb.out();
    let o = sb.run(&[
        "run",
        "-m",
        "iceoryx2,zeromq",
        "--patterns",
        "latency,throughput,fan-out",
        "--subscribers",
        "2",
        "--sizes",
        "64,64KiB",
        "--duration",
        "200ms",
        "--warmup",
        "50ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let result = sb.result();
    let rows = rows(&result);
    assert_eq!(rows.len(), 2 * 3 * 2 * 2, "two placements, sizes, patterns");
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["family"], "middleware", "{row}");
        let errors = &row["errors"];
        for kind in ["lost", "duplicated", "reordered", "corrupted"] {
            assert_eq!(errors[kind], 0, "{kind}: {row}");
        }
    }
    assert_eq!(std::fs::read(&planted.0).unwrap(), b"someone else's");
    assert_eq!(new_segments(&before), Vec::<String>::new());
    assert_eq!(shared_memory().1, had_root, "/tmp/iceoryx2 appeared");
    sb.assert_nothing_left();
    // iceoryx2's start-up warning about a missing config file, or any of
    // its log lines, would land here.
    let stderr = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(!stderr.contains("config"), "{stderr}");
    watch.assert_nothing_new();
}

#[test]
fn a_harness_killed_mid_case_leaves_no_library_process_file_or_segment() {
    let watch = IpcWatch::start();
    let (before, had_root) = shared_memory();
    let cases: [&[&str]; 2] = [
        &["--patterns", "latency"],
        &["--patterns", "fan-out", "--subscribers", "3"],
    ];
    for mechanism in MIDDLEWARE {
        for pattern in cases {
            let sb = Sandbox::new();
            let out = sb.out();
            let mut args = vec!["run", "-m", mechanism, "--sizes", "64", "--duration", "5s"];
            args.extend_from_slice(pattern);
            args.extend(["--pin", "none", "--out", out.to_str().unwrap()]);
            let run = sb.spawn(&args);
            let what = format!("{mechanism} {pattern:?}");
            let peers = if pattern.len() > 2 { 3 } else { 1 };
            wait_until(
                &format!("{what}: its peers"),
                Duration::from_secs(20),
                || children(run.id()).iter().filter(|c| c.1 != 'Z').count() >= peers,
            );
            std::thread::sleep(Duration::from_millis(300));
            kill(Pid::from_raw(run.id() as i32), Signal::SIGKILL).unwrap();
            wait_until(
                &format!("{what}: its processes to exit"),
                Duration::from_secs(5),
                || sb.processes().is_empty(),
            );
            let _ = run.wait_with_output();
            // The janitor removes what is left once it sees the harness gone.
            wait_until(
                &format!("{what}: its segments to go"),
                Duration::from_secs(5),
                || new_segments(&before).is_empty(),
            );
            sb.assert_nothing_left();
            assert_eq!(
                shared_memory().1,
                had_root,
                "{what}: /tmp/iceoryx2 appeared"
            );
        }
    }
    watch.assert_nothing_new();
}
