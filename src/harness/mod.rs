//! Runs one case: a peer process started from this very binary (or, for
//! fan-in, several: `fan_in.rs`), a channel between them, a workload timed
//! on this side, and everything reaped and removed afterwards whatever
//! happened.

pub mod case;
mod crowd;
pub mod fan_in;
pub mod fan_out;
pub mod groups;
pub mod janitor;
mod latencies;
pub mod message;
pub mod open_loop;
pub mod peer;
mod rows;
pub mod runner;
pub mod watchdog;
pub mod workload;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::isolation::{Boundary, Separation};
use crate::results::failure::{Cause, Failure, PeerFailure, Stage};
use crate::results::{Pattern, Placement, Row, Wait};
use crate::sys::{affinity, interrupt};
use crate::transport::{Channel, Rendezvous, Transport};
use case::{CaseSpec, PeerStart};
use message::Verify;
use watchdog::{Event, Watchdog};
use workload::{Injection, Length, PeerReport, Timed};

pub use rows::{refusal, run_case};

/// Names the descriptors a peer inherits, as Node.js's NODE_CHANNEL_FD does.
pub const CHANNEL_FD_ENV: &str = "IPCBENCH_CHANNEL_FD";

/// What every case of a run shares.
#[derive(Clone, Debug)]
pub struct Settings {
    pub length: Length,
    pub warmup: Duration,
    pub verify: Verify,
    pub timeout: Duration,
    /// The binary started as the peer (this one, unless a test says otherwise).
    pub peer_exe: PathBuf,
    /// CPUs the run may use; placements pick from these.
    pub cpus: Vec<usize>,
    pub inject: Option<Injection>,
    /// `--memory-node`: the NUMA node shared mappings are bound to.
    pub memory_node: Option<usize>,
}

/// One case of a run: a transport, where its processes run, and what
/// they do.
#[derive(Clone)]
pub struct Case<'a> {
    pub transport: &'static dyn Transport,
    pub placement: Placement,
    /// `pair`: the parent's and the peer's CPU.
    pub pair: Option<(usize, usize)>,
    /// The namespaces the peer is started behind.
    pub separation: Separation,
    /// The CPUs its two processes run on, once the placement is resolved
    /// (none before, and when unpinned).
    pub cpus: Option<(usize, usize)>,
    pub spec: CaseSpec,
    pub settings: &'a Settings,
}

