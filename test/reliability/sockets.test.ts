// Source faults on sockets, servers, streams and dgram sockets (issue 10, scope item 1): peer
// resets, half-closes in each direction, writes after the peer closed, a server closed with
// connections still queued, sockets destroyed from inside the loop that harvests them, a storm of
// resets, a stream whose other end dies and a dgram socket closed under its knotes. Each test
// states the outcome the docs promise (docs/filters/{socket,server,stream,dgram}.md, "Faults")
// and checks that nothing is left behind: no knote, no listener of ours, no socket.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, createReadStream, createWriteStream } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accept, EBADF, ECONNRESET, EPIPE, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_ENABLE, EV_EOF, EV_NODATA,
  EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ, EVFILT_USER, EVFILT_WRITE, NOTE_TRIGGER, recvfrom,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { engineOf } from '../../src/kqueue.js';
import { change, failure } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import { buffered, eofSeen, type Pair, resetStorm, tcpPair, tcpServer, unixPair, unixServer } from '../support/net.js';

const READ = EVFILT_READ;
const WRITE = EVFILT_WRITE;

/** Every knote the kqueue holds, on every filter. */
function knotes(kq: Kqueue): number {
  let n = 0;
  for (const table of engineOf(kq).knotes) n += table?.all().length ?? 0;
  return n;
}

/** The events a stream or socket can have listeners for, ours included. */
const EVENTS = ['error', 'close', 'readable', 'data', 'end', 'drain', 'finish', 'connect', 'message', 'connection', 'listening'];
function listeners(e: { listenerCount(name: string): number }): number[] {
  return EVENTS.map((name) => e.listenerCount(name));
}
/** Own properties a method hook of ours would leave on the object. */
function hooks(o: object): string[] {
  return ['push', 'end', 'destroy', 'close'].filter((m) => Object.hasOwn(o, m));
}

/**
 * Harvests until `filter` on `ident` has had its last delivery (EV_ONESHOT); returns every event
 * seen for that ident meanwhile. Each wait is generous: a pass never depends on timing.
 */
async function untilLast(kq: Kqueue, ident: unknown, filter: number): Promise<KEvent[]> {
  const seen: KEvent[] = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const evs = await kq.kevent(null, 64, Math.max(0, deadline - Date.now()));
    if (evs.length === 0) throw new Error('the last delivery never came');
    for (const ev of evs) if (ev.ident === ident) seen.push(ev);
    if (evs.some((e) => e.ident === ident && e.filter === filter && e.flags & EV_ONESHOT)) return seen;
    // Level knotes come back at every harvest: let I/O run before the next one.
    await new Promise((r) => setImmediate(r));
  }
}

/** Harvests until each of `idents` has had the last delivery of its `filter` knote; returns those. */
async function untilAllLast(kq: Kqueue, idents: unknown[], filter: number): Promise<Map<unknown, KEvent>> {
  const last = new Map<unknown, KEvent>();
  const deadline = Date.now() + 10_000;
  while (last.size < idents.length) {
    const evs = await kq.kevent(null, 64, Math.max(0, deadline - Date.now()));
    if (evs.length === 0) throw new Error(`${idents.length - last.size} last deliveries never came`);
    for (const ev of evs) if (ev.filter === filter && ev.flags & EV_ONESHOT && idents.includes(ev.ident)) last.set(ev.ident, ev);
    await new Promise((r) => setImmediate(r));
  }
  return last;
}

/** Harvests until `pick` finds an event in a batch; fails after 10 s without one. */
async function until(kq: Kqueue, pick: (e: KEvent) => boolean): Promise<KEvent> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const evs = await kq.kevent(null, 64, Math.max(0, deadline - Date.now()));
    if (evs.length === 0) throw new Error('the awaited event never came');
    const ev = evs.find(pick);
    if (ev !== undefined) return ev;
    await new Promise((r) => setImmediate(r));
  }
}

/** 'close' of an emitter (at once if a stream has closed already), without events.once (which rejects on an 'error' first). */
function closed(s: { once(name: 'close', fn: () => void): unknown; closed?: boolean }): Promise<void> {
  return new Promise((r) => { if (s.closed === true) r(); else s.once('close', () => r()); });
}

