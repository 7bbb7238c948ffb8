// Registration: kqueue_register's checks (filter, descriptor, lookup), creation and
// modification rules. DragonFly digest sections 2.4, 2.10, 2.11, 3.6, 3.7, edge cases 3-20, 37-47.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EBADF, EINVAL, ENOENT, ENXIO, EOPNOTSUPP,
  EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_ERROR, EV_ONESHOT, EV_RECEIPT,
  EVFILT_AIO, EVFILT_EXCEPT, EVFILT_MARKER, EVFILT_READ,
  EVFILT_TIMER, EVFILT_USER, EVFILT_VNODE,
  EVFILT_WRITE, NOTE_TRIGGER,
  Kqueue, VirtualClock,
  type KEvent, type KEventInit,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';

const open = openKqueue;

/** Applies one change with room for its entry and returns the errno it reported (0 on success). */
function apply(kq: Kqueue, change: KEventInit): number {
  const out = kq.keventSync([{ ...change, flags: (change.flags ?? 0) | EV_RECEIPT }], 1);
  assert.equal(out.length, 1, 'EV_RECEIPT must post exactly one entry');
  assert.equal(out[0]!.flags, EV_ERROR);
  return out[0]!.data as number;
}

function errnoOf(out: KEvent[]): number[] {
  return out.map((e) => {
    assert.equal(e.flags, EV_ERROR);
    return e.data as number;
  });
}

// ---- filter check ---------------------------------------------------------------------------

for (const filter of [0, 1, -11, EVFILT_MARKER]) {
  test(`filter ${filter} is outside -1..-10 and reports EINVAL`, (t) => {
    const kq = open(t);
    const out = kq.keventSync([{ ident: 1, filter, flags: EV_ADD }], 4);
    assert.deepEqual(out, [{ ident: 1, filter, flags: EV_ERROR, fflags: 0, data: EINVAL, udata: undefined }]);
  });
}

// ---- ENOENT: a change without EV_ADD on a knote that does not exist --------------------------

const missing: [string, KEventInit][] = [
  ['EV_DELETE', { ident: 'nope', filter: EVFILT_USER, flags: EV_DELETE }],
  ['EV_ENABLE', { ident: 'nope', filter: EVFILT_USER, flags: EV_ENABLE }],
  ['EV_DISABLE', { ident: 'nope', filter: EVFILT_USER, flags: EV_DISABLE }],
  ['flags 0', { ident: 'nope', filter: EVFILT_TIMER, flags: 0, data: 10 }],
  ['a bare NOTE_TRIGGER', { ident: 'nope', filter: EVFILT_USER, fflags: NOTE_TRIGGER }],
];
for (const [what, change] of missing) {
  test(`${what} on a missing knote reports ENOENT`, (t) => {
    const kq = open(t);
    assert.deepEqual(errnoOf(kq.keventSync([change], 4)), [ENOENT]);
    assert.equal(kq.pending, 0);
  });
}

test('EV_DELETE of a missing READ knote on an open kqueue ident reports ENOENT', (t) => {
  const kq = open(t);
  const inner = open(t);
  assert.deepEqual(errnoOf(kq.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_DELETE }], 4)), [ENOENT]);
});

test('a knote of one filter is not found under another filter with the same ident', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'x', filter: EVFILT_USER, flags: EV_ADD }], 0);
  assert.equal(apply(kq, { ident: 'x', filter: EVFILT_TIMER, flags: EV_DELETE }), ENOENT);
  assert.equal(apply(kq, { ident: 'x', filter: EVFILT_USER, flags: EV_DELETE }), 0);
});

// ---- EV_ADD|EV_DELETE -------------------------------------------------------------------------

test('EV_ADD|EV_DELETE on a new knote creates it and keeps it', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_DELETE, fflags: NOTE_TRIGGER }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.ident, 'u');
  // The creation flags (after EV_SYSFLAGS stripping) are the knote's flags word.
  assert.equal(out[0]!.flags, EV_ADD | EV_DELETE);
  assert.equal(apply(kq, { ident: 'u', filter: EVFILT_USER, flags: EV_DELETE }), 0);
});

test('EV_ADD|EV_DELETE on an existing knote modifies it and does not delete it', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD }], 0);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_DELETE, fflags: NOTE_TRIGGER, data: 4 }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data, 4);
  assert.equal(out[0]!.flags, EV_ADD);
});

