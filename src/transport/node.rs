//! Node.js's `child_process.fork()` channel, with a real `node` on the
//! other end.
//!
//! Node's parent makes a Unix socket pair before spawning; the child finds
//! its end's number in `NODE_CHANNEL_FD` and the framing in
//! `NODE_CHANNEL_SERIALIZATION_MODE`. This file is that parent, in Rust:
//! - `json` (Node's default): every message is one line of JSON. The bytes
//!   travel as a base64 string, as a Node program sends binary data over
//!   this channel (a Buffer would arrive as an object of numbers).
//! - `advanced`: a 4-byte big-endian length, then V8's serialisation of a
//!   Buffer (Node's host-object encoding of an ArrayBufferView).
//!
//! Two more rows put Node on both ends: a Node parent forks a Node child
//! and times the round trip itself (`peers/node/peer.js`, role `drive`),
//! which is what a Node program gets. The harness holds no end of that
//! channel; it starts the Node parent and records what it reports.

use std::ffi::OsString;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;

use super::stream::write_all;
use super::{Channel, Fact, Inherited, Nature, PeerProgram, Prepared, Rendezvous, Transport};
use crate::results::probe::Property;
use crate::sys::interrupt::retry;

/// The peer script, carried in the binary so that an installed ipcbench
/// runs from any directory.
pub const PEER_SCRIPT: &str = include_str!("../../peers/node/peer.js");

/// Node's two serialisations of the fork() channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serialization {
    Json,
    Advanced,
}

impl Serialization {
    pub fn mode(self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::Advanced => "advanced",
        }
    }
}

pub struct Node {
    pub serialization: Serialization,
    /// Node on both ends, timed by the Node parent.
    pub node_to_node: bool,
}

/// Where Node is and which version it is, found once per process.
pub struct Found {
    pub path: PathBuf,
    pub version: (u32, u32, u32),
}

/// Why Node cannot serve as a peer here.
#[derive(Clone, Debug, thiserror::Error)]
pub enum NodeUnavailable {
    #[error("Node.js not found ({path}: {error}); install Node.js >= 12.16 or set IPCBENCH_NODE")]
    NotFound { path: String, error: String },
    #[error("`{path} -p process.version` {failure} (this process's memory limits: {limits})")]
    WontStart {
        path: String,
        failure: String,
        limits: String,
    },
    #[error("{path} -p process.version printed '{printed}', not a Node.js version")]
    NotNode { path: String, printed: String },
    #[error("Node.js v{}.{}.{} at {path} predates serialization 'advanced' (needs >= 12.16.0)", version.0, version.1, version.2)]
    TooOld {
        path: String,
        version: (u32, u32, u32),
    },
}

impl From<NodeUnavailable> for io::Error {
    fn from(e: NodeUnavailable) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, e)
    }
}

/// `IPCBENCH_NODE` if set, else `node` on PATH.
pub fn node() -> Result<&'static Found, NodeUnavailable> {
    static FOUND: OnceLock<Result<Found, NodeUnavailable>> = OnceLock::new();
    FOUND.get_or_init(find).as_ref().map_err(Clone::clone)
}

fn find() -> Result<Found, NodeUnavailable> {
    let path = std::env::var_os("IPCBENCH_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    use crate::sys::process::{output_within, Failure};
    // The version from a started V8, not `--version`: V8 reserves far
    // more address space than it uses, and under a memory limit
    // (ulimit -v) `node --version` answers while any script dies.
    let mut cmd = Command::new(&path);
    cmd.args(["-p", "process.version"]);
    let shown = path.display().to_string();
    let out = output_within(&mut cmd, VERSION_WITHIN).map_err(|e| match e {
        Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
            NodeUnavailable::NotFound {
                path: shown.clone(),
                error: e.to_string(),
            }
        }
        e => NodeUnavailable::WontStart {
            path: shown.clone(),
            failure: e.to_string(),
            limits: crate::sys::memory::limits(),
        },
    })?;
    let printed = String::from_utf8_lossy(&out).trim().to_string();
    let version = parse_version(&printed).ok_or(NodeUnavailable::NotNode {
        path: shown,
        printed: printed.clone(),
    })?;
    Ok(Found { path, version })
}