/** A deterministic byte pattern: byte i of the stream is i % 251. */
function pattern(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) % 251;
  return b;
}

const kinds: [string, (t: TestContext, o?: net.ServerOpts) => Promise<Pair>][] = [
  ['TCP', tcpPair],
  ['Unix', unixPair],
];

// ---- peer reset ---------------------------------------------------------------------------

test('a reset while bytes are unread: READ\'s last delivery has EV_EOF, ECONNRESET and data = the bytes, which stay readable', async (t) => {
  const kq = openKqueue(t);
  const { a, b } = await tcpPair(t);
  const before = listeners(b);
  change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD | EV_CLEAR });
  a.write('hello');
  await buffered(b, 5);
  a.resetAndDestroy();
  const seen = await untilLast(kq, b, READ);
  const reads = seen.filter((e) => e.filter === READ);
  for (const ev of reads) assert.equal(ev.data, 5, 'the 5 bytes are counted until the end');
  const last = reads.at(-1)!;
  assert.equal(last.flags, EV_ADD | EV_EOF | EV_ONESHOT, 'EV_EOF with data: no EV_NODATA');
  assert.equal(last.fflags, ECONNRESET);
  const w = seen.find((e) => e.filter === WRITE && e.flags & EV_ONESHOT) ?? (await untilLast(kq, b, WRITE)).at(-1)!;
  assert.equal(w.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.equal(w.fflags, ECONNRESET);
  assert.ok(b.destroyed);
  assert.equal(String(b.read()), 'hello', 'what was buffered is still read after the reset');
  assert.equal(kq.pending, 0);
  assert.equal(knotes(kq), 0);
  await closed(b);
  assert.deepEqual(listeners(b), before, 'no listener of ours is left');
  assert.deepEqual(hooks(b), []);
});

test('a reset with the READ knote disabled: enabling it after reading the bytes reports what is left (0, EV_NODATA)', async (t) => {
  const kq = openKqueue(t);
  const { a, b } = await tcpPair(t);
  change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_DISABLE });
  a.write('abc');
  await buffered(b, 3);
  a.resetAndDestroy();
  await closed(b);
  assert.equal(kq.pending, 0, 'a disabled knote waits');
  assert.equal(String(b.read()), 'abc');
  change(kq, { ident: b, filter: READ, flags: EV_ENABLE });
  const [ev] = kq.keventSync(null, 10);
  assert.equal(ev?.fflags, ECONNRESET);
  assert.equal(ev?.data, 0, 'the bytes were read meanwhile');
  assert.equal(ev?.flags, EV_ADD | EV_DISABLE | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.equal(knotes(kq), 0);
});

test('a reset mid-stream: every byte counted in data is read, in order, then EV_EOF with ECONNRESET', async (t) => {
  const kq = openKqueue(t);
  const { a, b } = await tcpPair(t);
  change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_CLEAR });
  // The writer keeps the socket full; the reader resets it once 256 KiB have arrived.
  let sent = 0;
  const pump = (): void => {
    while (!a.destroyed && a.write(pattern(sent, 16384))) sent += 16384;
    if (!a.destroyed) sent += 16384;
  };
  a.on('drain', pump);
  a.on('error', () => {});
  pump();
  let got = 0;
  let last: KEvent | undefined;
  const deadline = Date.now() + 10_000;
  while (last === undefined) {
    const evs = await kq.kevent(null, 10, Math.max(0, deadline - Date.now()));
    assert.ok(evs.length > 0, 'the stream stalled');
    for (const ev of evs) {
      assert.equal(ev.ident, b);
      if (ev.flags & EV_ONESHOT) last = ev;
      assert.equal(ev.data, b.readableLength, 'data is what is buffered');
      const chunk = b.read() as Buffer | null;
      assert.equal(chunk?.length ?? 0, ev.data, 'and all of it can be read');
      if (chunk !== null) {
        assert.ok(chunk.equals(pattern(got, chunk.length)), 'in order, nothing lost or invented');
        got += chunk.length;
      }
      if (got >= 1 << 18 && !a.destroyed) a.resetAndDestroy();
    }
  }
  assert.ok(last.flags & EV_EOF);
  assert.equal(last.fflags, ECONNRESET);
  assert.ok(got <= sent);
  assert.equal(knotes(kq), 0);
});

