//! github-action-benchmark's custom formats: an array of `{name, unit,
//! value, range?, extra?}`. Its `customSmallerIsBetter` tool takes the
//! latency rows (RTT in ns), its `customBiggerIsBetter` tool the throughput
//! rows (messages/s and MiB/s), so this writes two files.

use serde_json::{json, Value};

use super::bmf::benchmark_name;
use crate::results::{Pattern, ResultFile, Status};

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

/// (smaller is better, bigger is better).
pub fn render(result: &ResultFile) -> (Value, Value) {
    let (mut smaller, mut bigger) = (Vec::new(), Vec::new());
    for r in result.rows.iter().filter(|r| r.status == Status::Ok) {
        let name = benchmark_name(r);
        let placement = format!("placement {}, CPUs {:?}", r.placement, r.cpus);
        match r.pattern {
            Pattern::Latency => {
                let Some(t) = &r.rtt_ns else { continue };
                let extra = format!(
                    "{placement}\np99 {} ns, p99.9 {} ns, max {} ns\n{} round trips",
                    t.p99, t.p999, t.max, r.messages
                );
                smaller.push(entry(
                    format!("{name} RTT p50"),
                    "ns",
                    t.p50 as f64,
                    spread(&r.trials),
                    extra,
                ));
            }
            Pattern::Rate => {
                let (Some(t), Some(s)) = (&r.rtt_ns, &r.schedule) else {
                    continue;
                };
                let extra = format!(
                    "{placement}\np50 {} ns from the due time; achieved {:.0} of {:.0} msg/s offered",
                    t.p50,
                    s.achieved_per_s,
                    r.offered_per_s.unwrap_or(0.0)
                );
                smaller.push(entry(
                    format!("{name} p99 from due time"),
                    "ns",
                    t.p99 as f64,
                    spread(&r.trials),
                    extra,
                ));
            }
            Pattern::Throughput | Pattern::FanIn => {
                let Some(m) = r.msgs_per_s else { continue };
                let extra = format!("{placement}\n{} messages", r.messages);
                bigger.push(entry(
                    format!("{name} messages/s"),
                    "msg/s",
                    m,
                    spread(&r.trials),
                    extra.clone(),
                ));
                if let Some(mib) = r.mib_per_s {
                    bigger.push(entry(format!("{name} MiB/s"), "MiB/s", mib, None, extra));
                }
            }
        }
    }
    (Value::Array(smaller), Value::Array(bigger))
}

pub struct GithubActionBenchmark;

impl super::Exporter for GithubActionBenchmark {
    fn export(&self, result: &ResultFile) -> Result<super::Exported, String> {
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