/// `node --version` answers in tens of milliseconds; a wrapper that takes
/// longer is stuck.
const VERSION_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.strip_prefix('v')?.split('.').map(|p| p.parse().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// fork()'s `serialization` option first shipped in Node 12.16.0.
const ADVANCED_SINCE: (u32, u32, u32) = (12, 16, 0);

const FACTS: &[Fact] = &[
    Fact {
        property: Property::Priority,
        holds: false,
        why: "send(message, sendHandle, options, callback) takes no priority, and one socket delivers in order",
    },
];

impl Transport for Node {
    fn copies(&self) -> super::Copies {
        super::Copies {
            count: 4,
            why: "ipcbench's end encodes the bytes into Node's frame (base64 in JSON, or V8's serialization), the socket pair copies them in and out, and Node decodes them into a Buffer; copies inside V8 and libuv are not counted",
        }
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        (!wait.is_block()).then_some(
            "Node waits in libuv's event loop (epoll) whatever is asked: its rows stay block",
        )
    }
    fn name(&self) -> &'static str {
        match (self.serialization, self.node_to_node) {
            (Serialization::Json, false) => "node-json",
            (Serialization::Advanced, false) => "node-advanced",
            (Serialization::Json, true) => "node-node-json",
            (Serialization::Advanced, true) => "node-node-advanced",
        }
    }
    fn description(&self) -> &'static str {
        match (self.serialization, self.node_to_node) {
            (Serialization::Json, false) => "a real node child on fork()'s channel (NODE_CHANNEL_FD), JSON lines; bytes as a base64 string",
            (Serialization::Advanced, false) => "a real node child on fork()'s channel, serialization 'advanced' (V8); bytes as a Buffer",
            (Serialization::Json, true) => "Node parent forks a Node child, JSON; timed by Node itself",
            (Serialization::Advanced, true) => "Node parent forks a Node child, 'advanced' (V8); timed by Node itself",
        }
    }
    fn nature(&self) -> Nature {
        Nature {
            protocol: Some(match self.serialization {
                Serialization::Json => "Node.js's fork() channel, JSON serialization",
                Serialization::Advanced => "Node.js's fork() channel, advanced (V8) serialization",
            }),
            facts: FACTS,
            ..Nature::kernel(
                super::Object::NodeChannel(self.serialization),
                super::Reach::Inherited,
            )
        }
    }
    fn availability(&self) -> io::Result<()> {
        let found = node()?;
        if self.serialization == Serialization::Advanced && found.version < ADVANCED_SINCE {
            return Err(NodeUnavailable::TooOld {
                path: found.path.display().to_string(),
                version: found.version,
            }
            .into());
        }
        Ok(())
    }
    fn family(&self) -> crate::results::Family {
        crate::results::Family::Library
    }
    fn note(&self) -> Option<&'static str> {
        Some(match self.serialization {
            Serialization::Json => "the bytes travel as a base64 string in a JSON line (4/3 of the size, plus 3 bytes); Node verifies a payload by comparing it with the known pattern (Buffer.equals) and the header's CRC32C with the pattern's, instead of recomputing CRC32C in JavaScript",
            Serialization::Advanced => "the bytes travel as a Buffer in V8's serialisation (a length and 9 bytes more); Node verifies a payload by comparing it with the known pattern (Buffer.equals) and the header's CRC32C with the pattern's, instead of recomputing CRC32C in JavaScript",
        })
    }
    fn timed_by(&self) -> Option<&'static str> {
        self.node_to_node.then_some("node")
    }
    fn peer_program(&self, at: &Rendezvous, fds: &[RawFd]) -> io::Result<Option<PeerProgram>> {
        self.availability()?;
        let script = at.dir.join("ipcbench-peer.js");
        std::fs::write(&script, PEER_SCRIPT)?;
        let mode = self.serialization.mode();
        let mut env = Vec::new();
        if let [fd] = fds {
            env.push(("NODE_CHANNEL_FD", fd.to_string()));
            env.push(("NODE_CHANNEL_SERIALIZATION_MODE", mode.to_string()));
        }
        let role = if self.node_to_node { "drive" } else { "serve" };
        let args: Vec<OsString> = vec![
            script.clone().into(),
            role.into(),
            "--serialization".into(),
            mode.into(),
        ];
        Ok(Some(PeerProgram {
            program: node()?.path.clone(),
            args,
            env,
            files: vec![script],
        }))
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        if self.node_to_node {
            return Err(not_held());
        }
        let (ours, theirs) = UnixStream::pair()?;
        Ok(Prepared {
            child_fds: vec![theirs.into()],
            ..Prepared::ready(self.framed(ours.into()))
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("Node's fork() channel joins one parent and one child; there is no third end for another sender")
    }
    fn fan_out_refused(&self) -> Option<&'static str> {
        Some("ipcbench's Node peer program serves one channel as an echoer or a receiver; it has no subscriber's part to answer a publisher")
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        if self.node_to_node {
            return Err(not_held());
        }
        let fd =
            inherited.fds.into_iter().next().ok_or_else(|| {
                io::Error::other("the Node channel expects one inherited descriptor")
            })?;
        Ok(self.framed(fd))
    }
}