// ---- failed creation, EVFILT_AIO --------------------------------------------------------------

test('a failed EV_ADD leaves nothing behind: EV_DELETE afterwards is ENOENT', (t) => {
  const kq = open(t);
  const inner = open(t);
  assert.equal(apply(kq, { ident: 7, filter: EVFILT_AIO, flags: EV_ADD }), ENXIO);
  assert.equal(apply(kq, { ident: 7, filter: EVFILT_AIO, flags: EV_DELETE }), ENOENT);
  assert.equal(apply(kq, { ident: inner, filter: EVFILT_WRITE, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(apply(kq, { ident: inner, filter: EVFILT_WRITE, flags: EV_DELETE }), ENOENT);
  assert.equal(kq.pending, 0);
});

test('EVFILT_AIO with EV_ADD on a non-thenable ident reports ENXIO', (t) => {
  const kq = open(t);
  const out = kq.keventSync([
    { ident: 3, filter: EVFILT_AIO, flags: EV_ADD },
    { ident: {}, filter: EVFILT_AIO, flags: EV_ADD | EV_ONESHOT },
  ], 4);
  assert.deepEqual(errnoOf(out), [ENXIO, ENXIO]);
});

test('EVFILT_AIO without EV_ADD reports ENOENT', (t) => {
  const kq = open(t);
  const out = kq.keventSync([
    { ident: 3, filter: EVFILT_AIO, flags: EV_DELETE },
    { ident: 3, filter: EVFILT_AIO, flags: EV_ENABLE },
    { ident: 3, filter: EVFILT_AIO, flags: 0 },
  ], 4);
  assert.deepEqual(errnoOf(out), [ENOENT, ENOENT, ENOENT]);
});

// ---- descriptor filters -----------------------------------------------------------------------

const descriptorFilters: [string, number][] = [
  ['READ', EVFILT_READ], ['WRITE', EVFILT_WRITE], ['VNODE', EVFILT_VNODE], ['EXCEPT', EVFILT_EXCEPT],
];

for (const [name, filter] of descriptorFilters) {
  test(`EVFILT_${name} with an ident that is not a descriptor reports EBADF`, (t) => {
    const kq = open(t);
    const closed = new Kqueue();
    closed.close();
    const idents: unknown[] = [{}, Symbol('s'), -1, null, closed];
    const out = kq.keventSync(idents.map((ident) => ({ ident: ident as never, filter, flags: EV_ADD })), 10);
    assert.deepEqual(errnoOf(out), idents.map(() => EBADF));
  });

  test(`EVFILT_${name} EV_DELETE with a non-descriptor ident reports EBADF, not ENOENT`, (t) => {
    const kq = open(t);
    assert.deepEqual(errnoOf(kq.keventSync([{ ident: {}, filter, flags: EV_DELETE }], 4)), [EBADF]);
  });
}

for (const [name, filter] of descriptorFilters.filter(([, f]) => f !== EVFILT_READ)) {
  test(`EVFILT_${name} on a Kqueue ident reports EOPNOTSUPP`, (t) => {
    const kq = open(t);
    const inner = open(t);
    assert.deepEqual(errnoOf(kq.keventSync([{ ident: inner, filter, flags: EV_ADD }], 4)), [EOPNOTSUPP]);
  });
}

test('EVFILT_READ on a Kqueue ident is accepted', (t) => {
  const kq = open(t);
  const inner = open(t);
  assert.equal(apply(kq, { ident: inner, filter: EVFILT_READ, flags: EV_ADD }), 0);
});

// ---- ident identity ---------------------------------------------------------------------------

test('an event carries the very ident object that was registered', (t) => {
  const kq = open(t);
  const ident = { name: 'mine' };
  kq.keventSync([{ ident, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.ident, ident);
});

test('equal-looking objects are different idents', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: {}, filter: EVFILT_USER, flags: EV_ADD }], 0);
  assert.equal(apply(kq, { ident: {}, filter: EVFILT_USER, flags: EV_DELETE }), ENOENT);
});

test('3, 3n and "3" are three different knotes', (t) => {
  const kq = open(t);
  kq.keventSync([
    { ident: 3, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata: 'number' },
    { ident: 3n, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata: 'bigint' },
    { ident: '3', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata: 'string' },
  ], 0);
  const out = kq.keventSync(null, 10);
  assert.deepEqual(out.map((e) => [e.ident, e.udata]), [[3, 'number'], [3n, 'bigint'], ['3', 'string']]);
});

test('a NaN ident names one knote that can be found again', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: NaN, filter: EVFILT_USER, flags: EV_ADD }], 0);
  kq.keventSync([{ ident: NaN, filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.ok(Number.isNaN(out[0]!.ident));
  assert.equal(apply(kq, { ident: NaN, filter: EVFILT_USER, flags: EV_DELETE }), 0);
  assert.equal(apply(kq, { ident: NaN, filter: EVFILT_USER, flags: EV_DELETE }), ENOENT);
});

test('0 and -0 name the same knote (SameValueZero)', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 0, filter: EVFILT_USER, flags: EV_ADD }], 0);
  assert.equal(apply(kq, { ident: -0, filter: EVFILT_USER, flags: EV_DELETE }), 0);
  assert.equal(apply(kq, { ident: 0, filter: EVFILT_USER, flags: EV_DELETE }), ENOENT);
});

