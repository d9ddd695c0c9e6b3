//! System V IPC (message queues, semaphore sets, shared memory segments),
//! which nix does not wrap. Each object is created with IPC_PRIVATE, so no
//! key can collide with anyone else's; the peer learns the id from the
//! harness. Every unsafe call is here, each with why it is sound.

use std::ffi::c_void;
use std::ptr::NonNull;

use nix::errno::Errno;

use super::mapping::Mapping;

fn check(ret: libc::c_int) -> nix::Result<libc::c_int> {
    Errno::result(ret)
}

/// A System V message queue. The creator removes it on drop; a queue is
/// destroyed at once by IPC_RMID, so it cannot be marked for removal early.
pub struct MsgQueue {
    id: i32,
    owner: bool,
}

impl MsgQueue {
    pub fn create() -> nix::Result<MsgQueue> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) })?;
        Ok(MsgQueue { id, owner: true })
    }

    /// A new queue found by `key` (connectionless experiments), owned here.
    pub fn create_keyed(key: i32) -> nix::Result<MsgQueue> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) })?;
        Ok(MsgQueue { id, owner: true })
    }

    /// The queue that `key` names; it is removed when this is dropped.
    pub fn open_keyed(key: i32) -> nix::Result<MsgQueue> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::msgget(key, 0) })?;
        Ok(MsgQueue { id, owner: true })
    }

    /// Gives up ownership: the queue outlives this process (connectionless
    /// experiments hand it to another process, which removes it).
    pub fn leave(mut self) {
        self.owner = false;
    }

    /// Takes over a queue whose creator died: it is removed on drop.
    pub fn adopt(id: i32) -> MsgQueue {
        MsgQueue { id, owner: true }
    }

    /// A queue someone else created and will remove, once IPC_STAT shows
    /// the id names one that this process may read: in another IPC
    /// namespace it names nothing (EINVAL), and a stranger may not (EACCES).
    pub fn attach(id: i32) -> nix::Result<MsgQueue> {
        // SAFETY: msqid_ds is plain data; zeroes are a valid value.
        let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one msqid_ds into `ds`, which we own.
        check(unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) })?;
        Ok(MsgQueue { id, owner: false })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    /// Sends `buf`, whose first 8 bytes are the message type (a native
    /// `long`, > 0) and the rest the message text, as msgsnd wants it.
    pub fn send(&self, buf: &[u8]) -> nix::Result<()> {
        self.send_flags(buf, 0)
    }

    /// `send` with msgsnd flags (IPC_NOWAIT).
    pub fn send_flags(&self, buf: &[u8], flags: i32) -> nix::Result<()> {
        assert!(buf.len() >= 8, "a message starts with its type");
        // SAFETY: buf is a readable region of buf.len() bytes laid out as
        // struct msgbuf; msgsz counts only the text after the type.
        check(unsafe { libc::msgsnd(self.id, buf.as_ptr() as *const c_void, buf.len() - 8, flags) })
            .map(drop)
    }

    /// Receives the first message of type `mtype` into `buf` (type first,
    /// then text); returns the text's length.
    pub fn recv(&self, buf: &mut [u8], mtype: i64) -> nix::Result<usize> {
        self.receive(buf, mtype, 0)
    }

    /// As `recv`, but EAGAIN (ENOMSG from the kernel) when no such
    /// message is there (IPC_NOWAIT).
    pub fn try_recv(&self, buf: &mut [u8], mtype: i64) -> nix::Result<usize> {
        match self.receive(buf, mtype, libc::IPC_NOWAIT) {
            Err(Errno::ENOMSG) => Err(Errno::EAGAIN),
            other => other,
        }
    }

    fn receive(&self, buf: &mut [u8], mtype: i64, flags: libc::c_int) -> nix::Result<usize> {
        assert!(buf.len() >= 8, "a message starts with its type");
        // SAFETY: buf is a writable region of buf.len() bytes; the kernel
        // writes at most 8 + msgsz bytes into it.
        let n = unsafe {
            libc::msgrcv(
                self.id,
                buf.as_mut_ptr() as *mut c_void,
                buf.len() - 8,
                mtype as libc::c_long,
                flags,
            )
        };
        Errno::result(n).map(|n| n as usize)
    }
}

impl Drop for MsgQueue {
    fn drop(&mut self) {
        if self.owner {
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
}

/// A System V semaphore set; removed on drop by its creator.
pub struct SemSet {
    id: i32,
    owner: bool,
}

impl SemSet {
    pub fn create(initial: &[u16]) -> nix::Result<SemSet> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe {
            libc::semget(
                libc::IPC_PRIVATE,
                initial.len() as i32,
                libc::IPC_CREAT | 0o600,
            )
        })?;
        let set = SemSet { id, owner: true };
        for (i, &v) in initial.iter().enumerate() {
            // SAFETY: SETVAL reads `union semun`'s int member, passed as the
            // variadic argument, as glibc expects.
            check(unsafe { libc::semctl(id, i as i32, libc::SETVAL, v as libc::c_int) })?;
        }
        Ok(set)
    }

