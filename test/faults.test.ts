// Faults inside the engine's reach (issue scope item 4): AbortSignals aborted early, twice or late;
// a kqueue closed under events() or while a harvest's consumer throws; re-entrant calls from inside
// an async iterator loop; timer periods of 0, negative, or beyond 2^31 ms; a clock advanced by 0 or
// by a huge step. Each fault has one named test that states its outcome. Everything timed runs on a
// VirtualClock, except the two checks that the real clock copes with delays beyond Node's 2^31 - 1
// ms timer limit. After every test: no unhandled rejection, no stray process warning.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { Worker } from 'node:worker_threads';
import {
  EBADF, EINTR, EINVAL, EV_ADD, EV_CLEAR, EV_DELETE, EV_ONESHOT, EVFILT_TIMER, EVFILT_USER, KqueueError,
  NOTE_TRIGGER, VirtualClock, kqueue, type KEvent, type KEventInit, type Kqueue,
} from '../src/index.js';
import { microtasks, track, turns } from './support/async.js';

type TestContext = { after(fn: () => void): void };

const unhandled: unknown[] = [];
const warnings: Error[] = [];
process.on('unhandledRejection', (r) => { unhandled.push(r); });
process.on('warning', (w) => { warnings.push(w); });

afterEach(async () => {
  await turns(2);
  assert.deepEqual(unhandled.splice(0), [], 'no promise was rejected without a handler');
  assert.deepEqual(warnings.splice(0).map((w) => `${w.name}: ${w.message}`), [], 'no process warning was emitted');
});

function open(t: TestContext): { kq: Kqueue; clock: VirtualClock } {
  const clock = new VirtualClock();
  const kq = kqueue({ clock });
  t.after(() => kq.close());
  return { kq, clock };
}

const user = (ident: string, flags: number, fflags = 0): KEventInit => ({ ident, filter: EVFILT_USER, flags, fflags });
const addTriggered = (ident: string, extra = 0): KEventInit => user(ident, EV_ADD | extra, NOTE_TRIGGER);
const addQuiet = (ident: string, extra = 0): KEventInit => user(ident, EV_ADD | extra);
const trigger = (ident: string): KEventInit => user(ident, 0, NOTE_TRIGGER);
const timer = (ident: string, period: number | bigint, extra = 0): KEventInit =>
  ({ ident, filter: EVFILT_TIMER, flags: EV_ADD | extra, data: period });

function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}
const idents = (evs: KEvent[]): unknown[] => evs.map((e) => e.ident);
const isErr = (errno: number) => (e: unknown): boolean => e instanceof KqueueError && e.errno === errno;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Asserts that no wait is left asleep on `kq`: an edge-triggered event stays for keventSync. */
async function assertNoWaitLeft(kq: Kqueue, ident = 'probe'): Promise<void> {
  apply(kq, [addQuiet(ident, EV_CLEAR)]);
  apply(kq, [trigger(ident)]);
  await turns();
  assert.deepEqual(idents(kq.keventSync(null, 8)).filter((i) => i === ident), [ident], 'no forgotten wait took the event');
}

const LIB = new URL('../src/index.js', import.meta.url).href;

/** Runs `body(K)` in a worker: a call that never returns fails the test instead of hanging it. */
function isolated(body: string, limitMs: number): Promise<{ value?: unknown; error?: string; hung?: boolean; ms: number }> {
  const code = `
const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(LIB)}).then(async (K) => {
  const t0 = performance.now();
  const value = await (${body})(K);
  parentPort.postMessage({ value, ms: performance.now() - t0 });
}).catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));`;
  return new Promise((resolve) => {
    const start = performance.now();
    const w = new Worker(code, { eval: true, execArgv: [] });
    let done = false;
    const end = (r: { value?: unknown; error?: string; hung?: boolean; ms?: number }): void => {
      if (done) return;
      done = true;
      clearTimeout(dog);
      void w.terminate();
      resolve({ ms: performance.now() - start, ...r });
    };
    const dog = setTimeout(() => end({ hung: true }), limitMs);
    w.on('message', (m: { value?: unknown; error?: string; ms?: number }) => end(m));
    w.on('error', (e) => end({ error: String(e) }));
  });
}

