// EVFILT_AIO under faults (issue 10, scope 1, "promises"): promises that never settle (the knote
// stays; nothing is kept alive or reachable once closed), thenables that settle twice or call both
// callbacks, and thenables whose `then` throws (before settling, after it, or from a getter).
// Outcomes in docs/filters/aio.md, Faults.
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EIO, ENOENT, EPERM, EV_ADD, EV_CLEAR, EV_DELETE, EV_ERROR, EV_ONESHOT, EV_RECEIPT, EVFILT_AIO,
  EVFILT_USER, NOTE_TRIGGER, type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { engineOf } from '../../src/kqueue.js';
import { openKqueue } from '../support/open.js';
import { turns } from '../support/async.js';
import { LIBRARY, runNode } from '../support/child.js';

function aio(ident: unknown, flags = EV_ADD, udata?: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_AIO, flags, udata };
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

function knoteCount(kq: Kqueue): number {
  let n = 0;
  for (const table of engineOf(kq).knotes) n += table?.all().length ?? 0;
  return n;
}

/**
 * Everything queued for `kq` now: microtasks run out first (every settlement has been recorded),
 * then a user event triggered last comes back, after whatever was pending.
 */
async function drain(kq: Kqueue): Promise<KEvent[]> {
  await turns(3);
  const id = Symbol('fence');
  apply(kq, [{ ident: id, filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER }]);
  const evs = await kq.kevent(null, 256, 5000);
  assert.ok(evs.some((e) => e.ident === id), 'the fence came back');
  return evs.filter((e) => e.ident !== id);
}

/** Fails the test on any unhandled rejection or uncaught exception while it runs. */
function noStrayErrors(t: TestContext): void {
  const stray: unknown[] = [];
  const onRejection = (reason: unknown): void => { stray.push(reason); };
  process.on('unhandledRejection', onRejection);
  t.after(() => {
    process.removeListener('unhandledRejection', onRejection);
    assert.deepEqual(stray, [], 'no unhandled rejection');
  });
}

/** A thenable that keeps its callbacks, to settle it later, as often and however the test likes. */
function manual(): { thenable: { then(res: (v: unknown) => void, rej: (e: unknown) => void): void }; calls: number;
  resolve(v?: unknown): void; reject(e: unknown): void } {
  const cbs: { res: (v: unknown) => void; rej: (e: unknown) => void }[] = [];
  const m = {
    calls: 0,
    thenable: { then: (res: (v: unknown) => void, rej: (e: unknown) => void): void => { m.calls++; cbs.push({ res, rej }); } },
    resolve: (v?: unknown): void => { for (const c of cbs) c.res(v); },
    reject: (e: unknown): void => { for (const c of cbs) c.rej(e); },
  };
  return m;
}

const codeError = (code: string): Error => Object.assign(new Error(code), { code });

// ---- never settles ----------------------------------------------------------------------------

test('a promise and a thenable that never settle: the knotes stay, never fire, and EV_DELETE finds them', async (t) => {
  const kq = openKqueue(t);
  const never = new Promise(() => {});
  const m = manual();
  apply(kq, [aio(never, EV_ADD, 'p'), aio(m.thenable, EV_ADD | EV_CLEAR, 't'), aio(never, EV_ADD | EV_ONESHOT, 'p again')]);
  assert.deepEqual(await drain(kq), []);
  assert.equal(m.calls, 1, 'then was called once, after the call');
  assert.equal(knoteCount(kq), 2, 'the second change on the promise modified its knote');
  const out = kq.keventSync([aio(never, EV_DELETE | EV_RECEIPT), aio(m.thenable, EV_DELETE | EV_RECEIPT)], 4);
  assert.deepEqual(out.map((e) => [e.flags & EV_ERROR, e.data]), [[EV_ERROR, 0], [EV_ERROR, 0]], 'both were there');
  assert.equal(knoteCount(kq), 0);
  // Settling after the knotes went wakes nothing.
  m.resolve();
  assert.deepEqual(await drain(kq), []);
});

