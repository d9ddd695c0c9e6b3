//! Named POSIX semaphores (sem_open), which nix does not wrap.

use std::ffi::CString;

use nix::errno::Errno;

/// Removes a semaphore's name.
pub fn unlink(name: &str) -> nix::Result<()> {
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: name is NUL-terminated; sem_unlink only reads it.
    Errno::result(unsafe { libc::sem_unlink(name.as_ptr()) }).map(drop)
}

pub struct NamedSemaphore {
    sem: *mut libc::sem_t,
    name: CString,
}

// SAFETY: a sem_t from sem_open may be used from any thread.
unsafe impl Send for NamedSemaphore {}
// SAFETY: sem_wait and sem_post are thread-safe (POSIX), and `&self` offers
// nothing else that changes the handle.
unsafe impl Sync for NamedSemaphore {}

impl NamedSemaphore {
    /// Creates a new semaphore (failing if the name exists) with `value`.
    pub fn create(name: &str, value: u32) -> nix::Result<NamedSemaphore> {
        Self::open_with(name, libc::O_CREAT | libc::O_EXCL, value)
    }

    /// Opens one that exists.
    pub fn open(name: &str) -> nix::Result<NamedSemaphore> {
        Self::open_with(name, 0, 0)
    }

    fn open_with(name: &str, flags: i32, value: u32) -> nix::Result<NamedSemaphore> {
        let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
        // SAFETY: name is NUL-terminated; mode and value are the variadic
        // arguments sem_open reads when O_CREAT is set (ignored otherwise).
        let sem = unsafe {
            libc::sem_open(
                name.as_ptr(),
                flags,
                0o600 as libc::c_uint,
                value as libc::c_uint,
            )
        };
        if sem == libc::SEM_FAILED {
            return Err(Errno::last());
        }
        Ok(NamedSemaphore { sem, name })
    }

    /// Waits; EINTR is returned (never retried here), so a blocked wait can
    /// be abandoned.
    pub fn wait(&self) -> nix::Result<()> {
        // SAFETY: sem is a valid semaphore until Drop.
        Errno::result(unsafe { libc::sem_wait(self.sem) }).map(drop)
    }

    /// Takes the semaphore if it is above zero; false if it is zero.
    pub fn try_wait(&self) -> nix::Result<bool> {
        // SAFETY: as in `wait`.
        match Errno::result(unsafe { libc::sem_trywait(self.sem) }) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn post(&self) -> nix::Result<()> {
        // SAFETY: as in `wait`.
        Errno::result(unsafe { libc::sem_post(self.sem) }).map(drop)
    }

    /// Removes the name; the semaphore lives on while it is open.
    pub fn unlink(&self) -> nix::Result<()> {
        // SAFETY: name is NUL-terminated.
        Errno::result(unsafe { libc::sem_unlink(self.name.as_ptr()) }).map(drop)
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        // SAFETY: sem came from sem_open and is closed only here.
        unsafe { libc::sem_close(self.sem) };
    }
}
