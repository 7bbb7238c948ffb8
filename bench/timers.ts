/**
 * One million one-shot timers on the real clock, periods spread over 1..1000 ms
 * (period = 1 + i % 1000), with kqueue EVFILT_TIMER knotes (EV_ADD|EV_ONESHOT) or setTimeout.
 * Run with `--variant kqueue`, `--variant setTimeout` or `--variant floor` (the driver runs each
 * in its own process).
 *
 * For kqueue a timer has fired when its event has been harvested: `await kq.kevent(null, 65536,
 * null)` is looped until every event was collected (KQ_HARVEST=n sets the batch). For setTimeout,
 * when its callback ran.
 *
 * `floor` is not a timer: it is the memory work any design with one JavaScript object per armed
 * timer cannot avoid, done with nothing else. It makes one knote per timer with the engine's own
 * `newKnote()` (the same object, same size, same allocation site behaviour), keeps them in an
 * array as the ident table would, waits the same 1000 ms once, then makes one event object per
 * timer with `makeEvent()`, in batches of the harvest's size, and lets everything go. What it
 * costs is the part of kqueue's CPU that no cleverness in the engine can remove.
 *
 * Metrics (for the variant run):
 * - bytes_per_timer: heapUsed growth per armed timer (full GC before and after registering);
 * - ext_bytes_per_timer: the same for heapUsed + external (typed-array stores live outside the heap);
 * - reg_ms: wall time to register them all;
 * - cpu_ms: process CPU time (user + system) to register and fire them all;
 * - wall_past_floor_ms: wall time from the first registration until all have fired, less 1000 ms.
 * The forced collections of the heap measurement are subtracted from cpu_ms and the wall times.
 */
import {
  EV_ADD, EV_ONESHOT, EVFILT_TIMER, type KEventInit, kqueue, tunables,
} from '../src/index.js';
import { EVFILT_TIMER as TIMER } from '../src/constants.js';
import { newKnote } from '../src/engine/knote.js';
import { makeEvent, type KEvent } from '../src/kevent.js';
import { timerFilterOps } from '../src/filters/timer.js';
import { argValue, cpuMs, emit, fullGC, main, now, QUICK, settledHeapAndExternal } from './common.js';

const N = QUICK ? 200_000 : 1_000_000;
const WARM_N = 50_000;
const CHUNK = 1024;
const HARVEST = Number(process.env.KQ_HARVEST ?? 65536);

interface Result {
  regMs: number;
  cpuMs: number;
  wallMs: number;
  heap: number;
  ext: number;
}

/** Measures the heap after registration; returns the delta and the time the collections took. */
function heapPause(before: { heap: number; external: number }): { heap: number; ext: number; ms: number; cpu: number } {
  const t = now();
  const c = cpuMs();
  const after = settledHeapAndExternal();
  return {
    heap: after.heap - before.heap,
    ext: after.heap + after.external - before.heap - before.external,
    ms: now() - t,
    cpu: cpuMs() - c,
  };
}

async function kqueueTimers(n: number, periodMod: number): Promise<Result> {
  const kq = kqueue();
  const batch: KEventInit[] = [];
  for (let i = 0; i < CHUNK; i++) {
    batch.push({ ident: 0, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 1 });
  }
  const before = settledHeapAndExternal();
  const c0 = cpuMs();
  const t0 = now();
  for (let base = 0; base < n; base += CHUNK) {
    const len = Math.min(CHUNK, n - base);
    batch.length = len;
    for (let i = 0; i < len; i++) {
      const c = batch[i]!;
      const id = base + i;
      c.ident = id;
      c.data = 1 + (id % periodMod);
    }
    if (kq.keventSync(batch, 0).length !== 0) throw new Error('timer registration failed');
  }
  const regMs = now() - t0;
  const pause = heapPause(before);
  let got = 0;
  while (got < n) {
    const evs = await kq.kevent(null, HARVEST, null);
    got += evs.length;
  }
  const wall = now() - t0 - pause.ms;
  const cpu = cpuMs() - c0 - pause.cpu;
  if (got !== n) throw new Error(`harvested ${got} of ${n}`);
  kq.close();
  return { regMs, cpuMs: cpu, wallMs: wall, heap: pause.heap, ext: pause.ext };
}

function setTimeoutTimers(n: number, periodMod: number): Promise<Result> {
  return new Promise((resolve) => {
    let fired = 0;
    let t0 = 0;
    let c0 = 0;
    let pause = { heap: 0, ext: 0, ms: 0, cpu: 0 };
    let regMs = 0;
    const onFire = (): void => {
      if (++fired === n) {
        const wall = now() - t0 - pause.ms;
        const cpu = cpuMs() - c0 - pause.cpu;
        resolve({ regMs, cpuMs: cpu, wallMs: wall, heap: pause.heap, ext: pause.ext });
      }
    };
    const before = settledHeapAndExternal();
    c0 = cpuMs();
    t0 = now();
    for (let i = 0; i < n; i++) setTimeout(onFire, 1 + (i % periodMod));
    regMs = now() - t0;
    pause = heapPause(before);
  });
}

async function floor(n: number, periodMod: number): Promise<Result> {
  const before = settledHeapAndExternal();
  const c0 = cpuMs();
  const t0 = now();
  const held: ReturnType<typeof newKnote>[] = [];
  for (let id = 0; id < n; id++) {
    const kn = newKnote(null, TIMER, id, EV_ADD | EV_ONESHOT, undefined, timerFilterOps, null);
    kn.sdata = 1 + (id % periodMod);
    held[id] = kn;
  }
  const regMs = now() - t0;
  const pause = heapPause(before);
  await new Promise((resolve) => setTimeout(resolve, periodMod));
  let sink = 0;
  for (let base = 0; base < n; base += HARVEST) {
    const len = Math.min(HARVEST, n - base);
    const out: KEvent[] = new Array(len);
    for (let i = 0; i < len; i++) {
      const kn = held[base + i]!;
      out[i] = makeEvent(kn.ident, kn.filter, kn.flags, 0, 1, kn.udata);
      held[base + i] = undefined as never;
    }
    sink += out.length;
    await new Promise(setImmediate);
  }
  if (sink !== n) throw new Error('floor lost objects');
  const wall = now() - t0 - pause.ms;
  return { regMs, cpuMs: cpuMs() - c0 - pause.cpu, wallMs: wall, heap: pause.heap, ext: pause.ext };
}

const variants = { kqueue: kqueueTimers, setTimeout: setTimeoutTimers, floor } as const;

main(async () => {
  const variant = argValue('--variant') ?? 'kqueue';
  if (!Object.hasOwn(variants, variant)) throw new Error(`unknown variant ${variant}`);
  tunables.kq_calloutmax = 2 * N + 1;
  const run = variants[variant as keyof typeof variants];
  // Warm-up: a smaller round with short periods, so the measured round runs optimised code.
  await run(WARM_N, 50);
  fullGC();
  const r = await run(N, 1000);
  emit({
    timers: N,
    bytes_per_timer: r.heap / N,
    ext_bytes_per_timer: r.ext / N,
    reg_ms: r.regMs,
    cpu_ms: r.cpuMs,
    wall_past_floor_ms: r.wallMs - 1000,
  });
});
