// READ, WRITE and EXCEPT on a listening net.Server (filt_solisten; filt_soread and filt_sowrite
// on a listening socket), accept(), and knote_fdclose on server.close(). DragonFly digest 3.2
// and edge case 85.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import {
  accept, EADDRINUSE, EBADF, ECONNRESET, ENOENT, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE,
  EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_EOF, EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ,
  EVFILT_USER, EVFILT_VNODE, EVFILT_WRITE, KqueueError, NOTE_LOWAT, NOTE_OOB, NOTE_TRIGGER,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { change, failure } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import { buffered, eofSeen, tcpServer, unixServer } from '../support/net.js';

const READ = EVFILT_READ;

interface Listening { server: net.Server; connect(): net.Socket }

async function listening(t: TestContext, kind: string, options: net.ServerOpts = {}): Promise<Listening> {
  const clients: net.Socket[] = [];
  t.after(() => { for (const c of clients) c.destroy(); });
  const track = (c: net.Socket): net.Socket => {
    clients.push(c);
    c.on('error', () => {});
    return c;
  };
  if (kind === 'TCP') {
    const { server, port } = await tcpServer(t, options);
    return { server, connect: () => track(net.connect({ port, host: '127.0.0.1' })) };
  }
  const { server, path } = await unixServer(t, options);
  return { server, connect: () => track(net.connect({ path })) };
}

/** Waits until READ on the server reports `n` pending connections (a probe knote, level). */
async function pendingReaches(kq: Kqueue, server: net.Server, n: number): Promise<KEvent> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const evs = await kq.kevent(null, 10, Math.max(0, deadline - Date.now()));
    const ev = evs.find((e) => e.ident === server && e.filter === READ);
    if (ev !== undefined && ev.data === n) return ev;
    if (evs.length === 0) throw new Error(`the server never had ${n} pending connections`);
  }
}

/** Accepted sockets are destroyed when the test ends. */
function take(t: TestContext, server: net.Server): net.Socket | undefined {
  const s = accept(server);
  if (s !== undefined) t.after(() => s.destroy());
  return s;
}

