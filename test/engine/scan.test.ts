// Queue and scan: which pending knotes a kevent call returns, in what order, and what stays queued
// (DragonFly semantics, digest sections 2.2, 2.7-2.10; edge cases 48-59).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_ERROR, EV_ONESHOT,
  EVFILT_READ, EVFILT_USER, ENOENT, NOTE_FFCOPY, NOTE_TRIGGER,
  type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';


/** A kqueue on a virtual clock, closed when the test ends. */
const open = openKqueue;

/** A user event added already triggered; `extra` flags select level (none), EV_CLEAR, ... */
function addTriggered(ident: unknown, extra = 0, data = 0): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_USER, flags: EV_ADD | extra, fflags: NOTE_TRIGGER, data };
}

function addQuiet(ident: unknown, extra = 0): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_USER, flags: EV_ADD | extra };
}

function trigger(ident: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_USER, fflags: NOTE_TRIGGER };
}

function idents(evs: KEvent[]): unknown[] {
  return evs.map((e) => e.ident);
}

/** Applies changes without collecting (nevents 0): a failing change throws its errno. */
function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

test('a level knote is returned once per call even with nevents 100', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('a')]);
  for (let i = 0; i < 3; i++) {
    const evs = kq.keventSync(null, 100);
    assert.deepEqual(idents(evs), ['a']);
    assert.equal(kq.pending, 1, 'a level knote stays queued after delivery');
  }
});

test('a level knote is returned once per call by a waiting kevent with nevents 100', async (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('a')]);
  const evs = await kq.kevent(null, 100, null);
  assert.deepEqual(idents(evs), ['a']);
});

test('two level knotes A then B with nevents 1 are returned round-robin A, B, A, B', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('A'), addTriggered('B')]);
  const seen: unknown[] = [];
  for (let i = 0; i < 4; i++) seen.push(...idents(kq.keventSync(null, 1)));
  assert.deepEqual(seen, ['A', 'B', 'A', 'B']);
});

test('delivery order is activation order, not registration order', (t) => {
  const kq = open(t);
  apply(kq, [addQuiet('u1', EV_CLEAR), addQuiet('u2', EV_CLEAR), addQuiet('u3', EV_CLEAR)]);
  apply(kq, [trigger('u3')]);
  apply(kq, [trigger('u1')]);
  apply(kq, [trigger('u2')]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['u3', 'u1', 'u2']);
});

test('re-activating an already queued knote does not move it in the queue', (t) => {
  const kq = open(t);
  apply(kq, [addQuiet('a', EV_CLEAR), addQuiet('b', EV_CLEAR)]);
  apply(kq, [trigger('a'), trigger('b')]);
  apply(kq, [trigger('a')]);
  assert.equal(kq.pending, 2, 're-activation does not queue a second entry');
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['a', 'b']);
});

test('an EV_CLEAR knote is delivered once, then not again until new activity', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('c', EV_CLEAR, 7)]);
  const first = kq.keventSync(null, 10);
  assert.equal(first.length, 1);
  assert.equal(first[0]!.data, 7);
  assert.equal(kq.pending, 0);
  assert.deepEqual(kq.keventSync(null, 10), []);
  apply(kq, [trigger('c')]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['c']);
});

test('an EV_CLEAR delivery resets data and fflags for the next delivery', (t) => {
  const kq = open(t);
  apply(kq, [{ ident: 'c', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER | NOTE_FFCOPY | 0x5, data: 9 }]);
  const first = kq.keventSync(null, 10);
  assert.equal(first[0]!.fflags, 0x5);
  assert.equal(first[0]!.data, 9);
  apply(kq, [trigger('c')]);
  const second = kq.keventSync(null, 10);
  assert.equal(second.length, 1);
  assert.equal(second[0]!.fflags, 0);
  assert.equal(second[0]!.data, 0);
});

