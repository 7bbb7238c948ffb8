// Soak phase I: signals (EVFILT_SIGNAL). SIGUSR1 and SIGUSR2 are sent by this process to itself (in
// rounds of 1,000) and by a child shell (bursts of 1,000 of each). Two kqueues count them, one by
// signal name and one by number; a listener of our own counts what Node delivered (it also keeps
// Node's defaults away: the inspector for SIGUSR1, termination for SIGUSR2).
//
// Invariants checked after every round, once its last signal has been dispatched:
//  - exact: each kqueue's counts (the `data` of its harvested events, summed) equal Node's
//    deliveries, signal by signal (one listener feeds both);
//  - a signal that this process sends itself from its main thread is delivered before kill()
//    returns (Linux hands it to the sending thread), so a self-sent round loses nothing:
//    delivered >= sent;
//  - a child's burst may coalesce (a signal sent while the same one is still pending in the
//    kernel merges with it): at most what was sent is delivered (and over the phase, some);
//  - none invented: whatever a round delivers beyond what it sent is a child's signal arriving
//    late, and is taken off what the children sent and Node has not delivered yet (`late`): it
//    may never exceed that. Late arrivals happen under load: a signal from another process goes
//    to another thread when the main thread has one pending and is not running, and that thread's
//    handler can write to libuv's pipe after a later signal's.
// The end of a round: self-sent rounds end with a SIGURG to ourselves (watched, ignored by
// default), whose event comes after every earlier signal's (libuv passes them on in order, through
// one pipe); a child's burst ends with the child's exit (EVFILT_PROC: SIGCHLD, which Linux delivers
// after every lower-numbered signal still pending, SIGUSR1 10 and SIGUSR2 12 < SIGCHLD 17), then a
// SIGURG as well. After the teardown no listener of the library may remain, except the one it
// documents keeping on SIGUSR1.
import { spawn } from 'node:child_process';
import os from 'node:os';
import {
  EV_ADD, EV_ERROR, EVFILT_PROC, EVFILT_SIGNAL, NOTE_EXIT, kqueue, type KEvent, type Kqueue,
} from '../../src/index.js';
import { check, fmt, runPhase } from './harness.js';

export interface SignalSize {
  /** Signals sent in all (a tenth of them per tenth). */
  signals: number;
}

const SIGS = ['SIGUSR1', 'SIGUSR2'] as const;
type Sig = typeof SIGS[number];
const NUM: Record<Sig | 'SIGURG', number> = {
  SIGUSR1: os.constants.signals.SIGUSR1, SIGUSR2: os.constants.signals.SIGUSR2, SIGURG: os.constants.signals.SIGURG,
};
const WAIT_MS = 10_000;
const SELF_ROUND = 1000;

class SignalRig {
  private byName: Kqueue | null = null;
  private byNumber: Kqueue | null = null;
  /** What Node delivered to our own listeners. */
  private readonly node = { SIGUSR1: 0, SIGUSR2: 0 };
  /** What each kqueue counted (harvested `data`, summed). */
  private readonly named = { SIGUSR1: 0, SIGUSR2: 0 };
  private readonly numbered = { SIGUSR1: 0, SIGUSR2: 0 };
  private readonly listeners = {
    SIGUSR1: (): void => { this.node.SIGUSR1++; },
    SIGUSR2: (): void => { this.node.SIGUSR2++; },
  };
  private listenersBefore: Record<string, number> = {};
  /** Signals the children sent that Node has not delivered yet (coalesced, or still to come). */
  private readonly late = { SIGUSR1: 0, SIGUSR2: 0 };
  counts = { sent: 0, selfSent: 0, childSent: 0, childDelivered: 0, lateDelivered: 0, bursts: 0, events: 0 };

  open(): void {
    for (const s of [...SIGS, 'SIGURG']) this.listenersBefore[s] = process.listenerCount(s);
    for (const s of SIGS) process.on(s, this.listeners[s]);
    this.byName = kqueue();
    this.byNumber = kqueue();
    this.byName.keventSync([...SIGS, 'SIGURG'].map((ident) => ({ ident, filter: EVFILT_SIGNAL, flags: EV_ADD })), 0);
    this.byNumber.keventSync(SIGS.map((s) => ({ ident: NUM[s], filter: EVFILT_SIGNAL, flags: EV_ADD })), 0);
  }

  private take(evs: KEvent[], into: Record<Sig, number>): { urg: boolean; exited: boolean } {
    let urg = false;
    let exited = false;
    for (const ev of evs) {
      if ((ev.flags & EV_ERROR) !== 0) {
        check(false, `I: error entry ${JSON.stringify(ev)}`);
        continue;
      }
      this.counts.events++;
      if (ev.filter === EVFILT_PROC) {
        exited = true;
        check(ev.data === 0, `I: the signalling child exited with status ${String(ev.data)}`);
        continue;
      }
      const name = typeof ev.ident === 'string' ? ev.ident : ev.ident === NUM.SIGUSR1 ? 'SIGUSR1' : 'SIGUSR2';
      if (name === 'SIGURG') urg = true;
      else into[name as Sig] += ev.data as number;
    }
    return { urg, exited };
  }

  /** Harvests the name kqueue until `done` says so, then drains both kqueues. */
  private async settle(done: (seen: { urg: boolean; exited: boolean }) => boolean, what: string): Promise<void> {
    const seen = { urg: false, exited: false };
    while (!done(seen)) {
      const evs = await this.byName!.kevent(null, 16, WAIT_MS);
      if (evs.length === 0) {
        check(false, `I: ${what} did not arrive within ${WAIT_MS / 1000} s`);
        break;
      }
      const s = this.take(evs, this.named);
      seen.urg ||= s.urg;
      seen.exited ||= s.exited;
    }
    this.take(this.byName!.keventSync(null, 16), this.named);
    this.take(this.byNumber!.keventSync(null, 16), this.numbered);
  }

