//! iceoryx2 (the crate): zero-copy publish-subscribe in shared memory, the
//! reference that ipcbench's own shm-loan is read against.
//!
//! Each direction is a "line": a publish-subscribe service of byte slices,
//! and beside it an event service of the same name that a sender notifies
//! when its receiver may be asleep. The sender loans a sample, the harness
//! builds the message in it, and `send` publishes it; the receiver reads the
//! sample where it lies. A received sample is read-only, so an echo is
//! built in a fresh loan (one copy), as an iceoryx2 application answers.
//!
//! Every case's iceoryx2 is its own: the configuration's global prefix is
//! made from the case's tag and its root path lies in the case's private
//! folder, so that every segment and file carries ipcbench's names, no
//! user's own iceoryx2 deployment is touched, and what the case made is
//! removed by name when it ends (or by the janitor, after a SIGKILL).

use std::io;
use std::time::Duration;

use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;
use iceoryx2::sample_mut::SampleMut;
use iceoryx2::service::port_factory::{event, publish_subscribe};

use super::lending::{recv_by_copy, send_by_copy, Lending};
use super::wait::Waiter;
use super::{unsupported, Broadcast, Channel, Copies, Inherited, Prepared, Rendezvous, Transport};
use crate::results::Wait;
use crate::sys::interrupt::aborted;

pub struct Iceoryx2;

type Service = ipc::Service;

/// How long a blocked receiver sleeps in its listener before it looks
/// whether the case was stopped: the listener's wait is not interrupted by
/// the harness's signals.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// The global prefix of every name a case's iceoryx2 makes: short, since
/// its event sockets are named `<root>/<prefix><30 digits>.event` and a
/// socket's path holds at most 107 bytes; "ipcbench" and 40 bits of the
/// case's unique tag.
fn prefix(tag: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tag.as_bytes());
    let hex: String = digest[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("ipcbench{hex}_")
}

/// Where a case's iceoryx2 keeps its files: the case's private folder
/// itself, every byte of the socket path counting.
fn root(at: &Rendezvous) -> io::Result<std::path::PathBuf> {
    let root = at.dir.to_path_buf();
    // The longest name iceoryx2 binds a socket to, as it names it.
    let event = format!("{}{}.event", prefix(at.tag), "0".repeat(30));
    super::socket_path_fits(&root.join(event))?;
    Ok(root)
}

/// One process's iceoryx2 node, configured for the case alone.
fn node(at: &Rendezvous) -> io::Result<Node<Service>> {
    quiet();
    let mut config = Config::default();
    config.global.prefix = FileName::new(prefix(at.tag).as_bytes()).map_err(other)?;
    let root = root(at)?;
    let root = Path::new(root.as_os_str().as_encoded_bytes()).map_err(other)?;
    config.global.set_root_path(&root);
    NodeBuilder::new()
        .config(&config)
        // The harness owns SIGINT and SIGTERM.
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Service>()
        .map_err(other)
}

/// Removes the case's segments when dropped: what the parent's side of a
/// case holds, last, so that nothing of the case's iceoryx2 outlives it,
/// however the case ended.
struct Segments(String);

impl Drop for Segments {
    fn drop(&mut self) {
        remove_segments(&self.0);
    }
}

/// iceoryx2 logs to stderr; what goes wrong reaches the row as an error.
fn quiet() {
    set_log_level(LogLevel::Fatal);
}

fn other(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("iceoryx2: {e:?}"))
}

/// How many samples a subscriber can hold unread: a stream keeps its
/// publisher busy while the subscriber reads, within about 16 MiB.
fn buffer_for(size: usize) -> usize {
    ((16 << 20) / size.max(1)).clamp(2, 64)
}

/// A direction's two services, opened or made by name.
struct Services {
    data: publish_subscribe::PortFactory<Service, [u8], ()>,
    wake: event::PortFactory<Service>,
}

/// Who makes a line's services: the parent, before its peers start; a
/// peer only opens them, so that one that cannot see them (another mount
/// namespace) says so rather than make its own and wait for ever.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Makes,
    Opens,
}

impl Services {
    fn open(
        node: &Node<Service>,
        line: (&str, usize),
        size: usize,
        side: Side,
    ) -> io::Result<Services> {
        let (name, readers) = line;
        let service = ServiceName::new(name).map_err(other)?;
        let data = node
            .service_builder(&service)
            .publish_subscribe::<[u8]>()
            .max_publishers(1)
            .max_subscribers(readers)
            .max_nodes(readers + 1)
            .subscriber_max_buffer_size(buffer_for(size));
        let data = match side {
            Side::Makes => data.enable_safe_overflow(false).create().map_err(other)?,
            Side::Opens => data.open().map_err(other)?,
        };
        let wake = node
            .service_builder(&service)
            .event()
            .max_notifiers(1)
            .max_listeners(readers)
            .max_nodes(readers + 1);
        let wake = match side {
            Side::Makes => wake.create().map_err(other)?,
            Side::Opens => wake.open().map_err(other)?,
        };
        Ok(Services { data, wake })
    }

