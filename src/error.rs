//! The ways a command fails: the user asked for something we cannot do
//! (exit 2), something went wrong while doing it (exit 1), or the user
//! stopped it (exit 130, as a shell reports Ctrl-C). The layers below say
//! why in their own types; a command keeps only their words and the exit
//! code they call for.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
    #[error("interrupted; nothing was written")]
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

    /// Bad input, in the words of the error that found it.
    pub fn usage(e: impl std::fmt::Display) -> Error {
        Error::Usage(e.to_string())
    }

    /// A failure while doing the work, in the words of its error.
    pub fn runtime(e: impl std::fmt::Display) -> Error {
        Error::Runtime(e.to_string())
    }
}
