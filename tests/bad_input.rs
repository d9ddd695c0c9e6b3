//! Bad input: one line naming the value and what is accepted, exit 2,
//! nothing written.

mod common;
use common::*;

fn refused(args: &[&str], names: &str, accepts: &str) {
    let sb = Sandbox::new();
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let o = sb.run(&full);
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {lines:?}");
    assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
    assert!(lines[0].contains(names), "{args:?}: {}", lines[0]);
    assert!(lines[0].contains(accepts), "{args:?}: {}", lines[0]);
    assert!(o.stdout.is_empty());
    assert!(
        !sb.dir.path().join("results").exists(),
        "nothing is half-written"
    );
    sb.assert_nothing_left();
}

#[test]
fn unknown_mechanism() {
    refused(&["-m", "pipe,smoke-signal"], "'smoke-signal'", "uds-stream");
}

#[test]
fn bad_sizes() {
    for s in ["0", "abc", "5XB"] {
        refused(&["--sizes", s], &format!("'{s}'"), "KiB");
    }
}

#[test]
fn bad_duration() {
    refused(&["--duration", "soon"], "'soon'", "500ms");
    refused(&["--duration", "0s"], "'0s'", "more than zero");
}

#[test]
fn negative_values_are_named_with_their_accepted_range() {
    // Issue 35: each of these was taken for a flag ("unexpected argument
    // '-6' found"), naming neither the value nor the range.
    refused(&["-s", "-64"], "'-64'", "a number of bytes");
    refused(&["-d", "-1s"], "'-1s'", "from 0 to 24h");
    refused(&["--warmup", "-1s"], "'-1s'", "from 0 to 24h");
    refused(&["--cpus", "-1,0"], "'-1,0'", "two different CPU numbers");
    refused(&["--memory-node", "-1"], "'-1'", "a NUMA node's number");
    refused(&["-n", "-3"], "'-3'", "1 or more");
    refused(&["--repeat", "-1"], "'-1'", "from 1 to 100");
    refused(&["--senders", "-2"], "'-2'", "from 1 to 64");
    refused(&["--rates", "-5"], "'-5'", "from 1 to 10M");
}

#[test]
fn a_malformed_or_negative_percentage_is_refused() {
    let sb = Sandbox::new();
    for (bad, accepts) in [("10%%", "such as 10%"), ("-5%", "between 0% and 1000%")] {
        let o = sb.run(&["compare", BASELINE, BASELINE, "--max-regression", bad]);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {lines:?}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains(&format!("'{bad}'")) && lines[0].contains(accepts),
            "{lines:?}"
        );
    }
}

