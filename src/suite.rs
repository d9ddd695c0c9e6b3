//! `ipcbench run`: every selected case in turn, then the result file and
//! the table. Cases never stop the run; only the user does.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::cli::RunArgs;
use crate::error::Error;
use crate::harness::message::Verify;
use crate::harness::{self, Case, Settings};
use crate::options;
use crate::output;
use crate::results::pattern::{Description, Load};
use crate::results::{
    Calibration, Isolation, Machine, Pattern, Placement, ResultFile, Row, RunRecord, Status, Tool,
    Wait, SCHEMA_VERSION,
};
use crate::sys::{affinity, interrupt};
use crate::transport;

/// Small, a page, a large buffer and past the caches; 1 KiB (which sits
/// with 64 B and 4 KiB in the small-message regime) is left to `--sizes`,
/// so that the default run, middleware included, ends within 5 minutes on
/// two CPUs.
const DEFAULT_SIZES: [usize; 4] = [64, 4 << 10, 64 << 10, 1 << 20];
const QUICK_SIZES: [usize; 2] = [64, 64 << 10];
/// From a sender that lets the CPUs idle between messages (what waking
/// costs) to past the fastest transport's ceiling.
const DEFAULT_RATES: [f64; 8] = [10.0, 100.0, 1e3, 1e4, 3e4, 1e5, 3e5, 1e6];
/// Timed messages an open-loop case gets at least, however sparse its
/// rate: a p99 needs a hundred (a `--quick` run makes do with twenty).
const OPEN_LOOP_MESSAGES: u64 = 100;
const QUICK_OPEN_LOOP_MESSAGES: u64 = 20;
/// One sender (the baseline) to four times these machines' CPUs.
const DEFAULT_SENDERS: [u32; 4] = [1, 2, 4, 8];
/// One subscriber (the baseline) to four times these machines' CPUs.
const DEFAULT_SUBSCRIBERS: [u32; 4] = [1, 2, 4, 8];
/// hackbench's defaults, as perf bench sched messaging has them: 20
/// senders and 20 receivers per group, 100 loops, 100-byte messages.
const DEFAULT_GROUPS: [u32; 3] = [1, 2, 4];
const DEFAULT_GROUP_SIZE: u32 = 20;
const DEFAULT_LOOPS: u64 = 100;
const GROUPS_SIZE: usize = 100;

/// A case's load, where its pattern has one: an offered rate, a number of
/// senders or of subscribers.
#[derive(Clone, Copy, Default)]
struct LoadOf {
    rate: Option<f64>,
    senders: Option<u32>,
    subscribers: Option<u32>,
    groups: Option<(u32, u32, u64)>,
}

/// A run's validated plan.
pub struct Plan {
    pub mechanisms: Vec<&'static str>,
    pub patterns: Vec<Pattern>,
    pub sizes: Vec<usize>,
    pub placements: Vec<Placement>,
    /// `--pairs`: the (parent, peer) CPUs of each `pair` case.
    pub pairs: Vec<(usize, usize)>,
    /// Offered rates of the `rate` pattern, messages/s.
    pub rates: Vec<f64>,
    /// Sender counts of the `fan-in` pattern.
    pub senders: Vec<u32>,
    /// Subscriber counts of the `fan-out` pattern.
    pub subscribers: Vec<u32>,
    /// The `groups` pattern's group counts, senders per group and loops.
    pub groups: Vec<u32>,
    pub group_size: u32,
    pub loops: u64,
    /// The `groups` pattern's message sizes: 100 B, as perf's, unless
    /// `--sizes` says.
    pub group_sizes: Vec<usize>,
    /// How receivers wait, in the patterns that have that axis.
    pub waits: Vec<Wait>,
    /// What separates the peers, in the patterns that have that axis.
    pub isolations: Vec<Isolation>,
    /// Timed messages an open-loop case gets at least.
    pub open_loop_messages: u64,
    pub settings: Settings,
    pub out: PathBuf,
    pub probe: bool,
    /// Sweeps over all cases; each row keeps every sweep's figure.
    pub repeat: usize,
}

