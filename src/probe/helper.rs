//! `ipcbench __probe-peer ACTION ARGS...`: the second process of the probe
//! experiments that are not a channel session. Each action does one thing
//! and prints one line: `ok`, an errno name, or what it observed.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mqueue::{mq_open, mq_receive, mq_send, MQ_OFlag, MqAttr};
use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::stat::Mode;

use crate::sys::mapping::Mapping;
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::sysv::{MsgQueue, Segment, SemSet};

/// What every "leave a message" experiment stores.
pub const STORED: &[u8] = b"stored";
/// Size of the bare shared-memory segment and of its one message.
pub const SHM_LEN: usize = 4096;

#[derive(clap::Args, Debug)]
pub struct HelperArgs {
    pub action: String,
    pub args: Vec<String>,
}

pub fn main(a: &HelperArgs) -> i32 {
    let line = run(&a.action, &a.args).unwrap_or_else(|e| e);
    crate::say!("{line}");
    let _ = std::io::stdout().flush();
    0
}

fn errno(e: Errno) -> String {
    format!("{e:?}")
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> Result<T, String> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("bad argument {i}"))
}

fn run(action: &str, args: &[String]) -> Result<String, String> {
    let a0 = || args.first().cloned().ok_or("missing argument".to_string());
    match action {
        "open-path" => Ok(
            match nix::fcntl::open(
                a0()?.as_str(),
                OFlag::O_RDONLY | OFlag::O_NONBLOCK,
                Mode::empty(),
            ) {
                Ok(_) => "ok".into(),
                Err(e) => errno(e),
            },
        ),
        "inherited-leave" => inherited_leave(&a0()?),
        "fifo-write" => {
            let fd = nix::fcntl::open(
                a0()?.as_str(),
                OFlag::O_WRONLY | OFlag::O_NONBLOCK,
                Mode::empty(),
            )
            .map_err(errno)?;
            nix::unistd::write(&fd, STORED).map_err(errno)?;
            Ok("ok".into())
        }
        "stream-connect" | "seqpacket-connect" => {
            let kind = if action == "stream-connect" {
                SockType::Stream
            } else {
                SockType::SeqPacket
            };
            let fd =
                socket(AddressFamily::Unix, kind, SockFlag::SOCK_CLOEXEC, None).map_err(errno)?;
            let addr = UnixAddr::new(a0()?.as_str()).map_err(errno)?;
            use std::os::fd::AsRawFd;
            nix::sys::socket::connect(fd.as_raw_fd(), &addr).map_err(errno)?;
            Ok("ok".into())
        }
        "tcp-connect" => {
            let port: u16 = arg(args, 0)?;
            match std::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)) {
                Ok(_) => Ok("ok".into()),
                Err(e) => Ok(e
                    .raw_os_error()
                    .map_or_else(|| e.to_string(), |n| errno(Errno::from_raw(n)))),
            }
        }
        "tcp-sendto" => {
            let fd = socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(errno)?;
            let port: u16 = arg(args, 0)?;
            let addr = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, port);
            use std::os::fd::AsRawFd;
            Ok(
                match sendto(fd.as_raw_fd(), STORED, &addr, MsgFlags::empty()) {
                    Ok(_) => "ok".into(),
                    Err(e) => errno(e),
                },
            )
        }
        "stream-sendto" | "dgram-sendto" | "seqpacket-sendto" => {
            let kind = match action {
                "stream-sendto" => SockType::Stream,
                "seqpacket-sendto" => SockType::SeqPacket,
                _ => SockType::Datagram,
            };
            let fd =
                socket(AddressFamily::Unix, kind, SockFlag::SOCK_CLOEXEC, None).map_err(errno)?;
            let addr = UnixAddr::new(a0()?.as_str()).map_err(errno)?;
            use std::os::fd::AsRawFd;
            Ok(
                match sendto(fd.as_raw_fd(), STORED, &addr, MsgFlags::empty()) {
                    Ok(_) => "ok".into(),
                    Err(e) => errno(e),
                },
            )
        }
        "mq-leave" => {
            let attr = MqAttr::new(0, 4, 64, 0);
            let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_WRONLY;
            let q = mq_open(
                a0()?.as_str(),
                flags,
                Mode::S_IRUSR | Mode::S_IWUSR,
                Some(&attr),
            )
            .map_err(errno)?;
            mq_send(&q, STORED, 0).map_err(errno)?;
            Ok("ok".into())
        }
        "mq-drain" => {
            let q =
                mq_open(a0()?.as_str(), MQ_OFlag::O_RDONLY, Mode::empty(), None).map_err(errno)?;
            let n: usize = arg(args, 1)?;
            let mut order = Vec::new();
            let mut buf = vec![0u8; 8192];
            for _ in 0..n {
                let mut prio = 0;
                mq_receive(&q, &mut buf, &mut prio).map_err(errno)?;
                order.push(prio.to_string());
            }
            Ok(order.join(","))
        }
        "sysv-mq-leave" => {
            let q = MsgQueue::create_keyed(arg(args, 0)?).map_err(errno)?;
            let mut msg = 1i64.to_ne_bytes().to_vec();
            msg.extend_from_slice(STORED);
            q.send(&msg).map_err(errno)?;
            q.leave();
            Ok("ok".into())
        }
        "sysv-drain" => {
            // Takes the lowest type first, up to `max`: msgrcv's own priority.
            let q = MsgQueue::attach(arg(args, 0)?);
            let (n, max): (usize, i64) = (arg(args, 1)?, arg(args, 2)?);
            let mut order = Vec::new();
            let mut buf = vec![0u8; 8 + 64];
            for _ in 0..n {
                q.recv(&mut buf, -max).map_err(errno)?;
                order.push(i64::from_ne_bytes(buf[..8].try_into().unwrap()).to_string());
            }
            Ok(order.join(","))
        }
        "shm-leave" => {
            let fd = nix::sys::mman::shm_open(
                a0()?.as_str(),
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
                Mode::S_IRUSR | Mode::S_IWUSR,
            )
            .map_err(errno)?;
            nix::unistd::ftruncate(&fd, SHM_LEN as i64).map_err(errno)?;
            Mapping::map_fd(&fd, SHM_LEN)
                .map_err(errno)?
                .write(0, STORED);
            Ok("ok".into())
        }
        "sysv-shm-leave" => {
            let seg = Segment::keyed(arg(args, 0)?, SHM_LEN, true).map_err(errno)?;
            seg.into_map().write(0, STORED);
            Ok("ok".into())
        }
        "sem-leave" => {
            NamedSemaphore::create(&a0()?, 0)
                .and_then(|s| s.post())
                .map_err(errno)?;
            Ok("ok".into())
        }
        "sysv-sem-leave" => {
            let set = SemSet::create_keyed(arg(args, 0)?).map_err(errno)?;
            set.post(0).map_err(errno)?;
            Ok("ok".into())
        }
        "sem-wait" => {
            // A waiter at SCHED_FIFO priority `prio`, for the wake-order experiment.
            crate::sys::set_fifo_priority(arg(args, 1)?)
                .map_err(|e| format!("sched: {}", errno(e)))?;
            let sem = NamedSemaphore::open(&a0()?).map_err(errno)?;
            crate::say!("ready");
            let _ = std::io::stdout().flush();
            sem.wait().map_err(errno)?;
            Ok("woke".into())
        }
        "shm-sample" => shm_sample(&a0()?, arg(args, 1)?),
        _ => Err(format!("unknown action '{action}'")),
    }
}