  private checkExact(what: string): void {
    for (const s of SIGS) {
      check(this.named[s] === this.node[s] && this.numbered[s] === this.node[s],
        `I: after ${what}: ${s} delivered ${this.node[s]} times, counted ${this.named[s]} (by name) and ${this.numbered[s]} (by number)`);
    }
  }

  /** `n` signals to ourselves, alternating, then the SIGURG marker. */
  async selfRound(n: number): Promise<void> {
    const before = { ...this.node };
    for (let j = 0; j < n; j++) process.kill(process.pid, SIGS[j & 1]!);
    process.kill(process.pid, 'SIGURG');
    await this.settle((s) => s.urg, 'the SIGURG marker');
    this.checkExact('a self-sent round');
    const sent = { SIGUSR1: (n + 1) >> 1, SIGUSR2: n >> 1 };
    for (const s of SIGS) {
      const extra = this.node[s] - before[s] - sent[s];
      check(extra >= 0 && extra <= this.late[s],
        `I: sent ourselves ${sent[s]} ${s}, Node delivered ${this.node[s] - before[s]} (${this.late[s]} from children could still arrive)`);
      this.late[s] -= extra;
      this.counts.lateDelivered += extra;
    }
    this.counts.sent += n;
    this.counts.selfSent += n;
  }

  /** A child shell sends us `each` SIGUSR2 and `each` SIGUSR1, interleaved, and exits. */
  async childBurst(each: number): Promise<void> {
    const before = { ...this.node };
    const child = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${each} ]; do kill -USR2 $PPID; kill -USR1 $PPID; i=$((i+1)); done`], { stdio: 'ignore' });
    this.byName!.keventSync([{ ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT }], 0);
    await this.settle((s) => s.exited, 'the signalling child\'s exit');
    process.kill(process.pid, 'SIGURG');
    await this.settle((s) => s.urg, 'the SIGURG marker after a child\'s burst');
    this.checkExact('a child\'s burst');
    for (const s of SIGS) {
      const got = this.node[s] - before[s];
      check(got <= each + this.late[s], `I: a child sent ${each} ${s}, Node delivered ${got} (${this.late[s]} from earlier children could still arrive)`);
      this.late[s] += each - got;
      this.counts.childDelivered += got;
    }
    this.counts.sent += 2 * each;
    this.counts.childSent += 2 * each;
    this.counts.bursts++;
  }

  /** `n` signals: 80% self-sent in rounds, 20% from one child. */
  async run(n: number): Promise<number> {
    const fromChild = Math.floor(n / 10); // of each signal
    let self = n - 2 * fromChild;
    while (self > 0) {
      const r = Math.min(SELF_ROUND, self);
      await this.selfRound(r);
      self -= r;
    }
    if (fromChild > 0) await this.childBurst(fromChild);
    return n;
  }

  close(): void {
    if (this.counts.bursts !== 0) {
      for (const s of SIGS) check(this.counts.childSent / 2 - this.late[s] > 0, `I: none of the children's ${s} was delivered`);
    }
    this.byName?.close();
    this.byNumber?.close();
    this.byName = this.byNumber = null;
    for (const s of SIGS) process.removeListener(s, this.listeners[s]);
    // The library's listeners went with the last knotes, except the one it keeps on SIGUSR1
    // (docs/filters/signal.md: removing the last would make the next SIGUSR1 fatal).
    for (const s of [...SIGS, 'SIGURG']) {
      const left = process.listenerCount(s) - this.listenersBefore[s]!;
      check(left === 0 || (s === 'SIGUSR1' && left === 1), `I: ${left} listeners left on ${s} after the teardown`);
    }
  }
}

export async function phaseSignals(size: SignalSize): Promise<void> {
  const per = Math.max(10, Math.round(size.signals / 10));
  let rig = new SignalRig();
  // For the whole phase, warm-up included: a child's signal arriving late, between two rigs, must
  // not find SIGUSR2 without a listener (it would terminate the process) or SIGUSR1 (the inspector).
  const guard = (): void => {};
  for (const s of SIGS) process.on(s, guard);
  // Node 24's test runner starts test files with --report-on-signal (SIGUSR2): a diagnostic
  // report written per SIGUSR2 would be the phase's whole cost, and litter the directory.
  const reportOnSignal = process.report.reportOnSignal;
  process.report.reportOnSignal = false;
  await runPhase({
    name: `I. ${fmt(per * 10)} signals`,
    unit: 'signals',
    warm: async () => {
      const w = new SignalRig();
      w.open();
      await w.run(per);
      w.close();
    },
    setup: async () => {
      rig = new SignalRig();
      rig.open();
    },
    tenth: () => rig.run(per),
    teardown: async () => {
      rig.close();
      const c = rig.counts;
      return `${c.sent} sent: ${c.selfSent} to ourselves (none lost), ${c.childSent} from ${c.bursts} children ` +
        `(${c.childDelivered + c.lateDelivered} delivered, ${c.lateDelivered} of them late: ${(100 - (100 * (c.childDelivered + c.lateDelivered)) / Math.max(1, c.childSent)).toFixed(1)}% coalesced by the kernel); ` +
        `every count equal in both kqueues to Node's deliveries; ${c.events} events`;
    },
  });
  for (const s of SIGS) process.removeListener(s, guard);
  process.report.reportOnSignal = reportOnSignal;
}