for (const kind of ['TCP', 'Unix']) {
  test(`${kind}: READ counts the connections not yet accepted; accept() takes them in order`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq, { ident: server, filter: READ, flags: EV_ADD, udata: 'srv' });
    assert.deepEqual(kq.keventSync(null, 10), []);
    const c1 = connect();
    await once(c1, 'connect');
    const ev = await pendingReaches(kq, server, 1);
    assert.deepEqual({ ...ev, ident: null }, { ident: null, filter: READ, flags: EV_ADD, fflags: 0, data: 1, udata: 'srv' });
    const c2 = connect();
    const c3 = connect();
    await pendingReaches(kq, server, 3);
    c1.write('first');
    const s1 = take(t, server)!;
    assert.ok(s1 instanceof net.Socket);
    assert.equal(kq.keventSync(null, 10)[0]?.data, 2, 'level: still ready with the rest');
    const s2 = take(t, server)!;
    const s3 = take(t, server)!;
    assert.equal(take(t, server), undefined);
    assert.deepEqual(kq.keventSync(null, 10), []);
    // In order: each accepted socket talks to its own client.
    c2.write('two');
    c3.write('three');
    assert.equal(String((await buffered(s2, 3), s2.read())), 'two');
    assert.equal(String((await buffered(s3, 5), s3.read())), 'three');
    assert.equal(String((await buffered(s1, 5), s1.read())), 'first');
  });

  test(`${kind}: an accepted socket is paused with nothing read from it, its data and end still to come`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq, { ident: server, filter: READ, flags: EV_ADD });
    const c = connect();
    c.end('sent before accept');
    await once(c, 'finish');
    await pendingReaches(kq, server, 1);
    // A turn more for the data to reach this side's kernel buffer: it must stay there.
    change(kq, { ident: 't', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER });
    await kq.kevent(null, 10, 5000);
    const s = take(t, server)!;
    assert.equal(s.readableFlowing, false);
    assert.ok(s.isPaused());
    assert.equal(s.readableLength, 0);
    assert.equal(s.bytesRead, 0);
    assert.ok(!s.destroyed);
    change(kq, { ident: s, filter: READ, flags: EV_ADD });
    const ev = await eofSeen(s);
    assert.equal(ev.data, 18);
    assert.equal(String(s.read()), 'sent before accept');
  });

  test(`${kind}: a connection closed at once is still accepted, and READ reports its EOF`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq, { ident: server, filter: READ, flags: EV_ADD });
    const c = connect();
    await once(c, 'connect');
    c.destroy(); // close(2): a FIN, with nothing unread
    await pendingReaches(kq, server, 1);
    const s = take(t, server)!;
    change(kq, { ident: s, filter: READ, flags: EV_ADD });
    const ev = (await eofSeen(s));
    assert.ok(ev.flags & EV_EOF);
    assert.equal(ev.data, 0);
  });

  test(`${kind}: EV_DELETE, ENOENT, disable and enable of a server's READ knote`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    assert.equal(failure(kq, { ident: server, filter: READ, flags: EV_DELETE }), ENOENT);
    change(kq, { ident: server, filter: READ, flags: EV_ADD | EV_DISABLE });
    const probe = openKqueue(t);
    change(probe, { ident: server, filter: READ, flags: EV_ADD });
    connect();
    await pendingReaches(probe, server, 1);
    assert.deepEqual(kq.keventSync(null, 10), []);
    change(kq, { ident: server, filter: READ, flags: EV_ENABLE });
    assert.equal(kq.keventSync(null, 10)[0]?.data, 1);
    change(kq, { ident: server, filter: READ, flags: EV_DELETE });
    assert.deepEqual(kq.keventSync(null, 10), []);
    assert.equal(failure(kq, { ident: server, filter: READ, flags: EV_DELETE }), ENOENT);
  });

  test(`${kind}: EV_CLEAR: two connections, one accepted, no new event; level: again with data 1`, async (t) => {
    const edge = openKqueue(t);
    const level = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(edge, { ident: server, filter: READ, flags: EV_ADD | EV_CLEAR });
    change(level, { ident: server, filter: READ, flags: EV_ADD });
    connect();
    connect();
    await pendingReaches(level, server, 2);
    assert.equal(edge.keventSync(null, 10)[0]?.data, 2);
    take(t, server);
    assert.deepEqual(edge.keventSync(null, 10), []);
    assert.equal(level.keventSync(null, 10)[0]?.data, 1);
    connect();
    assert.equal((await edge.kevent(null, 10, 5000))[0]?.data, 2);
  });

  test(`${kind}: EV_ONESHOT and EV_DISPATCH on a server`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq, { ident: server, filter: READ, flags: EV_ADD | EV_ONESHOT },
      { ident: server, filter: EVFILT_EXCEPT, flags: EV_ADD | EV_DISPATCH });
    connect();
    const evs = await kq.kevent(null, 10, 5000);
    assert.deepEqual(evs.map((e) => [e.filter, e.data]).sort(), [[EVFILT_EXCEPT, 0], [READ, 1]].sort());
    connect();
    const probe = openKqueue(t);
    change(probe, { ident: server, filter: READ, flags: EV_ADD });
    await pendingReaches(probe, server, 2);
    assert.deepEqual(kq.keventSync(null, 10), [], 'READ was deleted, EXCEPT is disabled');
    assert.equal(failure(kq, { ident: server, filter: READ, flags: EV_DELETE }), ENOENT);
    change(kq, { ident: server, filter: EVFILT_EXCEPT, flags: EV_ENABLE });
    assert.equal(kq.keventSync(null, 10)[0]?.filter, EVFILT_EXCEPT);
  });

  test(`${kind}: WRITE on a server never fires; EXCEPT is ready with data 0, never with NOTE_OOB`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq, { ident: server, filter: EVFILT_WRITE, flags: EV_ADD },
      { ident: server, filter: EVFILT_EXCEPT, flags: EV_ADD, fflags: NOTE_OOB });
    const lowat = openKqueue(t);
    change(lowat, { ident: server, filter: EVFILT_EXCEPT, flags: EV_ADD, fflags: NOTE_LOWAT, data: 0 });
    assert.equal(lowat.keventSync(null, 10)[0]?.data, 0, 'NOTE_LOWAT 0: 0 bytes reach the mark');
    assert.deepEqual(kq.keventSync(null, 10), []);
    change(kq, { ident: server, filter: READ, flags: EV_ADD });
    connect();
    const evs = await kq.kevent(null, 10, 5000);
    assert.deepEqual(evs.map((e) => e.filter), [READ]);
  });

  test(`${kind}: two kqueues on one server; close() drops their knotes, queued events included, and aborts the queued connection`, async (t) => {
    const kq1 = openKqueue(t);
    const kq2 = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    change(kq1, { ident: server, filter: READ, flags: EV_ADD });
    change(kq2, { ident: server, filter: READ, flags: EV_ADD | EV_CLEAR }, { ident: server, filter: EVFILT_WRITE, flags: EV_ADD });
    const c = connect();
    await pendingReaches(kq1, server, 1);
    assert.equal(kq2.pending, 1);
    const conns = server.listenerCount('connection');
    server.close();
    assert.equal(kq1.pending + kq2.pending, 0);
    assert.deepEqual(kq2.keventSync(null, 10), []);
    assert.equal(failure(kq1, { ident: server, filter: READ, flags: EV_DELETE }), EBADF);
    assert.equal(failure(kq2, { ident: server, filter: READ, flags: EV_ADD }), EBADF);
    assert.equal(server.listenerCount('connection'), conns - 1);
    assert.equal(take(t, server), undefined, 'the queued connection was aborted with the server (soclose)');
    const ev = await eofSeen(c);
    assert.equal(ev.fflags, kind === 'TCP' ? ECONNRESET : 0);
  });

  test(`${kind}: the last knote takes our listeners off the server; queued connections stay, with the close hook until taken`, async (t) => {
    const kq = openKqueue(t);
    const { server, connect } = await listening(t, kind);
    const names = ['connection', 'error', 'close', 'listening'];
    const before = names.map((n) => server.listenerCount(n));
    change(kq, { ident: server, filter: READ, flags: EV_ADD }, { ident: server, filter: EVFILT_WRITE, flags: EV_ADD });
    connect();
    await pendingReaches(kq, server, 1);
    change(kq, { ident: server, filter: READ, flags: EV_DELETE }, { ident: server, filter: EVFILT_WRITE, flags: EV_DELETE });
    // The close hook stays while a connection is queued (a close then aborts it), no longer.
    const counts = (): number[] => names.map((n) => server.listenerCount(n));
    assert.deepEqual(counts(), before.map((n, i) => (names[i] === 'close' ? n + 1 : n)));
    assert.ok(Object.hasOwn(server, 'close'));
    // New connections now go to whoever listens the Node way.
    const got = once(server, 'connection') as Promise<[net.Socket]>;
    connect();
    const [late] = await got;
    t.after(() => late.destroy());
    const s = take(t, server);
    assert.ok(s !== undefined && s !== late);
    assert.equal(take(t, server), undefined);
    assert.deepEqual(counts(), before, 'the last queued connection taken: nothing of ours is left');
    assert.ok(!Object.hasOwn(server, 'close'));
  });

  test(`${kind}: VNODE on a server is EOPNOTSUPP; a proxy of one is EBADF`, async (t) => {
    const kq = openKqueue(t);
    const { server } = await listening(t, kind);
    assert.equal(failure(kq, { ident: server, filter: EVFILT_VNODE, flags: EV_ADD }), EOPNOTSUPP);
    assert.equal(failure(kq, { ident: new Proxy(server, {}), filter: READ, flags: EV_ADD }), EBADF);
    assert.throws(() => accept(new Proxy(server, {})), (e: unknown) => e instanceof KqueueError && e.code === 'EBADF');
    assert.throws(() => accept({} as net.Server), (e: unknown) => e instanceof KqueueError && e.code === 'EBADF');
  });
}

