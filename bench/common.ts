/**
 * Shared helpers for the benchmark cases. A case is a small program run by `run.ts` in a fresh
 * child process (with --expose-gc); it measures once and prints one JSON line of metrics.
 */
import { performance } from 'node:perf_hooks';

/** `--quick`: a short smoke run (smaller sizes, shorter windows). */
export const QUICK = process.argv.includes('--quick');

/** The value of `--name value` on the case's command line, if given. */
export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Milliseconds of warm-up and of measurement for one throughput figure. */
export const WARMUP_MS = QUICK ? 60 : 200;
export const MEASURE_MS = QUICK ? 150 : 500;

const gcFn = (globalThis as { gc?: () => void }).gc;

/** A full collection, twice so that finalisation and weak processing settle. */
export function fullGC(): void {
  if (gcFn === undefined) throw new Error('run the case with node --expose-gc (the driver does)');
  gcFn();
  gcFn();
}

/** heapUsed after a full collection. */
export function settledHeap(): number {
  fullGC();
  return process.memoryUsage().heapUsed;
}

/** heapUsed + external (ArrayBuffer backing stores live outside the JS heap) after a full collection. */
export function settledHeapAndExternal(): { heap: number; external: number } {
  fullGC();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

/** CPU time of the whole process (user + system, all threads) in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export const now = (): number => performance.now();

/**
 * Throughput of a synchronous operation. `run(iters)` performs `iters` iterations in its own loop
 * and returns how many operations (events, changes, calls) they made. Chunks are sized to take
 * about a millisecond so the clock is read rarely. Returns operations per second over the whole
 * measurement window (collections included: they are part of the cost).
 */
export function rate(run: (iters: number) => number, measureMs = MEASURE_MS, warmupMs = WARMUP_MS): number {
  let iters = 1;
  let t = now();
  const warmEnd = t + warmupMs;
  // Warm-up, growing the chunk until one takes at least a millisecond.
  while (t < warmEnd) {
    run(iters);
    const t2 = now();
    if (t2 - t < 1 && iters < 1 << 24) iters *= 2;
    t = t2;
  }
  let ops = 0;
  const start = now();
  const end = start + measureMs;
  let t2 = start;
  while (t2 < end) {
    ops += run(iters);
    t2 = now();
  }
  return ops / ((t2 - start) / 1000);
}

/** `rate()` for an asynchronous operation. */
export async function rateAsync(run: (iters: number) => Promise<number>, measureMs = MEASURE_MS,
  warmupMs = WARMUP_MS): Promise<number> {
  let iters = 1;
  let t = now();
  const warmEnd = t + warmupMs;
  while (t < warmEnd) {
    await run(iters);
    const t2 = now();
    if (t2 - t < 1 && iters < 1 << 24) iters *= 2;
    t = t2;
  }
  let ops = 0;
  const start = now();
  const end = start + measureMs;
  let t2 = start;
  while (t2 < end) {
    ops += await run(iters);
    t2 = now();
  }
  return ops / ((t2 - start) / 1000);
}

/** Keeps a value observable so the optimiser cannot drop the work that produced it. */
let sinkValue = 0;
export function sink(v: number): void {
  sinkValue = (sinkValue + v) | 0;
}

/** Prints the case's one line of metrics (the driver reads the last JSON line of stdout). */
export function emit(metrics: Record<string, number>): void {
  if (sinkValue === 0x7fffffff) metrics.sink = sinkValue;
  process.stdout.write(JSON.stringify(metrics) + '\n');
}

/** Runs a case's main, reporting failure through the exit code. */
export function main(fn: () => void | Promise<void>): void {
  Promise.resolve()
    .then(fn)
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    });
}