impl Node {
    fn framed(&self, fd: OwnedFd) -> Box<dyn Channel> {
        let codec: &'static dyn Codec = match self.serialization {
            Serialization::Json => &JsonString,
            Serialization::Advanced => &V8Buffer,
        };
        Box::new(Framed {
            fd,
            codec,
            pending: Vec::new(),
            wire: Vec::new(),
        })
    }
}

/// Node on both ends: its parent program drives both, and ipcbench holds
/// no end (the harness's runner never asks for one).
fn not_held() -> io::Error {
    io::Error::other("Node on both ends: the harness holds no end of this channel")
}

/// One serialisation: how a message becomes bytes on the socket and back.
trait Codec: Sync {
    fn encode(&self, msg: &[u8], wire: &mut Vec<u8>);
    /// The length of the first whole frame in `pending`, if it is all there.
    fn frame_len(&self, pending: &[u8]) -> io::Result<Option<usize>>;
    /// Decodes one whole frame into `buf`; returns the message's length.
    fn decode(&self, frame: &[u8], buf: &mut [u8]) -> io::Result<usize>;
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// `"<base64>"\n`: JSON.stringify of a string, and Node's line framing.
struct JsonString;

impl Codec for JsonString {
    fn encode(&self, msg: &[u8], wire: &mut Vec<u8>) {
        wire.push(b'"');
        let start = wire.len();
        wire.resize(start + base64::encoded_len(msg.len(), true).unwrap_or(0), 0);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(msg, &mut wire[start..])
            .unwrap_or(0);
        wire.truncate(start + n);
        wire.extend_from_slice(b"\"\n");
    }
    fn frame_len(&self, pending: &[u8]) -> io::Result<Option<usize>> {
        Ok(pending.iter().position(|&b| b == b'\n').map(|i| i + 1))
    }
    fn decode(&self, frame: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        let text = frame
            .strip_suffix(b"\n")
            .and_then(|f| f.strip_prefix(b"\""))
            .and_then(|f| f.strip_suffix(b"\""))
            .ok_or_else(|| invalid(format!("not a JSON string line: {}", preview(frame))))?;
        let engine = &base64::engine::general_purpose::STANDARD;
        let decoded = engine
            .decode(text)
            .map_err(|e| invalid(format!("not base64 ({e}): {}", preview(frame))))?;
        let n = decoded.len().min(buf.len());
        buf[..n].copy_from_slice(&decoded[..n]);
        Ok(decoded.len())
    }
}

/// What the other end sent, shortened, for an error message.
fn preview(frame: &[u8]) -> String {
    let s = String::from_utf8_lossy(&frame[..frame.len().min(60)]).into_owned();
    if frame.len() > 60 {
        format!("{s}...")
    } else {
        s
    }
}

/// V8's wire format for one Buffer, as Node's ChildProcessSerializer writes
/// it: header (0xFF, version), host object ('\\'), then Node's own fields as
/// varints: ArrayBufferView (0), type Buffer (10), byte length; the bytes.
struct V8Buffer;

const V8_VERSION: u8 = 15;
const V8_HOST_OBJECT: u8 = b'\\';
const NODE_VIEW_TAG: u8 = 0;
const NODE_BUFFER_TYPE: u8 = 10;

fn put_varint(wire: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            wire.push(byte);
            return;
        }
        wire.push(byte | 0x80);
    }
}

/// A varint at the front of `b`: (value, bytes used).
fn get_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

