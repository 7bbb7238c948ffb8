// READ, WRITE and EXCEPT on net.Sockets (loopback TCP and Unix sockets): filt_soread,
// filt_sowrite, knote_fdclose, and the contract's lifecycle of stream-like idents. DragonFly
// digest 3.2 and edge cases 46, 51-54, 74, 80-90, 93.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import {
  EBADF, ECONNRESET, ENOENT, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH,
  EV_ENABLE, EV_EOF, EV_NODATA, EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ, EVFILT_USER,
  EVFILT_VNODE, EVFILT_WRITE, NOTE_LOWAT, NOTE_OOB, NOTE_TRIGGER,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { change, failure } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import { buffered, eofSeen, type Pair, tcpPair, unixPair } from '../support/net.js';

const READ = EVFILT_READ;
const WRITE = EVFILT_WRITE;

/** 'close' without events.once, which would reject on an 'error' emitted first. */
function closed(s: net.Socket): Promise<void> {
  return new Promise((r) => s.once('close', () => r()));
}

/** The one event a wait returns (5 s: a pass never depends on timing). */
async function one(kq: Kqueue): Promise<KEvent> {
  const evs = await kq.kevent(null, 10, 5000);
  assert.equal(evs.length, 1, `expected one event, got ${evs.length}`);
  return evs[0]!;
}

const kinds: [string, (t: import('node:test').TestContext, o?: net.ServerOpts) => Promise<Pair>][] = [
  ['TCP', tcpPair],
  ['Unix', unixPair],
];

