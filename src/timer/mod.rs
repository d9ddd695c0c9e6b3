//! The clock. Every round trip is timed with two `Instant::now()` calls
//! (CLOCK_MONOTONIC through the vDSO); what one call costs is measured once
//! per run and reported beside the figures rather than subtracted, since it
//! varies by a few nanoseconds between calls.

use std::hint::black_box;
use std::time::Instant;

/// Median time of a fixed CPU-only workload (CRC32C over 1 MiB), in ns: how
/// fast this machine computes right now, whatever its IPC does.
pub fn cpu_reference_ns() -> f64 {
    let data = vec![0x5Au8; 1 << 20];
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            black_box(crc32c::crc32c(black_box(&data)));
            start.elapsed().as_nanos() as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Median cost of one clock read, in nanoseconds, over a few batches.
pub fn clock_overhead_ns() -> f64 {
    const READS: u32 = 20_000;
    let mut batches: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..READS {
                black_box(Instant::now());
            }
            start.elapsed().as_nanos() as f64 / READS as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
/// machine, so a time stamped by one process can be read by another.
pub fn monotonic_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    // CLOCK_MONOTONIC exists on every Linux; a failure would be a kernel bug.
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}