#[test]
fn a_report_into_the_folder_it_is_read_from_or_stood_in_is_refused() {
    // Issue 35: exit 1 and a message about ipcbench's own staging folder.
    let sb = Sandbox::new();
    let folder = sb.dir.path().join("earlier");
    let o = sb.run(&["report", BASELINE, "--out", folder.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let before = std::fs::read(folder.join("index.html")).unwrap();
    let attempts: [(&[&str], &str); 3] = [
        (
            &["report", "result.json", "--out", "."],
            "it holds 'result.json'",
        ),
        (&["report", BASELINE, "--out", "."], "the folder you are in"),
        (
            &["gallery", "result.json", "--out", "."],
            "it holds 'result.json'",
        ),
    ];
    for (args, why) in attempts {
        let o = sb.command(args).current_dir(&folder).output().unwrap();
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(why), "{lines:?}");
    }
    let inside = folder.join("result.json");
    let o = sb.run(&[
        "report",
        inside.to_str().unwrap(),
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(std::fs::read(folder.join("index.html")).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ipcbench-building"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn unknown_pin_mode() {
    refused(&["--pin", "diagonal"], "'diagonal'", "same, cross, none");
}

#[test]
fn unwritable_output_path() {
    refused(
        &["--out", "/nonexistent/dir/r.json"],
        "'/nonexistent/dir/r.json'",
        "writable directory",
    );
}

#[test]
fn unknown_subcommand() {
    let sb = Sandbox::new();
    let o = sb.run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr_lines(&o).len(), 1, "{:?}", stderr_lines(&o));
}

/// A copy at `path` of the memory device with minor number `minor` (3:
/// /dev/null, 7: /dev/full), so that a regression harms the copy, never the
/// machine's own. Making it needs root.
fn device_copy(path: &std::path::Path, minor: u64) -> nix::Result<()> {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, minor),
    )
}

/// An output path that exists and is not a regular file is refused before
/// any work, in every command that writes one: renaming the result over a
/// device would replace it (as root, /dev/null became a plain file).
#[test]
fn outputs_that_are_not_regular_files_are_refused_and_left_alone() {
    use std::os::unix::fs::FileTypeExt;
    let sb = Sandbox::new();
    let fifo = sb.dir.path().join("sink.fifo");
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    let fifo = fifo.to_str().unwrap();
    // A copy of /dev/null's device node, so that a regression destroys the
    // copy and not the machine's /dev/null (creating it needs root; the
    // real one is only read then).
    let null = sb.dir.path().join("null");
    let made = device_copy(&null, 3);
    let null = if made.is_ok() {
        null.to_str().unwrap()
    } else {
        fifo
    };
    let baseline = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json");
    let cases: [&[&str]; 5] = [
        &["run", "-m", "pipe", "--quick", "--out", null],
        &["run", "-m", "pipe", "--quick", "--out", fifo],
        &["probe", "--json", null],
        &["export", baseline, "--format", "bmf", "--out", null],
        &["export", baseline, "--format", "markdown", "--out", fifo],
    ];
    for args in cases {
        let o = sb.run(args);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(
            lines[0].contains("character device") || lines[0].contains("a FIFO"),
            "{args:?}: {}",
            lines[0]
        );
        assert!(o.stdout.is_empty(), "{args:?}: no work was done");
    }
    let device = std::fs::metadata(null).unwrap().file_type();
    assert!(
        device.is_char_device() || made.is_err(),
        "the device is still a device"
    );
    let sink = std::fs::metadata(fifo).unwrap().file_type();
    assert!(sink.is_fifo(), "the FIFO is still a FIFO");
    sb.assert_nothing_left();
}

/// Files are created as any program's are: 0666 less the umask (they were
/// always 0600, the temporary file's mode).
#[test]
fn written_files_honour_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let baseline = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json");
    for (umask, mode) in [("022", 0o644), ("027", 0o640)] {
        let out = sb.dir.path().join(format!("export-{umask}.md"));
        let script =
            format!("umask {umask} && exec \"$0\" export \"$1\" --format markdown --out \"$2\"");
        let o = std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_ipcbench"), baseline])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "umask {umask}");
    }
}

const BASELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/results/baseline.json");

/// The committed baseline with one change, written into the sandbox.
fn doctored(sb: &Sandbox, name: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(BASELINE).unwrap()).unwrap();
    change(&mut v);
    let path = sb.dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

fn first_ok<'a>(v: &'a mut serde_json::Value, pattern: &str) -> &'a mut serde_json::Value {
    v["rows"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["status"] == "ok" && r["pattern"] == pattern)
        .unwrap()
}

