//! One module per IPC mechanism, all behind [`Transport`].
//!
//! A transport only moves bytes between two ends and says what it cannot do.
//! It never times and never verifies: the harness does both, once, for all.

mod admission;
mod bounded_buffer;
pub mod broadcast;
mod cma;
mod eventfd_shm;
mod fifo;
pub mod gather;
mod iceoryx2;
mod interprocess;
mod ipc_channel;
pub mod lending;
mod memfd_pass;
pub mod node;
mod packets;
mod pipe;
mod posix_mq;
mod semaphore;
mod shm_broadcast;
mod shm_loan;
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
mod vmsplice;
pub mod wait;
mod zeromq;

use crate::results::failure::OverLimit;
use std::ffi::OsString;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::results::Wait;

pub use broadcast::{Broadcast, Publisher, Unicast};

pub use gather::{FanIn, Gather, SendOnly};
pub use lending::Lending;
pub use stream::FdStream;

/// One established end of a channel. `Send` so that both ends of one
/// channel can be held in one process, on two threads (see [`open_pair`]).
pub trait Channel: Send {
    /// Sends one whole message; returns once the transport has taken all of it.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives one whole message into `buf` and returns its length. Byte
    /// streams fill `buf` exactly; message transports return what the message
    /// held (a length other than `buf.len()` is the verifier's business).
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Sends one of the harness's control messages (start and end of the
    /// timed part, and their answers). A channel without payload carries
    /// these bytes by other means; every other channel sends them as data.
    fn send_control(&mut self, msg: &[u8]) -> io::Result<()> {
        self.send(msg)
    }
    /// False for a channel of bare signals: its `send` ignores the bytes,
    /// and its `recv` returns 0 for a signal and the bytes of a control
    /// message as they were sent.
    fn carries_payload(&self) -> bool {
        true
    }
    /// Receives what one receive call of the mechanism returns, at most
    /// `buf.len()` bytes: for a byte stream one read, however much it holds;
    /// for a message transport one message. The probe uses it to see where
    /// the mechanism puts boundaries; the workloads never do.
    fn recv_any(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
    /// Called once the peer has joined: both ends now hold the channel, so
    /// names (queues, segments, semaphores) can be removed and nothing
    /// outlives the two processes, even if both are killed.
    fn peer_joined(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The channel as two halves that two threads use at once: how the
    /// open-loop workload sends on its schedule while echoes come back.
    /// Data messages only; control messages go through the whole channel.
    fn halves(&mut self) -> io::Result<Halves<'_>> {
        Err(unsupported(
            "its channel cannot send on one thread while it receives on another".into(),
        ))
    }
    /// Makes its receives wait as `wait`, which its transport declared it
    /// can (`Transport::wait_refused`). Called once, before any message.
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        match wait {
            Wait::Block => Ok(()),
            other => Err(unsupported(format!("this channel cannot wait as {other}"))),
        }
    }
    /// The channel as a lender, when its data messages are built in memory
    /// it lends and read where they lie (see `lending.rs`); None for a
    /// channel that copies them.
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        None
    }
}

/// Sends one whole message (a channel's `send`, alone).
pub type SendHalf<'a> = Box<dyn FnMut(&[u8]) -> io::Result<()> + Send + 'a>;
/// Receives one whole message (a channel's `recv`, alone).
pub type RecvHalf<'a> = Box<dyn FnMut(&mut [u8]) -> io::Result<usize> + Send + 'a>;

/// A channel's sending and receiving halves, borrowed from it.
pub struct Halves<'a> {
    pub send: SendHalf<'a>,
    pub recv: RecvHalf<'a>,
}

impl<'a> Halves<'a> {
    pub fn new(
        send: impl FnMut(&[u8]) -> io::Result<()> + Send + 'a,
        recv: impl FnMut(&mut [u8]) -> io::Result<usize> + Send + 'a,
    ) -> Halves<'a> {
        Halves {
            send: Box::new(send),
            recv: Box::new(recv),
        }
    }
}

