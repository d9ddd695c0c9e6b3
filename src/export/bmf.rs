//! Bencher Metric Format: `{benchmark: {measure: {value, lower_value,
//! upper_value}}}`. Latency rows use Bencher's built-in `latency` measure
//! (ns, the RTT p50) and throughput rows its `throughput` measure (ops/s,
//! messages per second); bounds are the trials' extremes when the run was
//! repeated. `rtt-p99` and `mib-per-s` are extra measures.

use serde_json::{json, Map, Value};

use crate::results::{ResultFile, Status};

/// `pipe/latency/same/64B` (and `/spin` for a receiver that did not
/// block): stable across runs, so Bencher can follow it; every axis of
/// the case has its segment (`results::case`).
pub fn benchmark_name(r: &crate::results::Row) -> String {
    crate::results::case::benchmark_name(r)
}

fn metric(value: f64, trials: &[f64]) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), json!(value));
    if trials.len() > 1 {
        let lo = trials.iter().copied().fold(f64::MAX, f64::min);
        let hi = trials.iter().copied().fold(f64::MIN, f64::max);
        m.insert("lower_value".into(), json!(lo.min(value)));
        m.insert("upper_value".into(), json!(hi.max(value)));
    }
    Value::Object(m)
}

pub fn render(result: &ResultFile) -> Value {
    let mut out = Map::new();
    for r in result.rows.iter().filter(|r| r.status == Status::Ok) {
        let metrics = r.pattern.describe().metrics;
        // The headline carries the trials' bounds; the rest their value.
        let mut measures = Map::new();
        for (i, m) in metrics.iter().enumerate() {
            let Some(value) = (m.read)(r).filter(|_| m.in_bmf) else {
                continue;
            };
            let trials: &[f64] = if i == 0 { &r.trials } else { &[] };
            measures.insert(m.name.into(), metric(value, trials));
        }
        if r.headline().is_some() {
            out.insert(benchmark_name(r), Value::Object(measures));
        }
    }
    Value::Object(out)
}

pub struct Bmf;

impl super::Exporter for Bmf {
    fn export(&self, result: &ResultFile) -> std::io::Result<super::Exported> {
        Ok(super::Exported::Text(super::pretty(&render(result))))
    }
}
