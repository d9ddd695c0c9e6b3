//! Container networking between the harness and a peer in its own network
//! namespace: a veth pair on a /30 of its own, the host end here, the
//! other moved into the peer's namespace by the launcher. Deleting either
//! end deletes both, and so does the end of the peer's namespace.

use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::sys::netlink::Netlink;

/// What the launcher needs of the peer's end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerEnd {
    pub name: String,
    pub address: Ipv4Addr,
}

pub const PREFIX: u8 = 30;

/// The host's end, up with its address; deleted when dropped.
pub struct HostEnd {
    name: String,
    address: Ipv4Addr,
}

static PAIRS: AtomicU32 = AtomicU32::new(0);

/// /30 blocks of 169.254.128.0/17, link-local addresses that no router
/// forwards, less 169.254.169.0/24, where clouds keep their metadata
/// service.
const BLOCKS: u32 = (1 << 15) / 4;

fn block_address(block: u32, host: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(169, 254, 128, 0)) + block * 4 + host)
}

impl HostEnd {
    /// Makes the pair: names that hold our pid (the janitor's key, and
    /// nobody else's), a free /30 chosen from pid and count so that
    /// parallel runs rarely try the same. `announce` hears the name before
    /// the pair exists (the janitor, which removes it should we be killed).
    pub fn make(announce: fn(&str)) -> io::Result<(HostEnd, PeerEnd)> {
        let n = PAIRS.fetch_add(1, Ordering::Relaxed) % 1000;
        let pid = std::process::id();
        let (name, peer) = (format!("ipb{pid}-{n}h"), format!("ipb{pid}-{n}p"));
        let mut netlink =
            Netlink::open().map_err(|e| refused("opening a route netlink socket", e))?;
        let used = netlink
            .ipv4_addresses()
            .map_err(|e| refused("listing the host's addresses", e))?;
        let start = pid.wrapping_mul(31).wrapping_add(n * 7) % BLOCKS;
        let block = (0..BLOCKS)
            .map(|i| (start + i) % BLOCKS)
            .find(|&b| {
                let in_use = (0..4).any(|h| used.contains(&block_address(b, h)));
                let metadata = block_address(b, 0).octets()[2] == 169;
                !in_use && !metadata
            })
            .ok_or_else(|| {
                io::Error::other("no free /30 left in 169.254.128.0/17 for a veth pair")
            })?;
        announce(&name);
        netlink
            .create_veth(&name, &peer)
            .map_err(|e| refused(&format!("creating the veth pair {name}/{peer}"), e))?;
        let host = HostEnd {
            name,
            address: block_address(block, 1),
        };
        let index = netlink.index(&host.name)?;
        netlink
            .add_address(index, host.address, PREFIX)
            .map_err(|e| {
                refused(
                    &format!("giving {} the address {}", host.name, host.address),
                    e,
                )
            })?;
        netlink.set_up(index)?;
        let peer = PeerEnd {
            name: peer,
            address: block_address(block, 2),
        };
        Ok((host, peer))
    }

    pub fn address(&self) -> Ipv4Addr {
        self.address
    }
}

impl Drop for HostEnd {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

/// Deletes a pair by one end's name; gone already is fine.
pub fn remove(name: &str) {
    if let Ok(mut netlink) = Netlink::open() {
        let _ = netlink.delete(name);
    }
}

/// A refusal by the kernel (no CAP_NET_ADMIN, no veth driver) makes the
/// case unsupported, naming what was refused.
fn refused(what: &str, e: io::Error) -> io::Error {
    crate::transport::unsupported(format!(
        "{what}: {e} (a veth pair needs CAP_NET_ADMIN and the veth driver)"
    ))
}