// ---- half-close ---------------------------------------------------------------------------

for (const [kind, pair] of kinds) {
  test(`${kind}: the peer's end() after more than a buffer's worth: EV_EOF once the data is drained; WRITE stays usable (allowHalfOpen)`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t, { allowHalfOpen: true });
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD });
    const total = 4 * b.readableHighWaterMark + 123;
    a.end(pattern(0, total));
    let got = 0;
    let eof: KEvent | undefined;
    const deadline = Date.now() + 10_000;
    while (eof === undefined || eof.data !== 0) {
      const evs = await kq.kevent(null, 10, Math.max(0, deadline - Date.now()));
      const r = evs.find((e) => e.filter === READ);
      const w = evs.find((e) => e.filter === WRITE);
      assert.ok(w !== undefined && (w.flags & EV_EOF) === 0, 'WRITE is ready and not at EOF');
      if (r === undefined) {
        await new Promise((res) => setImmediate(res));
        continue;
      }
      if (r.flags & EV_EOF) {
        if (eof === undefined) assert.equal(got + (r.data as number), total, 'EV_EOF only once every byte left the kernel');
        eof = r;
      }
      const chunk = b.read() as Buffer | null;
      if (chunk !== null) got += chunk.length;
      if (!(r.flags & EV_EOF)) await new Promise((res) => setImmediate(res));
    }
    assert.equal(got, total);
    assert.equal(eof.flags, EV_ADD | EV_EOF | EV_NODATA);
    assert.equal(eof.fflags, 0);
    assert.ok(!b.destroyed, 'half-open: the socket lives on');
    // The send side still works: the peer reads what we write after its end.
    let reply = '';
    a.setEncoding('utf8').on('data', (d: string) => { reply += d; });
    const ended = once(a, 'end');
    b.end('reply');
    const [w] = kq.keventSync(null, 10).filter((e) => e.filter === WRITE);
    assert.equal(w?.flags, EV_ADD | EV_EOF | EV_NODATA, 'our end() is a shutdown: WRITE at EOF at once');
    assert.equal(w?.fflags, 0);
    await ended;
    assert.equal(reply, 'reply');
    // Both directions done: Node destroys the socket, and each knote gets its last delivery.
    const seen = await untilLast(kq, b, READ);
    const wl = seen.find((e) => e.filter === WRITE && e.flags & EV_ONESHOT) ?? (await untilLast(kq, b, WRITE)).at(-1);
    assert.equal(wl?.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(knotes(kq), 0);
  });

  test(`${kind}: the peer's end() without allowHalfOpen: Node ends our side once all is read, WRITE reports EV_EOF with fflags 0`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD });
    a.end('bye');
    await eofSeen(b);
    assert.equal(String(b.read()), 'bye');
    const seen = await untilLast(kq, b, WRITE);
    const w = seen.filter((e) => e.filter === WRITE);
    assert.ok(w.some((e) => e.flags & EV_EOF), 'WRITE saw the shutdown Node made');
    for (const e of w) assert.equal(e.fflags, 0);
    if (knotes(kq) !== 0) await untilLast(kq, b, READ);
    assert.equal(knotes(kq), 0);
    assert.ok(b.destroyed);
  });

  test(`${kind}: our own end(): WRITE is EV_EOF at once with fflags 0; READ keeps reporting the peer's bytes, then its end`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t, { allowHalfOpen: true });
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD | EV_CLEAR });
    assert.equal(kq.keventSync(null, 10)[0]?.flags, EV_ADD | EV_CLEAR, 'writable before');
    b.end();
    const [w] = kq.keventSync(null, 10);
    assert.equal(w?.filter, WRITE);
    assert.equal(w?.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA);
    assert.equal(w?.fflags, 0);
    assert.equal(w?.data, b.writableHighWaterMark - b.writableLength, 'data: the room, as filt_sowrite reports it');
    a.resume();
    await once(a, 'end'); // our FIN reached the peer, which stays open to write
    a.pause();
    change(kq, { ident: b, filter: WRITE, flags: EV_DISABLE });
    a.write('after');
    const r = await until(kq, (e) => e.filter === READ);
    assert.equal(r.flags, EV_ADD, 'READ as before: bytes, no EOF');
    assert.equal(String(b.read()), 'after');
    a.end();
    const seen = await untilLast(kq, b, READ);
    assert.ok(seen.filter((e) => e.filter === READ).every((e) => e.flags & EV_EOF && e.fflags === 0));
    change(kq, { ident: b, filter: WRITE, flags: EV_ENABLE });
    const [wl] = kq.keventSync(null, 10);
    assert.equal(wl?.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(knotes(kq), 0);
  });

  test(`${kind}: write() after our own end(): Node destroys the socket, the knotes' last delivery has fflags EPIPE`, async (t) => {
    const kq = openKqueue(t);
    const { b } = await pair(t, { allowHalfOpen: true });
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD });
    b.end();
    const cbErr = new Promise((r) => b.write('late', r));
    const evs = kq.keventSync(null, 10);
    assert.deepEqual(evs.map((e) => [e.filter, e.flags, e.fflags]), [
      [WRITE, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT, EPIPE],
      [READ, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT, EPIPE],
    ]);
    await closed(b);
    assert.equal(((await cbErr) as { code?: string }).code, 'ERR_STREAM_WRITE_AFTER_END');
    assert.equal(b.listenerCount('error'), 0);
    assert.equal(knotes(kq), 0);
  });

  // ---- write after the peer closed --------------------------------------------------------

  test(`${kind}: write after the peer closed: WRITE reports EV_EOF with fflags EPIPE`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t, { allowHalfOpen: true });
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD | EV_CLEAR });
    assert.equal(kq.keventSync(null, 10).length, 1);
    a.destroy();
    await eofSeen(b);
    // The first write may still be taken by the kernel (the peer answers it with a reset); a
    // later one fails. Keep writing until Node reports the failure.
    const deadline = Date.now() + 10_000;
    let failed: { code?: string } | null = null;
    while (failed === null && Date.now() < deadline) {
      failed = await new Promise((r) => b.write('x', (e) => r((e ?? null) as { code?: string } | null)));
      if (failed === null) await new Promise((r) => setImmediate(r));
    }
    assert.equal(failed?.code, 'EPIPE');
    const seen = await untilLast(kq, b, WRITE);
    const last = seen.at(-1)!;
    assert.equal(last.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(last.fflags, EPIPE);
    for (const e of seen) assert.ok(e.flags & EV_EOF ? e.fflags === EPIPE : e.fflags === 0);
    assert.equal(knotes(kq), 0);
    await closed(b);
    assert.equal(b.listenerCount('error'), 0);
  });
}