test('an EV_DISPATCH knote is not delivered again despite new activity until EV_ENABLE', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('d', EV_DISPATCH | EV_CLEAR)]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['d']);
  apply(kq, [trigger('d')]);
  assert.deepEqual(kq.keventSync(null, 10), [], 'disabled after delivery');
  assert.equal(kq.pending, 0, 'activity on a disabled knote queues nothing');
  apply(kq, [{ ident: 'd', filter: EVFILT_USER, flags: EV_ENABLE }]);
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(idents(evs), ['d'], 'EV_ENABLE with the condition true delivers it');
  assert.ok(evs[0]!.flags & EV_DISPATCH);
});

test('an EV_DISPATCH level knote stays triggered and EV_ENABLE re-delivers it', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('d', EV_DISPATCH)]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['d']);
  assert.deepEqual(kq.keventSync(null, 10), []);
  apply(kq, [{ ident: 'd', filter: EVFILT_USER, flags: EV_ENABLE }]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['d']);
});

test('an EV_DISPATCH knote enabled with its condition false and no activity returns nothing', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('d', EV_DISPATCH | EV_CLEAR)]);
  assert.equal(kq.keventSync(null, 10).length, 1);
  apply(kq, [{ ident: 'd', filter: EVFILT_USER, flags: EV_ENABLE }]);
  assert.equal(kq.pending, 0);
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('an EV_ONESHOT knote is delivered once and then destroyed (EV_DELETE gives ENOENT)', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('o', EV_ONESHOT)]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['o']);
  assert.equal(kq.pending, 0);
  assert.deepEqual(kq.keventSync(null, 10), []);
  const res = kq.keventSync([{ ident: 'o', filter: EVFILT_USER, flags: EV_DELETE }], 1);
  assert.equal(res.length, 1);
  assert.equal(res[0]!.flags, EV_ERROR);
  assert.equal(res[0]!.data, ENOENT);
});

test('an EV_ONESHOT knote takes precedence over EV_CLEAR and EV_DISPATCH', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('o', EV_ONESHOT | EV_CLEAR | EV_DISPATCH)]);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['o']);
  const res = kq.keventSync([{ ident: 'o', filter: EVFILT_USER, flags: EV_ENABLE }], 1);
  assert.equal(res[0]!.data, ENOENT, 'the knote is gone, not merely disabled');
});

test('an EV_ONESHOT knote whose condition vanished before the scan is still delivered', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('o', EV_ONESHOT, 5)]);
  // A modification carrying EV_CLEAR un-triggers a user event; the knote stays queued.
  apply(kq, [{ ident: 'o', filter: EVFILT_USER, flags: EV_CLEAR }]);
  assert.equal(kq.pending, 1);
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(idents(evs), ['o'], 'one-shot events are not re-checked');
  assert.equal(kq.pending, 0);
});

test('a queued level knote whose condition vanished is discarded by the scan, not returned', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('l')]);
  apply(kq, [{ ident: 'l', filter: EVFILT_USER, flags: EV_CLEAR }]);
  assert.equal(kq.pending, 1, 'posting never dequeues');
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(kq.pending, 0, 'the stale entry was weeded out');
});

test('EV_DISABLE on a queued knote: not returned, but pending counts it until the next scan', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('x')]);
  assert.equal(kq.pending, 1);
  apply(kq, [{ ident: 'x', filter: EVFILT_USER, flags: EV_DISABLE }]);
  assert.equal(kq.pending, 1, 'disabling does not dequeue');
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(kq.pending, 0, 'the scan discarded the disabled entry');
});

test('EV_ENABLE after a disabled knote was discarded by a scan re-queues it (it stayed active)', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('x', EV_CLEAR)]);
  apply(kq, [{ ident: 'x', filter: EVFILT_USER, flags: EV_DISABLE }]);
  assert.deepEqual(kq.keventSync(null, 10), []);
  apply(kq, [{ ident: 'x', filter: EVFILT_USER, flags: EV_ENABLE }]);
  assert.equal(kq.pending, 1);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['x']);
});

test('EV_ADD|EV_DISABLE with the condition true counts 1 pending, then the scan returns 0 events', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('x', EV_DISABLE)]);
  assert.equal(kq.pending, 1);
  assert.deepEqual(kq.keventSync(null, 10), []);
  assert.equal(kq.pending, 0);
});

