//! Futex wait and wake on a word in memory shared between processes (so
//! without FUTEX_PRIVATE_FLAG), which nix does not wrap.

use std::sync::atomic::AtomicU32;

use nix::errno::Errno;

/// Sleeps while `*word == expected`. Returns at once if it differs (EAGAIN
/// is success here), and EINTR when a signal interrupts the sleep.
pub fn wait(word: &AtomicU32, expected: u32) -> nix::Result<()> {
    // SAFETY: word points to a live, aligned u32 for the duration of the
    // call; a null timeout means no timeout; the other arguments are unused.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        )
    };
    match Errno::result(r) {
        Ok(_) | Err(Errno::EAGAIN) => Ok(()),
        Err(e) => Err(e),
    }
}

/// As `wait`, for at most `timeout` (then it returns Ok too: callers look
/// at the word again and at their clock).
pub fn wait_at_most(
    word: &AtomicU32,
    expected: u32,
    timeout: std::time::Duration,
) -> nix::Result<()> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: as in `wait`; `ts` lives across the call, and FUTEX_WAIT
    // takes it as a relative timeout.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0,
        )
    };
    match Errno::result(r) {
        Ok(_) | Err(Errno::EAGAIN) | Err(Errno::ETIMEDOUT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Wakes up to `n` sleepers on `word`.
pub fn wake(word: &AtomicU32, n: i32) {
    // SAFETY: as in `wait`; FUTEX_WAKE only reads the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        )
    };
}
