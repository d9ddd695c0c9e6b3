//! A row's latency distribution kept whole, in HdrHistogram's own format,
//! and how its round trips moved over the case (the timeline).
//!
//! The histogram is HdrHistogram's V2 compressed encoding in base64, the
//! string every HdrHistogram implementation (Java, C, Python, JavaScript,
//! Rust) reads: other people's tools can merge and plot it without
//! ipcbench. The row's percentiles are read from it, so the two agree.

use std::io::Read;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Row, Rtt};

/// Latencies from 1 ns to an hour, at 3 significant digits (a bucket is
/// at most 0.1 % wide).
pub const HIGHEST_NS: u64 = 3_600_000_000_000;
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// The longest encoded histogram read from a file. One of ipcbench's,
/// whatever the case's length, is under 10 KiB: the counts array has
/// about 32 000 buckets and a case fills a few hundred of them.
pub const MAX_ENCODED: usize = 256 << 10;

/// The most a histogram may inflate to: the whole counts array of
/// [`new_histogram`]'s bounds at 9 bytes per count (LEB128's worst).
const MAX_INFLATED: u64 = 1 << 20;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, SIGNIFICANT_DIGITS).expect("valid bounds")
}

/// HdrHistogram's V2 compressed encoding, in standard base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("a histogram of u64 counts serialises into memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// HdrHistogram's V2 cookies (0x1c849303 and 0x1c849304, marked for
/// 64-bit counts).
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_COOKIE: u32 = 0x1c84_9313;

/// Why an encoded histogram was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadHistogram {
    #[error("its histogram is {0} bytes long; an encoded histogram is at most {MAX_ENCODED}")]
    TooLong(usize),
    #[error("its histogram is not base64: {0}")]
    NotBase64(String),
    #[error("its histogram is not HdrHistogram's V2 compressed encoding (cookie 0x1c849314)")]
    NotV2,
    #[error("its histogram is cut short: the length in its header is past its end")]
    CutShort,
    #[error("its histogram does not inflate: {0}")]
    DoesNotInflate(String),
    #[error("its histogram inflates past {MAX_INFLATED} bytes; a latency histogram is smaller")]
    InflatesTooFar,
    #[error("its histogram's inner cookie is not V2's (0x1c849313)")]
    InnerCookie,
    #[error("its histogram's header is cut short")]
    HeaderCutShort,
    #[error("its histogram says its counts take {payload} bytes; {present} follow the header")]
    CountsPastEnd { payload: usize, present: usize },
    #[error("its histogram has {digits} significant digits up to {highest} ns; ipcbench's have at most {SIGNIFICANT_DIGITS} up to {HIGHEST_NS} ns")]
    Bounds { digits: u32, highest: u64 },
    #[error("its histogram does not decode: {0}")]
    DoesNotDecode(String),
    #[error("trials' histograms do not add: {0}")]
    DoNotAdd(String),
}

