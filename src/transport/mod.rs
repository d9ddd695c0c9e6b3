//! One module per IPC mechanism, all behind [`Transport`].
//!
//! A transport only moves bytes between two ends and says what it cannot do.
//! It never times and never verifies: the harness does both, once, for all.

mod bounded_buffer;
mod eventfd_shm;
mod fifo;
mod interprocess;
mod ipc_channel;
mod node_ipc;
mod packets;
mod pipe;
mod posix_mq;
mod semaphore;
mod shm_posix_sem;
mod shm_ring;
mod shm_sysv_sem;
mod socketpair;
mod stream;
mod sysv_mq;
mod tcp;
mod uds_dgram;
mod uds_seqpacket;
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
    /// Called once the peer has joined: both ends now hold the channel, so
    /// names (queues, segments, semaphores) can be removed and nothing
    /// outlives the two processes, even if both are killed.
    fn peer_joined(&mut self) -> io::Result<()> {
        Ok(())
    }
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
    /// Handed to the peer as is (ids of System V objects, for instance).
    pub token: String,
    /// Completes the parent's end once the peer is running. It may block
    /// until the peer has joined (and is interrupted if the peer dies).
    pub connect: Box<dyn FnOnce() -> io::Result<Box<dyn Channel>>>,
}

impl Prepared {
    /// A channel whose parent end is ready now, with nothing to hand over.
    pub fn ready(channel: Box<dyn Channel>) -> Prepared {
        Prepared {
            child_fds: Vec::new(),
            token: String::new(),
            connect: Box::new(move || Ok(channel)),
        }
    }
}

/// What the peer receives from the parent.
pub struct Inherited {
    pub fds: Vec<OwnedFd>,
    pub token: String,
}

/// Removes named objects when dropped, unless removed earlier: a case that
/// fails halfway leaves nothing behind either.
pub struct Names {
    names: Vec<String>,
    unlink: fn(&str),
}

impl Names {
    pub fn new(unlink: fn(&str)) -> Names {
        Names {
            names: Vec::new(),
            unlink,
        }
    }
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
    pub fn remove_all(&mut self) {
        for n in self.names.drain(..) {
            (self.unlink)(&n);
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// An error that makes the case `unsupported` (a kernel limit, a missing
/// facility) rather than `failed`.
pub fn unsupported(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, reason)
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
    /// False for mechanisms that only signal (a semaphore): their rows have
    /// no message size, and the harness checks counts instead of contents.
    fn carries_payload(&self) -> bool {
        true
    }
    /// Parent side, before the peer starts: create the channel's resources.
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared>;
    /// Peer side: join what `prepare` made.
    fn join(&self, at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>>;
    /// Peer side, when the harness has died: remove what it made and can no
    /// longer remove (System V objects, names not yet unlinked). `tag` and
    /// `token` are those the peer was started with. Errors are ignored: the
    /// objects may be gone already.
    fn orphaned(&self, _tag: &str, _token: &str) {}
}

/// Every transport, in the order of the claimed table.
pub fn all() -> &'static [&'static dyn Transport] {
    &[
        &pipe::Pipe,
        &fifo::Fifo,
        &uds_stream::UdsStream,
        &uds_dgram::UdsDgram,
        &posix_mq::PosixMq,
        &sysv_mq::SysvMq,
        &shm_posix_sem::ShmPosixSem,
        &shm_sysv_sem::ShmSysvSem,
        &semaphore::Semaphore,
        &tcp::Tcp,
        &socketpair::Socketpair,
        &uds_seqpacket::UdsSeqpacket,
        &eventfd_shm::EventfdShm,
        &shm_ring::ShmRing,
        &node_ipc::NodeIpc,
        &ipc_channel::IpcChannel,
        &interprocess::Interprocess,
    ]
}

/// The transports that stand for a row of the claimed comparison table; the
/// others are there for comparison.
const FROM_CLAIMED_TABLE: [&str; 9] = [
    "pipe",
    "fifo",
    "uds-stream",
    "uds-dgram",
    "posix-mq",
    "sysv-mq",
    "shm-posix-sem",
    "shm-sysv-sem",
    "semaphore",
];

/// "from the claimed table" or "for comparison".
pub fn group(name: &str) -> &'static str {
    if FROM_CLAIMED_TABLE.contains(&name) {
        "from the claimed table"
    } else {
        "for comparison"
    }
}

pub fn by_name(name: &str) -> Option<&'static dyn Transport> {
    all().iter().copied().find(|t| t.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|t| t.name()).collect()
}