    fn sender(&self, size: usize) -> io::Result<Sending> {
        let publisher = self
            .data
            .publisher_builder()
            .initial_max_slice_len(size)
            .max_loaned_samples(2)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            // A full subscriber is waited for, as every channel's send
            // waits for room, until the case is stopped.
            .set_backpressure_handler(|_: &iceoryx2::port::BackpressureInfo| {
                if aborted() {
                    iceoryx2::port::BackpressureAction::DiscardDataAndFail
                } else {
                    std::thread::yield_now();
                    iceoryx2::port::BackpressureAction::Retry
                }
            })
            .create()
            .map_err(other)?;
        let notifier = self.wake.notifier_builder().create().map_err(other)?;
        Ok(Sending {
            loaned: None,
            publisher,
            notifier,
            notify: true,
        })
    }

    fn receiver(&self, size: usize) -> io::Result<Receiving> {
        let subscriber = self
            .data
            .subscriber_builder()
            .buffer_size(buffer_for(size))
            .create()
            .map_err(other)?;
        let listener = self.wake.listener_builder().create().map_err(other)?;
        Ok(Receiving {
            taken: None,
            subscriber,
            listener,
        })
    }
}

/// A sender's side of a line. Fields drop in order: a loan before its
/// publisher.
struct Sending {
    loaned: Option<SampleMut<Service, [u8], ()>>,
    publisher: Publisher<Service, [u8], ()>,
    notifier: Notifier<Service>,
    /// Whether its receiver may block: a spinning pair never notifies.
    notify: bool,
}

impl Sending {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        // Its samples are sized when the publisher is made (the case's
        // message size; a static allocation): a larger one is refused.
        let most = self.publisher.initial_max_slice_len();
        if len > most {
            return Err(super::too_large(len, most));
        }
        let uninit = self.publisher.loan_slice_uninit(len).map_err(other)?;
        // SAFETY: the sample's bytes lie in a shared-memory segment that
        // mmap gave initialised (zero-filled, or written by an earlier
        // message); u8 has no invalid values, so reading any of them as u8
        // is defined. The harness writes every byte it later reads.
        let sample = unsafe { uninit.assume_init() };
        Ok(self.loaned.insert(sample).payload_mut())
    }

    /// `msg` copied into a fresh loan and published: the fan-out
    /// publisher's send (the harness built the message apart) and an echo's.
    fn send_copy(&mut self, msg: &[u8]) -> io::Result<()> {
        self.loan(msg.len())?.copy_from_slice(msg);
        self.publish(msg.len())
    }

    fn publish(&mut self, len: usize) -> io::Result<()> {
        let sample = self
            .loaned
            .take()
            .ok_or_else(|| io::Error::other("publish without a loan"))?;
        if sample.payload().len() != len {
            return Err(io::Error::other(format!(
                "a {len}-byte publish of a {}-byte loan: an iceoryx2 sample's length is fixed when it is loaned",
                sample.payload().len()
            )));
        }
        sample.send().map_err(other)?;
        if self.notify {
            self.notifier.notify().map_err(other)?;
        }
        Ok(())
    }
}

/// A receiver's side of a line. Fields drop in order: a taken sample
/// before its subscriber.
struct Receiving {
    taken: Option<Sample<Service, [u8], ()>>,
    subscriber: Subscriber<Service, [u8], ()>,
    listener: Listener<Service>,
}

impl Receiving {
    fn take(&mut self, waiter: &mut Waiter) -> io::Result<&[u8]> {
        self.taken = None;
        let (subscriber, listener) = (&self.subscriber, &self.listener);
        let attempt = || subscriber.receive().map_err(other);
        let sample = waiter.receive(attempt, || loop {
            if let Some(s) = attempt()? {
                return Ok(s);
            }
            if aborted() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "aborted"));
            }
            listener.timed_wait(|_| {}, LOOK_EVERY).map_err(other)?;
        })?;
        Ok(self.taken.insert(sample).payload())
    }

    /// The next sample copied into `buf` (as much as it holds) and handed
    /// back; returns its whole length: a fan-out publisher's answer.
    fn recv_copy(&mut self, buf: &mut [u8], waiter: &mut Waiter) -> io::Result<usize> {
        let msg = self.take(waiter)?;
        let (len, n) = (msg.len(), msg.len().min(buf.len()));
        buf[..n].copy_from_slice(&msg[..n]);
        self.taken = None;
        Ok(len)
    }
}