impl Plan {
    pub fn from_args(args: &RunArgs) -> Result<Plan, Error> {
        let mechanisms = options::parse_mechanisms(&args.mechanisms).map_err(Error::Usage)?;
        refuse_idle_flags(args, &mechanisms)?;
        let sizes = match (&args.sizes[..], args.quick) {
            ([], false) => DEFAULT_SIZES.to_vec(),
            ([], true) => QUICK_SIZES.to_vec(),
            (given, _) => given.to_vec(),
        };
        let out = match &args.out {
            Some(p) => p.clone(),
            None => default_output()?,
        };
        let out = options::check_output_path(&out)?;
        // Its report goes beside it (`run.json` → `run/`).
        options::check_output_dir(&options::report_dir(&out))?;
        let patterns = dedup(&args.patterns);
        let uses = |p: Pattern| patterns.contains(&p);
        if uses(Pattern::Groups) {
            check_members(args)?;
        }
        Ok(Plan {
            mechanisms,
            sizes: dedup(&sizes),
            placements: match args.pairs {
                Some(_) => vec![Placement::Pair],
                None => dedup(&args.pin),
            },
            pairs: match args.pairs {
                Some(_) => cpu_pairs(&options::run_cpus(args.cpus))?,
                None => Vec::new(),
            },
            rates: match (uses(Pattern::Rate), &args.rates[..]) {
                (false, _) => Vec::new(),
                (true, []) => DEFAULT_RATES.to_vec(),
                (true, given) => dedup(given),
            },
            senders: match (uses(Pattern::FanIn), &args.senders[..]) {
                (false, _) => Vec::new(),
                (true, []) => DEFAULT_SENDERS.to_vec(),
                (true, given) => dedup(given),
            },
            subscribers: match (uses(Pattern::FanOut), &args.subscribers[..]) {
                (false, _) => Vec::new(),
                (true, []) => DEFAULT_SUBSCRIBERS.to_vec(),
                (true, given) => dedup(given),
            },
            groups: match (uses(Pattern::Groups), &args.groups[..]) {
                (false, _) => Vec::new(),
                (true, []) => DEFAULT_GROUPS.to_vec(),
                (true, given) => dedup(given),
            },
            group_size: args.group_size.unwrap_or(DEFAULT_GROUP_SIZE),
            loops: args.loops.unwrap_or(DEFAULT_LOOPS),
            group_sizes: match &args.sizes[..] {
                [] => vec![GROUPS_SIZE],
                given => dedup(given),
            },
            open_loop_messages: match args.quick {
                true => QUICK_OPEN_LOOP_MESSAGES,
                false => OPEN_LOOP_MESSAGES,
            },
            waits: match &args.waits[..] {
                [] => vec![Wait::Block],
                given => dedup(given),
            },
            isolations: match &args.isolation[..] {
                [] => vec![Isolation::None],
                given => dedup(given),
            },
            patterns,
            settings: settings(args)?,
            out,
            probe: !args.no_probe && !args.quick,
            repeat: args.repeat as usize,
        })
    }

    /// The options as the result file records them.
    pub fn record(&self) -> RunRecord {
        RunRecord {
            mechanisms: self.mechanisms.iter().map(|s| s.to_string()).collect(),
            patterns: self.patterns.clone(),
            sizes: self.sizes.iter().map(|&s| s as u64).collect(),
            placements: self.placements.clone(),
            length: self.settings.length,
            warmup_s: self.settings.warmup.as_secs_f64(),
            timeout_s: self.settings.timeout.as_secs_f64(),
            verify: self.settings.verify,
            repeat: self.repeat,
            rates: self.rates.clone(),
            senders: self.senders.clone(),
            subscribers: self.subscribers.clone(),
            groups: self.groups.clone(),
            group_size: (!self.groups.is_empty()).then_some(self.group_size),
            loops: (!self.groups.is_empty()).then_some(self.loops),
            waits: self.waits.clone(),
            isolations: self.isolations.clone(),
            memory_node: self.settings.memory_node,
        }
    }

