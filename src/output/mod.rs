//! What a person sees while a run goes: one progress line per case on
//! stderr, warnings, and human units.
//!
//! Everything a person sees goes through [`say!`](crate::say) and
//! [`tell!`](crate::tell), never `println!`: a closed pipe (`| head -1`) or
//! a full disk behind stdout or stderr loses the text, never the run, its
//! result file or its report.

pub mod failure;
pub mod folder;

pub use failure::WriteError;

/// Why work given to [`unless_interrupted`] did not finish.
#[derive(Debug, PartialEq, Eq)]
pub enum Abandoned {
    Interrupted,
    /// The work's thread could not start, or panicked (its message was
    /// printed).
    Lost,
}

/// Runs `work` on a thread of its own, unless Ctrl-C comes first: then the
/// work is abandoned where it stands, whatever it is doing (reading a large
/// file, drawing a chart, writing one), its folders being built are
/// removed, and the caller hears so within a poll's time, to exit.
pub fn unless_interrupted<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Abandoned> {
    use std::sync::mpsc::RecvTimeoutError;
    let (done, result) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("abandonable".into())
        .spawn(move || {
            // Signals go to the waiting thread, which does the giving up.
            crate::sys::interrupt::block_in_this_thread();
            let _ = done.send(work());
        })
        .map_err(|_| Abandoned::Lost)?;
    loop {
        if crate::sys::interrupt::interrupted() {
            folder::abandon_building();
            return Err(Abandoned::Interrupted);
        }
        match result.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(value) => return Ok(value),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err(Abandoned::Lost),
        }
    }
}

use std::io::Write;

/// Writes to stdout; a reader that went away or a full device is ignored.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// Writes to stderr, with the same indifference.
pub fn err(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `println!` to stdout that cannot panic.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that cannot panic.
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::output::err(&format!("{}\n", format_args!($($arg)*)))
    };
}

use crate::results::{Row, Status};

/// The headline figure of a row, for progress lines and tables.
pub fn headline(row: &Row) -> String {
    match row.status {
        Status::Ok => (row.pattern.describe().line)(row),
        Status::Unsupported => format!("unsupported: {}", row.reason.as_deref().unwrap_or("")),
        Status::Failed => format!("FAILED: {}", row.reason.as_deref().unwrap_or("")),
    }
}

pub fn progress(done: usize, total: usize, row: &Row, eta: &Eta) {
    let width = total.to_string().len();
    let errors = if row.errors.total() > 0 {
        format!("  !! {} verification errors", row.errors.total())
    } else {
        String::new()
    };
    crate::tell!(
        "[{done:>width$}/{total}] {:<11} {:<10} {:<5} {:>7}{}  {}{errors}{}",
        row.transport_label(),
        row.pattern.to_string(),
        crate::results::case::placement_label(row),
        crate::results::format::size_cell(row),
        row.load_label().map_or(String::new(), |l| format!(" {l}")),
        headline(row),
        eta.suffix(),
    );
}

/// An estimate of the time left in a sequence of steps (cases, probed
/// transports), from what each was planned to take and how long the
/// finished ones took against their plan.
pub struct Eta {
    started: std::time::Instant,
    planned: Vec<std::time::Duration>,
    done: usize,
}

impl Eta {
    pub fn new(planned: Vec<std::time::Duration>) -> Eta {
        Eta {
            started: std::time::Instant::now(),
            planned,
            done: 0,
        }
    }

    /// One more step finished.
    pub fn step(&mut self) {
        self.done = (self.done + 1).min(self.planned.len());
    }

    /// The time left, once a step has finished to calibrate the plan.
    pub fn left(&self) -> Option<std::time::Duration> {
        self.left_after(self.started.elapsed())
    }

    fn left_after(&self, elapsed: std::time::Duration) -> Option<std::time::Duration> {
        let planned_done: std::time::Duration = self.planned[..self.done].iter().sum();
        let planned_left: std::time::Duration = self.planned[self.done..].iter().sum();
        if planned_done.is_zero() {
            return None;
        }
        let pace = elapsed.as_secs_f64() / planned_done.as_secs_f64();
        Some(std::time::Duration::from_secs(
            (planned_left.as_secs_f64() * pace).ceil() as u64,
        ))
    }

    /// "  (about 2m 10s left)" where a person watches (stderr is a
    /// terminal); nothing otherwise, so that logs keep one plain line a step.
    pub fn suffix(&self) -> String {
        use std::io::IsTerminal;
        match self.left() {
            Some(left) if std::io::stderr().is_terminal() && self.done < self.planned.len() => {
                format!("  (about {} left)", humantime::format_duration(left))
            }
            _ => String::new(),
        }
    }
}

pub fn warn(msg: &str) {
    crate::tell!("warning: {msg}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_time_left_follows_the_pace_of_the_finished_steps() {
        let mut eta = Eta::new(vec![Duration::from_secs(1); 4]);
        assert_eq!(eta.left_after(Duration::from_secs(3)), None);
        eta.step();
        // One planned second took two: three more take six.
        assert_eq!(
            eta.left_after(Duration::from_secs(2)),
            Some(Duration::from_secs(6))
        );
        eta.step();
        eta.step();
        eta.step();
        assert_eq!(eta.left_after(Duration::from_secs(8)), Some(Duration::ZERO));
    }
}
