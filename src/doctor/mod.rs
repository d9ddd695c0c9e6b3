//! `ipcbench doctor`: what on this machine would skew the figures, what each
//! finding means for them, and the command that fixes it (or why it cannot
//! be fixed here). A run prints the warnings at its start and records them
//! in the result file's `machine` section.

mod checks;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// As a benchmark wants it.
    Ok,
    /// Worth knowing to read the figures; nothing to change.
    Info,
    /// Would skew the figures or make them vary from run to run.
    Warn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: String,
    pub level: Level,
    /// What was read or measured, with where it came from.
    pub observed: String,
    /// What it means for the figures.
    pub meaning: String,
    /// The command that fixes it, or why it cannot be fixed here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn new(
        check: &str,
        level: Level,
        observed: impl Into<String>,
        meaning: impl Into<String>,
    ) -> Finding {
        Finding {
            check: check.to_string(),
            level,
            observed: observed.into(),
            meaning: meaning.into(),
            fix: None,
        }
    }

    fn fix(mut self, how: impl Into<String>) -> Finding {
        self.fix = Some(how.into());
        self
    }

    /// One line, as a run prints a warning and records it.
    pub fn line(&self) -> String {
        format!("{}: {} ({})", self.check, self.observed, self.meaning)
    }
}

/// Every check, for the CPUs a run would use (`same` on the first, `cross`
/// on both).
pub fn examine(cpus: (usize, usize)) -> Vec<Finding> {
    let mut all = Vec::new();
    all.extend(checks::frequency(cpus));
    all.push(checks::topology());
    all.push(checks::smt(cpus));
    all.extend(checks::idle());
    all.push(checks::isolation(cpus));
    all.push(checks::load());
    all.push(checks::clock());
    all.push(checks::hypervisor());
    all.push(checks::io_uring());
    all.extend(checks::limits());
    all
}

/// `examine`, and the checks that make something to see whether it can be
/// made (namespaces and a veth pair): `ipcbench doctor`'s, not a run's.
pub fn examine_by_trying(cpus: (usize, usize)) -> Vec<Finding> {
    let mut all = examine(cpus);
    all.push(checks::containers());
    all
}

/// The prefix of the kernel limits' checks.
pub const LIMIT: &str = "limit ";

/// The findings for people: warnings first, then information, then what is
/// fine; each with its meaning and its fix.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    let is_limit = |f: &&Finding| f.check.starts_with(LIMIT);
    for level in [Level::Warn, Level::Info, Level::Ok] {
        for f in findings.iter().filter(|f| f.level == level && !is_limit(f)) {
            let tag = match level {
                Level::Warn => "WARN",
                Level::Info => "info",
                Level::Ok => "ok  ",
            };
            s += &format!("{tag} {}: {}\n     {}\n", f.check, f.observed, f.meaning);
            if let Some(fix) = &f.fix {
                s += &format!("     fix: {fix}\n");
            }
        }
    }
    s += "\nKernel limits the transports hit (a case beyond one is reported unsupported, naming it; --json gives how to raise each):\n";
    for f in findings.iter().filter(is_limit) {
        s += &format!(
            "  {:<26} {:<14} {}\n",
            &f.check[LIMIT.len()..],
            f.observed,
            f.meaning
        );
    }
    let warnings = findings.iter().filter(|f| f.level == Level::Warn).count();
    s += &match warnings {
        0 => "\nNothing here would skew the figures.\n".to_string(),
        n => format!("\n{n} finding(s) would skew the figures or make them vary between runs.\n"),
    };
    s
}

/// Two allowed CPUs that are not SMT siblings, for `--cpus`, if there are.
pub fn suggested_pair(allowed: &[usize]) -> Option<(usize, usize)> {
    let first = *allowed.first()?;
    let siblings = checks::siblings(first);
    allowed
        .iter()
        .find(|c| **c != first && !siblings.contains(c))
        .map(|c| (first, *c))
}
