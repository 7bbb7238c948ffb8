// Change-result entries (EV_ERROR / EV_RECEIPT), the nevents room rule, and whole-call errors.
// DragonFly digest 2.4, 2.5, edge cases 21-32; api.md "Errors" decides where they differ
// (entries are limited by nevents; malformed calls are EINVAL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EBADF, EINVAL, ENOENT, ENXIO, EOPNOTSUPP,
  EV_ADD, EV_DELETE, EV_DISABLE, EV_ENABLE, EV_ERROR, EV_ONESHOT, EV_RECEIPT,
  EVFILT_AIO, EVFILT_READ, EVFILT_TIMER, EVFILT_USER, EVFILT_WRITE, tunables,
  NOTE_FFCOPY, NOTE_FFOR, NOTE_LOWAT, NOTE_TRIGGER,
  Kqueue, KqueueError, VirtualClock, kevent,
  type KEvent, type KEventInit, type Timeout,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';

const open = openKqueue;

function isKqError(errno: number): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof KqueueError, `expected a KqueueError, got ${String(e)}`);
    assert.equal(e.errno, errno);
    return true;
  };
}

/** True when a USER knote with this ident exists (deleting it succeeds; it is re-created). */
function userExists(kq: Kqueue, ident: unknown): boolean {
  const out = kq.keventSync([{ ident: ident as never, filter: EVFILT_USER, flags: EV_DELETE | EV_RECEIPT }], 1);
  if (out[0]!.data === 0) {
    kq.keventSync([{ ident: ident as never, filter: EVFILT_USER, flags: EV_ADD }], 0);
    return true;
  }
  assert.equal(out[0]!.data, ENOENT);
  return false;
}

function entry(ident: unknown, filter: number, data: number, fflags = 0, udata?: unknown): KEvent {
  return { ident: ident as never, filter, flags: EV_ERROR, fflags, data, udata };
}

const add = (ident: unknown, extra: Partial<KEventInit> = {}): KEventInit =>
  ({ ident: ident as never, filter: EVFILT_USER, flags: EV_ADD, ...extra });
const missing = (ident: unknown): KEventInit => ({ ident: ident as never, filter: EVFILT_USER, flags: EV_DELETE });

// ---- shape of an entry ------------------------------------------------------------------------

test('an error entry has flags exactly EV_ERROR, the errno in data, and echoes ident, filter and udata', (t) => {
  const kq = open(t);
  const ident = { id: 1 };
  const udata = { cookie: true };
  const out = kq.keventSync([{ ident, filter: EVFILT_USER, flags: EV_DELETE | EV_ONESHOT, udata }], 4);
  assert.deepEqual(out, [entry(ident, EVFILT_USER, ENOENT, 0, udata)]);
  assert.equal(out[0]!.ident, ident);
  assert.equal(out[0]!.udata, udata);
});

test('a create that reached attach reports fflags 0 in its error entry', (t) => {
  const kq = open(t);
  const inner = open(t);
  const out = kq.keventSync([
    { ident: 5, filter: EVFILT_AIO, flags: EV_ADD, fflags: 0x1234, data: 9 },
    { ident: inner, filter: EVFILT_WRITE, flags: EV_ADD, fflags: NOTE_LOWAT, data: 9 },
  ], 4);
  assert.deepEqual(out, [entry(5, EVFILT_AIO, ENXIO, 0), entry(inner, EVFILT_WRITE, EOPNOTSUPP, 0)]);
});

test('a successful create with EV_RECEIPT reports data 0 and fflags 0', (t) => {
  const kq = open(t);
  const out = kq.keventSync([add('u', { flags: EV_ADD | EV_RECEIPT, fflags: NOTE_FFCOPY | 0x12, data: 7, udata: 'x' })], 4);
  assert.deepEqual(out, [entry('u', EVFILT_USER, 0, 0, 'x')]);
});