/// A program other than ipcbench that plays the peer. The harness adds
/// the case's `--key value` arguments after `args`, and `env`.
pub struct PeerProgram {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, String)>,
    /// Files of its own it reads (a script), which a container's image
    /// would carry: copied into a peer's private view of the filesystem.
    pub files: Vec<PathBuf>,
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
    /// The address the parent's listeners bind to and the peer reaches
    /// them at: loopback, or the host's end of a veth pair when the peer
    /// is in a network namespace of its own.
    pub host: std::net::Ipv4Addr,
}

/// The most bytes of a Unix socket's path (sun_path, less its final NUL).
pub const SOCKET_PATH_MAX: usize = 107;

impl Rendezvous<'_> {
    /// The path of the socket `name` in the private folder; a TMPDIR too
    /// long for a socket address makes the case unsupported, saying so
    /// (bind would only say "path must be shorter than SUN_LEN").
    pub fn socket(&self, name: &str) -> io::Result<std::path::PathBuf> {
        let path = self.dir.join(name);
        socket_path_fits(&path)?;
        Ok(path)
    }
}

/// Whether `path` fits a Unix socket address, or why not.
pub fn socket_path_fits(path: &Path) -> io::Result<()> {
    let len = path.as_os_str().len();
    if len > SOCKET_PATH_MAX {
        return Err(unsupported(format!(
            "the socket path '{}' is {len} bytes; a Unix socket address holds at most {SOCKET_PATH_MAX} (TMPDIR is too long: set a shorter one)",
            path.display()
        )));
    }
    Ok(())
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
    pub connect: Connect,
}

/// Completes the parent's end of a channel once the peer runs.
pub type Connect = Box<dyn FnOnce() -> io::Result<Box<dyn Channel>>>;

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
    /// Which fan-in sender or fan-out subscriber this is (0-based; 0
    /// outside those).
    pub member: u32,
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

/// A send refused because the message exceeds what this channel carries:
/// EMSGSIZE, as the kernel's message transports say it.
pub fn too_large(len: usize, limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("EMSGSIZE: a {len}-byte message does not fit this channel's {limit}-byte slot"),
    )
}

pub use crate::sys::unsupported;

/// The kernel object a channel is made of: what the probe experiments on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Pipe,
    Fifo,
    UnixStream,
    UnixDatagram,
    UnixSeqpacket,
    TcpLoopback,
    PosixQueue,
    SysvQueue,
    PosixSemaphore,
    /// A POSIX shared-memory segment with nothing on top.
    PosixSharedMemory,
    /// Slots in shared memory with ipcbench's own synchronisation: the
    /// semantics are the protocol's, so the probe tries the channel itself.
    Ring,
    /// Node.js's fork() channel: a socket pair with Node's framing and
    /// queueing on top, which only Node processes can show.
    NodeChannel(node::Serialization),
}

/// How a process finds the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Only by inheriting a descriptor (or receiving one over a socket).
    Inherited,
    /// By a path in the filesystem.
    Path,
    /// By a name in a kernel namespace (POSIX queues, segments, semaphores).
    Name,
    /// By a System V key.
    Key,
    /// By a TCP port on loopback.
    Port,
}

/// A property the probe cannot change by experiment, declared by the
/// transport whose API it is about.
pub struct Fact {
    pub property: crate::results::probe::Property,
    pub holds: bool,
    pub why: &'static str,
}

/// How many times a message's payload is copied on its way from the
/// sender's buffer to the receiver's, and by what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copies {
    pub count: u8,
    pub why: &'static str,
}

impl Copies {
    /// A kernel object with a buffer of its own: pipes, sockets, queues.
    pub const THROUGH_THE_KERNEL: Copies = Copies {
        count: 2,
        why: "into the kernel's buffer by the send, out of it by the receive",
    };
    /// ipcbench's slots in shared memory.
    pub const THROUGH_A_SLOT: Copies = Copies {
        count: 2,
        why: "into a slot of shared memory by the sender, out of it by the receiver",
    };
    /// A bare signal.
    pub const NO_PAYLOAD: Copies = Copies {
        count: 0,
        why: "it carries no payload: a message is a signal",
    };
}