    /// A one-semaphore set found by `key`, left for another process.
    pub fn create_keyed(key: i32) -> nix::Result<SemSet> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::semget(key, 1, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) })?;
        Ok(SemSet { id, owner: false })
    }

    /// The set that `key` names; removed when this is dropped.
    pub fn open_keyed(key: i32) -> nix::Result<SemSet> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::semget(key, 0, 0) })?;
        Ok(SemSet { id, owner: true })
    }

    /// Takes one unit without blocking; false if the value is zero.
    pub fn try_wait(&self, num: u16) -> nix::Result<bool> {
        let mut op = libc::sembuf {
            sem_num: num,
            sem_op: -1,
            sem_flg: libc::IPC_NOWAIT as i16,
        };
        // SAFETY: one valid sembuf, nsops = 1.
        match check(unsafe { libc::semop(self.id, &mut op, 1) }) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Takes over a set whose creator died: it is removed on drop.
    pub fn adopt(id: i32) -> SemSet {
        SemSet { id, owner: true }
    }

    /// A set someone else created, once IPC_STAT shows this process may
    /// read it (see `MsgQueue::attach`).
    pub fn attach(id: i32) -> nix::Result<SemSet> {
        // SAFETY: semid_ds is plain data; zeroes are a valid value.
        let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one semid_ds through the pointer passed
        // as semctl's fourth argument, which we own.
        check(unsafe { libc::semctl(id, 0, libc::IPC_STAT, &mut ds) })?;
        Ok(SemSet { id, owner: false })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    fn op(&self, num: u16, delta: i16) -> nix::Result<()> {
        let mut op = libc::sembuf {
            sem_num: num,
            sem_op: delta,
            sem_flg: 0,
        };
        // SAFETY: one valid sembuf, nsops = 1.
        check(unsafe { libc::semop(self.id, &mut op, 1) }).map(drop)
    }

    pub fn wait(&self, num: u16) -> nix::Result<()> {
        self.op(num, -1)
    }

    pub fn post(&self, num: u16) -> nix::Result<()> {
        self.op(num, 1)
    }
}

impl Drop for SemSet {
    fn drop(&mut self) {
        if self.owner {
            // SAFETY: IPC_RMID takes no further argument.
            unsafe { libc::semctl(self.id, 0, libc::IPC_RMID) };
        }
    }
}

/// A System V shared memory segment, attached in this process.
pub struct Segment {
    id: i32,
    map: Mapping,
}

impl Segment {
    pub fn create(len: usize) -> nix::Result<Segment> {
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) })?;
        Segment::attach(id, len).inspect_err(|_| {
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        })
    }

    /// A segment found by `key`: created (`create`) or opened.
    pub fn keyed(key: i32, len: usize, create: bool) -> nix::Result<Segment> {
        let flags = if create {
            libc::IPC_CREAT | libc::IPC_EXCL | 0o600
        } else {
            0
        };
        // SAFETY: plain system call with integer arguments.
        let id = check(unsafe { libc::shmget(key, len, flags) })?;
        Segment::attach(id, len)
    }

    pub fn attach(id: i32, len: usize) -> nix::Result<Segment> {
        // SAFETY: shmat maps a fresh region of at least `len` bytes (the
        // segment's size) or returns (void*)-1.
        let ptr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if ptr as isize == -1 {
            return Err(Errno::last());
        }
        let ptr = NonNull::new(ptr as *mut u8).ok_or(Errno::EINVAL)?;
        // SAFETY: the region is mapped for len bytes until shmdt in Drop.
        let map = unsafe { Mapping::new(ptr, len, Detach::Shmdt) };
        if let Some(node) = super::numa::chosen() {
            // Before the first touch, so that the pages are made there.
            super::numa::bind(map.address(), len, node)?;
        }
        Ok(Segment { id, map })
    }

    pub fn id(&self) -> i32 {
        self.id
    }

    /// Marks the segment for removal; it lives on until the last process
    /// detaches, so nothing outlives the two peers even if both are killed.
    pub fn mark_for_removal(&self) -> nix::Result<()> {
        // SAFETY: IPC_RMID takes no buffer.
        check(unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
    }

    /// The attached memory; it stays attached until the mapping is dropped.
    pub fn into_map(self) -> Mapping {
        self.map
    }
}

/// How a mapping is released.
pub enum Detach {
    Munmap,
    Shmdt,
}

/// Removes whatever queue, semaphore set and segment `key` names (for a
/// cleaner whose creator died). A key that names nothing is not an error.
pub fn remove_keyed(key: i32) {
    // SAFETY: plain system calls with integer arguments; IPC_RMID takes no
    // buffer. A failed get returns -1, which is never passed on.
    unsafe {
        let id = libc::msgget(key, 0);
        if id >= 0 {
            libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut());
        }
        let id = libc::semget(key, 0, 0);
        if id >= 0 {
            libc::semctl(id, 0, libc::IPC_RMID);
        }
        let id = libc::shmget(key, 0, 0);
        if id >= 0 {
            libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}
