//! Why a file or folder for a person (a report, a gallery, an export)
//! was not written: each says which path, and what stopped it.

use std::path::PathBuf;

use crate::results::distribution::BadHistogram;

/// What every refusal of a folder ends with: what would be accepted.
const EXPECTED: &str = "expected a new or empty folder, or one ipcbench wrote";

/// A folder ipcbench may not write into: it holds something that is not
/// ipcbench's (see `folder.rs`).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("'{}' is a symbolic link, the user's: ipcbench never writes through or over a link; {EXPECTED}", .0.display())]
    Link(PathBuf),
    #[error("'{}' cannot be listed ({source}); {EXPECTED}", path.display())]
    Unlistable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("'{}' is not a file ipcbench made there; {EXPECTED} (it lists its files in {})", .0.display(), super::folder::MANIFEST)]
    NotOurs(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("cannot {doing} '{}': {source}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Plotters' error, which is generic over its backend: kept as its words.
    #[error("drawing '{}': {detail}", path.display())]
    Draw { path: PathBuf, detail: String },
    #[error("interrupted; nothing was written")]
    Interrupted,
    #[error(transparent)]
    Histogram(#[from] BadHistogram),
    #[error("the report of '{}': {source}", path.display())]
    ReportOf {
        path: PathBuf,
        source: Box<WriteError>,
    },
}

impl WriteError {
    /// An I/O error while `doing` something to `path`.
    pub fn io(
        doing: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> WriteError {
        let path = path.into();
        move |source| WriteError::Io {
            doing,
            path,
            source,
        }
    }
}
