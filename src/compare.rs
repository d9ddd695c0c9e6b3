//! Regression verdicts between two result files that survive noisy machines.
//!
//! Shared CI machines drift by 2x between runs, so raw figures are never
//! compared directly. Each row's cost (RTT p50 for latency, time per message
//! for throughput) is divided by a reference measured in the same sweep of
//! the same run: the geometric mean of the costs of all *other* transports at
//! the same pattern, placement and size (a row alone at its size, such as the
//! semaphore's, uses the CPU-only calibration loop). Whatever slows the whole
//! machine slows the reference too and cancels out, while averaging several
//! transports keeps the reference's own noise small; leaving the row out of
//! its reference keeps a regression of its own from being diluted. With
//! `--repeat N` a row has N normalised costs; it regressed only when their
//! median moved by more than the threshold, the raw median did too, *and*
//! the two runs' normalised ranges do not overlap. A latency row that
//! carries its histogram (every trial's messages) is judged by its
//! distribution instead: its median, and both its quartiles, which must
//! have moved past the threshold too (`--by trials` judges by trials only).

use crate::results::{Pattern, ResultFile, Row, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Regression,
    Improvement,
    /// Within the threshold.
    Unchanged,
    /// Past the threshold against the reference, but not confirmed by the
    /// raw figure or by trial ranges that stay apart: a change the
    /// machine's noise can explain.
    Noisy,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Regression => "REGRESSION",
            Verdict::Improvement => "improved",
            Verdict::Unchanged => "unchanged",
            Verdict::Noisy => "noisy",
        }
    }
}

pub struct Change {
    pub mechanism: String,
    pub pattern: Pattern,
    pub placement: String,
    pub size_bytes: u64,
    /// The offered rate or the senders, for the loaded workloads.
    pub load: Option<String>,
    /// Median raw headline figure (ns for latency, msg/s for throughput).
    pub baseline: f64,
    pub current: f64,
    /// Change of the raw cost (positive: slower).
    pub raw_change: f64,
    /// Change of the normalised cost (positive: slower).
    pub change: f64,
    pub verdict: Verdict,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Cost (lower is better) of each trial of a row.
fn costs(r: &Row) -> Vec<f64> {
    let figures = if r.trials.is_empty() {
        r.headline().into_iter().collect()
    } else {
        r.trials.clone()
    };
    figures
        .into_iter()
        .map(|f| if r.pattern.is_latency() { f } else { 1e9 / f })
        .collect()
}

/// What `compare` judges a row's spread by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Where both rows carry their histogram and are judged by its median
    /// (latency): the quartiles of every message of every trial must move
    /// with the median; elsewhere, the trials.
    #[default]
    Distributions,
    /// The trials' range only, as files without histograms are judged.
    Trials,
}

/// The row's run's reference, trial by trial: the geometric mean of the
/// other transports' costs in the same case (the calibration loop's when
/// the row is alone in it).
fn reference(run: &ResultFile, r: &Row, trials: usize) -> Option<Vec<f64>> {
    let case = r.key().but_mechanism();
    let peers: Vec<Vec<f64>> = run
        .rows
        .iter()
        .filter(|p| {
            p.mechanism != r.mechanism && p.status == Status::Ok && p.key().but_mechanism() == case
        })
        .map(costs)
        .filter(|c| c.len() >= trials)
        .collect();
    let reference: Vec<f64> = if peers.is_empty() {
        run.calibration.reference_ns.clone()
    } else {
        (0..trials)
            .map(|t| {
                let logs: f64 = peers.iter().map(|p| p[t].ln()).sum();
                (logs / peers.len() as f64).exp()
            })
            .collect()
    };
    (reference.len() >= trials && trials > 0).then_some(reference)
}

/// A row's cost against its reference: low, middle and high, and the raw
/// middle figure (the row's, in its unit).
struct Spread {
    lo: f64,
    mid: f64,
    hi: f64,
    raw: f64,
    /// Low and high are a distribution's quartiles, not trials' extremes.
    quartiles: bool,
}