    /// Every case, transport by transport.
    fn cases(&self) -> Vec<Case<'_>> {
        let mut v = Vec::new();
        for t in self.mechanisms.iter().filter_map(|m| transport::by_name(m)) {
            for &p in &self.patterns {
                // A signal-only transport has one case per pattern and placement.
                let sizes = match (t.carries_payload(), p) {
                    (false, _) => &[0][..],
                    (true, Pattern::Groups) => &self.group_sizes[..],
                    (true, _) => &self.sizes[..],
                };
                for &s in sizes {
                    for (load, wait, isolation) in self.variants(p) {
                        for (pl, pair) in self.placed() {
                            let mut case = Case::new(t, p, s, pl, &self.settings);
                            case.pair = pair;
                            case.spec.length = self.stretched(load.rate);
                            case.spec.rate_per_s = load.rate;
                            case.spec.senders = load.senders;
                            case.spec.subscribers = load.subscribers;
                            case.spec.groups = load.groups;
                            case.spec.wait = wait;
                            case.separation = crate::isolation::Separation::Deployment(isolation);
                            v.push(case);
                        }
                    }
                }
            }
        }
        v
    }

    /// The pattern's cases at one size and placement: each load, way of
    /// waiting and isolation it has as an axis.
    fn variants(&self, pattern: Pattern) -> Vec<(LoadOf, Wait, Isolation)> {
        let d = pattern.describe();
        let waits = if d.waits {
            &self.waits[..]
        } else {
            &[Wait::Block]
        };
        let isolations = match d.isolates {
            true => &self.isolations[..],
            false => &[Isolation::None],
        };
        let mut v = Vec::new();
        for load in self.loads(pattern) {
            for &wait in waits {
                v.extend(isolations.iter().map(|&i| (load, wait, i)));
            }
        }
        v
    }

    /// Each placement, and for `pair` each pair of the sweep.
    fn placed(&self) -> Vec<(Placement, Option<(usize, usize)>)> {
        self.placements
            .iter()
            .flat_map(|&pl| match pl {
                Placement::Pair => self.pairs.iter().map(|&p| (pl, Some(p))).collect(),
                _ => vec![(pl, None)],
            })
            .collect()
    }

    /// The case's length: at an offered rate too sparse for the open loop's
    /// least number of messages in the duration, that many messages (a
    /// count asked for is kept).
    fn stretched(&self, rate: Option<f64>) -> harness::workload::Length {
        use harness::workload::Length;
        match (self.settings.length, rate) {
            // Counted in messages, not stretched in time: a sender behind
            // its schedule stops at a deadline short of the least count.
            (Length::Duration(d), Some(rate))
                if d.as_secs_f64() * rate < self.open_loop_messages as f64 =>
            {
                Length::Iterations(self.open_loop_messages)
            }
            (length, _) => length,
        }
    }

    /// The pattern's extra dimension, one load per case.
    fn loads(&self, pattern: Pattern) -> Vec<LoadOf> {
        let each = |v: &[u32], f: fn(u32) -> LoadOf| v.iter().map(|&n| f(n)).collect();
        match pattern.describe().load {
            Load::OfferedRate => self
                .rates
                .iter()
                .map(|&r| LoadOf {
                    rate: Some(r),
                    ..LoadOf::default()
                })
                .collect(),
            Load::Senders => each(&self.senders, |n| LoadOf {
                senders: Some(n),
                ..LoadOf::default()
            }),
            Load::Subscribers => each(&self.subscribers, |n| LoadOf {
                subscribers: Some(n),
                ..LoadOf::default()
            }),
            Load::Groups => self
                .groups
                .iter()
                .map(|&g| LoadOf {
                    groups: Some((g, self.group_size, self.loops)),
                    ..LoadOf::default()
                })
                .collect(),
            Load::None => vec![LoadOf::default()],
        }
    }
}

/// The pairs of `--pairs all` on the allowed CPUs, said on the terminal.
fn cpu_pairs(allowed: &[usize]) -> Result<Vec<(usize, usize)>, Error> {
    let topology = crate::topology::Topology::this_machine()
        .map_err(|e| Error::Usage(format!("--pairs needs the CPU topology, and {e}")))?;
    let (pairs, sampled) = topology.sweep(allowed);
    let how = match sampled {
        true => "a sample: the first CPU against each, and one pair of each placement class",
        false => "every ordered pair",
    };
    crate::tell!(
        "--pairs all: {} pairs of CPUs {allowed:?} ({how})",
        pairs.len()
    );
    Ok(pairs)
}

/// The physical limits of the run's CPUs, about a second's measurement;
/// none for a run that pins nothing.
fn measure_floors(plan: &Plan) -> Option<crate::results::Floors> {
    let pinned = plan.placements.iter().any(|p| *p != Placement::None);
    let pair = options::cpu_pair(&plan.settings.cpus)?;
    if !pinned || interrupt::interrupted() {
        return None;
    }
    crate::tell!(
        "measuring the physical limits of CPUs {} and {}...",
        pair.0,
        pair.1
    );
    let sizes: Vec<u64> = plan.sizes.iter().map(|&s| s as u64).collect();
    let floors = crate::floors::measure(pair, &sizes);
    for n in &floors.notes {
        output::warn(n);
    }
    Some(floors)
}

