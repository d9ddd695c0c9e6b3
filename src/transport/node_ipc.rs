//! What Node.js's child_process.fork() channel does on Linux: the parent
//! makes a Unix socket pair before spawning, the child inherits one end and
//! finds its number in an environment variable (NODE_CHANNEL_FD there,
//! IPCBENCH_CHANNEL_FD here), and every message travels as one line of JSON.
//! A Buffer is serialised the way Node's JSON serialisation does it:
//! `{"type":"Buffer","data":[1,2,3]}`. Its rows beside `socketpair` show
//! what the serialisation costs.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

use super::stream::write_all;
use super::{Channel, Inherited, Prepared, Rendezvous, Transport};
use crate::sys::interrupt::retry;

pub struct NodeIpc;

#[derive(Serialize)]
struct BufferOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: &'a [u8],
}

#[derive(Deserialize)]
struct BufferIn {
    data: Vec<u8>,
}

struct JsonLines {
    fd: OwnedFd,
    /// Bytes read past the last complete line.
    pending: Vec<u8>,
    line: Vec<u8>,
}

impl JsonLines {
    fn new(fd: OwnedFd) -> JsonLines {
        JsonLines {
            fd,
            pending: Vec::new(),
            line: Vec::new(),
        }
    }
}

impl Channel for JsonLines {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &BufferOut {
                kind: "Buffer",
                data: msg,
            },
        )?;
        self.line.push(b'\n');
        write_all(&self.fd, &self.line)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut scanned = 0;
        let end = loop {
            if let Some(i) = self.pending[scanned..].iter().position(|&b| b == b'\n') {
                break scanned + i;
            }
            scanned = self.pending.len();
            let mut chunk = [0u8; 65536];
            match retry(|| nix::unistd::read(&self.fd, &mut chunk))? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed the channel",
                    ))
                }
                n => self.pending.extend_from_slice(&chunk[..n]),
            }
        };
        let message: BufferIn = serde_json::from_slice(&self.pending[..end])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.pending.drain(..=end);
        let n = message.data.len().min(buf.len());
        buf[..n].copy_from_slice(&message.data[..n]);
        Ok(message.data.len())
    }
}

impl Transport for NodeIpc {
    fn name(&self) -> &'static str {
        "node-ipc"
    }
    fn description(&self) -> &'static str {
        "Node.js fork() channel: inherited socketpair, newline-delimited JSON"
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("ipcbench's emulation in Rust of Node.js's fork() channel (newline-delimited JSON over a socketpair), not Node itself"),
            ..super::Nature::kernel(super::Object::UnixStream, super::Reach::Inherited)
        }
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        let (ours, theirs) = UnixStream::pair()?;
        Ok(Prepared {
            child_fds: vec![theirs.into()],
            ..Prepared::ready(Box::new(JsonLines::new(ours.into())))
        })
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let fd = inherited
            .fds
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("node-ipc expects one inherited descriptor"))?;
        Ok(Box::new(JsonLines::new(fd)))
    }
}