impl Spread {
    /// Whether `self` lies above `base` beyond the noise. Trials: every
    /// trial above every one of the baseline's. Distributions: both
    /// quartiles moved by more than the threshold too, so that the bulk
    /// of the messages moved, not a tail or one trial's burst.
    fn clear_above(&self, base: &Spread, threshold: f64) -> bool {
        if self.quartiles {
            self.lo > base.lo * (1.0 + threshold) && self.hi > base.hi * (1.0 + threshold)
        } else {
            self.lo > base.hi
        }
    }

    fn clear_below(&self, base: &Spread, threshold: f64) -> bool {
        if self.quartiles {
            self.lo < base.lo * (1.0 - threshold) && self.hi < base.hi * (1.0 - threshold)
        } else {
            self.hi < base.lo
        }
    }
}

/// By the trials: their normalised costs' range and median.
fn trial_spread(run: &ResultFile, r: &Row) -> Option<Spread> {
    let own = costs(r);
    let reference = reference(run, r, own.len())?;
    let mut n: Vec<f64> = own.iter().zip(&reference).map(|(c, r)| c / r).collect();
    let mut raw = if r.trials.is_empty() {
        r.headline().into_iter().collect()
    } else {
        r.trials.clone()
    };
    Some(Spread {
        lo: n.iter().copied().fold(f64::MAX, f64::min),
        hi: n.iter().copied().fold(f64::MIN, f64::max),
        mid: median(&mut n),
        raw: median(&mut raw),
        quartiles: false,
    })
}

/// By the distribution: its quartiles over the trials' median reference,
/// from every message of every trial, where three trials' medians can
/// jump between the modes of a two-humped case.
fn distribution_spread(run: &ResultFile, r: &Row) -> Option<Spread> {
    if !r.pattern.describe().headline_is_median {
        return None;
    }
    let h = r.decoded_histogram()?.ok()?;
    let trials = r.trials.len().max(1);
    let mut reference = reference(run, r, trials)?;
    reference.truncate(trials);
    let scale = median(&mut reference);
    let q = |q: f64| h.value_at_quantile(q) as f64;
    Some(Spread {
        lo: q(0.25) / scale,
        mid: q(0.5) / scale,
        hi: q(0.75) / scale,
        raw: q(0.5),
        quartiles: true,
    })
}

fn spreads(
    baseline: (&ResultFile, &Row),
    current: (&ResultFile, &Row),
    by: By,
) -> Option<(Spread, Spread)> {
    if by == By::Distributions {
        if let (Some(b), Some(c)) = (
            distribution_spread(baseline.0, baseline.1),
            distribution_spread(current.0, current.1),
        ) {
            return Some((b, c));
        }
    }
    Some((
        trial_spread(baseline.0, baseline.1)?,
        trial_spread(current.0, current.1)?,
    ))
}

/// Every case present and measured in both runs, with its verdict.
pub fn compare(baseline: &ResultFile, current: &ResultFile, threshold: f64, by: By) -> Vec<Change> {
    let mut out = collapses(baseline, current);
    for c in current.rows.iter().filter(|r| r.status == Status::Ok) {
        let Some(b) = baseline
            .rows
            .iter()
            .find(|b| b.status == Status::Ok && b.same_case(c))
        else {
            continue;
        };
        // Past a transport's ceiling an open loop's latency is the queue the
        // case's length built, not the transport's: not a figure to compare.
        // A rate sustained before and not now has regressed, whatever the figure.
        match (past_its_ceiling(b), past_its_ceiling(c)) {
            (true, true) => continue,
            (false, true) => {
                out.push(no_longer_sustained(b, c));
                continue;
            }
            _ => {}
        }
        let Some((sb, sc)) = spreads((baseline, b), (current, c), by) else {
            continue;
        };
        out.push(judged(c, &sb, &sc, threshold));
    }
    out
}