/// One end of a pair, or a subscriber of a broadcast: a line out, a line in.
/// Fields drop in order: ports, services, the node, then (the parent's
/// side only) the case's segments.
struct Ends {
    out: Sending,
    inn: Receiving,
    waiter: Waiter,
    _services: (Services, Services),
    _node: Node<Service>,
    _segments: Option<Segments>,
}

// SAFETY: ipc::Service's ports count their shared state with Rc, which
// makes them !Send. Every Rc clone they make lives inside this value (the
// node, the services, the ports, a loan or a sample), none in a static or a
// thread-local (iceoryx2 has none on Linux), and a Channel moves whole from
// one thread to another but is never shared (Channel is Send, not Sync), so
// no two threads ever touch one count. ipc_threadsafe::Service would add a
// mutex to every loan, send and receive: a cost iceoryx2's users who keep a
// port on one thread do not pay.
unsafe impl Send for Ends {}

impl Ends {
    /// `out` and `inn` name the lines and how many readers each has.
    fn new(
        at: &Rendezvous,
        (out, inn): ((&str, usize), (&str, usize)),
        segments: Option<Segments>,
    ) -> io::Result<Ends> {
        let node = node(at)?;
        let side = match segments {
            Some(_) => Side::Makes,
            None => Side::Opens,
        };
        let outgoing = Services::open(&node, out, at.size, side)?;
        let incoming = Services::open(&node, inn, at.size, side)?;
        Ok(Ends {
            out: outgoing.sender(at.size)?,
            inn: incoming.receiver(at.size)?,
            waiter: Waiter::Block,
            _services: (outgoing, incoming),
            _node: node,
            _segments: segments,
        })
    }
}

impl Lending for Ends {
    fn loan(&mut self, len: usize) -> io::Result<&mut [u8]> {
        self.out.loan(len)
    }
    fn publish(&mut self, len: usize) -> io::Result<()> {
        self.out.publish(len)
    }
    fn take(&mut self) -> io::Result<&[u8]> {
        self.inn.take(&mut self.waiter)
    }
    fn release(&mut self) -> io::Result<()> {
        self.inn.taken = None;
        Ok(())
    }
    /// A received sample is read-only and cannot be published again: the
    /// echo is copied into a fresh loan.
    fn echo(&mut self) -> io::Result<()> {
        let taken = self
            .inn
            .taken
            .take()
            .ok_or_else(|| io::Error::other("echo without a taken message"))?;
        self.out.send_copy(taken.payload())
    }
    fn alter_published(&mut self) -> io::Result<()> {
        Err(unsupported(
            "iceoryx2's send takes the sample by value: the publisher keeps nothing to write through"
                .into(),
        ))
    }
}

impl Channel for Ends {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        send_by_copy(self, msg)
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_by_copy(self, buf)
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        self.out.notify = wait != Wait::Spin;
        Ok(())
    }
    fn lending(&mut self) -> Option<&mut dyn Lending> {
        Some(self)
    }
}

/// Line names, unique to the case through the node's prefix.
const TO_PEER: &str = "ipcbench/to-peer";
const TO_PARENT: &str = "ipcbench/to-parent";
const PUBLISHED: &str = "ipcbench/published";

fn answers_of(subscriber: u32) -> String {
    format!("ipcbench/answers/{subscriber}")
}

