// READ, WRITE and EXCEPT on dgram.Sockets (filt_soread / filt_sowrite on UDP), recvfrom(), and
// knote_fdclose on close(). DragonFly digest 3.2.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import {
  EBADF, ECONNREFUSED, ENOENT, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH,
  EV_ENABLE, EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE,
  KqueueError, NOTE_LOWAT, NOTE_OOB, recvfrom,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { change, failure } from '../support/changes.js';
import { openKqueue } from '../support/open.js';

const READ = EVFILT_READ;

/** A bound receiver and a sender connected to it, both closed when the test ends. */
async function udpPair(t: TestContext): Promise<{ rx: dgram.Socket; tx: dgram.Socket }> {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  t.after(() => {
    for (const s of [rx, tx]) { try { s.close(); } catch { /* already closed */ } }
  });
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  return { rx, tx };
}

/** Waits (on its own kqueue) until `n` bytes of datagrams are queued on `rx`. */
async function queued(rx: dgram.Socket, n: number, kq: Kqueue): Promise<KEvent> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const evs = await kq.kevent(null, 10, Math.max(0, deadline - Date.now()));
    const ev = evs.find((e) => e.ident === rx && e.filter === READ);
    if (ev !== undefined && (ev.data as number) >= n) return ev;
    if (evs.length === 0) throw new Error(`${n} bytes never queued`);
  }
}

function probe(t: TestContext, rx: dgram.Socket): Kqueue {
  const kq = openKqueue(t);
  change(kq, { ident: rx, filter: READ, flags: EV_ADD });
  return kq;
}

test('READ counts the bytes of queued datagrams; recvfrom() takes them one by one', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  change(kq, { ident: rx, filter: READ, flags: EV_ADD, udata: 7 });
  assert.deepEqual(kq.keventSync(null, 10), []);
  tx.send('hello');
  const [ev] = await kq.kevent(null, 10, 5000);
  assert.equal(ev?.ident, rx);
  assert.deepEqual({ ...ev, ident: null }, { ident: null, filter: READ, flags: EV_ADD, fflags: 0, data: 5, udata: 7 });
  tx.send('abc');
  await queued(rx, 8, kq);
  const d = recvfrom(rx)!;
  assert.equal(String(d.msg), 'hello');
  assert.equal(d.rinfo.port, tx.address().port);
  assert.equal(d.rinfo.address, '127.0.0.1');
  assert.equal(kq.keventSync(null, 10)[0]?.data, 3, 'level: the rest');
  assert.equal(String(recvfrom(rx)!.msg), 'abc');
  assert.equal(recvfrom(rx), undefined);
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('EV_CLEAR: one of two datagrams taken, no new event; a new datagram fires again', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  const p = probe(t, rx);
  change(kq, { ident: rx, filter: READ, flags: EV_ADD | EV_CLEAR });
  tx.send('ab');
  tx.send('cd');
  await queued(rx, 4, p);
  assert.equal(kq.keventSync(null, 10)[0]?.data, 4);
  recvfrom(rx);
  assert.deepEqual(kq.keventSync(null, 10), []);
  tx.send('efg');
  assert.equal((await kq.kevent(null, 10, 5000))[0]?.data, 5);
});

test('delete, ENOENT, disable/enable, oneshot and dispatch on a dgram socket', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  const p = probe(t, rx);
  assert.equal(failure(kq, { ident: rx, filter: READ, flags: EV_DELETE }), ENOENT);
  change(kq, { ident: rx, filter: READ, flags: EV_ADD | EV_DISABLE },
    { ident: rx, filter: EVFILT_EXCEPT, flags: EV_ADD | EV_ONESHOT },
    { ident: rx, filter: EVFILT_WRITE, flags: EV_ADD | EV_DISPATCH });
  const w = kq.keventSync(null, 10);
  assert.deepEqual(w.map((e) => e.filter), [EVFILT_WRITE]);
  assert.deepEqual(kq.keventSync(null, 10), [], 'WRITE was dispatched');
  tx.send('x');
  await queued(rx, 1, p);
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(evs.map((e) => [e.filter, e.flags, e.data]), [[EVFILT_EXCEPT, EV_ADD | EV_ONESHOT, 1]]);
  assert.equal(failure(kq, { ident: rx, filter: EVFILT_EXCEPT, flags: EV_DELETE }), ENOENT);
  change(kq, { ident: rx, filter: READ, flags: EV_ENABLE });
  assert.deepEqual(kq.keventSync(null, 10).map((e) => e.filter), [READ]);
  change(kq, { ident: rx, filter: READ, flags: EV_DELETE });
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('datagrams that arrive before the first READ knote are not queued; those queued outlive it', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  const early = once(rx, 'message');
  tx.send('early');
  await early;
  change(kq, { ident: rx, filter: READ, flags: EV_ADD });
  tx.send('late');
  await queued(rx, 4, kq);
  change(kq, { ident: rx, filter: READ, flags: EV_DELETE });
  assert.equal(rx.listenerCount('message'), 0);
  assert.equal(String(recvfrom(rx)!.msg), 'late');
  assert.equal(recvfrom(rx), undefined);
});

