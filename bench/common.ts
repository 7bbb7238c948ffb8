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

/** Interleaved measurement plan: warm-up per contender, then rounds of one slice each. */
export const WARMUP_MS = QUICK ? 50 : 150;
export const ROUNDS = QUICK ? 3 : 7;
export const SLICE_MS = QUICK ? 25 : 40;

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
 * One operation being measured. `run(iters)` performs `iters` iterations in its own loop and
 * returns (or resolves to) how many operations (events, changes, calls) they made.
 */
export interface Contender {
  name: string;
  run: (iters: number) => number | Promise<number>;
}

/**
 * Operations per second of each contender, measured interleaved so that noise from the rest of
 * the machine falls on all of them alike: each is warmed up (growing its chunk until one takes
 * at least a millisecond, so the clock is read rarely), then every round gives each contender a
 * slice of `sliceMs`, in an order rotated from round to round. Returns the median over rounds
 * of each contender's rate in its slice (collections included: they are part of the cost).
 */
export async function compareRates(contenders: Contender[], rounds = ROUNDS, sliceMs = SLICE_MS,
  warmupMs = WARMUP_MS): Promise<Record<string, number>> {
  const iters: number[] = [];
  for (const c of contenders) {
    let n = 1;
    let t = now();
    const end = t + warmupMs;
    while (t < end) {
      await c.run(n);
      const t2 = now();
      if (t2 - t < 1 && n < 1 << 24) n *= 2;
      t = t2;
    }
    iters.push(n);
  }
  const samples: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < contenders.length; j++) {
      const k = (j + r) % contenders.length;
      const c = contenders[k]!;
      const n = iters[k]!;
      let ops = 0;
      const start = now();
      const end = start + sliceMs;
      let t = start;
      while (t < end) {
        ops += await c.run(n);
        t = now();
      }
      samples[k]!.push(ops / ((t - start) / 1000));
    }
  }
  const out: Record<string, number> = {};
  contenders.forEach((c, k) => {
    out[c.name] = median(samples[k]!);
  });
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
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
