//! A region of memory shared with another process, accessed only by copying
//! bytes in and out at offsets. The protocol on top (semaphores, futexes)
//! orders those copies; this type only keeps them inside the region.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::sysv::Detach;

pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    detach: Detach,
}

// SAFETY: the mapping is plain memory; which thread copies in or out does not
// matter, and the owner releases it exactly once.
unsafe impl Send for Mapping {}
// SAFETY: the region is shared with another process that reads and writes it
// concurrently anyway; a second thread here adds no access the protocol on
// top does not already order. `&self` methods only copy and hand out atomics.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// # Safety
    /// `ptr` must point to a mapping of at least `len` bytes that stays valid
    /// until released as `detach` says, and that nobody else releases.
    pub unsafe fn new(ptr: NonNull<u8>, len: usize, detach: Detach) -> Mapping {
        Mapping { ptr, len, detach }
    }

    /// Maps an open shared memory object of `len` bytes read/write, shared.
    pub fn map_fd(fd: &std::os::fd::OwnedFd, len: usize) -> nix::Result<Mapping> {
        Mapping::map_fd_as(fd, len, true)
    }

    /// As `map_fd`, read-only: what a sealed memfd allows. Only `read` and
    /// `bytes` may be used on it.
    pub fn map_fd_read_only(fd: &std::os::fd::OwnedFd, len: usize) -> nix::Result<Mapping> {
        Mapping::map_fd_as(fd, len, false)
    }

    fn map_fd_as(fd: &std::os::fd::OwnedFd, len: usize, writable: bool) -> nix::Result<Mapping> {
        use nix::sys::mman::{mmap, MapFlags, ProtFlags};
        let size = std::num::NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
        let mut prot = ProtFlags::PROT_READ;
        if writable {
            prot |= ProtFlags::PROT_WRITE;
        }
        // SAFETY: a fresh shared mapping of a descriptor we own; nothing else
        // in this process aliases it.
        let ptr = unsafe { mmap(None, size, prot, MapFlags::MAP_SHARED, fd, 0)? };
        if let Some(node) = super::numa::chosen() {
            // Before the first touch, so that the pages are made there.
            super::numa::bind(ptr.as_ptr() as usize, len, node)?;
        }
        // SAFETY: mmap returned a mapping of len bytes, released by munmap in Drop.
        Ok(unsafe { Mapping::new(ptr.cast(), len, Detach::Munmap) })
    }

    /// `len` bytes of this process's own memory, zeroed, page-aligned:
    /// what `vmsplice` hands to a pipe by reference.
    pub fn anonymous(len: usize) -> nix::Result<Mapping> {
        use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
        let size = std::num::NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a fresh private mapping at an address the kernel picks;
        // nothing else aliases it.
        let ptr = unsafe { mmap_anonymous(None, size, prot, MapFlags::MAP_PRIVATE)? };
        // SAFETY: mmap returned a mapping of len bytes, released by munmap in Drop.
        Ok(unsafe { Mapping::new(ptr.cast(), len, Detach::Munmap) })
    }

    /// Keeps the region out of any child this process forks: a child that
    /// inherited a writable mapping of a memfd would keep `F_SEAL_WRITE`
    /// refused (EBUSY) until it exits or execs.
    pub fn dont_fork(&self) -> nix::Result<()> {
        use nix::sys::mman::{madvise, MmapAdvise};
        // SAFETY: the range is exactly this mapping; MADV_DONTFORK changes
        // only what a fork copies, not the memory here.
        unsafe { madvise(self.ptr.cast(), self.len, MmapAdvise::MADV_DONTFORK) }
    }

    /// Where the region starts in this process: what another process
    /// writes to with process_vm_writev.
    pub fn address(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `src` into the region at `offset`.
    pub fn write(&self, offset: usize, src: &[u8]) {
        assert!(offset
            .checked_add(src.len())
            .is_some_and(|end| end <= self.len));
        // SAFETY: the range is inside the mapping (checked above) and cannot
        // overlap `src`, which lives in this process's private memory.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(offset), src.len())
        };
    }

    /// Copies from the region at `offset` into `dst`.
    pub fn read(&self, offset: usize, dst: &mut [u8]) {
        assert!(offset
            .checked_add(dst.len())
            .is_some_and(|end| end <= self.len));
        // SAFETY: as in `write`, with the roles swapped.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
    }

    /// `len` bytes at `offset`, read where they lie.
    ///
    /// # Safety
    /// The protocol on top must keep the other process from writing these
    /// bytes while the borrow lives (they are this side's to read, as a
    /// taken loan is).
    pub unsafe fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in bounds (checked above) and mapped while `self` lives;
        // no writer while the borrow lives, by the caller's promise.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(offset), len) }
    }

    /// `len` bytes at `offset`, written where they lie.
    ///
    /// # Safety
    /// The protocol on top must give these bytes to this side alone while
    /// the borrow lives (a slot on loan): the other process neither reads
    /// nor writes them.
    pub unsafe fn bytes_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        assert!(offset.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: as in `bytes`; `&mut self` keeps this process's other
        // borrows of the region away meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(offset), len) }
    }

    /// The 8 bytes at `offset`, as an atomic shared with the other process.
    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= self.len);
        // SAFETY: in bounds and aligned (checked above; the mapping is
        // page-aligned); AtomicU64 has u64's layout; the memory stays mapped
        // for the returned borrow; the other process touches these bytes
        // only through atomics too.
        unsafe { &*(self.ptr.as_ptr().add(offset) as *const AtomicU64) }
    }

    /// The 4 bytes at `offset`, as an atomic shared with the other process.
    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        assert!(offset.is_multiple_of(4) && offset + 4 <= self.len);
        // SAFETY: as in `atomic_u64`.
        unsafe { &*(self.ptr.as_ptr().add(offset) as *const AtomicU32) }
    }

    /// Faults every page in for writing, so first-touch faults happen before
    /// timing. An atomic OR with zero writes without changing a byte: safe
    /// while the other process already uses the region.
    pub fn touch(&self) {
        for off in (0..self.len).step_by(4096) {
            // SAFETY: in bounds (off < len); AtomicU8 has u8's layout; the
            // memory stays mapped while `self` lives.
            let byte =
                unsafe { &*(self.ptr.as_ptr().add(off) as *const std::sync::atomic::AtomicU8) };
            // An OR with a literal zero is idempotent, which the compiler
            // turns into a load or nothing: black_box hides the zero, so
            // the locked write, and the write fault, happen.
            byte.fetch_or(
                std::hint::black_box(0),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if super::numa::chosen().is_some() {
            // Where the pages actually went, now that they exist.
            super::numa::record(self.address(), self.len);
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        match self.detach {
            Detach::Munmap => {
                // SAFETY: this mapping was made by mmap for len bytes and is
                // released only here.
                let _ = unsafe { nix::sys::mman::munmap(self.ptr.cast(), self.len) };
            }
            Detach::Shmdt => {
                // SAFETY: attached by shmat, detached only here.
                unsafe { libc::shmdt(self.ptr.as_ptr() as *const libc::c_void) };
            }
        }
    }
}
