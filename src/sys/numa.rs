//! Where memory lives on a machine with several NUMA nodes: shared
//! mappings bound to a node before their first touch (mbind), and the
//! node each page was found on afterwards (move_pages, asking only).
//! nix wraps neither.
//!
//! A run with `--memory-node N` sets the node for the mappings this
//! process makes from then on (`place_new_mappings`); `Mapping` binds each
//! shared mapping as it is made and records where its pages are once it
//! has touched them (`record`), which the harness reads after the case.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;

/// The node new shared mappings are bound to; -1 for none.
static NODE: AtomicI64 = AtomicI64::new(-1);
/// The nodes pages were found on since the node was set.
static FOUND: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

const MPOL_BIND: libc::c_int = 2;

/// Binds shared mappings made from now on to `node` (None: the kernel's
/// default policy), and forgets what was found before.
pub fn place_new_mappings(node: Option<usize>) {
    NODE.store(node.map_or(-1, |n| n as i64), Ordering::Relaxed);
    FOUND.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// The node new shared mappings are bound to, if one was set.
pub fn chosen() -> Option<usize> {
    usize::try_from(NODE.load(Ordering::Relaxed)).ok()
}

/// The nodes the recorded pages were found on.
pub fn found() -> Vec<usize> {
    FOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .collect()
}

/// The nodes with memory (`/sys/devices/system/node/has_memory`); node 0
/// alone on a kernel without NUMA.
pub fn nodes_with_memory() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/node/has_memory")
        .map(|t| super::affinity::cpu_list(t.trim()))
        .unwrap_or_else(|_| vec![0])
}

/// Binds `len` bytes at `addr` (page-aligned, not yet touched) to `node`.
pub fn bind(addr: usize, len: usize, node: usize) -> nix::Result<()> {
    let bits = usize::BITS as usize;
    let mut mask = vec![0 as libc::c_ulong; node / bits + 1];
    mask[node / bits] |= 1 << (node % bits);
    // SAFETY: mbind reads `mask` (maxnode bits long) during the call and
    // changes only the policy of our own range; flags 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            addr,
            len,
            MPOL_BIND,
            mask.as_ptr(),
            (mask.len() * bits) as libc::c_ulong,
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// Records the nodes of up to 64 pages spread over `len` bytes at `addr`,
/// which this process has touched.
pub fn record(addr: usize, len: usize) {
    let page = 4096;
    let pages = len.div_ceil(page).max(1);
    let step = pages.div_ceil(64);
    let addrs: Vec<*const libc::c_void> = (0..pages)
        .step_by(step)
        .map(|i| (addr + i * page) as *const libc::c_void)
        .collect();
    let mut status = vec![0 as libc::c_int; addrs.len()];
    // SAFETY: move_pages with a null node list only reports each page's
    // node into `status`, as long as `addrs`; pid 0 is this process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0,
            addrs.len() as libc::c_ulong,
            addrs.as_ptr(),
            std::ptr::null::<libc::c_int>(),
            status.as_mut_ptr(),
            0,
        )
    };
    if r == 0 {
        let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        found.extend(status.iter().filter_map(|&s| usize::try_from(s).ok()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::mapping::Mapping;

    /// A shared mapping made while a node is set is bound there, and its
    /// touch faults every page in (a write, which the compiler must not
    /// fold into a load) so that move_pages finds them on that node.
    #[test]
    fn touched_pages_are_found_on_the_node_asked_for() {
        let node = nodes_with_memory()[0];
        let memfd =
            nix::sys::memfd::memfd_create("numa-test", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap();
        nix::unistd::ftruncate(&memfd, 16 << 12).unwrap();
        place_new_mappings(Some(node));
        let map = Mapping::map_fd(&memfd, 16 << 12).unwrap();
        map.touch();
        let found = found();
        place_new_mappings(None);
        assert_eq!(found, vec![node]);
    }
}
