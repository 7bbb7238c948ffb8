// Type tests of the published declarations: this file imports the package by name, so it is
// checked against dist/*.d.ts (what users get); `tsc -p tsconfig.json` (build and lint) fails if
// a declaration changes shape or an @ts-expect-error stops being an error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EV_ADD, EV_CLEAR, EVFILT_TIMER, EVFILT_USER, type KEvent, type KEventInit, Kqueue, kevent,
  KqueueError, kqueue, NOTE_TRIGGER, type Timeout, tunables, VirtualClock,
} from 'kqueue';

function typeChecks(kq: Kqueue, clock: VirtualClock): void {
  const changes: KEventInit[] = [
    { ident: 'x', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, udata: { any: 'thing' } },
    { ident: 1n, filter: EVFILT_TIMER, flags: EV_ADD, data: 10n },
    { ident: Symbol('s'), filter: EVFILT_USER, fflags: NOTE_TRIGGER },
  ];
  const a: Promise<KEvent[]> = kq.kevent(changes, 8);
  const b: KEvent[] = kq.keventSync(null, 8);
  const c: Promise<KEvent[]> = kevent(kq, new Set(changes), 8, { sec: 1, nsec: 0 }, { signal: AbortSignal.timeout(5) });
  const timeouts: Timeout[] = [0, -1, Infinity, null, undefined, { sec: 0, nsec: 5 }];
  const it: AsyncIterable<KEvent> = kq.events({ nevents: 4 });
  const n: number = kq.pending;
  const closed: boolean = kq.closed;
  const data: number | bigint = b[0]!.data;
  const withClock: Kqueue = kqueue({ clock });
  tunables.kq_calloutmax = 10;
  clock.advance(1);
  void [a, c, timeouts, it, n, closed, data, withClock];

  // @ts-expect-error a change needs a filter
  kq.keventSync([{ ident: 1 }], 1);
  // @ts-expect-error nevents is required
  kq.keventSync([]);
  // @ts-expect-error the timeout is a number, a timespec or nullish
  void kq.kevent([], 1, '5');
  // @ts-expect-error engine internals are not part of the published types
  void kq.register;
  // @ts-expect-error so is the scan
  void kq.collect;
  // @ts-expect-error pending is read-only
  kq.pending = 3;
}

test('the published names exist at run time (the type checks above are compile-time only)', () => {
  void typeChecks; // never called: compiling it is the test
  for (const fn of [Kqueue, kevent, kqueue, KqueueError, VirtualClock]) assert.equal(typeof fn, 'function');
  assert.equal(typeof tunables.kq_calloutmax, 'number');
});