// ---- AbortSignal ----------------------------------------------------------------------------------

test('an already aborted signal: a wait that would sleep applies its changes and rejects EINTR after one turn', async (t) => {
  const { kq } = open(t);
  const s = track(kq.kevent([addQuiet('a', EV_CLEAR)], 4, null, { signal: AbortSignal.abort() }));
  await microtasks();
  assert.equal(s.settled, false, 'a call with a non-zero timeout settles only after a turn');
  await turns();
  assert.ok(s.settled && isErr(EINTR)(s.error), `got ${String(s.error)}`);
  assert.deepEqual(idents(kq.keventSync([trigger('a')], 4)), ['a'], 'the change was applied');
});

test('an already aborted signal: events that are ready are returned, not EINTR', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR)]);
  assert.deepEqual(idents(await kq.kevent(null, 4, null, { signal: AbortSignal.abort() })), ['a']);
  assert.deepEqual(idents(await kq.kevent([addTriggered('b')], 4, 100, { signal: AbortSignal.abort() })), ['b']);
});

test('an already aborted signal with timeout 0 or a negative timeout: the call never waits, so it resolves [] rather than EINTR', async (t) => {
  const { kq } = open(t);
  assert.deepEqual(await kq.kevent(null, 4, 0, { signal: AbortSignal.abort() }), []);
  assert.deepEqual(await kq.kevent(null, 4, -1, { signal: AbortSignal.abort() }), []);
  assert.deepEqual(await kq.kevent(null, 0, null, { signal: AbortSignal.abort() }), [], 'nevents 0 never waits either');
});

test('a signal aborted twice: the wait rejects once with EINTR, the second abort and a stray abort event do nothing', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  let settlements = 0;
  const p = kq.kevent(null, 1, null, { signal: ac.signal });
  const s = track(p);
  p.then(() => { settlements++; }, () => { settlements++; });
  await turns();
  ac.abort();
  ac.abort();
  ac.signal.dispatchEvent(new Event('abort'));
  await turns();
  assert.ok(isErr(EINTR)(s.error));
  assert.equal(settlements, 1);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'the wait removed its listener');
  // The kqueue is untouched: a later event is delivered, even to a wait given the aborted signal.
  apply(kq, [addTriggered('a')]);
  assert.deepEqual(idents(await kq.kevent(null, 4, null, { signal: ac.signal })), ['a']);
  await assertNoWaitLeft(kq);
});

test('a signal aborted after the wait resolved with events: nothing happens, and the kqueue is unaffected', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  const p = kq.kevent(null, 4, null, { signal: ac.signal });
  await turns();
  apply(kq, [addTriggered('a')]);
  assert.deepEqual(idents(await p), ['a']);
  ac.abort();
  await turns();
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  assert.equal(kq.pending, 1, 'the level-triggered event is still queued');
  assert.deepEqual(idents(kq.keventSync(null, 4)), ['a']);
});

test('a signal aborted after the wait timed out (VirtualClock): the wait stays resolved with []', async (t) => {
  const { kq, clock } = open(t);
  const ac = new AbortController();
  const s = track(kq.kevent(null, 4, 10, { signal: ac.signal }));
  await turns();
  clock.advance(10);
  await microtasks();
  assert.deepEqual(s.value, []);
  ac.abort();
  await turns();
  assert.deepEqual(s.value, []);
  assert.equal(s.error, undefined);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('a signal aborted after close() rejected the wait: the wait stays rejected with EBADF', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  const s = track(kq.kevent(null, 4, null, { signal: ac.signal }));
  await turns();
  kq.close();
  await turns();
  ac.abort();
  await turns();
  assert.ok(isErr(EBADF)(s.error), `got ${String(s.error)}`);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('an abort listener that triggers an event on the same kqueue: the wait, woken and aborted at once, returns that event', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR)]);
  const ac = new AbortController();
  // Registered before the wait's own listener, so it runs first.
  ac.signal.addEventListener('abort', () => apply(kq, [trigger('a')]));
  const s = track(kq.kevent(null, 4, null, { signal: ac.signal }));
  await turns();
  ac.abort();
  await turns();
  assert.equal(s.error, undefined);
  assert.deepEqual(idents(s.value!), ['a']);
});