/// Files that parse but say impossible things are refused by every reader,
/// with one line naming the value.
#[test]
fn result_files_that_cannot_be_true_are_refused() {
    let sb = Sandbox::new();
    type Change = fn(&mut serde_json::Value);
    let cases: [(&str, Change, &str); 9] = [
        (
            "no-rtt",
            |v| {
                drop(
                    first_ok(v, "latency")
                        .as_object_mut()
                        .unwrap()
                        .remove("rtt_ns"),
                )
            },
            "no rtt_ns",
        ),
        (
            "no-trials",
            |v| first_ok(v, "latency")["trials"] = serde_json::json!([]),
            "no trials",
        ),
        (
            "zero-trial",
            |v| first_ok(v, "latency")["trials"] = serde_json::json!([0.0]),
            "trials[0] is 0",
        ),
        (
            "negative-trial",
            |v| first_ok(v, "throughput")["trials"] = serde_json::json!([-5.0]),
            "trials[0] is -5",
        ),
        (
            "zero-rate",
            |v| first_ok(v, "throughput")["msgs_per_s"] = serde_json::json!(0.0),
            "msgs_per_s is 0",
        ),
        (
            "negative-cpu",
            |v| first_ok(v, "latency")["cpu_ns_per_msg"]["child"] = serde_json::json!(-1.0),
            "cpu_ns_per_msg.child is -1",
        ),
        (
            "negative-time",
            |v| first_ok(v, "latency")["elapsed_s"] = serde_json::json!(-0.5),
            "elapsed_s is -0.5",
        ),
        (
            "twice",
            |v| {
                let row = first_ok(v, "latency").clone();
                v["rows"].as_array_mut().unwrap().push(row);
            },
            "appears twice",
        ),
        (
            "long-name",
            |v| first_ok(v, "latency")["mechanism"] = serde_json::json!("x".repeat(65_536)),
            "mechanism name",
        ),
    ];
    for (name, change, says) in cases {
        let file = doctored(&sb, &format!("{name}.json"), change);
        for args in [
            vec!["compare", BASELINE, &file],
            vec!["export", &file, "--format", "bmf"],
            vec!["export", &file, "--format", "markdown"],
            vec!["report", &file, "--out", "report"],
        ] {
            let o = sb.run(&args);
            let lines = stderr_lines(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {args:?}: {lines:?}");
            assert_eq!(lines.len(), 1, "{name} {args:?}: {lines:?}");
            assert!(lines[0].contains(says), "{name}: {}", lines[0]);
            assert!(lines[0].len() < 500, "{name}: the line quotes too much");
        }
    }
}

/// Devices, FIFOs and huge files are refused at once: nothing blocks and
/// nothing grows without bound.
#[test]
fn result_files_are_read_bounded() {
    let sb = Sandbox::new();
    let fifo = sb.dir.path().join("writerless.fifo");
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    let huge = sb.dir.path().join("huge.json");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len((16 << 20) + 1).unwrap();
    for (path, says) in [
        ("/dev/zero", "character device"),
        (fifo.to_str().unwrap(), "a FIFO"),
        (huge.to_str().unwrap(), "over 16 MiB"),
    ] {
        let started = std::time::Instant::now();
        let o = sb.run(&["export", path, "--format", "bmf"]);
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(2), "{path}: {lines:?}");
        assert!(lines[0].contains(says), "{path}: {lines:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

/// A reader that goes away (`| head -1`) or a full device ends the printing,
/// never the command: exit codes stay 0/1, never a panic's 101, and the
/// files a run writes do not depend on the terminal.
#[test]
fn closed_or_full_stdout_and_stderr_never_panic() {
    use std::process::Stdio;
    let sb = Sandbox::new();
    let o = {
        let mut c = sb.command(&["compare", BASELINE, BASELINE]);
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    };
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    let full = sb.dir.path().join("full");
    let made = device_copy(&full, 7);
    let out = sb.out();
    let mut run = sb.command(&[
        "run",
        "-m",
        "pipe",
        "--sizes",
        "64",
        "--pin",
        "none",
        "--duration",
        "50ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    if made.is_ok() {
        let sink = || std::fs::OpenOptions::new().write(true).open(&full).unwrap();
        run.stdout(sink()).stderr(sink());
    } else {
        run.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let status = run.status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(sb.result()["complete"], true);
    assert!(
        sb.dir.path().join("result/index.html").exists(),
        "the report was written"
    );
}

/// A folder of output needs an existing parent, as a file does: no command
/// creates missing parents, and an existing folder is replaced only if it
/// is an earlier report.
#[test]
fn output_folders_are_checked_like_files() {
    let sb = Sandbox::new();
    let missing = sb.dir.path().join("no/such/folder");
    let busy = sb.dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    for out in [&missing, &busy] {
        let o = sb.run(&["report", BASELINE, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{:?}", stderr_lines(&o));
        assert_eq!(stderr_lines(&o).len(), 1);
    }
    assert!(!sb.dir.path().join("no").exists());
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );
    // An earlier report is replaced whole, and nothing is left beside it.
    let report = sb.dir.path().join("report");
    for _ in 0..2 {
        let o = sb.run(&["report", BASELINE, "--out", report.to_str().unwrap()]);
        assert!(o.status.success(), "{:?}", stderr_lines(&o));
    }
    let names: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".ipcbench")),
        "{names:?}"
    );
}
