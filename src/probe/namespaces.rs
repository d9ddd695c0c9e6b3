//! Which boundaries a mechanism crosses. The receiver stays in ipcbench's
//! namespaces; the peer is started behind one new namespace of each kind
//! (as `unshare` makes it, as root), then behind each deployment, and
//! reaches the channel the way the mechanism is always reached: by name,
//! by path, by address or by an inherited descriptor. Y when checked
//! messages went both ways; N with the error the peer got joining; and
//! `undecided` when the kernel would not make the namespace, or when the
//! case failed for another reason.

use crate::harness::{run_case, Case, Settings};
use crate::isolation::{Namespace, Separation};
use crate::results::failure::Cause;
use crate::results::probe::Property;
use crate::results::{Isolation, Pattern, Placement, Status};

use super::{helper, Finding, Subject};

/// Each column and the boundary it stands for.
pub const COLUMNS: [(Property, Separation); 7] = [
    (
        Property::CrossesIpcNamespace,
        Separation::Only(Namespace::Ipc),
    ),
    (
        Property::CrossesNetworkNamespace,
        Separation::Only(Namespace::Network),
    ),
    (
        Property::CrossesMountNamespace,
        Separation::Only(Namespace::Mount),
    ),
    (
        Property::CrossesPidNamespace,
        Separation::Only(Namespace::Pid),
    ),
    (
        Property::CrossesUserNamespace,
        Separation::Only(Namespace::User),
    ),
    (
        Property::CrossesSamePod,
        Separation::Deployment(Isolation::SamePod),
    ),
    (
        Property::CrossesSeparateContainers,
        Separation::Deployment(Isolation::SeparateContainers),
    ),
];

/// Round trips a crossing must carry, every message checked.
const ROUND_TRIPS: u64 = 16;

pub fn probe(s: &Subject, settings: &Settings) -> Vec<(Property, Finding)> {
    // A peer behind a boundary starts slower (and Node's slower still)
    // than the probe's stall limit allows a send.
    let settings = &Settings {
        timeout: std::time::Duration::from_secs(10),
        ..settings.clone()
    };
    COLUMNS
        .iter()
        .take_while(|_| !crate::sys::interrupt::interrupted())
        .map(|&(property, separation)| (property, crossing(s, separation, settings)))
        .collect()
}

fn crossing(s: &Subject, separation: Separation, settings: &Settings) -> Finding {
    let Some(transport) = s.transport else {
        return bare_segment(separation);
    };
    let mut case = Case::new(transport, Pattern::Latency, 64, Placement::None, settings);
    case.separation = separation;
    case.spec.length = crate::harness::workload::Length::Iterations(ROUND_TRIPS);
    case.spec.warmup_s = 0.0;
    let row = run_case(&case);
    let behind = separation.describe();
    let reason = row.reason.clone().unwrap_or_default();
    match row.status {
        Status::Ok if row.errors.total() == 0 => Finding::yes(format!(
            "{} round trips, every message checked, with the peer behind {behind}",
            row.messages
        )),
        Status::Ok => Finding::undecided(format!(
            "messages crossed {behind}, but {} of them failed their check",
            row.errors.total()
        )),
        Status::Unsupported if matches!(row.cause, Some(Cause::DoesNotCross { .. })) => {
            Finding::no(reason)
        }
        _ => Finding::undecided(format!("the experiment did not end: {reason}")),
    }
}

/// The bare segment has no channel: a helper behind the boundary opens it
/// by name and reads what the probe left in it.
fn bare_segment(separation: Separation) -> Finding {
    let behind = separation.describe();
    let name = format!("/{}", helper::unique("shm-cross"));
    if let Err(e) = helper::leave_in_segment(&name) {
        return Finding::undecided(format!("could not make the segment: {e}"));
    }
    let answer = helper::run_behind(&helper::Action::ShmRead { name: name.clone() }, separation);
    let _ = nix::sys::mman::shm_unlink(name.as_str());
    match answer {
        Ok(line) if line == "ok" => Finding::yes(format!(
            "a helper behind {behind} opened {name} by name and read what was left in it"
        )),
        Ok(line) if super::errno_sign(&line).is_some() => Finding::no(format!(
            "a helper behind {behind} got {line} from shm_open({name})"
        )),
        Ok(line) => Finding::undecided(format!("the helper behind {behind} said: {line}")),
        Err(e) => Finding::undecided(format!("could not start a helper behind {behind}: {e}")),
    }
}
