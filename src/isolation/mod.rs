//! What stands between the harness and its peer: the namespaces of a
//! deployment (`run --isolation`), or of one kind alone (the probe's
//! columns). The parent describes the peer's side ([`Boundary`]) and makes
//! what lives on its own side (a veth pair's host end, [`Crossing`]); the
//! launcher (`__isolate`, enter.rs) makes the peer's side, then becomes
//! the peer. Everything of the peer's side lives in its namespaces and
//! ends with its last process; the host end of a veth is the janitor's.

mod enter;
mod veth;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::results::Isolation;
use crate::transport::Reach;

pub use enter::main as launcher;

/// A kind of namespace a container runtime separates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Namespace {
    Ipc,
    Network,
    Mount,
    Pid,
    User,
    Uts,
    Cgroup,
}

impl Namespace {
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Ipc => "IPC",
            Namespace::Network => "network",
            Namespace::Mount => "mount",
            Namespace::Pid => "PID",
            Namespace::User => "user",
            Namespace::Uts => "UTS",
            Namespace::Cgroup => "cgroup",
        }
    }
}

/// What separates the two processes of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Separation {
    Deployment(Isolation),
    /// One new namespace of this kind for the peer, as `unshare` makes it.
    Only(Namespace),
}

/// The host's root, as a remapped or rootless container's root is
/// outside its user namespace: nobody.
const UNPRIVILEGED: u32 = 65534;

impl Separation {
    pub const NONE: Separation = Separation::Deployment(Isolation::None);

    pub fn is_none(self) -> bool {
        self == Separation::NONE
    }

    /// The peer's new namespaces.
    pub fn namespaces(self) -> Vec<Namespace> {
        use Namespace::*;
        match self {
            Separation::Deployment(Isolation::None) => vec![],
            Separation::Deployment(Isolation::SamePod) => vec![Mount, Pid, Uts],
            Separation::Deployment(Isolation::SeparateContainers) => {
                vec![Ipc, Network, Mount, Pid, Uts, Cgroup]
            }
            Separation::Only(kind) => vec![kind],
        }
    }

    /// A deployment's shared volume is the case's folder; one namespace
    /// alone shares nothing, so a private mount namespace hides it.
    fn shares_folder(self) -> bool {
        matches!(self, Separation::Deployment(_))
    }

    /// Containers of one pod share the pod's /dev/shm with its IPC
    /// namespace (containerd and CRI-O mount it into each).
    fn shares_dev_shm(self) -> bool {
        self == Separation::Deployment(Isolation::SamePod)
    }

    /// Whether a transport reached by a port gets container networking (a
    /// veth pair) rather than a bare namespace with loopback alone.
    fn networks_containers(self) -> bool {
        self == Separation::Deployment(Isolation::SeparateContainers)
    }

    /// What a row measured behind it: which namespaces the peer had, and
    /// how a transport reached by a port went between them.
    pub fn note(self, reach: Reach) -> Option<String> {
        if self.is_none() {
            return None;
        }
        let kinds: Vec<&str> = self.namespaces().iter().map(|n| n.name()).collect();
        let network = match (self.networks_containers(), reach) {
            (true, Reach::Port) => {
                "; TCP over a veth pair between the two network namespaces, not loopback"
            }
            _ => "",
        };
        Some(format!(
            "peer behind {}: its own {} namespaces{network}",
            self.describe(),
            kinds.join(", ")
        ))
    }

    /// In words, for evidence and reasons: "a new IPC namespace", "same-pod".
    pub fn describe(self) -> String {
        match self {
            Separation::Deployment(i) => i.to_string(),
            Separation::Only(Namespace::User) => format!(
                "a new user namespace (its root is uid {UNPRIVILEGED} outside, as a remapped container's)"
            ),
            Separation::Only(kind) => format!("a new {} namespace", kind.name()),
        }
    }
}

/// The peer's side of a boundary, as the launcher makes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Boundary {
    namespaces: Vec<Namespace>,
    /// The case's folder: bound at its own path (a shared volume) or, in
    /// a private mount namespace of its own, hidden under an empty tmpfs.
    folder: PathBuf,
    share_folder: bool,
    share_dev_shm: bool,
    /// Files of the peer program (a script), copied into the peer's view
    /// where it would not see them, as a container's image carries them.
    image: Vec<PathBuf>,
    /// The peer's end of a veth pair, moved into its network namespace.
    veth: Option<veth::PeerEnd>,
}

impl Boundary {
    /// Adds files the peer program needs (see `image`).
    pub fn with_image(mut self, files: &[PathBuf]) -> Boundary {
        self.image.extend_from_slice(files);
        self
    }
}

/// The parent's side of a boundary: what the launcher is told, and the
/// host's end of the network between them, removed when dropped.
pub struct Crossing {
    pub boundary: Boundary,
    /// Where the parent's listeners bind, so that the peer reaches them.
    pub host: Ipv4Addr,
    _veth: Option<veth::HostEnd>,
}

