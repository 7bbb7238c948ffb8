/**
 * Registration cost of EVFILT_USER knotes.
 *
 * - Rate: a batch of B EV_ADD changes, then the same B idents with EV_DELETE, each batch one
 *   keventSync call with a reused changelist (B = 64 and 1024); changes (adds + deletes) per second.
 *   A bare Map doing the same set/delete pattern is measured alongside as a reference.
 * - Memory: heapUsed growth per idle knote after registering 1e6 of them (full GC before and
 *   after; the changelist is reused so only the knotes and their index remain).
 */
import {
  EV_ADD, EV_DELETE, EVFILT_USER, type KEventInit, kqueue,
} from '../src/index.js';
import { compareRates, type Contender, emit, fullGC, main, settledHeap } from './common.js';

const BATCHES = [64, 1024];
const IDLE = 1e6;
const CHUNK = 1024;

let errors = 0;

function changeContender(b: number): Contender {
  const kq = kqueue();
  const adds: KEventInit[] = [];
  const dels: KEventInit[] = [];
  for (let i = 0; i < b; i++) {
    adds.push({ ident: i, filter: EVFILT_USER, flags: EV_ADD });
    dels.push({ ident: i, filter: EVFILT_USER, flags: EV_DELETE });
  }
  errors += kq.keventSync(adds, b).length + kq.keventSync(dels, b).length;
  if (errors !== 0) throw new Error('add/delete reported errors');
  // nevents 0: nothing to harvest, and an error would throw rather than be posted.
  return {
    name: `changes_${b}`,
    run(iters) {
      for (let k = 0; k < iters; k++) {
        errors += kq.keventSync(adds, 0).length;
        errors += kq.keventSync(dels, 0).length;
      }
      return iters * 2 * b;
    },
  };
}

/**
 * Reference, not a target: the same pattern on a bare Map (set a fresh object per ident, then
 * delete it), the floor under any ident-indexed registry. Measured interleaved with the
 * kqueue contenders, it shows how much of a slow reading is the machine.
 */
function mapContender(b: number): Contender {
  const map = new Map<number, { ident: number; status: number }>();
  return {
    name: `map_${b}`,
    run(iters) {
      for (let k = 0; k < iters; k++) {
        for (let i = 0; i < b; i++) map.set(i, { ident: i, status: 0 });
        for (let i = 0; i < b; i++) map.delete(i);
      }
      errors += map.size;
      return iters * 2 * b;
    },
  };
}

/** Bytes of heap per idle knote; the kqueue is kept alive until after the second measurement. */
function bytesPerKnote(n: number): number {
  const batch: KEventInit[] = [];
  for (let i = 0; i < CHUNK; i++) batch.push({ ident: 0, filter: EVFILT_USER, flags: EV_ADD });
  // Warm the path (and the change buffer's arrays) on a throw-away kqueue first.
  const warm = kqueue();
  for (let base = 0; base < 64 * CHUNK; base += CHUNK) {
    for (let i = 0; i < CHUNK; i++) batch[i]!.ident = base + i;
    warm.keventSync(batch, 0);
  }
  warm.close();
  const before = settledHeap();
  const kq = kqueue();
  for (let base = 0; base < n; base += CHUNK) {
    const len = Math.min(CHUNK, n - base);
    batch.length = len;
    for (let i = 0; i < len; i++) batch[i]!.ident = base + i;
    if (kq.keventSync(batch, 0).length !== 0) throw new Error('registration failed');
  }
  const after = settledHeap();
  if (kq.pending !== 0) throw new Error('idle knotes must not be pending');
  kq.close();
  return (after - before) / n;
}

main(async () => {
  const m = await compareRates([...BATCHES.map(changeContender), mapContender(1024)]);
  if (errors !== 0) throw new Error('add/delete reported errors');
  fullGC();
  m.bytes_per_knote = bytesPerKnote(IDLE);
  emit(m);
});