test('READ data is capped at 32 (kern.ipc.soavailconn), every connection still accepted (edge 85)', async (t) => {
  const kq = openKqueue(t);
  const { server, connect } = await listening(t, 'TCP');
  change(kq, { ident: server, filter: READ, flags: EV_ADD });
  const clients = Array.from({ length: 40 }, () => connect());
  await Promise.all(clients.map((c) => once(c, 'connect')));
  // Connected on the client side does not mean accepted by Node yet: harvest until all 40.
  let n = 0;
  while (n < 40) {
    const [ev] = await kq.kevent(null, 1, 5000);
    assert.ok(ev !== undefined);
    assert.ok((ev.data as number) <= 32);
    while (take(t, server) !== undefined) n++;
  }
  assert.equal(n, 40);
});

test('READ with 40 pending reports 32', async (t) => {
  const kq = openKqueue(t);
  const { server, connect } = await listening(t, 'TCP');
  change(kq, { ident: server, filter: READ, flags: EV_ADD });
  let accepted = 0;
  const all = new Promise<void>((r) => server.on('connection', () => { if (++accepted === 40) r(); }));
  for (let i = 0; i < 40; i++) connect();
  await all;
  assert.equal(kq.keventSync(null, 10)[0]?.data, 32);
});

test('a server registered before it listens counts connections once listening', async (t) => {
  const kq = openKqueue(t);
  const server = net.createServer();
  change(kq, { ident: server, filter: READ, flags: EV_ADD });
  server.listen(0, '127.0.0.1');
  t.after(() => { server.close(); });
  await once(server, 'listening');
  const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => c.destroy());
  const ev = await pendingReaches(kq, server, 1);
  assert.equal(ev.data, 1);
  take(t, server);
});

