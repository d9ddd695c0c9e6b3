//! Result files turned into other formats, one file per format. Nothing here
//! measures; everything here works from a result file alone.

pub mod bmf;
pub mod csv;
pub mod github_action_benchmark;
pub mod markdown;