for (const [kind, pair] of kinds) {
  test(`${kind}: READ is not ready on an empty socket and reports the bytes that arrive`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD, udata: 'u' });
    a.write('hello');
    const ev = await one(kq);
    assert.equal(ev.ident, b);
    assert.deepEqual({ ...ev, ident: null }, { ident: null, filter: READ, flags: EV_ADD, fflags: 0, data: 5, udata: 'u' });
    assert.equal(String(b.read()), 'hello');
    // Drained: a level knote is weeded out by the next scan (edge 51).
    assert.deepEqual(kq.keventSync(null, 10), []);
  });

  test(`${kind}: EV_DELETE removes the READ knote; deleting or enabling a missing one is ENOENT`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    assert.equal(failure(kq, { ident: b, filter: READ, flags: EV_DELETE }), ENOENT);
    assert.equal(failure(kq, { ident: b, filter: READ, flags: EV_ENABLE }), ENOENT);
    assert.equal(failure(kq, { ident: b, filter: WRITE, flags: EV_DISABLE }), ENOENT);
    change(kq, { ident: b, filter: READ, flags: EV_ADD });
    a.write('x');
    await buffered(b, 1);
    assert.equal(kq.pending, 1);
    change(kq, { ident: b, filter: READ, flags: EV_DELETE });
    assert.equal(kq.pending, 0);
    assert.deepEqual(kq.keventSync(null, 10), []);
    assert.equal(failure(kq, { ident: b, filter: READ, flags: EV_DELETE }), ENOENT);
  });

  test(`${kind}: a disabled READ knote reports nothing until enabled`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_DISABLE });
    a.write('abc');
    await buffered(b, 3);
    assert.deepEqual(kq.keventSync(null, 10), []);
    change(kq, { ident: b, filter: READ, flags: EV_ENABLE });
    const [ev] = kq.keventSync(null, 10);
    assert.equal(ev?.data, 3);
    // Flags keep the creation bits (edge 38).
    assert.equal(ev?.flags, EV_ADD | EV_DISABLE);
  });

  test(`${kind}: EV_ONESHOT delivers once and deletes the knote`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_ONESHOT });
    a.write('ab');
    const ev = await one(kq);
    assert.equal(ev.data, 2);
    assert.equal(ev.flags, EV_ADD | EV_ONESHOT);
    assert.deepEqual(kq.keventSync(null, 10), []);
    assert.equal(failure(kq, { ident: b, filter: READ, flags: EV_DELETE }), ENOENT);
  });

  test(`${kind}: EV_DISPATCH disables after delivery; new data waits for EV_ENABLE`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_DISPATCH });
    a.write('a');
    assert.equal((await one(kq)).data, 1);
    a.write('b');
    await buffered(b, 2);
    assert.deepEqual(kq.keventSync(null, 10), []);
    change(kq, { ident: b, filter: READ, flags: EV_ENABLE });
    assert.equal(kq.keventSync(null, 10)[0]?.data, 2);
    assert.deepEqual(kq.keventSync(null, 10), [], 'disabled again after the second delivery');
  });

  test(`${kind}: EV_CLEAR: 2 bytes arrive, 1 is read, no new event; new bytes fire again`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_CLEAR });
    a.write('xy');
    await buffered(b, 2);
    const [ev] = kq.keventSync(null, 10);
    assert.equal(ev?.data, 2);
    assert.equal(String(b.read(1)), 'x');
    assert.deepEqual(kq.keventSync(null, 10), []);
    a.write('z');
    await buffered(b, 2);
    const [ev2] = kq.keventSync(null, 10);
    assert.equal(ev2?.data, 2, 'the byte left over plus the new one');
  });

  test(`${kind}: level: 2 bytes arrive, 1 is read, the event comes again with data 1`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD });
    a.write('xy');
    await buffered(b, 2);
    assert.equal(kq.keventSync(null, 10)[0]?.data, 2);
    b.read(1);
    assert.equal(kq.keventSync(null, 10)[0]?.data, 1);
    assert.equal(kq.keventSync(null, 10)[0]?.data, 1, 'returned by every harvest while data remains');
  });

  test(`${kind}: re-adding a READ knote with data pending leaves one pending entry (edge 46)`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD });
    a.write('q');
    await buffered(b, 1);
    change(kq, { ident: b, filter: READ, flags: EV_ADD, udata: 'new' });
    assert.equal(kq.pending, 1);
    const evs = kq.keventSync(null, 10);
    assert.equal(evs.length, 1);
    assert.equal(evs[0]!.udata, 'new');
  });

  test(`${kind}: peer writes then ends: EV_EOF with data, then EV_EOF|EV_NODATA after draining (edge 83)`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD });
    a.end('12345');
    await eofSeen(b);
    const [ev] = kq.keventSync(null, 10);
    assert.equal(ev?.data, 5);
    assert.equal(ev!.flags & (EV_EOF | EV_NODATA), EV_EOF);
    assert.equal(ev!.fflags, 0);
    assert.equal(String(b.read()), '12345');
    // Node now ends and destroys b (no allowHalfOpen): the knote is delivered one last time.
    let last: KEvent | undefined;
    while (last === undefined || (last.flags & EV_ONESHOT) === 0) last = await one(kq);
    assert.equal(last.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(last.data, 0);
    assert.ok(b.destroyed);
    assert.equal(kq.pending, 0);
    assert.equal(failure(kq, { ident: b, filter: READ, flags: EV_DELETE }), EBADF);
  });

  test(`${kind}: peer ends with nothing buffered: EV_EOF|EV_NODATA even though Node destroys the socket`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_CLEAR });
    a.end();
    const ev = await one(kq);
    assert.ok(ev.flags & EV_EOF);
    assert.ok(ev.flags & EV_NODATA);
    assert.equal(ev.data, 0);
    if (!(ev.flags & EV_ONESHOT)) {
      // Seen before Node's teardown: the last delivery follows.
      const last = await one(kq);
      assert.equal(last.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
    }
    await closed(b);
    assert.equal(kq.pending, 0);
  });

  test(`${kind}: half-open: EV_EOF on READ stays level, WRITE stays writable until end()`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t, { allowHalfOpen: true });
    assert.equal(b.allowHalfOpen, true);
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD });
    const w = kq.keventSync(null, 10);
    assert.equal(w.length, 1);
    assert.equal(w[0]!.filter, WRITE);
    assert.equal(w[0]!.data, b.writableHighWaterMark);
    a.end();
    await eofSeen(b);
    assert.equal(b.read(), null);
    await new Promise((r) => setImmediate(r));
    const evs = kq.keventSync(null, 10);
    const r = evs.find((e) => e.filter === READ)!;
    assert.equal(r.flags, EV_ADD | EV_EOF | EV_NODATA);
    assert.equal(evs.find((e) => e.filter === WRITE)!.flags, EV_ADD);
    assert.ok(!b.destroyed);
    b.end();
    const after = kq.keventSync(null, 10);
    assert.equal(after.find((e) => e.filter === WRITE)!.flags, EV_ADD | EV_EOF | EV_NODATA, 'end() is a shutdown of the send side');
    assert.equal(after.find((e) => e.filter === READ)!.flags, EV_ADD | EV_EOF | EV_NODATA, 'EV_EOF persists (edge 93)');
  });

  if (kind === 'TCP') test(`${kind}: a reset is EV_EOF with fflags ECONNRESET (edge 84)`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD | EV_DISABLE });
    a.resetAndDestroy();
    const ev = await one(kq);
    assert.equal(ev.filter, READ);
    assert.equal(ev.fflags, ECONNRESET);
    assert.equal(ev.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
    // The disabled WRITE knote still waits for its last delivery; enabling it hands it over.
    change(kq, { ident: b, filter: WRITE, flags: EV_ENABLE });
    const [w] = kq.keventSync(null, 10);
    assert.equal(w?.fflags, ECONNRESET);
    assert.equal(w?.flags, EV_ADD | EV_DISABLE | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(kq.pending, 0);
    // No listener of ours is left once the error has been emitted, and nothing crashed.
    await closed(b);
    assert.equal(b.listenerCount('error'), 0);
  });

  test(`${kind}: NOTE_LOWAT on READ: ready only at the mark (edge 81); a mark of 0 is always ready (edge 82)`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: 0 });
    assert.deepEqual(kq.keventSync(null, 10).map((e) => e.data), [0]);
    change(kq, { ident: b, filter: READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: 10 });
    assert.deepEqual(kq.keventSync(null, 10), []);
    a.write('12345');
    await buffered(b, 5);
    assert.deepEqual(kq.keventSync(null, 10), []);
    a.write('67890');
    await buffered(b, 10);
    assert.equal(kq.keventSync(null, 10)[0]?.data, 10);
  });

  test(`${kind}: WRITE is ready with the room before the high-water mark, not while full, again after drain`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD | EV_CLEAR });
    const [ev] = kq.keventSync(null, 10);
    assert.equal(ev?.data, b.writableHighWaterMark);
    // Far more than the kernel buffers and the peer's buffer hold while it does not read.
    const big = Buffer.alloc(8 << 20, 1);
    assert.equal(b.write(big), false);
    assert.ok(b.writableLength > b.writableHighWaterMark);
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD | EV_CLEAR });
    assert.deepEqual(kq.keventSync(null, 10), []);
    const lvl = openKqueue(t);
    change(lvl, { ident: b, filter: WRITE, flags: EV_ADD });
    assert.deepEqual(lvl.keventSync(null, 10), [], 'level: not ready while full');
    let got = 0;
    a.on('data', (d: Buffer) => { got += d.length; });
    const w = await one(kq);
    assert.equal(w.filter, WRITE);
    assert.ok((w.data as number) > 0);
    assert.ok(got > 0);
  });

  test(`${kind}: NOTE_LOWAT on WRITE compares the room with the mark`, async (t) => {
    const kq = openKqueue(t);
    const { b } = await pair(t);
    const hwm = b.writableHighWaterMark;
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD, fflags: NOTE_LOWAT, data: hwm + 1 });
    assert.deepEqual(kq.keventSync(null, 10), []);
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD, fflags: NOTE_LOWAT, data: hwm });
    assert.equal(kq.keventSync(null, 10)[0]?.data, hwm);
  });

  test(`${kind}: two kqueues on one socket both see it; destroying it drops the knotes in both, queued events included`, async (t) => {
    const kq1 = openKqueue(t);
    const kq2 = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq1, { ident: b, filter: READ, flags: EV_ADD | EV_ONESHOT }, { ident: b, filter: WRITE, flags: EV_ADD });
    change(kq2, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: EVFILT_EXCEPT, flags: EV_ADD });
    a.write('data');
    await buffered(b, 4);
    assert.equal(kq1.pending, 2);
    assert.equal(kq2.pending, 2);
    b.destroy();
    assert.equal(kq1.pending, 0);
    assert.equal(kq2.pending, 0);
    assert.deepEqual(kq1.keventSync(null, 10), []);
    assert.deepEqual(kq2.keventSync(null, 10), []);
    assert.equal(failure(kq1, { ident: b, filter: READ, flags: EV_DELETE }), EBADF);
    assert.equal(failure(kq2, { ident: b, filter: READ, flags: EV_ADD }), EBADF);
  });

  test(`${kind}: EXCEPT without NOTE_OOB is READ; with NOTE_OOB (and READ with NOTE_OOB) it never fires`, async (t) => {
    const kq = openKqueue(t);
    const oob = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: EVFILT_EXCEPT, flags: EV_ADD });
    change(oob, { ident: b, filter: EVFILT_EXCEPT, flags: EV_ADD, fflags: NOTE_OOB },
      { ident: b, filter: READ, flags: EV_ADD, fflags: NOTE_OOB });
    a.write('abc');
    await buffered(b, 3);
    const [ev] = kq.keventSync(null, 10);
    assert.equal(ev?.filter, EVFILT_EXCEPT);
    assert.equal(ev?.data, 3);
    assert.deepEqual(oob.keventSync(null, 10), []);
    a.end();
    await eofSeen(b);
    assert.ok(kq.keventSync(null, 10)[0]!.flags & EV_EOF);
    assert.deepEqual(oob.keventSync(null, 10), []);
  });

  test(`${kind}: VNODE on a socket is EOPNOTSUPP; unknown objects, destroyed sockets and proxies are EBADF`, async (t) => {
    const kq = openKqueue(t);
    const { b } = await pair(t);
    assert.equal(failure(kq, { ident: b, filter: EVFILT_VNODE, flags: EV_ADD }), EOPNOTSUPP);
    let trapped = 0;
    const proxy = new Proxy(b, { getPrototypeOf: () => { trapped++; return net.Socket.prototype; }, get: (o, k) => { trapped++; return Reflect.get(o, k); } });
    assert.equal(failure(kq, { ident: proxy, filter: READ, flags: EV_ADD }), EBADF);
    assert.equal(trapped, 0);
    assert.equal(failure(kq, { ident: {}, filter: READ, flags: EV_ADD }), EBADF);
    assert.equal(failure(kq, { ident: Object.create(net.Socket.prototype), filter: WRITE, flags: EV_ADD }), EBADF);
    const fresh = new net.Socket();
    fresh.destroy();
    assert.equal(failure(kq, { ident: fresh, filter: READ, flags: EV_ADD }), EBADF);
  });

  test(`${kind}: destroying a socket that had reached EOF delivers its knotes once more, then EBADF`, async (t) => {
    const kq1 = openKqueue(t);
    const kq2 = openKqueue(t);
    const { a, b } = await pair(t, { allowHalfOpen: true });
    change(kq1, { ident: b, filter: READ, flags: EV_ADD | EV_CLEAR });
    change(kq2, { ident: b, filter: WRITE, flags: EV_ADD });
    a.end('zz');
    await eofSeen(b);
    assert.equal(kq1.keventSync(null, 10)[0]?.flags, EV_ADD | EV_CLEAR | EV_EOF);
    b.destroy();
    const [r] = kq1.keventSync(null, 10);
    assert.equal(r?.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT);
    assert.equal(r?.data, 2, 'with the data still buffered');
    const [w] = kq2.keventSync(null, 10);
    assert.equal(w?.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
    assert.equal(kq1.pending + kq2.pending, 0);
    assert.equal(failure(kq1, { ident: b, filter: READ, flags: EV_DELETE }), EBADF);
  });

  test(`${kind}: an error on a watched socket with no 'error' listener of the user's does not crash`, async (t) => {
    const kq = openKqueue(t);
    const { a, b } = await pair(t);
    change(kq, { ident: b, filter: WRITE, flags: EV_ADD | EV_DISPATCH });
    assert.equal(b.listenerCount('error'), 1);
    b.destroy(Object.assign(new Error('boom'), { code: 'EPIPE' }));
    // Delete right away: the error is emitted later and must still be taken.
    change(kq, { ident: b, filter: WRITE, flags: EV_DELETE });
    await closed(b);
    assert.equal(b.listenerCount('error'), 0);
    a.destroy();
  });
}