test('a failure before attach echoes the supplied fflags (EINVAL, EBADF, ENOENT)', (t) => {
  const kq = open(t);
  const out = kq.keventSync([
    { ident: 1, filter: 0, flags: EV_ADD, fflags: 0x55 },
    { ident: {}, filter: EVFILT_READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: 3 },
    { ident: 'u', filter: EVFILT_USER, flags: EV_ENABLE, fflags: NOTE_FFOR | 0x100 },
  ], 4);
  assert.deepEqual(out.map((e) => [e.data, e.fflags]), [[EINVAL, 0x55], [EBADF, NOTE_LOWAT], [ENOENT, 0x80000100]]);
});

test('a USER modification entry echoes only the low 24 bits of fflags', (t) => {
  const kq = open(t);
  kq.keventSync([add('u')], 0);
  const out = kq.keventSync([
    { ident: 'u', filter: EVFILT_USER, flags: EV_RECEIPT, fflags: NOTE_FFOR | NOTE_TRIGGER | 0x123 },
  ], 4);
  assert.deepEqual(out, [entry('u', EVFILT_USER, 0, 0x123)]);
});

test('a non-USER modification receipt echoes fflags as supplied', (t) => {
  const clock = new VirtualClock();
  const kq = open(t, clock);
  kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
  const out = kq.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_RECEIPT, fflags: 0x77, data: 10 }], 4);
  assert.deepEqual(out, [entry('t', EVFILT_TIMER, 0, 0x77)]);
});

test('EV_DELETE|EV_RECEIPT of an existing knote reports data 0 and removes it', (t) => {
  const kq = open(t);
  kq.keventSync([add('u', { fflags: NOTE_TRIGGER })], 0);
  assert.equal(kq.pending, 1);
  const out = kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_DELETE | EV_RECEIPT }], 4);
  assert.deepEqual(out, [entry('u', EVFILT_USER, 0)]);
  assert.equal(kq.pending, 0);
  assert.equal(userExists(kq, 'u'), false);
});

test('receipts and errors are posted in changelist order and every change is applied', (t) => {
  const kq = open(t);
  const out = kq.keventSync([
    missing('m1'),
    add('a', { flags: EV_ADD | EV_RECEIPT }),
    add('b'),
    { ident: 1, filter: 3, flags: EV_ADD },
    add('c', { flags: EV_ADD | EV_RECEIPT }),
    missing('m2'),
  ], 10);
  assert.deepEqual(out.map((e) => [e.ident, e.flags, e.data]), [
    ['m1', EV_ERROR, ENOENT], ['a', EV_ERROR, 0], [1, EV_ERROR, EINVAL], ['c', EV_ERROR, 0], ['m2', EV_ERROR, ENOENT],
  ]);
  assert.equal(userExists(kq, 'a'), true);
  assert.equal(userExists(kq, 'b'), true);
  assert.equal(userExists(kq, 'c'), true);
});

test('a call that posted entries resolves at once with a null timeout and leaves pending events queued',
  { timeout: 5000 }, async (t) => {
    const kq = open(t);
    kq.keventSync([add('ready', { fflags: NOTE_TRIGGER })], 0);
    const out = await kq.kevent([missing('m1'), add('good', { fflags: NOTE_TRIGGER }), missing('m2')], 10, null);
    assert.deepEqual(out.map((e) => [e.ident, e.data]), [['m1', ENOENT], ['m2', ENOENT]]);
    assert.equal(kq.pending, 2);
    assert.deepEqual(kq.keventSync(null, 10).map((e) => e.ident), ['ready', 'good']);
  });

test('a receipt alone makes a null-timeout call resolve at once', { timeout: 5000 }, async (t) => {
  const kq = open(t);
  const out = await kq.kevent([add('u', { flags: EV_ADD | EV_RECEIPT })], 10, null);
  assert.deepEqual(out, [entry('u', EVFILT_USER, 0)]);
});

// ---- room in nevents --------------------------------------------------------------------------

