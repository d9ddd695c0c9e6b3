//! Turning command-line words into validated values. Every parser names the
//! bad value and what is accepted, in one line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::harness::message::HEADER_BYTES;
use crate::harness::workload::{Fault, Injection};
use crate::transport;

/// The largest message the sweep accepts: beyond this the figures measure
/// memory bandwidth, not IPC.
pub const MAX_SIZE: usize = 64 << 20;

const SIZE_HELP: &str =
    "a number of bytes with an optional suffix B, KiB (K) or MiB (M), e.g. 64, 4KiB, 1MiB";

/// Parses `64`, `64B`, `4K`, `4KiB`, `1M`, `1MiB`.
/// Errors name what is accepted; clap's message already names the value.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "B" | "b" => 1,
        "K" | "k" | "KiB" | "kiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        _ => return Err(format!("expected {SIZE_HELP}")),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("expected {SIZE_HELP}"))?;
    let bytes = n
        .checked_mul(scale)
        .filter(|&b| b <= MAX_SIZE)
        .ok_or_else(|| format!("at most 64MiB; expected {SIZE_HELP}"))?;
    if bytes < HEADER_BYTES {
        return Err(format!(
            "at least {HEADER_BYTES} bytes (the header every message carries); expected {SIZE_HELP}"
        ));
    }
    Ok(bytes)
}

/// A duration with a unit, at most a day (`results::LONGEST`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = "expected a number with a unit from 0 to 24h, e.g. 500ms, 2s, 1m";
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d <= crate::results::LONGEST => Ok(d),
        _ => Err(format!("invalid duration '{s}': {expected}")),
    }
}

/// The shortest `--timeout`: below it a peer (Node's above all) has not
/// started before it is declared hung, and every case fails.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// `--timeout`: from a second to a day.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d < MIN_TIMEOUT => Err(format!(
            "at least 1s: a peer must be able to start and answer before it counts as hung (got '{s}')"
        )),
        d => Ok(d),
    }
}

/// A positive duration (for lengths and timeouts, where zero means nothing).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be more than zero, e.g. 500ms, 2s".to_string()),
        d => Ok(d),
    }
}

pub use crate::results::MAX_RATE;

/// `500`, `10k`, `1.5M`: messages per second, from 1 to 10M.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let help = "expected messages per second from 1 to 10M, e.g. 500, 10k, 1.5M";
    let t = s.trim();
    let (digits, scale) = match t.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1e3),
        None => match t.strip_suffix('M') {
            Some(d) => (d, 1e6),
            None => (t, 1.0),
        },
    };
    match digits.parse::<f64>().map(|v| v * scale) {
        Ok(r) if (1.0..=MAX_RATE).contains(&r) => Ok(r),
        _ => Err(help.to_string()),
    }
}

/// A whole number within `range`, or an error saying what is accepted
/// (clap's message already names the value).
fn whole_number(s: &str, range: std::ops::RangeInclusive<u64>, what: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ if *range.end() == u64::MAX => Err(format!(
            "expected {what}: a whole number, {} or more",
            range.start()
        )),
        _ => Err(format!(
            "expected {what}: a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// `-n`: timed messages per case, at least one.
pub fn parse_iterations(s: &str) -> Result<u64, String> {
    whole_number(s, 1..=u64::MAX, "a number of timed messages")
}

/// `--repeat`: sweeps over every case, 1 to 100.
pub fn parse_repeat(s: &str) -> Result<u32, String> {
    whole_number(s, 1..=100, "a number of sweeps").map(|n| n as u32)
}

/// `--memory-node`: a NUMA node's number; whether the machine has it is
/// checked against the machine's own nodes.
pub fn parse_node(s: &str) -> Result<usize, String> {
    let what = "a NUMA node's number (see `ipcbench doctor`)";
    whole_number(s, 0..=u64::from(u32::MAX), what).map(|n| n as usize)
}

/// The most sender processes a fan-in case starts.
pub const MAX_SENDERS: u32 = 64;

/// A number of fan-in senders, from 1 to 64.
pub fn parse_senders(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_SENDERS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of sender processes from 1 to {MAX_SENDERS}"
        )),
    }
}

/// The most subscriber processes a fan-out case starts: beyond it the
/// figures measure the scheduler, and a typo (10000) would fork-bomb.
pub const MAX_SUBSCRIBERS: u32 = 1024;

/// A number of fan-out subscribers, from 1 to 1024, and fewer than this
/// user may still start (RLIMIT_NPROC, less the processes it runs).
pub fn parse_subscribers(s: &str) -> Result<u32, String> {
    let what = "a number of subscriber processes";
    let n = whole_number(s, 1..=u64::from(MAX_SUBSCRIBERS), what)? as u32;
    match crate::sys::limits::processes_left() {
        Some(left) if u64::from(n) >= left => Err(format!(
            "{n} subscribers would pass RLIMIT_NPROC (ulimit -u): this user may start {left} more processes; expected {what} below that"
        )),
        _ => Ok(n),
    }
}