impl Codec for V8Buffer {
    fn encode(&self, msg: &[u8], wire: &mut Vec<u8>) {
        wire.extend_from_slice(&[0; 4]);
        wire.extend_from_slice(&[
            0xFF,
            V8_VERSION,
            V8_HOST_OBJECT,
            NODE_VIEW_TAG,
            NODE_BUFFER_TYPE,
        ]);
        put_varint(wire, msg.len() as u64);
        wire.extend_from_slice(msg);
        let body = (wire.len() - 4) as u32;
        wire[..4].copy_from_slice(&body.to_be_bytes());
    }
    fn frame_len(&self, pending: &[u8]) -> io::Result<Option<usize>> {
        let Some(len) = pending.get(..4) else {
            return Ok(None);
        };
        let body = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        Ok((pending.len() >= 4 + body).then_some(4 + body))
    }
    fn decode(&self, frame: &[u8], buf: &mut [u8]) -> io::Result<usize> {
        let body = &frame[4..];
        let bad = || {
            invalid(format!(
                "not V8's serialisation of one Buffer: {:02x?}",
                &body[..body.len().min(16)]
            ))
        };
        let (_, used) = match body {
            [0xFF, rest @ ..] => get_varint(rest).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let rest = &body[1 + used..];
        let [V8_HOST_OBJECT, NODE_VIEW_TAG, NODE_BUFFER_TYPE, rest @ ..] = rest else {
            return Err(bad());
        };
        let (len, used) = get_varint(rest).ok_or_else(bad)?;
        let bytes = &rest[used..];
        if bytes.len() as u64 != len {
            return Err(bad());
        }
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(bytes.len())
    }
}

/// One end of the socket pair, speaking one of Node's framings.
struct Framed {
    fd: OwnedFd,
    codec: &'static dyn Codec,
    /// Bytes read past the last whole frame.
    pending: Vec<u8>,
    /// The frame being sent, kept to reuse its memory.
    wire: Vec<u8>,
}

impl Channel for Framed {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_frame(&self.fd, self.codec, &mut self.wire, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_frame(&self.fd, self.codec, &mut self.pending, buf)
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let (fd, codec) = (&self.fd, self.codec);
        let (wire, pending) = (&mut self.wire, &mut self.pending);
        Ok(super::Halves::new(
            move |m| send_frame(fd, codec, wire, m),
            move |b| recv_frame(fd, codec, pending, b),
        ))
    }
}

fn send_frame(fd: &OwnedFd, codec: &dyn Codec, wire: &mut Vec<u8>, msg: &[u8]) -> io::Result<()> {
    wire.clear();
    codec.encode(msg, wire);
    write_all(fd, wire)
}

/// One frame's message into `buf`; `pending` keeps what was read past it.
fn recv_frame(
    fd: &OwnedFd,
    codec: &dyn Codec,
    pending: &mut Vec<u8>,
    buf: &mut [u8],
) -> io::Result<usize> {
    let end = loop {
        if let Some(end) = codec.frame_len(pending)? {
            break end;
        }
        let had = pending.len();
        pending.resize(had + (buf.len() * 2).max(65536), 0);
        let got = retry(|| nix::unistd::read(fd, &mut pending[had..]));
        pending.truncate(had + *got.as_ref().unwrap_or(&0));
        if got? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the Node peer closed the channel",
            ));
        }
    };
    let n = codec.decode(&pending[..end], buf);
    pending.drain(..end);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(codec: &dyn Codec, msg: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        codec.encode(msg, &mut wire);
        assert_eq!(codec.frame_len(&wire[..wire.len() - 1]).unwrap(), None);
        assert_eq!(codec.frame_len(&wire).unwrap(), Some(wire.len()));
        let mut buf = vec![0; msg.len()];
        let n = codec.decode(&wire, &mut buf).unwrap();
        assert_eq!(n, msg.len());
        buf
    }

    /// The bytes Node 20 itself wrote for `process.send(Buffer.from([1,2,3,250]))`,
    /// captured from a real child on a socket pair.
    #[test]
    fn advanced_frames_match_what_node_writes() {
        let mut wire = Vec::new();
        V8Buffer.encode(&[1, 2, 3, 250], &mut wire);
        assert_eq!(
            wire,
            b"\x00\x00\x00\x0a\xff\x0f\\\x00\x0a\x04\x01\x02\x03\xfa"
        );
        let big = vec![7u8; 300];
        assert_eq!(round_trip(&V8Buffer, &big), big);
    }

    #[test]
    fn json_frames_are_a_base64_string_per_line() {
        let mut wire = Vec::new();
        JsonString.encode(b"hi", &mut wire);
        assert_eq!(wire, b"\"aGk=\"\n");
        let msg: Vec<u8> = (0..=255).collect();
        assert_eq!(round_trip(&JsonString, &msg), msg);
        let mut buf = [0u8; 4];
        let err = JsonString.decode(b"{\"a\":1}\n", &mut buf).unwrap_err();
        assert!(err.to_string().contains("not a JSON string"), "{err}");
    }

    #[test]
    fn versions_are_read_from_node_s_words() {
        assert_eq!(parse_version("v20.20.2"), Some((20, 20, 2)));
        assert_eq!(parse_version("20.1"), None);
        assert!((12, 15, 9) < ADVANCED_SINCE && (13, 0, 0) > ADVANCED_SINCE);
    }
}