test('an error with nevents 0 throws that errno; earlier changes stay applied, later ones are not', (t) => {
  const kq = open(t);
  assert.throws(() => kq.keventSync([add('before'), missing('m'), add('after')], 0), isKqError(ENOENT));
  assert.equal(userExists(kq, 'before'), true);
  assert.equal(userExists(kq, 'after'), false);
});

test('an error with nevents 0 rejects kevent() with that errno', async (t) => {
  const kq = open(t);
  await assert.rejects(kq.kevent([add('before'), { ident: 1, filter: 1, flags: EV_ADD }, add('after')], 0, 0),
    isKqError(EINVAL));
  assert.equal(userExists(kq, 'before'), true);
  assert.equal(userExists(kq, 'after'), false);
});

test('with three bad changes and nevents 2 the call fails with the third change\'s errno', (t) => {
  const kq = open(t);
  const inner = open(t);
  assert.throws(() => kq.keventSync([
    missing('m1'),
    add('between'),
    { ident: 1, filter: 0, flags: EV_ADD },
    { ident: inner, filter: EVFILT_WRITE, flags: EV_ADD },
    add('after'),
  ], 2), isKqError(EOPNOTSUPP));
  assert.equal(userExists(kq, 'between'), true);
  assert.equal(userExists(kq, 'after'), false);
});

test('a successful receipt with no room left ends the call with the entries posted so far', (t) => {
  // DragonFly returns -1 without setting errno here; the implementation returns what it posted.
  const kq = open(t);
  const out = kq.keventSync([
    add('a', { flags: EV_ADD | EV_RECEIPT }),
    add('b', { flags: EV_ADD | EV_RECEIPT }),
    add('c'),
  ], 1);
  assert.deepEqual(out, [entry('a', EVFILT_USER, 0)]);
  assert.equal(userExists(kq, 'b'), true, 'the change whose receipt found no room was applied');
  assert.equal(userExists(kq, 'c'), false, 'later changes are not applied');
});

test('a successful receipt with nevents 0 returns no entries and stops later changes', (t) => {
  const kq = open(t);
  assert.deepEqual(kq.keventSync([add('a', { flags: EV_ADD | EV_RECEIPT }), add('b')], 0), []);
  assert.equal(userExists(kq, 'a'), true);
  assert.equal(userExists(kq, 'b'), false);
});

// ---- whole-call EINVAL ------------------------------------------------------------------------

const badNevents: [string, unknown][] = [['-1', -1], ['1.5', 1.5], ['NaN', NaN], ['\'1\'', '1'], ['Infinity', Infinity]];
for (const [name, nevents] of badNevents) {
  test(`nevents ${name} is EINVAL and applies nothing (keventSync)`, (t) => {
    const kq = open(t);
    assert.throws(() => kq.keventSync([add('a')], nevents as number), isKqError(EINVAL));
    assert.equal(userExists(kq, 'a'), false);
  });

  test(`nevents ${name} rejects kevent() with EINVAL and applies nothing`, async (t) => {
    const kq = open(t);
    await assert.rejects(kq.kevent([add('a')], nevents as number, 0), isKqError(EINVAL));
    assert.equal(userExists(kq, 'a'), false);
  });
}

const badTimeouts: [string, unknown][] = [
  ['NaN', NaN], ['\'x\'', 'x'], ['{sec: 0, nsec: 1e9}', { sec: 0, nsec: 1e9 }],
  ['{sec: 0, nsec: -1}', { sec: 0, nsec: -1 }], ['{sec: \'1\', nsec: 0}', { sec: '1', nsec: 0 }],
];
for (const [name, timeout] of badTimeouts) {
  test(`timeout ${name} rejects with EINVAL and applies nothing`, async (t) => {
    const kq = open(t);
    await assert.rejects(kq.kevent([add('a', { fflags: NOTE_TRIGGER })], 4, timeout as Timeout), isKqError(EINVAL));
    assert.equal(kq.pending, 0);
    assert.equal(userExists(kq, 'a'), false);
  });
}