/// The boundary of `separation` for a case whose folder is `folder` and
/// whose transport is reached by `reach`; None for no separation.
/// A veth pair's name is told to `announce` before the pair is made.
pub fn cross(
    separation: Separation,
    reach: Reach,
    folder: &Path,
    announce: fn(&str),
) -> std::io::Result<Option<Crossing>> {
    if separation.is_none() {
        return Ok(None);
    }
    let (veth, peer_end, host) = match separation.networks_containers() && reach == Reach::Port {
        true => {
            let (host_end, peer_end) = veth::HostEnd::make(announce)?;
            let host = host_end.address();
            (Some(host_end), Some(peer_end), host)
        }
        false => (None, None, Ipv4Addr::LOCALHOST),
    };
    let boundary = Boundary {
        namespaces: separation.namespaces(),
        folder: folder.to_path_buf(),
        share_folder: separation.shares_folder(),
        share_dev_shm: separation.shares_dev_shm(),
        image: Vec::new(),
        veth: peer_end,
    };
    Ok(Some(Crossing {
        boundary,
        host,
        _veth: veth,
    }))
}

/// `cmd` started behind `boundary`: the launcher (this binary), told the
/// boundary, becomes `cmd`'s program with its arguments and environment.
/// Standard streams and process settings are the caller's to add.
pub fn wrap(
    cmd: &std::process::Command,
    boundary: &Boundary,
    launcher: &Path,
) -> std::process::Command {
    let mut wrapped = std::process::Command::new(launcher);
    wrapped
        .arg("__isolate")
        .arg(serde_json::to_string(boundary).expect("a boundary serialises"))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// Whether the widest deployment can be made here: the launcher puts this
/// program (asked for its version) behind separate-containers, with a veth
/// pair. The doctor's check; the reason is the launcher's own words.
pub fn try_here(announce: fn(&str)) -> Result<(), String> {
    let exe =
        crate::sys::process::own_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let folder = crate::sys::private_dir().map_err(|e| format!("a private folder: {e}"))?;
    let separation = Separation::Deployment(Isolation::SeparateContainers);
    let crossing = cross(separation, Reach::Port, folder.path(), announce)
        .map_err(|e| e.to_string())?
        .expect("a deployment has a boundary");
    let mut version = std::process::Command::new(&exe);
    version.arg("--version");
    let mut cmd = wrap(&version, &crossing.boundary, &exe);
    let limit = std::time::Duration::from_secs(5);
    match crate::sys::process::output_within(&mut cmd, limit) {
        Ok(_) => Ok(()),
        Err(crate::sys::process::Failure::Ended(status, said)) => Err(match said.trim() {
            "" => format!("the launcher {status}"),
            said => said.to_string(),
        }),
        Err(e) => Err(format!("the launcher {e}")),
    }
}

/// A veth left by a harness that was killed: the janitor's removal.
pub fn remove_veth(name: &str) {
    veth::remove(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Pattern, Placement, Row, Wait};

    /// Rows of one transport behind different boundaries, or waiting
    /// differently, are different cases with different names.
    #[test]
    fn isolation_is_part_of_the_case_and_of_its_name() {
        let plain = Row::new("tcp", Placement::Cross, Pattern::Latency, 64);
        let apart = Row {
            isolation: Isolation::SeparateContainers,
            ..plain.clone()
        };
        let spinning = Row {
            wait: Wait::Spin,
            ..apart.clone()
        };
        assert!(!plain.same_case(&apart));
        assert_eq!(plain.transport_label(), "tcp");
        assert_eq!(apart.transport_label(), "tcp (separate-containers)");
        assert_eq!(
            spinning.transport_label(),
            "tcp (spin, separate-containers)"
        );
    }

    /// What each deployment separates, as the README's table defines it,
    /// and only container networking brings a veth.
    #[test]
    fn deployments_separate_what_the_readme_says() {
        use Namespace::*;
        let pod = Separation::Deployment(Isolation::SamePod);
        let apart = Separation::Deployment(Isolation::SeparateContainers);
        assert_eq!(pod.namespaces(), vec![Mount, Pid, Uts]);
        assert_eq!(
            apart.namespaces(),
            vec![Ipc, Network, Mount, Pid, Uts, Cgroup]
        );
        assert!(pod.shares_dev_shm() && !apart.shares_dev_shm());
        assert!(apart.networks_containers() && !pod.networks_containers());
        assert!(!Separation::Only(Network).networks_containers());
        assert!(Separation::NONE.namespaces().is_empty());
        let note = apart.note(Reach::Port).unwrap();
        assert!(note.contains("veth pair"), "{note}");
        assert!(!pod.note(Reach::Port).unwrap().contains("veth"));
        assert_eq!(Separation::NONE.note(Reach::Port), None);
    }
}
