// EVFILT_AIO on promises and thenables (api.md's AIO row; DragonFly's ENXIO for everything else,
// digest 3.7): readiness on settlement, data as errno, level vs EV_ONESHOT/EV_CLEAR, hostile
// thenables, and nothing of the caller's running during the changelist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  EBADF, EIO, ENOENT, ENXIO, EV_ADD, EV_CLEAR, EV_DELETE, EV_ERROR, EV_ONESHOT, EV_RECEIPT,
  EVFILT_AIO, type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';
import { microtasks, turns } from '../support/async.js';
import { runNode, LIBRARY } from '../support/child.js';

function aio(ident: unknown, flags = EV_ADD, udata?: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_AIO, flags, udata };
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

function one(evs: KEvent[]): KEvent {
  assert.equal(evs.length, 1, `expected one event, got ${evs.length}`);
  return evs[0]!;
}

function deferred(): { promise: Promise<unknown>; resolve: (v?: unknown) => void; reject: (e: unknown) => void } {
  let resolve!: (v?: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

// ---- settlement -----------------------------------------------------------------------------

test('a promise is ready once fulfilled, with data 0, level-triggered until deleted', async (t) => {
  const kq = openKqueue(t);
  const d = deferred();
  apply(kq, [aio(d.promise, EV_ADD, 'u')]);
  assert.deepEqual(kq.keventSync(null, 8), [], 'pending: not ready');
  d.resolve(42);
  const ev = one(await kq.kevent(null, 8, 5000));
  assert.deepEqual(ev, { ident: d.promise, filter: EVFILT_AIO, flags: EV_ADD, fflags: 0, data: 0, udata: 'u' });
  assert.equal(one(kq.keventSync(null, 8)).data, 0, 'level: returned again');
  apply(kq, [aio(d.promise, EV_DELETE)]);
  assert.deepEqual(kq.keventSync(null, 8), []);
});

test('EV_ONESHOT removes the knote on delivery; EV_CLEAR delivers once and stays', async (t) => {
  const kq = openKqueue(t);
  const p = Promise.resolve();
  const q = Promise.resolve();
  apply(kq, [aio(p, EV_ADD | EV_ONESHOT), aio(q, EV_ADD | EV_CLEAR)]);
  const evs = await kq.kevent(null, 8, 5000);
  assert.deepEqual(evs.map((e) => e.ident), [p, q]);
  assert.deepEqual(kq.keventSync(null, 8), []);
  const del = kq.keventSync([aio(p, EV_DELETE), aio(q, EV_DELETE | EV_RECEIPT)], 2);
  assert.deepEqual(del.map((e) => e.data), [ENOENT, 0]);
});

test('a rejection reports its code as a DragonFly errno, EIO without one', async (t) => {
  const kq = openKqueue(t);
  const missing = readFile('/nonexistent/kqueue-aio-test');
  const plain = Promise.reject(new Error('no code'));
  const odd = Promise.reject(Object.assign(new Error('odd'), { code: 'EWHATEVER' }));
  const prim = Promise.reject(7);
  for (const p of [missing, plain, odd, prim]) p.catch(() => {});
  apply(kq, [aio(missing), aio(plain), aio(odd), aio(prim)]);
  const got = new Map<unknown, number>();
  while (got.size < 4) for (const e of await kq.kevent(null, 8, 5000)) got.set(e.ident, e.data as number);
  assert.equal(got.get(missing), ENOENT);
  assert.equal(got.get(plain), EIO);
  assert.equal(got.get(odd), EIO);
  assert.equal(got.get(prim), EIO);
});

test('an already settled promise is ready right after the call; several kqueues share it', async (t) => {
  const a = openKqueue(t);
  const b = openKqueue(t);
  const p = Promise.resolve('done');
  apply(a, [aio(p)]);
  apply(b, [aio(p, EV_ADD | EV_ONESHOT)]);
  assert.equal(one(await a.kevent(null, 8, 5000)).ident, p);
  assert.equal(one(await b.kevent(null, 8, 5000)).ident, p);
  // A later knote on the settled promise is ready at once (its outcome is kept).
  const c = openKqueue(t);
  apply(c, [aio(p)]);
  assert.equal(one(c.keventSync(null, 8)).data, 0);
});

test('a thenable with a then method is followed to its settlement', async (t) => {
  const kq = openKqueue(t);
  let settle: ((v: unknown) => void) | undefined;
  let fail: ((e: unknown) => void) | undefined;
  const ok = { then(res: (v: unknown) => void) { settle = res; } };
  const bad = { then(_res: unknown, rej: (e: unknown) => void) { fail = rej; } };
  apply(kq, [aio(ok), aio(bad)]);
  await microtasks();
  assert.ok(settle && fail, 'then was called after the changelist');
  settle(1);
  fail({ code: 'EACCES' });
  const got = new Map<unknown, number>();
  while (got.size < 2) for (const e of await kq.kevent(null, 8, 5000)) got.set(e.ident, e.data as number);
  assert.equal(got.get(ok), 0);
  assert.equal(got.get(bad), 13);
});

// ---- non-thenables and proxies --------------------------------------------------------------

test('non-thenables keep ENXIO; a Proxy is EBADF and its traps never run', (t) => {
  const kq = openKqueue(t);
  let trapped = 0;
  const handler = new Proxy({}, { get: () => { trapped++; return undefined; } });
  const proxy = new Proxy(Promise.resolve(), handler);
  const viaProto = Object.create(new Proxy({}, handler));
  const idents = [3, 'p', null, undefined, Symbol('s'), {}, [], () => {}, { then: 1 }, Object.create(null),
    { set then(_v: unknown) {} }];
  const out = kq.keventSync([...idents.map((i) => aio(i)), aio(proxy), aio(viaProto)], 16);
  assert.deepEqual(out.map((e) => [e.flags, e.data]), [...idents.map(() => [EV_ERROR, ENXIO]), [EV_ERROR, EBADF], [EV_ERROR, EBADF]]);
  assert.equal(trapped, 0);
});

// ---- hostile thenables ----------------------------------------------------------------------

test('nothing of a thenable runs during the changelist; hostile ones settle or stay pending', async (t) => {
  const kq = openKqueue(t);
  const log: string[] = [];
  const getterThrows = { get then(): never { log.push('getter'); throw Object.assign(new Error('g'), { code: 'EPERM' }); } };
  const thenThrows = { then(): never { log.push('then'); throw new Error('t'); } };
  const twice = { then(res: (v: unknown) => void, rej: (e: unknown) => void) { log.push('twice'); res(1); rej(new Error('x')); res(2); } };
  const rejectThenThrow = { then(_r: unknown, rej: (e: unknown) => void) { log.push('rt'); rej({ code: 'ENOENT' }); throw new Error('after'); } };
  const never = { then() { log.push('never'); } };
  const getterValue = { get then() { log.push('gv'); return 5; } };
  const codeGetterThrows = Promise.reject({ get code(): never { throw new Error('code'); } });
  codeGetterThrows.catch(() => {});
  class Sub extends Promise<unknown> {
    static override get [Symbol.species](): never { log.push('species'); throw new Error('species'); }
  }
  const sub = new Sub((res) => res(1));
  apply(kq, [twice, getterThrows, thenThrows, rejectThenThrow, never, getterValue, codeGetterThrows, sub].map((x) => aio(x)));
  assert.deepEqual(log, [], 'no user code ran during the call');
  const got = new Map<unknown, number>();
  while (got.size < 7) for (const e of await kq.kevent(null, 16, 5000)) got.set(e.ident, e.data as number);
  assert.equal(got.get(twice), 0, 'the first settlement counts');
  assert.equal(got.get(getterThrows), 1 /* EPERM */);
  assert.equal(got.get(thenThrows), EIO);
  assert.equal(got.get(rejectThenThrow), ENOENT);
  assert.equal(got.get(getterValue), 0, 'a then that is no function: fulfilled with the object, as await does');
  assert.equal(got.get(codeGetterThrows), EIO);
  assert.equal(got.get(sub), EIO, 'a species that throws is a rejection');
  assert.equal(got.has(never), false);
  await turns(3);
  assert.ok(!kq.keventSync(null, 16).some((e) => e.ident === never), 'a thenable that never settles never fires');
});

test('deleting a knote before its promise settles leaves nothing to fire', async (t) => {
  const kq = openKqueue(t);
  const d = deferred();
  apply(kq, [aio(d.promise), aio(d.promise, EV_DELETE)]);
  d.resolve();
  await turns(2);
  assert.deepEqual(kq.keventSync(null, 8), []);
  assert.equal(kq.pending, 0);
});

test('a knote on a promise that never settles does not keep the process alive', async (t) => {
  for (const close of [false, true]) {
    const res = await runNode(t, `
      import { kqueue, EVFILT_AIO, EV_ADD } from ${JSON.stringify(LIBRARY)};
      const kq = kqueue();
      kq.keventSync([{ ident: new Promise(() => {}), filter: EVFILT_AIO, flags: EV_ADD },
                     { ident: { then() {} }, filter: EVFILT_AIO, flags: EV_ADD }], 0);
      ${close ? 'kq.close();' : ''}
      console.log('done');
    `, undefined, 10_000);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.signal, null);
    assert.match(res.stdout, /done/);
  }
});
