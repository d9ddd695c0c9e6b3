//! Node.js's fork() channel, probed with Node processes on both ends: only
//! Node shows what its queueing, events and handle passing do. The
//! experiments are in `peers/node/peer.js` (role `probe`), which forks its
//! own children and prints what it observed as one JSON line; the verdicts,
//! and the evidence quoted for them, are made here.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::Finding;
use crate::results::probe::{Capacity, Measured, Property};
use crate::transport::node::{self, Serialization};

/// Why the kernel-object experiments leave a Node row alone.
pub const ELSEWHERE: &str = "a Node channel is probed by Node processes (probe/node.rs)";

/// The whole Node probe takes a few seconds (a 64 MiB message each way is
/// the longest part); this bounds a Node that hangs.
const DEADLINE: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
struct Output {
    observations: Value,
}

pub fn probe(mode: Serialization) -> Vec<(Property, Finding)> {
    match observe(mode) {
        Ok(o) => verdicts(&o),
        Err(why) => PROPERTIES
            .iter()
            .map(|&p| (p, Finding::undecided(why.clone())))
            .collect(),
    }
}

const PROPERTIES: [Property; 10] = [
    Property::Connectionless,
    Property::KeptWithoutReceiver,
    Property::Reliable,
    Property::FlowControl,
    Property::PreservesBoundaries,
    Property::MaxMessageBytes,
    Property::BufferCapacityBytes,
    Property::Bidirectional,
    Property::PeerDeathDetected,
    Property::FdPassing,
];

