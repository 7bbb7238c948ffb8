// EVFILT_USER: trigger bit, NOTE_FF* operations on the stored 24 bits, data and udata rules,
// EV_CLEAR / EV_DISPATCH / EV_ONESHOT. DragonFly digest 1.4, 2.11, 3.11, edge cases 113-119.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENOENT,
  EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_ERROR, EV_ONESHOT, EV_RECEIPT,
  EVFILT_USER,
  NOTE_FFAND, NOTE_FFCOPY, NOTE_FFLAGSMASK, NOTE_FFNOP, NOTE_FFOR, NOTE_TRIGGER,
  Kqueue,
  type KEvent,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';

const open = openKqueue;

const U = 'user-event';

/** Applies one change to the USER knote U. */
function change(kq: Kqueue, flags: number, fflags = 0, data: number | bigint = 0, udata?: unknown): void {
  const out = kq.keventSync([{ ident: U, filter: EVFILT_USER, flags, fflags, data, udata }], 0);
  assert.deepEqual(out, []);
}

function poll(kq: Kqueue): KEvent[] {
  return kq.keventSync(null, 10);
}

/** Polls and expects exactly one event for U; returns it. */
function one(kq: Kqueue): KEvent {
  const out = poll(kq);
  assert.equal(out.length, 1, `expected one event, got ${out.length}`);
  assert.equal(out[0]!.ident, U);
  assert.equal(out[0]!.filter, EVFILT_USER);
  return out[0]!;
}

// ---- trigger (edge 113, 119) --------------------------------------------------------------------

test('EV_ADD without NOTE_TRIGGER produces no event', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0x12, 5);
  assert.equal(kq.pending, 0);
  assert.deepEqual(poll(kq), []);
});

test('NOTE_TRIGGER on an existing knote produces an event without the NOTE_TRIGGER bit', (t) => {
  const kq = open(t);
  change(kq, EV_ADD);
  change(kq, 0, NOTE_TRIGGER);
  const ev = one(kq);
  assert.equal(ev.fflags & NOTE_TRIGGER, 0);
  assert.equal(ev.fflags, 0);
});

test('EV_ADD with NOTE_TRIGGER and data 5 is pending at once with data 5', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER, 5);
  assert.equal(kq.pending, 1);
  assert.deepEqual(poll(kq), [{ ident: U, filter: EVFILT_USER, flags: EV_ADD, fflags: 0, data: 5, udata: undefined }]);
});

// ---- NOTE_FF* operations (edge 114, 115) --------------------------------------------------------

test('NOTE_FFCOPY on creation stores the bits; a later NOTE_FFOR trigger combines: 0x1234 | 0x1 = 0x1235', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0x1234);
  assert.deepEqual(poll(kq), []);
  change(kq, 0, NOTE_TRIGGER | NOTE_FFOR | 0x1);
  assert.equal(one(kq).fflags, 0x1235);
});

test('NOTE_FFAND 0x0F0 on stored 0x1235 leaves 0x030', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0x1235);
  change(kq, 0, NOTE_TRIGGER | NOTE_FFAND | 0x0f0);
  assert.equal(one(kq).fflags, 0x030);
});

test('NOTE_FFNOP leaves the stored fflags alone', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0x12);
  change(kq, 0, NOTE_TRIGGER | NOTE_FFNOP | 0x34);
  assert.equal(one(kq).fflags, 0x12);
});

test('NOTE_FFCOPY replaces the stored fflags', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0xff);
  change(kq, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x100);
  assert.equal(one(kq).fflags, 0x100);
});

test('on creation NOTE_FFOR stores the bits and NOTE_FFAND and NOTE_FFNOP store 0', (t) => {
  const kq = open(t);
  kq.keventSync([
    { ident: 'or', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER | NOTE_FFOR | 0x21 },
    { ident: 'and', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER | NOTE_FFAND | 0x21 },
    { ident: 'nop', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER | NOTE_FFNOP | 0x21 },
  ], 0);
  assert.deepEqual(poll(kq).map((e) => [e.ident, e.fflags]), [['or', 0x21], ['and', 0], ['nop', 0]]);
});

test('fflags 0xFFFFFFFF (NOTE_FFCOPY plus NOTE_TRIGGER) stores 0xFFFFFF and triggers', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_FFCOPY | 0x1235);
  change(kq, 0, 0xffffffff);
  assert.equal(one(kq).fflags, NOTE_FFLAGSMASK);
});

// ---- level and EV_CLEAR (edge 116, 117) ---------------------------------------------------------

test('without EV_CLEAR a triggered event is returned on every call', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER | NOTE_FFCOPY | 0x5, 3);
  for (let i = 0; i < 3; i++) {
    const ev = one(kq);
    assert.equal(ev.fflags, 0x5);
    assert.equal(ev.data, 3);
  }
});

test('a modification with EV_CLEAR un-triggers a level event but keeps its fflags', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER | NOTE_FFCOPY | 0x5, 3);
  one(kq);
  change(kq, EV_CLEAR, 0, 9);
  assert.deepEqual(poll(kq), []);
  assert.deepEqual(poll(kq), []);
  change(kq, 0, NOTE_TRIGGER);
  const ev = one(kq);
  assert.equal(ev.fflags, 0x5, 'stored fflags survive EV_CLEAR');
  assert.equal(ev.flags, EV_ADD, 'EV_CLEAR in a modification does not enter the flags word');
});

test('a modification with EV_CLEAR and NOTE_TRIGGER ends un-triggered', (t) => {
  const kq = open(t);
  change(kq, EV_ADD);
  change(kq, EV_CLEAR, NOTE_TRIGGER, 4);
  assert.deepEqual(poll(kq), []);
});

