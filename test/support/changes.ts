import assert from 'node:assert/strict';
import { EV_ERROR, EV_RECEIPT, type KEventInit, type Kqueue } from '../../src/index.js';

/** Applies changes without harvesting (an error would throw). */
export function change(kq: Kqueue, ...changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

/** The errno a single change fails with (its error entry is all the call returns). */
export function failure(kq: Kqueue, c: KEventInit): number {
  const evs = kq.keventSync([c], 1);
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.flags, EV_ERROR);
  return evs[0]!.data as number;
}

/** The errno one change gets, 0 when it applied, read from its EV_RECEIPT entry. */
export function receiptErrno(kq: Kqueue, c: KEventInit): number {
  const evs = kq.keventSync([{ ...c, flags: (c.flags ?? 0) | EV_RECEIPT }], 1);
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.flags, EV_ERROR);
  return evs[0]!.data as number;
}
