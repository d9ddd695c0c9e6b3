//! A descriptor sent over a Unix socket with SCM_RIGHTS, beside a few bytes.

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