test('events() with an already aborted signal ends at once and loses no event: each ready event is yielded or still queued', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_ONESHOT)]);
  const yielded: unknown[] = [];
  for await (const ev of kq.events({ signal: AbortSignal.abort() })) yielded.push(ev.ident);
  const left = idents(kq.keventSync(null, 8));
  assert.deepEqual([...yielded, ...left].sort(), ['a', 'b']);
});

test('events() whose signal aborts mid-batch ends after the current event, and the rest stays queued', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR), addTriggered('c', EV_CLEAR)]);
  const ac = new AbortController();
  const seen: unknown[] = [];
  for await (const ev of kq.events({ signal: ac.signal })) {
    seen.push(ev.ident);
    ac.abort();
  }
  assert.deepEqual(seen, ['a']);
  // events() takes an event from the queue only as it yields it (docs/api.md, kq.events).
  assert.deepEqual(idents(kq.keventSync(null, 8)), ['b', 'c']);
});

// ---- close() and throwing consumers around events() ---------------------------------------------------

test('close() inside a for-await over events() ends the loop after the current event, without an error', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR)]);
  const seen: unknown[] = [];
  for await (const ev of kq.events()) {
    seen.push(ev.ident);
    kq.close();
  }
  assert.deepEqual(seen, ['a']);
  assert.equal(kq.closed, true);
  assert.equal(kq.pending, 0);
});

test('close() while events() waits for a batch: the pending next() resolves done, no rejection', async (t) => {
  const { kq } = open(t);
  const it = kq.events()[Symbol.asyncIterator]();
  const s = track(it.next());
  await turns();
  assert.equal(s.settled, false);
  kq.close();
  await turns();
  assert.deepEqual(s.value, { value: undefined, done: true });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
});

test('a consumer that throws inside for-await over events(): its own exception propagates unchanged, no wait is left behind, the kqueue stays usable', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR)]);
  const mine = { consumer: 'threw' };
  await assert.rejects(async () => {
    for await (const ev of kq.events()) {
      void ev;
      throw mine;
    }
  }, (e: unknown) => e === mine);
  await assertNoWaitLeft(kq);
  apply(kq, [addTriggered('b', EV_CLEAR)]);
  assert.deepEqual(idents(await kq.kevent(null, 4, null)), ['b']);
});

test('a consumer that closes the kqueue and then throws: its own exception propagates (not EBADF) and the kqueue is closed', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR)]);
  const mine = new Error('consumer');
  await assert.rejects(async () => {
    for await (const ev of kq.events()) {
      void ev;
      kq.close();
      throw mine;
    }
  }, (e: unknown) => e === mine);
  assert.equal(kq.closed, true);
  assert.throws(() => kq.keventSync(null, 1), isErr(EBADF));
});

test('a consumer that throws mid-batch loses nothing: the rest stays queued for a new events() loop', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR), addTriggered('c', EV_CLEAR)]);
  await assert.rejects(async () => {
    for await (const ev of kq.events()) if (ev.ident === 'a') throw new Error('consumer');
  }, /consumer/);
  const seen: unknown[] = [];
  for await (const ev of kq.events()) {
    seen.push(ev.ident);
    if (ev.ident === 'c') break;
  }
  assert.deepEqual(seen, ['b', 'c']);
  assert.deepEqual(kq.keventSync(null, 8), []);
});

test('an EV_DELETE made by the loop body applies to the very next event of events()', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR), addTriggered('c', EV_CLEAR)]);
  const seen: unknown[] = [];
  for await (const ev of kq.events()) {
    seen.push(ev.ident);
    if (ev.ident === 'a') kq.keventSync([{ ident: 'b', filter: EVFILT_USER, flags: EV_DELETE }], 0);
    if (ev.ident === 'c') break;
  }
  assert.deepEqual(seen, ['a', 'c']);
});