const badChanges: [string, unknown][] = [
  ['null', null], ['a number', 5], ['a string', 'change'], ['undefined', undefined],
  ['filter 1.5', { ident: 1, filter: 1.5, flags: EV_ADD }],
  ['filter \'-9\'', { ident: 1, filter: '-9', flags: EV_ADD }],
  ['flags \'x\'', { ident: 1, filter: EVFILT_USER, flags: 'x' }],
  ['flags NaN', { ident: 1, filter: EVFILT_USER, flags: NaN }],
  ['fflags 1.5', { ident: 1, filter: EVFILT_USER, flags: EV_ADD, fflags: 1.5 }],
  ['data 1.5', { ident: 1, filter: EVFILT_USER, flags: EV_ADD, data: 1.5 }],
  ['data 2n ** 63n', { ident: 1, filter: EVFILT_USER, flags: EV_ADD, data: 2n ** 63n }],
  ['data -(2n ** 63n) - 1n', { ident: 1, filter: EVFILT_USER, flags: EV_ADD, data: -(2n ** 63n) - 1n }],
  ['data 2 ** 64', { ident: 1, filter: EVFILT_USER, flags: EV_ADD, data: 2 ** 64 }],
];
for (const [name, bad] of badChanges) {
  test(`a change that is ${name} is EINVAL and no earlier change is applied`, (t) => {
    const kq = open(t);
    assert.throws(() => kq.keventSync([add('first'), bad as KEventInit, add('last')], 4), isKqError(EINVAL));
    assert.equal(userExists(kq, 'first'), false);
    assert.equal(userExists(kq, 'last'), false);
  });
}

test('a changelist that is not iterable is EINVAL', (t) => {
  const kq = open(t);
  assert.throws(() => kq.keventSync({} as never, 4), isKqError(EINVAL));
  assert.throws(() => kq.keventSync(5 as never, 4), isKqError(EINVAL));
});

test('the whole changelist is validated before any change is applied (kevent)', async (t) => {
  const kq = open(t);
  await assert.rejects(kq.kevent([add('first', { fflags: NOTE_TRIGGER }), { ident: 2, filter: EVFILT_USER, data: 0.5 }], 4, 0),
    isKqError(EINVAL));
  assert.equal(kq.pending, 0);
  assert.equal(userExists(kq, 'first'), false);
});

// ---- caller exceptions ------------------------------------------------------------------------

test('an exception thrown by a change\'s getter propagates unchanged and applies nothing', (t) => {
  const kq = open(t);
  const boom = new Error('getter');
  const evil = { ident: 'evil', filter: EVFILT_USER, get flags(): number { throw boom; } };
  assert.throws(() => kq.keventSync([add('first'), evil], 4), (e) => e === boom);
  assert.equal(userExists(kq, 'first'), false);
  assert.equal(userExists(kq, 'evil'), false);
});

test('an exception thrown by a proxy change propagates unchanged through kevent()', async (t) => {
  const kq = open(t);
  const boom = new TypeError('proxy');
  const evil = new Proxy({}, { get(): never { throw boom; } });
  await assert.rejects(kq.kevent([add('first'), evil as KEventInit], 4, 0), (e) => e === boom);
  assert.equal(userExists(kq, 'first'), false);
});

test('an iterable that throws midway propagates unchanged and applies nothing', (t) => {
  const kq = open(t);
  const boom = new RangeError('iterator');
  function* changes(): Generator<KEventInit> {
    yield add('first');
    yield add('second');
    throw boom;
  }
  assert.throws(() => kq.keventSync(changes(), 4), (e) => e === boom);
  assert.equal(userExists(kq, 'first'), false);
  assert.equal(userExists(kq, 'second'), false);
});

