// Hostile idents on every filter (issue 10, scope item 2). Changelists that mix hostile idents
// (destroyed and look-alike sockets, proxies, objects with throwing getters, odd paths, pids and
// signal numbers, hostile thenables, ...) with valid changes, on all ten filters, with and without
// EV_RECEIPT, through keventSync, kevent and kevent(). The oracle is api.md: each change gets a
// valid answer or the errno the contract names for its ident (an EV_ERROR entry, or the call's
// KqueueError when nevents has no room), a malformed one makes the whole call EINVAL with no change
// applied; no code of the caller's runs while the call reads and applies the changes (every trap
// and getter counts); and after every call a set of witness knotes on every filter, in the same
// kqueue, is untouched: still registered with the same udata, still firing when its source fires.
// At the end nothing is left behind: listeners, fds, timers, pollers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import * as K from '../../src/index.js';
import { liveTimerCount } from '../../src/filters/timer.js';
import { procPollState } from '../../src/filters/proc.js';

const {
  kqueue, kevent, VirtualClock, KqueueError,
  EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_CLEAR, EV_RECEIPT, EV_DISPATCH, EV_ERROR,
  EVFILT_READ, EVFILT_WRITE, EVFILT_AIO, EVFILT_VNODE, EVFILT_PROC, EVFILT_SIGNAL, EVFILT_TIMER,
  EVFILT_EXCEPT, EVFILT_USER, EVFILT_FS, NOTE_TRIGGER, NOTE_WRITE, NOTE_EXIT,
  EBADF, EINVAL, ENOENT, ESRCH, ENXIO, EOPNOTSUPP, ENAMETOOLONG, ENOTDIR, EACCES,
} = K;
type KEvent = K.KEvent;
type KEventInit = K.KEventInit;

/** Property runs in `npm test` (well under 40 s on 2 busy cores); the soak sets KQ_FUZZ_RUNS. */
const RUNS = Number(process.env.KQ_FUZZ_RUNS ?? 1500);
/** Fixed in `npm test`; the soak picks one per run (and prints it) through KQ_FUZZ_SEED. */
const SEED = Number(process.env.KQ_FUZZ_SEED ?? 0x686f7374); // 'host'
const FILTERS = [EVFILT_READ, EVFILT_WRITE, EVFILT_AIO, EVFILT_VNODE, EVFILT_PROC, EVFILT_SIGNAL, EVFILT_TIMER,
  EVFILT_EXCEPT, EVFILT_USER, EVFILT_FS] as const;
const DESCRIPTOR = new Set<number>([EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE, EVFILT_EXCEPT]);
const NAME: Record<number, string> = {
  [-1]: 'READ', [-2]: 'WRITE', [-3]: 'AIO', [-4]: 'VNODE', [-5]: 'PROC', [-6]: 'SIGNAL', [-7]: 'TIMER',
  [-8]: 'EXCEPT', [-9]: 'USER', [-10]: 'FS',
};
const PATH_MAX = 4096;
const PID_MAX = 4194304;
/** The signal the SIGNAL witness watches: ignored by default, so sending it is harmless. */
const WITNESS_SIGNAL = 'SIGURG';
const PENDING = 'witness'; // bytes left unread on the READ witness's socket

// ---- the caller's code: every trap, getter, then and method of a hostile object counts ----------