/// What a transport is, declared once in its own file; the probe chooses
/// its experiments from this and never from the transport's name.
pub struct Nature {
    pub object: Object,
    pub reach: Reach,
    /// Whose semantics the rows show when they are not the kernel object's
    /// alone: ipcbench's protocol, a crate's, an emulation's, in a few words.
    pub protocol: Option<&'static str>,
    pub facts: &'static [Fact],
    /// Whether its channels lend memory (`Channel::lending`): the receiver
    /// reads what the sender built, where it lies.
    pub lends: bool,
}

impl Nature {
    pub const fn kernel(object: Object, reach: Reach) -> Nature {
        Nature {
            object,
            reach,
            protocol: None,
            facts: &[],
            lends: false,
        }
    }
}

pub trait Transport: Sync {
    /// The name used on the command line and in result files.
    fn name(&self) -> &'static str;
    /// The mechanism in a few words, as `ipcbench list` shows it.
    fn description(&self) -> &'static str;
    /// What it is and how it is reached, for the probe.
    fn nature(&self) -> Nature;
    /// Whether this host can run the transport at all, and why not.
    fn availability(&self) -> io::Result<()> {
        Ok(())
    }
    /// How many message-sized buffers the transport's own code allocates
    /// per message, out of the harness's sight (a crate's receive returning
    /// a fresh `Vec`). The harness makes sure that much memory is there
    /// before the case, since a failed allocation inside a crate aborts.
    fn hidden_buffers(&self) -> usize {
        0
    }
    /// Whether a message of `size` bytes can be carried, and the kernel's
    /// reason if not (the limit that stops it, and how to raise it).
    fn check_size(&self, _size: usize) -> Result<(), OverLimit> {
        Ok(())
    }
    /// False for mechanisms that only signal (a semaphore): their rows have
    /// no message size, and the harness checks counts instead of contents.
    fn carries_payload(&self) -> bool {
        true
    }
    /// The peer, when it is not ipcbench re-executed; `fds` are the numbers
    /// of the descriptors it inherits. May write into `at.dir`.
    fn peer_program(&self, _at: &Rendezvous, _fds: &[RawFd]) -> io::Result<Option<PeerProgram>> {
        Ok(None)
    }
    /// Who times the case, when not the harness: a runtime measured against
    /// itself (Node on both ends), whose peer program then drives both ends
    /// and reports what it timed. The harness holds no end of the channel.
    fn timed_by(&self) -> Option<&'static str> {
        None
    }
    /// Why its receiver cannot wait as `wait`, or None when it can; each
    /// transport says so in its own file (`wait::on_descriptor` and
    /// `wait::without_descriptor` are the common answers).
    fn wait_refused(&self, wait: Wait) -> Option<&'static str>;
    /// How many times it copies a message's payload, and why.
    fn copies(&self) -> Copies;
    /// Whether its channel lives in a shared mapping, which
    /// `--memory-node` can place on a NUMA node.
    fn shared_memory(&self) -> bool {
        false
    }
    /// A kernel object used directly, or a library's channel over some.
    fn family(&self) -> crate::results::Family {
        crate::results::Family::Kernel
    }
    /// How to read this transport's rows, when they differ from the others.
    fn note(&self) -> Option<&'static str> {
        None
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
    /// Why the mechanism offers no fan-in (several sender processes into
    /// one receiver), or None when `fan_in` makes one.
    fn fan_in_refused(&self) -> Option<&'static str> {
        None
    }
    /// Parent side of a fan-in case: one receiving end that `senders`
    /// processes write to.
    fn fan_in(&self, _at: &Rendezvous, _senders: u32) -> io::Result<FanIn> {
        let why = self
            .fan_in_refused()
            .unwrap_or("no fan-in arrangement in ipcbench");
        Err(unsupported(why.to_string()))
    }
    /// A fan-in sender's side: join what `fan_in` made. Only its `send` is used.
    fn join_fan_in(&self, _at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Err(io::Error::other(format!("{} has no fan-in", self.name())))
    }
    /// Why the mechanism cannot fan out at all (to several subscriber
    /// processes, natively or by one send per subscriber), if it cannot.
    fn fan_out_refused(&self) -> Option<&'static str> {
        (!self.carries_payload())
            .then_some("it moves a signal, not a message: a subscriber would have nothing to check")
    }
    /// Why the mechanism offers no channel for hackbench's groups, if it
    /// does not: several sender processes writing into it and one
    /// receiver process reading it, each holding a descriptor.
    fn groups_refused(&self) -> Option<&'static str> {
        Some("no channel that several processes write into and one reads, handed over as descriptors, is arranged in ipcbench for it")
    }
    /// One receiver's channel of a `groups` case (see `groups_refused`).
    fn group_channel(&self) -> io::Result<GroupChannel> {
        Err(unsupported(
            self.groups_refused()
                .unwrap_or("no group channel")
                .to_string(),
        ))
    }
    /// Why the mechanism has no native broadcast (one write that every
    /// subscriber reads), or None when `broadcast` makes one. Without one,
    /// fan-out sends each message once per subscriber, each over a channel
    /// of its own.
    fn broadcast_refused(&self) -> Option<&'static str> {
        Some(ONE_READER)
    }
    /// Parent side of a native broadcast to `subscribers` processes.
    fn broadcast(&self, _at: &Rendezvous, _subscribers: u32) -> io::Result<Broadcast> {
        Err(unsupported(
            self.broadcast_refused().unwrap_or(ONE_READER).to_string(),
        ))
    }
    /// A subscriber's side of what `broadcast` made (`inherited.member`
    /// says which): `recv` takes the next message, `send` answers.
    fn join_broadcast(
        &self,
        _at: &Rendezvous,
        _inherited: Inherited,
    ) -> io::Result<Box<dyn Channel>> {
        Err(io::Error::other(format!(
            "{} has no broadcast",
            self.name()
        )))
    }
}

