//! Connectionless: can a sender deliver by name or address alone, with no
//! connect/accept and no both-ends-open handshake? A second process, which
//! inherited nothing, tries; where it can, we also check whether what it sent
//! before the receiver was there is kept (store-and-forward) or refused.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::mqueue::{mq_open, mq_receive, mq_unlink, MQ_OFlag};
use nix::sys::stat::Mode;

use super::helper::{run_helper, unique, unique_key, SHM_LEN, STORED};
use super::Finding;
use crate::sys::posix_sem::NamedSemaphore;
use crate::sys::sysv::{MsgQueue, Segment, SemSet};

pub fn probe(mechanism: &str) -> Finding {
    let dir = match tempfile::Builder::new().prefix("ipcbench-").tempdir() {
        Ok(d) => d,
        Err(e) => return Finding::undecided(format!("no private directory: {e}")),
    };
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    match mechanism {
        "pipe" | "socketpair" | "node-ipc" | "eventfd-shm" | "shm-ring" => {
            // Each is an anonymous object handed down by inheritance: a pipe,
            // a socket pair, or a memfd (with eventfds).
            let fd: OwnedFd = match mechanism {
                "pipe" => match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
                    Ok((r, _)) => r,
                    Err(e) => return Finding::undecided(format!("pipe2: {e}")),
                },
                "socketpair" | "node-ipc" => match std::os::unix::net::UnixStream::pair() {
                    Ok((a, _)) => a.into(),
                    Err(e) => return Finding::undecided(format!("socketpair: {e}")),
                },
                _ => match nix::sys::memfd::memfd_create(
                    "probe",
                    nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
                ) {
                    Ok(m) => m,
                    Err(e) => return Finding::undecided(format!("memfd_create: {e}")),
                },
            };
            let number = fd.as_raw_fd().to_string();
            let seen = run_helper(&["fd-open", &number]);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "open"),
                format!("the object has no name; a process that did not inherit it finds descriptor {number} {seen}: only inheritance (or SCM_RIGHTS) reaches it"),
            )
        }
        "tcp" => {
            let Ok(listener) = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            else {
                return Finding::undecided("bind failed");
            };
            let port = listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(0)
                .to_string();
            let seen = run_helper(&["tcp-sendto", &port]);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "ok"),
                format!("sendto() to a listening TCP port without connect: {seen}; TCP needs its handshake (connect/accept) first"),
            )
        }
        "uds-seqpacket" => {
            let p = path("probe.sock");
            let listener = nix::sys::socket::socket(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
                None,
            );
            let bound = listener.as_ref().map_err(|e| e.to_string()).and_then(|l| {
                let addr =
                    nix::sys::socket::UnixAddr::new(p.as_str()).map_err(|e| e.to_string())?;
                nix::sys::socket::bind(l.as_raw_fd(), &addr).map_err(|e| e.to_string())?;
                nix::sys::socket::listen(l, nix::sys::socket::Backlog::new(1).unwrap())
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = bound {
                return Finding::undecided(format!("seqpacket listener: {e}"));
            }
            let seen = run_helper(&["seqpacket-sendto", &p]);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "ok"),
                format!("sendto() to a listening seqpacket socket's path without connect: {seen}; like a stream, it needs connect/accept first"),
            )
        }
        "interprocess" => {
            // Its local sockets are Unix stream sockets on Linux: the same
            // experiment as uds-stream.
            let mut f = probe("uds-stream");
            f.evidence = format!(
                "the crate's local socket is a Unix stream socket here: {}",
                f.evidence
            );
            f
        }
        "ipc-channel" => {
            // The crate's only way in is its one-shot server: the receiver
            // must accept the sender's connection.
            let server = ipc_channel::ipc::IpcOneShotServer::<u8>::new();
            match server {
                Ok((_server, name)) => Finding::no(format!(
                    "the crate offers one way in: connecting to a one-shot server (here {name}) that the receiving side must accept, a connect/accept handshake; after that, channels travel over channels"
                )),
                Err(e) => Finding::undecided(format!("IpcOneShotServer: {e}")),
            }
        }
        "fifo" => {
            let p = path("probe.fifo");
            if let Err(e) = nix::unistd::mkfifo(p.as_str(), Mode::S_IRUSR | Mode::S_IWUSR) {
                return Finding::undecided(format!("mkfifo: {e}"));
            }
            let seen = run_helper(&["fifo-open-write", &p]);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "ok"),
                format!("a writer opening the FIFO by name while no reader has it open gets {seen} (O_NONBLOCK); a blocking open waits until both ends are open, a handshake that binds the two"),
            )
        }
        "uds-stream" => {
            let p = path("probe.sock");
            let Ok(_listener) = std::os::unix::net::UnixListener::bind(&p) else {
                return Finding::undecided("bind failed");
            };
            let seen = run_helper(&["stream-sendto", &p]);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "ok"),
                format!("sendto() to a listening stream socket's path without connect: {seen}; a stream needs connect/accept first"),
            )
        }
        "uds-dgram" => {
            let before = run_helper(&["dgram-sendto", &path("absent.sock")]);
            let p = path("probe.sock");
            let Ok(receiver) = std::os::unix::net::UnixDatagram::bind(&p) else {
                return Finding::undecided("bind failed");
            };
            let seen = run_helper(&["dgram-sendto", &p]);
            let _ = receiver.set_nonblocking(true);
            let mut buf = [0u8; 64];
            let got = receiver.recv(&mut buf).ok().map(|n| &buf[..n] == STORED);
            Finding::new(
                crate::results::probe::Measured::flag(seen == "ok" && got == Some(true)),
                format!("an unconnected process's sendto() by path: {seen}, and the receiver got the datagram ({}); no store-and-forward: before the receiver bound its path, sendto: {before}", got.unwrap_or(false)),
            )
        }
        "posix-mq" => {
            let name = format!("/{}", unique("mq"));
            let left = run_helper(&["mq-leave", &name]);
            let got = mq_open(
                name.as_str(),
                MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK,
                Mode::empty(),
                None,
            )
            .and_then(|q| {
                let mut buf = vec![0u8; 64];
                let mut prio = 0;
                mq_receive(&q, &mut buf, &mut prio).map(|n| buf[..n] == *STORED)
            });
            let _ = mq_unlink(name.as_str());
            store_and_forward("queue by name", &left, got)
        }
        "sysv-mq" => {
            let key = unique_key();
            let left = run_helper(&["sysv-mq-leave", &key.to_string()]);
            let got = MsgQueue::open_keyed(key).and_then(|q| {
                let mut buf = vec![0u8; 8 + 64];
                q.recv(&mut buf, 0).map(|n| buf[8..8 + n] == *STORED)
            });
            store_and_forward("queue by key", &left, got)
        }
        "shm" | "shm-posix-sem" => {
            let name = format!("/{}", unique("shm"));
            let left = run_helper(&["shm-leave", &name]);
            let got = nix::sys::mman::shm_open(name.as_str(), OFlag::O_RDONLY, Mode::empty())
                .and_then(|fd| {
                    // A read-write mapping needs O_RDWR; a copy of the bytes is enough here.
                    let mut buf = [0u8; 6];
                    nix::unistd::read(&fd, &mut buf).map(|_| buf == *STORED)
                });
            let _ = nix::sys::mman::shm_unlink(name.as_str());
            if mechanism == "shm" {
                return store_and_forward("segment by name", &left, got);
            }
            let sem = format!("/{}", unique("sem"));
            let posted = run_helper(&["sem-leave", &sem]);
            let taken = NamedSemaphore::open(&sem).and_then(|s| s.try_wait());
            let _ = crate::sys::posix_sem::unlink(&sem);
            both(
                store_and_forward("segment by name", &left, got),
                store_and_forward("semaphore by name", &posted, taken),
            )
        }
        "shm-sysv-sem" => {
            let key = unique_key();
            let left = run_helper(&["sysv-shm-leave", &key.to_string()]);
            let got = Segment::keyed(key, SHM_LEN, false).map(|seg| {
                let _ = seg.mark_for_removal();
                let mut buf = [0u8; 6];
                seg.into_map().read(0, &mut buf);
                buf == *STORED
            });
            let sem_key = unique_key();
            let posted = run_helper(&["sysv-sem-leave", &sem_key.to_string()]);
            let taken = SemSet::open_keyed(sem_key).and_then(|s| s.try_wait(0));
            both(
                store_and_forward("segment by key", &left, got),
                store_and_forward("semaphore by key", &posted, taken),
            )
        }
        "semaphore" => {
            let sem = format!("/{}", unique("sem"));
            let posted = run_helper(&["sem-leave", &sem]);
            let taken = NamedSemaphore::open(&sem).and_then(|s| s.try_wait());
            let _ = crate::sys::posix_sem::unlink(&sem);
            store_and_forward("semaphore by name", &posted, taken)
        }
        other => Finding::undecided(format!("no connectionless experiment for {other}")),
    }
}

/// A process created the object by name, left something in it and exited;
/// did we, opening it by name afterwards, find it?
fn store_and_forward(what: &str, left: &str, got: nix::Result<bool>) -> Finding {
    match (left, got) {
        ("ok", Ok(true)) => Finding::yes(format!(
            "a process that inherited nothing created the {what}, left a message and exited; opened the same way afterwards, the message was there (store-and-forward, no handshake)"
        )),
        ("ok", Ok(false)) => Finding::no(format!("the {what} was found by name but the message was not in it")),
        ("ok", Err(e)) => Finding::no(format!("the {what} left by another process could not be opened by name: {e}")),
        (why, _) => Finding::undecided(format!("the sending process could not create the {what}: {why}")),
    }
}

fn both(a: Finding, b: Finding) -> Finding {
    let measured = if a.measured == b.measured {
        a.measured
    } else {
        crate::results::probe::Measured::undecided()
    };
    Finding::new(measured, format!("{}; {}", a.evidence, b.evidence))
}
