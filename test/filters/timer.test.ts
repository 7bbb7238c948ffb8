// EVFILT_TIMER on a VirtualClock (digest 3.10, 2.11, 2.14; edge cases 17, 18, 42, 47, 110-112,
// 126; api.md: exact milliseconds, a period <= 0 is 1 ms, tunables.kq_calloutmax, Clocks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EINVAL, ENOENT, ENOMEM, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE,
  EV_ERROR, EV_ONESHOT, EV_RECEIPT, EVFILT_TIMER, KqueueError, VirtualClock, tunables,
  type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { openVirtual } from '../support/open.js';
import { turns } from '../support/async.js';

type TestContext = { after(fn: () => void): void };

const open = openVirtual;

function timer(ident: unknown, period: number, flags = 0): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_TIMER, flags: EV_ADD | flags, data: period };
}

/** Applies changes without collecting (nevents 0): a failing change throws its errno. */
function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

function one(evs: KEvent[]): KEvent {
  assert.equal(evs.length, 1, `expected one event, got ${evs.length}`);
  return evs[0]!;
}

/** Lets the event loop turn (setImmediate) a few times. */

/** Runs `fn` with tunables.kq_calloutmax lowered, restoring it afterwards. */
function withCalloutMax(t: TestContext, max: number): void {
  const saved = tunables.kq_calloutmax;
  tunables.kq_calloutmax = max;
  t.after(() => { tunables.kq_calloutmax = saved; });
}

// ---- counting ---------------------------------------------------------------------------------

test('a 100 ms timer unread for 350 ms reports one event with data 3', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  clock.advance(350);
  const ev = one(kq.keventSync(null, 10));
  assert.equal(ev.ident, 't');
  assert.equal(ev.filter, EVFILT_TIMER);
  assert.equal(ev.data, 3);
});

test('a 100 ms timer expires at exactly 100, 200 and 300 ms (no tick rounding)', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  for (const at of [100, 200, 300]) {
    clock.advanceTo(at - 1);
    assert.deepEqual(kq.keventSync(null, 10), [], `nothing before ${at} ms`);
    clock.advanceTo(at);
    assert.equal(one(kq.keventSync(null, 10)).data, 1, `one expiry at ${at} ms`);
  }
});

test('a periodic timer re-arms from its deadline, not from when it was read', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  clock.advance(150);
  assert.equal(one(kq.keventSync(null, 10)).data, 1);
  clock.advanceTo(200);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'the second expiry is at 200, not 250');
});

test('timer events carry EV_CLEAR even when it was not requested', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 10)]);
  clock.advance(10);
  const ev = one(kq.keventSync(null, 10));
  assert.ok(ev.flags & EV_CLEAR);
  assert.ok(ev.flags & EV_ADD);
  clock.advance(5);
  assert.deepEqual(kq.keventSync(null, 10), [], 'the count was cleared by the delivery');
});

test('a timer does not fire before its first period elapses', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 50)]);
  assert.deepEqual(kq.keventSync(null, 10), []);
  clock.advance(49);
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(kq.pending, 0);
});

// ---- one-shot and dispatch --------------------------------------------------------------------

test('an EV_ONESHOT timer delivers data 1 once and is then gone (EV_DELETE gives ENOENT)', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('o', 100, EV_ONESHOT)]);
  clock.advance(1000);
  const ev = one(kq.keventSync(null, 10));
  assert.equal(ev.data, 1, 'it fired once, not ten times');
  clock.advance(1000);
  assert.deepEqual(kq.keventSync(null, 10), []);
  const res = one(kq.keventSync([{ ident: 'o', filter: EVFILT_TIMER, flags: EV_DELETE }], 1));
  assert.equal(res.flags, EV_ERROR);
  assert.equal(res.data, ENOENT);
});

test('an EV_DISPATCH timer is disabled after delivery, keeps counting, and EV_ENABLE delivers the count', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('d', 100, EV_DISPATCH)]);
  clock.advance(100);
  const first = one(kq.keventSync(null, 10));
  assert.equal(first.data, 1);
  assert.ok(first.flags & EV_DISPATCH);
  clock.advance(200);
  assert.deepEqual(kq.keventSync(null, 10), [], 'disabled after delivery');
  assert.equal(kq.pending, 0);
  apply(kq, [{ ident: 'd', filter: EVFILT_TIMER, flags: EV_ENABLE, data: 100 }]);
  assert.equal(one(kq.keventSync(null, 10)).data, 2, 'expirations at 200 and 300 were counted');
});

// ---- disable / enable / modify ----------------------------------------------------------------

test('a disabled timer keeps counting and EV_ENABLE delivers the accumulated count', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  apply(kq, [{ ident: 't', filter: EVFILT_TIMER, flags: EV_DISABLE, data: 100 }]);
  clock.advance(350);
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(kq.pending, 0, 'a disabled knote is not queued');
  apply(kq, [{ ident: 't', filter: EVFILT_TIMER, flags: EV_ENABLE, data: 100 }]);
  assert.equal(kq.pending, 1);
  assert.equal(one(kq.keventSync(null, 10)).data, 3);
});