/// `--groups`: groups of hackbench's shape, 1 to 64 (each of
/// `--group-size` senders and as many receivers).
pub fn parse_groups(s: &str) -> Result<u32, String> {
    whole_number(s, 1..=64, "a number of groups").map(|n| n as u32)
}

/// `--group-size`: senders per group (and receivers), 1 to 64.
pub fn parse_group_size(s: &str) -> Result<u32, String> {
    whole_number(s, 1..=64, "a number of senders per group").map(|n| n as u32)
}

/// `--loops`: messages each sender writes to each receiver, 1 to 10M.
pub fn parse_loops(s: &str) -> Result<u64, String> {
    whole_number(s, 1..=10_000_000, "a number of loops")
}

/// `all`, or transport names separated by commas.
pub fn parse_mechanisms(list: &str) -> Result<Vec<&'static str>, String> {
    if list.trim() == "all" {
        return Ok(transport::names());
    }
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim) {
        let t = transport::by_name(name).ok_or_else(|| {
            format!(
                "unknown mechanism '{name}': expected all or a comma-separated list of {}",
                transport::names().join(", ")
            )
        })?;
        if !chosen.contains(&t.name()) {
            chosen.push(t.name());
        }
    }
    Ok(chosen)
}

/// `corrupt@N`, `drop@N`, … (test-only fault injection), optionally for
/// one transport: `slower@25:pipe`.
pub fn parse_injection(s: &str) -> Result<Injection, String> {
    let bad = || {
        format!(
            "invalid injection '{s}': expected corrupt@N, drop@N, repeat@N, swap@N, garbage@N, sender-dies@N, dies-holding@N, slow@0 or slower@PERCENT (1 to 1000), each optionally :TRANSPORT"
        )
    };
    let (fault, only) = match s.split_once(':') {
        Some((f, name)) => (
            f,
            Some(crate::transport::by_name(name).ok_or_else(bad)?.name()),
        ),
        None => (s, None),
    };
    let (kind, at) = fault.split_once('@').ok_or_else(bad)?;
    let fault = match kind {
        "corrupt" => Fault::Corrupt,
        "drop" => Fault::Drop,
        "repeat" => Fault::Repeat,
        "swap" => Fault::Swap,
        "garbage" => Fault::PeerGarbage,
        "sender-dies" => Fault::SenderDies,
        "slow" => Fault::SlowPeer,
        "dies-holding" => Fault::DiesHolding,
        "slower" => Fault::Slower,
        _ => return Err(bad()),
    };
    let at = at.parse().map_err(|_| bad())?;
    if fault == Fault::Slower && !(1..=1000).contains(&at) {
        return Err(bad());
    }
    Ok(Injection { fault, at, only })
}

/// Checks, before anything runs, that the result file can be written there,
/// so that a long run never ends in an unwritable path.
pub fn check_output_path(path: &Path) -> Result<PathBuf, Error> {
    check_name(path, "path")?;
    let dir = crate::results::file::parent_dir(path);
    if let Some(kind) = crate::results::file::not_replaceable(path) {
        return Err(Error::Usage(format!(
            "invalid output path '{}': it is {kind}; expected a new file or a regular file to replace, such as results/run.json",
            path.display()
        )));
    }
    writable_dir(path, dir)?;
    // An existing file we may not replace (immutable, read-only mount)
    // refuses to be opened for writing: found now, not after the run.
    if path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| {
                Error::Usage(format!(
                    "invalid output path '{}': cannot replace it ({e}); expected a file ipcbench may overwrite",
                    path.display()
                ))
            })?;
    }
    Ok(path.to_path_buf())
}

fn writable_dir(path: &Path, dir: &Path) -> Result<(), Error> {
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        Error::Usage(format!(
            "invalid output path '{}': cannot write in '{}' ({e}); expected a path in an existing, writable directory",
            path.display(),
            dir.display()
        ))
    })
}

/// Checks, before any work, that a folder of output can be put at `path`:
/// its parent exists and is writable (no parents are created), its name
/// fits, and `path` is new, an empty folder, or one ipcbench wrote, whose
/// own files only it replaces.
pub fn check_output_dir(path: &Path) -> Result<(), Error> {
    check_name(path, "folder")?;
    writable_dir(path, crate::results::file::parent_dir(path))?;
    crate::output::folder::check(path)
        .map_err(|e| Error::Usage(format!("invalid output folder '{}': {e}", path.display())))
}

/// Refuses an output folder that holds a file the command reads, or the
/// folder the user stands in: ipcbench builds beside the folder and then
/// replaces its own files in it, so neither can be inside.
pub fn check_apart(out: &Path, inputs: &[&Path]) -> Result<(), Error> {
    // A folder not made yet holds nothing.
    let Ok(folder) = std::fs::canonicalize(out) else {
        return Ok(());
    };
    let shown = out.display();
    for input in inputs {
        if std::fs::canonicalize(input).is_ok_and(|f| f.starts_with(&folder)) {
            return Err(Error::Usage(format!(
                "invalid output folder '{shown}': it holds '{}', which is read to make it, and its files are replaced; give another --out, or copy the file out first",
                input.display()
            )));
        }
    }
    let here = std::env::current_dir().and_then(std::fs::canonicalize);
    if here.is_ok_and(|h| h.starts_with(&folder)) {
        return Err(Error::Usage(format!(
            "invalid output folder '{shown}': it is the folder you are in ({}), which ipcbench would replace; name it from outside, e.g. --out ../NAME",
            folder.display()
        )));
    }
    Ok(())
}