impl<'a> Case<'a> {
    /// `size`-byte messages of `pattern`; a signal-only transport moves a
    /// bare header instead (its control messages carry one; its data
    /// messages are posts).
    pub fn new(
        transport: &'static dyn Transport,
        pattern: Pattern,
        size: usize,
        placement: Placement,
        settings: &'a Settings,
    ) -> Case<'a> {
        let wire = if transport.carries_payload() {
            size
        } else {
            message::HEADER_BYTES
        };
        Case {
            transport,
            placement,
            pair: None,
            separation: Separation::NONE,
            cpus: None,
            spec: CaseSpec::new(transport, pattern, wire, settings),
            settings,
        }
    }

    /// An unpinned case of `transport` in `role`, with the settings'
    /// length, warm-up and verification (the probe's sessions).
    pub fn session(
        transport: &'static dyn Transport,
        pattern: Pattern,
        size: usize,
        role: PeerRole,
        settings: &'a Settings,
    ) -> Case<'a> {
        let mut case = Case::new(transport, pattern, size, Placement::None, settings);
        case.spec.role = role;
        case
    }

    /// What the case should take, for the estimate of the time left: its
    /// warm-up and timed length, and about what starting a peer costs (a
    /// case counted in messages is planned at that alone; the pace of the
    /// finished cases scales the plan either way).
    pub fn planned_time(&self) -> Duration {
        const START: Duration = Duration::from_millis(50);
        let timed = match (self.spec.length, self.spec.rate_per_s) {
            (Length::Duration(d), _) => d,
            // An open loop's messages are spaced by its rate.
            (Length::Iterations(n), Some(rate)) => Duration::from_secs_f64(n as f64 / rate),
            (Length::Iterations(_), None) => Duration::ZERO,
        };
        START + self.spec.warmup() + timed
    }

    /// The row this case fills: its size is none for a signal-only transport.
    pub fn row(&self) -> Row {
        let size = if self.transport.carries_payload() {
            self.spec.size
        } else {
            0
        };
        Row {
            family: self.transport.family(),
            offered_per_s: self.spec.rate_per_s,
            senders: self.spec.senders,
            subscribers: self.spec.subscribers,
            groups: self.spec.groups.map(|g| g.0),
            group_size: self.spec.groups.map(|g| g.1),
            loops: self.spec.groups.map(|g| g.2),
            wait: self.spec.wait,
            copies: self
                .transport
                .carries_payload()
                .then(|| u32::from(self.transport.copies().count)),
            isolation: match self.separation {
                Separation::Deployment(isolation) => isolation,
                Separation::Only(_) => crate::results::Isolation::None,
            },
            spin_budget_ns: (self.spec.wait == Wait::Hybrid)
                .then(|| crate::transport::wait::HYBRID_SPIN.as_nanos() as u64),
            // A pair of a sweep names its case even when the case cannot
            // run: without it, every pair's unsupported row would be one.
            cpus: self.pair.map_or_else(Vec::new, |(a, b)| vec![a, b]),
            ..Row::new(
                self.transport.name(),
                self.placement,
                self.spec.pattern,
                size,
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The case cannot run here: the kernel's or the transport's reason,
    /// and its kind where the probe and readers tell kinds apart.
    #[error("unsupported: {reason}")]
    Unsupported {
        reason: String,
        cause: Option<Cause>,
    },
    #[error("failed: {0}")]
    Failed(Failure),
}

impl CaseError {
    pub fn unsupported(reason: impl Into<String>) -> CaseError {
        CaseError::Unsupported {
            reason: reason.into(),
            cause: None,
        }
    }
}

static CASE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn execute(case: &Case, cpus: Option<(usize, usize)>) -> Result<(Timed, PeerReport), CaseError> {
    match case.spec.pattern {
        Pattern::FanIn => return fan_in::execute(case, cpus),
        Pattern::FanOut => return fan_out::execute(case, cpus),
        Pattern::Groups => return groups::execute(case, cpus),
        _ => {}
    }
    let spec = Case {
        cpus,
        ..case.clone()
    };
    runner::Runner::of(case.transport).run(&spec)
}

/// Runs the spec's workload against a peer serving it, and returns what
/// both sides measured: the parent's figures and the peer's report.
pub fn measure(spec: &Case) -> Result<(Timed, PeerReport), CaseError> {
    session(spec, |live| {
        let inject = spec.settings.inject;
        let progress = live.progress;
        let measured = workload::drive(live.channel()?, &spec.spec, inject, progress)?;
        Ok((measured, expect_report(live.watchdog)?))
    })
}

/// What the peer does once it has joined the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerRole {
    /// Answer the workload (echo, or receive and verify).
    Serve,
    /// The same, stalling 1 ms every 64 messages: a receiver that falls behind.
    SlowServe,
    /// Hold the channel and never read, until killed.
    Hold,
}

/// The parent's side of a live session, for the body to work with.
pub struct Live<'a> {
    /// None when the peer program drives both ends (`Runner::SelfTimed`).
    channel: Option<Box<dyn Channel>>,
    /// Bump it as work gets done: standing still for `--timeout` means hung.
    pub progress: &'a AtomicU64,
    pub watchdog: &'a Watchdog,
    pub peer: Pid,
}

impl Live<'_> {
    /// The parent's end of the channel.
    pub fn channel(&mut self) -> io::Result<&mut (dyn Channel + 'static)> {
        self.channel.as_deref_mut().ok_or_else(|| {
            io::Error::other("the peer program drives both ends: this session holds no channel")
        })
    }
}

/// A fresh private folder for a case's named objects, known to the
/// janitor. Clears a previous case's abort.
fn private_dir() -> Result<tempfile::TempDir, CaseError> {
    if interrupt::interrupted() {
        return Err(CaseError::Failed(Failure::Interrupted { messages: 0 }));
    }
    interrupt::reset_case();
    let dir =
        crate::sys::private_dir().map_err(|e| classify("creating the private directory", e))?;
    janitor::folder(dir.path());
    Ok(dir)
}