test('a modified period applies from the next re-arm, without restarting the countdown or resetting the count', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  clock.advance(250); // expiries at 100 and 200; the running countdown ends at 300
  apply(kq, [timer('t', 30)]);
  clock.advanceTo(299);
  assert.equal(one(kq.keventSync(null, 10)).data, 2, 'count kept, countdown not restarted at 250');
  clock.advanceTo(300);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'the old countdown ends at 300');
  clock.advanceTo(329);
  assert.deepEqual(kq.keventSync(null, 10), []);
  clock.advanceTo(330);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'the new 30 ms period applies from the re-arm at 300');
  clock.advanceTo(390);
  assert.equal(one(kq.keventSync(null, 10)).data, 2);
});

test('EV_DISABLE/EV_ENABLE passing data 0 change the period to the minimum (1 ms) after the next expiry', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 1000)]);
  apply(kq, [{ ident: 't', filter: EVFILT_TIMER, flags: EV_DISABLE }]);
  apply(kq, [{ ident: 't', filter: EVFILT_TIMER, flags: EV_ENABLE }]);
  clock.advanceTo(999);
  assert.deepEqual(kq.keventSync(null, 10), [], 'the running 1000 ms countdown is kept');
  clock.advanceTo(1003);
  assert.equal(one(kq.keventSync(null, 10)).data, 4, 'expiries at 1000, 1001, 1002, 1003');
});

test('re-adding a timer with EV_ONESHOT does not make it one-shot', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 10)]);
  apply(kq, [timer('t', 10, EV_ONESHOT)]);
  clock.advance(10);
  const ev = one(kq.keventSync(null, 10));
  assert.equal(ev.flags & EV_ONESHOT, 0);
  clock.advance(10);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'still periodic');
});

// ---- periods <= 0 -----------------------------------------------------------------------------

for (const period of [0, -5]) {
  test(`a timer with period ${period} is accepted and fires every 1 ms`, (t) => {
    const { kq, clock } = open(t);
    const res = one(kq.keventSync([timer('z', period, EV_RECEIPT)], 1));
    assert.equal(res.flags, EV_ERROR);
    assert.equal(res.data, 0, 'no error');
    assert.deepEqual(kq.keventSync(null, 10), [], 'not fired at once');
    clock.advance(1);
    assert.equal(one(kq.keventSync(null, 10)).data, 1);
    clock.advance(5);
    assert.equal(one(kq.keventSync(null, 10)).data, 5);
  });
}

// ---- kq_calloutmax ----------------------------------------------------------------------------

test('creating a timer past tunables.kq_calloutmax posts an ENOMEM entry and leaves nothing behind', (t) => {
  withCalloutMax(t, 2);
  const { kq, clock } = open(t);
  apply(kq, [timer('a', 10), timer('b', 10)]);
  const res = one(kq.keventSync([timer('c', 10)], 1));
  assert.equal(res.flags, EV_ERROR);
  assert.equal(res.data, ENOMEM);
  assert.equal(res.ident, 'c');
  const del = one(kq.keventSync([{ ident: 'c', filter: EVFILT_TIMER, flags: EV_DELETE }], 1));
  assert.equal(del.data, ENOENT, 'the failed timer does not exist');
  clock.advance(10);
  assert.deepEqual(kq.keventSync(null, 10).map((e) => e.ident).sort(), ['a', 'b']);
});

test('kq_calloutmax counts timers across kqueues', (t) => {
  withCalloutMax(t, 2);
  const { kq: kq1 } = open(t);
  const { kq: kq2 } = open(t);
  apply(kq1, [timer('a', 10)]);
  apply(kq2, [timer('a', 10)]);
  assert.equal(one(kq2.keventSync([timer('b', 10)], 1)).data, ENOMEM);
});

test('modifying an existing timer still works at kq_calloutmax', (t) => {
  withCalloutMax(t, 1);
  const { kq, clock } = open(t);
  apply(kq, [timer('a', 100)]);
  const res = one(kq.keventSync([timer('a', 10, EV_RECEIPT)], 1));
  assert.equal(res.data, 0, 'modification succeeded');
  clock.advance(100);
  assert.equal(one(kq.keventSync(null, 10)).data, 1);
  clock.advance(10);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'the new period is in force');
});

test('deleting a timer frees a kq_calloutmax slot', (t) => {
  withCalloutMax(t, 1);
  const { kq } = open(t);
  apply(kq, [timer('a', 10)]);
  assert.equal(one(kq.keventSync([timer('b', 10)], 1)).data, ENOMEM);
  apply(kq, [{ ident: 'a', filter: EVFILT_TIMER, flags: EV_DELETE }]);
  apply(kq, [timer('b', 10)]);
});

test('a delivered EV_ONESHOT timer frees its kq_calloutmax slot', (t) => {
  withCalloutMax(t, 1);
  const { kq, clock } = open(t);
  apply(kq, [timer('a', 10, EV_ONESHOT)]);
  clock.advance(10);
  assert.equal(kq.keventSync(null, 10).length, 1);
  apply(kq, [timer('b', 10)]);
});

