/**
 * Cost of one harvest among many idle knotes: `keventSync([], 1)` returning the one ready
 * level-triggered EVFILT_USER knote (triggered once at registration, no EV_CLEAR, so it stays
 * ready) while N other USER knotes, never triggered, are registered on the same kqueue.
 *
 * A scan should only touch the pending queue, so the time must not grow with N.
 * Metrics: ns per call for each N (ns_10, ns_1000, ns_100000, ns_1000000), the median of
 * interleaved slices.
 */
import {
  EV_ADD, EVFILT_USER, type KEventInit, kqueue, NOTE_TRIGGER,
} from '../src/index.js';
import { compareRates, type Contender, emit, fullGC, main, sink } from './common.js';

const SIZES = [10, 1e3, 1e5, 1e6];
const CHUNK = 4096;

/** A kqueue holding `n` idle knotes and one ready level-triggered knote (ident n). */
function scanContender(n: number): Contender {
  const kq = kqueue();
  // N idle knotes, registered in batches through one reused changelist.
  const batch: KEventInit[] = [];
  for (let i = 0; i < CHUNK; i++) batch.push({ ident: 0, filter: EVFILT_USER, flags: EV_ADD });
  for (let base = 0; base < n; base += CHUNK) {
    const len = Math.min(CHUNK, n - base);
    batch.length = len;
    for (let i = 0; i < len; i++) batch[i]!.ident = base + i;
    if (kq.keventSync(batch, 0).length !== 0) throw new Error('registration failed');
  }
  // The ready one, triggered at registration; without EV_CLEAR it stays ready.
  kq.keventSync([{ ident: n, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
  const none: KEventInit[] = [];
  for (let k = 0; k < 3; k++) {
    const evs = kq.keventSync(none, 1);
    if (evs.length !== 1 || evs[0]!.ident !== n) throw new Error('the ready knote was not harvested');
  }
  return {
    name: `ns_${n}`,
    run(iters) {
      for (let k = 0; k < iters; k++) got += kq.keventSync(none, 1).length;
      return iters;
    },
  };
}

let got = 0;

main(async () => {
  // Every kqueue stays alive for the whole measurement, so all sizes run on the same heap and
  // are measured interleaved: only the size of their own kqueue differs.
  const contenders = SIZES.map(scanContender);
  fullGC(); // the registrations' garbage is not this measurement's
  const rates = await compareRates(contenders);
  const m: Record<string, number> = {};
  for (const c of contenders) m[c.name] = 1e9 / rates[c.name]!;
  sink(got);
  emit(m);
});
