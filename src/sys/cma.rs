//! Cross-memory attach: writing straight into another process's memory
//! (process_vm_writev), which the kernel allows only where ptrace would be.

use std::io::{self, IoSlice};

use nix::errno::Errno;
use nix::sys::uio::{process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

use super::limits::sysctl;

/// Copies `local` into `pid`'s memory at `remote`, all of it; a refusal
/// of the ptrace check is `unsupported`, naming the rule that refused.
pub fn write_into(pid: Pid, local: &[IoSlice], remote: RemoteIoVec) -> io::Result<()> {
    let want: usize = local.iter().map(|s| s.len()).sum();
    match process_vm_writev(pid, local, &[remote]) {
        Ok(n) if n == want => Ok(()),
        Ok(n) => Err(io::Error::other(format!(
            "process_vm_writev wrote {n} of {want} bytes into process {pid}"
        ))),
        Err(Errno::EPERM) => Err(super::unsupported(refusal(pid))),
        Err(e) => Err(e.into()),
    }
}

fn refusal(pid: Pid) -> String {
    let yama = match sysctl("kernel.yama.ptrace_scope") {
        Some(scope) => format!("kernel.yama.ptrace_scope is {scope}"),
        None => "Yama is not loaded".to_string(),
    };
    format!(
        "process_vm_writev into process {pid}: EPERM: the kernel's ptrace access check refused it ({yama}; writing into another process needs the rights to ptrace it: the same user and, under Yama 1, being its ancestor or named with PR_SET_PTRACER; 2 needs CAP_SYS_PTRACE; 3 forbids it)"
    )
}

/// Lets process `pid` (our child, which Yama's ptrace_scope 1 would let
/// only its ancestors trace) pass the ptrace check against this process,
/// until the returned guard is dropped: a pid left named after its
/// process died could be reused by another. Without Yama, nothing to do.
pub fn allow_writes_from(pid: Pid) -> io::Result<Ptracer> {
    set_ptracer(pid.as_raw() as libc::c_ulong)?;
    Ok(Ptracer)
}

/// Names no process as our ptracer again when dropped.
pub struct Ptracer;

impl Drop for Ptracer {
    fn drop(&mut self) {
        let _ = set_ptracer(0);
    }
}

fn set_ptracer(pid: libc::c_ulong) -> io::Result<()> {
    // SAFETY: PR_SET_PTRACER takes a pid (0: none) as an unsigned long and
    // no pointers; the unused arguments must be zero.
    let r = unsafe { libc::prctl(libc::PR_SET_PTRACER, pid, 0, 0, 0) };
    match Errno::result(r) {
        Ok(_) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