/// Runs the Node side and returns its observations.
fn observe(mode: Serialization) -> Result<Value, String> {
    let found = node::node().map_err(|e| e.to_string())?;
    let dir = super::helper::private_dir().map_err(|e| format!("private folder: {e}"))?;
    let script = dir.path().join("ipcbench-peer.js");
    std::fs::write(&script, node::PEER_SCRIPT).map_err(|e| format!("writing the script: {e}"))?;
    let mut cmd = Command::new(&found.path);
    cmd.arg(&script)
        .args(["probe", "--serialization", mode.mode()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    crate::sys::dies_with_parent(&mut cmd);
    let child = cmd.spawn().map_err(|e| format!("starting node: {e}"))?;
    // Its children share its process group and go with it.
    let text = super::helper::finish(child, DEADLINE);
    serde_json::from_str::<Output>(text.trim())
        .map(|o| o.observations)
        .map_err(|e| {
            format!(
                "the Node probe printed no observations ({e}): {}",
                text.trim()
            )
        })
}

fn verdicts(o: &Value) -> Vec<(Property, Finding)> {
    let found = |name: &str| -> Result<&Value, String> {
        match &o[name] {
            Value::Null => Err(format!("the Node probe did not run '{name}'")),
            v => match v["failed"].as_str() {
                Some(why) => Err(format!("the Node experiment '{name}' failed: {why}")),
                None => Ok(v),
            },
        }
    };
    let judge =
        |name: &str, f: fn(&Value, &Value) -> Vec<(Property, Finding)>, props: &[Property]| {
            match found(name) {
                Ok(v) => f(v, o),
                Err(why) => props
                    .iter()
                    .map(|&p| (p, Finding::undecided(why.clone())))
                    .collect(),
            }
        };
    [
        judge(
            "echoes",
            echoes,
            &[
                Property::Connectionless,
                Property::PreservesBoundaries,
                Property::MaxMessageBytes,
                Property::Bidirectional,
            ],
        ),
        judge("reliable", reliable, &[Property::Reliable]),
        judge(
            "flow_control",
            flow_control,
            &[Property::FlowControl, Property::BufferCapacityBytes],
        ),
        judge(
            "peer_death",
            peer_death,
            &[Property::PeerDeathDetected, Property::KeptWithoutReceiver],
        ),
        judge("handles", handles, &[Property::FdPassing]),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The child's own view of its channel, and what came back of each message.
fn echoes(e: &Value, o: &Value) -> Vec<(Property, Finding)> {
    let me = &e["self"];
    let reached = if me["fdVar"].is_string() && me["unixType"].is_string() {
        Finding::no(format!(
            "the forked child's environment held {} and {}; that descriptor is {}, a Unix {} socket with no path (/proc/net/unix), so no other process can name it; a node started without it has process.send of type '{}'",
            text(&me["fdVar"]), text(&me["modeVar"]), text(&me["link"]), text(&me["unixType"]),
            text(&o["without_channel"]["typeof_send"])
        ))
    } else {
        Finding::undecided(format!("the child's view of its channel: {me}"))
    };
    let sizes = (text(&e["sizes_sent"]), text(&e["sizes_back"]));
    let boundaries = match (sizes.0 == sizes.1, e["intact"].as_bool()) {
        (true, Some(true)) => Finding::yes(format!(
            "messages of {} bytes sent back to back came back as one message each, of {} bytes, intact",
            sizes.0, sizes.1
        )),
        _ => Finding::no(format!("sent {} bytes, got back {} (intact: {})", sizes.0, sizes.1, e["intact"])),
    };
    let largest = match (e["largest"].as_u64(), e["largest_failed"].as_str()) {
        (Some(n), None) if n >= 64 << 20 => Finding::no(format!(
            "no limit found: a {n}-byte message went to the child and back whole"
        )),
        (Some(n), Some(why)) => Finding::new(
            Measured::Number(n),
            format!("{n} bytes went through whole; the next size failed: {why}"),
        ),
        _ => Finding::undecided(format!("largest message: {}", text(&e["largest_failed"]))),
    };
    let both = Finding::yes(format!(
        "the child answered every message on the same channel; {}",
        serialisation(e)
    ));
    vec![
        (Property::Connectionless, reached),
        (Property::PreservesBoundaries, boundaries),
        (Property::MaxMessageBytes, largest),
        (Property::Bidirectional, both),
    ]
}

/// What the values JSON cannot carry became: the serialisation, seen.
fn serialisation(e: &Value) -> String {
    format!(
        "a Map arrived as {}, a Date as {}, an undefined field {}, and a BigInt: {}",
        text(&e["map_arrived_as"]),
        text(&e["date_arrived_as"]),
        if e["undefined_kept"].as_bool() == Some(true) {
            "kept"
        } else {
            "dropped"
        },
        text(&e["bigint"])
    )
}

fn reliable(r: &Value, _: &Value) -> Vec<(Property, Finding)> {
    let c = &r["counts"];
    let clean = ["lost", "duplicated", "reordered", "corrupted"]
        .iter()
        .all(|k| c[k].as_u64() == Some(0));
    let evidence = format!(
        "{} messages of {} bytes, sent with send()'s flow control honoured (it returned false {} times), to a child that stalls 1 ms every {}; it received {}: {c}",
        r["sent"], r["size"], r["send_false"], r["slow_every"], r["received"]
    );
    let f = if clean && r["sent"] == r["received"] {
        Finding::yes(evidence)
    } else {
        Finding::no(evidence)
    };
    vec![(Property::Reliable, f)]
}

fn flow_control(f: &Value, _: &Value) -> Vec<(Property, Finding)> {
    let size = f["message_bytes"].as_u64().unwrap_or(0);
    let longest_ms = f["longest_send_ns"].as_f64().unwrap_or(f64::NAN) / 1e6;
    let mib = |v: &Value| v.as_f64().unwrap_or(f64::NAN) / (1u64 << 20) as f64;
    let Some(k) = f["false_after"].as_u64() else {
        return vec![(
            Property::FlowControl,
            Finding::undecided(format!("send() never returned false: {f}")),
        )];
    };
    let story = format!(
        "with the child's event loop blocked (it reads nothing), send() returned false after {k} messages of {size} bytes, then accepted all {} sent ({:.0} MiB) without blocking (the longest call took {longest_ms:.1} ms) or failing: they queue in the sender, whose RSS grew {:.0} MiB",
        f["sent"], mib(&f["queued_bytes"]), mib(&f["rss_growth"])
    );
    let flow = Finding::no(format!(
        "{story}; false is advice the program must heed, nothing holds it back"
    ));
    let mut capacity = Finding::new(
        Measured::Number(k * size),
        format!("{k} messages of {size} bytes went out before send() first returned false (Node's threshold, on top of the socket's buffer); past it nothing stops a sender: {story}"),
    );
    capacity.capacity = vec![Capacity {
        sender: "until send() returned false".into(),
        messages: k,
        message_bytes: size,
        bytes: k * size,
    }];
    vec![
        (Property::FlowControl, flow),
        (Property::BufferCapacityBytes, capacity),
    ]
}

fn peer_death(d: &Value, o: &Value) -> Vec<(Property, Finding)> {
    let events = text(&d["events"]);
    let after = format!(
        "afterwards send() returned {} and its callback got {}",
        d["send_returned"],
        text(&d["send_callback"])
    );
    let seen = if events.contains("disconnect") {
        Finding::yes(format!(
            "the child was SIGKILLed; the parent got, in order, {events} within {:.1} ms; {after}",
            d["seen_within_ns"].as_f64().unwrap_or(f64::NAN) / 1e6
        ))
    } else {
        Finding::no(format!(
            "the child was SIGKILLed; the parent's events: {events}; {after}"
        ))
    };
    let late = &o["late_listener"];
    let kept = Finding::no(format!(
        "once the child is gone nothing is kept: {after}. (A live child that attaches its 'message' listener {} ms late still gets what was sent before: sent {}, it received {})",
        late["listener_after_ms"], text(&late["sent"]), text(&late["received"])
    ));
    vec![
        (Property::PeerDeathDetected, seen),
        (Property::KeptWithoutReceiver, kept),
    ]
}

fn handles(h: &Value, _: &Value) -> Vec<(Property, Finding)> {
    let child = format!("answered by pid {}", h["child_pid"]);
    let (server, socket) = (text(&h["server_answer"]), text(&h["socket_answer"]));
    let evidence = format!(
        "the cluster way: the parent (pid {}) sent its listening TCP server with send('server', server) and closed its own; a connection to the port got '{server}'. An accepted socket sent with send('socket', socket) got '{socket}'; the child is pid {}",
        h["parent_pid"], h["child_pid"]
    );
    let parent = format!("answered by pid {}", h["parent_pid"]);
    let f = if server == child && socket == child {
        Finding::yes(evidence)
    } else if server == parent || socket == parent {
        Finding::no(evidence)
    } else {
        Finding::undecided(evidence)
    };
    vec![(Property::FdPassing, f)]
}