/// One receiver's channel in hackbench's groups: its senders each hold
/// `write`, the receiver holds `read`.
pub struct GroupChannel {
    pub read: OwnedFd,
    pub write: OwnedFd,
    /// Whether each read returns one message (a seqpacket socket) rather
    /// than bytes of a stream, which the receiver cuts into messages.
    pub packets: bool,
    /// Which of hackbench's own channels it is, when it is one.
    pub hackbench: Option<Hackbench>,
}

/// hackbench's two channels (`perf bench sched messaging`, and `-p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hackbench {
    StreamSockets,
    Pipes,
}

impl GroupChannel {
    /// A connected Unix socket pair of `kind`: hackbench's channel.
    pub fn socket_pair(kind: nix::sys::socket::SockType) -> io::Result<GroupChannel> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag};
        let (read, write) = socketpair(AddressFamily::Unix, kind, None, SockFlag::SOCK_CLOEXEC)?;
        let stream = kind == nix::sys::socket::SockType::Stream;
        Ok(GroupChannel {
            read,
            write,
            packets: !stream,
            hackbench: stream.then_some(Hackbench::StreamSockets),
        })
    }
}

/// Writes one whole message into a group channel's write end.
pub fn write_whole(fd: &OwnedFd, msg: &[u8]) -> io::Result<()> {
    stream::write_all(fd, msg)
}

/// Reads one whole message from a group channel's read end: a packet, or
/// `buf.len()` bytes of a stream (fewer where it ends, 0 at its end).
pub fn read_whole(fd: &OwnedFd, buf: &mut [u8], packets: bool) -> io::Result<usize> {
    match packets {
        true => packets::recv_packet(fd, buf, &mut wait::Waiter::Block),
        false => gather::read_message(fd, buf),
    }
}

/// Why most mechanisms have no native broadcast.
const ONE_READER: &str =
    "each message is taken by one reader: a second subscriber needs a send of its own";

/// The one descriptor a fan-in sender inherits.
fn only_fd(inherited: Inherited, what: &str) -> io::Result<OwnedFd> {
    inherited
        .fds
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other(format!("a {what} fan-in sender expects one descriptor")))
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
        &shm_loan::ShmLoan,
        &shm_broadcast::ShmBroadcast,
        &memfd_pass::MemfdPass,
        &vmsplice::Vmsplice,
        &cma::Cma,
        &node::Node {
            serialization: node::Serialization::Json,
            node_to_node: false,
        },
        &node::Node {
            serialization: node::Serialization::Advanced,
            node_to_node: false,
        },
        &node::Node {
            serialization: node::Serialization::Json,
            node_to_node: true,
        },
        &node::Node {
            serialization: node::Serialization::Advanced,
            node_to_node: true,
        },
        &ipc_channel::IpcChannel,
        &interprocess::Interprocess,
        &zeromq::Zeromq,
        &iceoryx2::Iceoryx2,
    ]
}

