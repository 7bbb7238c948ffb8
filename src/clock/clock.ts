import type { Knote } from '../engine/knote.js';
import { type ExpireFn, type RearmFn, TimerQueues } from './timer-queues.js';
import { type TimeoutEntry, TimeoutHeap } from './timeout-heap.js';

let rearmTimer: RearmFn = () => -1;
let expireTimer: ExpireFn = () => {};

/** The timer filter tells every clock how a timer knote expires. @internal */
export function setTimerHandlers(rearm: RearmFn, expire: ExpireFn): void {
  rearmTimer = rearm;
  expireTimer = expire;
}

/**
 * A source of time for EVFILT_TIMER and kevent timeouts, in milliseconds. Each clock drives all
 * of its deadlines from one place (one host timer for the real clock): timer knotes in
 * `TimerQueues`, waits in a `TimeoutHeap`.
 */
export abstract class Clock {
  /** Only a constructed clock has this; a prototype-made look-alike does not. */
  readonly #brand = true;

  /** @internal true for an object made by a Clock constructor. */
  static isClock(value: unknown): value is Clock {
    return typeof value === 'object' && value !== null && #brand in value;
  }

  /** @internal */
  readonly timers = new TimerQueues();
  /** @internal */
  readonly timeouts = new TimeoutHeap();

  /** Current time in milliseconds (monotonic). */
  abstract now(): number;

  /** @internal make sure the earliest deadline will be served. */
  protected abstract schedule(): void;

  /** @internal arms a timer knote to expire `period` ms from now. */
  armTimer(kn: Knote, period: number): void {
    const deadline = this.now() + period;
    this.timers.arm(kn, period, deadline);
    this.deadlineAdded(deadline);
  }

  /** @internal */
  cancelTimer(): void {
    this.timers.cancel();
    if (this.timers.live === 0) this.idle();
  }

  /** @internal */
  addTimeout(e: TimeoutEntry): void {
    this.timeouts.insert(e);
    this.deadlineAdded(e.deadline);
  }

  /** @internal */
  removeTimeout(e: TimeoutEntry): void {
    this.timeouts.remove(e);
    if (this.timeouts.size === 0) this.idle();
  }

  /** @internal called when a deadline went away: a clock with none left may release its host timer. */
  protected idle(): void {}

  /** @internal */
  protected deadlineAdded(_deadline: number): void {
    this.schedule();
  }

  /** @internal the earliest pending deadline (timer or timeout), or Infinity. */
  nextDeadline(): number {
    return Math.min(this.timers.nextDeadline(), this.timeouts.nextDeadline());
  }

  /**
   * Serves every deadline at or before `limit` in deadline order; a timer due at the same time
   * as a timeout goes first, so a wait never times out on an event that is due with it.
   * @internal
   */
  protected runDue(limit: number, catchUp: boolean, at: (d: number) => number): void {
    for (;;) {
      const td = this.timers.nextDeadline();
      const wd = this.timeouts.nextDeadline();
      if (td > limit && wd > limit) return;
      if (td <= wd) {
        this.timers.expireDue(Math.min(limit, wd), catchUp, at, rearmTimer, expireTimer);
      } else {
        const e = this.timeouts.popDue(limit)!;
        at(e.deadline);
        e.onTimeout();
      }
    }
  }
}