/// What the doctor finds would skew this run, one line each.
fn doctor_warnings(cpus: &[usize]) -> Vec<String> {
    let Some(pair) = options::cpu_pair(cpus) else {
        return Vec::new();
    };
    crate::doctor::examine(pair)
        .into_iter()
        .filter(|f| f.level == crate::doctor::Level::Warn)
        .map(|f| format!("doctor: {}", f.line()))
        .collect()
}

/// One row per case from its trials: the trial with the median headline
/// figure, carrying every trial's figure in `trials`, and the
/// distribution of every trial's messages (their histograms added, not
/// their percentiles averaged). A case that failed in any trial is
/// reported failed.
fn combine(trials: Vec<Vec<Row>>) -> Vec<Row> {
    let cases = trials.first().map_or(0, Vec::len);
    let mut per_case: Vec<Vec<Row>> = (0..cases).map(|_| Vec::new()).collect();
    for sweep in trials {
        for (c, row) in sweep.into_iter().enumerate() {
            per_case[c].push(row);
        }
    }
    per_case
        .into_iter()
        .map(|mut runs| {
            if let Some(i) = runs.iter().position(|r| r.status != Status::Ok) {
                return runs.swap_remove(i);
            }
            let figures: Vec<f64> = runs.iter().filter_map(Row::headline).collect();
            runs.sort_by(|a, b| {
                let (x, y) = (a.headline().unwrap_or(0.0), b.headline().unwrap_or(0.0));
                x.total_cmp(&y)
            });
            // One trial's histogram is already the row's.
            let all = (runs.len() > 1).then(|| crate::results::distribution::merged(&runs));
            let mut row = runs.swap_remove(runs.len() / 2);
            row.trials = figures;
            if let Some(Ok(Some(h))) = all {
                row.set_distribution(&h);
            }
            row
        })
        .collect()
}

/// The most processes one groups case starts, however many CPUs: beyond
/// it a typo would fork-bomb the machine.
const MAX_MEMBERS: u64 = 1024;

/// Refuses a groups shape whose largest case would start more processes
/// than ipcbench allows, or than RLIMIT_NPROC leaves this user.
fn check_members(args: &RunArgs) -> Result<(), Error> {
    let groups = args
        .groups
        .iter()
        .copied()
        .max()
        .unwrap_or(DEFAULT_GROUPS[2]);
    let size = args.group_size.unwrap_or(DEFAULT_GROUP_SIZE);
    let members = 2 * u64::from(groups) * u64::from(size);
    let left = crate::sys::limits::processes_left();
    match (members > MAX_MEMBERS, left) {
        (true, _) => Err(Error::Usage(format!(
            "--groups {groups} --group-size {size} starts 2 × {groups} × {size} = {members} processes in one case; expected at most {MAX_MEMBERS}"
        ))),
        (false, Some(left)) if members >= left => Err(Error::Usage(format!(
            "--groups {groups} --group-size {size} starts {members} processes, and RLIMIT_NPROC (ulimit -u) lets this user start {left} more; expected fewer"
        ))),
        _ => Ok(()),
    }
}

