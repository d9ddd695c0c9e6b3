//! `ipcbench __probe-peer ACTION`: the second process of the probe
//! experiments that are not a channel session. The action is a typed value
//! both processes share (JSON on the command line); each does one thing and
//! prints one line: `ok`, an errno name, or what it observed.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{mq_open, mq_receive, mq_send, MQ_OFlag, MqAttr};
use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;

use crate::isolation::{Boundary, Separation};
use crate::sys::mapping::Mapping;
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::sysv::{MsgQueue, Segment, SemSet};
use crate::transport::Reach;

/// What every "leave a message" experiment stores.
pub const STORED: &[u8] = b"stored";
/// Size of the bare shared-memory segment and of its one message.
pub const SHM_LEN: usize = 4096;

/// What the helper is asked to do: one type that both processes share,
/// passed as JSON in one argument.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    /// Opens a path, as a process that inherited nothing.
    OpenPath {
        path: String,
    },
    /// Makes a nameless object, leaves a message in it, prints its path.
    InheritedLeave {
        kind: Nameless,
    },
    FifoWrite {
        path: String,
    },
    /// Connects a Unix socket of `kind` to `path`.
    Connect {
        kind: UnixKind,
        path: String,
    },
    /// Sends with sendto() to `path`, no connect.
    SendTo {
        kind: UnixKind,
        path: String,
    },
    TcpConnect {
        port: u16,
    },
    TcpSendTo {
        port: u16,
    },
    MqLeave {
        name: String,
    },
    /// Receives `count` messages, printing their priorities in order.
    MqDrain {
        name: String,
        count: usize,
    },
    SysvMqLeave {
        key: i32,
    },
    /// Receives `count` messages of type at most `max_type`, printing their types.
    SysvDrain {
        id: i32,
        count: usize,
        max_type: i64,
    },
    ShmLeave {
        name: String,
    },
    SysvShmLeave {
        key: i32,
    },
    SemLeave {
        name: String,
    },
    SysvSemLeave {
        key: i32,
    },
    /// Waits on a semaphore at SCHED_FIFO `priority`, after printing `ready`.
    SemWait {
        name: String,
        priority: i32,
    },
    /// Samples a bare segment's slot until sequence `last` shows up.
    ShmSample {
        name: String,
        last: u64,
    },
    /// Opens a bare segment by name and checks what was left in it.
    ShmRead {
        name: String,
    },
}

/// The objects an inherited-only experiment makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Nameless {
    Pipe,
    Memfd,
    Socketpair,
}

/// Unix socket types, as the helper makes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnixKind {
    Stream,
    Datagram,
    SeqPacket,
}

impl UnixKind {
    fn sock_type(self) -> SockType {
        match self {
            UnixKind::Stream => SockType::Stream,
            UnixKind::Datagram => SockType::Datagram,
            UnixKind::SeqPacket => SockType::SeqPacket,
        }
    }
}

fn parse_action(s: &str) -> Result<Action, String> {
    serde_json::from_str(s).map_err(|e| format!("not a helper action: {e}"))
}

#[derive(clap::Args, Debug)]
pub struct HelperArgs {
    #[arg(value_parser = parse_action)]
    pub action: Action,
}

pub fn main(a: &HelperArgs) -> i32 {
    let line = act(&a.action).unwrap_or_else(errno);
    crate::say!("{line}");
    let _ = std::io::stdout().flush();
    0
}

fn errno(e: Errno) -> String {
    format!("{e:?}")
}

/// "ok", or the errno the call failed with.
fn outcome<T>(r: nix::Result<T>) -> String {
    r.map_or_else(errno, |_| "ok".into())
}

