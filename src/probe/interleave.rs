//! Whether the writes of several senders into one receiver mix: the
//! smallest message size at which a fan-in case (`run --patterns fan-in`,
//! the same harness) delivered a torn message.
//!
//! Where all senders write into one byte stream (a pipe, a FIFO), POSIX
//! keeps a write of at most PIPE_BUF bytes whole, and says nothing of
//! larger ones; the sizes tried straddle that and the pipe's capacity. The
//! message transports and the one-connection-per-sender ones are tried at
//! the largest size they carry, since a tear there would be news.

use super::{Finding, Subject};
use crate::harness::{run_case, Case, Settings};
use crate::results::probe::Measured;
use crate::results::{Length, Pattern, Placement, Status};
use crate::transport::{Object, Transport};

/// Senders per experiment: more than the CPUs of small machines, so that
/// they are preempted mid-write.
const SENDERS: u32 = 4;
/// Messages per sender and size.
const MESSAGES: u64 = 200;
/// PIPE_BUF, one byte over, the default pipe capacity, and a large write.
const STREAM_SIZES: [usize; 4] = [4096, 4097, 64 << 10, 1 << 20];
/// The largest first: a message transport carries what its limits allow.
const MESSAGE_SIZES: [usize; 4] = [1 << 20, 64 << 10, 8192, 4096];

pub fn probe(s: &Subject, settings: &Settings) -> Finding {
    let Some(t) = s.transport else {
        return Finding::fact(
            Measured::not_applicable(),
            "a bare segment has no receiver to write to: what several writers do is up to the protocol on top",
        );
    };
    if let Some(why) = crate::harness::refusal(t, Pattern::FanIn) {
        return Finding::fact(Measured::not_applicable(), format!("no fan-in: {why}"));
    }
    let settings = Settings {
        length: Length::Iterations(MESSAGES),
        warmup: std::time::Duration::ZERO,
        ..settings.clone()
    };
    let shared_stream = matches!(s.nature.object, Object::Pipe | Object::Fifo);
    let sizes: Vec<usize> = if shared_stream {
        STREAM_SIZES.to_vec()
    } else {
        let carried = MESSAGE_SIZES.iter().find(|&&s| t.check_size(s).is_ok());
        carried.into_iter().copied().collect()
    };
    let mut whole = Vec::new();
    for size in sizes {
        let mut case = Case::new(t, Pattern::FanIn, size, Placement::None, &settings);
        case.spec.senders = Some(SENDERS);
        let row = run_case(&case);
        match row.status {
            // A kernel limit at the first size tried: nothing was measured.
            Status::Unsupported if whole.is_empty() => {
                return Finding::undecided(format!(
                    "{SENDERS} senders of {size}-byte messages: unsupported: {}",
                    row.reason.unwrap_or_default()
                ))
            }
            Status::Ok if row.errors.torn + row.errors.corrupted > 0 => {
                return torn_at(size, &row, &whole);
            }
            Status::Ok => whole.push(size),
            _ => {
                return Finding::undecided(format!(
                    "{SENDERS} senders of {size}-byte messages: {}",
                    row.reason.unwrap_or_default()
                ))
            }
        }
    }
    never_torn(t, &whole)
}

fn torn_at(size: usize, row: &crate::results::Row, whole: &[usize]) -> Finding {
    let damaged = row.errors.torn + row.errors.corrupted;
    let before = if whole.is_empty() {
        String::new()
    } else {
        format!("; every message of {} arrived whole", sizes(whole))
    };
    Finding::new(
        Measured::Number(size as u64),
        format!(
            "{SENDERS} senders × {MESSAGES} messages of {size} B into one receiver: {damaged} frames failed their check, bytes of two senders' writes mixed (a frame read at a shifted offset after a tear counts too){before}"
        ),
    )
}

fn never_torn(t: &dyn Transport, whole: &[usize]) -> Finding {
    if whole.is_empty() {
        return Finding::undecided(format!("{} carries none of the sizes tried", t.name()));
    }
    Finding::no(format!(
        "{SENDERS} senders × {MESSAGES} messages of {} into one receiver: every one arrived whole and in its sender's order",
        sizes(whole)
    ))
}

fn sizes(list: &[usize]) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|&s| crate::results::format::bytes(s as u64))
        .collect();
    each.join(", ")
}
