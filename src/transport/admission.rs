//! Connections only our own peers may make. A loopback port is open to
//! every user of the machine: one who connects first would take a peer's
//! place, and one who speaks the framing could inject messages. So the
//! parent hands its peers a secret with the address (in the token), each
//! peer presents it first on its connection, and the parent counts a
//! connection only once it has read the secret back; any other is closed.
//! (Sockets in the private folder need none: the folder is the owner's.)

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{accept4, SockFlag};

use crate::sys::interrupt::retry;

/// How long a connection may take to present the secret: our own peers do
/// it as they connect.
const PRESENT_WITHIN: Duration = Duration::from_secs(2);

/// A fresh secret and the token that carries `address` with it.
pub fn token(address: &str) -> (String, String) {
    let secret = crate::sys::unguessable();
    (format!("{address}/{secret}"), secret)
}

/// The address and the secret a token carries.
pub fn split(token: &str) -> io::Result<(&str, &str)> {
    token
        .rsplit_once('/')
        .ok_or_else(|| io::Error::other(format!("a token without its secret: '{token}'")))
}

/// The peer's side: presents the secret on a fresh connection.
pub fn present(fd: &OwnedFd, secret: &str) -> io::Result<()> {
    super::stream::write_all(fd, secret.as_bytes())
}

/// Accepts connections on `listener` until one presents `secret`; those
/// that do not, within the time allowed, are closed uncounted.
pub fn accept(listener: &OwnedFd, secret: &str) -> io::Result<OwnedFd> {
    loop {
        let fd = retry(|| accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC))?;
        // SAFETY: accept4 just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if presented(&fd, secret.as_bytes())? {
            return Ok(fd);
        }
    }
}

/// Whether the first bytes on `fd` are `secret`, read within the time
/// allowed (a stranger that sends nothing costs that long, no more).
fn presented(fd: &OwnedFd, secret: &[u8]) -> io::Result<bool> {
    let deadline = Instant::now() + PRESENT_WITHIN;
    let mut got = vec![0u8; secret.len()];
    let mut done = 0;
    while done < got.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if retry(|| poll(&mut fds, wait))? == 0 {
            return Ok(false);
        }
        match retry(|| nix::unistd::read(fd, &mut got[done..])) {
            Ok(0) | Err(_) => return Ok(false),
            Ok(n) => done += n,
        }
    }
    Ok(got == secret)
}
