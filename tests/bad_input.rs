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
    let made = nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    );
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