impl Transport for Iceoryx2 {
    fn name(&self) -> &'static str {
        "iceoryx2"
    }
    fn description(&self) -> &'static str {
        "iceoryx2 0.10: zero-copy publish-subscribe in shared memory, loaned samples, its event service to wake"
    }
    fn family(&self) -> crate::results::Family {
        crate::results::Family::Middleware
    }
    fn nature(&self) -> super::Nature {
        super::Nature {
            protocol: Some("iceoryx2's publish-subscribe services"),
            lends: true,
            facts: &[
                super::Fact {
                    property: crate::results::probe::Property::Connectionless,
                    holds: true,
                    why: "a publisher opens the service by its name and publishes whether or not any subscriber exists; nothing is accepted or connected",
                },
                super::Fact {
                    property: crate::results::probe::Property::KeptWithoutReceiver,
                    holds: false,
                    why: "a sample published while no subscriber is there reaches nobody: the services keep no history (history size 0, iceoryx2's default)",
                },
            ],
            ..super::Nature::kernel(super::Object::Ring, super::Reach::Name)
        }
    }
    fn shared_memory(&self) -> bool {
        true
    }
    fn copies(&self) -> Copies {
        Copies {
            count: 0,
            why: "the sender builds the message in a loaned sample of shared memory and the receiver reads it there; only the sample's offset moves (an echo is copied into a fresh loan: a received sample is read-only)",
        }
    }
    fn note(&self) -> Option<&'static str> {
        Some("block waits in the event service's listener, which the sender notifies after each publish; spin polls receive() and nobody notifies")
    }
    fn wait_refused(&self, wait: Wait) -> Option<&'static str> {
        match wait {
            Wait::Block | Wait::Spin | Wait::Hybrid => None,
            Wait::Epoll => Some("its listener's descriptor is for iceoryx2's own WaitSet; ipcbench's epoll wait is not wired to it"),
            Wait::IoUring => Some("no io_uring operation receives an iceoryx2 sample"),
        }
    }
    fn fan_in_refused(&self) -> Option<&'static str> {
        Some("not arranged in ipcbench: a service of several publishers is iceoryx2's fan-in, not wired yet")
    }
    fn prepare(&self, at: &Rendezvous) -> io::Result<Prepared> {
        let segments = Segments(prefix(at.tag));
        let ends = Ends::new(at, ((TO_PEER, 1), (TO_PARENT, 1)), Some(segments))?;
        Ok(Prepared::ready(Box::new(ends)))
    }
    fn join(&self, at: &Rendezvous, _inherited: Inherited) -> io::Result<Box<dyn Channel>> {
        Ok(Box::new(Ends::new(
            at,
            ((TO_PARENT, 1), (TO_PEER, 1)),
            None,
        )?))
    }
    fn orphaned(&self, tag: &str, _token: &str) {
        remove_segments(&prefix(tag));
    }
    fn broadcast_refused(&self) -> Option<&'static str> {
        None
    }
    fn broadcast(&self, at: &Rendezvous, subscribers: u32) -> io::Result<Broadcast> {
        Ok(Broadcast {
            child_fds: Vec::new(),
            token: subscribers.to_string(),
            // Into the loan by the publish; each subscriber reads the
            // stream's samples where they lie.
            copies: 1,
            publisher: Box::new(Publishing::new(at, subscribers)?),
        })
    }
    fn join_broadcast(
        &self,
        at: &Rendezvous,
        inherited: Inherited,
    ) -> io::Result<Box<dyn Channel>> {
        let subscribers: usize = inherited
            .token
            .parse()
            .map_err(|_| io::Error::other("iceoryx2 expects the subscriber count"))?;
        let answers = answers_of(inherited.member);
        let lines = ((answers.as_str(), 1), (PUBLISHED, subscribers));
        Ok(Box::new(Ends::new(at, lines, None)?))
    }
}

/// The publisher of a fan-out: one line to every subscriber, and a line
/// back from each. Fields drop in order, the segments last.
struct Publishing {
    out: Sending,
    answers: Vec<Receiving>,
    waiter: Waiter,
    _services: (Services, Vec<Services>),
    _node: Node<Service>,
    _segments: Segments,
}

// SAFETY: as for `Ends`: every Rc clone lives inside this value, which
// moves whole and is never shared.
unsafe impl Send for Publishing {}

impl Publishing {
    fn new(at: &Rendezvous, subscribers: u32) -> io::Result<Publishing> {
        let segments = Segments(prefix(at.tag));
        let node = node(at)?;
        let line = (PUBLISHED, subscribers as usize);
        let published = Services::open(&node, line, at.size, Side::Makes)?;
        let lines = (0..subscribers)
            .map(|i| Services::open(&node, (&answers_of(i), 1), at.size, Side::Makes))
            .collect::<io::Result<Vec<_>>>()?;
        let answers = lines
            .iter()
            .map(|l| l.receiver(at.size))
            .collect::<io::Result<_>>()?;
        Ok(Publishing {
            out: published.sender(at.size)?,
            answers,
            waiter: Waiter::Block,
            _services: (published, lines),
            _node: node,
            _segments: segments,
        })
    }
}

impl super::Publisher for Publishing {
    /// The message is copied into a loan (the harness built it apart);
    /// each subscriber reads the one sample where it lies.
    fn publish(&mut self, msg: &[u8]) -> io::Result<()> {
        self.out.send_copy(msg)
    }
    fn answer(&mut self, i: usize, buf: &mut [u8]) -> io::Result<usize> {
        self.answers[i].recv_copy(buf, &mut self.waiter)
    }
    fn sends_per_message(&self) -> u32 {
        1
    }
    fn wait_with(&mut self, wait: Wait) -> io::Result<()> {
        self.waiter = Waiter::without_fd(wait)?;
        self.out.notify = wait != Wait::Spin;
        Ok(())
    }
}

/// Removes every shared-memory segment whose name starts with `prefix`:
/// what a case's iceoryx2 leaves (its global management segment, even
/// after a clean exit) or a killed process could not remove.
fn remove_segments(prefix: &str) {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