/// Makes an object that has no name (a pipe, a socket pair, a memfd),
/// writes a message into it, and exits, printing the path of its descriptor:
/// the only way anyone could have reached it.
fn inherited_leave(kind: &str) -> Result<String, String> {
    let (keep, other): (std::os::fd::OwnedFd, Option<std::os::fd::OwnedFd>) = match kind {
        "pipe" => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(errno)?;
            (r, Some(w))
        }
        "memfd" => (
            nix::sys::memfd::memfd_create("left", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .map_err(errno)?,
            None,
        ),
        _ => {
            let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
            (a.into(), Some(b.into()))
        }
    };
    let into = other.as_ref().unwrap_or(&keep);
    nix::unistd::write(into, STORED).map_err(errno)?;
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
fn shm_sample(name: &str, last: u64) -> Result<String, String> {
    let fd = nix::sys::mman::shm_open(name, OFlag::O_RDWR, Mode::empty()).map_err(errno)?;
    let map = Mapping::map_fd(&fd, SHM_LEN).map_err(errno)?;
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
pub fn run_helper(args: &[&str]) -> String {
    match spawn_helper(args) {
        Ok(child) => finish(child, Duration::from_secs(10)),
        Err(e) => format!("cannot start helper: {e}"),
    }
}

/// Starts a helper that the caller talks to (it prints `ready` first). It
/// dies with the probe, and none starts once the user asked to stop.
pub fn spawn_helper(args: &[&str]) -> std::io::Result<std::process::Child> {
    if crate::sys::interrupt::interrupted() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted by the user",
        ));
    }
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__probe-peer")
        .args(args)
        .stdin(std::process::Stdio::null())
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
