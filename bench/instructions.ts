/**
 * Instructions per event, counted by callgrind: the stable figure behind the timed benchmarks
 * (timings on a shared machine move by tens of percent; these counts move by well under 1%).
 *
 *   node build/bench/instructions.js [work...] [--json]
 *
 * Each work (below) runs twice under `valgrind --tool=callgrind node --predictable
 * --single-threaded`, with a small and a large iteration count; the difference of the two totals
 * divided by the difference of events is what one more event costs once the code is warm
 * (start-up, compilation and the warm-up cancel out). valgrind is installed with apt-get when
 * missing. Run as a child with `--work name --iters n`, it performs the work only.
 *
 * Works:
 * - user_1024: EVFILT_USER trigger + harvest, one keventSync(1024 triggers, 1024) per batch,
 *   as bench/user-harvest.ts's sync_1024 (per event);
 * - user_1: the same with batches of 1 (per event);
 * - events_on: 1024 emits then 1024 awaited next() of an events.on() iterator, as
 *   bench/user-harvest.ts's events_on (per event);
 * - timer: one-shot EVFILT_TIMER knotes with periods 1 + i % 1000 ms registered in batches of
 *   1024 on a VirtualClock, expired by advancing it 1 ms at a time, harvested in batches of 1024
 *   (per timer: arm, expire, queue, harvest, destroy);
 * - settimeout: setTimeout(fn, 1 + i % 1000) and its callback (per timer; real time, so its count
 *   varies a little more).
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter, on } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EV_ADD, EV_CLEAR, EV_ONESHOT, EVFILT_TIMER, EVFILT_USER, type KEventInit, kqueue, NOTE_TRIGGER,
  tunables, VirtualClock,
} from '../src/index.js';
import { argValue } from './common.js';

interface Work {
  /** Events (or timers) per iteration. */
  perIter: number;
  /** Iteration counts of the two runs. */
  small: number;
  large: number;
  run(iters: number): void | Promise<void>;
}

let sinkValue = 0;

function userWork(b: number): Work['run'] {
  return (iters) => {
    const kq = kqueue();
    const adds: KEventInit[] = [];
    const triggers: KEventInit[] = [];
    for (let i = 0; i < b; i++) {
      adds.push({ ident: i, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR });
      triggers.push({ ident: i, filter: EVFILT_USER, fflags: NOTE_TRIGGER });
    }
    kq.keventSync(adds, 0);
    // Warm-up: the same work, so both runs measure optimised code.
    for (let k = 0; k < 20_000 / b + 20; k++) sinkValue += kq.keventSync(triggers, b).length;
    for (let k = 0; k < iters; k++) sinkValue += kq.keventSync(triggers, b).length;
    kq.close();
  };
}

async function eventsOnWork(iters: number): Promise<void> {
  const ee = new EventEmitter();
  const it = on(ee, 'ev')[Symbol.asyncIterator]();
  for (let k = 0; k < iters + 20; k++) {
    for (let i = 0; i < 1024; i++) ee.emit('ev', i);
    for (let i = 0; i < 1024; i++) sinkValue += ((await it.next()).value as number[])[0]!;
  }
}

function timerRound(n: number): void {
  const clock = new VirtualClock();
  const kq = kqueue({ clock });
  const batch: KEventInit[] = [];
  for (let i = 0; i < 1024; i++) batch.push({ ident: 0, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 1 });
  for (let base = 0; base < n; base += 1024) {
    const len = Math.min(1024, n - base);
    batch.length = len;
    for (let i = 0; i < len; i++) {
      const id = base + i;
      batch[i]!.ident = id;
      batch[i]!.data = 1 + (id % 1000);
    }
    kq.keventSync(batch, 0);
  }
  let got = 0;
  while (got < n) {
    clock.advance(1);
    for (;;) {
      const evs = kq.keventSync(null, 1024);
      got += evs.length;
      if (evs.length < 1024) break;
    }
  }
  kq.close();
}

function timerWork(iters: number): void {
  tunables.kq_calloutmax = 1 << 30;
  timerRound(50_000);
  timerRound(iters * 1000);
}

function setTimeoutWork(iters: number): Promise<void> {
  const round = (n: number): Promise<void> => new Promise((resolve) => {
    let fired = 0;
    const onFire = (): void => {
      if (++fired === n) resolve();
    };
    for (let i = 0; i < n; i++) setTimeout(onFire, 1 + (i % 1000));
  });
  return round(50_000).then(() => round(iters * 1000));
}

const WORKS: Record<string, Work> = {
  user_1024: { perIter: 1024, small: 100, large: 300, run: userWork(1024) },
  user_1: { perIter: 1, small: 50_000, large: 150_000, run: userWork(1) },
  events_on: { perIter: 1024, small: 100, large: 300, run: eventsOnWork },
  timer: { perIter: 1000, small: 100, large: 300, run: timerWork },
  settimeout: { perIter: 1000, small: 100, large: 300, run: setTimeoutWork },
};

function ensureValgrind(): void {
  if (spawnSync('valgrind', ['--version']).status === 0) return;
  console.error('valgrind not found: installing it with apt-get');
  const opts = { stdio: 'inherit' as const, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  spawnSync('apt-get', ['update', '-q'], opts);
  const r = spawnSync('apt-get', ['install', '-y', '-q', 'valgrind'], opts);
  if (r.status !== 0) throw new Error('could not install valgrind (apt-get install valgrind)');
}

/** Total instructions of one child run of `work` with `iters` iterations. */
function countOnce(name: string, iters: number, dir: string): number {
  const out = join(dir, `${name}.${iters}.out`);
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`,
    process.execPath, '--predictable', '--single-threaded', self, '--work', name, '--iters', String(iters)],
  { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${name} x${iters} failed (${r.status}):\n${r.stderr}`);
  const m = /^summary:\s*(\d+)/m.exec(readFileSync(out, 'utf8')) ?? /^totals:\s*(\d+)/m.exec(readFileSync(out, 'utf8'));
  if (m === null) throw new Error(`${name}: no total in ${out}`);
  return Number(m[1]);
}

async function child(name: string, iters: number): Promise<void> {
  const w = WORKS[name];
  if (w === undefined) throw new Error(`unknown work ${name}`);
  await w.run(iters);
  if (sinkValue === 0.5) console.log(sinkValue);
}

function parent(): void {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const selected = names.length === 0 ? Object.keys(WORKS) : names;
  ensureValgrind();
  const dir = mkdtempSync(join(tmpdir(), 'kq-instr-'));
  const results: Record<string, number> = {};
  try {
    for (const name of selected) {
      const w = WORKS[name];
      if (w === undefined) throw new Error(`unknown work ${name}; works: ${Object.keys(WORKS).join(', ')}`);
      const a = countOnce(name, w.small, dir);
      const b = countOnce(name, w.large, dir);
      const per = (b - a) / ((w.large - w.small) * w.perIter);
      results[name] = Math.round(per);
      console.error(`${name}: ${per.toFixed(1)} instructions per event (${a} at ${w.small} iterations, ${b} at ${w.large})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (results.user_1024 !== undefined && results.events_on !== undefined) {
    console.error(`events.on / user_1024 instruction ratio: ${(results.events_on / results.user_1024).toFixed(2)}x`);
  }
  if (results.timer !== undefined && results.settimeout !== undefined) {
    console.error(`timer / setTimeout instruction ratio: ${(results.timer / results.settimeout).toFixed(2)}x`);
  }
  process.stdout.write(JSON.stringify(results) + '\n');
}

const work = argValue('--work');
if (work !== undefined) {
  await child(work, Number(argValue('--iters')));
} else {
  parent();
}
