// The flags word of returned events, and how flags, fflags and data are read from a change.
// DragonFly digest 1.3, 2.1, 2.4, 2.10, edge cases 33-36; api.md "Types" (fflags modulo 2^32,
// data a number unless beyond 2^53).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENOENT,
  EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_ENABLE, EV_EOF, EV_ERROR, EV_FLAG1, EV_NODATA,
  EV_ONESHOT, EV_RECEIPT, EV_SYSFLAGS,
  EVFILT_TIMER, EVFILT_USER,
  NOTE_FFCOPY, NOTE_FFOR, NOTE_TRIGGER,
  Kqueue, VirtualClock,
  type KEvent, type KEventInit,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';

const open = openKqueue;

/** Creates a triggered USER knote from `change` and returns the one event it produces. */
function userEvent(kq: Kqueue, change: Partial<KEventInit>): KEvent {
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, fflags: NOTE_TRIGGER, ...change, flags: EV_ADD | (change.flags ?? 0) }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  return out[0]!;
}

// ---- the flags word ---------------------------------------------------------------------------

test('a returned event carries EV_ADD', (t) => {
  const kq = open(t);
  assert.equal(userEvent(kq, {}).flags, EV_ADD);
});

test('a returned event carries EV_RECEIPT from the creating change', (t) => {
  const kq = open(t);
  const receipt = kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT, fflags: NOTE_TRIGGER }], 4);
  assert.equal(receipt[0]!.flags, EV_ERROR, 'the call returns the receipt only');
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.flags, EV_ADD | EV_RECEIPT);
});

test('a knote created with EV_DISABLE and later enabled still shows EV_DISABLE', (t) => {
  const kq = open(t);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD | EV_DISABLE, fflags: NOTE_TRIGGER }], 0);
  assert.deepEqual(kq.keventSync(null, 4), []);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ENABLE }], 0);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.flags, EV_ADD | EV_DISABLE);
});

test('a knote created with EV_ENABLE shows EV_ENABLE', (t) => {
  const kq = open(t);
  assert.equal(userEvent(kq, { flags: EV_ENABLE }).flags, EV_ADD | EV_ENABLE);
});

test('unknown flag bits 0x100, 0x200, 0x400 and 0x800 are accepted and echoed', (t) => {
  const kq = open(t);
  assert.equal(userEvent(kq, { flags: 0x100 | 0x200 | 0x400 | 0x800 }).flags, EV_ADD | 0xf00);
});

test('EV_SYSFLAGS input bits (EV_EOF, EV_ERROR, EV_NODATA, EV_FLAG1) are stripped', (t) => {
  const kq = open(t);
  assert.equal(EV_SYSFLAGS, EV_EOF | EV_ERROR | EV_NODATA | EV_FLAG1);
  assert.equal(userEvent(kq, { flags: EV_EOF | EV_ERROR | EV_NODATA | EV_FLAG1 }).flags, EV_ADD);
});

test('EV_SYSFLAGS bits are stripped before the change is processed', (t) => {
  // With EV_ERROR stripped, EV_ERROR|EV_DELETE on a missing knote is an ordinary ENOENT.
  const kq = open(t);
  const out = kq.keventSync([{ ident: 'x', filter: EVFILT_USER, flags: EV_DELETE | EV_ERROR | EV_EOF }], 4);
  assert.deepEqual(out.map((e) => [e.flags, e.data]), [[EV_ERROR, ENOENT]]);
});

test('a TIMER event shows EV_CLEAR even when it was not requested', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  clock.advance(10);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.flags, EV_ADD | EV_CLEAR);
  assert.equal(out[0]!.data, 1);
});

test('a one-shot TIMER event shows EV_ONESHOT and the forced EV_CLEAR', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 10 }], 0);
  clock.advance(10);
  assert.equal(kq.keventSync(null, 4)[0]?.flags, EV_ADD | EV_ONESHOT | EV_CLEAR);
});

// ---- input widths -----------------------------------------------------------------------------

test('flags are taken modulo 2^16', (t) => {
  const kq = open(t);
  assert.equal(userEvent(kq, { flags: 0x10000 }).flags, EV_ADD);
});

test('a negative int32 fflags such as NOTE_FFOR | 0x100 means what it says', (t) => {
  const kq = open(t);
  const fflags = NOTE_FFOR | 0x100;
  assert.ok(fflags < 0, 'the JavaScript expression is a negative int32');
  const ev = userEvent(kq, { fflags: fflags | NOTE_TRIGGER });
  assert.equal(ev.fflags, 0x100);
});

test('fflags are echoed as unsigned 32-bit values', (t) => {
  const kq = open(t);
  const out = kq.keventSync([
    { ident: 1, filter: 0, flags: EV_ADD, fflags: NOTE_FFOR | 0x100 },
    { ident: 2, filter: 0, flags: EV_ADD, fflags: -1 },
    { ident: 3, filter: 0, flags: EV_ADD, fflags: 2 ** 32 + 5 },
    { ident: 4, filter: 0, flags: EV_ADD, fflags: NOTE_FFCOPY },
  ], 4);
  assert.deepEqual(out.map((e) => e.fflags), [0x80000100, 0xffffffff, 5, 0xc0000000]);
});

test('fflags beyond 32 bits are taken modulo 2^32 by a filter', (t) => {
  const kq = open(t);
  // 2^32 + (NOTE_FFCOPY | 0x42) is NOTE_FFCOPY | 0x42 modulo 2^32.
  assert.equal(userEvent(kq, { fflags: 2 ** 32 + (NOTE_FFCOPY | NOTE_TRIGGER | 0x42) }).fflags, 0x42);
});

// ---- data -------------------------------------------------------------------------------------

test('data beyond 2^53 comes back as a bigint', (t) => {
  const kq = open(t);
  const ev = userEvent(kq, { data: 2n ** 60n + 1n });
  assert.equal(typeof ev.data, 'bigint');
  assert.equal(ev.data, 2n ** 60n + 1n);
});

test('a number data beyond 2^53 comes back as the equal bigint', (t) => {
  const kq = open(t);
  const ev = userEvent(kq, { data: 2 ** 60 });
  assert.equal(ev.data, 2n ** 60n);
});

test('the most negative int64 data is accepted and returned as a bigint', (t) => {
  const kq = open(t);
  assert.equal(userEvent(kq, { data: -(2n ** 63n) }).data, -(2n ** 63n));
});

test('bigint data within the safe range comes back as a number', (t) => {
  const kq = open(t);
  const ev = userEvent(kq, { data: 42n });
  assert.equal(typeof ev.data, 'number');
  assert.equal(ev.data, 42);
  kq.keventSync([{ ident: 'u', filter: EVFILT_USER, data: BigInt(Number.MIN_SAFE_INTEGER) }], 0);
  assert.equal(kq.keventSync(null, 4)[0]?.data, Number.MIN_SAFE_INTEGER);
});
