//! `ipcbench __isolate BOUNDARY PROGRAM ARGS...`: makes the peer's side of
//! a boundary, then becomes PROGRAM, keeping its descriptors, environment
//! and CPU. Started by the harness in place of the peer, never by a person.
//!
//! The order matters: the network namespace first, while the host's
//! netlink socket still has the rights to move a veth into it; the user
//! namespace next, so that the others belong to it; the mounts once the
//! mount namespace exists; and for a PID namespace, a fork, since only a
//! child is the new namespace's first process.

use std::ffi::{CString, OsString};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use super::{Boundary, Namespace};
use crate::results::failure::{PeerFailure, Stage};
use crate::sys::namespaces as ns;

/// Runs the launcher; returns only on failure (or with the status of the
/// PID namespace's first process).
pub fn main(boundary: &str, command: &[OsString]) -> i32 {
    let entered = serde_json::from_str::<Boundary>(boundary)
        .map_err(|e| io::Error::other(format!("not a boundary: {e}")))
        .and_then(|b| enter(&b, command));
    let e = match entered {
        Ok(code) => return code,
        Err(e) => e,
    };
    // The peer's control line: the harness reads it as the peer's error.
    refused(&e);
    1
}

/// The peer's control line: the harness reads it as the peer's failure,
/// at the boundary's stage.
fn refused(e: &io::Error) {
    let line = serde_json::to_string(&PeerFailure::new(Stage::Boundary, e));
    let _ = writeln!(io::stdout(), "{}", line.unwrap_or_default());
}

/// What the launcher holds before anything is hidden.
struct Held {
    program: OwnedFd,
    argv: Vec<CString>,
    image: Vec<(PathBuf, Vec<u8>)>,
}

