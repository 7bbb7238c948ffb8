import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EV_ADD, EV_EOF, EVFILT_READ, Kqueue, NOTE_LOWAT, type KEvent } from '../../src/index.js';

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
