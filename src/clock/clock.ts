import { type TimerHandler, TimerQueues } from './timer-queues.js';
import { type TimeoutEntry, TimeoutHeap } from './timeout-heap.js';

/**
 * A source of time for EVFILT_TIMER and kevent timeouts, in milliseconds. Each clock drives all
 * of its deadlines from one place (one host timer for the real clock): timers in a `TimerQueues`,
 * waits in a `TimeoutHeap`. It knows nothing of knotes: a timer is any entry, armed with the
 * handler that is told when it expires.
 */
export abstract class Clock {
  /** Only a constructed clock has this; a prototype-made look-alike does not. */
  readonly #brand = true;

  /** @internal true for an object made by a Clock constructor. */
  static isClock(value: unknown): value is Clock {
    return typeof value === 'object' && value !== null && #brand in value;
  }

  /** @internal the timers, created on the first arm with the handler of every entry. */
  private timers: TimerQueues<unknown> | null = null;
  /** @internal */
  private readonly timeouts = new TimeoutHeap();

  /** Current time in milliseconds (monotonic). */
  abstract now(): number;

  /** @internal make sure the earliest deadline will be served. */
  protected abstract schedule(): void;

  /**
   * @internal arms `entry` to expire `period` ms from now; `handler` is told when it does. A clock
   * serves one handler (the timer filter's), so that an entry costs it nothing but its link.
   */
  armTimer<T>(entry: T, period: number, handler: TimerHandler<T>): void {
    const deadline = this.timerBase() + period;
    this.timersOf(handler).arm(entry, deadline);
    this.deadlineAdded(deadline);
  }

  /** @internal the time a timer armed now counts its period from: now(), unless a clock rounds it. */
  protected timerBase(): number {
    return this.now();
  }

  /** @internal one entry of `handler`'s now answers cancelled(): it is dropped when reached. */
  cancelTimer<T>(handler: TimerHandler<T>): void {
    const q = this.timersOf(handler);
    q.cancel();
    if (q.live === 0) this.idle();
  }

  /** @internal live timer entries, for leak checks. */
  get liveTimers(): number {
    return this.timers === null ? 0 : this.timers.live;
  }

  private timersOf<T>(handler: TimerHandler<T>): TimerQueues<T> {
    const q = (this.timers ??= new TimerQueues(handler as TimerHandler<unknown>)) as TimerQueues<T>;
    if (q.handler !== handler) throw new Error('a Clock serves the timers of one handler');
    return q;
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
    const q = this.timers;
    return Math.min(q === null ? Infinity : q.nextDeadline(), this.timeouts.nextDeadline());
  }

  /**
   * Serves every deadline at or before `limit` in deadline order; a timer due at the same time
   * as a timeout goes first, so a wait never times out on an event that is due with it.
   * @internal
   */
  protected runDue(limit: number, catchUp: boolean, at: (d: number) => number): void {
    for (;;) {
      const q = this.timers;
      const td = q === null ? Infinity : q.nextDeadline();
      const wd = this.timeouts.nextDeadline();
      if (td > limit && wd > limit) return;
      if (td <= wd) {
        q!.expireDue(Math.min(limit, wd), catchUp, at);
      } else {
        const e = this.timeouts.popDue(limit)!;
        at(e.deadline);
        e.onTimeout();
      }
    }
  }
}
