/**
 * EVFILT_PROC latency: how long after a child's exit the event is in hand, against the child's
 * own 'exit' event (what a Node program would otherwise listen to).
 *
 * For each of N children (`/bin/true`, spawned one at a time), three observers of the same exit:
 * - the 'exit' listener (a bare callback: where Node learns of the exit);
 * - `await once(child, 'exit')` (the promise a program would await);
 * - `await kq.kevent(null, 1)` on a knote (EV_ADD, NOTE_EXIT) registered on the ChildProcess.
 * The exit itself cannot be timed from here, so each is measured from spawn() returning, and the
 * two awaited forms also as the time they add after the 'exit' callback.
 *
 * Then, for a process that is not our child (a grandchild killed with SIGKILL), the time from the
 * kill to the event: what polling /proc every tunables.proc_poll_ms costs.
 *
 * Metrics (ms): spawn_exit_p50/p99, spawn_kq_p50/p99, spawn_once_p50/p99, kq_added_p50/p99,
 * once_added_p50/p99, poll_p50/p99, poll_ms (the interval used).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { EV_ADD, EVFILT_PROC, kqueue, NOTE_EXIT, tunables } from '../src/index.js';
import { emit, main, now, QUICK } from './common.js';

const CHILDREN = QUICK ? 30 : 200;
const POLLED = QUICK ? 10 : 40;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function children(): Promise<Record<string, number>> {
  const kq = kqueue();
  const spawnToExit: number[] = [];
  const spawnToKq: number[] = [];
  const spawnToOnce: number[] = [];
  const kqAdded: number[] = [];
  const onceAdded: number[] = [];
  for (let i = 0; i < CHILDREN; i++) {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    const t0 = now();
    let tExit = 0;
    let tOnce = 0;
    child.on('exit', () => { tExit = now(); });
    const awaited = once(child, 'exit').then(() => { tOnce = now(); });
    if (kq.keventSync([{ ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT }], 0).length !== 0) {
      throw new Error('registration failed');
    }
    const evs = await kq.kevent(null, 1, 10_000);
    const tKq = now();
    if (evs.length !== 1 || evs[0]!.ident !== child) throw new Error('no exit event');
    await awaited;
    spawnToExit.push(tExit - t0);
    spawnToKq.push(tKq - t0);
    spawnToOnce.push(tOnce - t0);
    kqAdded.push(tKq - tExit);
    onceAdded.push(tOnce - tExit);
  }
  kq.close();
  return {
    spawn_exit_p50: quantile(spawnToExit, 0.5),
    spawn_exit_p99: quantile(spawnToExit, 0.99),
    spawn_kq_p50: quantile(spawnToKq, 0.5),
    spawn_kq_p99: quantile(spawnToKq, 0.99),
    spawn_once_p50: quantile(spawnToOnce, 0.5),
    spawn_once_p99: quantile(spawnToOnce, 0.99),
    kq_added_p50: quantile(kqAdded, 0.5),
    kq_added_p99: quantile(kqAdded, 0.99),
    once_added_p50: quantile(onceAdded, 0.5),
    once_added_p99: quantile(onceAdded, 0.99),
  };
}

/** A grandchild (its parent is `sleep`), so its exit is only learnt from /proc. */
async function grandchild(): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  const parent = spawn('sh', ['-c', '(exec sleep 30) & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  return { pid: Number(String(line).trim()), parent };
}

async function polled(): Promise<Record<string, number>> {
  const kq = kqueue();
  const lat: number[] = [];
  for (let i = 0; i < POLLED; i++) {
    const { pid, parent } = await grandchild();
    kq.keventSync([{ ident: pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT }], 0);
    // Kill at a random point of the poll period.
    await new Promise((r) => setTimeout(r, Math.random() * tunables.proc_poll_ms));
    const t0 = now();
    process.kill(pid, 'SIGKILL');
    const evs = await kq.kevent(null, 1, 10_000);
    lat.push(now() - t0);
    if (evs.length !== 1 || evs[0]!.ident !== pid) throw new Error('no exit event for the grandchild');
    parent.kill('SIGKILL');
    await once(parent, 'exit');
  }
  kq.close();
  return { poll_p50: quantile(lat, 0.5), poll_p99: quantile(lat, 0.99), poll_ms: tunables.proc_poll_ms };
}

main(async () => {
  const a = await children();
  const b = await polled();
  emit({ ...a, ...b });
});
