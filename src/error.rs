//! The ways a command fails: the user asked for something we cannot do
//! (exit 2), something went wrong while doing it (exit 1), or the user
//! stopped it (exit 130, as a shell reports Ctrl-C).

use std::fmt;

#[derive(Debug)]
pub enum Error {
    Usage(String),
    Runtime(String),
    Interrupted,
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Runtime(_) => 1,
            Error::Interrupted => 130,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Runtime(m) => f.write_str(m),
            Error::Interrupted => f.write_str("interrupted; nothing was written"),
        }
    }
}

impl std::error::Error for Error {}