test('10,000 knotes on pending promises: the process exits by itself, closed or not', async (t) => {
  for (const close of [true, false]) {
    const res = await runNode(t, `
      import { kqueue, EVFILT_AIO, EV_ADD } from ${JSON.stringify(LIBRARY)};
      const a = kqueue(), b = kqueue();
      const pending = [];
      for (let i = 0; i < 5000; i++) pending.push(new Promise(() => {}), { then() {} });
      a.keventSync(pending.map((ident) => ({ ident, filter: EVFILT_AIO, flags: EV_ADD })), 0);
      b.keventSync(pending.slice(0, 100).map((ident) => ({ ident, filter: EVFILT_AIO, flags: EV_ADD })), 0);
      ${close ? 'a.close(); b.close();' : ''}
      globalThis.keep = pending;
      console.log('registered');
    `, undefined, 20_000);
    assert.equal(res.signal, null, `close ${close}: it exited on its own, not killed by the timeout`);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /registered/);
  }
});

test('a closed kqueue is not kept reachable by the pending promises it watched (the promises are)', async (t) => {
  const res = await runNode(t, `
    import { kqueue, EVFILT_AIO, EV_ADD } from ${JSON.stringify(LIBRARY)};
    const pending = [new Promise(() => {}), { then() {} }, Promise.resolve(1)];
    let collected = 0;
    const registry = new FinalizationRegistry(() => { collected++; });
    (() => {
      for (let i = 0; i < 10; i++) {
        const kq = kqueue();
        kq.keventSync(pending.map((ident) => ({ ident, filter: EVFILT_AIO, flags: EV_ADD })), 0);
        kq.close();
        registry.register(kq, i);
      }
    })();
    for (let i = 0; i < 10 && collected < 10; i++) {
      await new Promise((r) => setTimeout(r, 10));
      globalThis.gc();
    }
    console.log(JSON.stringify({ collected, alive: pending.length }));
  `, undefined, 20_000, { nodeArgs: ['--expose-gc'] });
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout), { collected: 10, alive: 3 });
});

// ---- settles twice ------------------------------------------------------------------------------

test('a thenable that settles twice, later and apart: one event with EV_CLEAR, one with EV_ONESHOT, a level knote keeps the first outcome', async (t) => {
  noStrayErrors(t);
  const a = openKqueue(t);
  const b = openKqueue(t);
  const m = manual();
  apply(a, [aio(m.thenable, EV_ADD | EV_CLEAR, 'clear')]);
  apply(b, [aio(m.thenable, EV_ADD | EV_ONESHOT, 'oneshot')]);
  assert.deepEqual(await drain(a), []);
  m.resolve('first');
  assert.deepEqual((await drain(a)).map((e) => [e.udata, e.data]), [['clear', 0]]);
  assert.deepEqual((await drain(b)).map((e) => [e.udata, e.data]), [['oneshot', 0]]);
  // Again, both ways: the promise resolution procedure took the first call; the rest is ignored.
  m.resolve('second');
  m.reject(codeError('ENOENT'));
  assert.deepEqual(await drain(a), []);
  assert.deepEqual(await drain(b), []);
  assert.equal(knoteCount(b), 0, 'the oneshot knote went with its event');
  // A knote added now is level-triggered on the recorded first outcome.
  apply(b, [aio(m.thenable, EV_ADD, 'level')]);
  m.reject(codeError('EPERM'));
  const level = await drain(b);
  assert.deepEqual(level.map((e) => [e.udata, e.data]), [['level', 0]]);
  assert.deepEqual(b.keventSync(null, 8).map((e) => [e.udata, e.data]), [['level', 0]], 'still ready, still fulfilled');
  assert.equal(m.calls, 1, 'then was read and called once for every knote in every kqueue');
});