let userRuns = 0;
const userLog: string[] = [];
function ran(what: string): void {
  userRuns++;
  if (userLog.length < 20) userLog.push(what);
}
/** A handler whose every trap counts (and then behaves like the target). */
function countingHandler(what: string): ProxyHandler<object> {
  const h: ProxyHandler<object> = {};
  for (const trap of ['get', 'set', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty', 'deleteProperty',
    'getPrototypeOf', 'setPrototypeOf', 'isExtensible', 'preventExtensions', 'apply', 'construct'] as const) {
    (h as Record<string, unknown>)[trap] = (...args: unknown[]) => {
      ran(`${what}.${trap}`);
      return (Reflect[trap] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return h;
}
const counted = <T extends object>(target: T, what: string): T => new Proxy(target, countingHandler(what)) as T;
/** An accessor that counts and throws. */
function throwingGetter(what: string): PropertyDescriptor {
  return { get() { ran(`${what} getter`); throw new Error(`the caller's ${what} getter`); }, configurable: true, enumerable: true };
}
function withThrowingGetters<T extends object>(o: T, keys: string[], what: string): T {
  for (const k of keys) Object.defineProperty(o, k, throwingGetter(`${what}.${k}`));
  return o;
}

// ---- the world: real sources, the witnesses, the hostile idents ---------------------------------

interface Witness { ident: K.Ident; filter: number; fflags: number; data: number; udata: object; level: boolean }

interface World {
  dir: string;
  /** The VNODE witness's file, and another for the fuzzed changes. */
  file: string;
  file2: string;
  fd: number;
  fh: fs.promises.FileHandle;
  server: net.Server;
  /** The witnesses' sockets: `a` writes PENDING to `b`, which never reads it. */
  wa: net.Socket; wb: net.Socket;
  /** A second pair for the fuzzed changes. */
  la: net.Socket; lb: net.Socket;
  child: ChildProcess;
  liveChild: ChildProcess;
  settle: () => void;
  pendingPromise: Promise<void>;
  clock: K.VirtualClock;
  kq: K.Kqueue;
  other: K.Kqueue;
  witnesses: Witness[];
  /** Everything a harvest may legitimately return an event for. */
  idents: Set<unknown>;
  cleanups: (() => void)[];
  /** Exits of children made by ident classes, awaited at the end. */
  exits: Promise<unknown>[];
  /** Every connection the server accepted (destroyed at the end). */
  serverSide: net.Socket[];
  /** Listener counts on the witnesses' and the fuzzed sockets before any knote. */
  socketListeners: Record<string, number>[];
}

const SOCKET_EVENTS = ['error', 'close', 'readable', 'drain', 'finish', 'connect', 'end', 'data'];
const socketListenerCounts = (s: net.Socket): Record<string, number> =>
  Object.fromEntries(SOCKET_EVENTS.map((ev) => [ev, s.listenerCount(ev)]));

function fdLinks(): string[] {
  return fs.readdirSync('/proc/self/fd').map((fd) => { try { return `${fd}:${fs.readlinkSync(`/proc/self/fd/${fd}`)}`; } catch { return `${fd}:?`; } });
}
/** Open fds, but not libuv's one inotify instance (made on the first watch, kept for the loop's life). */
function fdCount(): number {
  return fdLinks().filter((l) => !l.endsWith('anon_inode:inotify')).length;
}
/** Live inotify watches of this process (fdinfo lists one `inotify wd:` line per watch). */
function inotifyWatches(): number {
  let n = 0;
  for (const l of fdLinks()) {
    if (!l.endsWith('anon_inode:inotify')) continue;
    try {
      n += fs.readFileSync(`/proc/self/fdinfo/${l.split(':')[0]}`, 'latin1').split('\n').filter((x) => x.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function connectedPair(server: net.Server): Promise<[net.Socket, net.Socket]> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const a = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  const [[b]] = await Promise.all([accepted, once(a, 'connect')]);
  return [a, b];
}

/** Waits (polling, 5 s deadline) until `pred` holds. */
async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let baseline: { fds: number; watches: number; timers: number; listeners: Record<string, number> };
let world: World;
let baseLinks: string[] = [];

async function makeWorld(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kq-hostile-'));
  const file = path.join(dir, 'watched');
  fs.writeFileSync(file, 'x');
  const file2 = path.join(dir, 'other');
  fs.writeFileSync(file2, 'x');
  const fd = fs.openSync(path.join(dir, 'fd-file'), 'w+');
  const fh = await fs.promises.open(path.join(dir, 'fh-file'), 'w+');
  const server = net.createServer();
  const serverSide: net.Socket[] = [];
  server.on('connection', (s: net.Socket) => serverSide.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const [wa, wb] = await connectedPair(server);
  const [la, lb] = await connectedPair(server);
  wa.write(PENDING);
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  const liveChild = spawn('sleep', ['1000'], { stdio: 'ignore' });
  await Promise.all([once(child, 'spawn'), once(liveChild, 'spawn')]);
  let settle!: () => void;
  const pendingPromise = new Promise<void>((r) => { settle = r; });
  const clock = new VirtualClock(0);
  const kq = kqueue({ clock });
  const other = kqueue();
  const w = (ident: K.Ident, filter: number, fflags: number, data: number, level: boolean): Witness =>
    ({ ident, filter, fflags, data, udata: { witness: NAME[filter] }, level });
  const witnesses = [
    w(wb, EVFILT_READ, 0, 0, true),
    w(wa, EVFILT_WRITE, 0, 0, true),
    w(wb, EVFILT_EXCEPT, 0, 0, true),
    w(Symbol('witness user'), EVFILT_USER, NOTE_TRIGGER, 0, true),
    w(Symbol('witness timer'), EVFILT_TIMER, 0, 10, true),
    w(file, EVFILT_VNODE, NOTE_WRITE, 0, false),
    w(WITNESS_SIGNAL, EVFILT_SIGNAL, 0, 0, false),
    w(child.pid!, EVFILT_PROC, NOTE_EXIT, 0, false),
    w(pendingPromise, EVFILT_AIO, 0, 0, false),
    w(Symbol('witness fs'), EVFILT_FS, 0, 0, false),
  ];
  const socketListeners = [wa, wb, la, lb].map(socketListenerCounts);
  // Wait until the READ witness has its bytes, so that its data is exact from the first check.
  await until(() => wb.readableLength === PENDING.length || (wb.read(0), false), 'the witness bytes');
  assert.deepEqual(kq.keventSync(witnesses.map((x) => ({
    ident: x.ident, filter: x.filter, flags: EV_ADD | (x.filter === EVFILT_VNODE ? EV_CLEAR : 0), fflags: x.fflags, data: x.data, udata: x.udata,
  })), 0), []);
  const world: World = {
    dir, file, file2, fd, fh, server, wa, wb, la, lb, child, liveChild, settle, pendingPromise, clock, kq, other, witnesses,
    idents: new Set(witnesses.map((x) => x.ident)), cleanups: [], exits: [], serverSide, socketListeners,
  };
  return world;
}

// ---- outcomes the contract names ----------------------------------------------------------------

/** What a change with EV_ADD on a fresh knote may answer (0: attached), or a malformed call. */
type Outcome = { malformed: true } | { malformed: false; add: readonly number[] };
const ok: Outcome = { malformed: false, add: [0] };
const err = (...errnos: number[]): Outcome => ({ malformed: false, add: errnos });
const MALFORMED: Outcome = { malformed: true };

function fdIsFile(fd: number): boolean {
  try {
    const st = fs.fstatSync(fd);
    return st.isFile() || st.isDirectory();
  } catch {
    return false;
  }
}
const signals = os.constants.signals as Record<string, number>;

/** The contract's answer for a primitive ident (number, bigint, string, symbol, ...). */
function primitiveOutcome(x: unknown, filter: number): Outcome {
  switch (filter) {
    case EVFILT_TIMER: case EVFILT_USER: case EVFILT_FS: return ok;
    case EVFILT_AIO: return err(ENXIO);
    case EVFILT_SIGNAL:
      if (typeof x === 'number' || typeof x === 'bigint') return ok;
      if (typeof x === 'string') return Object.prototype.hasOwnProperty.call(signals, x) ? ok : MALFORMED;
      return err(EINVAL);
    case EVFILT_PROC: {
      const pid = typeof x === 'bigint' ? (x >= 1n && x <= BigInt(PID_MAX) ? Number(x) : 0) : x;
      if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > PID_MAX) return err(ESRCH);
      // A pid may come and go while the test runs (other processes on the machine).
      return pid === process.pid || pid === 1 ? ok : err(0, ESRCH, EACCES);
    }
    default: // READ, WRITE, VNODE, EXCEPT
      if (typeof x === 'number') {
        if (!Number.isInteger(x) || x < 0 || x > 0x7fffffff || !fdIsFile(x)) return err(EBADF);
        return filter === EVFILT_EXCEPT ? err(EOPNOTSUPP) : ok;
      }
      if (typeof x === 'string') return filter === EVFILT_VNODE ? pathOutcome(x) : err(EBADF);
      return err(EBADF);
  }
}
function pathOutcome(p: string): Outcome {
  if (p.includes('\0')) return err(EINVAL, ENOENT);
  if (p.length > PATH_MAX - 1) return err(ENAMETOOLONG);
  try {
    fs.statSync(p);
    return ok;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENAMETOOLONG') return err(ENAMETOOLONG, ENOENT);
    if (code === 'ENOTDIR') return err(ENOTDIR);
    return err(ENOENT);
  }
}
/** For objects the library does not know: descriptor filters EBADF, AIO ENXIO, PROC ESRCH. */
function unknownObject(filter: number, proxyLike = false): Outcome {
  if (DESCRIPTOR.has(filter)) return err(EBADF);
  switch (filter) {
    case EVFILT_AIO: return proxyLike ? err(EBADF) : err(ENXIO);
    case EVFILT_PROC: return proxyLike ? err(EBADF, ESRCH) : err(ESRCH);
    case EVFILT_SIGNAL: return err(EINVAL);
    default: return ok;
  }
}
/** A proxy (or an object whose prototype chain holds one): refused without running its traps. */
const proxyOutcome = (filter: number): Outcome => unknownObject(filter, true);

/** One class of ident: how to make it and what each filter answers. */
interface IdentClass {
  name: string;
  make(w: World): unknown;
  outcome(filter: number, ident: unknown, w: World): Outcome;
  /** Made once per world (a resource), or fresh for every change. */
  shared?: boolean;
}

const byType = (filter: number, ident: unknown): Outcome =>
  (typeof ident === 'object' && ident !== null) || typeof ident === 'function' ? unknownObject(filter) : primitiveOutcome(ident, filter);

/** A live stream-like object: READ/WRITE by side, EXCEPT on sockets, VNODE EOPNOTSUPP. */
function streamOutcome(filter: number, read: boolean, write: boolean, socket: boolean, gone: number[] = []): Outcome {
  switch (filter) {
    case EVFILT_READ: return err(read ? 0 : EOPNOTSUPP, ...gone);
    case EVFILT_WRITE: return err(write ? 0 : EOPNOTSUPP, ...gone);
    case EVFILT_EXCEPT: return err(socket ? 0 : EOPNOTSUPP, ...gone);
    case EVFILT_VNODE: return err(EOPNOTSUPP, ...gone);
    default: return unknownObject(filter);
  }
}

/** Off at teardown, so that Node's own code can read (and write) the fields again. */
let gettersArmed = true;
/** An accessor whose getter counts and throws while armed; its setter stores, for Node's own writes. */
function armedGetter(what: string, initial: unknown): PropertyDescriptor {
  let value = initial;
  return {
    get() {
      if (!gettersArmed) return value;
      ran(`${what} getter`);
      throw new Error(`the caller's ${what} getter`);
    },
    set(v: unknown) { value = v; },
    configurable: true, enumerable: true,
  };
}
/** Real children whose pid, exitCode or signalCode the caller turned into throwing accessors. */
function childWithGetter(w: World, key: 'pid' | 'exitCode' | 'signalCode'): ChildProcess {
  const c = spawn('sleep', ['1000'], { stdio: 'ignore' });
  Object.defineProperty(c, key, armedGetter(`child.${key}`, (c as unknown as Record<string, unknown>)[key]));
  w.cleanups.push(() => { c.kill('SIGKILL'); });
  w.exits.push(new Promise((r) => c.once('exit', r)));
  return c;
}

/** Node objects (and look-alikes made from their prototypes) with a throwing own accessor. */
function streamsWithGetters(w: World): [string, object][] {
  const g = <T extends object>(o: T, key: string, what: string): T => Object.defineProperty(o, key, armedGetter(what, undefined));
  const u = dgram.createSocket('udp4');
  w.cleanups.push(() => u.close());
  return [
    ['socket.destroyed', g(new net.Socket(), 'destroyed', 'socket.destroyed')],
    ['socket._readableState', g(new net.Socket(), '_readableState', 'socket._readableState')],
    ['PassThrough._writableState', g(new PassThrough(), '_writableState', 'PassThrough._writableState')],
    ['Object.create(Readable.prototype)._readableState', g(Object.create(Readable.prototype) as object, '_readableState', 'created Readable._readableState')],
    ['Object.create(Writable.prototype)._writableState', g(Object.create(Writable.prototype) as object, '_writableState', 'created Writable._writableState')],
    ['Object.create(Socket.prototype).destroyed', g(Object.create(net.Socket.prototype) as object, 'destroyed', 'created Socket.destroyed')],
    ['server.listening', g(net.createServer(), 'listening', 'server.listening')],
    ['dgram socket with an accessor', g(u, 'hostile', 'dgram accessor')],
  ];
}
function streamGetterClasses(): IdentClass[] {
  return [0, 1, 2, 3, 4, 5, 6, 7].map((i): IdentClass => ({
    name: `stream-like object with a throwing own getter #${i}`,
    shared: true,
    make: (w) => streamsWithGetters(w)[i]![1],
    outcome: (f) => unknownObject(f),
  }));
}

/** Objects whose prototype (or its prototype) is a counting Proxy of a prototype the library knows. */
function protoProxies(w: World): [string, object][] {
  const under = (proto: object, what: string): object => Object.create(counted(proto, what)) as object;
  return [
    ['Socket.prototype', under(net.Socket.prototype, 'Socket.prototype proxy')],
    ['Readable.prototype, two levels down', Object.create(under(Readable.prototype, 'Readable.prototype proxy')) as object],
    ['Server.prototype', under(net.Server.prototype, 'Server.prototype proxy')],
    ['ChildProcess.prototype', under(Object.getPrototypeOf(w.child) as object, 'ChildProcess.prototype proxy')],
    ['FileHandle.prototype', under(Object.getPrototypeOf(w.fh) as object, 'FileHandle.prototype proxy')],
    ['Promise.prototype', under(Promise.prototype, 'Promise.prototype proxy')],
    ['a plain object', under({}, 'plain prototype proxy')],
  ];
}
function protoProxyClasses(): IdentClass[] {
  return [0, 1, 2, 3, 4, 5, 6].map((i): IdentClass => ({
    name: `prototype chain with a Proxy #${i}`,
    make: (w) => protoProxies(w)[i]![1],
    outcome: proxyOutcome,
  }));
}

const destroyedSocket = (): net.Socket => { const s = new net.Socket(); s.destroy(); return s; };

const CLASSES: IdentClass[] = [
  // Valid idents (the fuzzed changes mix them in): each must be accepted.
  { name: 'live socket', shared: true, make: (w) => w.la, outcome: (f) => streamOutcome(f, true, true, true) },
  { name: 'PassThrough', make: () => new PassThrough(), outcome: (f) => streamOutcome(f, true, true, false) },
  { name: 'Readable', make: () => new Readable({ read() {} }), outcome: (f) => streamOutcome(f, true, false, false) },
  { name: 'Writable', make: () => new Writable({ write(_c, _e, cb) { cb(); } }), outcome: (f) => streamOutcome(f, false, true, false) },
  { name: 'listening server', shared: true, make: (w) => w.server, outcome: (f) => streamOutcome(f, true, true, true) },
  { name: 'file fd', shared: true, make: (w) => w.fd, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'FileHandle', shared: true, make: (w) => w.fh,
    outcome: (f) => (DESCRIPTOR.has(f) ? (f === EVFILT_EXCEPT ? err(EOPNOTSUPP) : ok) : unknownObject(f)) },
  { name: 'another file', shared: true, make: (w) => w.file2, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'another kqueue', shared: true, make: (w) => w.other,
    outcome: (f) => (f === EVFILT_READ ? ok : DESCRIPTOR.has(f) ? err(EOPNOTSUPP) : unknownObject(f)) },
  { name: 'live ChildProcess', shared: true, make: (w) => w.liveChild, outcome: (f) => (f === EVFILT_PROC ? ok : unknownObject(f)) },
  { name: 'pending promise', make: () => new Promise(() => {}), outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)) },
  { name: 'settled promise', make: () => Promise.resolve(7), outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)) },
  { name: 'fresh symbol', make: () => Symbol('fresh'), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'SIGWINCH', make: () => 'SIGWINCH', outcome: (f, x) => primitiveOutcome(x, f) },
  // Destroyed, ended and half-made streams and sockets.
  { name: 'destroyed socket', make: destroyedSocket, outcome: (f) => unknownObject(f) },
  { name: 'destroyed PassThrough', make: () => new PassThrough().destroy(), outcome: (f) => unknownObject(f) },
  {
    name: 'destroyed mid-connect', make: (w) => {
      const s = net.connect({ port: (w.server.address() as net.AddressInfo).port, host: '127.0.0.1' });
      s.destroy();
      return s;
    }, outcome: (f) => unknownObject(f),
  },
  {
    name: 'connecting socket', shared: true, make: (w) => {
      const s = net.connect({ port: (w.server.address() as net.AddressInfo).port, host: '127.0.0.1' });
      s.on('error', () => {});
      w.cleanups.push(() => s.destroy());
      return s;
    }, outcome: (f) => streamOutcome(f, true, true, true),
  },
  // Never connected: no handle at all.
  { name: 'unconnected socket', make: () => new net.Socket(), outcome: (f) => streamOutcome(f, true, true, true) },
  {
    name: 'ended PassThrough', make: () => { const s = new PassThrough(); s.end(); return s; },
    outcome: (f) => streamOutcome(f, true, true, false, [EBADF]),
  },
  { name: 'closed server', make: () => net.createServer(), outcome: (f) => (DESCRIPTOR.has(f) ? err(EBADF, 0, EOPNOTSUPP) : unknownObject(f)) },
  { name: 'closed kqueue', make: () => { const k = kqueue(); k.close(); return k; }, outcome: (f) => unknownObject(f) },
  {
    name: 'closed fd', make: (w) => {
      const h = fs.openSync(w.file, 'r');
      fs.closeSync(h);
      return h;
    },
    // The number is free when the change is built, but an earlier change of the same call may
    // open a descriptor that takes it (a VNODE knote on a path holds one): then it names that file.
    outcome: (f, x) => (DESCRIPTOR.has(f) ? err(EBADF, 0, EOPNOTSUPP) : primitiveOutcome(x, f)),
  },
  // Look-alikes: shaped like sockets, streams, FileHandles, children, promises.
  {
    name: 'duck socket', make: () => ({
      _handle: { fd: 3 }, fd: 3, destroyed: false, readable: true, writable: true,
      on: () => ran('duck.on'), once: () => ran('duck.once'), removeListener: () => ran('duck.removeListener'),
    }), outcome: (f) => unknownObject(f),
  },
  { name: 'Object.create(Socket.prototype)', make: () => Object.create(net.Socket.prototype) as object, outcome: (f) => unknownObject(f) },
  { name: 'Object.create(ChildProcess)', make: (w) => Object.create(Object.getPrototypeOf(w.child) as object) as object, outcome: (f) => unknownObject(f) },
  { name: 'Object.create(FileHandle)', make: (w) => Object.create(Object.getPrototypeOf(w.fh) as object) as object, outcome: (f) => unknownObject(f) },
  { name: 'ChildProcess with a throwing pid getter', shared: true, make: (w) => childWithGetter(w, 'pid'), outcome: (f) => unknownObject(f) },
  { name: 'ChildProcess with a throwing exitCode getter', shared: true, make: (w) => childWithGetter(w, 'exitCode'), outcome: (f) => unknownObject(f) },
  { name: 'ChildProcess with a throwing signalCode getter', shared: true, make: (w) => childWithGetter(w, 'signalCode'), outcome: (f) => unknownObject(f) },
  {
    name: 'Object.create(ChildProcess) with a throwing pid getter',
    make: (w) => Object.defineProperty(Object.create(Object.getPrototypeOf(w.child) as object) as object, 'pid', armedGetter('created child.pid', 1)),
    outcome: (f) => unknownObject(f),
  },
  ...streamGetterClasses(),
  { name: 'frozen object', make: () => Object.freeze({ fd: 3, pid: process.pid }), outcome: (f) => unknownObject(f) },
  { name: 'frozen array', make: () => Object.freeze([3]), outcome: (f) => unknownObject(f) },
  { name: 'null-prototype object', make: () => Object.create(null) as object, outcome: (f) => unknownObject(f) },
  { name: 'function', make: () => function ident() {}, outcome: (f) => unknownObject(f) },
  { name: 'boxed number', make: () => Object(3) as object, outcome: (f) => unknownObject(f) },
  {
    name: 'object with throwing getters',
    make: () => withThrowingGetters({}, ['fd', 'pid', '_handle', 'then', 'destroyed', 'constructor'], 'plain'),
    outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)),
  },
  // Proxies: their traps must never run.
  { name: 'Proxy of a socket', make: () => counted(new net.Socket(), 'socket proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a PassThrough', make: () => counted(new PassThrough(), 'stream proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a FileHandle', shared: true, make: (w) => counted(w.fh, 'FileHandle proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a ChildProcess', shared: true, make: (w) => counted(w.liveChild, 'child proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a promise', make: () => counted(new Promise(() => {}), 'promise proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a kqueue', shared: true, make: (w) => counted(w.other, 'kqueue proxy'), outcome: proxyOutcome },
  { name: 'thenable Proxy', make: () => counted({ then() { ran('proxied then'); } }, 'thenable proxy'), outcome: proxyOutcome },
  { name: 'Proxy of a function', make: () => counted(function f() {}, 'function proxy'), outcome: proxyOutcome },
  // A Proxy further up the prototype chain: instanceof (or reading the prototype's descriptors)
  // would run its traps.
  ...protoProxyClasses(),
  { name: 'revoked proxy', make: () => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; }, outcome: proxyOutcome },
  // Thenables (AIO): resolved after the call, never during it.
  { name: 'thenable whose then getter throws', make: () => withThrowingGetters({}, ['then'], 'thenable'), outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)) },
  { name: 'thenable that throws', make: () => ({ then() { throw new Error('then throws'); } }), outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)) },
  { name: 'thenable settling twice', make: () => ({ then(a: (v: number) => void, b: (e: unknown) => void) { a(1); b(new Error('twice')); a(2); } }), outcome: (f) => (f === EVFILT_AIO ? ok : unknownObject(f)) },
  { name: 'then is not a function', make: () => ({ then: 42 }), outcome: (f) => unknownObject(f) },
  // Paths.
  { name: 'path with NUL', make: (w) => `${w.file}\0suffix`, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'empty path', make: () => '', outcome: (f, x) => primitiveOutcome(x, f) },
  { name: '4 KiB path', make: (w) => path.join(w.dir, 'a'.repeat(4096 - w.dir.length - 2)), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'PATH_MAX+1 path', make: () => '/' + 'a/'.repeat(PATH_MAX / 2), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'long component', make: (w) => path.join(w.dir, 'n'.repeat(300)), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'missing path', make: (w) => path.join(w.dir, 'missing', 'file'), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'path through a file', make: (w) => path.join(w.file, 'below'), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'relative path', make: (w) => path.relative(process.cwd(), w.file2), outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'relative missing path', make: () => 'no/such/file/here', outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'directory path', make: (w) => w.dir, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'unknown signal name', make: () => 'SIGNOPE', outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'lower-case signal name', make: () => 'sigusr1', outcome: (f, x) => primitiveOutcome(x, f) },
  // Numbers: pids, fds and signal numbers out of every range.
  ...[-1, 0, 1, 1.5, -0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 65, 1e9, 99, 1e21,
    Number.MAX_VALUE, Number.MIN_VALUE, PID_MAX, PID_MAX + 1].map((n): IdentClass =>
    ({ name: `number ${n}`, make: () => n, outcome: (f, x) => primitiveOutcome(x, f) })),
  { name: 'our own pid', make: () => process.pid, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'a dead pid', make: (w) => w.child.pid! + 0.5, outcome: (f, x) => primitiveOutcome(x, f) },
  ...[-1n, 0n, 1n, 2n ** 31n, 2n ** 53n, 2n ** 63n, 2n ** 64n, -(2n ** 63n), BigInt(PID_MAX) + 1n].map((n): IdentClass =>
    ({ name: `bigint ${n}`, make: () => n, outcome: (f, x) => primitiveOutcome(x, f) })),
  { name: 'our own pid as bigint', make: () => BigInt(process.pid), outcome: (f, x) => primitiveOutcome(x, f) },
  // Other primitives.
  { name: 'symbol', make: () => Symbol.iterator, outcome: (f, x) => primitiveOutcome(x, f) },
  { name: 'true', make: () => true, outcome: (f, x) => byType(f, x) },
  { name: 'null', make: () => null, outcome: (f, x) => byType(f, x) },
  { name: 'undefined', make: () => undefined, outcome: (f, x) => byType(f, x) },
];