// ---- a server closed with connections queued --------------------------------------------

for (const kind of ['TCP', 'Unix']) {
  for (const knoteLeft of [true, false]) {
    test(`${kind}: server.close() with connections queued${knoteLeft ? '' : ' and no knote left'}: they are aborted, accept() returns undefined, nothing is left`, async (t) => {
      const kq = openKqueue(t);
      const { server, connect } = kind === 'TCP'
        ? await tcpServer(t).then(({ server, port }) => ({ server, connect: () => net.connect({ port, host: '127.0.0.1' }) }))
        : await unixServer(t).then(({ server, path }) => ({ server, connect: () => net.connect({ path }) }));
      const before = listeners(server);
      change(kq, { ident: server, filter: READ, flags: EV_ADD });
      const clients = [connect(), connect(), connect()];
      for (const c of clients) {
        t.after(() => c.destroy());
        await once(c, 'connect');
        change(kq, { ident: c, filter: READ, flags: EV_ADD });
      }
      await until(kq, (e) => e.ident === server && e.data === 3);
      if (!knoteLeft) change(kq, { ident: server, filter: READ, flags: EV_DELETE });
      const serverClosed = closed(server);
      server.close();
      assert.equal(kq.keventSync(null, 10).filter((e) => e.ident === server).length, 0, 'the server\'s knotes went silently');
      assert.equal(accept(server), undefined, 'nothing is left to accept');
      assert.equal(failure(kq, { ident: server, filter: READ, flags: EV_ADD }), EBADF);
      // Each peer sees its connection go (a TCP reset, as soabort sends; a Unix socket's end).
      for (const last of (await untilAllLast(kq, clients, READ)).values()) {
        assert.ok(last.flags & EV_EOF);
        assert.equal(last.fflags, kind === 'TCP' ? ECONNRESET : 0);
      }
      await serverClosed; // no connection of the server's is left open
      assert.deepEqual(listeners(server), before);
      assert.deepEqual(hooks(server), []);
      assert.equal(knotes(kq), 0);
    });
  }
}