// ---- modification rules -----------------------------------------------------------------------

test('re-adding a TIMER knote replaces its udata', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  const a = { a: 1 };
  const b = { b: 2 };
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10, udata: a }], 0);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10, udata: b }], 0);
  clock.advance(10);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.udata, b);
});

test('EV_ENABLE with udata undefined replaces a TIMER knote\'s udata', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10, udata: 'first' }], 0);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_DISABLE, data: 10, udata: 'first' }], 0);
  clock.advance(10);
  assert.deepEqual(kq.keventSync(null, 4), []);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ENABLE, data: 10 }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data, 1);
  assert.equal(out[0]!.udata, undefined);
});

test('re-adding a disabled knote without EV_ENABLE leaves it disabled', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_DISABLE, data: 10 }], 0);
  clock.advance(10);
  assert.deepEqual(kq.keventSync(null, 4), []);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  clock.advance(10);
  assert.deepEqual(kq.keventSync(null, 4), []);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ENABLE, data: 10 }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data, 2, 'expirations while disabled accumulate');
});

test('EV_DISABLE|EV_ENABLE in one change leaves the knote enabled', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_DISABLE | EV_ENABLE, data: 10 }], 0);
  clock.advance(10);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data, 1);
});

test('EV_ADD|EV_DISABLE|EV_ENABLE creates an enabled knote', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_DISABLE | EV_ENABLE, fflags: NOTE_TRIGGER }], 0);
  assert.equal(kq.keventSync(null, 4).length, 1);
});

test('re-adding a periodic TIMER with EV_ONESHOT does not make it one-shot', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 10 }], 0);
  clock.advance(10);
  const first = kq.keventSync(null, 4);
  assert.equal(first.length, 1);
  assert.equal(first[0]!.flags & EV_ONESHOT, 0);
  clock.advance(10);
  assert.equal(kq.keventSync(null, 4).length, 1, 'still periodic after the first delivery');
  assert.equal(apply(kq, { ident: 't', filter: EVFILT_TIMER, flags: EV_DELETE }), 0);
});

test('re-adding a TIMER with EV_DISPATCH does not disable it after delivery', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_DISPATCH, data: 10 }], 0);
  clock.advance(10);
  assert.equal(kq.keventSync(null, 4).length, 1);
  clock.advance(10);
  assert.equal(kq.keventSync(null, 4).length, 1);
});

test('re-adding a level knote with EV_CLEAR keeps it level-triggered', (t) => {
  const kq = open(t);
  const inner = open(t);
  inner.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
  kq.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_ADD }], 0);
  kq.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR }], 0);
  const first = kq.keventSync(null, 4);
  assert.equal(first.length, 1);
  assert.equal(first[0]!.flags, EV_ADD);
  assert.equal(kq.keventSync(null, 4).length, 1, 'a level knote is returned again');
});

test('re-adding a USER knote with EV_ONESHOT does not make it one-shot', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT }], 0);
  assert.equal(kq.keventSync(null, 4)[0]?.flags, EV_ADD);
  assert.equal(kq.keventSync(null, 4).length, 1);
  assert.equal(apply(kq, { ident: 'u', filter: EVFILT_USER, flags: EV_DELETE }), 0);
});
