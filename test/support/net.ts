import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  accept, ECONNRESET, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EVFILT_READ, Kqueue, NOTE_LOWAT, type KEvent,
} from '../../src/index.js';

/** A connected pair: `a` made by connect(), `b` accepted by a server that is closed at once. */
export interface Pair { a: net.Socket; b: net.Socket }

/** A listening TCP server on loopback, closed (with its connections destroyed) when the test ends. */
export async function tcpServer(t: TestContext, options: net.ServerOpts = {}): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer(options);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // Not awaited: close() calls back only once every connection is gone, which later hooks do.
  t.after(() => { server.close(); });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A listening Unix-socket server in a temp dir, removed when the test ends. */
export async function unixServer(t: TestContext, options: net.ServerOpts = {}): Promise<{ server: net.Server; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kq-unix-'));
  const path = join(dir, 's');
  const server = net.createServer(options);
  server.listen(path);
  await once(server, 'listening');
  t.after(() => { server.close(() => rmSync(dir, { recursive: true, force: true })); });
  return { server, path };
}

async function pairOn(t: TestContext, server: net.Server, connect: () => net.Socket): Promise<Pair> {
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const a = connect();
  const [[b]] = await Promise.all([accepted, once(a, 'connect')]);
  t.after(() => {
    a.destroy();
    b.destroy();
  });
  return { a, b };
}

/** A connected loopback TCP pair; both ends destroyed when the test ends. */
export async function tcpPair(t: TestContext, options: net.ServerOpts = {}): Promise<Pair> {
  const { server, port } = await tcpServer(t, options);
  const pair = await pairOn(t, server, () => net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen }));
  return pair;
}

/** A connected Unix-socket pair. */
export async function unixPair(t: TestContext, options: net.ServerOpts = {}): Promise<Pair> {
  const { server, path } = await unixServer(t, options);
  return pairOn(t, server, () => net.connect({ path, allowHalfOpen: options.allowHalfOpen }));
}

/** Resolves once `s` has written everything it was given (the write callback ran). */
export function written(s: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}


/**
 * Waits, on a kqueue of its own, until `s` has at least `n` bytes buffered for reading (or has
 * reached EOF), so that a test can then assert what its own knotes do and do not report.
 */
export async function buffered(s: object, n: number, timeout = 5000): Promise<KEvent> {
  const probe = new Kqueue();
  try {
    probe.keventSync([{ ident: s, filter: EVFILT_READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: n }], 0);
    const [ev] = await probe.kevent(null, 1, timeout);
    if (ev === undefined) throw new Error(`${n} bytes did not arrive within ${timeout} ms`);
    return ev;
  } finally {
    probe.close();
  }
}

/** Waits on a kqueue of its own until READ on `s` reports EV_EOF; returns that event. */
export async function eofSeen(s: object, timeout = 5000): Promise<KEvent> {
  const probe = new Kqueue();
  const deadline = Date.now() + timeout;
  try {
    probe.keventSync([{ ident: s, filter: EVFILT_READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: Number.MAX_SAFE_INTEGER }], 0);
    for (;;) {
      const [ev] = await probe.kevent(null, 1, Math.max(0, deadline - Date.now()));
      if (ev === undefined) throw new Error(`no EOF within ${timeout} ms`);
      if (ev.flags & EV_EOF) return ev;
    }
  } finally {
    probe.close();
  }
}

/** What `resetStorm` saw. */
export interface StormResult {
  /** Connections accepted through the server's READ knote (all of them). */
  accepted: number;
  /** Accepted sockets seen with EV_EOF (all of them). */
  eofs: number;
  /** Of those, how many carried ECONNRESET in fflags (the rest saw the reset as a plain end). */
  resets: number;
  /** Events harvested after the resets (one per socket with EV_CLEAR, unless Node saw it twice). */
  events: number;
  /** Milliseconds to connect and accept, and from the resets until the last EV_EOF. */
  setupMs: number;
  resetMs: number;
}

/**
 * `n` loopback TCP connections opened at once, each accepted through a READ knote on the server
 * and watched with READ (EV_CLEAR) in the same kqueue, then every client reset at once; resolves
 * once every accepted socket has been seen with EV_EOF. The fast size runs in `npm test`
 * (test/reliability/sockets.test.ts); the soak runs it at full size. Throws if a wait of
 * `timeoutMs` brings nothing before the counts are complete. Leaves the server listening and
 * the accepted sockets as Node left them (destroyed by Node after their reset); the caller closes
 * the kqueue and the server.
 */
export async function resetStorm(kq: Kqueue, server: net.Server, n: number, timeoutMs = 10_000): Promise<StormResult> {
  const { port } = server.address() as net.AddressInfo;
  const t0 = performance.now();
  kq.keventSync([{ ident: server, filter: EVFILT_READ, flags: EV_ADD }], 0);
  const clients: net.Socket[] = [];
  let connected = 0;
  const allConnected = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < n; i++) {
      const c = net.connect({ port, host: '127.0.0.1' });
      c.on('error', () => {}); // the reset is ours
      c.once('connect', () => { if (++connected === n) resolve(); });
      c.once('close', () => { if (connected < n && c.pending) reject(new Error('a client failed to connect')); });
      clients.push(c);
    }
  });
  const accepted = new Set<net.Socket>();
  while (accepted.size < n) {
    const evs = await kq.kevent(null, 64, timeoutMs);
    if (evs.length === 0) throw new Error(`only ${accepted.size} of ${n} connections were accepted`);
    for (const ev of evs) {
      if (ev.ident !== server) continue;
      const changes = [];
      for (let s = accept(server); s !== undefined; s = accept(server)) {
        accepted.add(s);
        changes.push({ ident: s, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
      }
      kq.keventSync(changes, 0);
    }
  }
  await allConnected;
  kq.keventSync([{ ident: server, filter: EVFILT_READ, flags: EV_DELETE }], 0);
  const t1 = performance.now();
  for (const c of clients) c.resetAndDestroy();
  const eof = new Set<unknown>();
  let resets = 0;
  let events = 0;
  while (eof.size < n) {
    const evs = await kq.kevent(null, 256, timeoutMs);
    if (evs.length === 0) throw new Error(`only ${eof.size} of ${n} resets were seen`);
    for (const ev of evs) {
      events++;
      if (!accepted.has(ev.ident as net.Socket)) throw new Error('an event for a socket that is not ours');
      if ((ev.flags & EV_EOF) === 0 || eof.has(ev.ident)) continue;
      eof.add(ev.ident);
      if (ev.fflags === ECONNRESET) resets++;
    }
  }
  return {
    accepted: accepted.size, eofs: eof.size, resets, events,
    setupMs: t1 - t0, resetMs: performance.now() - t1,
  };
}
