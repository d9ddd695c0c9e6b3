//! What a pipe holds, which nix does not ask.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// Bytes written into the pipe of `fd` (either end) and not read yet.
pub fn unread(fd: BorrowedFd) -> nix::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points to
    // `n` for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n as *mut libc::c_int) };
    Errno::result(r)?;
    Ok(n.max(0) as usize)
}
