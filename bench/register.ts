/**
 * Registration cost of EVFILT_USER knotes.
 *
 * - Rate: a batch of B EV_ADD changes, then the same B idents with EV_DELETE, each batch one
 *   keventSync call with a reused changelist (B = 64 and 1024); changes (adds + deletes) per second.
 * - Memory: heapUsed growth per idle knote after registering 1e6 of them (full GC before and
 *   after; the changelist is reused so only the knotes and their index remain).
 */
import {
  EV_ADD, EV_DELETE, EVFILT_USER, type KEventInit, kqueue,
} from '../src/index.js';
import { emit, fullGC, main, QUICK, rate, settledHeap, sink } from './common.js';

const BATCHES = [64, 1024];
const IDLE = 1e6;
const CHUNK = 1024;

function changeRate(b: number): number {
  const kq = kqueue();
  const adds: KEventInit[] = [];
  const dels: KEventInit[] = [];
  for (let i = 0; i < b; i++) {
    adds.push({ ident: i, filter: EVFILT_USER, flags: EV_ADD });
    dels.push({ ident: i, filter: EVFILT_USER, flags: EV_DELETE });
  }
  let errors = kq.keventSync(adds, b).length + kq.keventSync(dels, b).length;
  if (errors !== 0) throw new Error('add/delete reported errors');
  // nevents 0: nothing to harvest, and an error would throw rather than be posted.
  const r = rate((iters) => {
    for (let k = 0; k < iters; k++) {
      errors += kq.keventSync(adds, 0).length;
      errors += kq.keventSync(dels, 0).length;
    }
    return iters * 2 * b;
  });
  sink(errors);
  kq.close();
  return r;
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

main(() => {
  const m: Record<string, number> = {};
  for (const b of BATCHES) m[`changes_${b}`] = changeRate(b);
  fullGC();
  m.bytes_per_knote = bytesPerKnote(QUICK ? IDLE / 4 : IDLE);
  emit(m);
});
