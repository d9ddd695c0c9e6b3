//! Folders ipcbench writes (a report, a github-action-benchmark export),
//! and how it tells one it made from one it did not.
//!
//! Each such folder holds a manifest naming exactly the files ipcbench
//! put there. A folder is written into only when it is new, empty, or
//! holds nothing but a manifest and the files it lists; and only those
//! files are ever replaced or removed. Anything else is the user's, and
//! the folder is refused, naming that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::failure::{Refused, WriteError};

pub const MANIFEST: &str = ".ipcbench-manifest.json";

#[derive(Serialize, Deserialize)]
struct Manifest {
    made_by: String,
    files: Vec<String>,
}

/// Why a folder may not receive ipcbench's files.
pub fn check(dir: &Path) -> Result<(), Refused> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Refused::Link(dir.to_path_buf()));
    }
    let entries = match std::fs::read_dir(dir) {
        Err(_) if std::fs::symlink_metadata(dir).is_err() => return Ok(()),
        Err(source) => {
            return Err(Refused::Unlistable {
                path: dir.to_path_buf(),
                source,
            })
        }
        Ok(entries) => entries,
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return Ok(());
    }
    let listed = read_manifest(dir).unwrap_or_default();
    for name in names.iter().filter(|n| *n != MANIFEST) {
        let ours = match std::fs::symlink_metadata(dir.join(name)) {
            Ok(m) if m.is_file() => true,
            // A folder of ours inside one of ours (a gallery's reports).
            Ok(m) if m.is_dir() => {
                read_manifest(&dir.join(name)).is_some() && check(&dir.join(name)).is_ok()
            }
            _ => false,
        };
        if !ours || !listed.contains(name) {
            return Err(Refused::NotOurs(dir.join(name)));
        }
    }
    Ok(())
}

/// The files an earlier ipcbench listed in `dir`, if it left a manifest.
fn read_manifest(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read(dir.join(MANIFEST)).ok()?;
    let m: Manifest = serde_json::from_slice(&text).ok()?;
    // A name with a separator is none of ours: never follow it elsewhere.
    (m.made_by == "ipcbench" && m.files.iter().all(|f| !f.contains('/') && f != ".."))
        .then_some(m.files)
}

/// Every folder being built, so that work abandoned on Ctrl-C (whose
/// drops never run) leaves none; once abandoned, no new one is made.
static STAGING: std::sync::Mutex<Staging> = std::sync::Mutex::new(Staging {
    folders: Vec::new(),
    abandoned: false,
});

struct Staging {
    folders: Vec<PathBuf>,
    abandoned: bool,
}

/// Removes every folder still being built and refuses new ones: for the
/// thread that gives up on work it cannot stop. A file the work writes
/// afterwards has no folder to land in.
pub fn abandon_building() {
    let mut staging = STAGING.lock().unwrap_or_else(|e| e.into_inner());
    staging.abandoned = true;
    for dir in staging.folders.drain(..) {
        // A file may land between the listing and the removal: try again
        // at once, since Ctrl-C must end the command within a second.
        crate::sys::remove_tree(&dir, 10, std::time::Duration::ZERO);
    }
}

/// A folder being made beside its destination, moved into place whole by
/// [`Building::install`]; dropped unfinished, it leaves nothing.
pub struct Building {
    dir: tempfile::TempDir,
    dest: PathBuf,
}

impl Building {
    /// A hidden folder beside `dest`, in which the files are made.
    pub fn beside(dest: &Path) -> Result<Building, WriteError> {
        let parent = crate::results::file::parent_dir(dest);
        let mut staging = STAGING.lock().unwrap_or_else(|e| e.into_inner());
        if staging.abandoned {
            return Err(WriteError::Interrupted);
        }
        let dir = tempfile::Builder::new()
            .prefix(".ipcbench-building-")
            .tempdir_in(parent)
            .map_err(WriteError::io("make a folder in", parent))?;
        staging.folders.retain(|f| f.exists());
        staging.folders.push(dir.path().to_path_buf());
        Ok(Building {
            dir,
            dest: dest.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves every file made into the destination: a new destination is
    /// the whole folder renamed into place; an earlier one of ours gets
    /// each file replaced, and loses the files of its own that the new set
    /// lacks. Nothing else in it is touched (it is checked again here).
    pub fn install(self) -> Result<PathBuf, WriteError> {
        // Held while files move, so that Ctrl-C abandons the work before or
        // after, never with the destination half old and half new.
        let staging = STAGING.lock().unwrap_or_else(|e| e.into_inner());
        if staging.abandoned {
            return Err(WriteError::Interrupted);
        }
        let files = self.names()?;
        let manifest = Manifest {
            made_by: "ipcbench".into(),
            files: files.clone(),
        };
        let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        let manifest = self.path().join(MANIFEST);
        std::fs::write(&manifest, text).map_err(WriteError::io("write", manifest))?;
        check(&self.dest)?;
        let mode = 0o777 & !crate::sys::umask();
        let _ = std::fs::set_permissions(
            self.path(),
            std::os::unix::fs::PermissionsExt::from_mode(mode),
        );
        if std::fs::symlink_metadata(&self.dest).is_err() {
            let built = self.dir.keep();
            return std::fs::rename(&built, &self.dest)
                .map(|()| self.dest.clone())
                .map_err(|source| {
                    let _ = std::fs::remove_dir_all(&built);
                    WriteError::Io {
                        doing: "move the folder into",
                        path: self.dest.clone(),
                        source,
                    }
                });
        }
        let earlier = read_manifest(&self.dest).unwrap_or_default();
        // The manifest last: until then the folder still lists its old
        // files, and every one of them is ours either way.
        for name in files.iter().chain(std::iter::once(&MANIFEST.to_string())) {
            let old = self.dest.join(name);
            if old.is_dir() && !old.is_symlink() {
                remove_ours(&old);
            }
            std::fs::rename(self.path().join(name), &old)
                .map_err(WriteError::io("move a file to", &old))?;
        }
        for stale in earlier.iter().filter(|f| !files.contains(f)) {
            remove_ours(&self.dest.join(stale));
        }
        Ok(self.dest.clone())
    }

    fn names(&self) -> Result<Vec<String>, WriteError> {
        let mut names: Vec<String> = std::fs::read_dir(self.path())
            .map_err(WriteError::io("list", self.path()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != MANIFEST)
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Removes a file of ours, or a folder of ours with only the files its
/// manifest lists (checked again, as the user may have added one since):
/// anything else stays, and so does the folder holding it.
fn remove_ours(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        let _ = std::fs::remove_file(path);
        return;
    }
    let Some(files) = read_manifest(path).filter(|_| check(path).is_ok()) else {
        return;
    };
    for name in files {
        remove_ours(&path.join(name));
    }
    let _ = std::fs::remove_file(path.join(MANIFEST));
    let _ = std::fs::remove_dir(path);
}
