// Soak and leak run, outside the default test run: `npm run soak`, which runs
// `node --expose-gc build/test/soak/run.js`. Phases on the engine (engine.ts):
//   A. 1M knotes registered and deleted (USER and TIMER; number, string, symbol and object idents)
//   B. 10M events triggered and harvested in batches of 1000 (keventSync and kevent with timeout 0)
//   C. 100k one-shot timers firing on the real clock
//   D. 10k kqueues opened and closed, each with knotes, a READ watcher and a pending wait
//   E. 100k waits aborted or timed out (AbortSignal, real-clock and virtual-clock timeouts)
// and on real sources (issue 10, scope item 4):
//   F. 10k TCP connections opened, echoed and closed through one kqueue (tcp.ts)
//   G. 100k writes to 1,000 watched files, VNODE NOTE_WRITE with EV_CLEAR (vnode.ts)
//   H. 2,000 child processes watched to exit, PROC NOTE_EXIT (proc.ts)
//   I. 100k signals, SIGUSR1/SIGUSR2 from ourselves and from children (signal.ts)
//   J. the hostile-ident fuzz at 100,000 random runs, in its own process (fuzz.ts)
// Each phase prints its throughput per tenth of the run and fails if the last three tenths are below
// 0.7x the first three (medians: degradation); after close() plus a forced GC it fails if the heap is more than 5% (at
// least 400 KiB) above its baseline, or if open descriptors (/proc/self/fd) or inotify watches
// (/proc/self/fdinfo) are above theirs (harness.ts). Finally nothing may keep the process alive:
// no active handle remains that was not there at the start, and a scaled-down child run exits by
// itself. Exit code 1 on any failure. `--only=F,G` runs some phases only.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { phaseHarvest, phaseKqueues, phaseRegister, phaseTimers, phaseWaits } from './engine.js';
import { phaseHostileFuzz } from './fuzz.js';
import { failures, fmt, kib, log, median, options, results, turn } from './harness.js';
import { phaseProc } from './proc.js';
import { phaseSignals } from './signal.js';
import { phaseTcp } from './tcp.js';
import { phaseVnode } from './vnode.js';

const SELF = fileURLToPath(import.meta.url);
const CHILD = process.argv.includes('--child');
/** The child run is the same program at 1/100 of the scale: it only has to show it can exit. */
const SCALE = CHILD ? 0.01 : 1;
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');

if (typeof globalThis.gc !== 'function') {
  // Re-run with --expose-gc rather than fail: the heap figures need a forced collection.
  const r = spawnSync(process.execPath, ['--expose-gc', SELF, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
options.verbose = !CHILD;
options.checkRatio = !CHILD;
options.checkHeap = !CHILD;

const PHASES: [string, () => Promise<void>][] = [
  ['A', () => phaseRegister(SCALE)],
  ['B', () => phaseHarvest(SCALE)],
  ['C', () => phaseTimers(SCALE)],
  ['D', () => phaseKqueues(SCALE)],
  ['E', () => phaseWaits(SCALE)],
  ['F', () => phaseTcp({ connections: 10_000 * SCALE, inFlight: CHILD ? 20 : 500 })],
  ['G', () => phaseVnode({ files: Math.max(10, 1000 * SCALE), writes: 100_000 * SCALE })],
  ['H', () => phaseProc({ children: Math.max(20, 2000 * SCALE), concurrency: CHILD ? 5 : 32 })],
  ['I', () => phaseSignals({ signals: 100_000 * SCALE })],
  // Not in the scaled-down child run: it is a process of its own, with its own leak checks.
  ['J', () => (CHILD ? Promise.resolve() : phaseHostileFuzz(100_000))],
];

// ---- nothing keeps the process alive ---------------------------------------------------------------------

/**
 * Handles and requests that keep the event loop running (unref'd ones are not listed), minus
 * those that were there before the first phase (stdout, stderr, the parent's pipes).
 */
function keepingAlive(baseline: string[]): string[] {
  const left = [...baseline];
  const extra: string[] = [];
  for (const r of process.getActiveResourcesInfo()) {
    const i = left.indexOf(r);
    if (i >= 0) left.splice(i, 1);
    else extra.push(r);
  }
  return extra;
}

function runChild(): Promise<{ code: number | null; afterDoneMs: number; out: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', SELF, '--child', ...(ONLY ? [`--only=${ONLY.join(',')}`] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let doneAt = 0;
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (doneAt === 0 && out.includes('CHILD-DONE')) doneAt = performance.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const killer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, 120_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, afterDoneMs: doneAt === 0 ? -1 : performance.now() - doneAt, out, killed });
    });
  });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  // stdout and stderr make their handles when first used: make them before the baseline.
  process.stdout.write('');
  process.stderr.write('');
  const baseline = process.getActiveResourcesInfo();
  log(`soak run: node ${process.version}, scale ${SCALE}`);
  for (const [key, run] of PHASES) if (ONLY === undefined || ONLY.includes(key)) await run();
  await turn();
  const alive = keepingAlive(baseline);
  if (CHILD) {
    // Report and return: the process must now end by itself.
    console.log(`CHILD-DONE ${JSON.stringify({ failures, alive })}`);
    return;
  }
  log(`\n== keep-alive\n   active resources after every kqueue closed: ${JSON.stringify(process.getActiveResourcesInfo())} (at the start: ${JSON.stringify(baseline)})`);
  if (alive.length !== 0) failures.push(`resources keep the process alive after every kqueue closed: ${alive.join(', ')}`);
  const child = await runChild();
  log(`   a scaled-down run in a child process exited by itself ${child.afterDoneMs.toFixed(0)} ms after finishing its work (code ${child.code})`);
  if (child.killed || child.code !== 0 || child.afterDoneMs < 0 || child.afterDoneMs > 2000) {
    failures.push(`the child run did not exit by itself promptly (code ${child.code}, killed ${child.killed}, ${child.afterDoneMs.toFixed(0)} ms after its work):\n${child.out}`);
  }
  const m = /CHILD-DONE (.*)/.exec(child.out);
  if (m) {
    const r = JSON.parse(m[1]!) as { failures: string[]; alive: string[] };
    for (const f of r.failures) failures.push(`child run: ${f}`);
    if (r.alive.length !== 0) failures.push(`child run: resources keep it alive: ${r.alive.join(', ')}`);
  }

  log('\n== summary');
  log('   phase                                         first 3/10  last 3/10  ratio   heap baseline -> after      fds      inotify');
  for (const r of results) {
    log(`   ${r.name.padEnd(45)} ${`${fmt(median(r.rates.slice(0, 3)))}/s`.padStart(10)} ${`${fmt(median(r.rates.slice(7)))}/s`.padStart(10)}  ${r.ratio.toFixed(2).padStart(5)}x  ` +
      `${`${kib(r.heapBefore)} -> ${kib(r.heapAfter)}`.padEnd(24)} ${`${r.fdsBefore} -> ${r.fdsAfter}`.padEnd(8)} ${r.watchesBefore} -> ${r.watchesAfter}`);
  }
  log(`   total ${((performance.now() - t0) / 1000).toFixed(1)} s (first/last 3/10: medians of the first and last three tenths)`);
  if (failures.length !== 0) {
    console.error(`\nSOAK FAILED:\n - ${failures.join('\n - ')}`);
    process.exitCode = 1;
  } else {
    log('\nsoak passed');
  }
}

await main();
