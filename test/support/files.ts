import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EV_ERROR, type Ident, type KEvent, type Kqueue } from '../../src/index.js';

/** A fresh temporary directory (its real path), removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'kqueue-vnode-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Generous: a pass never depends on timing. */
export const WAIT_MS = 5000;

/** Events harvested for other knotes than the one waited for, kept for the next wait. */
const stash = new WeakMap<Kqueue, KEvent[]>();

/**
 * Harvests `kq` until the fflags seen on knote (`ident`, `filter`) together include every bit of
 * `want`; returns their OR and the events for that knote. Fails after WAIT_MS. Events for other
 * knotes are kept for later calls.
 */
export async function harvestUntil(kq: Kqueue, ident: Ident, filter: number, want: number):
Promise<{ fflags: number; events: KEvent[] }> {
  const deadline = performance.now() + WAIT_MS;
  let fflags = 0;
  const events: KEvent[] = [];
  const others = stash.get(kq) ?? [];
  stash.set(kq, others);
  for (let i = 0; i < others.length && (fflags & want) !== want; i++) {
    const ev = others[i]!;
    if (ev.ident === ident && ev.filter === filter) {
      fflags |= ev.fflags;
      events.push(ev);
      others.splice(i--, 1);
    }
  }
  while ((fflags & want) !== want) {
    const left = deadline - performance.now();
    if (left <= 0) {
      assert.fail(`timed out waiting for fflags 0x${want.toString(16)} on ${String(ident)}; ` +
        `saw 0x${fflags.toString(16)} in ${JSON.stringify(events)}`);
    }
    for (const ev of await kq.kevent(null, 64, left)) {
      assert.equal(ev.flags & EV_ERROR, 0, `unexpected error entry ${JSON.stringify(ev)}`);
      if (ev.ident === ident && ev.filter === filter) {
        fflags |= ev.fflags;
        events.push(ev);
      } else {
        others.push(ev);
      }
    }
  }
  return { fflags, events };
}

/** Asserts that `ev` is an error entry with `errno`. */
export function assertError(ev: KEvent | undefined, errno: number): void {
  assert.ok(ev !== undefined, 'no error entry');
  assert.equal(ev.flags & EV_ERROR, EV_ERROR, `not an error entry: ${JSON.stringify(ev)}`);
  assert.equal(ev.data, errno, `errno ${String(ev.data)}, expected ${errno}`);
}

/** Forgets what was harvested for other knotes (before checking that nothing else is queued). */
export function stashed(kq: Kqueue): KEvent[] {
  const others = stash.get(kq) ?? [];
  stash.delete(kq);
  return others;
}