test('events() with nevents n lets the event loop turn after every n events', async (t) => {
  const { kq } = open(t);
  apply(kq, ['a', 'b', 'c', 'd', 'e'].map((id) => addTriggered(id, EV_CLEAR)));
  let turnsSeen = 0;
  let stop = false;
  const tick = (): void => { turnsSeen++; if (!stop) setImmediate(tick); };
  setImmediate(tick);
  const turnsAt: number[] = [];
  for await (const ev of kq.events({ nevents: 2 })) {
    turnsAt.push(turnsSeen);
    if (ev.ident === 'e') break;
  }
  stop = true;
  // a and b in one batch, c and d in the next, e in a third: a new batch only after a turn.
  assert.equal(turnsAt[0], turnsAt[1]);
  assert.ok(turnsAt[2]! > turnsAt[1]!, `turns: ${turnsAt}`);
  assert.equal(turnsAt[2], turnsAt[3]);
  assert.ok(turnsAt[4]! > turnsAt[3]!, `turns: ${turnsAt}`);
});

// ---- re-entrant calls from inside an async iterator loop ------------------------------------------------

test('keventSync inside a for-await over events() applies at once; the events it harvests are not yielded again', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR)]);
  const seen: unknown[] = [];
  const inner: unknown[] = [];
  for await (const ev of kq.events({ nevents: 1 })) {
    seen.push(ev.ident);
    if (ev.ident === 'a') {
      inner.push(...idents(kq.keventSync([addTriggered('b', EV_CLEAR), addTriggered('c', EV_CLEAR)], 4)));
      apply(kq, [addTriggered('d', EV_CLEAR)]);
    }
    if (ev.ident === 'd') break;
  }
  assert.deepEqual(seen, ['a', 'd']);
  assert.deepEqual(inner, ['b', 'c']);
  assert.equal(kq.pending, 0);
});

test('await kq.kevent() inside a for-await over events(): it applies, waits and resolves like anywhere else', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR)]);
  for await (const ev of kq.events()) {
    assert.equal(ev.ident, 'a');
    assert.deepEqual(idents(await kq.kevent([addTriggered('b', EV_CLEAR)], 4, 100)), ['b']);
    const timedOut = kq.kevent(null, 4, 50);
    await turns();
    clock.advance(50);
    assert.deepEqual(await timedOut, []);
    break;
  }
  await assertNoWaitLeft(kq);
});

test('a nested events() loop inside an events() loop: every event is yielded exactly once across both', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR), addTriggered('c', EV_CLEAR)]);
  const outer: unknown[] = [];
  const inner: unknown[] = [];
  for await (const ev of kq.events({ nevents: 1 })) {
    outer.push(ev.ident);
    if (ev.ident === 'a') {
      for await (const e2 of kq.events({ nevents: 1 })) {
        inner.push(e2.ident);
        if (e2.ident === 'c') break;
      }
      apply(kq, [addTriggered('d', EV_CLEAR)]);
    }
    if (ev.ident === 'd') break;
  }
  assert.deepEqual(outer, ['a', 'd']);
  assert.deepEqual(inner, ['b', 'c']);
  await assertNoWaitLeft(kq);
});

test('close() from a nested events() loop ends both loops quietly', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR)]);
  const seen: unknown[] = [];
  for await (const ev of kq.events({ nevents: 1 })) {
    seen.push(ev.ident);
    for await (const e2 of kq.events({ nevents: 1 })) {
      seen.push(e2.ident);
      kq.close();
    }
  }
  assert.deepEqual(seen, ['a', 'b']);
  assert.equal(kq.closed, true);
});

test('two events() loops running concurrently on one kqueue share its events: each EV_CLEAR event goes to exactly one', async (t) => {
  const { kq } = open(t);
  const got: unknown[] = [];
  const loop = async (): Promise<void> => {
    for await (const ev of kq.events({ nevents: 1 })) got.push(ev.ident);
  };
  const both = Promise.all([loop(), loop()]);
  await turns();
  for (const id of ['a', 'b', 'c', 'd']) {
    apply(kq, [addTriggered(id, EV_CLEAR)]);
    await turns();
  }
  kq.close();
  await both;
  assert.deepEqual([...got].sort(), ['a', 'b', 'c', 'd']);
});

// ---- timer periods ---------------------------------------------------------------------------------------

test('a timer period of 0 fires every 1 ms (DragonFly: one tick)', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 0)]);
  clock.advance(0.5);
  assert.deepEqual(kq.keventSync(null, 4), []);
  clock.advance(0.5);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => e.data), [1]);
  clock.advance(5);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => e.data), [5]);
});