test('WRITE on a connecting socket is not ready until it connects', async (t) => {
  const kq = openKqueue(t);
  const { server, port } = await (await import('../support/net.js')).tcpServer(t);
  server.on('connection', (s: net.Socket) => t.after(() => s.destroy()));
  const c = net.connect({ port, host: '127.0.0.1' });
  t.after(() => c.destroy());
  assert.ok(c.connecting);
  change(kq, { ident: c, filter: WRITE, flags: EV_ADD });
  assert.deepEqual(kq.keventSync(null, 10), []);
  const ev = await one(kq);
  assert.equal(ev.filter, WRITE);
  assert.ok(!c.connecting);
});

test('the last knote gives the socket back: listeners, method hooks and flowing state as found', async (t) => {
  const kq = openKqueue(t);
  const { a, b } = await pair2(t);
  const got: string[] = [];
  b.on('data', (d: Buffer) => got.push(String(d)));
  assert.equal(b.readableFlowing, true);
  const names = ['readable', 'data', 'end', 'error', 'close', 'drain', 'finish', 'connect', 'pause', 'resume'];
  const before = names.map((n) => b.listenerCount(n));
  change(kq, { ident: b, filter: READ, flags: EV_ADD }, { ident: b, filter: WRITE, flags: EV_ADD },
    { ident: b, filter: EVFILT_EXCEPT, flags: EV_ADD });
  assert.equal(b.readableFlowing, false, 'READ takes the stream into paused mode');
  a.write('one');
  await buffered(b, 3);
  assert.deepEqual(got, []);
  change(kq, { ident: b, filter: READ, flags: EV_DELETE }, { ident: b, filter: WRITE, flags: EV_DELETE },
    { ident: b, filter: EVFILT_EXCEPT, flags: EV_DELETE });
  assert.deepEqual(names.map((n) => b.listenerCount(n)), before);
  for (const m of ['push', 'destroy', 'end']) assert.ok(!Object.hasOwn(b, m), `no own ${m} left`);
  // Flowing again: what was buffered meanwhile reaches the user's 'data' listener.
  await new Promise((r) => setImmediate(r));
  assert.equal(b.readableFlowing, true);
  a.write('two');
  while (got.join('') !== 'onetwo') await once(b, 'data');
  // A kqueue closed with knotes on the socket releases it the same way.
  change(kq, { ident: b, filter: READ, flags: EV_ADD });
  kq.close();
  assert.deepEqual(names.map((n) => b.listenerCount(n)), before);
});

