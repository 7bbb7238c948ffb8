// The soak phases on real sources (test/soak/: TCP echo, watched files, child exits, signals) at
// small sizes, with every invariant of the full run (`npm run soak`) except the timing ones: no
// throughput ratio and no heap bound, which depend on the machine's load and the JIT. Descriptors
// and inotify watches must return to their baselines, and a scaled-down run in a child process
// must exit by itself once its work is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { failures, options, results } from '../soak/harness.js';
import { phaseProc } from '../soak/proc.js';
import { phaseSignals } from '../soak/signal.js';
import { phaseTcp } from '../soak/tcp.js';
import { phaseVnode } from '../soak/vnode.js';

options.verbose = false;
options.checkRatio = false;
options.checkHeap = false;

async function phase(run: () => Promise<void>): Promise<void> {
  failures.length = 0;
  await run();
  const r = results.at(-1)!;
  assert.deepEqual(failures, [], `${r.name}: ${r.note}`);
  assert.ok(r.fdsAfter <= r.fdsBefore && r.watchesAfter <= r.watchesBefore);
}

test('soak F, small: 300 TCP connections echoed through one kqueue, 50 in flight', () =>
  phase(() => phaseTcp({ connections: 300, inFlight: 50 })));

test('soak G, small: 3,000 writes to 100 watched files, none lost or invented', () =>
  phase(() => phaseVnode({ files: 100, writes: 3000 })));

test('soak H, small: 40 child processes watched to exit, statuses checked', () =>
  phase(() => phaseProc({ children: 40, concurrency: 8 })));

test('soak I, small: 5,000 signals counted exactly as Node delivered them', () =>
  phase(() => phaseSignals({ signals: 5000 })));

test('a scaled-down soak run of these phases in a child process exits by itself', async () => {
  const run = fileURLToPath(new URL('../soak/run.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', run, '--child', '--only=F,G,H,I'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let doneAt = 0;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (doneAt === 0 && out.includes('CHILD-DONE')) doneAt = performance.now();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(killer);
  assert.equal(code, 0, out);
  const m = /CHILD-DONE (.*)/.exec(out);
  assert.ok(m !== null, out);
  assert.deepEqual(JSON.parse(m[1]!), { failures: [], alive: [] });
  // Generous: it must end by itself, whatever the load, not be killed.
  assert.ok(performance.now() - doneAt < 20_000, `exited ${(performance.now() - doneAt).toFixed(0)} ms after its work`);
});