/// A flag that would change nothing in this run is refused, with what
/// would make it count: silently ignoring it would let a user believe it
/// was applied.
fn refuse_idle_flags(args: &RunArgs, mechanisms: &[&'static str]) -> Result<(), Error> {
    let chose = |p: Pattern| args.patterns.contains(&p);
    let carries_payload = mechanisms
        .iter()
        .filter_map(|m| transport::by_name(m))
        .any(|t| t.carries_payload());
    let idle = [
        (!args.senders.is_empty() && !chose(Pattern::FanIn), "--senders counts the senders of the fan-in pattern; add --patterns fan-in"),
        (!args.subscribers.is_empty() && !chose(Pattern::FanOut), "--subscribers counts the subscribers of the fan-out pattern; add --patterns fan-out"),
        (!args.groups.is_empty() && !chose(Pattern::Groups), "--groups counts the groups of the groups pattern; add --patterns groups"),
        (args.group_size.is_some() && !chose(Pattern::Groups), "--group-size sets the groups pattern's senders per group; add --patterns groups"),
        (args.loops.is_some() && !chose(Pattern::Groups), "--loops sets the groups pattern's messages per sender and receiver; add --patterns groups"),
        (!args.rates.is_empty() && !chose(Pattern::Rate), "--rates sets the offered rates of the rate pattern; add --patterns rate"),
        (!args.sizes.is_empty() && !carries_payload, "--sizes has no effect: every chosen transport carries no payload (a semaphore moves a signal); add one that does, such as pipe"),
        (args.verify == Some(Verify::Seq) && !carries_payload, "--verify seq has no effect: every chosen transport carries no payload, so there is no checksum to skip"),
        (args.cpus.is_some() && args.pin.iter().all(|p| *p == Placement::None), "--cpus has no effect with --pin none (nothing is pinned); add --pin same or cross"),
    ];
    match idle.iter().find(|(applies, _)| *applies) {
        Some((_, why)) => Err(Error::Usage(why.to_string())),
        None => {
            refuse_idle_waits(args, mechanisms)?;
            refuse_idle_isolation(args)?;
            check_memory_node(args.memory_node, mechanisms)
        }
    }
}

/// `--memory-node`: a node of this machine that has memory, and at least
/// one chosen transport with shared memory to place there.
fn check_memory_node(node: Option<usize>, mechanisms: &[&'static str]) -> Result<(), Error> {
    let Some(node) = node else {
        return Ok(());
    };
    let nodes = crate::sys::numa::nodes_with_memory();
    if !nodes.contains(&node) {
        return Err(Error::Usage(format!(
            "invalid --memory-node {node}: this machine's NUMA nodes with memory are {nodes:?}"
        )));
    }
    let chosen = mechanisms.iter().filter_map(|m| transport::by_name(m));
    if !chosen.clone().any(|t| t.shared_memory()) {
        let all = transport::all().iter();
        let able: Vec<&str> = all
            .filter(|t| t.shared_memory())
            .map(|t| t.name())
            .collect();
        return Err(Error::Usage(format!(
            "--memory-node places shared memory, and no chosen transport has any; choose among {}",
            able.join(", ")
        )));
    }
    Ok(())
}

/// `--waits` with no pattern that waits so, or a strategy that no chosen
/// transport supports.
fn refuse_idle_waits(args: &RunArgs, mechanisms: &[&'static str]) -> Result<(), Error> {
    let chosen_other = args.waits.iter().any(|w| !w.is_block());
    axis_without_pattern(args, "--waits", chosen_other, |d| d.waits)?;
    let transports: Vec<_> = mechanisms
        .iter()
        .filter_map(|m| transport::by_name(m))
        .collect();
    for &wait in &args.waits {
        if transports.iter().all(|t| t.wait_refused(wait).is_some()) {
            let able: Vec<&str> = transport::all()
                .iter()
                .filter(|t| t.wait_refused(wait).is_none())
                .map(|t| t.name())
                .collect();
            return Err(Error::Usage(format!(
                "--waits {wait}: no chosen transport can wait so; these can: {}",
                able.join(", ")
            )));
        }
    }
    Ok(())
}

/// `--isolation` with no pattern that has the axis.
fn refuse_idle_isolation(args: &RunArgs) -> Result<(), Error> {
    let chosen = !args.isolation.iter().all(Isolation::is_none);
    axis_without_pattern(args, "--isolation", chosen, |d| d.isolates)
}

/// An axis of the case (`flag`) chosen when no chosen pattern `has` it:
/// refused, naming the patterns that do.
fn axis_without_pattern(
    args: &RunArgs,
    flag: &str,
    chosen: bool,
    has: fn(&Description) -> bool,
) -> Result<(), Error> {
    if !chosen || args.patterns.iter().any(|p| has(p.describe())) {
        return Ok(());
    }
    let patterns: Vec<String> = Pattern::ALL
        .iter()
        .filter(|p| has(p.describe()))
        .map(|p| p.to_string())
        .collect();
    Err(Error::Usage(format!(
        "{flag} applies to the patterns {}; the chosen patterns have no such axis",
        patterns.join(", ")
    )))
}

fn dedup<T: PartialEq + Clone>(v: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn default_output() -> Result<PathBuf, Error> {
    let dir = PathBuf::from("results");
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::Usage(format!(
            "cannot create the results directory '{}': {e}; pass --out PATH",
            dir.display()
        ))
    })?;
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "-");
    Ok(dir.join(format!("run-{stamp}.json")))
}

/// Runs the plan; returns the result, whether it is clean (complete, no
/// failed case, no verification error) and whether the result file was
/// written (a full disk must not also cost the printed table). The result file is rewritten as
/// each case finishes, marked incomplete until the end, so a crash or a full
/// disk loses at most the case in progress.
pub fn run(plan: &Plan) -> Result<(ResultFile, bool, Result<(), Error>), Error> {
    interrupt::install().map_err(|e| Error::Runtime(format!("installing signal handlers: {e}")))?;
    let mut machine = crate::topology::machine::detect();
    crate::tell!("machine: {}", machine.summary());
    machine.warnings = doctor_warnings(&plan.settings.cpus);
    for w in &machine.warnings {
        output::warn(w);
    }
    if plan.mechanisms.contains(&"posix-mq") {
        match crate::sys::limits::ensure_mqueue_mounted() {
            Ok("already mounted") => {}
            Ok(done) => crate::tell!("{done}"),
            Err(why) => output::warn(&why),
        }
    }
    let janitor = crate::harness::janitor::start();
    let mut partial = Partial {
        plan,
        machine,
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        run_id: uuid::Uuid::new_v4().to_string(),
        trials: Vec::new(),
        reference_ns: Vec::new(),
        // Measured once (~4 ms), not at every rewrite of the result file.
        timer_overhead_ns: crate::timer::clock_overhead_ns(),
        floors: measure_floors(plan),
        unsaved: None,
    };
    sweep(&mut partial);
    if janitor {
        crate::harness::janitor::finish();
    }
    let interrupted = interrupt::interrupted();
    // The case cut short by Ctrl-C (always the last) is not a result;
    // failures before it are.
    if let Some(sweep) = partial.trials.last_mut().filter(|_| interrupted) {
        if sweep.last().is_some_and(|r| r.status == Status::Failed) {
            sweep.pop();
        }
    }
    let room = crate::probe::room();
    if let (true, Err(why)) = (plan.probe, &room) {
        output::warn(&format!("no probe: {why}"));
    }
    let probe = (plan.probe && room.is_ok() && !interrupt::interrupted())
        .then(|| {
            crate::tell!("probing the properties of the claimed table...");
            crate::probe::run(&plan.settings, &crate::probe::subject_names())
        })
        .flatten();
    let result = partial.result(!interrupt::interrupted(), probe);
    let saved = crate::results::file::write(&plan.out, &result).map_err(|e| {
        Error::Runtime(format!(
            "writing the result file '{}': {e}",
            plan.out.display()
        ))
    });
    if let Some(what) = crate::sys::process::own_file_changed() {
        output::warn(&format!(
            "{what}; every case ran the build that started the run ({} {}, git {}), through /proc/{}/exe",
            result.tool.name,
            result.tool.version,
            result.tool.git_commit,
            std::process::id()
        ));
    }
    let bad_rows = warn_about_bad_rows(&result);
    let clean = result.complete && bad_rows == 0;
    Ok((result, clean, saved))
}

/// What a run has measured so far.
struct Partial<'a> {
    plan: &'a Plan,
    machine: Machine,
    started_at: String,
    run_id: String,
    trials: Vec<Vec<Row>>,
    reference_ns: Vec<f64>,
    timer_overhead_ns: f64,
    floors: Option<crate::results::Floors>,
    /// Why the last rewrite of the result file failed, once said.
    unsaved: Option<String>,
}