/// A transport that really got slower is slower both in its own figures
/// and against the reference, and its spread stays clear of the
/// baseline's; a machine-wide slowdown moves only the first, a shifting
/// reference only the second. A figure that fell to zero or grew without
/// bound leaves no finite ratio: that is a collapse, the worst regression
/// there is.
fn judged(c: &Row, sb: &Spread, sc: &Spread, threshold: f64) -> Change {
    let change = sc.mid / sb.mid - 1.0;
    let raw_change = if c.pattern.is_latency() {
        sc.raw / sb.raw - 1.0
    } else {
        sb.raw / sc.raw - 1.0
    };
    let collapsed = !change.is_finite() || !raw_change.is_finite();
    let verdict = if collapsed
        || change > threshold && raw_change > threshold && sc.clear_above(sb, threshold)
    {
        Verdict::Regression
    } else if change < -threshold && raw_change < -threshold && sc.clear_below(sb, threshold) {
        Verdict::Improvement
    } else if change.abs() > threshold {
        Verdict::Noisy
    } else {
        Verdict::Unchanged
    };
    Change {
        mechanism: c.transport_label().into_owned(),
        pattern: c.pattern,
        placement: crate::results::case::placement_label(c),
        size_bytes: c.size_bytes,
        load: c.load_label(),
        baseline: sb.raw,
        current: sc.raw,
        raw_change,
        change,
        verdict,
    }
}

/// An open-loop row whose sender or echoes fell behind the offered rate.
fn past_its_ceiling(r: &Row) -> bool {
    r.schedule.as_ref().is_some_and(|s| !s.sustained)
}

fn no_longer_sustained(b: &Row, c: &Row) -> Change {
    Change {
        mechanism: c.transport_label().into_owned(),
        pattern: c.pattern,
        placement: crate::results::case::placement_label(c),
        size_bytes: c.size_bytes,
        load: c.load_label().map(|l| format!("{l}, no longer sustained")),
        baseline: b.headline().unwrap_or(f64::NAN),
        current: c.headline().unwrap_or(f64::NAN),
        raw_change: f64::INFINITY,
        change: f64::INFINITY,
        verdict: Verdict::Regression,
    }
}

/// Cases measured in the baseline that failed in the current run: a
/// transport that stopped working has regressed, whatever the threshold.
fn collapses(baseline: &ResultFile, current: &ResultFile) -> Vec<Change> {
    current
        .rows
        .iter()
        .filter(|c| c.status == Status::Failed)
        .filter_map(|c| {
            let b = baseline
                .rows
                .iter()
                .find(|b| b.status == Status::Ok && b.same_case(c))?;
            Some(Change {
                mechanism: c.transport_label().into_owned(),
                pattern: c.pattern,
                placement: crate::results::case::placement_label(c),
                size_bytes: c.size_bytes,
                load: c.load_label(),
                baseline: b.headline().unwrap_or(f64::NAN),
                current: f64::NAN,
                raw_change: f64::INFINITY,
                change: f64::INFINITY,
                verdict: Verdict::Regression,
            })
        })
        .collect()
}

/// Why the current run fails the gate whatever its figures say, one line
/// each: a run that measured nothing, was interrupted, has verification
/// errors, or lost cases the baseline measured (unless `allow_missing`).
/// A gate that looked only at the cases both runs measured would pass an
/// empty run.
pub fn gate_failures(
    baseline: &ResultFile,
    current: &ResultFile,
    allow_missing: bool,
) -> Vec<String> {
    let mut why = Vec::new();
    if current.rows.is_empty() {
        why.push("the current run has no rows: it measured nothing".to_string());
    }
    if !current.complete {
        why.push("the current run is incomplete (interrupted or still running): its missing cases cannot be judged".to_string());
    }
    let errored: Vec<String> = current
        .rows
        .iter()
        .filter(|r| r.errors.total() > 0)
        .map(|r| format!("{} ({} errors)", case_name(r), r.errors.total()))
        .collect();
    if !errored.is_empty() {
        why.push(format!(
            "{} cases of the current run have verification errors: {}",
            errored.len(),
            list_some(&errored)
        ));
    }
    let lost: Vec<String> = measured_only_in(baseline, current)
        .into_iter()
        .map(|o| format!("{} ({})", o.case, o.other))
        .collect();
    if !lost.is_empty() && !allow_missing {
        why.push(format!(
            "{} of the baseline's {} measured cases were not measured now: {} (--allow-missing accepts that)",
            lost.len(),
            baseline.rows.iter().filter(|r| r.status == Status::Ok).count(),
            list_some(&lost)
        ));
    }
    why
}