test('closing a kqueue frees the kq_calloutmax slots of its timers', (t) => {
  withCalloutMax(t, 2);
  const { kq: first } = open(t);
  apply(first, [timer('a', 10), timer('b', 10)]);
  const { kq: second } = open(t);
  assert.equal(one(second.keventSync([timer('x', 10)], 1)).data, ENOMEM);
  first.close();
  apply(second, [timer('x', 10), timer('y', 10)]);
});

// ---- ordering and the virtual clock -----------------------------------------------------------

test('timers expire in deadline order: delivery follows expiry, not registration', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('slow', 50), timer('fast', 20)]);
  clock.advance(50);
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(evs.map((e) => e.ident), ['fast', 'slow']);
  assert.equal(evs[0]!.data, 2, 'fast expired at 20 and 40');
  assert.equal(evs[1]!.data, 1);
});

test('timers of different periods interleave by deadline within one advance', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('c', 35), timer('a', 10, EV_ONESHOT), timer('b', 25, EV_ONESHOT)]);
  clock.advance(40);
  assert.deepEqual(kq.keventSync(null, 10).map((e) => e.ident), ['a', 'b', 'c']);
});

test('a periodic timer keeps its phase through a long advance (each re-arm is from its deadline)', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 7)]);
  clock.advance(100);
  assert.equal(one(kq.keventSync(null, 10)).data, 14, 'expiries at 7, 14, ..., 98');
  clock.advanceTo(104);
  assert.deepEqual(kq.keventSync(null, 10), []);
  clock.advanceTo(105);
  assert.equal(one(kq.keventSync(null, 10)).data, 1);
});

test('a huge advance with a 1 ms timer completes quickly and reports the right count', { timeout: 10_000 }, (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 1), timer('u', 10)]);
  const start = performance.now();
  clock.advance(1e9);
  const elapsed = performance.now() - start;
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(evs.map((e) => [e.ident, e.data]), [['t', 1e9], ['u', 1e8]]);
  assert.ok(elapsed < 2000, `advance took ${elapsed} ms`);
  clock.advance(1);
  assert.equal(one(kq.keventSync(null, 10)).data, 1, 'still periodic at the right phase');
});

test('advance(0) fires what is due at the current time', async (t) => {
  // At now = 1000 a timeout of 1e-300 ms has its deadline at exactly now (floating point).
  const { kq, clock } = open(t, new VirtualClock(1000));
  let settled = false;
  const p = kq.kevent(null, 1, 1e-300).then((v) => { settled = true; return v; });
  await turns();
  if (!settled) {
    clock.advance(0);
    await turns();
  }
  assert.equal(settled, true);
  assert.deepEqual(await p, []);
  assert.equal(clock.now(), 1000);
});

test('advance(0) fires nothing that is not yet due', (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 1)]);
  clock.advance(0);
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('advance() and advanceTo() move now() forward', () => {
  const clock = new VirtualClock(5);
  assert.equal(clock.now(), 5);
  clock.advance(10);
  assert.equal(clock.now(), 15);
  clock.advanceTo(40);
  assert.equal(clock.now(), 40);
  clock.advanceTo(40);
  assert.equal(clock.now(), 40);
});

function isEinval(e: unknown): boolean {
  assert.ok(e instanceof KqueueError);
  assert.equal(e.errno, EINVAL);
  assert.equal(e.code, 'EINVAL');
  return true;
}

test('VirtualClock.advance rejects a negative amount with EINVAL', () => {
  const clock = new VirtualClock();
  assert.throws(() => clock.advance(-1), isEinval);
  assert.equal(clock.now(), 0);
});

test('VirtualClock.advance rejects NaN with EINVAL', () => {
  const clock = new VirtualClock();
  assert.throws(() => clock.advance(NaN), isEinval);
  assert.equal(clock.now(), 0);
});

test('VirtualClock.advanceTo rejects moving backwards with EINVAL', () => {
  const clock = new VirtualClock(100);
  assert.throws(() => clock.advanceTo(99), isEinval);
  assert.equal(clock.now(), 100);
});

test('a wait with timeout 100 and a timer due at 100 gets the timer event rather than []', async (t) => {
  const { kq, clock } = open(t);
  apply(kq, [timer('t', 100)]);
  const p = kq.kevent(null, 1, 100);
  clock.advance(100);
  const evs = await p;
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.ident, 't');
  assert.equal(evs[0]!.data, 1);
});

test('a timer on a VirtualClock does not fire from real time passing', async (t) => {
  const { kq } = open(t);
  apply(kq, [timer('t', 1)]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('closing a kqueue stops its timers', (t) => {
  const clock = new VirtualClock();
  const { kq } = open(t, clock);
  const { kq: other } = open(t, clock);
  apply(kq, [timer('t', 10)]);
  apply(other, [timer('t', 15)]);
  kq.close();
  clock.advance(30);
  assert.equal(one(other.keventSync(null, 10)).data, 2, 'the shared clock keeps running other timers');
});