test('a negative timer period (-5, and -2^63 as a bigint) is accepted and fires every 1 ms', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('n', -5), timer('m', -(2n ** 63n))]);
  clock.advance(3);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => [e.ident, e.data]), [['n', 3], ['m', 3]]);
});

test('a timer period of 2^31 + 5 ms fires exactly at its deadline on a VirtualClock, never before', (t) => {
  const { kq, clock } = open(t);
  const p = 2 ** 31 + 5;
  apply(kq, [timer('t', p)]);
  clock.advance(p - 1);
  assert.deepEqual(kq.keventSync(null, 4), []);
  clock.advance(1);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => e.data), [1]);
  clock.advance(2 * p);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => e.data), [2]);
});

test('a timer period of 2^63 - 1 ms (bigint) is accepted and never fires within the clock\'s range', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 2n ** 63n - 1n)]);
  clock.advanceTo(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(kq.keventSync(null, 4), []);
});

test('timer periods beyond 2^31 ms on the real clock do not fire early and emit no TimeoutOverflowWarning', async () => {
  const kq = kqueue();
  try {
    apply(kq, [timer('a', 2 ** 31), timer('b', 2 ** 31 + 5), timer('c', 2 ** 32), timer('d', 2n ** 40n)]);
    await sleep(60);
    assert.deepEqual(kq.keventSync(null, 8), []);
  } finally {
    kq.close();
  }
});

test('a kevent timeout beyond 2^31 ms on the real clock does not settle early and emits no TimeoutOverflowWarning', async () => {
  const kq = kqueue();
  const ac = new AbortController();
  try {
    const s = track(kq.kevent(null, 1, 2 ** 31 + 5, { signal: ac.signal }));
    const s2 = track(kq.kevent(null, 1, { sec: 2 ** 32, nsec: 0 }, { signal: ac.signal }));
    await sleep(60);
    assert.equal(s.settled, false);
    assert.equal(s2.settled, false);
    ac.abort();
    await turns();
    assert.ok(isErr(EINTR)(s.error) && isErr(EINTR)(s2.error));
  } finally {
    kq.close();
  }
});

// ---- clock steps -----------------------------------------------------------------------------------------

test('advance(0) and advanceTo(now()) change nothing: now() stays, no timer fires, no wait settles', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 5), timer('z', 0)]);
  clock.advance(4.5);
  kq.keventSync(null, 8); // the 1 ms timer fired 4 times; the 5 ms one not yet
  const s = track(kq.kevent(null, 4, 0.25));
  await turns();
  for (const step of [() => clock.advance(0), () => clock.advanceTo(clock.now())]) {
    step();
    await microtasks();
    assert.equal(clock.now(), 4.5);
    assert.deepEqual(kq.keventSync(null, 8), []);
    assert.equal(s.settled, false);
  }
  clock.advance(0.25);
  await microtasks();
  assert.deepEqual(s.value, []);
});

test('a huge step (to 2^53 - 1 ms) with many periodic timers returns promptly and reports every expiration exactly', async () => {
  const r = await isolated(`async (K) => {
    const clock = new K.VirtualClock();
    const kq = K.kqueue({ clock });
    const changes = [];
    for (let p = 1; p <= 1000; p++) changes.push({ ident: p, filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: p });
    changes.push({ ident: 'once', filter: K.EVFILT_TIMER, flags: K.EV_ADD | K.EV_ONESHOT, data: 1000 });
    changes.push({ ident: 'big', filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 2 ** 31 + 5 });
    kq.keventSync(changes, 0);
    const t0 = performance.now();
    clock.advance(Number.MAX_SAFE_INTEGER);
    const ms = performance.now() - t0;
    const evs = kq.keventSync(null, 2000);
    const bad = [];
    for (const e of evs) {
      const p = e.ident === 'once' ? 0 : e.ident === 'big' ? 2 ** 31 + 5 : e.ident;
      const want = p === 0 ? 1 : Math.floor(Number.MAX_SAFE_INTEGER / p);
      if (e.data !== want) bad.push([e.ident, String(e.data), want]);
    }
    kq.close();
    return { n: evs.length, bad, ms, now: clock.now() };
  }`, 10_000);
  assert.equal(r.hung, undefined, 'advance() never returned');
  assert.equal(r.error, undefined, r.error);
  const v = r.value as { n: number; bad: unknown[]; ms: number; now: number };
  assert.equal(v.now, Number.MAX_SAFE_INTEGER);
  assert.equal(v.n, 1002);
  assert.deepEqual(v.bad, []);
  assert.ok(v.ms < 1000, `the advance took ${v.ms} ms`);
});