// ---- calls and their judgement ------------------------------------------------------------------

interface ChangeSpec { cls: number; filter: number; flags: number; frozen: boolean }
type Mode = 'sync' | 'async' | 'free';
interface CallSpec { changes: ChangeSpec[]; mode: Mode; room: 'ample' | 'exact' | 'none' }

interface Built { init: KEventInit; outcome: Outcome; cls: IdentClass }

const identCache = new Map<number, unknown>();
function identOf(i: number, w: World): unknown {
  const cls = CLASSES[i]!;
  if (!cls.shared) return cls.make(w);
  if (!identCache.has(i)) identCache.set(i, cls.make(w));
  return identCache.get(i);
}

/** The model's registry: knotes the fuzzed changes hold (filter and ident, SameValueZero). */
type Registry = Map<number, Map<unknown, true>>;
const registered = (r: Registry, f: number, x: unknown): boolean => r.get(f)?.has(x) === true;
function setRegistered(r: Registry, f: number, x: unknown, on: boolean): void {
  if (!r.has(f)) r.set(f, new Map());
  if (on) r.get(f)!.set(x, true);
  else r.get(f)!.delete(x);
}

function build(spec: ChangeSpec, w: World): Built {
  const cls = CLASSES[spec.cls]!;
  const ident = identOf(spec.cls, w);
  const udata = { udata: cls.name };
  const init: KEventInit = {
    ident: ident as K.Ident, filter: spec.filter, flags: spec.flags,
    // A period long enough that no fuzzed timer ever fires; NOTE_EXIT for processes.
    fflags: spec.filter === EVFILT_PROC ? NOTE_EXIT : 0, data: spec.filter === EVFILT_TIMER ? 1_000_000 : 0, udata,
  };
  return { init: spec.frozen ? Object.freeze(init) : init, outcome: cls.outcome(spec.filter, ident, w), cls };
}

