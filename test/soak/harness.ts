// What every soak phase shares: running a phase tenth by tenth, and the checks after it (the
// throughput per tenth, the heap after close() and a forced GC, open descriptors and inotify watches
// back to their baseline). Used by run.ts (full sizes) and test/reliability/soak-small.test.ts.
import fs from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const MIN_RATIO = 0.7;
export const HEAP_SLACK = 0.05;
export const HEAP_FLOOR = 400 * 1024;
/** Descriptors and watches are released asynchronously (libuv closes handles on a later turn). */
const RELEASE_MS = 10_000;

export interface SoakOptions {
  /** Print as it goes. */
  verbose: boolean;
  /** Fail a phase whose last tenth is below MIN_RATIO x its first (off for small test runs). */
  checkRatio: boolean;
  /** Fail a phase whose heap is above the baseline after teardown (off for small test runs). */
  checkHeap: boolean;
}

export const options: SoakOptions = { verbose: true, checkRatio: true, checkHeap: true };
export const failures: string[] = [];

export interface PhaseResult {
  name: string;
  unit: string;
  rates: number[];
  ratio: number;
  heapBefore: number;
  heapAfter: number;
  fdsBefore: number;
  fdsAfter: number;
  watchesBefore: number;
  watchesAfter: number;
  seconds: number;
  note: string;
}
export const results: PhaseResult[] = [];

export const log = (s: string): void => { if (options.verbose) console.log(s); };
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
export const kib = (b: number): string => `${(b / 1024).toFixed(0)} KiB`;

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/**
 * The middle of three values. The degradation check compares the median of the last three tenths
 * with that of the first three: on a loaded machine one tenth alone can be twice as slow as its
 * neighbours, while a real degradation (work growing with what the phase has done) shows in all
 * of them.
 */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Records a failure (the first 50 of a run). */
export function check(cond: boolean, what: string): void {
  if (!cond && failures.length < 50) failures.push(what);
}

/** The collector: `--expose-gc`'s, or (under the test runner) one exposed at run time. */
let collect = (globalThis as { gc?: () => void }).gc;

function gc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

export async function settledHeap(): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    gc();
    await turn();
    best = Math.min(best, process.memoryUsage().heapUsed);
  }
  return best;
}

/** Open descriptors of this process (the directory's own descriptor included, every time). */
export function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** inotify watches held by this process: the `inotify wd:` lines of every descriptor's fdinfo. */
export function inotifyWatches(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fdinfo')) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1');
    } catch {
      continue; // the directory's own descriptor, closed by now
    }
    for (let i = text.indexOf('inotify wd:'); i >= 0; i = text.indexOf('inotify wd:', i + 1)) n++;
  }
  return n;
}

/**
 * Waits (turning the event loop, collecting garbage) until both counts are back at or below their
 * baselines, or RELEASE_MS has passed; returns the last counts.
 */
async function released(fdsBefore: number, watchesBefore: number): Promise<{ fds: number; watches: number }> {
  const deadline = performance.now() + RELEASE_MS;
  for (;;) {
    const fds = openFds();
    const watches = inotifyWatches();
    if ((fds <= fdsBefore && watches <= watchesBefore) || performance.now() > deadline) return { fds, watches };
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface PhaseSpec {
  name: string;
  unit: string;
  /** Runs once at a small scale first, so one-time structures exist before the baselines. */
  warm: () => Promise<void>;
  /** After the baselines, untimed: what the tenths share (a kqueue, a server, files). */
  setup?: () => Promise<void>;
  /** One tenth of the run; returns the units it processed. */
  tenth: (i: number) => Promise<number>;
  /** Closes everything; returns the phase's note (counts). */
  teardown: () => Promise<string>;
}

/**
 * Runs a phase: `warm`, the baselines (heap, descriptors, inotify watches), `setup`, the ten
 * tenths timed one by one, `teardown`, then the same three measures again.
 */
export async function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  const { name, unit } = spec;
  await spec.warm();
  const heapBefore = await settledHeap();
  const fdsBefore = openFds();
  const watchesBefore = inotifyWatches();
  await spec.setup?.();
  const rates: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) {
    const s = performance.now();
    const n = await spec.tenth(i);
    rates.push(n / ((performance.now() - s) / 1000));
  }
  const seconds = (performance.now() - t0) / 1000;
  const note = await spec.teardown();
  const { fds: fdsAfter, watches: watchesAfter } = await released(fdsBefore, watchesBefore);
  const heapAfter = await settledHeap();
  const ratio = median(rates.slice(7)) / median(rates.slice(0, 3));
  const r: PhaseResult = { name, unit, rates, ratio, heapBefore, heapAfter, fdsBefore, fdsAfter, watchesBefore, watchesAfter, seconds, note };
  results.push(r);
  log(`\n== ${name} (${seconds.toFixed(1)} s)${note ? `: ${note}` : ''}`);
  log(`   ${unit}/s per tenth: ${rates.map((x) => fmt(x)).join('  ')}`);
  log(`   last/first three tenths (medians): ${ratio.toFixed(2)}x`);
  const allowed = Math.max(heapBefore * HEAP_SLACK, HEAP_FLOOR);
  log(`   heap: baseline ${kib(heapBefore)}, after close + gc ${kib(heapAfter)} (${heapAfter >= heapBefore ? '+' : ''}${kib(heapAfter - heapBefore)}, allowed +${kib(allowed)})`);
  log(`   open fds: ${fdsBefore} -> ${fdsAfter}; inotify watches: ${watchesBefore} -> ${watchesAfter}`);
  if (options.checkRatio && ratio < MIN_RATIO) failures.push(`${name}: throughput degraded: last three tenths ${fmt(median(rates.slice(7)))} vs first three ${fmt(median(rates.slice(0, 3)))} ${unit}/s (medians, ${ratio.toFixed(2)}x < ${MIN_RATIO}x)`);
  if (options.checkHeap && heapAfter - heapBefore > allowed) failures.push(`${name}: heap did not return to baseline: ${kib(heapBefore)} -> ${kib(heapAfter)} (allowed +${kib(allowed)})`);
  if (fdsAfter > fdsBefore) failures.push(`${name}: open descriptors did not return to baseline: ${fdsBefore} -> ${fdsAfter}`);
  if (watchesAfter > watchesBefore) failures.push(`${name}: inotify watches did not return to baseline: ${watchesBefore} -> ${watchesAfter}`);
  return r;
}

/** The old positional form (phases A-E). */
export function phase(name: string, unit: string, warm: () => Promise<void>, tenth: (i: number) => Promise<number>,
  teardown: () => Promise<string>): Promise<PhaseResult> {
  return runPhase({ name, unit, warm, tenth, teardown });
}
