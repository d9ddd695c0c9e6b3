//! What a timed loop records of each latency: the histogram, and a
//! bounded sample over time (the timeline). Recording costs a histogram
//! increment, a comparison and a countdown; the clock is read for the
//! timeline only at a sampled message.

use hdrhistogram::Histogram;

use crate::results::distribution::{new_histogram, Timeline, TIMELINE_POINTS};

pub struct Latencies {
    pub histogram: Histogram<u64>,
    timeline: Timeline,
    /// Messages left before the next sampled one.
    countdown: u64,
    /// The largest latency since the last point.
    largest: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        Latencies {
            histogram: new_histogram(),
            timeline: Timeline {
                every: 1,
                points: Vec::with_capacity(TIMELINE_POINTS),
            },
            countdown: 1,
            largest: 0,
        }
    }

    /// One latency of `ns`; `at` says when, in ns into the timed part,
    /// and is called only for a sampled message.
    #[inline]
    pub fn record(&mut self, ns: u64, at: impl FnOnce() -> u64) {
        let ns = ns.max(1);
        self.histogram.saturating_record(ns);
        self.largest = self.largest.max(ns);
        self.countdown -= 1;
        if self.countdown == 0 {
            self.sample(ns, at());
        }
    }

    fn sample(&mut self, ns: u64, at: u64) {
        self.timeline.points.push((at, ns, self.largest));
        self.largest = 0;
        if self.timeline.points.len() == TIMELINE_POINTS {
            self.halve();
        }
        self.countdown = self.timeline.every;
    }

    /// Keeps every second point, each carrying the largest latency of the
    /// two windows it now closes: the sample stays one per `every`
    /// messages, twice as far apart.
    fn halve(&mut self) {
        let points = &mut self.timeline.points;
        let pairs: Vec<_> = points
            .chunks_exact(2)
            .map(|p| (p[1].0, p[1].1, p[0].2.max(p[1].2)))
            .collect();
        *points = pairs;
        self.timeline.every *= 2;
    }

    /// The histogram, and the timeline when it has a point.
    pub fn finish(self) -> (Histogram<u64>, Option<Timeline>) {
        let timeline = (!self.timeline.points.is_empty()).then_some(self.timeline);
        (self.histogram, timeline)
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_case_keeps_a_bounded_even_sample_with_its_bursts() {
        let mut l = Latencies::new();
        for i in 1..=100_000u64 {
            let ns = if i == 50_001 { 270_000 } else { 1000 };
            l.record(ns, || i);
        }
        let (h, t) = l.finish();
        let t = t.unwrap();
        assert_eq!(h.len(), 100_000);
        assert!((TIMELINE_POINTS / 2..=TIMELINE_POINTS).contains(&t.points.len()));
        // Evenly by count: each point is `every` messages after the last.
        assert!(t.points.windows(2).all(|w| w[1].0 - w[0].0 == t.every));
        // The burst was not sampled, but the point after it says so.
        assert!(t.points.iter().all(|p| p.1 == 1000));
        assert_eq!(t.points.iter().filter(|p| p.2 == 270_000).count(), 1);
    }
}
