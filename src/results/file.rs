//! Result files read and written: read bounded and validated, written
//! atomically (a run that dies while writing leaves the previous file, or
//! none, never half of one), and only over a regular file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::results::ResultFile;

pub fn write(path: &Path, result: &ResultFile) -> std::io::Result<()> {
    write_value(path, result)
}

/// Any serialisable document, written atomically.
pub fn write_value(path: &Path, result: &impl serde::Serialize) -> std::io::Result<()> {
    let pretty =
        String::from_utf8(serde_json::to_vec_pretty(result)?).expect("serde_json writes UTF-8");
    write_atomically(path, (numbers_on_one_line(&pretty) + "\n").as_bytes())
}

/// Pretty JSON, but with each array of numbers (a timeline's points, a
/// curve, trials) on one line: pretty-printed one number per line, they
/// would double a result file's size and bury its structure.
fn numbers_on_one_line(pretty: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    // The lines of `out` that open an array not yet closed.
    let mut open: Vec<usize> = Vec::new();
    for line in pretty.lines() {
        let trimmed = line.trim_start();
        if !matches!(trimmed, "]" | "],") {
            // A line that ends with `[` opens an array: a string's line
            // ends with its closing quote.
            if trimmed.ends_with('[') {
                open.push(out.len());
            }
            out.push(line.to_string());
            continue;
        }
        let Some(start) = open.pop() else {
            out.push(line.to_string());
            continue;
        };
        let items: Vec<&str> = out[start + 1..]
            .iter()
            .map(|l| l.trim().trim_end_matches(','))
            .collect();
        if items.iter().all(|i| one_line_value(i)) {
            let joined = format!("{}{}{trimmed}", out[start], items.join(", "));
            out.truncate(start);
            out.push(joined);
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

fn one_line_value(item: &str) -> bool {
    item.parse::<f64>().is_ok() || (item.starts_with('[') && item.ends_with(']'))
}

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place, so a reader sees the old file or the whole new one. Only a new
/// path or an existing regular file is ever replaced: a rename over a
/// device, a FIFO or a socket would destroy it (`--out /dev/null` as root
/// used to turn /dev/null into a plain file), and a rename over a symbolic
/// link would turn the user's link into our file. The file gets the mode a
/// plain `creat(0666)` would, under the process's umask.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let refuse = || match not_replaceable(path) {
        Some(kind) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file; ipcbench writes only regular files"),
        )),
        None => Ok(()),
    };
    refuse()?;
    // Made with 0666, which the kernel masks with the umask as creat does.
    let mut tmp = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(parent_dir(path))?;
    tmp.write_all(bytes)?;
    // Again at the rename: a link made while the bytes were written is
    // the user's too.
    refuse()?;
    tmp.persist(path)?;
    Ok(())
}

/// Why an existing path may not be replaced by a file of ours: a link
/// (the user's, whatever it points to) or anything but a regular file.
pub fn not_replaceable(path: &Path) -> Option<&'static str> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Some("a symbolic link"),
        _ => not_a_regular_file(path),
    }
}

/// The folder a path names its entry in (`.` for a bare name): where its
/// temporary twin goes, and what must be writable.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// What an existing path is, when it is something other than a regular
/// file (followed through symbolic links, as a rename would not be).
pub fn not_a_regular_file(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path).ok()?.file_type();
    Some(if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    })
}

/// The largest result file read: a full default run writes under 1 MiB,
/// and `--repeat 20` of every case a little more (trials add 8 bytes each).
pub const MAX_RESULT_BYTES: u64 = 16 << 20;

/// Why a result file was not read: each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("'{}' is {kind}; a result file must be a regular file", path.display())]
    NotARegularFile { path: PathBuf, kind: &'static str },
    #[error("cannot read result file '{}': {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("'{}' is over {} MiB; result files are smaller than that", path.display(), MAX_RESULT_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("'{}' is not a JSON result file: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("'{}' has schema_version {}; this ipcbench reads schema_version {} to {}", path.display(),
        found.map_or("missing".to_string(), |v| v.to_string()),
        crate::results::READS_SCHEMA_VERSIONS.start(), crate::results::READS_SCHEMA_VERSIONS.end())]
    SchemaVersion { path: PathBuf, found: Option<u64> },
    /// `at` is the path of the field at fault (`floors.cache_line_rtt_ns.p50`).
    #[error("'{}' does not match the result schema at {at}: {error}", path.display())]
    Schema {
        path: PathBuf,
        at: String,
        error: String,
    },
    #[error("'{}': {invalid}", path.display())]
    Invalid {
        path: PathBuf,
        invalid: super::validate::Invalid,
    },
}

/// Reads, parses and validates a result file. Only a regular file is
/// opened (a FIFO would block, a device never end), and at most
/// [`MAX_RESULT_BYTES`] of it are read.
pub fn read(path: &Path) -> Result<ResultFile, ReadError> {
    use std::io::Read;
    let path_buf = || path.to_path_buf();
    if let Some(kind) = not_a_regular_file(path) {
        return Err(ReadError::NotARegularFile {
            path: path_buf(),
            kind,
        });
    }
    let unreadable = |source| ReadError::Unreadable {
        path: path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_RESULT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_RESULT_BYTES {
        return Err(ReadError::TooLarge { path: path_buf() });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| ReadError::NotJson {
            path: path_buf(),
            source,
        })?;
    let found = value.get("schema_version").and_then(|v| v.as_u64());
    let readable = crate::results::READS_SCHEMA_VERSIONS;
    if !found.is_some_and(|v| v <= u32::MAX as u64 && readable.contains(&(v as u32))) {
        return Err(ReadError::SchemaVersion {
            path: path_buf(),
            found,
        });
    }
    let result: ResultFile =
        serde_path_to_error::deserialize(value).map_err(|e| ReadError::Schema {
            path: path_buf(),
            at: e.path().to_string(),
            error: e.inner().to_string(),
        })?;
    crate::results::validate::validate(&result).map_err(|invalid| ReadError::Invalid {
        path: path_buf(),
        invalid,
    })?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn arrays_of_numbers_are_written_on_one_line() {
        let value = serde_json::json!({"trials": [1.5, 2], "points": [[1, 2, 3], [4, 5, 6]],
            "names": ["a", "b"], "rows": [{"x": [1]}], "note": "a [ bracket"});
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let text = super::numbers_on_one_line(&pretty);
        assert!(text.contains("\"trials\": [1.5, 2]"), "{text}");
        assert!(
            text.contains("\"points\": [[1, 2, 3], [4, 5, 6]]"),
            "{text}"
        );
        assert!(text.contains("\"x\": [1]"), "{text}");
        assert!(text.contains("\"names\": [\n"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }
}
