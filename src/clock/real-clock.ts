import { Clock } from './clock.js';

/** Longest delay a Node timer takes (2^31 - 1 ms); longer deadlines are reached in steps. */
const MAX_DELAY = 0x7fffffff;

/**
 * The monotonic clock (`performance.now()`), served by a single Node timer set for the earliest
 * deadline. That timer never keeps the process alive by itself: timer knotes alone do not, while
 * a pending kevent wait does (see wait.ts), as a pending setTimeout would.
 *
 * Timers count their period from the next whole millisecond (the reference counts in ticks):
 * Node's timers cannot serve a finer deadline anyway, every timer due in one millisecond then
 * shares one bucket of the clock's queues, and a timer never expires early.
 */
export class RealClock extends Clock {
  private host: NodeJS.Timeout | null = null;
  private hostDeadline = Infinity;
  private readonly onHost = (): void => {
    this.host = null;
    this.hostDeadline = Infinity;
    const t = performance.now();
    // A periodic timer re-arms from the whole millisecond its expiry was seen in.
    const tick = Math.ceil(t);
    this.runDue(t, false, () => tick);
    this.schedule();
  };

  now(): number {
    return performance.now();
  }

  protected override timerBase(): number {
    return Math.ceil(performance.now());
  }

  protected override deadlineAdded(deadline: number): void {
    // Arming a later deadline than the one the host timer serves needs no work.
    if (deadline < this.hostDeadline) this.schedule();
  }

  protected override idle(): void {
    // Nothing left to serve: drop the host timer now rather than when it fires, so a closed
    // kqueue leaves no handle behind.
    if (this.host !== null && this.nextDeadline() === Infinity) {
      clearTimeout(this.host);
      this.host = null;
      this.hostDeadline = Infinity;
    }
  }

  protected schedule(): void {
    const next = this.nextDeadline();
    if (next === this.hostDeadline) return;
    if (this.host !== null) clearTimeout(this.host);
    this.host = null;
    this.hostDeadline = Infinity;
    if (next === Infinity) return;
    const delay = Math.min(MAX_DELAY, Math.max(1, Math.ceil(next - performance.now())));
    this.host = setTimeout(this.onHost, delay).unref();
    this.hostDeadline = delay === MAX_DELAY ? Infinity : next;
  }
}

/** The clock kqueues use unless given one. */
export const realClock = new RealClock();
