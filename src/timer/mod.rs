//! The clock. Every round trip is timed with two `Instant::now()` calls
//! (CLOCK_MONOTONIC through the vDSO); what one call costs is measured once
//! per run and reported beside the figures rather than subtracted, since it
//! varies by a few nanoseconds between calls.

use std::hint::black_box;
use std::time::Instant;

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