/// Reads an encoded histogram, refusing one that is not HdrHistogram's V2
/// compressed encoding or whose bounds no latency needs. The crate's own
/// deserializer trusts the lengths in the header (it would reserve 4 GiB
/// for a forged one), so the header is checked here first.
pub fn decode(text: &str) -> Result<Histogram<u64>, BadHistogram> {
    if text.len() > MAX_ENCODED {
        return Err(BadHistogram::TooLong(text.len()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| BadHistogram::NotBase64(e.to_string()))?;
    let inflated = inflate(&bytes)?;
    check_header(&inflated)?;
    Deserializer::new()
        .deserialize(&mut &inflated[..])
        .map_err(|e| BadHistogram::DoesNotDecode(format!("{e:?}")))
}

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The uncompressed V2 encoding inside the compressed one, bounded.
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, BadHistogram> {
    if word(bytes, 0) != Some(V2_COMPRESSED_COOKIE) {
        return Err(BadHistogram::NotV2);
    }
    let length = word(bytes, 4).ok_or(BadHistogram::NotV2)? as usize;
    let deflated = bytes.get(8..8 + length).ok_or(BadHistogram::CutShort)?;
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(deflated)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| BadHistogram::DoesNotInflate(e.to_string()))?;
    if inflated.len() as u64 > MAX_INFLATED {
        return Err(BadHistogram::InflatesTooFar);
    }
    Ok(inflated)
}

/// Cookie, payload length within the bytes, and bounds no wider than
/// [`new_histogram`]'s.
fn check_header(v2: &[u8]) -> Result<(), BadHistogram> {
    let cut = BadHistogram::HeaderCutShort;
    if word(v2, 0) != Some(V2_COOKIE) {
        return Err(BadHistogram::InnerCookie);
    }
    let payload = word(v2, 4).ok_or(cut.clone())? as usize;
    let present = v2.len().saturating_sub(40);
    if payload > present {
        return Err(BadHistogram::CountsPastEnd { payload, present });
    }
    let digits = word(v2, 12).ok_or(cut.clone())?;
    let highest = u64::from_be_bytes(v2.get(24..32).ok_or(cut)?.try_into().expect("8 bytes"));
    if digits > u32::from(SIGNIFICANT_DIGITS) || highest > HIGHEST_NS.next_power_of_two() {
        return Err(BadHistogram::Bounds { digits, highest });
    }
    Ok(())
}

/// The figures a row shows, read from its histogram.
pub fn percentiles(h: &Histogram<u64>) -> Rtt {
    Rtt {
        min: h.min(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: h.mean(),
        stddev: h.stdev(),
    }
}

/// Where the distribution is sampled for plots: dense in the tail, where
/// the transports differ.
const CURVE_QUANTILES: [f64; 19] = [
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9995,
    0.9999, 0.99999, 1.0,
];

impl Row {
    /// Sets the row's distribution (its pattern says which one) from a
    /// histogram: the percentiles, the curve for plots, and the histogram.
    pub fn set_distribution(&mut self, h: &Histogram<u64>) {
        let Some(d) = self.pattern.describe().distributions.first() else {
            return;
        };
        (d.write)(self, percentiles(h));
        if d.curve {
            self.rtt_curve_ns = CURVE_QUANTILES
                .iter()
                .map(|&q| (q, h.value_at_quantile(q)))
                .collect();
        }
        self.histogram = Some(encode(h));
    }

    /// The row's histogram, decoded, if it carries one.
    pub fn decoded_histogram(&self) -> Option<Result<Histogram<u64>, BadHistogram>> {
        self.histogram.as_deref().map(decode)
    }
}

/// The histograms of several trials of one case, added: the distribution
/// of every timed message, which percentiles averaged could not give.
pub fn merged(rows: &[Row]) -> Result<Option<Histogram<u64>>, BadHistogram> {
    let mut total: Option<Histogram<u64>> = None;
    for h in rows.iter().filter_map(Row::decoded_histogram) {
        let h = h?;
        match &mut total {
            Some(t) => t
                .add(&h)
                .map_err(|e| BadHistogram::DoNotAdd(format!("{e:?}")))?,
            None => total = Some(h),
        }
    }
    Ok(total)
}

/// Round trips sampled over the timed part of a case, at most
/// [`TIMELINE_POINTS`] of them, evenly by message count.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// One point per this many timed messages.
    pub every: u64,
    /// (ns into the timed part, that message's latency in ns, the largest
    /// latency since the previous point): the sample shows the level, the
    /// largest shows a burst the sample stepped over.
    pub points: Vec<(u64, u64, u64)>,
}

/// A timeline's points stay between half this and this.
pub const TIMELINE_POINTS: usize = 128;

/// How a case's latency moved between its first and its last third, when
/// it moved beyond the noise: the row is not one steady cost.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// The median sampled latency of the first and of the last third, ns.
    pub first_third_p50_ns: u64,
    pub last_third_p50_ns: u64,
}

/// The fewest points a third needs for its median and quartiles to mean
/// something.
const LEAST_PER_THIRD: usize = 8;