/// A name the file system will take, found before the work rather than
/// after: not empty, not ending in `/` (for a file), each component within
/// the file system's NAME_MAX and the whole within PATH_MAX.
fn check_name(path: &Path, what: &str) -> Result<(), Error> {
    let bad = |why: String| {
        Err(Error::Usage(format!(
            "invalid output {what} '{}': {why}",
            path.display()
        )))
    };
    let text = path.as_os_str().as_encoded_bytes();
    if text.is_empty() {
        return bad("the name is empty; expected a path such as results/run.json".into());
    }
    if what == "path" && text.ends_with(b"/") {
        return bad("it ends in '/'; expected a file name, such as results/run.json".into());
    }
    let dir = crate::results::file::parent_dir(path);
    let name_max = nix::unistd::pathconf(dir, nix::unistd::PathconfVar::NAME_MAX)
        .ok()
        .flatten()
        .map_or(255, |n| n as usize);
    let longest = path.iter().map(|c| c.len()).max().unwrap_or(0);
    if longest > name_max {
        return bad(format!(
            "a name of {longest} bytes; this file system takes at most {name_max}"
        ));
    }
    if text.len() >= libc::PATH_MAX as usize {
        return bad(format!(
            "{} bytes long; paths are at most {} bytes",
            text.len(),
            libc::PATH_MAX - 1
        ));
    }
    Ok(())
}

/// The report folder of a result file: `results/run-X.json` gets
/// `results/run-X/`; a name without `.json` (or `.json` alone) gets
/// `NAME-report/`, never the result file's own path.
pub fn report_dir(result: &Path) -> PathBuf {
    let name = result.file_name().unwrap_or_default().to_string_lossy();
    match name.strip_suffix(".json") {
        Some(stem) if !stem.is_empty() => result.with_file_name(stem),
        _ => result.with_file_name(format!("{name}-report")),
    }
}

/// `A,B`: the CPU of `same` (and of the parent in `cross`) and the peer's
/// CPU in `cross`; both must be allowed to this process, and differ.
pub fn parse_cpus(s: &str) -> Result<(usize, usize), String> {
    let expected = "expected two different CPU numbers, e.g. 0,2 (see `ipcbench doctor` for a pair on different cores)";
    let numbers: Vec<usize> = s
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| expected.to_string())?;
    let [a, b] = numbers[..] else {
        return Err(expected.to_string());
    };
    if a == b {
        return Err(expected.to_string());
    }
    let allowed = crate::sys::affinity::allowed_cpus();
    for c in [a, b] {
        if !allowed.contains(&c) {
            return Err(format!(
                "CPU {c} is not one this process may use (allowed: {allowed:?})"
            ));
        }
    }
    Ok((a, b))
}

/// The CPUs a run uses: `--cpus`, else the first two allowed.
pub fn run_cpus(chosen: Option<(usize, usize)>) -> Vec<usize> {
    match chosen {
        Some((a, b)) => vec![a, b],
        None => crate::sys::affinity::allowed_cpus(),
    }
}

/// The pair a run pins to from its CPUs: `same` on the first, `cross` on
/// the first two (one CPU serves both); none without any.
pub fn cpu_pair(cpus: &[usize]) -> Option<(usize, usize)> {
    match cpus {
        [a, b, ..] => Some((*a, *b)),
        [a] => Some((*a, *a)),
        [] => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_the_rest() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        for bad in ["0", "abc", "5XB", "", "12 parsecs", "1GiB", "8", "65M"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("KiB"), "{e}");
        }
    }

    #[test]
    fn mechanisms_accept_all_and_names_only() {
        assert_eq!(parse_mechanisms("all").unwrap(), transport::names());
        assert_eq!(
            parse_mechanisms("fifo,pipe,fifo").unwrap(),
            ["fifo", "pipe"]
        );
        let e = parse_mechanisms("pipe,carrier-pigeon").unwrap_err();
        assert!(
            e.contains("'carrier-pigeon'") && e.contains("uds-dgram"),
            "{e}"
        );
    }

    #[test]
    fn a_report_folder_is_never_its_result_file() {
        for (file, dir) in [
            ("results/run.json", "results/run"),
            ("run", "run-report"),
            (".json", ".json-report"),
            ("a/b.JSON", "a/b.JSON-report"),
        ] {
            assert_eq!(report_dir(Path::new(file)), Path::new(dir));
        }
    }

    #[test]
    fn durations_need_units_and_lengths_must_be_positive() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5").unwrap_err().contains("500ms"));
        assert!(parse_positive_duration("0s").is_err());
    }
}