test('created with EV_CLEAR: delivery resets the trigger, fflags and data', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_CLEAR, NOTE_TRIGGER | NOTE_FFCOPY | 0x55, 3);
  const ev = one(kq);
  assert.deepEqual([ev.flags, ev.fflags, ev.data], [EV_ADD | EV_CLEAR, 0x55, 3]);
  assert.deepEqual(poll(kq), [], 'un-triggered by delivery');
  change(kq, 0, NOTE_TRIGGER | NOTE_FFNOP);
  const again = one(kq);
  assert.equal(again.fflags, 0, 'stored fflags were zeroed by delivery');
  assert.equal(again.data, 0);
});

// ---- data (edge 118) ----------------------------------------------------------------------------

test('a trigger with data 7 delivers data 7; a later EV_ENABLE with data 0 stores 0', (t) => {
  const kq = open(t);
  change(kq, EV_ADD);
  change(kq, 0, NOTE_TRIGGER, 7);
  assert.equal(one(kq).data, 7);
  change(kq, EV_ENABLE, 0, 0);
  assert.equal(one(kq).data, 0);
});

test('every modification copies data, even one without NOTE_TRIGGER', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER, 1);
  assert.equal(one(kq).data, 1);
  change(kq, 0, 0, 9);
  assert.equal(one(kq).data, 9);
  change(kq, EV_DISABLE | EV_ENABLE, 0, 11);
  assert.equal(one(kq).data, 11);
});

test('a re-add copies data into the existing knote', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER, 1);
  change(kq, EV_ADD, 0, 2);
  assert.equal(one(kq).data, 2);
});

// ---- udata --------------------------------------------------------------------------------------

test('modifications never change a USER knote\'s udata', (t) => {
  const kq = open(t);
  const created = { created: true };
  change(kq, EV_ADD, 0, 0, created);
  change(kq, EV_ADD, NOTE_TRIGGER, 0, { other: true });
  assert.equal(one(kq).udata, created);
  change(kq, EV_ENABLE, 0, 0, undefined);
  assert.equal(one(kq).udata, created);
  change(kq, 0, NOTE_TRIGGER, 0, null);
  assert.equal(one(kq).udata, created);
});

// ---- EV_DISPATCH, EV_ONESHOT, disabled ----------------------------------------------------------

test('EV_DISPATCH: delivered once, then disabled; EV_ENABLE re-delivers while still triggered', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_DISPATCH, NOTE_TRIGGER, 4);
  assert.equal(one(kq).flags, EV_ADD | EV_DISPATCH);
  assert.deepEqual(poll(kq), []);
  change(kq, 0, NOTE_TRIGGER, 4);
  assert.deepEqual(poll(kq), [], 'a new trigger does not deliver while disabled');
  change(kq, EV_ENABLE, 0, 4);
  assert.equal(one(kq).data, 4);
  assert.deepEqual(poll(kq), [], 'disabled again after the second delivery');
});

test('EV_DISPATCH|EV_CLEAR: EV_ENABLE after delivery delivers nothing without a new trigger', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_DISPATCH | EV_CLEAR, NOTE_TRIGGER);
  one(kq);
  change(kq, EV_ENABLE);
  assert.deepEqual(poll(kq), []);
  change(kq, 0, NOTE_TRIGGER);
  one(kq);
});

test('EV_ONESHOT: delivered once, then the knote is gone (EV_DELETE is ENOENT)', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 2);
  assert.equal(one(kq).flags, EV_ADD | EV_ONESHOT);
  assert.deepEqual(poll(kq), []);
  const out = kq.keventSync([{ ident: U, filter: EVFILT_USER, flags: EV_DELETE }], 4);
  assert.deepEqual(out.map((e) => [e.flags, e.data]), [[EV_ERROR, ENOENT]]);
});

test('a queued EV_ONESHOT event is delivered without a re-check even after EV_CLEAR un-triggered it', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_ONESHOT, NOTE_TRIGGER | NOTE_FFCOPY | 0x7, 3);
  change(kq, EV_CLEAR, 0, 8);
  assert.equal(kq.pending, 1);
  const ev = one(kq);
  assert.deepEqual([ev.fflags, ev.data], [0x7, 0], 'the image as it stands: fflags kept, data zeroed by EV_CLEAR');
  assert.deepEqual(poll(kq), []);
});

test('NOTE_TRIGGER on a disabled knote delivers nothing until EV_ENABLE', (t) => {
  const kq = open(t);
  change(kq, EV_ADD | EV_DISABLE);
  change(kq, 0, NOTE_TRIGGER, 6);
  assert.deepEqual(poll(kq), []);
  assert.equal(kq.pending, 0);
  change(kq, EV_ENABLE, 0, 6);
  assert.equal(kq.pending, 1);
  assert.equal(one(kq).data, 6);
});

test('EV_DISABLE stops a triggered level event; EV_ENABLE brings it back', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER);
  one(kq);
  change(kq, EV_DISABLE);
  assert.deepEqual(poll(kq), []);
  change(kq, EV_ENABLE);
  one(kq);
});

test('EV_DELETE drops a pending USER event', (t) => {
  const kq = open(t);
  change(kq, EV_ADD, NOTE_TRIGGER);
  assert.equal(kq.pending, 1);
  const out = kq.keventSync([{ ident: U, filter: EVFILT_USER, flags: EV_DELETE | EV_RECEIPT }], 4);
  assert.equal(out[0]!.data, 0);
  assert.equal(kq.pending, 0);
  assert.deepEqual(poll(kq), []);
});
