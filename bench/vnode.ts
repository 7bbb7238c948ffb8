/**
 * EVFILT_VNODE against raw fs.watch and chokidar, on the same kind of files: N files in a temp dir
 * (10,000; 2,000 with --quick), every one watched. Run with `--variant kqueue`, `--variant
 * fswatch` or `--variant chokidar` (the driver runs each in its own process).
 *
 * - kqueue: one path knote per file (EV_ADD|EV_CLEAR, every NOTE_), each event harvested with
 *   `await kq.kevent(null, 1, null)` called before the write;
 * - fswatch: `fs.watch(path, { persistent: false }, listener)` per file, the time taken in the
 *   listener itself (a bare callback, no promise);
 * - chokidar: one `chokidar.watch(paths, { ignoreInitial: true })`, the time taken in its
 *   'change' listener.
 *
 * Metrics:
 * - bytes_per_file: heapUsed growth per watched file (full GC before and after setting up);
 * - ext_bytes_per_file: the same for heapUsed + external (kqueue keeps per-file times in a typed
 *   array, whose store is external; native memory such as libuv's handles is in neither);
 * - idle_cpu_ms_per_s: process CPU time (user + system) per second while every file stays idle
 *   (for kqueue, a kevent() is waiting meanwhile, as a program's loop would be);
 * - lat_p50_ms, lat_p99_ms: from just before a 1-byte write to one of the files (rotating over 256
 *   of them, spread over the set: chokidar ignores a second change of a file within 5 ms) until
 *   the event is in hand, over SAMPLES writes done one at a time;
 * - lost: writes whose event did not come within a second (then counted as 1000 ms);
 * - setup_ms: wall time to start watching all the files.
 */
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EVFILT_USER, EVFILT_VNODE, type KEventInit, kqueue, NOTE_ATTRIB, NOTE_DELETE,
  NOTE_EXTEND, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE, NOTE_TRIGGER, NOTE_WRITE,
} from '../src/index.js';
import { argValue, cpuMs, emit, main, now, QUICK, settledHeapAndExternal } from './common.js';

const N = QUICK ? 2000 : 10_000;
const SAMPLES = QUICK ? 300 : 2000;
const WARMUP = QUICK ? 50 : 200;
const IDLE_MS = QUICK ? 1000 : 5000;
const TARGETS = 256;
const ALL = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE;

interface Contender {
  /** Starts watching every path; resolves once watching. */
  start(paths: string[]): Promise<void>;
  /** Arms the next wait; returns a promise of the time the event was in hand. */
  next(): Promise<number>;
  /** Waits `ms` with nothing happening (as the contender's program would wait). */
  idle(ms: number): Promise<void>;
  stop(): Promise<void>;
}

function kqueueContender(): Contender {
  const kq = kqueue();
  const WATCHDOG = 'watchdog';
  kq.keventSync([{ ident: WATCHDOG, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR }], 0);
  return {
    async start(paths) {
      const CHUNK = 1024;
      for (let base = 0; base < paths.length; base += CHUNK) {
        const changes: KEventInit[] = [];
        for (let i = base; i < Math.min(base + CHUNK, paths.length); i++) {
          changes.push({ ident: paths[i]!, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL });
        }
        if (kq.keventSync(changes, 0).length !== 0) throw new Error('registration failed');
      }
    },
    async next() {
      // Waits without a timeout, as a program's loop does; a user event ends a wait for an event
      // that does not come.
      const dog = setTimeout(() => kq.keventSync([{ ident: WATCHDOG, filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 0), 1000);
      const evs = await kq.kevent(null, 1, null);
      const t = now();
      clearTimeout(dog);
      return evs[0]!.filter === EVFILT_VNODE ? t : NaN;
    },
    async idle(ms) {
      const evs = await kq.kevent(null, 1, ms);
      if (evs.length !== 0) throw new Error('unexpected event while idle');
    },
    async stop() {
      kq.close();
    },
  };
}

/** A listener-based contender: `fire()` is called by its callback. */
function callbackContender(open: (paths: string[], fire: () => void) => Promise<() => Promise<void>>): Contender {
  let waiting: ((t: number) => void) | null = null;
  let close: (() => Promise<void>) | null = null;
  const fire = (): void => {
    const t = now();
    const w = waiting;
    waiting = null;
    w?.(t);
  };
  return {
    async start(paths) {
      close = await open(paths, fire);
    },
    next() {
      // A bare watcher does not hold the process (kqueue's pending kevent() does): this timer
      // does, and gives up on an event that does not come.
      return new Promise((resolve) => {
        const hold = setTimeout(() => {
          waiting = null;
          resolve(NaN);
        }, 1000);
        waiting = (t) => {
          clearTimeout(hold);
          resolve(t);
        };
      });
    },
    idle(ms) {
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    async stop() {
      await close!();
    },
  };
}

function fsWatchContender(): Contender {
  return callbackContender(async (paths, fire) => {
    const watchers = paths.map((p) => fs.watch(p, { persistent: false }, fire));
    return async () => { for (const w of watchers) w.close(); };
  });
}

function chokidarContender(): Contender {
  return callbackContender(async (paths, fire) => {
    const { watch } = await import('chokidar');
    const w = watch(paths, { ignoreInitial: true });
    w.on('change', fire);
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    return () => w.close();
  });
}

async function run(variant: string): Promise<void> {
  const make = { kqueue: kqueueContender, fswatch: fsWatchContender, chokidar: chokidarContender }[variant];
  if (make === undefined) throw new Error(`unknown variant ${variant}`);
  const dir = fs.realpathSync(fs.mkdtempSync(join(os.tmpdir(), 'kqueue-bench-vnode-')));
  try {
    const paths: string[] = [];
    for (let i = 0; i < N; i++) {
      const p = join(dir, `f${i}`);
      fs.writeFileSync(p, '');
      paths.push(p);
    }
    const fds = Array.from({ length: TARGETS }, (_, k) => fs.openSync(paths[Math.floor((k * N) / TARGETS)]!, 'a'));
    const byte = Buffer.from('x');

    const c = make();
    const heap0 = settledHeapAndExternal();
    const t0 = now();
    await c.start(paths);
    const setupMs = now() - t0;
    const heap1 = settledHeapAndExternal();

    // Idle: every file watched, nothing happening (once the collector's threads are done).
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = cpuMs();
    const w0 = now();
    await c.idle(IDLE_MS);
    const idleCpu = (cpuMs() - cpu0) / ((now() - w0) / 1000);

    // Latency, one write at a time.
    const lat: number[] = [];
    let lost = 0;
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const p = c.next();
      const start = now();
      fs.writeSync(fds[i % TARGETS]!, byte);
      const t = await p;
      if (i < WARMUP) continue;
      if (Number.isNaN(t)) lost++;
      lat.push(Number.isNaN(t) ? 1000 : t - start);
    }
    lat.sort((a, b) => a - b);
    await c.stop();
    for (const fd of fds) fs.closeSync(fd);
    emit({
      bytes_per_file: (heap1.heap - heap0.heap) / N,
      ext_bytes_per_file: (heap1.heap + heap1.external - heap0.heap - heap0.external) / N,
      idle_cpu_ms_per_s: idleCpu,
      lat_p50_ms: lat[Math.floor(lat.length * 0.5)]!,
      lat_p99_ms: lat[Math.floor(lat.length * 0.99)]!,
      setup_ms: setupMs,
      lost,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main(() => run(argValue('--variant') ?? 'kqueue'));