test('NOTE_LOWAT on READ compares the queued bytes with the mark', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  const p = probe(t, rx);
  change(kq, { ident: rx, filter: READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: 6 });
  tx.send('abc');
  await queued(rx, 3, p);
  assert.deepEqual(kq.keventSync(null, 10), []);
  tx.send('def');
  await queued(rx, 6, p);
  assert.equal(kq.keventSync(null, 10)[0]?.data, 6);
});

test('WRITE is ready while the socket is open, bound or not, with the send buffer\'s room', async (t) => {
  const kq = openKqueue(t);
  const fresh = dgram.createSocket('udp4');
  t.after(() => { try { fresh.close(); } catch { /* closed by the test */ } });
  change(kq, { ident: fresh, filter: EVFILT_WRITE, flags: EV_ADD });
  const [ev] = kq.keventSync(null, 10);
  assert.ok((ev?.data as number) > 0);
  const { tx } = await udpPair(t);
  change(kq, { ident: tx, filter: EVFILT_WRITE, flags: EV_ADD, fflags: NOTE_LOWAT, data: 1 });
  const evs = kq.keventSync(null, 10);
  assert.equal(evs.length, 2);
  assert.equal(evs.find((e) => e.ident === tx)?.data, tx.getSendBufferSize());
});

test('close() drops the knotes in every kqueue, queued events included; EBADF afterwards', async (t) => {
  const kq1 = openKqueue(t);
  const kq2 = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  change(kq1, { ident: rx, filter: READ, flags: EV_ADD }, { ident: rx, filter: EVFILT_WRITE, flags: EV_ADD });
  change(kq2, { ident: rx, filter: READ, flags: EV_ADD | EV_CLEAR });
  tx.send('zz');
  await queued(rx, 2, kq1);
  assert.equal(kq2.pending, 1);
  rx.close();
  assert.equal(kq1.pending + kq2.pending, 0);
  assert.deepEqual(kq2.keventSync(null, 10), []);
  assert.equal(failure(kq1, { ident: rx, filter: READ, flags: EV_DELETE }), EBADF);
  assert.equal(failure(kq2, { ident: rx, filter: EVFILT_WRITE, flags: EV_ADD }), EBADF);
  for (const n of ['message', 'error', 'close']) assert.equal(rx.listenerCount(n), 0, n);
  assert.ok(!Object.hasOwn(rx, 'close'));
});

test('EXCEPT with NOTE_OOB never fires; VNODE is EOPNOTSUPP; proxies are EBADF', async (t) => {
  const kq = openKqueue(t);
  const { rx, tx } = await udpPair(t);
  const p = probe(t, rx);
  change(kq, { ident: rx, filter: EVFILT_EXCEPT, flags: EV_ADD, fflags: NOTE_OOB });
  tx.send('q');
  await queued(rx, 1, p);
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(failure(kq, { ident: rx, filter: EVFILT_VNODE, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(failure(kq, { ident: new Proxy(rx, {}), filter: READ, flags: EV_ADD }), EBADF);
  assert.throws(() => recvfrom(new Proxy(rx, {})), (e: unknown) => e instanceof KqueueError && e.code === 'EBADF');
});

test('an error on a watched dgram socket is taken: READ is ready with its errno, cleared by recvfrom()', async (t) => {
  const kq = openKqueue(t);
  // A connected socket whose peer port is closed: the ICMP port unreachable comes back as an
  // 'error' (ECONNREFUSED) from the next receive.
  const hole = dgram.createSocket('udp4');
  hole.bind(0, '127.0.0.1');
  await once(hole, 'listening');
  const port = hole.address().port;
  hole.close();
  const s = dgram.createSocket('udp4');
  t.after(() => s.close());
  s.connect(port, '127.0.0.1');
  await once(s, 'connect');
  change(kq, { ident: s, filter: READ, flags: EV_ADD });
  s.send('anyone?');
  const [ev] = await kq.kevent(null, 10, 5000);
  assert.equal(ev?.fflags, ECONNREFUSED);
  assert.equal(ev?.data, 0);
  assert.equal(recvfrom(s), undefined);
  assert.deepEqual(kq.keventSync(null, 10), []);
});