/// "from the claimed table" or "for comparison".
pub fn group(name: &str) -> &'static str {
    if crate::results::probe::CLAIMED_TABLE_ROWS.contains(&name) {
        "from the claimed table"
    } else {
        "for comparison"
    }
}

/// Both ends of one channel in this process, the peer's end joined on a
/// second thread (a FIFO's open, for one, waits for the other end). For
/// experiments on the channel's semantics, where no second process is
/// needed; `dir` must be private to the caller. `made` is told the token
/// of what was made, before anything can fail.
pub fn open_pair(
    t: &dyn Transport,
    dir: &Path,
    tag: &str,
    size: usize,
    made: impl FnOnce(&str),
) -> io::Result<(Box<dyn Channel>, Box<dyn Channel>)> {
    let at = Rendezvous {
        dir,
        tag,
        size,
        host: std::net::Ipv4Addr::LOCALHOST,
    };
    let prepared = t.prepare(&at)?;
    made(&prepared.token);
    let inherited = Inherited {
        fds: prepared.child_fds,
        token: prepared.token,
        member: 0,
    };
    std::thread::scope(|s| {
        let peer = s.spawn(|| t.join(&at, inherited));
        let mut parent = (prepared.connect)();
        let peer = peer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("joining panicked")));
        if let Ok(p) = &mut parent {
            p.peer_joined()?;
        }
        Ok((parent?, peer?))
    })
}

pub fn by_name(name: &str) -> Option<&'static dyn Transport> {
    all().iter().copied().find(|t| t.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|t| t.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `list` and the probe say of fan-in is what `fan_in` does: a
    /// transport that does not refuse it makes one (and removes it again).
    #[test]
    fn every_transport_that_does_not_refuse_fan_in_makes_one() {
        // Node's availability check forks.
        let _one_at_a_time = crate::FORKING.lock();
        for &t in all() {
            if t.availability().is_err() || t.timed_by().is_some() {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let tag = format!("ipcbench-test-{}-fan-in-{}", std::process::id(), t.name());
            let at = Rendezvous {
                dir: dir.path(),
                tag: &tag,
                size: 64,
                host: std::net::Ipv4Addr::LOCALHOST,
            };
            match (t.fan_in_refused(), t.fan_in(&at, 2)) {
                (None, Ok(_)) => {}
                (Some(why), Err(e)) => assert!(e.to_string().contains(why), "{}", t.name()),
                (None, Err(e)) => panic!("{} does not refuse fan-in, yet: {e}", t.name()),
                (Some(_), Ok(_)) => panic!("{} refuses fan-in, yet makes one", t.name()),
            }
        }
    }

    /// ipcbench's rings carry at most their slot: a larger message is
    /// refused with EMSGSIZE, and what was queued before and after comes
    /// out whole, at the length it was sent, never cut short or spilled
    /// into the next slot.
    #[test]
    fn shared_memory_rings_refuse_messages_larger_than_their_slot() {
        const SLOT: usize = 64;
        for name in ["shm-posix-sem", "shm-sysv-sem", "eventfd-shm", "shm-ring"] {
            let t = by_name(name).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let tag = format!("ipcbench-test-{}-{name}", std::process::id());
            let (mut a, mut b) = open_pair(t, dir.path(), &tag, SLOT, |_| {}).unwrap();
            a.send(&[1; 10]).unwrap();
            let refused = a.send(&[9; SLOT + 1]).unwrap_err();
            assert!(
                refused.to_string().contains("EMSGSIZE"),
                "{name}: {refused}"
            );
            a.send(&[2; SLOT]).unwrap();
            let mut buf = [0u8; SLOT];
            assert_eq!(b.recv(&mut buf).unwrap(), 10, "{name}: first length");
            assert_eq!(&buf[..10], &[1; 10], "{name}: first message");
            assert_eq!(b.recv(&mut buf).unwrap(), SLOT, "{name}: second length");
            assert_eq!(buf, [2; SLOT], "{name}: the refused message left no trace");
        }
    }
}