const isKqErr = (e: unknown): e is K.KqueueError => e instanceof KqueueError;
const same = (a: unknown, b: unknown): boolean => a === b || (a !== a && b !== b);

/** The errnos a change may answer given the model (`has`: the knote exists). */
function allowedFor(b: Built, has: boolean): readonly number[] {
  const { init, outcome } = b;
  if (outcome.malformed) throw new Error('unreachable');
  if (has) return [0];
  if (init.flags! & EV_ADD) return outcome.add;
  // No knote and no EV_ADD: ENOENT, unless the descriptor lookup fails first (EBADF).
  return DESCRIPTOR.has(init.filter) && outcome.add.includes(EBADF) ? [ENOENT, EBADF] : [ENOENT];
}

/**
 * Judges one call against the model, updating `reg` with what it registered. Returns the events
 * the call collected, and whether the model knows exactly what was applied.
 */
function judge(built: Built[], nevents: number, result: KEvent[] | undefined, thrown: unknown, reg: Registry,
  where: string): { collected: KEvent[]; exact: boolean } {
  if (built.some((b) => b.outcome.malformed)) {
    assert.ok(isKqErr(thrown) && thrown.errno === EINVAL, `${where}: a malformed change must make the call EINVAL, got ${String(thrown ?? JSON.stringify(result?.map((e) => e.data)))}`);
    return { collected: [], exact: true };
  }
  if (thrown !== undefined && !isKqErr(thrown)) throw thrown;
  if (thrown !== undefined) return judgeNoRoom(built, nevents, thrown, reg, where);
  const entries = result!.filter((e) => e.flags === EV_ERROR);
  const collected = result!.filter((e) => e.flags !== EV_ERROR);
  let at = 0;
  for (let i = 0; i < built.length; i++) {
    const b = built[i]!;
    const { init } = b;
    const flags = init.flags!;
    const what = `${where}: change ${i} (${b.cls.name} on ${NAME[init.filter]}, flags 0x${flags.toString(16)})`;
    const has = registered(reg, init.filter, init.ident);
    const allowed = allowedFor(b, has);
    // Which answer did the call give? Its entry (udata is unique per change), or silence.
    const e = entries[at];
    if (e !== undefined && e.udata === init.udata) {
      assert.ok(same(e.ident, init.ident) && e.filter === init.filter, `${what}: its entry names another ident or filter`);
      const errno = e.data as number;
      at++;
      assert.ok(allowed.includes(errno), `${what}: answered errno ${errno}, the contract allows ${allowed.join('|')}`);
      if (errno === 0) {
        assert.ok(flags & EV_RECEIPT, `${what}: a receipt entry without EV_RECEIPT`);
        applyModel(reg, init, flags, has);
      }
      continue;
    }
    if (at >= nevents && (flags & EV_RECEIPT) && allowed.includes(0)) {
      // A successful receipt with no room ends the call: this change applied, later ones not.
      applyModel(reg, init, flags, has);
      assert.equal(at, entries.length, `${where}: entries left unexplained`);
      return { collected, exact: true };
    }
    assert.ok(allowed.includes(0) && (flags & EV_RECEIPT) === 0,
      `${what}: no entry, but the contract wants ${allowed.join('|')}${flags & EV_RECEIPT ? ' with a receipt' : ''} (entries: ${JSON.stringify(entries.map((x) => x.data))})`);
    applyModel(reg, init, flags, has);
  }
  assert.equal(at, entries.length, `${where}: entries left unexplained`);
  if (entries.some((x) => x.data !== 0)) assert.equal(collected.length, 0, `${where}: a call that posted an error collected events`);
  return { collected, exact: true };
}

