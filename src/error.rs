//! The two ways a command fails: the user asked for something we cannot do
//! (exit 2), or something went wrong while doing it (exit 1).

use std::fmt;

#[derive(Debug)]
pub enum Error {
    Usage(String),
    Runtime(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