impl Partial<'_> {
    fn result(
        &self,
        complete: bool,
        probe: Option<crate::results::probe::ProbeFile>,
    ) -> ResultFile {
        let plan = self.plan;
        ResultFile {
            schema_version: SCHEMA_VERSION,
            run_id: Some(self.run_id.clone()),
            tool: Tool::current(),
            machine: self.machine.clone(),
            options: plan.record(),
            calibration: Calibration {
                timer_overhead_ns: self.timer_overhead_ns,
                reference_ns: self.reference_ns.clone(),
            },
            started_at: self.started_at.clone(),
            finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            complete,
            rows: combine(self.trials.clone()),
            floors: self.floors.clone(),
            probe,
        }
    }

    /// Rewrites the result file with what has finished; a failure is said
    /// once, and the run goes on (the final write reports it as an error).
    fn save(&mut self) {
        let written = crate::results::file::write(&self.plan.out, &self.result(false, None));
        match (written, &self.unsaved) {
            (Err(e), None) => {
                let why = format!("cannot update '{}': {e}", self.plan.out.display());
                output::warn(&why);
                self.unsaved = Some(why);
            }
            (Ok(()), Some(_)) => self.unsaved = None,
            _ => {}
        }
    }
}

/// Every case of every trial, in order, until done or interrupted.
fn sweep(partial: &mut Partial) {
    let plan = partial.plan;
    let cases = plan.cases();
    let total = cases.len() * plan.repeat;
    let planned = cases.iter().map(|c| c.planned_time()).collect::<Vec<_>>();
    let mut eta = output::Eta::new(planned.repeat(plan.repeat));
    // Trial-major: trial t of every case runs within one sweep, so a case
    // and the reference it is compared with were measured close in time.
    for t in 0..plan.repeat {
        partial.reference_ns.push(crate::timer::cpu_reference_ns());
        partial.trials.push(Vec::with_capacity(cases.len()));
        for (i, case) in cases.iter().enumerate() {
            if interrupt::interrupted() {
                return;
            }
            let row = run_one(case);
            eta.step();
            output::progress(t * cases.len() + i + 1, total, &row, &eta);
            partial.trials[t].push(row);
            // Rows combine across trials only once every trial has one.
            if t == 0 {
                partial.save();
            }
        }
    }
}