/**
 * The call threw: some change failed with no room left in nevents (its entries are lost with the
 * exception). Replays the model while outcomes are certain; an uncertain one ends exactness.
 */
function judgeNoRoom(built: Built[], nevents: number, thrown: K.KqueueError, reg: Registry,
  where: string): { collected: KEvent[]; exact: boolean } {
  let posted = 0;
  const possible = new Set<number>();
  for (let i = 0; i < built.length; i++) {
    const b = built[i]!;
    const flags = b.init.flags!;
    const has = registered(reg, b.init.filter, b.init.ident);
    const allowed = allowedFor(b, has);
    for (const x of allowed) if (x !== 0) possible.add(x);
    if (allowed.includes(0) && allowed.length > 1) {
      // Uncertain from here on: the errno must be one that this or a later change may answer.
      for (const later of built.slice(i)) {
        for (const x of [...allowedFor(later, false), ...allowedFor(later, true)]) if (x !== 0) possible.add(x);
      }
      assert.ok(possible.has(thrown.errno), `${where}: threw ${thrown.code}, no change could fail with it`);
      return { collected: [], exact: false };
    }
    const fails = !allowed.includes(0);
    if (fails || (flags & EV_RECEIPT)) {
      if (posted >= nevents) {
        assert.ok(fails, `${where}: threw ${thrown.code} where a receipt with no room should end the call quietly`);
        assert.ok(allowed.includes(thrown.errno), `${where}: change ${i} (${b.cls.name} on ${NAME[b.init.filter]}) threw ${thrown.code}, the contract allows ${allowed.join('|')}`);
        return { collected: [], exact: true };
      }
      posted++;
    }
    if (!fails) applyModel(reg, b.init, flags, has);
  }
  assert.fail(`${where}: threw ${thrown.code} though every change had room`);
}