/// Makes a case's channel with `make` under a fresh tag. A name another
/// process took first (EEXIST) gets another tag, three times at most; then
/// the reason names it.
fn with_fresh_names<P>(
    dir: &std::path::Path,
    (size, host): (usize, std::net::Ipv4Addr),
    make: impl Fn(&Rendezvous) -> io::Result<P>,
) -> Result<(String, P), CaseError> {
    let mut taken = Vec::new();
    for _ in 0..3 {
        let tag = fresh_tag();
        let at = Rendezvous {
            dir,
            tag: &tag,
            size,
            host,
        };
        match make(&at) {
            Ok(made) => return Ok((tag, made)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken.push(format!("/{tag}…")),
            Err(e) => return Err(classify("setting up the channel", e)),
        }
    }
    Err(CaseError::Failed(Failure::Parent {
        doing: "setting up the channel".into(),
        errno: Some(libc::EEXIST),
        error: format!(
            "names already taken by another process (File exists), three times: {}",
            taken.join(", ")
        ),
    }))
}

/// The prefix of a case's global names: the pid (the janitor's key), the
/// case, and a part no other user can guess.
fn fresh_tag() -> String {
    format!(
        "ipcbench-{}-{}-{}",
        std::process::id(),
        CASE_COUNTER.fetch_add(1, Ordering::Relaxed),
        crate::sys::unguessable()
    )
}

/// Starts a peer process, connects the channel, waits for the handshake,
/// runs `body`, then stops and reaps the peer and removes every object the
/// channel made, whatever happened.
pub fn session<T>(
    spec: &Case,
    body: impl FnOnce(&mut Live) -> io::Result<T>,
) -> Result<T, CaseError> {
    let s = spec.settings;
    let dir = private_dir()?;
    let separation = spec.separation;
    let setup = set_up(spec, &dir)?;
    let at = setup.at(dir.path(), spec);
    let name = spec.transport.name();
    janitor::channel(name, &setup.tag, &setup.token);
    let boundary = setup.crossing.as_ref().map(|c| &c.boundary);
    let start = (peer_start(spec, &at, &setup.token), peer_cpu(spec));
    let mut child = spawn_peer(
        spec,
        (&at, boundary),
        &setup.child_fds,
        start,
        Stdio::null(),
    )
    .map_err(|e| classify("starting the peer process", e))?;
    janitor::peer(child.id(), &setup.tag);
    // The peer has its copies; ours would keep a pipe open after the peer died.
    drop(setup.child_fds);
    let control: OwnedFd = child.stdout.take().expect("peer stdout is piped").into();
    let progress = Arc::new(AtomicU64::new(0));
    let peer = Pid::from_raw(child.id() as i32);
    let watchdog = Watchdog::start(control, peer, progress.clone(), s.timeout);
    if let Some((parent_cpu, _)) = spec.cpus {
        let _ = affinity::pin_to(&[parent_cpu]);
    }
    let live = Live {
        channel: None,
        progress: &progress,
        watchdog: &watchdog,
        peer,
    };
    let outcome = join_and_run(spec, setup.connect, live, &dir, body);
    let (outcome, ended_alone) = stop_peer(&mut child, outcome, spec.spec.role, s.timeout);
    janitor::peer_reaped(child.id(), &setup.tag);
    // The body may have consumed the time-out event itself.
    let stalled = watchdog.stalled();
    let seen = watchdog.finish();
    // The case is over: its abort must not fail what runs next outside a
    // session (the probe's experiments in this process).
    interrupt::reset_case();
    let _ = affinity::pin_to(&s.cpus);
    drop(dir);
    drop(setup.crossing);
    janitor::channel_closed(name, &setup.tag, &setup.token);
    let done = progress.load(Ordering::Relaxed);
    outcome.map_err(|e| {
        explain(
            (e, Some((separation, name))),
            ended_alone,
            stalled,
            &seen,
            done,
            s.timeout,
        )
    })
}

/// What a session makes before its peer starts: the boundary, the
/// channel's names and the parent's half of it.
struct Setup {
    crossing: Option<crate::isolation::Crossing>,
    host: std::net::Ipv4Addr,
    tag: String,
    token: String,
    child_fds: Vec<OwnedFd>,
    connect: Option<crate::transport::Connect>,
}

impl Setup {
    fn at<'a>(&'a self, dir: &'a std::path::Path, spec: &Case) -> Rendezvous<'a> {
        Rendezvous {
            dir,
            tag: &self.tag,
            size: spec.spec.size,
            host: self.host,
        }
    }
}

fn set_up(spec: &Case, dir: &tempfile::TempDir) -> Result<Setup, CaseError> {
    let reach = spec.transport.nature().reach;
    let crossing = crate::isolation::cross(spec.separation, reach, dir.path(), janitor::veth)
        .map_err(|e| classify("isolating the peer", e))?;
    let host = crossing
        .as_ref()
        .map_or(std::net::Ipv4Addr::LOCALHOST, |c| c.host);
    // A peer that drives both ends itself needs no channel of ours.
    let holds_channel = runner::Runner::of(spec.transport).holds_channel();
    let (tag, prepared) = with_fresh_names(dir.path(), (spec.spec.size, host), |at| {
        holds_channel
            .then(|| spec.transport.prepare(at))
            .transpose()
    })?;
    let (child_fds, token, connect) = match prepared {
        Some(p) => (p.child_fds, p.token, Some(p.connect)),
        None => (Vec::new(), String::new(), None),
    };
    Ok(Setup {
        crossing,
        host,
        tag,
        token,
        child_fds,
        connect,
    })
}

/// The parent's end joined, the peer's handshake awaited, then `body`.
fn join_and_run<T>(
    spec: &Case,
    connect: Option<crate::transport::Connect>,
    mut live: Live,
    dir: &tempfile::TempDir,
    body: impl FnOnce(&mut Live) -> io::Result<T>,
) -> io::Result<T> {
    let mut channel = connect.map(|connect| connect()).transpose()?;
    if let Some(c) = channel.as_mut().filter(|_| !spec.spec.wait.is_block()) {
        c.wait_with(spec.spec.wait)?;
    }
    expect_ready(live.watchdog)?;
    live.channel = channel;
    // Both ends hold the channel now: names can go before measuring.
    if let Some(channel) = live.channel.as_mut() {
        channel.peer_joined()?;
    }
    let _ = std::fs::remove_dir(dir.path());
    body(&mut live)
}

/// What the peer said it failed at, as the row says it. Behind a
/// boundary, a boundary the kernel would not make, or a channel the peer
/// could not reach, makes the case unsupported there, saying which; any
/// other failure stays one.
fn from_peer(f: PeerFailure, messages: u64, behind: Option<(Separation, &str)>) -> CaseError {
    let apart = behind.filter(|(separation, _)| !separation.is_none());
    match (f.stage, apart) {
        (Stage::Boundary, Some((separation, _))) => CaseError::Unsupported {
            reason: format!("the kernel refused {}: {}", separation.describe(), f.error),
            cause: Some(Cause::BoundaryRefused { errno: f.errno }),
        },
        (Stage::Join, Some((separation, mechanism))) => CaseError::Unsupported {
            reason: format!(
                "{mechanism} does not cross {}: the peer got {}",
                separation.describe(),
                f.error
            ),
            cause: Some(Cause::DoesNotCross { errno: f.errno }),
        },
        _ => CaseError::Failed(Failure::PeerFailed { messages, peer: f }),
    }
}

/// Stops and reaps the peer once the body is done; returns the outcome (a
/// peer that reported and would not exit fails it) and, when the body
/// failed, how the peer ended by itself, which tells a crash from our kill.
fn stop_peer<T>(
    child: &mut Child,
    outcome: io::Result<T>,
    role: PeerRole,
    timeout: Duration,
) -> (io::Result<T>, Option<ExitStatus>) {
    let ended_alone = match (&outcome, role) {
        (Ok(_), PeerRole::Hold) => {
            crate::sys::kill_group(child.id());
            None
        }
        (Ok(_), _) => None,
        // Stopped by the user: no need to learn how the peer would have ended.
        (Err(_), _) if interrupt::interrupted() => {
            crate::sys::kill_group(child.id());
            None
        }
        (Err(_), _) => {
            let status = exit_within(child, Duration::from_millis(200));
            if status.is_none() {
                crate::sys::kill_group(child.id());
            }
            status
        }
    };
    // A peer that has reported has nothing left to do but exit; one that
    // does not (a wrapper that sleeps) is hung, like one that stops talking.
    let exited = crate::sys::process::reap_within(child, timeout);
    let outcome = match outcome {
        Ok(_) if exited.is_none() && !interrupt::interrupted() => {
            Err(io::Error::other(PeerFailure::run(format!(
                "it did not exit within {} (--timeout) of its last message: killed",
                humantime::format_duration(timeout)
            ))))
        }
        other => other,
    };
    (outcome, ended_alone)
}

/// The peer's exit status if it exits within `grace`.
fn exit_within(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

fn expect_ready(w: &Watchdog) -> io::Result<()> {
    match w.next() {
        Some(Event::Ready) => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn expect_report(w: &Watchdog) -> io::Result<PeerReport> {
    match w.next() {
        Some(Event::Report(r)) => Ok(r),
        other => Err(unexpected(other)),
    }
}

fn unexpected(e: Option<Event>) -> io::Error {
    match e {
        None => io::Error::new(io::ErrorKind::Interrupted, "interrupted"),
        // Typed inside the io::Error, for `explain` to take out again.
        Some(Event::PeerError(f)) => io::Error::other(f),
        Some(e) => io::Error::other(format!("peer: {e:?}")),
    }
}

fn classify(what: &str, e: io::Error) -> CaseError {
    match e.raw_os_error() {
        Some(libc::EMSGSIZE) => CaseError::unsupported(format!("{what}: {e}")),
        _ if e.kind() == io::ErrorKind::Unsupported => CaseError::unsupported(e.to_string()),
        _ => CaseError::Failed(Failure::parent(what, &e)),
    }
}

/// The most telling reason a case failed: the user's interrupt, a timeout,
/// the peer's own words, how it died, and only then our side's error.
fn explain(
    (e, behind): (io::Error, Option<(Separation, &str)>),
    ended_alone: Option<ExitStatus>,
    stalled: bool,
    seen: &[Event],
    progress: u64,
    timeout: Duration,
) -> CaseError {
    use std::os::unix::process::ExitStatusExt;
    let messages = progress;
    let after = format!("after {progress} messages");
    if interrupt::interrupted() {
        return CaseError::Failed(Failure::Interrupted { messages });
    }
    // Our own shortage explains whatever the peer then saw, and is a
    // limit of the machine, not a fault.
    if e.kind() == io::ErrorKind::OutOfMemory {
        return CaseError::unsupported(format!("parent side {after}: {e}"));
    }
    if stalled || seen.iter().any(|e| matches!(e, Event::TimedOut)) {
        return CaseError::Failed(Failure::Hung {
            timeout_ms: timeout.as_millis() as u64,
            messages,
        });
    }
    let peer_said = seen
        .iter()
        .find_map(|e| match e {
            Event::PeerError(f) => Some(f.clone()),
            _ => None,
        })
        .or_else(|| e.get_ref()?.downcast_ref::<PeerFailure>().cloned());
    if let Some(f) = peer_said {
        return from_peer(f, messages, behind);
    }
    match ended_alone {
        Some(st) if st.signal().is_some() => {
            let signal = st.signal().unwrap_or(0);
            let name = nix::sys::signal::Signal::try_from(signal).map_or("?", |s| s.as_str());
            CaseError::Failed(Failure::PeerKilled {
                signal,
                name: name.to_string(),
                messages,
            })
        }
        Some(st) => CaseError::Failed(Failure::PeerExited {
            code: st.code().unwrap_or(-1),
            messages,
            parent: e.to_string(),
        }),
        None => classify(&format!("parent side {after}"), e),
    }
}

/// The peer's CPU: a peer that times itself is the parent of its own pair.
fn peer_cpu(spec: &Case) -> Option<usize> {
    runner::Runner::of(spec.transport).peer_cpus(spec.cpus).0
}

/// Starts one peer process with `fds` inherited, told `start`, pinned to
/// `cpu`, reading `stdin`.
fn spawn_peer(
    spec: &Case,
    (at, boundary): (&Rendezvous, Option<&Boundary>),
    fds: &[OwnedFd],
    (start, cpu): (PeerStart, Option<usize>),
    stdin: Stdio,
) -> io::Result<Child> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let list = raw
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let peer_exe = &spec.settings.peer_exe;
    let (mut cmd, files) = match spec.transport.peer_program(at, &raw)? {
        Some(p) => {
            let mut cmd = Command::new(p.program);
            cmd.args(p.args).envs(p.env);
            (cmd, p.files)
        }
        None => {
            let mut cmd = Command::new(peer_exe);
            cmd.arg("__peer");
            (cmd, Vec::new())
        }
    };
    cmd.arg("--start")
        .arg(start.to_arg())
        .env(CHANNEL_FD_ENV, list);
    if let Some(b) = boundary {
        cmd = crate::isolation::wrap(&cmd, &b.clone().with_image(&files), peer_exe);
    }
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: Ctrl-C reaches only us, and we stop the peer
        // (and anything it started) in order instead of racing it.
        .process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (fcntl, signal, prctl,
    // sched_setaffinity) on values prepared before the fork; it allocates
    // nothing.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &raw {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            // Told when we die, even by SIGKILL: it then removes what we
            // could not and exits (see peer.rs). Until exec the child still
            // has our SIGTERM handler, which would swallow that signal: the
            // default comes first, so one that lands now ends the child.
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
            if let Some(c) = cpu {
                affinity::pin_to(&[c])?;
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// What the peer is started with: the case, where to meet, and for a
/// peer that times itself, where its own child goes.
fn peer_start(spec: &Case, at: &Rendezvous, token: &str) -> PeerStart {
    let child_cpu = runner::Runner::of(spec.transport).peer_cpus(spec.cpus).1;
    PeerStart {
        case: spec.spec.clone(),
        dir: at.dir.to_path_buf(),
        tag: at.tag.to_string(),
        token: token.to_string(),
        child_cpu,
        pinner: child_cpu.map(|_| spec.settings.peer_exe.clone()),
        member: None,
    }
}
