//! Servo's ipc-channel crate: byte-vector channels (IpcBytesSender /
//! IpcBytesReceiver), bootstrapped the crate's way. The parent opens a
//! one-shot server and hands its name to the peer; the peer connects, makes
//! a channel per direction and sends the parent its ends.

use std::io;

use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use ipc_channel::IpcError;

use super::{Channel, Inherited, Prepared, Rendezvous, Transport};

pub struct IpcChannel;

/// What the peer sends through the one-shot server: the parent's ends.
type Ends = (IpcBytesSender, IpcBytesReceiver);

struct Bytes {
    tx: IpcBytesSender,
    rx: IpcBytesReceiver,
}

fn io_error(e: IpcError) -> io::Error {
    match e {
        IpcError::Disconnected => {
            io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed the channel")
        }
        IpcError::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl Channel for Bytes {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        receive(&self.rx, buf)
    }
    fn halves(&mut self) -> io::Result<super::Halves<'_>> {
        let (tx, rx) = (&mut self.tx, &mut self.rx);
        Ok(super::Halves::new(
            move |m| tx.send(m),
            move |b| receive(rx, b),
        ))
    }
}

fn receive(rx: &IpcBytesReceiver, buf: &mut [u8]) -> io::Result<usize> {
    let data = rx.recv().map_err(io_error)?;
    let n = data.len().min(buf.len());
    buf[..n].copy_from_slice(&data[..n]);
    Ok(data.len())
}

impl Transport for IpcChannel {
    fn copies(&self) -> super::Copies {
        super::Copies {
            count: 3,
            why: "into the socket by the crate's send, out of it into the Vec the crate's recv returns, then into the receiver's buffer (a caller that keeps the Vec saves the last)",
        }
    }
    fn wait_refused(&self, wait: crate::results::Wait) -> Option<&'static str> {
        (!wait.is_block()).then_some("the crate's blocking recv is what is measured; its try_recv and router thread are other designs, not wired here")
    }
    fn name(&self) -> &'static str {
        "ipc-channel"
    }
    fn family(&self) -> crate::results::Family {
        crate::results::Family::Library
    }
    fn description(&self) -> &'static str {
        "Servo's ipc-channel crate, byte channels bootstrapped by its one-shot server"
    }
    /// Each receive returns a new `Vec` of the message; the sender's side
    /// serialises into another.
    fn hidden_buffers(&self) -> usize {
        2
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("the ipc-channel crate's channels"),
            facts: &[
                super::Fact {
                    property: crate::results::probe::Property::Connectionless,
                    holds: false,
                    why: "the crate offers one way in: connecting to a one-shot server that the receiving side must accept, a connect/accept handshake; after that, channels travel over channels",
                },
                super::Fact {
                    property: crate::results::probe::Property::KeptWithoutReceiver,
                    holds: false,
                    why: "a one-shot server exists only while the receiving side runs it; with no receiver there is no name to send to",
                },
                super::Fact {
                    property: crate::results::probe::Property::Bidirectional,
                    holds: false,
                    why: "an IpcSender/IpcReceiver pair carries one direction (the sender has no receive); a conversation needs two channels",
                },
                super::Fact {
                    property: crate::results::probe::Property::FdPassing,
                    holds: false,
                    why: "the crate passes its own channels and shared-memory regions (SCM_RIGHTS underneath) but has no call for an arbitrary descriptor",
                },
            ],
            ..super::Nature::kernel(super::Object::UnixSeqpacket, super::Reach::Name)
        }
    }
    fn prepare(&self, _at: &Rendezvous) -> io::Result<Prepared> {
        // Its one-shot server binds TMPDIR/.tmpXXXXXX/socket; past the
        // limit it says only "Address already in use".
        super::socket_path_fits(&std::env::temp_dir().join(".tmpXXXXXX/socket"))?;
        let (server, name) = IpcOneShotServer::<Ends>::new()?;
        Ok(Prepared {
            child_fds: Vec::new(),
            token: name,
            connect: Box::new(move || {
                let (_, (tx, rx)) = server.accept().map_err(io_error)?;
                Ok(Box::new(Bytes { tx, rx }) as _)
            }),
        })
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench: its one-shot server hands one sender over, and passing clones on to more processes is not done yet")
    }
    fn join(&self, _at: &Rendezvous, inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        let boot = IpcSender::<Ends>::connect(inherited.token)?;
        let (to_child_tx, to_child_rx) = ipc::bytes_channel()?;
        let (to_parent_tx, to_parent_rx) = ipc::bytes_channel()?;
        boot.send((to_child_tx, to_parent_rx))
            .map_err(|e| io::Error::other(format!("bootstrap: {e:?}")))?;
        Ok(Box::new(Bytes {
            tx: to_parent_tx,
            rx: to_child_rx,
        }))
    }
}