fn enter(b: &Boundary, command: &[OsString]) -> io::Result<i32> {
    let held = hold(b, command)?;
    let has = |kind| b.namespaces.contains(&kind);
    if has(Namespace::Network) {
        network(b)?;
    }
    if has(Namespace::User) {
        ns::enter_user_namespace_as(super::UNPRIVILEGED)?;
    }
    let rest = [
        (Namespace::Ipc, CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (Namespace::Uts, CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (
            Namespace::Cgroup,
            CloneFlags::CLONE_NEWCGROUP,
            "CLONE_NEWCGROUP",
        ),
        (Namespace::Mount, CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        (Namespace::Pid, CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
    ];
    for (kind, flag, name) in rest {
        if has(kind) {
            ns::unshare(flag, name)?;
        }
    }
    if has(Namespace::Uts) {
        ns::set_hostname("ipcbench-peer")?;
    }
    if has(Namespace::Mount) {
        private_view(b, &held)?;
    }
    if has(Namespace::Pid) {
        return first_process(&held, has(Namespace::Mount));
    }
    Err(become_program(&held))
}

/// Opens the program and reads the image's files, which the mounts may
/// hide from the peer.
fn hold(b: &Boundary, command: &[OsString]) -> io::Result<Held> {
    let program = command
        .first()
        .ok_or_else(|| io::Error::other("no program to start"))?;
    let path = on_path(Path::new(program))?;
    let argv = command
        .iter()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| io::Error::other("an argument holds a NUL"))
        })
        .collect::<io::Result<_>>()?;
    let image = b
        .image
        .iter()
        .map(|f| std::fs::read(f).map(|bytes| (f.clone(), bytes)))
        .collect::<io::Result<_>>()?;
    Ok(Held {
        program: ns::open_path(&path)?,
        argv,
        image,
    })
}

/// `program` as execvp would find it.
fn on_path(program: &Path) -> io::Result<PathBuf> {
    if program.components().count() > 1 {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| io::Error::other(format!("{} is not on PATH", program.display())))
}

/// A new network namespace with loopback up, as every container's has;
/// with container networking, the peer's end of the veth pair in it.
fn network(b: &Boundary) -> io::Result<()> {
    use crate::sys::netlink::Netlink;
    // Opened here, it keeps acting on the host's namespace after the move.
    let mut host = b.veth.as_ref().map(|_| Netlink::open()).transpose()?;
    ns::unshare(CloneFlags::CLONE_NEWNET, "CLONE_NEWNET")?;
    let mut here = Netlink::open()?;
    let lo = here.index("lo")?;
    here.set_up(lo)?;
    let (Some(veth), Some(host)) = (&b.veth, host.as_mut()) else {
        return Ok(());
    };
    let theirs = host.index(&veth.name)?;
    host.move_to_namespace_of(theirs, std::process::id())?;
    let ours = here.index(&veth.name)?;
    here.add_address(ours, veth.address, super::veth::PREFIX)?;
    here.set_up(ours)
}

/// A container's view of the filesystem: its own /tmp and (outside a
/// pod) /dev/shm, and the case's folder shared or hidden.
fn private_view(b: &Boundary, held: &Held) -> io::Result<()> {
    ns::make_mounts_private()?;
    let volume = b
        .share_folder
        .then(|| ns::copy_of_tree(&b.folder))
        .transpose()?;
    ns::mount_tmpfs(Path::new("/tmp"))?;
    if !b.share_dev_shm {
        ns::mount_tmpfs(Path::new("/dev/shm"))?;
    }
    std::fs::create_dir_all(&b.folder)?;
    match &volume {
        Some(tree) => ns::attach(tree, &b.folder)?,
        None => ns::mount_tmpfs(&b.folder)?,
    }
    for (path, bytes) in &held.image {
        if !path.exists() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
    }
    Ok(())
}

/// Forks the PID namespace's first process, which becomes the program;
/// waits for it and ends as it ended.
fn first_process(held: &Held, own_proc: bool) -> io::Result<i32> {
    use nix::unistd::ForkResult;
    let (alive, keep_alive) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the launcher is single-threaded (it started no thread and the
    // user-namespace helper has exited), so the child may do anything.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            drop(keep_alive);
            let ready = dies_with_launcher(alive).and_then(|()| match own_proc {
                true => ns::mount_proc(),
                false => Ok(()),
            });
            let e = ready.err().unwrap_or_else(|| become_program(held));
            refused(&e);
            // SAFETY: ends the forked child without running destructors
            // that belong to the launcher.
            unsafe { libc::_exit(1) }
        }
        ForkResult::Parent { child } => {
            drop(alive);
            let status = nix::sys::wait::waitpid(child, None)?;
            Ok(ended_as(status))
        }
    }
}

/// The first process's parent-death signal, which no getppid() check can
/// back up in a new PID namespace (its parent is outside: 0): instead, the
/// pipe whose only writer is the launcher is already hung up if the
/// launcher died before the signal was set.
fn dies_with_launcher(alive: OwnedFd) -> io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&alive),
        PollFlags::POLLIN,
    )];
    poll(&mut fds, PollTimeout::ZERO)?;
    let hung_up = fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLHUP));
    match hung_up {
        true => Err(io::Error::other(
            "the launcher died before its peer started",
        )),
        false => Ok(()),
    }
}

/// The launcher's exit code for how the first process ended: its code, or
/// the same signal, raised on itself, so the harness sees a peer killed.
fn ended_as(status: nix::sys::wait::WaitStatus) -> i32 {
    use nix::sys::signal::{raise, signal, SigHandler};
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => {
            // SAFETY: restores the default action; no handler is involved.
            let _ = unsafe { signal(sig, SigHandler::SigDfl) };
            let _ = raise(sig);
            128 + sig as i32
        }
        _ => 1,
    }
}

/// Replaces this process with the program; returns only why it could not.
/// The parent-death signal is set again, since a change of credentials (a
/// user namespace) clears it.
fn become_program(held: &Held) -> io::Error {
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        return e.into();
    }
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut pair = k.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    let e = nix::unistd::fexecve(&held.program, &held.argv, &env).unwrap_err();
    io::Error::other(format!("starting the peer: {e:?} ({})", e.desc()))
}