impl Timeline {
    /// The first and last thirds' medians, when they differ beyond the
    /// noise: their interquartile ranges do not overlap, and the medians
    /// are more than 10 % apart. A steady case, however heavy its tail,
    /// has overlapping thirds; a burst that fills a third moves its
    /// quartiles past the other's.
    pub fn drift(&self) -> Option<Drift> {
        let third = self.points.len() / 3;
        if third < LEAST_PER_THIRD {
            return None;
        }
        let quartiles = |points: &[(u64, u64, u64)]| {
            let mut v: Vec<u64> = points.iter().map(|p| p.1).collect();
            v.sort_unstable();
            (v[v.len() / 4], v[v.len() / 2], v[v.len() * 3 / 4])
        };
        let first = quartiles(&self.points[..third]);
        let last = quartiles(&self.points[self.points.len() - third..]);
        let apart = first.2 < last.0 || last.2 < first.0;
        let ratio = last.1 as f64 / first.1.max(1) as f64;
        (apart && !(0.9..=1.1).contains(&ratio)).then_some(Drift {
            first_third_p50_ns: first.1,
            last_third_p50_ns: last.1,
        })
    }
}

impl Drift {
    /// "median 4.9× higher in the last third (270 µs against 55 µs)".
    pub fn warning(&self) -> String {
        let (a, b) = (self.first_third_p50_ns, self.last_third_p50_ns);
        let which = if b >= a { "last" } else { "first" };
        let (high, low) = (a.max(b), a.min(b).max(1));
        format!(
            "not steady: median {:.1}× higher in the {which} third ({} against {})",
            high as f64 / low as f64,
            super::format::ns(high as f64),
            super::format::ns(low as f64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        values.iter().for_each(|&v| h.record(v).unwrap());
        h
    }

    #[test]
    fn a_histogram_survives_its_encoding() {
        let h = histogram(&[120, 150, 5_000, 270_000, 55_000]);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert!(encode(&h).starts_with("HISTFAAA"), "{}", encode(&h));
    }

    #[test]
    fn forged_or_damaged_histograms_are_refused_with_why() {
        let good = encode(&histogram(&[1000]));
        assert!(matches!(
            decode("not base64!"),
            Err(BadHistogram::NotBase64(_))
        ));
        assert_eq!(decode("AAAA").unwrap_err(), BadHistogram::NotV2);
        let cut = &good[..good.len() / 2];
        assert!(decode(cut).is_err());
        // A header that claims 4 GiB of payload is refused before any
        // allocation of that size.
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&good)
            .unwrap();
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let forged = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode(&forged).unwrap_err(), BadHistogram::CutShort);
        let wide = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 5).unwrap();
        let refused = decode(&encode(&wide)).unwrap_err();
        assert!(matches!(refused, BadHistogram::Bounds { digits: 5, .. }));
        assert!(
            refused.to_string().contains("significant digits"),
            "{refused}"
        );
    }

    #[test]
    fn trials_merge_by_adding_their_histograms() {
        let row = |values: &[u64]| {
            let mut r = Row::new(
                "pipe",
                super::super::Placement::Same,
                super::super::Pattern::Latency,
                64,
            );
            r.set_distribution(&histogram(values));
            r
        };
        let all = merged(&[row(&[100, 100, 100]), row(&[300]), row(&[200, 200])])
            .unwrap()
            .unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(all.value_at_quantile(0.5), 100);
    }

    fn timeline(values: impl Iterator<Item = u64>) -> Timeline {
        Timeline {
            every: 1,
            points: values.enumerate().map(|(i, v)| (i as u64, v, v)).collect(),
        }
    }

    #[test]
    fn a_burst_that_fills_a_third_is_drift_and_a_heavy_tail_is_not() {
        let steady = timeline((0..120).map(|i| if i % 7 == 0 { 270_000 } else { 55_000 + i % 5 }));
        assert_eq!(steady.drift(), None);
        let burst = timeline((0..120).map(|i| if i < 40 { 270_000 + i } else { 55_000 + i % 5 }));
        let d = burst.drift().unwrap();
        assert_eq!(d.first_third_p50_ns, 270_020);
        assert!(
            d.warning().contains("4.9× higher in the first third"),
            "{}",
            d.warning()
        );
        let short = timeline((0..20).map(|i| if i < 7 { 1000 } else { 10 }));
        assert_eq!(short.drift(), None);
    }
}