function applyModel(reg: Registry, init: KEventInit, flags: number, has: boolean): void {
  if ((flags & EV_DELETE) && !(flags & EV_ADD)) setRegistered(reg, init.filter, init.ident, false);
  else if (flags & EV_ADD) setRegistered(reg, init.filter, init.ident, true);
  else if (!has) throw new Error('unreachable: modification of a knote that does not exist succeeded');
}

/** Runs one call in the given mode; `userRuns` is checked before any turn of the event loop. */
async function call(w: World, list: KEventInit[], nevents: number, mode: Mode, where: string): Promise<{ result?: KEvent[]; thrown?: unknown }> {
  userRuns = 0;
  userLog.length = 0;
  let p: Promise<KEvent[]> | undefined;
  let result: KEvent[] | undefined;
  let thrown: unknown;
  try {
    if (mode === 'sync') result = w.kq.keventSync(list, nevents);
    else p = mode === 'async' ? w.kq.kevent(list, nevents, 0) : kevent(w.kq, list, nevents, 0);
  } catch (e) {
    thrown = e;
  }
  assert.equal(userRuns, 0, `${where}: the caller's code ran during the call: ${userLog.join(', ')}`);
  if (p !== undefined) {
    try {
      result = await p;
    } catch (e) {
      thrown = e;
    }
  }
  return { result, thrown };
}

/**
 * Deletes every knote the model holds and checks each deletion, and that nothing is registered
 * for a change the model says failed (so the model is verified too). When the model could not
 * tell (`exact` false: a call that threw for want of room after a change of uncertain outcome),
 * whatever is registered is deleted.
 */
function cleanup(w: World, reg: Registry, built: Built[], exact: boolean, where: string): void {
  userRuns = 0;
  const done: Registry = new Map();
  for (const b of built) {
    const f = b.init.filter;
    const x = b.init.ident;
    if (b.outcome.malformed || registered(done, f, x)) continue;
    setRegistered(done, f, x, true);
    const r = w.kq.keventSync([{ ident: x, filter: f, flags: EV_DELETE | EV_RECEIPT }], 1);
    assert.equal(r.length, 1, `${where}: deleting ${b.cls.name} on ${NAME[f]}`);
    if (!exact) continue;
    if (registered(reg, f, x)) {
      // A numeric fd that the library's own descriptor had taken is closed once the knote owning that
      // descriptor goes (cleanup order): its knotes went with it, as close(2) takes them.
      if (typeof x === 'number' && DESCRIPTOR.has(f) && r[0]!.data === EBADF) continue;
      assert.equal(r[0]!.data, 0, `${where}: ${b.cls.name} on ${NAME[f]} should be registered, deletion answered ${r[0]!.data}`);
    } else {
      assert.notEqual(r[0]!.data, 0, `${where}: ${b.cls.name} on ${NAME[f]} was left registered`);
    }
  }
  assert.equal(userRuns, 0, `${where}: the caller's code ran during a deletion: ${userLog.join(', ')}`);
}

// ---- the witnesses ------------------------------------------------------------------------------

/**
 * Every witness is still registered with its udata; the level ones (READ, WRITE, EXCEPT with
 * bytes pending, a triggered USER, a timer after an advance of its period) fire with their exact
 * images, and nothing else fires. `extra` are events a fuzzed call collected.
 */
function checkWitnesses(w: World, extra: KEvent[], where: string): void {
  for (const e of extra) {
    assert.ok(w.idents.has(e.ident) || e.filter === EVFILT_AIO || e.filter === EVFILT_FS || e.filter === EVFILT_READ || e.filter === EVFILT_WRITE || e.filter === EVFILT_EXCEPT,
      `${where}: a collected event for an ident never registered: ${NAME[e.filter]}`);
    const wit = w.witnesses.find((x) => x.ident === e.ident && x.filter === e.filter);
    if (wit !== undefined) assert.equal(e.udata, wit.udata, `${where}: the ${NAME[wit.filter]} witness lost its udata`);
  }
  w.clock.advance(10);
  const evs = w.kq.keventSync(null, 64);
  const level = w.witnesses.filter((x) => x.level);
  for (const wit of level) {
    const e = evs.filter((x) => x.ident === wit.ident && x.filter === wit.filter);
    assert.equal(e.length, 1, `${where}: the ${NAME[wit.filter]} witness did not fire (events: ${evs.map((x) => NAME[x.filter]).join(',')})`);
    assert.equal(e[0]!.udata, wit.udata, `${where}: the ${NAME[wit.filter]} witness lost its udata`);
    if (wit.filter === EVFILT_READ || wit.filter === EVFILT_EXCEPT) assert.equal(e[0]!.data, PENDING.length, `${where}: READ witness data`);
    if (wit.filter === EVFILT_TIMER) assert.equal(e[0]!.data, 1, `${where}: the timer witness expired ${e[0]!.data} times in one period`);
    if (wit.filter === EVFILT_USER) assert.equal(e[0]!.flags & EV_ERROR, 0);
  }
  // EVFILT_FS may fire at any time: other processes on the machine mount and unmount.
  const strangers = evs.filter((x) => x.filter !== EVFILT_FS && !level.some((wit) => wit.ident === x.ident && wit.filter === x.filter));
  for (const e of evs) if (e.filter === EVFILT_FS && w.idents.has(e.ident)) assert.equal(e.udata, w.witnesses.find((x) => x.filter === EVFILT_FS)!.udata);
  assert.deepEqual(strangers.map((x) => `${NAME[x.filter]} ${String(x.ident)}`), [], `${where}: unexpected events after the call`);
  // The others: still registered (a modification with the same fflags, data and udata changes nothing).
  const quiet = w.witnesses.filter((x) => !x.level);
  const r = w.kq.keventSync(quiet.map((x) => ({ ident: x.ident, filter: x.filter, flags: EV_ENABLE | EV_RECEIPT, fflags: x.fflags, data: x.data, udata: x.udata })), 64);
  assert.deepEqual(r.map((x) => [NAME[x.filter], x.data]), quiet.map((x) => [NAME[x.filter], 0]), `${where}: a quiet witness is gone`);
}