/**
 * Runs `call`, which closes `kq` while it reads its arguments. The call may return or fail with
 * EBADF, but afterwards the closed kqueue must hold nothing (api.md: close() drops every knote,
 * timers stopped; DragonFly 4: the last reference destroys every knote once the call returns).
 */
function assertClosedDuringCallKeepsNothing(kq: Kqueue, clock: VirtualClock, call: () => void): void {
  const saved = tunables.kq_calloutmax;
  const other = new Kqueue({ clock });
  try {
    try {
      call();
    } catch (e) {
      isKqError(EBADF)(e);
    }
    assert.equal(kq.closed, true);
    clock.advance(50);
    assert.equal(kq.pending, 0, 'a timer registered by the call fired into the closed kqueue');
    // The timer must not hold one of the process's kq_calloutmax slots either.
    tunables.kq_calloutmax = 1;
    const out = other.keventSync([{ ident: 'probe', filter: EVFILT_TIMER, flags: EV_ADD | EV_RECEIPT, data: 10 }], 1);
    assert.equal(out[0]!.data, 0, 'creating one timer failed: the closed kqueue still holds a live timer');
  } finally {
    tunables.kq_calloutmax = saved;
    other.close();
    kq.close();
  }
}

test('a kqueue closed by a change\'s getter during the call keeps no knote', () => {
  const clock = new VirtualClock();
  const kq = new Kqueue({ clock });
  const change = { ident: 't', filter: EVFILT_TIMER, get flags(): number { kq.close(); return EV_ADD; }, data: 10 };
  assertClosedDuringCallKeepsNothing(kq, clock, () => kq.keventSync([change], 4));
});

test('a kqueue closed by the changelist\'s iterator during the call keeps no knote', () => {
  const clock = new VirtualClock();
  const kq = new Kqueue({ clock });
  function* changes(): Generator<KEventInit> {
    yield { ident: 't1', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 };
    kq.close();
    yield { ident: 't2', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 };
  }
  assertClosedDuringCallKeepsNothing(kq, clock, () => kq.keventSync(changes(), 4));
});

// ---- closed kqueue, free function ------------------------------------------------------------

test('keventSync on a closed kqueue throws EBADF', () => {
  const kq = new Kqueue();
  kq.close();
  kq.close(); // idempotent
  assert.equal(kq.closed, true);
  assert.throws(() => kq.keventSync(null, 4), isKqError(EBADF));
  assert.throws(() => kq.keventSync([add('a')], 0), isKqError(EBADF));
});

test('kevent on a closed kqueue rejects with EBADF', async () => {
  const kq = new Kqueue();
  kq.close();
  await assert.rejects(kq.kevent(null, 4, 0), isKqError(EBADF));
  await assert.rejects(kq.kevent([add('a')], 4, null), isKqError(EBADF));
});

test('the kevent() free function applies changes and collects events like kq.kevent()', async (t) => {
  const kq = open(t);
  const out = await kevent(kq, [add('u', { fflags: NOTE_TRIGGER, data: 3 })], 4, 0);
  assert.deepEqual(out, [{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: 0, data: 3, udata: undefined }]);
  const entries = await kevent(kq, [missing('m')], 4, null);
  assert.deepEqual(entries, [entry('m', EVFILT_USER, ENOENT)]);
});

test('the kevent() free function rejects EBADF for a closed kqueue or a non-kqueue', async () => {
  const kq = new Kqueue();
  kq.close();
  await assert.rejects(kevent(kq, null, 4, 0), isKqError(EBADF));
  await assert.rejects(kevent({} as Kqueue, null, 4, 0), isKqError(EBADF));
});

test('keventSync that posted a receipt does not collect ready events', (t) => {
  const kq = open(t);
  kq.keventSync([add('ready', { fflags: NOTE_TRIGGER }), add('u')], 0);
  const out = kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_DISABLE | EV_RECEIPT }], 10);
  assert.deepEqual(out, [entry('u', EVFILT_USER, 0)]);
  assert.equal(kq.pending, 1);
});
