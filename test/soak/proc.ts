// Soak phase H: child processes watched to exit (EVFILT_PROC, NOTE_EXIT), a bounded number alive at
// once. Children exit with codes 0-255 or kill themselves with SIGTERM or SIGKILL; half are
// registered by their ChildProcess, half by their pid. Each exit must be delivered exactly once,
// with EV_EOF|EV_ONESHOT, NOTE_EXIT and the wait status (code << 8, or the signal's number), and
// the knote is then gone (EV_DELETE: ENOENT) and no listener of the library is left on the child.
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import {
  ENOENT, EV_ADD, EV_DELETE, EV_EOF, EV_ERROR, EV_ONESHOT, EVFILT_PROC, KqueueError, NOTE_EXIT, kqueue, type Kqueue,
} from '../../src/index.js';
import { check, fmt, runPhase } from './harness.js';

export interface ProcSize {
  children: number;
  /** Children alive at once, at most. */
  concurrency: number;
}

const STALL_MS = 15_000;

interface Watched { k: number; child: ChildProcess; ident: ChildProcess | number; status: number; seen: boolean }

/** What child `k` runs and the wait(2) status it must end with. */
function program(k: number): { argv: string[]; status: number } {
  switch (k % 10) {
    case 7: return { argv: ['/bin/sh', '-c', 'kill -TERM $$'], status: os.constants.signals.SIGTERM };
    case 8: return { argv: ['/bin/sh', '-c', 'kill -KILL $$'], status: os.constants.signals.SIGKILL };
    default: return { argv: ['/bin/sh', '-c', `exit ${k % 256}`], status: (k % 256) << 8 };
  }
}

class ProcRig {
  private kq: Kqueue | null = null;
  private serial = 0;
  private alive = new Set<Watched>();
  counts = { exits: 0, byPid: 0, signalled: 0, deleteChecks: 0 };

  open(): void {
    this.kq = kqueue();
  }

  private start(): void {
    const k = this.serial++;
    const { argv, status } = program(k);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    child.on('error', (e) => check(false, `H: child ${k} could not be spawned: ${String(e)}`));
    if (child.pid === undefined) return;
    const ident = k % 2 === 0 ? child : child.pid;
    const w: Watched = { k, child, ident, status, seen: false };
    try {
      // nevents 0: nothing is harvested here, and a failed change throws its errno.
      this.kq!.keventSync([{ ident, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, udata: w }], 0);
    } catch (e) {
      check(false, `H: registering child ${k} failed: ${String(e)}`);
      return;
    }
    this.alive.add(w);
  }

  private onExit(ev: { flags: number; fflags: number; data: number | bigint }, w: Watched): void {
    check(!w.seen, `H: child ${w.k}'s exit delivered twice`);
    check((ev.flags & (EV_EOF | EV_ONESHOT)) === (EV_EOF | EV_ONESHOT) && (ev.fflags & NOTE_EXIT) !== 0,
      `H: child ${w.k}'s exit came with flags ${ev.flags}, fflags ${ev.fflags}`);
    check(ev.data === w.status, `H: child ${w.k} (${typeof w.ident === 'number' ? 'by pid' : 'by ChildProcess'}) exited with status ${String(ev.data)}, expected ${w.status}`);
    w.seen = true;
    this.alive.delete(w);
    this.counts.exits++;
    if (typeof w.ident === 'number') this.counts.byPid++;
    if ((w.status & 0x7f) !== 0) this.counts.signalled++;
    if (typeof w.ident !== 'number') {
      check(w.child.listenerCount('exit') === 0, `H: child ${w.k} still has ${w.child.listenerCount('exit')} 'exit' listeners after its knote went`);
    }
    if (w.k % 50 === 0) {
      // The knote went with its delivery.
      let errno = 0;
      try {
        this.kq!.keventSync([{ ident: w.ident, filter: EVFILT_PROC, flags: EV_DELETE }], 0);
      } catch (e) {
        errno = e instanceof KqueueError ? e.errno : -1;
      }
      check(errno === ENOENT, `H: EV_DELETE after child ${w.k}'s exit gave errno ${errno}, expected ENOENT`);
      this.counts.deleteChecks++;
    }
  }

  async run(n: number, concurrency: number): Promise<number> {
    const kq = this.kq!;
    let started = 0;
    while (started < n || this.alive.size !== 0) {
      while (started < n && this.alive.size < concurrency) {
        this.start();
        started++;
      }
      const evs = await kq.kevent(null, 256, STALL_MS);
      if (evs.length === 0) {
        check(false, `H: no exit within ${STALL_MS / 1000} s with ${this.alive.size} children alive: ${[...this.alive].map((w) => w.k).join(', ')}`);
        for (const w of this.alive) w.child.kill('SIGKILL');
        this.alive.clear();
        break;
      }
      for (const ev of evs) {
        if ((ev.flags & EV_ERROR) !== 0) check(false, `H: error entry ${JSON.stringify(ev)}`);
        else this.onExit(ev, ev.udata as Watched);
      }
    }
    check(kq.pending === 0, `H: ${kq.pending} events pending after every exit`);
    return n;
  }

  close(): void {
    for (const w of this.alive) w.child.kill('SIGKILL');
    this.alive.clear();
    this.kq?.close();
    this.kq = null;
  }
}

export async function phaseProc(size: ProcSize): Promise<void> {
  const per = Math.max(1, Math.round(size.children / 10));
  let rig = new ProcRig();
  await runPhase({
    name: `H. ${fmt(per * 10)} child processes watched to exit`,
    unit: 'exits',
    warm: async () => {
      const w = new ProcRig();
      w.open();
      await w.run(per, size.concurrency);
      w.close();
    },
    setup: async () => {
      rig = new ProcRig();
      rig.open();
    },
    tenth: () => rig.run(per, size.concurrency),
    teardown: async () => {
      rig.close();
      const c = rig.counts;
      return `${c.exits} exits (${size.concurrency} alive at once; ${c.byPid} by pid, ${c.exits - c.byPid} by ChildProcess; ` +
        `${c.signalled} killed by a signal), each status checked; ${c.deleteChecks} knotes checked gone`;
    },
  });
}