/** Makes the quiet witnesses' sources fire (a write, a signal) and waits for their exact events. */
async function fireQuietWitnesses(w: World, where: string): Promise<void> {
  fs.appendFileSync(w.file, 'y');
  process.kill(process.pid, WITNESS_SIGNAL);
  const seen = new Map<number, KEvent>();
  await until(() => {
    for (const e of w.kq.keventSync(null, 64)) if (e.filter === EVFILT_VNODE || e.filter === EVFILT_SIGNAL) seen.set(e.filter, e);
    return seen.size === 2;
  }, `${where}: VNODE and SIGNAL witnesses fire`);
  const v = seen.get(EVFILT_VNODE)!;
  assert.ok(v.fflags & NOTE_WRITE);
  assert.equal(v.udata, w.witnesses.find((x) => x.filter === EVFILT_VNODE)!.udata);
  const s = seen.get(EVFILT_SIGNAL)!;
  assert.ok((s.data as number) >= 1);
  assert.equal(s.udata, w.witnesses.find((x) => x.filter === EVFILT_SIGNAL)!.udata);
}

// ---- arbitraries --------------------------------------------------------------------------------

const FLAGS = [EV_ADD, EV_ADD | EV_RECEIPT, EV_ADD | EV_DISABLE, EV_ADD | EV_CLEAR | EV_RECEIPT, EV_ADD | EV_DISPATCH,
  EV_DELETE, EV_DELETE | EV_RECEIPT, EV_ENABLE | EV_RECEIPT, EV_DISABLE];
const changeArb = (classes: fc.Arbitrary<number>): fc.Arbitrary<ChangeSpec> => fc.record({
  cls: classes,
  filter: fc.constantFrom(...FILTERS),
  flags: fc.constantFrom(...FLAGS),
  frozen: fc.boolean(),
});
const callArb = (classes: fc.Arbitrary<number>): fc.Arbitrary<CallSpec> => fc.record({
  changes: fc.array(changeArb(classes), { minLength: 1, maxLength: 6 }),
  mode: fc.constantFrom<Mode>('sync', 'sync', 'async', 'free'),
  room: fc.constantFrom<'ample' | 'exact' | 'none'>('ample', 'ample', 'exact', 'none'),
});
const anyClass = fc.nat(CLASSES.length - 1);

async function runCall(w: World, spec: CallSpec, where: string): Promise<void> {
  const built = spec.changes.map((c) => build(c, w));
  const nevents = spec.room === 'ample' ? 64 : spec.room === 'exact' ? Math.max(0, built.length - 1) : 0;
  const reg: Registry = new Map();
  const { result, thrown } = await call(w, built.map((b) => b.init), nevents, spec.mode, where);
  const { collected, exact } = judge(built, nevents, result, thrown, reg, where);
  cleanup(w, reg, built, exact, where);
  checkWitnesses(w, collected, where);
}

// ---- the tests ----------------------------------------------------------------------------------

const watchedSignals = [WITNESS_SIGNAL, 'SIGWINCH', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGUSR2', 'SIGCHLD'];
function listenerCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of watchedSignals) out[s] = process.listenerCount(s);
  return out;
}

before(async () => {
  baseLinks = fdLinks();
  baseline = { fds: fdCount(), watches: inotifyWatches(), timers: liveTimerCount(), listeners: listenerCounts() };
  world = await makeWorld();
  checkWitnesses(world, [], 'before any call');
});

after(async () => {
  const w = world;
  let teardownFailure: unknown;
  try {
    // The last sources fire: the PROC and AIO witnesses must still be there to see it.
    w.settle();
    w.child.kill('SIGKILL');
    const seen = new Map<number, KEvent>();
    await until(() => {
      for (const e of w.kq.keventSync(null, 64)) if (e.filter === EVFILT_PROC || e.filter === EVFILT_AIO) seen.set(e.filter, e);
      return seen.size === 2;
    }, 'the PROC and AIO witnesses fire');
    assert.ok(seen.get(EVFILT_PROC)!.fflags & NOTE_EXIT);
    assert.equal(seen.get(EVFILT_PROC)!.udata, w.witnesses.find((x) => x.filter === EVFILT_PROC)!.udata);
    assert.equal(seen.get(EVFILT_AIO)!.udata, w.witnesses.find((x) => x.filter === EVFILT_AIO)!.udata);
    await fireQuietWitnesses(w, 'at the end');
  } finally {
    // Each step on its own: a failure (a kqueue left inconsistent) must not keep the rest alive.
    gettersArmed = false;
    const steps = [() => w.kq.close(), () => w.other.close(), ...w.cleanups, () => w.child.kill('SIGKILL'), () => w.liveChild.kill('SIGKILL')];
    const failed: unknown[] = [];
    for (const step of steps) {
      try {
        step();
      } catch (e) {
        failed.push(e);
      }
    }
    if (failed.length !== 0) {
      for (const s of [w.wa, w.wb, w.la, w.lb, ...w.serverSide]) s.destroy();
      w.server.close();
    }
    teardownFailure = failed[0];
  }
  if (teardownFailure !== undefined) throw teardownFailure;
  const sockets = [w.wa, w.wb, w.la, w.lb];
  try {
    sockets.forEach((s, i) => {
      assert.deepEqual(socketListenerCounts(s), w.socketListeners[i], 'a listener was left on a socket');
      assert.equal(Object.prototype.hasOwnProperty.call(s, 'push') || Object.prototype.hasOwnProperty.call(s, 'destroy'), false, 'a hook was left on a socket');
    });
  } finally {
    for (const s of [...sockets, ...w.serverSide]) s.destroy();
    w.server.close();
    fs.closeSync(w.fd);
    await w.fh.close();
    if (w.liveChild.exitCode === null && w.liveChild.signalCode === null) await once(w.liveChild, 'exit');
    await Promise.all(w.exits);
    fs.rmSync(w.dir, { recursive: true, force: true });
  }
  assert.deepEqual(listenerCounts(), baseline.listeners, 'a signal listener was left installed');
  assert.equal(liveTimerCount(), baseline.timers, 'a timer knote was left armed');
  await until(() => procPollState().sources === 0 && !procPollState().timer, 'the PROC poller gives everything back');
  await until(() => inotifyWatches() === baseline.watches, `inotify watches back to the baseline (${baseline.watches})`);
  await until(() => fdCount() <= baseline.fds, `fds back to the baseline (${baseline.fds}, now ${fdLinks().join(' ')})`).catch((e) => { console.log(baseLinks.join(' ')); throw e; });
});