test('a huge step across the whole range (2^53 - 1 expirations of a 1 ms timer) reports the exact count', (t) => {
  const clock = new VirtualClock(0);
  const kq = kqueue({ clock });
  t.after(() => kq.close());
  apply(kq, [timer('t', 1)]);
  clock.advanceTo(Number.MAX_SAFE_INTEGER);
  const [ev] = kq.keventSync(null, 4);
  // Virtual time is bounded to [0, 2^53 - 1], so a count is always exact as a number.
  assert.equal(ev?.data, Number.MAX_SAFE_INTEGER);
});

test('a huge step settles every wait whose timeout falls within it in the same turn; a timer due with a timeout wins', async (t) => {
  const { kq, clock } = open(t);
  const empty = kqueue({ clock });
  t.after(() => empty.close());
  apply(kq, [timer('t', 1000)]);
  const w1 = track(kq.kevent(null, 4, 1000));
  const w2 = track(empty.kevent(null, 4, 1e12));
  const w3 = track(empty.kevent(null, 4, 2 ** 52));
  await turns();
  clock.advance(1e13);
  await microtasks();
  assert.deepEqual(w1.value?.map((e) => [e.ident, e.data]), [['t', 1e10]], 'woken by the timer due with its timeout');
  assert.deepEqual(w2.value, []);
  assert.equal(w3.settled, false);
  empty.close();
  await turns();
  assert.ok(isErr(EBADF)(w3.error));
});

test('a step past 2^53 - 1 ms, or by NaN, Infinity or a negative amount, is EINVAL and changes nothing', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 1)]);
  const w = track(kq.kevent(null, 4, 1e15));
  await turns();
  clock.advance(10);
  kq.keventSync(null, 4);
  const r = await isolated(`async (K) => {
    const clock = new K.VirtualClock(Number.MAX_SAFE_INTEGER - 5);
    const kq = K.kqueue({ clock });
    kq.keventSync([{ ident: 't', filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 1 }], 0);
    const codes = [];
    for (const f of [() => clock.advance(6), () => clock.advanceTo(2 ** 60), () => clock.advance(1e300)]) {
      try { f(); codes.push('ok'); } catch (e) { codes.push(e.code); }
    }
    clock.advance(5);
    const data = kq.keventSync(null, 4).map((e) => e.data);
    return { codes, now: clock.now(), data };
  }`, 10_000);
  assert.equal(r.hung, undefined, 'a step near the end of the range never returned');
  assert.deepEqual(r.value, { codes: ['EINVAL', 'EINVAL', 'EINVAL'], now: Number.MAX_SAFE_INTEGER, data: [5] });
  for (const step of [
    () => clock.advance(2 ** 53), () => clock.advanceTo(2 ** 60), () => clock.advance(Infinity),
    () => clock.advance(NaN), () => clock.advance(-1), () => clock.advanceTo(5),
    () => clock.advance(Number.MAX_VALUE),
  ]) {
    assert.throws(step, isErr(EINVAL));
  }
  assert.equal(clock.now(), 10);
  assert.deepEqual(kq.keventSync(null, 4), [], 'no timer fired');
  await microtasks();
  assert.equal(w.settled, false, 'no wait settled');
});

test('new VirtualClock() outside [0, 2^53 - 1] ms, or not a number, is EINVAL', () => {
  for (const start of [2 ** 53, -1, -(2 ** 53), 1e300, Infinity, NaN, '5', 5n, null, {}]) {
    assert.throws(() => new VirtualClock(start as number), isErr(EINVAL), `start ${String(start)}`);
  }
  assert.equal(new VirtualClock(2 ** 53 - 1).now(), 2 ** 53 - 1);
  assert.equal(new VirtualClock(0.5).now(), 0.5);
});