fn run_one(case: &Case) -> Row {
    match case.transport.availability() {
        Err(reason) => case
            .row()
            .with_status(Status::Unsupported, reason.to_string()),
        Ok(()) => harness::run_case(case),
    }
}

/// Warns about failed rows and verification errors; returns how many.
fn warn_about_bad_rows(result: &ResultFile) -> usize {
    let bad_rows: Vec<_> = result
        .rows
        .iter()
        .filter(|r| r.status == Status::Failed || r.errors.total() > 0)
        .collect();
    for r in &bad_rows {
        output::warn(&format!(
            "{} {} {} {}: {}",
            r.mechanism,
            r.pattern,
            r.placement,
            crate::results::format::bytes(r.size_bytes),
            if r.errors.total() > 0 {
                format!("VERIFICATION ERRORS {:?}", r.errors)
            } else {
                output::headline(r)
            }
        ));
    }
    bad_rows.len()
}

/// How every case of a run is measured: its length, warm-up, checks,
/// time-out, CPUs and the program its peers run.
fn settings(args: &RunArgs) -> Result<Settings, Error> {
    let (duration, warmup) = match args.quick {
        true => (Duration::from_millis(50), Duration::from_millis(10)),
        // Tens of thousands of round trips for a fast transport, thousands
        // for Node's: enough for p99; shorter than 500 ms, so that the
        // default run (27 transports) ends within 5 minutes on two CPUs.
        false => (Duration::from_millis(400), Duration::from_millis(100)),
    };
    let length = match (args.iterations, args.duration) {
        (Some(n), _) => harness::workload::Length::Iterations(n),
        (None, d) => harness::workload::Length::Duration(d.unwrap_or(duration)),
    };
    let peer_exe = crate::sys::process::own_exe()
        .map_err(|e| Error::Runtime(format!("cannot find this program's own path: {e}")))?;
    Ok(Settings {
        length,
        warmup: args.warmup.unwrap_or(warmup),
        verify: args.verify.unwrap_or(Verify::Full),
        timeout: args.timeout,
        peer_exe,
        cpus: options::run_cpus(args.cpus),
        inject: args.inject,
        memory_node: args.memory_node,
    })
}

/// Settings for the probe experiments: short, verified, unpinned.
pub fn probe_settings() -> Result<Settings, Error> {
    interrupt::install().map_err(|e| Error::Runtime(format!("installing signal handlers: {e}")))?;
    let peer_exe = crate::sys::process::own_exe()
        .map_err(|e| Error::Runtime(format!("cannot find this program's own path: {e}")))?;
    Ok(Settings {
        length: harness::workload::Length::Iterations(1000),
        warmup: Duration::ZERO,
        verify: crate::harness::message::Verify::Full,
        timeout: Duration::from_secs(10),
        peer_exe,
        cpus: affinity::allowed_cpus(),
        inject: None,
        memory_node: None,
    })
}
