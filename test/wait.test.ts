// kevent() waiting: timeouts, wake-ups, AbortSignal, concurrent waiters, close, events() and the
// free function (api.md "Calls"; digest sections 2.6, 2.7, 2.13; edge cases 61-72).
// Every timeout runs on a VirtualClock: no test depends on real time passing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import {
  EBADF, EINTR, EINVAL, EV_ADD, EV_CLEAR, EV_ONESHOT, EVFILT_TIMER, EVFILT_USER, KqueueError,
  NOTE_TRIGGER, kevent, type KEvent, type KEventInit, type Kqueue,
} from '../src/index.js';
import { openVirtual } from './support/open.js';
import { microtasks, track, turns } from './support/async.js';

type TestContext = { after(fn: () => void): void };

const open = openVirtual;

function addTriggered(ident: string, extra = 0): KEventInit {
  return { ident, filter: EVFILT_USER, flags: EV_ADD | extra, fflags: NOTE_TRIGGER };
}

function addQuiet(ident: string, extra = 0): KEventInit {
  return { ident, filter: EVFILT_USER, flags: EV_ADD | extra };
}

function trigger(ident: string): KEventInit {
  return { ident, filter: EVFILT_USER, fflags: NOTE_TRIGGER };
}

/** Applies changes without collecting (nevents 0): a failing change throws its errno. */
function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

function isErrno(errno: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof KqueueError, `expected a KqueueError, got ${String(e)}`);
    assert.equal(e.errno, errno);
    return true;
  };
}

function idents(evs: KEvent[] | undefined): unknown[] {
  return (evs ?? []).map((e) => e.ident);
}

// ---- timeouts -------------------------------------------------------------------------------

test('nevents 0 with a null timeout resolves [] at once after applying the changes', async (t) => {
  const { kq } = open(t);
  const s = track(kq.kevent([addTriggered('u')], 0, null));
  await turns();
  assert.equal(s.settled, true, 'a call with nevents 0 never waits');
  assert.deepEqual(s.value, []);
  assert.equal(kq.pending, 1, 'the change was applied');
});

test('timeout 0 polls: resolves [] at once when nothing is pending', async (t) => {
  const { kq } = open(t);
  const s = track(kq.kevent(null, 10, 0));
  await microtasks();
  assert.equal(s.settled, true);
  assert.deepEqual(s.value, []);
});

test('timeout 0 returns the events that are ready', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  assert.deepEqual(idents(await kq.kevent(null, 10, 0)), ['u']);
});

test('a negative timeout behaves as expired: resolves [] without EINVAL', async (t) => {
  const { kq } = open(t);
  const s = track(kq.kevent(null, 10, -5));
  await turns();
  assert.equal(s.settled, true, 'no advance of the clock was needed');
  assert.equal(s.error, undefined);
  assert.deepEqual(s.value, []);
});

test('a negative timeout still returns the events that are ready (like a poll)', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  assert.deepEqual(idents(await kq.kevent(null, 10, -1)), ['u']);
});

test('a negative {sec, nsec} timeout behaves as expired', async (t) => {
  const { kq } = open(t);
  const s = track(kq.kevent(null, 10, { sec: -1, nsec: 0 }));
  await turns();
  assert.equal(s.settled, true);
  assert.deepEqual(s.value, []);
});

test('a millisecond timeout resolves [] exactly when it expires, never before', async (t) => {
  const { kq, clock } = open(t);
  const s = track(kq.kevent(null, 10, 100));
  clock.advance(99);
  await turns();
  assert.equal(s.settled, false, 'still waiting 1 ms before the deadline');
  clock.advance(1);
  await microtasks();
  assert.equal(s.settled, true, 'settled in the same turn as the advance');
  assert.equal(s.error, undefined, 'a timeout never rejects');
  assert.deepEqual(s.value, []);
});

test('a {sec, nsec} timeout waits sec*1000 + nsec/1e6 milliseconds', async (t) => {
  const { kq, clock } = open(t);
  const s = track(kq.kevent(null, 1, { sec: 1, nsec: 500_000_000 }));
  clock.advance(1499);
  await turns();
  assert.equal(s.settled, false);
  clock.advance(1);
  await microtasks();
  assert.equal(s.settled, true);
  assert.deepEqual(s.value, []);
});

