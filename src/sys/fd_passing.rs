//! What a Unix socket carries beside a few bytes: a descriptor
//! (SCM_RIGHTS), or the sender's credentials (SO_PASSCRED), which the
//! kernel vouches for and translates into the receiver's namespaces.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Sends `bytes` with a copy of `fd` attached.
pub fn send_fd(socket: BorrowedFd, bytes: &[u8], fd: BorrowedFd) -> nix::Result<()> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map(drop)
}

/// Receives one message into `buf`: its length, and the descriptor that
/// came with it, if one did (close-on-exec, ours alone). `dont_wait` makes
/// an empty socket EAGAIN instead of a sleep.
pub fn recv_fd(
    socket: BorrowedFd,
    buf: &mut [u8],
    dont_wait: bool,
) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(buf)];
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if dont_wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), flags)?;
    let mut received = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: recvmsg just installed this descriptor in our
                // table, for us alone; owning it closes it exactly once
                // (extra ones are closed at once).
                let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                received.get_or_insert(fd);
            }
        }
    }
    Ok((msg.bytes, received))
}

/// Asks the kernel to attach the sender's credentials to what `socket`
/// receives from now on.
pub fn pass_credentials(socket: BorrowedFd) -> nix::Result<()> {
    nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::PassCred, &true)
}

/// Fills `buf` from a Unix stream socket that passes credentials, and
/// returns the sender's pid as this process's PID namespace sees it: 0
/// when the sender is outside it, whatever number the sender would say.
pub fn recv_exact_from(socket: BorrowedFd, buf: &mut [u8]) -> nix::Result<i32> {
    let mut sender = None;
    let mut filled = 0;
    while filled < buf.len() {
        let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        let mut iov = [IoSliceMut::new(&mut buf[filled..])];
        let msg = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        );
        let msg = match msg {
            Err(nix::errno::Errno::EINTR) => continue,
            other => other?,
        };
        if msg.bytes == 0 {
            return Err(nix::errno::Errno::ECONNRESET);
        }
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmCredentials(creds) = cmsg {
                sender.get_or_insert(creds.pid());
            }
        }
        filled += msg.bytes;
    }
    sender.ok_or(nix::errno::Errno::EPROTO)
}