// ---- destroyed inside the loop that harvests it --------------------------------------------

/** Three connected sockets, each with 3 bytes buffered for reading. */
async function three(t: TestContext): Promise<Pair[]> {
  const pairs = [await tcpPair(t, { allowHalfOpen: true }), await tcpPair(t, { allowHalfOpen: true }), await tcpPair(t, { allowHalfOpen: true })];
  for (const p of pairs) p.a.write('abc');
  for (const p of pairs) await buffered(p.b, 3);
  return pairs;
}

test('a socket destroyed inside an events() loop, mid-batch: no event for it after that one, the others untouched', async (t) => {
  const kq = openKqueue(t);
  const other = openKqueue(t);
  const [x, y, z] = (await three(t)).map((p) => p.b) as [net.Socket, net.Socket, net.Socket];
  const beforeX = listeners(x);
  for (const s of [x, y, z]) {
    change(kq, { ident: s, filter: READ, flags: EV_ADD | EV_ONESHOT }, { ident: s, filter: WRITE, flags: EV_ADD | EV_ONESHOT },
      { ident: s, filter: EVFILT_EXCEPT, flags: EV_ADD | EV_ONESHOT });
  }
  change(other, { ident: x, filter: READ, flags: EV_ADD }, { ident: y, filter: READ, flags: EV_ADD });
  change(kq, { ident: 'end', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT });
  assert.equal(kq.pending, 9, 'all nine events are queued before the loop starts');
  const seen: [unknown, number][] = [];
  let destroyedAt = -1;
  for await (const ev of kq.events({ nevents: 64, signal: AbortSignal.timeout(10_000) })) {
    if (ev.filter === EVFILT_USER) break;
    seen.push([ev.ident, ev.filter]);
    if (ev.ident === x && destroyedAt < 0) {
      x.destroy(); // before EOF: knote_fdclose, queued events included, in every kqueue
      destroyedAt = seen.length;
      change(kq, { ident: 'end', filter: EVFILT_USER, fflags: NOTE_TRIGGER });
    }
  }
  assert.ok(destroyedAt > 0);
  assert.deepEqual(seen.slice(destroyedAt).filter(([i]) => i === x), [], 'nothing for x after its destruction');
  for (const s of [y, z]) {
    assert.deepEqual(seen.filter(([i]) => i === s).map(([, f]) => f).sort(), [READ, WRITE, EVFILT_EXCEPT].sort());
  }
  assert.equal(knotes(kq), 0);
  assert.deepEqual(other.keventSync(null, 10).map((e) => e.ident), [y], 'the other kqueue lost x, kept y');
  assert.equal(String(y.read()), 'abc');
  await closed(x);
  assert.deepEqual(listeners(x), beforeX);
  assert.deepEqual(hooks(x), []);
});

