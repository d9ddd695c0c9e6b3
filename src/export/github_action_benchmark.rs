//! github-action-benchmark's custom formats: an array of `{name, unit,
//! value, range?, extra?}`. Its `customSmallerIsBetter` tool takes the
//! latency rows (RTT in ns), its `customBiggerIsBetter` tool the throughput
//! rows (messages/s and MiB/s), so this writes two files.

use serde_json::{json, Value};

use super::bmf::benchmark_name;
use crate::results::pattern::Better;
use crate::results::{ResultFile, Status};

fn spread(trials: &[f64]) -> Option<String> {
    (trials.len() > 1).then(|| {
        let lo = trials.iter().copied().fold(f64::MAX, f64::min);
        let hi = trials.iter().copied().fold(f64::MIN, f64::max);
        format!("± {:.1}", (hi - lo) / 2.0)
    })
}

fn entry(name: String, unit: &str, value: f64, range: Option<String>, extra: String) -> Value {
    let mut e = json!({ "name": name, "unit": unit, "value": value, "extra": extra });
    if let Some(r) = range {
        e["range"] = json!(r);
    }
    e
}

/// (smaller is better, bigger is better): each row's tracked figures,
/// the headline with the trials' spread.
pub fn render(result: &ResultFile) -> (Value, Value) {
    let (mut smaller, mut bigger) = (Vec::new(), Vec::new());
    for r in result.rows.iter().filter(|r| r.status == Status::Ok) {
        let described = r.pattern.describe();
        let name = benchmark_name(r);
        for (i, m) in described.metrics.iter().enumerate() {
            let Some(value) = (m.read)(r).filter(|_| m.in_gab) else {
                continue;
            };
            let spread = if i == 0 { spread(&r.trials) } else { None };
            let e = entry(
                format!("{name} {}", m.label),
                m.unit.symbol(),
                value,
                spread,
                (described.details)(r),
            );
            match m.better {
                Better::Lower => smaller.push(e),
                Better::Higher => bigger.push(e),
            }
        }
    }
    (Value::Array(smaller), Value::Array(bigger))
}

pub struct GithubActionBenchmark;

impl super::Exporter for GithubActionBenchmark {
    fn export(&self, result: &ResultFile) -> std::io::Result<super::Exported> {
        let (smaller, bigger) = render(result);
        Ok(super::Exported::Files(vec![
            ("smaller-is-better.json", super::pretty(&smaller)),
            ("bigger-is-better.json", super::pretty(&bigger)),
        ]))
    }
    fn writes_a_folder(&self) -> bool {
        true
    }
}