test('a {sec, nsec} timeout with nsec outside [0, 1e9) is EINVAL', async (t) => {
  const { kq } = open(t);
  await assert.rejects(kq.kevent(null, 1, { sec: 0, nsec: 1_500_000_000 }), isErrno(EINVAL));
  await assert.rejects(kq.kevent(null, 1, { sec: 0, nsec: -1 }), isErrno(EINVAL));
});

test('a wait with a null timeout never times out', async (t) => {
  const { kq, clock } = open(t);
  const s = track(kq.kevent(null, 1, null));
  clock.advance(1e12);
  await turns();
  assert.equal(s.settled, false);
  kq.close();
  await turns();
  assert.ok(s.error instanceof KqueueError);
});

// ---- wake-ups ---------------------------------------------------------------------------------

test('an event arriving during a wait resolves it promptly without waiting to fill nevents', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  const s = track(kq.kevent(null, 10, 1000));
  await turns();
  assert.equal(s.settled, false);
  apply(kq, [trigger('u')]);
  await microtasks();
  assert.equal(s.settled, true, 'woken and settled without any clock advance or extra turn');
  assert.deepEqual(idents(s.value), ['u']);
});

test('an event arriving during a wait with a null timeout resolves it', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  const p = kq.kevent(null, 10, null);
  await turns();
  apply(kq, [trigger('u')]);
  assert.deepEqual(idents(await p), ['u']);
});

test('a timer firing during a wait resolves it in the same turn as the advance', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [{ ident: 'tm', filter: EVFILT_TIMER, flags: EV_ADD, data: 30 }]);
  const s = track(kq.kevent(null, 10, 1000));
  await turns();
  assert.equal(s.settled, false);
  clock.advance(30);
  await microtasks();
  assert.equal(s.settled, true);
  assert.equal(s.value!.length, 1);
  assert.equal(s.value![0]!.ident, 'tm');
  assert.equal(s.value![0]!.data, 1);
});

test('a kevent with a non-zero timeout lets the event loop turn before settling even when events are ready', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  const evs = await kq.kevent(null, 10, 100);
  assert.deepEqual(idents(evs), ['u']);
  assert.equal(immediateRan, true, 'a setImmediate queued before the call ran before it settled');
});

test('a kevent with a null timeout lets the event loop turn before settling even when events are ready', async (t) => {
  const { kq } = open(t);
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  const evs = await kq.kevent(null, 10, null);
  assert.equal(evs.length, 1);
  assert.equal(immediateRan, true);
});

test('a kevent with a negative timeout lets the event loop turn before settling', async (t) => {
  const { kq } = open(t);
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  assert.deepEqual(await kq.kevent(null, 10, -1), []);
  assert.equal(immediateRan, true);
});

test('a wait woken in the same turn as the call still settles only after the event loop turned', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  const p = kq.kevent(null, 10, 100);
  apply(kq, [trigger('u')]);
  assert.deepEqual(idents(await p), ['u']);
  assert.equal(immediateRan, true);
});

test('a wait that times out in the same turn as the call still settles only after the event loop turned', async (t) => {
  const { kq, clock } = open(t);
  let immediateRan = false;
  setImmediate(() => { immediateRan = true; });
  const p = kq.kevent(null, 10, 100);
  clock.advance(100);
  assert.deepEqual(await p, []);
  assert.equal(immediateRan, true);
});

test('a kevent with timeout 0 resolves with the ready events', async (t) => {
  // Timeout 0 is not required to yield to the event loop; only its result is checked.
  const { kq } = open(t);
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  const evs = await kq.kevent(null, 10, 0);
  assert.deepEqual(idents(evs), ['u']);
  assert.equal(kq.pending, 0);
});

// ---- AbortSignal ------------------------------------------------------------------------------

test('aborting a wait that collected nothing rejects with KqueueError EINTR', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  const p = kq.kevent(null, 1, null, { signal: ac.signal });
  await turns();
  ac.abort();
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KqueueError);
    assert.equal(e.code, 'EINTR');
    assert.equal(e.errno, EINTR);
    return true;
  });
});