test('a socket destroyed while a kevent() batch holds more of its events: the batch keeps them, the next harvest has none', async (t) => {
  const kq = openKqueue(t);
  const [x, y, z] = (await three(t)).map((p) => p.b) as [net.Socket, net.Socket, net.Socket];
  for (const s of [x, y, z]) change(kq, { ident: s, filter: READ, flags: EV_ADD }, { ident: s, filter: WRITE, flags: EV_ADD });
  const batch = await kq.kevent(null, 64, 5000);
  assert.equal(batch.length, 6);
  const order: [unknown, number][] = [];
  for (const ev of batch) {
    order.push([ev.ident, ev.filter]);
    if (ev.ident === x) x.destroy(); // the first of x's two events; its other one is in hand
  }
  assert.equal(order.filter(([i]) => i === x).length, 2, 'kevent() copied both out before the destroy (copyout)');
  assert.equal(knotes(kq), 4);
  const next = kq.keventSync(null, 64);
  assert.deepEqual(next.filter((e) => e.ident === x), []);
  assert.equal(next.length, 4, 'y and z: level knotes, both still ready');
});

test('a socket at EOF destroyed inside the loop: exactly one last delivery per knote, the others untouched', async (t) => {
  const kq = openKqueue(t);
  const pairs = await three(t);
  const [x, y] = pairs.map((p) => p.b) as [net.Socket, net.Socket];
  pairs[0]!.a.end();
  await eofSeen(x);
  for (const s of [x, y]) change(kq, { ident: s, filter: READ, flags: EV_ADD }, { ident: s, filter: WRITE, flags: EV_ADD });
  change(kq, { ident: 'end', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT });
  const seen: KEvent[] = [];
  let destroyed = false;
  let rounds = 0;
  for await (const ev of kq.events({ nevents: 3, signal: AbortSignal.timeout(10_000) })) {
    if (ev.filter === EVFILT_USER) break;
    seen.push(ev);
    if (ev.ident === x && !destroyed) {
      assert.ok(ev.filter === WRITE || ev.flags & EV_EOF);
      x.destroy();
      destroyed = true;
    }
    // y's level knotes come back forever: stop after a few rounds that must include x's last.
    if (destroyed && ++rounds === 8) change(kq, { ident: 'end', filter: EVFILT_USER, fflags: NOTE_TRIGGER });
  }
  const after = seen.slice(seen.findIndex((e) => e.ident === x) + 1).filter((e) => e.ident === x);
  assert.deepEqual(after.map((e) => e.flags & EV_ONESHOT).filter((f) => f === 0), [], 'only last deliveries');
  const lastOf = (f: number): KEvent[] => seen.filter((e) => e.ident === x && e.filter === f && e.flags & EV_ONESHOT);
  assert.equal(lastOf(READ).length, 1, 'READ: exactly one last delivery');
  assert.equal(lastOf(WRITE).length, 1, 'WRITE: exactly one last delivery');
  assert.equal(after.length, 2);
  assert.equal(lastOf(READ)[0]!.data, 3, 'with the bytes still buffered');
  assert.ok(lastOf(READ)[0]!.flags & EV_EOF && lastOf(WRITE)[0]!.flags & EV_EOF);
  assert.ok(seen.filter((e) => e.ident === y).length >= 2, 'y kept reporting');
  assert.equal(knotes(kq), 2, 'x\'s knotes are gone, y\'s stay');
});

// ---- a storm of resets --------------------------------------------------------------------

/** The storm's size in `npm test`; the soak runs resetStorm() at full size (test/support/net.ts). */
const STORM = 1000;

test(`${STORM} connections opened and reset at once through one kqueue: each seen with EV_EOF, nothing left`, async (t) => {
  const kq = openKqueue(t);
  const server = net.createServer();
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  t.after(() => { server.close(); });
  const before = listeners(server);
  const r = await resetStorm(kq, server, STORM);
  assert.equal(r.accepted, STORM);
  assert.equal(r.eofs, STORM, 'every reset was seen');
  assert.equal(r.resets, STORM, 'each with ECONNRESET');
  // Node destroys each socket on its reset: every knote has its last delivery and goes (usually
  // the EV_EOF seen was that last one).
  while (knotes(kq) > 0) {
    const evs = await kq.kevent(null, 256, 5000);
    assert.ok(evs.length > 0, `${knotes(kq)} knotes never had their last delivery`);
    for (const ev of evs) assert.ok(ev.flags & EV_EOF);
  }
  assert.equal(kq.pending, 0);
  assert.equal(knotes(kq), 0);
  assert.deepEqual(listeners(server), before);
  const serverClosed = closed(server);
  server.close();
  await serverClosed; // every accepted connection is closed
  t.diagnostic(`${STORM} connections: connect+accept ${r.setupMs.toFixed(0)} ms, resets seen in ${r.resetMs.toFixed(0)} ms, ${r.events} events`);
});