test('a failed listen is taken and reported: EV_EOF with EADDRINUSE', async (t) => {
  const kq = openKqueue(t);
  const { server } = await listening(t, 'TCP');
  const port = (server.address() as net.AddressInfo).port;
  const second = net.createServer();
  change(kq, { ident: second, filter: READ, flags: EV_ADD });
  second.listen(port, '127.0.0.1');
  const [ev] = await kq.kevent(null, 10, 5000);
  assert.equal(ev?.fflags, EADDRINUSE);
  assert.ok(ev!.flags & EV_EOF);
});

test('a reset connection waiting in the queue is accepted; READ then reports ECONNRESET', async (t) => {
  const kq = openKqueue(t);
  const { server, connect } = await listening(t, 'TCP');
  change(kq, { ident: server, filter: READ, flags: EV_ADD });
  const c = connect();
  await once(c, 'connect');
  await pendingReaches(kq, server, 1);
  c.resetAndDestroy();
  await new Promise((r) => c.once('close', r));
  const s = take(t, server)!;
  change(kq, { ident: s, filter: READ, flags: EV_ADD });
  const ev = await eofSeen(s);
  assert.equal(ev.fflags, ECONNRESET);
});

test('a pauseOnConnect server: accept() hands the socket out as Node made it, and READ starts it', async (t) => {
  const kq = openKqueue(t);
  const { server, connect } = await listening(t, 'TCP', { pauseOnConnect: true });
  change(kq, { ident: server, filter: READ, flags: EV_ADD });
  const c = connect();
  c.write('paused hello');
  await pendingReaches(kq, server, 1);
  const s = take(t, server)!;
  assert.equal(s.readableFlowing, false);
  assert.equal(s.bytesRead, 0);
  change(kq, { ident: s, filter: READ, flags: EV_ADD });
  const ev = await buffered(s, 12);
  assert.equal(ev.data, 12);
  assert.equal(String(s.read()), 'paused hello');
});
