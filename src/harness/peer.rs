//! The peer process: `ipcbench __peer ...`, started by the harness, never by
//! a person. It joins the channel, says `ready` on stdout, serves the
//! workload and reports on stdout as one JSON line.

use std::io::{self, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::case::{PeerFault, PeerStart};
use super::workload::{self, PeerReport};
use super::CHANNEL_FD_ENV;
use crate::results::failure::{PeerFailure, Stage};
use crate::results::Pattern;
use crate::transport::{self, Inherited, Rendezvous};

/// A failure at `stage`, keeping the errno for the harness to match on.
fn failed(stage: Stage, what: &str) -> impl FnOnce(io::Error) -> PeerFailure + '_ {
    move |e| PeerFailure {
        stage,
        errno: e.raw_os_error(),
        error: format!("{what}{}", crate::sys::with_errno_name(&e)),
    }
}

#[derive(clap::Args, Debug)]
pub struct PeerArgs {
    /// The case and the rendezvous, as the harness serialised them.
    #[arg(long, value_parser = super::case::parse_start)]
    pub start: PeerStart,
}

/// Runs the peer; returns the process exit code.
pub fn main(args: &PeerArgs) -> i32 {
    let _ = crate::sys::interrupt::install_peer();
    let mut out = io::stdout().lock();
    let (line, code) = match serve(args, &mut out) {
        Ok(report) => (
            serde_json::to_string(&report).expect("report serialises"),
            0,
        ),
        Err(e) => (serde_json::to_string(&e).expect("a failure serialises"), 1),
    };
    if crate::sys::interrupt::interrupted() {
        // The harness died (our parent-death signal): remove what it made
        // and can no longer remove.
        let start = &args.start;
        if let Some(t) = transport::by_name(&start.case.mechanism) {
            t.orphaned(&start.tag, &start.token);
        }
        let _ = std::fs::remove_dir_all(&start.dir);
    }
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    code
}

fn serve(args: &PeerArgs, out: &mut impl Write) -> Result<PeerReport, PeerFailure> {
    let (start, case) = (&args.start, &args.start.case);
    let transport = transport::by_name(&case.mechanism)
        .ok_or_else(|| PeerFailure::run(format!("unknown mechanism '{}'", case.mechanism)))?;
    let inherited = inherited_fds().map_err(PeerFailure::run)?;
    let at = Rendezvous {
        dir: &start.dir,
        tag: &start.tag,
        size: case.size,
        // The peer reaches the parent by its token; it binds nothing.
        host: std::net::Ipv4Addr::LOCALHOST,
    };
    let inherited = Inherited {
        fds: inherited,
        token: start.token.clone(),
        member: start.member.unwrap_or(0),
    };
    if case.pattern == Pattern::Groups {
        let member = (start.member.unwrap_or(0), start.token == "packets");
        let ready = || writeln!(out, "ready").and_then(|_| out.flush());
        return super::groups::member(case, member, inherited.fds, ready)
            .map_err(failed(Stage::Run, "as a member of the groups: "));
    }
    crate::sys::numa::place_new_mappings(case.memory_node);
    let broadcast = transport.broadcast_refused().is_none();
    let joined = match (start.member, case.pattern) {
        (Some(_), Pattern::FanIn) => transport.join_fan_in(&at, inherited),
        (Some(_), Pattern::FanOut) if broadcast => transport.join_broadcast(&at, inherited),
        _ => transport.join(&at, inherited),
    };
    let mut channel = joined.map_err(failed(Stage::Join, ""))?;
    if !case.wait.is_block() {
        let waiting = format!("waiting as {}: ", case.wait);
        channel
            .wait_with(case.wait)
            .map_err(failed(Stage::Run, &waiting))?;
    }
    writeln!(out, "ready")
        .and_then(|_| out.flush())
        .map_err(failed(Stage::Run, "control pipe: "))?;
    match (start.member, case.pattern) {
        (Some(i), Pattern::FanIn) => {
            let sending = format!("sending as fan-in sender {i}: ");
            return super::fan_in::send(&mut *channel, case, i)
                .map_err(failed(Stage::Run, &sending));
        }
        (Some(i), Pattern::FanOut) => {
            let receiving = format!("receiving as subscriber {i}: ");
            return super::fan_out::subscribe(&mut *channel, case)
                .map_err(failed(Stage::Run, &receiving));
        }
        _ => {}
    }
    let slow = match case.role {
        super::PeerRole::Hold => {
            // Holds its end and never reads, until killed or orphaned.
            while !crate::sys::interrupt::interrupted() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            return Err(PeerFailure::run("the harness is gone"));
        }
        super::PeerRole::Serve => false,
        super::PeerRole::SlowServe => true,
    };
    let faults = workload::PeerFaults {
        slow,
        garbage_at: case.fault_at(PeerFault::GarbageAt),
        dies_holding_at: case.fault_at(PeerFault::DiesHoldingAt),
        slower_percent: case.fault_at(PeerFault::SlowerPercent),
    };
    workload::serve(
        &mut *channel,
        case.pattern,
        (case.size, case.verify),
        faults,
    )
    .map_err(failed(Stage::Run, &format!("serving {}: ", case.pattern)))
}

fn inherited_fds() -> Result<Vec<OwnedFd>, String> {
    let list = std::env::var(CHANNEL_FD_ENV).unwrap_or_default();
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let fd: RawFd = s
                .parse()
                .map_err(|_| format!("{CHANNEL_FD_ENV} holds '{s}', not a descriptor number"))?;
            if nix::fcntl::fcntl(
                // SAFETY: only borrowed for the F_GETFD check on the next line.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
                nix::fcntl::FcntlArg::F_GETFD,
            )
            .is_err()
            {
                return Err(format!(
                    "{CHANNEL_FD_ENV} names descriptor {fd}, which is not open"
                ));
            }
            // SAFETY: the harness created this descriptor for us alone and
            // named it in the environment; nothing else in this process owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        })
        .collect()
}

/// `ipcbench __pinned CPU COMMAND...`: pins this process to `cpu`, then
/// replaces it with `command`, which keeps the environment and inherited
/// descriptors (a Node channel). It dies with its parent, as a peer does.
/// Returns only on failure.
pub fn exec_pinned(cpu: usize, command: &[std::ffi::OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    if let Err(e) = crate::sys::affinity::pin_to(&[cpu]) {
        eprintln!("ipcbench: cannot pin to CPU {cpu}: {e}");
        return 127;
    }
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let Some((program, args)) = command.split_first() else {
        eprintln!("ipcbench: __pinned needs a command");
        return 2;
    };
    let e = std::process::Command::new(program).args(args).exec();
    eprintln!("ipcbench: cannot run {}: {e}", program.to_string_lossy());
    127
}
