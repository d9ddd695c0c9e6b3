//! Namespaces and the mounts of a container's view, as a runtime makes
//! them: unshare, a uid map written from outside, tmpfs and bind mounts,
//! and a fork for a PID namespace's first process. Called only by the
//! launcher (`__isolate`), which is single-threaded.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::{ForkResult, Gid, Pid, Uid};

/// The errno's name as well as its words: the probe quotes it as evidence.
fn os(what: &str, e: nix::Error) -> io::Error {
    let kind = io::Error::from(e).kind();
    io::Error::new(kind, format!("{what}: {e:?} ({})", e.desc()))
}

/// New namespaces of the kinds in `flags` for this process.
pub fn unshare(flags: CloneFlags, what: &str) -> io::Result<()> {
    nix::sched::unshare(flags).map_err(|e| os(&format!("unshare({what})"), e))
}

/// Puts this process in a new user namespace where its root is `outside`
/// on the host, as a rootless or remapped container's root is. A process
/// in the parent namespace must write the map (the kernel lets a process
/// map only its own id from inside), so a child does, then exits.
pub fn enter_user_namespace_as(outside: u32) -> io::Result<()> {
    // The child waits for its end of file: the parent closes `tell` once
    // it is in the new namespace.
    let (told, tell) = nix::unistd::pipe().map_err(|e| os("pipe", e))?;
    let me = nix::unistd::getpid();
    // SAFETY: the launcher is single-threaded (it has started no thread),
    // so the child may do anything; it only writes two files and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| os("fork", e))? {
        ForkResult::Child => {
            drop(tell);
            let code = match write_maps_once_told(told, me, outside) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            // SAFETY: _exit ends the forked child without running the
            // parent's destructors or flushing its buffers twice.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(told);
            let unshared = unshare(CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER");
            // Told now: the child writes the maps (or, if unshare failed,
            // finds the host's maps already written and fails).
            drop(tell);
            let status = nix::sys::wait::waitpid(child, None).map_err(|e| os("waitpid", e))?;
            unshared?;
            if status != nix::sys::wait::WaitStatus::Exited(child, 0) {
                return Err(io::Error::other(format!(
                    "writing the uid and gid maps of the new user namespace (root to {outside}) failed"
                )));
            }
            become_root_inside()
        }
    }
}

fn write_maps_once_told(told: OwnedFd, pid: Pid, outside: u32) -> io::Result<()> {
    let mut byte = [0u8; 1];
    while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(told.as_fd(), &mut byte) {}
    let map = format!("0 {outside} 1\n");
    std::fs::write(format!("/proc/{pid}/uid_map"), &map)?;
    std::fs::write(format!("/proc/{pid}/gid_map"), &map)
}

/// Takes the mapped ids: the namespace's root, an unprivileged user
/// outside, with no supplementary group left of the host's root.
fn become_root_inside() -> io::Result<()> {
    let root = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setgroups(&[]).map_err(|e| os("setgroups", e))?;
    nix::unistd::setresgid(root.1, root.1, root.1).map_err(|e| os("setresgid", e))?;
    nix::unistd::setresuid(root.0, root.0, root.0).map_err(|e| os("setresuid", e))
}

/// Stops mounts made here from reaching the host, and the host's from
/// reaching here, as a container's root is.
pub fn make_mounts_private() -> io::Result<()> {
    let flags = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .map_err(|e| os("making / private (mount MS_REC|MS_PRIVATE)", e))
}

/// An empty tmpfs over `at`, hiding what was there.
pub fn mount_tmpfs(at: &Path) -> io::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some("mode=1777"))
        .map_err(|e| os(&format!("mounting a tmpfs on {}", at.display()), e))
}

/// From linux/mount.h (libc exports them for Android only).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// A detached copy of the mounts at `path`, to attach once `path` is
/// hidden. A bind mount cannot do it: its source must be reachable in this
/// namespace, and an open descriptor's mount belongs to the old one.
pub fn copy_of_tree(path: &Path) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::other("a path holds a NUL"))?;
    let flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: open_tree reads a NUL-terminated path that outlives the call
    // and returns a new descriptor or -1; nothing else is touched.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c_path.as_ptr(), flags) };
    if fd < 0 {
        let e = nix::Error::last();
        return Err(os(&format!("open_tree({})", path.display()), e));
    }
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches a tree from `copy_of_tree` at `at`.
pub fn attach(tree: &OwnedFd, at: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let c_at = std::ffi::CString::new(at.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::other("a path holds a NUL"))?;
    let empty = c"";
    // SAFETY: move_mount reads two NUL-terminated paths that outlive the
    // call, and a descriptor we own; it returns 0 or -1.
    let done = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            c_at.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    match done {
        0 => Ok(()),
        _ => Err(os(
            &format!("attaching the shared folder on {}", at.display()),
            nix::Error::last(),
        )),
    }
}

/// A procfs of this process's PID namespace on /proc.
pub fn mount_proc() -> io::Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
        .map_err(|e| os("mounting a new /proc", e))
}

pub fn set_hostname(name: &str) -> io::Result<()> {
    nix::unistd::sethostname(name).map_err(|e| os("sethostname", e))
}

/// Opens `path` to name it later even once hidden (a folder to bind, a
/// program to execute).
pub fn open_path(path: &Path) -> io::Result<OwnedFd> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| os(&format!("opening {}", path.display()), e))
}