test('resolve then reject, reject then resolve, in one call or spread over turns: the first one counts', async (t) => {
  noStrayErrors(t);
  const kq = openKqueue(t);
  const resolveFirst = { then(res: (v: unknown) => void, rej: (e: unknown) => void): void { res(1); rej(codeError('ENOENT')); } };
  const rejectFirst = { then(res: (v: unknown) => void, rej: (e: unknown) => void): void { rej(codeError('ENOENT')); res(1); } };
  const later1 = manual();
  const later2 = manual();
  apply(kq, [aio(resolveFirst, EV_ADD | EV_CLEAR, 'res, rej'), aio(rejectFirst, EV_ADD | EV_CLEAR, 'rej, res'),
    aio(later1.thenable, EV_ADD | EV_CLEAR, 'later res, rej'), aio(later2.thenable, EV_ADD | EV_CLEAR, 'later rej, res')]);
  await turns(1); // their then() is called after the call: now they hold the callbacks
  assert.equal(later1.calls + later2.calls, 2);
  later1.resolve();
  later2.reject(codeError('EPERM'));
  await turns(2);
  later1.reject(codeError('EPERM'));
  later2.resolve();
  const got = (await drain(kq)).map((e) => [e.udata, e.data]).sort();
  assert.deepEqual(got, [['later rej, res', EPERM], ['later res, rej', 0], ['rej, res', ENOENT], ['res, rej', 0]]);
  assert.deepEqual(await drain(kq), [], 'one event each');
});

// ---- then throws --------------------------------------------------------------------------------

test('then that throws: before settling (a rejection), after resolve or reject (ignored), from a getter (a rejection)', async (t) => {
  noStrayErrors(t);
  const kq = openKqueue(t);
  let getterReads = 0;
  const cases: [string, object, number][] = [
    ['throws', { then(): never { throw codeError('EPERM'); } }, EPERM],
    ['throws a non-error', { then(): never { throw 42; } }, EIO],
    ['throws a Proxy', { then(): never { throw new Proxy({}, { get: () => { throw new Error('trap'); } }); } }, EIO],
    ['resolves, throws', { then(res: (v: unknown) => void): never { res(1); throw codeError('EPERM'); } }, 0],
    ['rejects, throws', { then(_: unknown, rej: (e: unknown) => void): never { rej(codeError('ENOENT')); throw codeError('EPERM'); } }, ENOENT],
    ['getter throws', { get then(): never { getterReads++; throw codeError('EPERM'); } }, EPERM],
    ['getter gives a thrower', { get then() { getterReads++; return (): never => { throw codeError('ENOENT'); }; } }, ENOENT],
    ['resolves with a thrower', { then(res: (v: unknown) => void): void { res({ then(): never { throw codeError('EPERM'); } }); } }, EPERM],
  ];
  const before = process.listenerCount('uncaughtException');
  apply(kq, cases.map(([name, x]) => aio(x, EV_ADD | EV_CLEAR, name)));
  assert.equal(getterReads, 0, 'no getter ran during the call');
  const got = new Map((await drain(kq)).map((e) => [e.udata, e.data]));
  assert.deepEqual(Object.fromEntries(got), Object.fromEntries(cases.map(([name, , data]) => [name, data])));
  assert.equal(getterReads, 2, 'each getter read once, after the call');
  assert.deepEqual(await drain(kq), [], 'one event each');
  assert.equal(process.listenerCount('uncaughtException'), before);
});

test('a then that resolves with a thenable that never settles: the knote waits, stays, and can be deleted', async (t) => {
  noStrayErrors(t);
  const kq = openKqueue(t);
  const inner = manual();
  const outer = { then(res: (v: unknown) => void): void { res(inner.thenable); } };
  apply(kq, [aio(outer, EV_ADD | EV_CLEAR, 'outer')]);
  assert.deepEqual(await drain(kq), []);
  assert.equal(inner.calls, 1, 'the inner thenable was followed');
  inner.reject(codeError('ENOENT'));
  assert.deepEqual((await drain(kq)).map((e) => [e.udata, e.data]), [['outer', ENOENT]]);
  apply(kq, [aio(outer, EV_DELETE)]);
  assert.equal(knoteCount(kq), 0);
});