fn act(action: &Action) -> nix::Result<String> {
    match action {
        Action::OpenPath { path } => Ok(outcome(nix::fcntl::open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        ))),
        Action::InheritedLeave { kind } => inherited_leave(*kind),
        Action::FifoWrite { path } => fifo_write(path),
        Action::Connect { kind, path } => unix_socket(*kind, path, |fd, addr| {
            nix::sys::socket::connect(fd, addr).map(drop)
        }),
        Action::SendTo { kind, path } => unix_socket(*kind, path, |fd, addr| {
            sendto(fd, STORED, addr, MsgFlags::empty()).map(drop)
        }),
        Action::TcpConnect { port } => Ok(tcp_connect(*port)),
        Action::TcpSendTo { port } => tcp_sendto(*port),
        Action::MqLeave { name } => mq_leave(name),
        Action::MqDrain { name, count } => mq_drain(name, *count),
        Action::SysvMqLeave { key } => sysv_mq_leave(*key),
        Action::SysvDrain {
            id,
            count,
            max_type,
        } => sysv_drain(*id, *count, *max_type),
        Action::ShmLeave { name } => shm_leave(name),
        Action::SysvShmLeave { key } => {
            let seg = Segment::keyed(*key, SHM_LEN, true)?;
            seg.into_map().write(0, STORED);
            Ok("ok".into())
        }
        Action::SemLeave { name } => {
            NamedSemaphore::create(name, 0).and_then(|s| s.post())?;
            Ok("ok".into())
        }
        Action::SysvSemLeave { key } => {
            let set = SemSet::create_keyed(*key)?;
            set.post(0)?;
            Ok("ok".into())
        }
        Action::SemWait { name, priority } => sem_wait(name, *priority),
        Action::ShmSample { name, last } => shm_sample(name, *last),
        Action::ShmRead { name } => shm_read(name),
    }
}

fn fifo_write(path: &str) -> nix::Result<String> {
    let fd = nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty())?;
    nix::unistd::write(&fd, STORED)?;
    Ok("ok".into())
}

/// A Unix socket of `kind`, handed with the address of `path` to `call`.
fn unix_socket(
    kind: UnixKind,
    path: &str,
    call: impl FnOnce(std::os::fd::RawFd, &UnixAddr) -> nix::Result<()>,
) -> nix::Result<String> {
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Unix,
        kind.sock_type(),
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    Ok(outcome(call(fd.as_raw_fd(), &addr)))
}

fn tcp_connect(port: u16) -> String {
    match std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => "ok".into(),
        Err(e) => e
            .raw_os_error()
            .map_or_else(|| e.to_string(), |n| errno(Errno::from_raw(n))),
    }
}

fn tcp_sendto(port: u16) -> nix::Result<String> {
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, port);
    Ok(outcome(sendto(
        fd.as_raw_fd(),
        STORED,
        &addr,
        MsgFlags::empty(),
    )))
}

fn mq_leave(name: &str) -> nix::Result<String> {
    let attr = MqAttr::new(0, 4, 64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_WRONLY;
    let q = mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, Some(&attr))?;
    mq_send(&q, STORED, 0)?;
    Ok("ok".into())
}

fn mq_drain(name: &str, count: usize) -> nix::Result<String> {
    let q = mq_open(name, MQ_OFlag::O_RDONLY, Mode::empty(), None)?;
    let mut order = Vec::new();
    let mut buf = vec![0u8; 8192];
    for _ in 0..count {
        let mut prio = 0;
        mq_receive(&q, &mut buf, &mut prio)?;
        order.push(prio.to_string());
    }
    Ok(order.join(","))
}

fn sysv_mq_leave(key: i32) -> nix::Result<String> {
    let q = MsgQueue::create_keyed(key)?;
    let mut msg = 1i64.to_ne_bytes().to_vec();
    msg.extend_from_slice(STORED);
    q.send(&msg)?;
    q.leave();
    Ok("ok".into())
}

/// Takes the lowest type first, up to `max_type`: msgrcv's own priority.
fn sysv_drain(id: i32, count: usize, max_type: i64) -> nix::Result<String> {
    let q = MsgQueue::attach(id)?;
    let mut order = Vec::new();
    let mut buf = vec![0u8; 8 + 64];
    for _ in 0..count {
        q.recv(&mut buf, -max_type)?;
        let mut kind = [0u8; 8];
        kind.copy_from_slice(&buf[..8]);
        order.push(i64::from_ne_bytes(kind).to_string());
    }
    Ok(order.join(","))
}