async function pair2(t: import('node:test').TestContext): Promise<Pair> {
  return tcpPair(t);
}

test('a READ knote sees each new arrival after a partial read (EV_CLEAR echo loop)', async (t) => {
  const kq = openKqueue(t);
  const { a, b } = await tcpPair(t);
  change(kq, { ident: b, filter: READ, flags: EV_ADD | EV_CLEAR }, { ident: 'tick', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR });
  let total = 0;
  for (let i = 0; i < 20; i++) {
    a.write('ab');
    const ev = await one(kq);
    assert.equal(ev.ident, b);
    const chunk = b.read(1) as Buffer | null; // leave the rest: the next arrival must still fire
    total += chunk?.length ?? 0;
  }
  assert.equal(total, 20);
  change(kq, { ident: 'tick', filter: EVFILT_USER, fflags: NOTE_TRIGGER });
  const evs = kq.keventSync(null, 10);
  assert.equal(evs.at(-1)?.ident, 'tick');
});

test('READ registered while the socket connects sees the first bytes the peer sends', async (t) => {
  const kq = openKqueue(t);
  const { server, port } = await (await import('../support/net.js')).tcpServer(t);
  server.on('connection', (s: net.Socket) => { t.after(() => s.destroy()); s.end('greeting'); });
  const c = net.connect({ port, host: '127.0.0.1' });
  t.after(() => c.destroy());
  change(kq, { ident: c, filter: READ, flags: EV_ADD });
  const ev = await one(kq);
  assert.equal(ev.ident, c);
  assert.ok((ev.data as number) > 0);
  await eofSeen(c);
  assert.equal(String(c.read()), 'greeting');
});