// ---- a stream whose other end dies --------------------------------------------------------

function sh(t: TestContext, script: string, stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'ignore']): ChildProcess {
  const c = spawn('sh', ['-c', script], { stdio });
  t.after(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  return c;
}

test('child stdio when the child is killed: READ on stdout gets EV_EOF with the unread bytes; WRITE on stdin its last delivery', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'printf ready; exec sleep 1000');
  const out = c.stdout!;
  const inp = c.stdin!;
  change(kq, { ident: out, filter: READ, flags: EV_ADD }, { ident: inp, filter: WRITE, flags: EV_ADD });
  await buffered(out, 5);
  c.kill('SIGKILL');
  await once(c, 'exit');
  // Node destroys a child's stdin when the child exits (after ending it): WRITE has its last
  // delivery, EV_EOF with fflags 0, without a write having to fail first. READ on stdout: the end.
  let r: KEvent | undefined;
  let w: KEvent | undefined;
  while (r === undefined || w === undefined) {
    const evs = await kq.kevent(null, 10, 5000);
    assert.ok(evs.length > 0, 'the child\'s death was not seen');
    r ??= evs.find((e) => e.ident === out && e.flags & EV_EOF);
    w ??= evs.find((e) => e.ident === inp && e.flags & EV_ONESHOT);
    await new Promise((res) => setImmediate(res));
  }
  assert.equal(r.fflags, 0, 'a pipe\'s writer gone is a plain end');
  assert.equal(r.data, 5);
  assert.equal(String(out.read()), 'ready');
  assert.equal(w.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.equal(w.fflags, 0);
  assert.ok(inp.destroyed);
  if (knotes(kq) !== 0) await untilLast(kq, out, READ);
  assert.equal(knotes(kq), 0);
  assert.equal(inp.listenerCount('error'), 0);
});

test('a FIFO read through fs streams whose writer is killed: EV_EOF with the unread bytes, fflags 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kq-fifo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'f');
  await once(spawn('mkfifo', [fifo]), 'exit');
  const kq = openKqueue(t);
  const c = sh(t, `exec 3>'${fifo}'; printf abc >&3; exec sleep 1000`, ['ignore', 'ignore', 'ignore']);
  const rs = createReadStream(fifo);
  t.after(() => rs.destroy());
  change(kq, { ident: rs, filter: READ, flags: EV_ADD });
  await buffered(rs, 3);
  c.kill('SIGKILL');
  const seen: KEvent[] = [];
  while (!seen.some((e) => e.flags & EV_EOF)) seen.push(...await kq.kevent(null, 10, 5000));
  const eof = seen.find((e) => e.flags & EV_EOF)!;
  assert.equal(eof.data, 3);
  assert.equal(eof.fflags, 0);
  assert.equal(String(rs.read()), 'abc');
  await untilLast(kq, rs, READ); // autoDestroy after 'end': the last delivery
  assert.equal(knotes(kq), 0);
});

test('a FIFO written through fs streams whose reader is killed: WRITE reports EV_EOF with EPIPE, no crash', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kq-fifo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'f');
  await once(spawn('mkfifo', [fifo]), 'exit');
  const kq = openKqueue(t);
  const c = sh(t, `exec 3<'${fifo}'; printf open; exec sleep 1000`, ['ignore', 'pipe', 'ignore']);
  const ws = createWriteStream(fifo);
  t.after(() => ws.destroy());
  await once(c.stdout!, 'data'); // the reader holds the FIFO open
  change(kq, { ident: ws, filter: WRITE, flags: EV_ADD | EV_CLEAR });
  c.kill('SIGKILL');
  await once(c, 'exit');
  ws.write('nobody reads this');
  const seen = await untilLast(kq, ws, WRITE);
  const last = seen.at(-1)!;
  assert.equal(last.fflags, EPIPE);
  assert.ok(last.flags & EV_EOF);
  assert.equal(knotes(kq), 0);
  await closed(ws); // the error is emitted after the last delivery; our listener takes it, then goes
  assert.equal(ws.listenerCount('error'), 0);
});