fn shm_leave(name: &str) -> nix::Result<String> {
    let fd = nix::sys::mman::shm_open(
        name,
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )?;
    nix::unistd::ftruncate(&fd, SHM_LEN as i64)?;
    Mapping::map_fd(&fd, SHM_LEN)?.write(0, STORED);
    Ok("ok".into())
}

/// The parent's side of `ShmRead`: a segment holding the stored message.
pub fn leave_in_segment(name: &str) -> nix::Result<()> {
    shm_leave(name).map(drop)
}

fn shm_read(name: &str) -> nix::Result<String> {
    let fd = nix::sys::mman::shm_open(name, OFlag::O_RDONLY, Mode::empty())?;
    let map = Mapping::map_fd_read_only(&fd, SHM_LEN)?;
    let mut found = vec![0u8; STORED.len()];
    map.read(0, &mut found);
    match found == STORED {
        true => Ok("ok".into()),
        false => Ok(format!("read {found:?}, not what was left")),
    }
}

/// A waiter at SCHED_FIFO `priority`, for the wake-order experiment.
fn sem_wait(name: &str, priority: i32) -> nix::Result<String> {
    crate::sys::set_fifo_priority(priority)?;
    let sem = NamedSemaphore::open(name)?;
    crate::say!("ready");
    let _ = std::io::stdout().flush();
    sem.wait()?;
    Ok("woke".into())
}

/// Makes an object that has no name (a pipe, a socket pair, a memfd),
/// writes a message into it, and exits, printing the path of its descriptor:
/// the only way anyone could have reached it.
fn inherited_leave(kind: Nameless) -> nix::Result<String> {
    let (keep, other): (std::os::fd::OwnedFd, Option<std::os::fd::OwnedFd>) = match kind {
        Nameless::Pipe => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            (r, Some(w))
        }
        Nameless::Memfd => (
            nix::sys::memfd::memfd_create("left", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?,
            None,
        ),
        Nameless::Socketpair => {
            let (a, b) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
            (a.into(), Some(b.into()))
        }
    };
    let into = other.as_ref().unwrap_or(&keep);
    nix::unistd::write(into, STORED)?;
    use std::os::fd::AsRawFd;
    // Both descriptors stay open until the process exits.
    let path = format!("/proc/{}/fd/{}", std::process::id(), keep.as_raw_fd());
    std::mem::forget((keep, other));
    Ok(path)
}

/// Reads a bare segment's one message slot (sequence number, its copy, a
/// checksum), stalling 1 ms every 64 reads like the other overload probes'
/// receivers, until the writer's last sequence number shows up; counts the
/// distinct ones seen and the torn reads (a half-written slot).
fn shm_sample(name: &str, last: u64) -> nix::Result<String> {
    let fd = nix::sys::mman::shm_open(name, OFlag::O_RDWR, Mode::empty())?;
    let map = Mapping::map_fd(&fd, SHM_LEN)?;
    crate::say!("ready");
    let _ = std::io::stdout().flush();
    let mut slot = [0u8; 24];
    let (mut seen, mut torn, mut previous) = (0u64, 0u64, u64::MAX);
    let until = Instant::now() + Duration::from_secs(10);
    let mut reads = 0u64;
    while Instant::now() < until {
        reads += 1;
        if reads.is_multiple_of(64) {
            std::thread::sleep(Duration::from_millis(1));
        }
        map.read(0, &mut slot);
        let seq = u64::from_le_bytes(slot[..8].try_into().unwrap());
        let copy = u64::from_le_bytes(slot[8..16].try_into().unwrap());
        let crc = u32::from_le_bytes(slot[16..20].try_into().unwrap());
        if seq != copy || crc != crc32c::crc32c(&slot[..16]) {
            torn += 1;
            continue;
        }
        if seq != previous && seq != 0 {
            seen += 1;
            previous = seq;
        }
        if seq == last {
            break;
        }
    }
    Ok(format!("{seen} {torn}"))
}

/// Parent side: runs one helper action to completion (10 s at most) and
/// returns its line.
pub fn run_helper(action: &Action) -> String {
    match spawn_helper(action) {
        Ok(child) => finish(child, Duration::from_secs(10)),
        Err(e) => format!("cannot start helper: {e}"),
    }
}