test('directed: every ident class on every filter, alone, with and without EV_RECEIPT, leaves the witnesses untouched', async () => {
  let n = 0;
  for (let i = 0; i < CLASSES.length; i++) {
    for (const filter of FILTERS) {
      for (const flags of [EV_ADD | EV_RECEIPT, EV_ADD, EV_DELETE]) {
        for (const mode of ['sync', 'async'] as const) {
          if (mode === 'async' && flags !== EV_ADD) continue;
          await runCall(world, { changes: [{ cls: i, filter, flags, frozen: false }], mode, room: 'ample' }, `${CLASSES[i]!.name} on ${NAME[filter]} flags ${flags}`);
          n++;
        }
      }
    }
  }
  await fireQuietWitnesses(world, 'after the directed sweep');
  assert.ok(n > CLASSES.length * FILTERS.length * 3);
});

test('directed: each hostile ident between two valid changes in one changelist, via keventSync and kevent()', async () => {
  const valid = CLASSES.findIndex((c) => c.name === 'fresh symbol');
  for (let i = 0; i < CLASSES.length; i++) {
    for (const filter of FILTERS) {
      const changes: ChangeSpec[] = [
        { cls: valid, filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT, frozen: false },
        { cls: i, filter, flags: EV_ADD, frozen: true },
        { cls: valid, filter: EVFILT_TIMER, flags: EV_ADD, frozen: false },
      ];
      await runCall(world, { changes, mode: filter % 2 === 0 ? 'sync' : 'free', room: 'ample' }, `mixed ${CLASSES[i]!.name} on ${NAME[filter]}`);
      // With no room for its error, the hostile change ends the call: the first applied, the last not.
      await runCall(world, { changes, mode: 'sync', room: 'none' }, `no room: ${CLASSES[i]!.name} on ${NAME[filter]}`);
    }
  }
  await fireQuietWitnesses(world, 'after the mixed sweep');
});

test('directed: an object whose prototype chain holds a Proxy is refused on every filter without running a trap', () => {
  const w = world;
  for (const [what, ident] of protoProxies(w)) {
    for (const filter of FILTERS) {
      userRuns = 0;
      userLog.length = 0;
      const r = w.kq.keventSync([{ ident, filter, flags: EV_ADD | EV_RECEIPT, fflags: filter === EVFILT_PROC ? NOTE_EXIT : 0, data: 1000 }], 1);
      assert.equal(userRuns, 0, `under ${what} on ${NAME[filter]}: traps ran: ${userLog.join(', ')}`);
      assert.equal(r.length, 1);
      const out = proxyOutcome(filter);
      assert.ok(!out.malformed && out.add.includes(r[0]!.data as number), `under ${what} on ${NAME[filter]}: errno ${r[0]!.data}`);
      w.kq.keventSync([{ ident, filter, flags: EV_DELETE | EV_RECEIPT }], 1);
      assert.equal(userRuns, 0, `under ${what} on ${NAME[filter]}: traps ran on deletion: ${userLog.join(', ')}`);
    }
  }
  checkWitnesses(w, [], 'after the prototype-chain proxies');
});

test('directed: a ChildProcess whose pid or exit fields are throwing getters is ESRCH, runs no getter, and leaves no half-made knote', async (t) => {
  const w = world;
  const kq = kqueue();
  t.after(() => kq.close());
  const idents = ['pid', 'exitCode', 'signalCode'].map((k) => childWithGetter(w, k as 'pid'));
  idents.push(Object.defineProperty(Object.create(Object.getPrototypeOf(w.child) as object) as object, 'pid', armedGetter('created child.pid', 1)) as ChildProcess);
  // The library indexes new children in a microtask: it must not read the getter there either.
  await new Promise((r) => setImmediate(r));
  for (const ident of idents) {
    userRuns = 0;
    userLog.length = 0;
    const r = kq.keventSync([
      { ident, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT },
      { ident: Symbol('after'), filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT },
    ], 4);
    assert.equal(userRuns, 0, `getters ran: ${userLog.join(', ')}`);
    assert.deepEqual(r.map((e) => [e.filter, e.data]), [[EVFILT_PROC, ESRCH], [EVFILT_USER, 0]]);
    // Not registered: a deletion finds nothing, and closing the kqueue detaches nothing half made.
    assert.equal(kq.keventSync([{ ident, filter: EVFILT_PROC, flags: EV_DELETE | EV_RECEIPT }], 1)[0]!.data, ENOENT);
  }
  // The pid of a child with a pid getter still names it (as a number: another knote).
  assert.deepEqual(kq.keventSync([{ ident: w.liveChild.pid!, filter: EVFILT_PROC, flags: EV_ADD | EV_RECEIPT, fflags: NOTE_EXIT }], 1).map((e) => e.data), [0]);
  kq.close();
  checkWitnesses(w, [], 'after the ChildProcess getters');
});

test('directed: a socket, stream or server with a throwing own getter is EBADF on every descriptor filter, runs no getter, and the rest of the changelist applies', (t) => {
  const w = world;
  const kq = kqueue();
  t.after(() => kq.close());
  for (const [what, ident] of streamsWithGetters(w)) {
    for (const filter of [EVFILT_READ, EVFILT_WRITE, EVFILT_EXCEPT, EVFILT_VNODE]) {
      userRuns = 0;
      userLog.length = 0;
      const before = Symbol('before');
      let r: KEvent[] = [];
      assert.doesNotThrow(() => {
        r = kq.keventSync([
          { ident: before, filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT },
          { ident, filter, flags: EV_ADD },
          { ident: Symbol('after'), filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT },
        ], 4);
      }, `${what} on ${NAME[filter]}`);
      assert.equal(userRuns, 0, `${what} on ${NAME[filter]}: getters ran: ${userLog.join(', ')}`);
      assert.deepEqual(r.map((e) => [e.filter, e.data]), [[EVFILT_USER, 0], [filter, EBADF], [EVFILT_USER, 0]], `${what} on ${NAME[filter]}`);
    }
  }
  kq.close();
  checkWitnesses(w, [], 'after the stream getters');
});

test('fuzz: random changelists of hostile and valid idents on every filter leave the witnesses untouched', { timeout: 120_000 }, async () => {
  let calls = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(callArb(anyClass), { minLength: 1, maxLength: 4 }), async (specs) => {
      for (const spec of specs) await runCall(world, spec, `fuzz call ${++calls}`);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  await fireQuietWitnesses(world, 'after the fuzz');
});