/** Collects 'unhandledRejection' reports for the rest of the test. */
function watchUnhandled(t: TestContext): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown): void => { unhandled.push(r); };
  process.on('unhandledRejection', onUnhandled);
  t.after(() => { process.off('unhandledRejection', onUnhandled); });
  return unhandled;
}

test('a wait given an already aborted signal rejects with EINTR (and no unhandled rejection)', async (t) => {
  const unhandled = watchUnhandled(t);
  const { kq } = open(t);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(kq.kevent(null, 1, 100, { signal: ac.signal }), isErrno(EINTR));
  await turns();
  assert.deepEqual(unhandled, [], 'a rejection the caller awaits at once must not be reported as unhandled');
});

test('an aborted wait leaves the kqueue usable and its events queued', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  const p = kq.kevent(null, 1, null, { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, isErrno(EINTR));
  apply(kq, [addTriggered('u', EV_CLEAR)]);
  assert.deepEqual(idents(await kq.kevent(null, 1, null)), ['u']);
});

test('aborting after the wait resolved does nothing (no rejection, no unhandled rejection)', async (t) => {
  const unhandled = watchUnhandled(t);
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  const ac = new AbortController();
  const s = track(kq.kevent(null, 1, null, { signal: ac.signal }));
  apply(kq, [trigger('u')]);
  await turns();
  assert.equal(s.settled, true);
  ac.abort();
  await turns(3);
  assert.deepEqual(idents(s.value), ['u']);
  assert.equal(s.error, undefined);
  assert.deepEqual(unhandled, []);
});

test('the abort listener is removed once the wait is woken by an event', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  const ac = new AbortController();
  const p = kq.kevent(null, 1, null, { signal: ac.signal });
  await turns();
  assert.equal(getEventListeners(ac.signal, 'abort').length, 1, 'listening while waiting');
  apply(kq, [trigger('u')]);
  await p;
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('the abort listener is removed once the wait times out', async (t) => {
  const { kq, clock } = open(t);
  const ac = new AbortController();
  const p = kq.kevent(null, 1, 50, { signal: ac.signal });
  clock.advance(50);
  assert.deepEqual(await p, []);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('the abort listener is removed once the kqueue closes under the wait', async (t) => {
  const { kq } = open(t);
  const ac = new AbortController();
  const p = kq.kevent(null, 1, null, { signal: ac.signal });
  kq.close();
  await assert.rejects(p, isErrno(EBADF));
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('one signal shared by many sequential waits does not accumulate listeners', async (t) => {
  const { kq, clock } = open(t);
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) {
    const p = kq.kevent(null, 1, 10, { signal: ac.signal });
    clock.advance(10);
    await p;
  }
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

// ---- concurrency ------------------------------------------------------------------------------

test('two waiters and one EV_CLEAR event: exactly one gets it, the other waits to its own timeout', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [addQuiet('u', EV_CLEAR)]);
  const a = track(kq.kevent(null, 1, 100));
  const b = track(kq.kevent(null, 1, 200));
  await turns();
  apply(kq, [trigger('u')]);
  await microtasks();
  await turns();
  const winners = [a, b].filter((s) => s.settled);
  assert.equal(winners.length, 1, 'exactly one waiter returned');
  assert.deepEqual(idents(winners[0]!.value), ['u']);
  const other = a.settled ? b : a;
  const otherDeadline = a.settled ? 200 : 100;
  clock.advanceTo(otherDeadline - 1);
  await turns();
  assert.equal(other.settled, false, 'the other waiter keeps waiting');
  clock.advanceTo(otherDeadline);
  await microtasks();
  assert.equal(other.settled, true);
  assert.deepEqual(other.value, [], 'and then times out with []');
});

test('two waiters and one EV_ONESHOT event: exactly one gets it', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u', EV_ONESHOT)]);
  const a = track(kq.kevent(null, 1, 100));
  const b = track(kq.kevent(null, 1, 100));
  await turns();
  apply(kq, [trigger('u')]);
  await turns();
  assert.equal([a, b].filter((s) => s.settled).length, 1);
});

test('two waiters and one level event: both get it', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('u')]);
  const a = kq.kevent(null, 1, null);
  const b = kq.kevent(null, 1, null);
  await turns();
  apply(kq, [trigger('u')]);
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual(idents(ra), ['u']);
  assert.deepEqual(idents(rb), ['u']);
});