/// Starts a helper that the caller talks to (it prints `ready` first). It
/// dies with the probe, and none starts once the user asked to stop.
pub fn spawn_helper(action: &Action) -> std::io::Result<std::process::Child> {
    if crate::sys::interrupt::interrupted() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted by the user",
        ));
    }
    spawn(action, None)
}

/// Runs one helper action behind `separation` (see `isolation`) and
/// returns its line.
pub fn run_behind(action: &Action, separation: Separation) -> std::io::Result<String> {
    let dir = private_dir()?;
    let crossing = crate::isolation::cross(
        separation,
        Reach::Name,
        dir.path(),
        crate::harness::janitor::veth,
    )?;
    let child = spawn(action, crossing.as_ref().map(|c| &c.boundary))?;
    Ok(finish(child, Duration::from_secs(10)))
}

fn spawn(action: &Action, boundary: Option<&Boundary>) -> std::io::Result<std::process::Child> {
    let exe = crate::sys::process::own_exe()?;
    let mut cmd = std::process::Command::new(&exe);
    let action = serde_json::to_string(action).expect("an action serialises");
    cmd.arg("__probe-peer").arg(action);
    if let Some(b) = boundary {
        cmd = crate::isolation::wrap(&cmd, b, &exe);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    crate::sys::dies_with_parent(&mut cmd);
    cmd.spawn()
}

/// Waits for a helper's last line, killing it (and whatever it started)
/// if it outlives `limit`.
pub fn finish(mut child: std::process::Child, limit: Duration) -> String {
    let until = Instant::now() + limit;
    while Instant::now() < until && !crate::sys::interrupt::interrupted() {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    crate::sys::kill_group(child.id());
    let out = child
        .wait_with_output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .last()
        .unwrap_or("no answer")
        .trim()
        .to_string()
}

/// A private System V queue for an experiment, known to the janitor as
/// long as it lives: IPC_PRIVATE leaves no name to find, and a probe
/// killed with SIGKILL must not leave it behind.
pub struct PrivateQueue {
    /// Taken out only by `drop`.
    queue: Option<MsgQueue>,
    tag: String,
    token: String,
}

impl PrivateQueue {
    pub fn create() -> nix::Result<PrivateQueue> {
        let queue = MsgQueue::create()?;
        let (tag, token) = (unique("sysv"), queue.id().to_string());
        // sysv-mq's own removal of an orphaned queue, by its id.
        crate::harness::janitor::channel("sysv-mq", &tag, &token);
        Ok(PrivateQueue {
            queue: Some(queue),
            tag,
            token,
        })
    }
}

impl std::ops::Deref for PrivateQueue {
    type Target = MsgQueue;
    fn deref(&self) -> &MsgQueue {
        self.queue
            .as_ref()
            .expect("the queue lives until the guard is dropped")
    }
}

impl Drop for PrivateQueue {
    fn drop(&mut self) {
        // The queue goes first (its own drop removes it), then the janitor
        // forgets the id, which may now be someone else's.
        drop(self.queue.take());
        crate::harness::janitor::channel_closed("sysv-mq", &self.tag, &self.token);
    }
}

/// A name no other probe or run uses; the janitor removes `/name` should
/// the probe die before it does.
pub fn unique(kind: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!(
        "ipcbench-probe-{}-{kind}{n}-{}",
        std::process::id(),
        crate::sys::unguessable()
    );
    crate::harness::janitor::name(&format!("/{name}"));
    name
}

/// A System V key no other process uses: it holds the whole pid (Linux
/// pids fit in 22 bits). The janitor removes what it names should the probe
/// die first.
pub fn unique_key() -> i32 {
    static N: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key = 0x4000_0000 | ((std::process::id() as i32 & 0x3f_ffff) << 4) | (n & 0xf);
    crate::harness::janitor::key(key);
    key
}

/// A private folder for sockets and FIFOs, known to the janitor.
pub fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = crate::sys::private_dir()?;
    crate::harness::janitor::folder(dir.path());
    Ok(dir)
}
