'use strict';
// ipcbench's Node.js peer. ipcbench starts it, never a person, in one of
// three roles:
//   serve  the peer of the Rust harness, on the channel ipcbench opened the
//          way child_process.fork() does (NODE_CHANNEL_FD);
//   drive  a Node parent that forks a Node child and times the round trip
//          itself: what a Node user gets, Node on both ends;
//   echo   that child.
// The message is the harness's: a 24-byte header (magic, flags, seq, len,
// crc32c of the payload, little endian) and a fixed pseudo-random payload.
// It travels as a Node program would send it: a Buffer with
// serialization 'advanced', a base64 string with the default JSON one
// (a Buffer there would arrive as {"type":"Buffer","data":[...]}, an
// object, and cost about four bytes of JSON per byte).
// No npm packages: plain Node >= 12.16.

const { fork } = require('child_process');

const MAGIC = 0x49504342;
const DATA = 0;
const SYNC = 1;
const END = 2;
const HEADER = 24;
// 24 header bytes are exactly 32 base64 characters.
const HEADER_B64 = 32;

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`unexpected argument '${argv[i]}'`);
    }
    opts[argv[i].slice(2)] = argv[i + 1];
  }
  return opts.start === undefined ? opts : Object.assign(opts, fromStart(JSON.parse(opts.start)));
}

// The harness's `--start`: the case it runs (src/harness/case.rs, the
// same description its own peer reads), as the options the roles read.
function fromStart(start) {
  const c = start.case;
  const opts = {
    pattern: c.pattern,
    size: String(c.size),
    verify: c.verify,
    role: c.role,
    'warmup-ms': String(c.warmup_s * 1e3),
  };
  if (c.length.iterations !== undefined) opts.iterations = String(c.length.iterations);
  else opts['duration-ms'] = String(c.length.duration * 1e3);
  // A test's fault, one at most: {"garbage-at": N} is Node's to commit.
  if (c.fault && c.fault['garbage-at'] !== undefined) opts['garbage-at'] = String(c.fault['garbage-at']);
  if (start.child_cpu !== undefined) {
    opts['child-cpu'] = String(start.child_cpu);
    opts.pinner = start.pinner;
  }
  return opts;
}