test('close() rejects every pending wait with EBADF', async (t) => {
  const { kq } = open(t);
  const a = kq.kevent(null, 1, null);
  const b = kq.kevent(null, 1, 500);
  kq.close();
  await assert.rejects(a, isErrno(EBADF));
  await assert.rejects(b, isErrno(EBADF));
});

test('a wait on a closed kqueue rejects with EBADF', async (t) => {
  const { kq } = open(t);
  kq.close();
  await assert.rejects(kq.kevent(null, 1, null), isErrno(EBADF));
});

// ---- events() ---------------------------------------------------------------------------------

test('events() yields events one by one in delivery order', async (t) => {
  const { kq } = open(t);
  apply(kq, ['a', 'b', 'c'].map((id) => addTriggered(id, EV_CLEAR)));
  const got: unknown[] = [];
  for await (const ev of kq.events()) {
    got.push(ev.ident);
    if (got.length === 3) break;
  }
  assert.deepEqual(got, ['a', 'b', 'c']);
});

test('events() keeps waiting for later events', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR), addQuiet('b', EV_CLEAR)]);
  const it = kq.events()[Symbol.asyncIterator]();
  const first = track(it.next());
  await turns();
  assert.equal(first.settled, false);
  apply(kq, [trigger('b')]);
  await turns();
  assert.equal(first.value?.value?.ident, 'b');
  apply(kq, [trigger('a')]);
  const second = await it.next();
  assert.equal(second.done, false);
  assert.equal(second.value?.ident, 'a');
  await it.return?.();
});

test('events() ends when the kqueue closes', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR)]);
  const got: unknown[] = [];
  const consumer = (async () => {
    for await (const ev of kq.events()) got.push(ev.ident);
    return 'ended';
  })();
  apply(kq, [trigger('a')]);
  await turns(3);
  kq.close();
  assert.equal(await consumer, 'ended');
  assert.deepEqual(got, ['a']);
});

test('events() ends when its signal aborts', async (t) => {
  const { kq } = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR)]);
  const ac = new AbortController();
  const got: unknown[] = [];
  const consumer = (async () => {
    for await (const ev of kq.events({ signal: ac.signal })) got.push(ev.ident);
    return 'ended';
  })();
  apply(kq, [trigger('a')]);
  await turns(3);
  ac.abort();
  assert.equal(await consumer, 'ended');
  assert.deepEqual(got, ['a']);
  assert.equal(kq.closed, false, 'aborting the iteration does not close the kqueue');
});

test('events() with an already aborted signal ends at once', async (t) => {
  const unhandled = watchUnhandled(t);
  const { kq } = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR)]);
  const ac = new AbortController();
  ac.abort();
  const got: unknown[] = [];
  for await (const ev of kq.events({ signal: ac.signal })) got.push(ev.ident);
  assert.deepEqual(got, []);
  await turns();
  assert.deepEqual(unhandled, []);
});

test('events() honours its nevents batch size', async (t) => {
  const { kq } = open(t);
  apply(kq, ['a', 'b', 'c'].map((id) => addTriggered(id, EV_CLEAR)));
  const it = kq.events({ nevents: 1 })[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value?.ident, 'a');
  assert.equal(kq.pending, 2, 'only one event was harvested for the first batch');
  await it.return?.();
});

// ---- free function ----------------------------------------------------------------------------

test('the free function kevent(kq, ...) applies changes and collects like kq.kevent', async (t) => {
  const { kq, clock } = open(t);
  const evs = await kevent(kq, [addTriggered('f', EV_CLEAR)], 10, 0);
  assert.deepEqual(idents(evs), ['f']);
  const s = track(kevent(kq, null, 10, 40));
  await turns();
  clock.advance(40);
  await microtasks();
  assert.equal(s.settled, true);
  assert.deepEqual(s.value, []);
});

test('the free function kevent() on something that is not a kqueue rejects with EBADF', async () => {
  await assert.rejects(kevent({} as unknown as Kqueue, null, 1, 0), isErrno(EBADF));
});
