//! `ipcbench gallery`: one static site from the result files of many
//! machines. A table of the machines; every case's figure on each machine,
//! absolute and as a multiple of that machine's own physical limits (what
//! makes a VM and a bare-metal server comparable); and each machine's full
//! report beside it. It reads result files only, of any schema this build
//! reads, from any machine.

mod page;

use std::path::{Path, PathBuf};

use crate::output::WriteError;
use crate::results::ResultFile;

/// The most files one gallery reads: far more machines than a page shows
/// readably, and a bound on the time a mistaken `/` would take.
pub const MAX_FILES: usize = 500;
/// How deep folders are searched for result files.
const MAX_DEPTH: usize = 4;

/// One readable result file, with the name the page gives it.
pub struct Entry {
    pub path: PathBuf,
    pub result: ResultFile,
    /// "m1", "m2"…: the column heads and the report folders.
    pub id: String,
    /// `ResultFile::identity`, computed once: for a file without a run id
    /// it is a digest of the whole content.
    identity: String,
}

/// What the gallery was made from.
pub struct Gallery {
    pub entries: Vec<Entry>,
    /// Files that could not be used, each with why, one line.
    pub refused: Vec<String>,
}

/// Reads every result file named or found under the folders named;
/// unreadable ones are listed with their reason. Fails only when no file
/// could be used.
pub fn gather(inputs: &[PathBuf]) -> Result<Gallery, String> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            search(input, 0, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    // A file named twice (itself, and in a folder named too) is read once.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    let mut gallery = Gallery {
        entries: Vec::new(),
        refused: Vec::new(),
    };
    for path in files {
        match crate::results::file::read(&path) {
            Ok(result) => gallery.add(path, result),
            Err(why) => gallery
                .refused
                .push(probe_file_named(&path).unwrap_or(why.to_string())),
        }
    }
    if gallery.entries.is_empty() {
        return Err(format!(
            "none of the {} files given is a readable result file{}",
            gallery.refused.len(),
            gallery
                .refused
                .first()
                .map_or(String::new(), |w| format!(" (first: {w})"))
        ));
    }
    Ok(gallery)
}

/// A probe file is a result of ipcbench's too, but not a run's: say so
/// rather than which field it lacks.
fn probe_file_named(path: &Path) -> Option<String> {
    let regular = std::fs::metadata(path).ok()?;
    if !regular.is_file() || regular.len() > crate::results::file::MAX_RESULT_BYTES {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice::<crate::results::probe::ProbeFile>(&text).ok()?;
    Some(format!(
        "'{}' is a probe file (ipcbench probe --json), not a run's result file",
        path.display()
    ))
}

impl Gallery {
    /// Adds a run, unless it is one already there (a copy of the same
    /// file in another folder).
    fn add(&mut self, path: PathBuf, result: ResultFile) {
        let identity = result.identity();
        if let Some(first) = self.entries.iter().find(|e| e.identity == identity) {
            self.refused.push(format!(
                "'{}' is the same run as '{}' (run {identity}); it is shown once",
                path.display(),
                first.path.display()
            ));
            return;
        }
        let id = format!("m{}", self.entries.len() + 1);
        self.entries.push(Entry {
            path,
            result,
            id,
            identity,
        });
    }
}

/// The `.json` files under `dir`, in name order. A folder ipcbench wrote
/// (a report, with its copy of the result) and hidden folders are skipped.
fn search(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), String> {
    if depth > MAX_DEPTH || dir.join(crate::output::folder::MANIFEST).exists() {
        return Ok(());
    }
    let listing =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list '{}': {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = listing.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let kind = std::fs::symlink_metadata(&path).map(|m| m.file_type());
        match kind {
            _ if hidden => {}
            Ok(k) if k.is_dir() => search(&path, depth + 1, files)?,
            Ok(k) if k.is_file() && path.extension().is_some_and(|e| e == "json") => {
                files.push(path)
            }
            _ => {}
        }
        if files.len() > MAX_FILES {
            return Err(format!(
                "more than {MAX_FILES} .json files under '{}'; name fewer files or folders",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Writes the site into `out` (a new folder, or one ipcbench made): the
/// page, and each machine's own report in a folder named by its id.
pub fn write(gallery: &Gallery, out: &Path) -> Result<PathBuf, WriteError> {
    let building = crate::output::folder::Building::beside(out)?;
    for e in &gallery.entries {
        if crate::sys::interrupt::interrupted() {
            return Err(WriteError::Interrupted);
        }
        crate::report::write(&e.result, &e.path, &building.path().join(&e.id), None).map_err(
            |why| WriteError::ReportOf {
                path: e.path.clone(),
                source: Box::new(why),
            },
        )?;
    }
    let index = building.path().join("index.html");
    std::fs::write(&index, page::page(gallery)).map_err(WriteError::io("write", &index))?;
    Ok(building.install()?.join("index.html"))
}
