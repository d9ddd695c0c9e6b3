//! One module per IPC mechanism, all behind [`Transport`].
//!
//! A transport only moves bytes between two ends and says what it cannot do.
//! It never times and never verifies: the harness does both, once, for all.

mod fifo;
mod pipe;
mod stream;
mod uds_dgram;
mod uds_stream;

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

pub use stream::FdStream;

/// One established end of a channel.
pub trait Channel {
    /// Sends one whole message; returns once the transport has taken all of it.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives one whole message into `buf` and returns its length. Byte
    /// streams fill `buf` exactly; message transports return what the message
    /// held (a length other than `buf.len()` is the verifier's business).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

/// Where the two processes of one case meet.
pub struct Rendezvous<'a> {
    /// A private directory, removed by the harness, for named objects (FIFOs,
    /// socket paths).
    pub dir: &'a Path,
    /// Unique for this case on this machine; names global objects (queues,
    /// segments) so that parallel runs never collide.
    pub tag: &'a str,
    /// Bytes per message for this case.
    pub size: usize,
}

/// What the parent has made before the peer process starts.
pub struct Prepared {
    /// Descriptors the peer inherits; the harness passes their numbers in
    /// `IPCBENCH_CHANNEL_FD` and closes its own copies once the peer runs.
    pub child_fds: Vec<OwnedFd>,
    /// Completes the parent's end once the peer is running. It may block
    /// until the peer has joined (and is interrupted if the peer dies).
    pub connect: Box<dyn FnOnce() -> io::Result<Box<dyn Channel>>>,
}

pub trait Transport: Sync {
    /// The name used on the command line and in result files.
    fn name(&self) -> &'static str;
    /// The mechanism in a few words, as `ipcbench list` shows it.
    fn description(&self) -> &'static str;
    /// Whether this host can run the transport at all, and why not.
    fn availability(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether a message of `size` bytes can be carried, and the kernel's
    /// reason if not (the limit that stops it, and how to raise it).
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }
    /// Parent side, before the peer starts: create the channel's resources.
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared>;
    /// Peer side: join what `prepare` made, with the inherited descriptors.
    fn join(&self, at: &Rendezvous, inherited: Vec<OwnedFd>) -> io::Result<Box<dyn Channel>>;
}

/// Every transport, in the order of the claimed table.
pub fn all() -> &'static [&'static dyn Transport] {
    &[
        &pipe::Pipe,
        &fifo::Fifo,
        &uds_stream::UdsStream,
        &uds_dgram::UdsDgram,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Transport> {
    all().iter().copied().find(|t| t.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|t| t.name()).collect()
}