// The harness's payload pattern (xorshift64 from a fixed seed), so a
// payload can be compared with what it must be, natively, instead of
// checksummed byte by byte in JavaScript.
function message(size) {
  const buf = Buffer.alloc(size);
  let hi = 0x9e3779b9;
  let lo = 0x7f4a7c15;
  for (let i = HEADER; i < size; i++) {
    let nhi = (hi ^ ((hi << 13) | (lo >>> 19))) >>> 0;
    let nlo = (lo ^ (lo << 13)) >>> 0;
    hi = nhi;
    lo = nlo;
    nlo = (lo ^ ((lo >>> 7) | (hi << 25))) >>> 0;
    nhi = (hi ^ (hi >>> 7)) >>> 0;
    hi = nhi;
    lo = nlo;
    nhi = (hi ^ ((hi << 17) | (lo >>> 15))) >>> 0;
    nlo = (lo ^ (lo << 17)) >>> 0;
    hi = nhi;
    lo = nlo;
    buf[i] = lo & 0xff;
  }
  return buf;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

// Once per case, of the known payload.
function crc32c(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function stamp(buf, flags, seq, crc) {
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(flags, 4);
  buf.writeBigUInt64LE(BigInt(seq), 8);
  buf.writeUInt32LE(buf.length, 16);
  buf.writeUInt32LE(crc, 20);
}

function readHeader(h) {
  if (!h || h.length < HEADER || h.readUInt32LE(0) !== MAGIC) return null;
  return {
    flags: h.readUInt32LE(4),
    seq: Number(h.readBigUInt64LE(8)),
    len: h.readUInt32LE(16),
    crc: h.readUInt32LE(20),
  };
}

// How a Node program carries bytes in each serialization mode.
const CODECS = {
  json: {
    encode: (buf) => buf.toString('base64'),
    header: (m) => (typeof m === 'string' ? Buffer.from(m.slice(0, HEADER_B64), 'base64') : null),
    bytes: (m) => (typeof m === 'string' ? Buffer.from(m, 'base64') : null),
  },
  advanced: {
    encode: (buf) => buf,
    header: (m) => (Buffer.isBuffer(m) ? m.subarray(0, HEADER) : null),
    bytes: (m) => (Buffer.isBuffer(m) ? m : null),
  },
};

function isData(m) {
  return typeof m === 'string' || Buffer.isBuffer(m);
}

// The harness's verifier (src/harness/message.rs), rule for rule: a gap
// marks numbers missing, a missing one that turns up is reordered, a seen
// one duplicated, a bad magic, length or payload corrupted.
class Verifier {
  constructor(verify, size) {
    this.full = verify === 'full';
    this.expected = message(size).subarray(HEADER);
    this.crc = crc32c(this.expected);
    this.size = size;
    this.next = 0;
    this.missing = new Set();
    this.unreadable = 0;
    this.counts = { lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  }

  check(bytes) {
    const h = readHeader(bytes);
    if (!h || h.len !== this.size || bytes.length !== this.size) {
      this.counts.corrupted++;
      this.unreadable++;
      return;
    }
    if (h.flags !== DATA) return;
    const intact =
      !this.full || (h.crc === this.crc && bytes.subarray(HEADER).equals(this.expected));
    if (!intact) this.counts.corrupted++;
    if (h.seq === this.next) {
      this.next++;
    } else if (h.seq > this.next) {
      for (let s = this.next; s < h.seq; s++) this.missing.add(s);
      this.next = h.seq + 1;
    } else if (this.missing.delete(h.seq)) {
      this.counts.reordered++;
    } else {
      this.counts.duplicated++;
    }
  }

  finish(sent) {
    const missing = this.missing.size + Math.max(0, sent - this.next);
    this.counts.lost = Math.max(0, missing - this.unreadable);
    return this.counts;
  }
}

function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// Blocks the whole event loop, as a busy or stuck Node program would.
function block(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// The peer's side of the harness's workloads (workload::serve in Rust).
// `say` tells the one who started us: 'ready', then the report.
function serve(opts, codec, say) {
  const size = Number(opts.size);
  // Ping-pong and the open loop (rate) both want every message back.
  const echoAll = opts.pattern === 'latency' || opts.pattern === 'rate';
  const slow = opts.role === 'slow-serve';
  const garbageAt = opts['garbage-at'] === undefined ? -1 : Number(opts['garbage-at']);
  const verifier = new Verifier(opts.verify, size);
  let cpu0 = cpuNs();
  let t0 = process.hrtime.bigint();
  let dataSeen = 0;
  let seenAtSync = null;
  let ended = false;
  process.on('message', (m) => {
    const h = readHeader(codec.header(m));
    const flags = h ? h.flags : DATA;
    if (echoAll && flags === DATA && seenAtSync !== null && dataSeen - seenAtSync === garbageAt) {
      const junk = Buffer.alloc(size, 0xa5);
      process.send(codec.encode(junk));
    } else if (flags !== DATA || echoAll) {
      process.send(m);
    }
    if (flags === SYNC) {
      cpu0 = cpuNs();
      t0 = process.hrtime.bigint();
      seenAtSync = dataSeen;
    } else if (flags === END) {
      ended = true;
      say.report({
        errors: echoAll ? new Verifier('seq', size).counts : verifier.finish(h.seq),
        received: dataSeen - (seenAtSync || 0),
        cpu_ns: Math.round(cpuNs() - cpu0),
        elapsed_ns: Number(process.hrtime.bigint() - t0),
        runtime: `node ${process.version} (${process.execPath}), serialization ${opts.serialization}`,
      });
    } else {
      dataSeen++;
      if (slow && dataSeen % 64 === 0) block(1);
      if (!echoAll) verifier.check(codec.bytes(m) || Buffer.alloc(0));
    }
  });
  process.on('disconnect', () => {
    if (!ended) say.error(`the channel closed after ${dataSeen} messages, before the end`);
  });
  say.ready();
  if (opts.role === 'hold') {
    // Holds its end and never reads: the event loop never runs again.
    for (;;) block(1000);
  }
}

function line(obj) {
  process.stdout.write(`${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n`);
}

// Peer of the Rust harness: speaks on stdout, its control pipe.
function servePeer(opts) {
  serve(opts, CODECS[opts.serialization], {
    ready: () => line('ready'),
    report: (r) => line(r),
    error: (e) => {
      line({ error: e });
      process.exitCode = 1;
    },
  });
}

// Child of `drive`: speaks to its Node parent over the channel itself.
function echoChild(opts) {
  serve(opts, CODECS[opts.serialization], {
    ready: () => process.send({ ready: process.pid }),
    report: (r) => process.send({ report: r }),
    error: () => {
      process.exitCode = 1;
    },
  });
}

// Latencies in buckets of HdrHistogram's resolution (3 significant
// digits): bounded memory for a case of any length, and the harness
// records them into a real HdrHistogram.
class Buckets {
  constructor() {
    this.counts = new Map();
  }
  record(ns) {
    const v = Math.max(1, ns);
    const shift = Math.max(0, Math.floor(Math.log2(v)) - 10);
    const low = Math.floor(v / 2 ** shift) * 2 ** shift;
    this.counts.set(low, (this.counts.get(low) || 0) + 1);
  }
  pairs() {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
  }
}

// Round trips over time, sampled as ipcbench samples its own
// (src/harness/latencies.rs): one point every `every` messages, at most
// 128, each with the largest round trip since the previous point.
class Timeline {
  constructor() {
    this.every = 1;
    this.points = [];
    this.countdown = 1;
    this.largest = 0;
  }
  record(ns, atNs) {
    const v = Math.max(1, ns);
    this.largest = Math.max(this.largest, v);
    if (--this.countdown > 0) return;
    this.points.push([atNs, v, this.largest]);
    this.largest = 0;
    if (this.points.length === 128) {
      const kept = [];
      for (let i = 0; i + 1 < this.points.length; i += 2) {
        const [a, b] = [this.points[i], this.points[i + 1]];
        kept.push([b[0], b[1], Math.max(a[2], b[2])]);
      }
      this.points = kept;
      this.every *= 2;
    }
    this.countdown = this.every;
  }
  report() {
    return this.points.length ? { every: this.every, points: this.points } : undefined;
  }
}

function forkChild(opts) {
  const args = ['echo', '--serialization', opts.serialization, '--pattern', opts.pattern,
    '--size', opts.size, '--verify', opts.verify];
  // Test-only: the child spoils one echo, as ipcbench's own peer does.
  if (opts['garbage-at'] !== undefined) args.push('--garbage-at', opts['garbage-at']);
  const options = { serialization: opts.serialization, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] };
  if (opts['child-cpu'] !== undefined) {
    // fork() runs execPath with execArgv before the script: ipcbench pins
    // itself to the child's CPU and becomes node, keeping the channel.
    options.execPath = opts.pinner;
    options.execArgv = ['__pinned', opts['child-cpu'], process.execPath];
  }
  return fork(__filename, args, options);
}

// Node parent, Node child: the round trip as a Node program times it.
function drive(opts) {
  const codec = CODECS[opts.serialization];
  const size = Number(opts.size);
  const latency = opts.pattern === 'latency';
  const out = message(size);
  const crc = crc32c(out.subarray(HEADER));
  const replies = new Verifier(opts.verify, size);
  const buckets = new Buckets();
  const timeline = new Timeline();
  const warmupNs = BigInt(Math.round(Number(opts['warmup-ms']) * 1e6));
  const durationNs = opts['duration-ms'] === undefined ? null : BigInt(Math.round(Number(opts['duration-ms']) * 1e6));
  const iterations = opts.iterations === undefined ? null : Number(opts.iterations);
  const child = forkChild(opts);
  let seq = 0;
  let phase = 'warmup';
  let phaseStart = 0n;
  let timed = 0;
  let warmupMessages = 0;
  let t0 = 0n;
  let cpu0 = 0;
  let elapsed = 0n;
  let childReport = null;
  let sent = 0;
  let written = 0;
  let waiting = false;

  const progress = setInterval(() => line(`progress ${seq}`), 100);
  progress.unref();

  const over = () => {
    if (phase === 'warmup') return seq > 0 && process.hrtime.bigint() - phaseStart >= warmupNs;
    if (iterations !== null) return timed >= iterations;
    return timed > 0 && process.hrtime.bigint() - phaseStart >= durationNs;
  };
  const onWritten = () => {
    written++;
    if (waiting && sent - written < 16) {
      waiting = false;
      setImmediate(pump);
    }
  };
  const sendData = (cb) => {
    stamp(out, DATA, seq, crc);
    t0 = process.hrtime.bigint();
    return child.send(codec.encode(out), cb);
  };
  const control = (flags) => {
    stamp(out, flags, seq, crc);
    child.send(codec.encode(out));
  };
  const nextPhase = () => {
    if (phase === 'warmup') {
      warmupMessages = seq;
      phase = 'sync';
      control(SYNC);
    } else {
      phase = 'end';
      control(END);
    }
  };
  // Throughput: send until Node says the backlog is too long (send()
  // returns false), then wait for the writes to catch up, as Node's
  // documentation tells a program to.
  function pump() {
    for (let i = 0; i < 256; i++) {
      if (over()) return nextPhase();
      sent++;
      const ok = sendData(onWritten);
      seq++;
      if (phase === 'timed') timed++;
      if (!ok) {
        waiting = true;
        return;
      }
    }
    setImmediate(pump);
  }
  const start = (p) => {
    phase = p;
    phaseStart = process.hrtime.bigint();
    if (latency) sendData();
    else pump();
  };

  child.on('message', (m) => {
    if (!isData(m)) {
      if (m.ready) {
        line('ready');
        start('warmup');
      } else if (m.report) {
        childReport = m.report;
        finish();
      }
      return;
    }
    const h = readHeader(codec.header(m));
    if (h && h.flags === SYNC) {
      cpu0 = cpuNs();
      return start('timed');
    }
    if (h && h.flags === END) {
      // The receiver has everything: a throughput case ends here, as in Rust.
      elapsed = process.hrtime.bigint() - phaseStart;
      if (childReport) finish();
      return;
    }
    if (phase === 'timed') {
      const now = process.hrtime.bigint();
      buckets.record(Number(now - t0));
      timeline.record(Number(now - t0), Number(t0 - phaseStart));
      timed++;
    }
    replies.check(codec.bytes(m));
    seq++;
    if (over()) nextPhase();
    else sendData();
  });
  child.on('exit', (code, signal) => {
    if (!childReport) {
      line({ error: `the Node child exited (${signal || `status ${code}`}) after ${seq} messages` });
      process.exit(1);
    }
  });

  function finish() {
    clearInterval(progress);
    line({
      ...childReport,
      timed_by_peer: {
        messages: timed,
        warmup_messages: warmupMessages,
        elapsed_ns: Number(elapsed),
        cpu_ns: Math.round(cpuNs() - cpu0),
        errors: latency ? replies.finish(seq) : replies.counts,
        rtt_ns: latency ? buckets.pairs() : [],
        timeline: latency ? timeline.report() : undefined,
      },
    });
    child.disconnect();
  }
}


// ---- probe: what Node's channel does, observed with Node on both ends ----
// Each experiment resolves to plain observations; ipcbench turns them into
// verdicts (src/probe/node.rs). The child runs this file as `probe-child`.

function probeChild(opts) {
  const what = opts.what;
  if (what === 'late-listener') {
    // Listens only after 300 ms: is a message sent before that kept?
    setTimeout(() => process.on('message', (m) => process.send({ got: m })), 300);
    return;
  }
  if (what === 'stuck') {
    // Never reads: the event loop is blocked until the parent kills us.
    process.send({ ready: true }, () => { for (;;) block(1000); });
    return;
  }
  if (what === 'idle') {
    process.on('message', () => {});
    process.send({ ready: process.pid });
    return;
  }
  if (what === 'handles') {
    process.on('message', (m, handle) => {
      if (m === 'server') {
        handle.on('connection', (s) => s.end(`answered by pid ${process.pid}`));
        process.send({ listening: true });
      } else if (m === 'socket') {
        handle.end(`answered by pid ${process.pid}`);
      }
    });
    process.send({ ready: process.pid });
    return;
  }
  if (what === 'reliable') {
    const v = new Verifier('full', Number(opts.size));
    let n = 0;
    process.on('message', (m) => {
      if (m && m.sent !== undefined) return process.send({ counts: v.finish(m.sent), received: n });
      n++;
      if (n % 64 === 0) block(1);
      v.check(CODECS[opts.serialization].bytes(m) || Buffer.alloc(0));
    });
    process.send({ ready: true });
    return;
  }
  // echo: every message straight back, and what this process sees of itself.
  process.on('message', (m) => process.send(m));
  process.send({ ready: true, self: selfView() });
}

// How this child was given its channel, as the kernel shows it.
function selfView() {
  const fs = require('fs');
  const environ = fs.readFileSync('/proc/self/environ', 'latin1').split('\0');
  const fdVar = environ.find((e) => e.startsWith('NODE_CHANNEL_FD='));
  const modeVar = environ.find((e) => e.startsWith('NODE_CHANNEL_SERIALIZATION_MODE='));
  const view = { fdVar: fdVar || null, modeVar: modeVar || null };
  if (!fdVar) return view;
  const fd = fdVar.split('=')[1];
  view.link = fs.readlinkSync(`/proc/self/fd/${fd}`);
  const inode = (view.link.match(/^socket:\[(\d+)\]$/) || [])[1];
  const types = { '0001': 'SOCK_STREAM', '0002': 'SOCK_DGRAM', '0005': 'SOCK_SEQPACKET' };
  for (const row of fs.readFileSync('/proc/net/unix', 'latin1').split('\n').slice(1)) {
    const f = row.trim().split(/\s+/);
    if (inode && f[6] === inode) {
      view.unixType = types[f[4]] || f[4];
      view.unixPath = f[7] || null;
    }
  }
  return view;
}

function probeFork(mode, what, extra = []) {
  return fork(__filename, ['probe-child', '--serialization', mode, '--what', what, ...extra],
    { serialization: mode, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

function once(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (...a) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

// Messages in arrival order: Node emits every message of one read in the
// same tick, so a listener attached per message would miss some.
function nextMessage(child, ms = 5000) {
  if (!child.inbox) {
    child.inbox = [];
    child.waiting = [];
    child.on('message', (m) => {
      const w = child.waiting.shift();
      if (w) w(m);
      else child.inbox.push(m);
    });
  }
  if (child.inbox.length) return Promise.resolve(child.inbox.shift());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.waiting.splice(child.waiting.indexOf(done), 1);
      reject(new Error(`no message within ${ms} ms`));
    }, ms);
    const done = (m) => {
      clearTimeout(t);
      resolve(m);
    };
    child.waiting.push(done);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function echoes(mode) {
  const child = probeFork(mode, 'echo');
  const hello = await nextMessage(child);
  const codec = CODECS[mode];
  const sizes = [1, 100, 200, 4096, 3, 65536];
  const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  sent.forEach((b) => child.send(codec.encode(b)));
  const back = [];
  for (let i = 0; i < sent.length; i++) back.push(codec.bytes(await nextMessage(child)));
  const intact = back.every((b, i) => b && b.equals(sent[i]));
  // What the serialisation makes of values that JSON cannot carry.
  child.send({ map: new Map([[1, 2]]), date: new Date(0), undef: undefined });
  const typed = await nextMessage(child);
  let bigint;
  try {
    child.send({ big: 1n });
    const m = await nextMessage(child);
    bigint = `arrived as ${typeof m.big}`;
  } catch (e) {
    bigint = `send threw ${e.name}: ${e.message}`;
  }
  let largest = null;
  let failed = null;
  for (const mib of [1, 16, 64]) {
    const n = mib << 20;
    const big = mode === 'json' ? 'x'.repeat(n) : Buffer.alloc(n, 7);
    try {
      child.send(big);
      const m = await nextMessage(child, 60000);
      if (m.length !== n) {
        failed = `${n} bytes came back as ${m.length}`;
        break;
      }
      largest = n;
    } catch (e) {
      failed = `${n} bytes: ${e.message}`;
      break;
    }
  }
  child.kill('SIGKILL');
  return {
    self: hello.self,
    sizes_sent: sizes,
    sizes_back: back.map((b) => (b ? b.length : null)),
    intact,
    map_arrived_as: typed.map instanceof Map ? 'Map' : JSON.stringify(typed.map),
    date_arrived_as: typed.date instanceof Date ? 'Date' : typeof typed.date,
    undefined_kept: Object.prototype.hasOwnProperty.call(typed, 'undef'),
    bigint,
    largest,
    largest_failed: failed,
  };
}

async function reliable(mode) {
  const size = 4096;
  const child = probeFork(mode, 'reliable', ['--size', String(size)]);
  await nextMessage(child);
  const out = message(size);
  const crc = crc32c(out.subarray(HEADER));
  const codec = CODECS[mode];
  const sent = 3000;
  let written = 0;
  let falses = 0;
  for (let seq = 0; seq < sent; seq++) {
    stamp(out, DATA, seq, crc);
    if (!child.send(codec.encode(out), () => written++)) {
      falses++;
      while (seq + 1 - written > 16) await sleep(1);
    }
  }
  child.send({ sent });
  const r = await nextMessage(child, 30000);
  child.kill('SIGKILL');
  return { sent, received: r.received, counts: r.counts, size, slow_every: 64, send_false: falses };
}

async function flowControl(mode) {
  const child = probeFork(mode, 'stuck');
  await nextMessage(child);
  await sleep(50);
  const codec = CODECS[mode];
  const one = codec.encode(Buffer.alloc(1024, 1));
  let falseAfter = null;
  let longest = 0;
  let n = 0;
  const rss0 = process.memoryUsage().rss;
  const target = 64 << 20;
  while (n * 1024 < target) {
    const t = process.hrtime.bigint();
    const ok = child.send(one);
    longest = Math.max(longest, Number(process.hrtime.bigint() - t));
    n++;
    if (!ok && falseAfter === null) falseAfter = n - 1;
  }
  await sleep(100);
  const rss1 = process.memoryUsage().rss;
  child.kill('SIGKILL');
  await once(child, 'exit', 5000);
  return { message_bytes: 1024, false_after: falseAfter, sent: n, longest_send_ns: longest,
    rss_growth: rss1 - rss0, queued_bytes: n * 1024 };
}

async function peerDeath(mode) {
  const child = probeFork(mode, 'idle');
  await nextMessage(child);
  const events = [];
  child.on('disconnect', () => events.push('disconnect'));
  child.on('exit', (code, signal) => events.push(`exit(${signal || code})`));
  child.on('error', (e) => events.push(`error(${e.code || e.message})`));
  const t = process.hrtime.bigint();
  child.kill('SIGKILL');
  await once(child, 'exit', 5000);
  await sleep(20);
  const seenAfterNs = Number(process.hrtime.bigint() - t);
  let returned;
  let callback = null;
  try {
    returned = child.send('after', (e) => { callback = e ? (e.code || e.message) : 'no error'; });
  } catch (e) {
    returned = `threw ${e.code || e.message}`;
  }
  await sleep(50);
  return { events, seen_within_ns: seenAfterNs, send_returned: returned, send_callback: callback, connected: child.connected };
}

async function handles(mode) {
  const net = require('net');
  const child = probeFork(mode, 'handles');
  const childPid = (await nextMessage(child)).ready;
  const ask = (port) => new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let text = '';
    c.on('data', (d) => { text += d; });
    c.on('end', () => resolve(text));
    c.on('error', reject);
    setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref();
  });
  const result = { child_pid: childPid, parent_pid: process.pid };
  // The cluster way: the listening server itself goes to the child, and
  // the parent stops accepting on it.
  const server = net.createServer((s) => s.end(`answered by pid ${process.pid}`));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  child.send('server', server);
  await nextMessage(child);
  server.close();
  try {
    result.server_answer = await ask(port);
  } catch (e) {
    result.server_answer = `error: ${e.message}`;
  }
  // One accepted connection, handed over.
  const front = net.createServer((s) => child.send('socket', s));
  await new Promise((r) => front.listen(0, '127.0.0.1', r));
  try {
    result.socket_answer = await ask(front.address().port);
  } catch (e) {
    result.socket_answer = `error: ${e.message}`;
  }
  front.close();
  child.kill('SIGKILL');
  return result;
}

async function lateListener(mode) {
  const child = probeFork(mode, 'late-listener');
  child.send('early');
  await sleep(600);
  child.send('late');
  const got = [];
  try {
    for (;;) got.push((await nextMessage(child, 500)).got);
  } catch (e) {
    // no more
  }
  child.kill('SIGKILL');
  return { sent: ['early (at once)', 'late (after 600 ms)'], listener_after_ms: 300, received: got };
}

function withoutChannel() {
  const { spawnSync } = require('child_process');
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(typeof process.send)']);
  return { typeof_send: String(r.stdout) };
}

async function probe(opts) {
  const mode = opts.serialization;
  const out = { node: process.version, serialization: mode };
  // Flow control first: its memory figure is cleanest in a fresh process.
  const experiments = { flow_control: flowControl, echoes, reliable, peer_death: peerDeath,
    handles, late_listener: lateListener };
  out.without_channel = withoutChannel();
  for (const [name, run] of Object.entries(experiments)) {
    try {
      out[name] = await run(mode);
    } catch (e) {
      out[name] = { failed: e.message };
    }
  }
  line({ observations: out });
  process.exit(0);
}

function main() {
  const [role, ...rest] = process.argv.slice(2);
  let opts;
  try {
    opts = parseArgs(rest);
  } catch (e) {
    line({ error: e.message });
    process.exit(2);
  }
  if (role === 'serve') return servePeer(opts);
  if (role === 'echo') return echoChild(opts);
  if (role === 'drive') return drive(opts);
  if (role === 'probe') return probe(opts);
  if (role === 'probe-child') return probeChild(opts);
  line({ error: `unknown role '${role}'` });
  process.exit(2);
}

if (require.main === module) main();