test('EV_ADD|EV_DISABLE with the condition true makes a watching kqueue readable until the scan', (t) => {
  const inner = open(t);
  const outer = open(t);
  apply(outer, [{ ident: inner, filter: EVFILT_READ, flags: EV_ADD }]);
  apply(inner, [addTriggered('x', EV_DISABLE)]);
  const seen = outer.keventSync(null, 10);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.ident, inner);
  assert.equal(seen[0]!.data, 1);
  assert.deepEqual(inner.keventSync(null, 10), []);
  assert.deepEqual(outer.keventSync(null, 10), [], 'no longer readable once the scan discarded it');
});

test('EV_DELETE of a pending knote drops pending at once and the event is never returned', (t) => {
  const kq = open(t);
  apply(kq, [addTriggered('a', EV_CLEAR), addTriggered('b', EV_CLEAR)]);
  assert.equal(kq.pending, 2);
  apply(kq, [{ ident: 'a', filter: EVFILT_USER, flags: EV_DELETE }]);
  assert.equal(kq.pending, 1);
  assert.deepEqual(idents(kq.keventSync(null, 10)), ['b']);
});

test('more than 32 pending events are all returned by one call with nevents 100', (t) => {
  const kq = open(t);
  const ids = Array.from({ length: 40 }, (_, i) => `e${i}`);
  apply(kq, ids.map((id) => addTriggered(id, EV_CLEAR)));
  assert.equal(kq.pending, 40);
  assert.deepEqual(idents(kq.keventSync(null, 100)), ids);
  assert.equal(kq.pending, 0);
});

test('more than 32 pending events are all returned by one waiting call with nevents 100', async (t) => {
  const kq = open(t);
  const ids = Array.from({ length: 70 }, (_, i) => `e${i}`);
  apply(kq, ids.map((id) => addTriggered(id, EV_CLEAR)));
  assert.deepEqual(idents(await kq.kevent(null, 100, null)), ids);
});

test('nevents smaller than pending returns exactly nevents and leaves the rest queued in order', (t) => {
  const kq = open(t);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  apply(kq, ids.map((id) => addTriggered(id, EV_CLEAR)));
  assert.deepEqual(idents(kq.keventSync(null, 2)), ['a', 'b']);
  assert.equal(kq.pending, 3);
  assert.deepEqual(idents(kq.keventSync(null, 2)), ['c', 'd']);
  assert.equal(kq.pending, 1);
  assert.deepEqual(idents(kq.keventSync(null, 2)), ['e']);
  assert.equal(kq.pending, 0);
});

test('pending equals the number of queued knotes at every step', (t) => {
  const kq = open(t);
  assert.equal(kq.pending, 0);
  apply(kq, [addQuiet('q1', EV_CLEAR), addQuiet('q2'), addQuiet('q3', EV_ONESHOT)]);
  assert.equal(kq.pending, 0, 'untriggered knotes are not queued');
  apply(kq, [trigger('q1')]);
  assert.equal(kq.pending, 1);
  apply(kq, [trigger('q2')]);
  assert.equal(kq.pending, 2);
  apply(kq, [trigger('q3')]);
  assert.equal(kq.pending, 3);
  assert.deepEqual(idents(kq.keventSync(null, 1)), ['q1']);
  assert.equal(kq.pending, 2, 'EV_CLEAR knote left the queue');
  assert.deepEqual(idents(kq.keventSync(null, 1)), ['q2']);
  assert.equal(kq.pending, 2, 'level knote went back to the tail');
  assert.deepEqual(idents(kq.keventSync(null, 1)), ['q3']);
  assert.equal(kq.pending, 1, 'one-shot knote destroyed');
  apply(kq, [{ ident: 'q2', filter: EVFILT_USER, flags: EV_DELETE }]);
  assert.equal(kq.pending, 0);
});

test('level knotes stay counted in pending after a partial harvest', (t) => {
  const kq = open(t);
  apply(kq, ['a', 'b', 'c'].map((id) => addTriggered(id)));
  assert.deepEqual(idents(kq.keventSync(null, 2)), ['a', 'b']);
  assert.equal(kq.pending, 3);
  assert.deepEqual(idents(kq.keventSync(null, 2)), ['c', 'a']);
});
