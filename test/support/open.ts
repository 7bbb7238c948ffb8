import type { TestContext } from 'node:test';
import { Kqueue, VirtualClock } from '../../src/index.js';

/** A kqueue closed when the test ends (on the given clock, else the real one). */
export function openKqueue(t: TestContext, clock?: VirtualClock): Kqueue {
  const kq = clock === undefined ? new Kqueue() : new Kqueue({ clock });
  t.after(() => kq.close());
  return kq;
}

/** A kqueue on a fresh VirtualClock, closed when the test ends. */
export function openVirtual(t: TestContext, clock = new VirtualClock()): { kq: Kqueue; clock: VirtualClock } {
  return { kq: openKqueue(t, clock), clock };
}