/// The first few of a long list, and how many more.
fn list_some(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        text += &format!("; and {} more", items.len() - SHOWN);
    }
    text
}

/// A case measured in one run and not the other, and what the other says.
pub struct OneSided {
    pub case: String,
    /// "absent", "unsupported: <reason>" or "failed: <reason>".
    pub other: String,
}

fn case_name(r: &Row) -> String {
    crate::results::case::title(r)
}

/// Cases measured in `one` that `other` did not measure: `compare` cannot
/// judge them and says so, instead of dropping them. A case that failed in
/// the current run is a regression already (`collapses`), not listed here.
fn measured_only_in(one: &ResultFile, other: &ResultFile) -> Vec<OneSided> {
    one.rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| {
            let there = other.rows.iter().find(|o| o.same_case(r));
            let other = match there {
                None => "absent".to_string(),
                Some(o) if o.status == Status::Ok => return None,
                Some(o) => format!(
                    "{}: {}",
                    if o.status == Status::Failed {
                        "failed"
                    } else {
                        "unsupported"
                    },
                    o.reason.as_deref().unwrap_or("")
                ),
            };
            Some(OneSided {
                case: case_name(r),
                other,
            })
        })
        .collect()
}

/// Each run's name with the cases it measured and the other did not.
pub fn one_sided<'a>(
    baseline: &'a ResultFile,
    current: &'a ResultFile,
) -> [(&'static str, Vec<OneSided>); 2] {
    [
        ("baseline", measured_only_in(baseline, current)),
        ("current run", measured_only_in(current, baseline)),
    ]
}

/// Why a comparison may mislead: two machines, or one run twice.
pub fn machine_warning(baseline: &ResultFile, current: &ResultFile) -> Option<String> {
    let (a, b) = (&baseline.machine, &current.machine);
    let differs =
        a.cpu_model != b.cpu_model || a.kernel != b.kernel || a.cpus_online != b.cpus_online;
    if differs {
        return Some(format!(
            "the two runs come from different machines (baseline: {}; current: {}): a change may be the machine's, not the code's",
            a.summary(),
            b.summary()
        ));
    }
    let identity = baseline.identity();
    (identity == current.identity())
        .then(|| format!("both files are the same run ({identity}): nothing can have changed"))
}

/// The table of changes, Markdown, padded for terminals.
pub fn table(changes: &[Change]) -> String {
    let mut s = String::from("| mechanism | pattern | placement | size | baseline | current | raw change | normalised change | verdict |\n|---|---|---|---|---|---|---|---|---|\n");
    for c in changes {
        s += &format!("| {} |\n", c.cells().join(" | "));
    }
    s
}

impl Change {
    /// The change as a table shows it: mechanism, pattern, placement, size,
    /// baseline, current, raw change, normalised change, verdict.
    pub fn cells(&self) -> [String; 9] {
        let unit = self.pattern.describe().headline().unit;
        let figure = |v: f64| match v.is_nan() {
            true => "failed".to_string(),
            false => crate::results::format::value(v, unit),
        };
        let percent = |v: f64| {
            if v.is_finite() {
                format!("{:+.1}%", v * 100.0)
            } else {
                "collapsed".to_string()
            }
        };
        [
            self.mechanism.clone(),
            self.pattern.to_string(),
            self.placement.clone(),
            match &self.load {
                Some(load) => format!(
                    "{} at {load}",
                    crate::results::format::size_or_none(self.size_bytes)
                ),
                None => crate::results::format::size_or_none(self.size_bytes),
            },
            figure(self.baseline),
            figure(self.current),
            percent(self.raw_change),
            percent(self.change),
            self.verdict.word().to_string(),
        ]
    }
}

/// `10%`, `10`, `0.5%`.
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .parse()
        .map_err(|_| "expected a percentage such as 10% or 25%".to_string())?;
    if !(0.0..=1000.0).contains(&v) {
        return Err("expected a percentage between 0% and 1000%".into());
    }
    Ok(v / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::*;

    fn run(pipe: &[f64], uds: &[f64]) -> ResultFile {
        let row = |m: &str, trials: &[f64]| {
            let mut r = Row::new(m, Placement::Same, Pattern::Latency, 64);
            r.rtt_ns = Some(Rtt {
                min: 1,
                p50: trials[0] as u64,
                p90: 1,
                p99: 1,
                p999: 1,
                max: 1,
                mean: 1.0,
                stddev: 0.0,
            });
            r.trials = trials.to_vec();
            r
        };
        ResultFile {
            schema_version: SCHEMA_VERSION,
            run_id: None,
            tool: Tool::current(),
            machine: Machine::default(),
            options: RunRecord {
                mechanisms: vec![],
                patterns: vec![],
                sizes: vec![],
                placements: vec![],
                length: crate::harness::workload::Length::Iterations(1),
                warmup_s: 0.0,
                timeout_s: 1.0,
                verify: crate::harness::message::Verify::Full,
                repeat: pipe.len(),
                rates: vec![],
                senders: vec![],
                subscribers: vec![],
                groups: vec![],
                group_size: None,
                loops: None,
                waits: vec![],
                isolations: vec![],
                memory_node: None,
            },
            calibration: Calibration {
                timer_overhead_ns: 20.0,
                reference_ns: vec![1000.0; pipe.len()],
            },
            started_at: String::new(),
            finished_at: String::new(),
            complete: true,
            rows: vec![row("pipe", pipe), row("uds-stream", uds)],
            floors: None,
            probe: None,
        }
    }

    fn verdict_of(b: &ResultFile, c: &ResultFile, m: &str) -> Verdict {
        compare(b, c, 0.10, By::Distributions)
            .into_iter()
            .find(|x| x.mechanism == m)
            .unwrap()
            .verdict
    }

    #[test]
    fn a_machine_twice_as_slow_is_not_a_regression() {
        let base = run(&[5000.0, 5100.0, 4900.0], &[10000.0, 10100.0, 9900.0]);
        let slow = run(&[10000.0, 10200.0, 9800.0], &[20000.0, 20200.0, 19800.0]);
        assert_eq!(verdict_of(&base, &slow, "uds-stream"), Verdict::Unchanged);
    }

    #[test]
    fn a_transport_slower_against_its_reference_is_a_regression() {
        let base = run(&[5000.0, 5100.0, 4900.0], &[10000.0, 10100.0, 9900.0]);
        let worse = run(&[5000.0, 5100.0, 4900.0], &[13000.0, 13100.0, 12900.0]);
        assert_eq!(verdict_of(&base, &worse, "uds-stream"), Verdict::Regression);
        assert_eq!(
            verdict_of(&worse, &base, "uds-stream"),
            Verdict::Improvement
        );
    }

    #[test]
    fn a_reference_that_moved_alone_is_not_a_regression() {
        // The transport's own figures barely moved; its reference got 40 %
        // faster, so against it the transport looks 60 % slower.
        let base = run(&[5000.0, 5000.0, 5000.0], &[10000.0, 10000.0, 10000.0]);
        let cur = run(&[3000.0, 3000.0, 3000.0], &[10500.0, 10500.0, 10500.0]);
        assert_eq!(verdict_of(&base, &cur, "uds-stream"), Verdict::Noisy);
    }

    #[test]
    fn overlapping_trials_are_noise_even_past_the_threshold() {
        let base = run(&[5000.0, 5000.0, 5000.0], &[10000.0, 14000.0, 9000.0]);
        let cur = run(&[5000.0, 5000.0, 5000.0], &[12000.0, 9500.0, 12500.0]);
        assert_eq!(verdict_of(&base, &cur, "uds-stream"), Verdict::Noisy);
        let same = run(&[5000.0, 5000.0, 5000.0], &[10100.0, 9900.0, 10000.0]);
        assert_eq!(verdict_of(&base, &same, "uds-stream"), Verdict::Unchanged);
    }

    /// The run with each row's histogram: 300 round trips within ±4 % of
    /// `centre(mechanism)`.
    fn with_histograms(mut run: ResultFile, centre: impl Fn(&str) -> f64) -> ResultFile {
        for r in &mut run.rows {
            let mut h = crate::results::distribution::new_histogram();
            for i in 0..300u64 {
                let v = centre(&r.mechanism) * (0.96 + 0.08 * i as f64 / 300.0);
                h.record(v as u64).unwrap();
            }
            r.set_distribution(&h);
        }
        run
    }

    #[test]
    fn histograms_flag_a_shift_whose_trials_overlap() {
        // A trial's median can jump (a bimodal case, a burst in one
        // trial) while every message's distribution moved 25 %, clear of
        // the baseline's: by trials it is noise, by distributions not.
        let base = run(&[5000.0, 5000.0, 5000.0], &[10000.0, 10000.0, 12600.0]);
        let cur = run(&[5000.0, 5000.0, 5000.0], &[12500.0, 12500.0, 12500.0]);
        assert_eq!(verdict_of(&base, &cur, "uds-stream"), Verdict::Noisy);
        let centre = |at: f64| move |m: &str| if m == "pipe" { 5000.0 } else { at };
        let base = with_histograms(base, centre(10000.0));
        let cur = with_histograms(cur, centre(12500.0));
        assert_eq!(verdict_of(&base, &cur, "uds-stream"), Verdict::Regression);
        let by_trials = compare(&base, &cur, 0.10, By::Trials);
        let uds = by_trials
            .iter()
            .find(|c| c.mechanism == "uds-stream")
            .unwrap();
        assert_eq!(uds.verdict, Verdict::Noisy);
    }

    #[test]
    fn a_median_that_moved_without_the_upper_quartile_is_noise() {
        // 7 to 13 µs, then 10 to 13 µs: the median moved 15 %, the upper
        // quartile 6.5 %. The fast messages got slower, the bulk did not.
        let mut base = with_histograms(run(&[5000.0; 3], &[10000.0; 3]), |_| 5000.0);
        let mut cur = with_histograms(run(&[5000.0; 3], &[11500.0; 3]), |_| 5000.0);
        for (run, from) in [(&mut base, 7000.0), (&mut cur, 10000.0)] {
            let uds = run.rows.iter_mut().find(|r| r.mechanism == "uds-stream");
            let mut h = crate::results::distribution::new_histogram();
            for i in 0..300u64 {
                h.record((from + (13000.0 - from) * i as f64 / 300.0) as u64)
                    .unwrap();
            }
            uds.unwrap().set_distribution(&h);
        }
        assert_eq!(verdict_of(&base, &cur, "uds-stream"), Verdict::Noisy);
    }

    #[test]
    fn thresholds_parse_as_percentages() {
        assert_eq!(parse_threshold("10%"), Ok(0.10));
        assert_eq!(parse_threshold("25"), Ok(0.25));
        assert!(parse_threshold("ten").is_err());
        assert!(parse_threshold("-5%").is_err());
    }
}