// ---- dgram ------------------------------------------------------------------------------

test('a dgram socket closed under READ, WRITE and EXCEPT knotes in two kqueues: all go, queued ones included; the queue goes too', async (t) => {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  t.after(() => { for (const s of [rx, tx]) { try { s.close(); } catch { /* closed */ } } });
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const before = listeners(rx);
  const kq1 = openKqueue(t);
  const kq2 = openKqueue(t);
  change(kq1, { ident: rx, filter: READ, flags: EV_ADD }, { ident: rx, filter: WRITE, flags: EV_ADD });
  change(kq2, { ident: rx, filter: EVFILT_EXCEPT, flags: EV_ADD | EV_CLEAR }, { ident: rx, filter: READ, flags: EV_ADD | EV_ONESHOT });
  tx.send('one', rx.address().port, '127.0.0.1');
  tx.send('two', rx.address().port, '127.0.0.1');
  let ev: KEvent | undefined;
  while (ev?.data !== 6) ev = (await kq1.kevent(null, 10, 5000)).find((e) => e.filter === READ);
  assert.equal(kq2.pending, 2);
  const rxClosed = closed(rx);
  rx.close();
  assert.equal(kq1.pending + kq2.pending, 0, 'queued events went in the same tick');
  assert.equal(knotes(kq1) + knotes(kq2), 0);
  assert.equal(recvfrom(rx), undefined, 'the receive queue went with the socket');
  assert.equal(failure(kq1, { ident: rx, filter: READ, flags: EV_ADD }), EBADF);
  await rxClosed;
  assert.deepEqual(listeners(rx), before);
  assert.deepEqual(hooks(rx), []);
});

test('a dgram socket closed inside the loop that harvests it: no event for it after that one, a second socket untouched', async (t) => {
  const kq = openKqueue(t);
  const socks = [dgram.createSocket('udp4'), dgram.createSocket('udp4')] as const;
  t.after(() => { for (const s of socks) { try { s.close(); } catch { /* closed */ } } });
  for (const s of socks) {
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    change(kq, { ident: s, filter: READ, flags: EV_ADD | EV_ONESHOT }, { ident: s, filter: WRITE, flags: EV_ADD | EV_ONESHOT });
  }
  // Both sockets send to each other; each READ knote then has a datagram.
  await new Promise((r) => socks[0].send('to1', socks[1].address().port, '127.0.0.1', r));
  await new Promise((r) => socks[1].send('to0', socks[0].address().port, '127.0.0.1', r));
  const seen: [unknown, number][] = [];
  let closedAt = -1;
  change(kq, { ident: 'end', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT });
  let reads = 0;
  for await (const ev of kq.events({ signal: AbortSignal.timeout(10_000) })) {
    if (ev.filter === EVFILT_USER) break;
    seen.push([ev.ident, ev.filter]);
    if (ev.filter === READ) reads++;
    if (ev.ident === socks[0] && closedAt < 0) {
      socks[0].close();
      closedAt = seen.length;
    }
    // Once the other socket's READ has fired, everything it will report has been seen.
    if (seen.some(([i, f]) => i === socks[1] && f === READ) && seen.some(([i, f]) => i === socks[1] && f === WRITE)) {
      change(kq, { ident: 'end', filter: EVFILT_USER, fflags: NOTE_TRIGGER });
    }
  }
  assert.ok(closedAt > 0);
  assert.deepEqual(seen.slice(closedAt).filter(([i]) => i === socks[0]), []);
  assert.ok(reads >= 1);
  assert.equal(recvfrom(socks[1])?.msg.toString(), 'to1');
  assert.equal(knotes(kq), 0);
});
