import { performance } from 'node:perf_hooks';
import { Clock } from './clock.js';

/** Longest delay a Node timer takes (2^31 - 1 ms); longer deadlines are reached in steps. */
const MAX_DELAY = 0x7fffffff;

/**
 * The monotonic clock (`performance.now()`), served by a single Node timer set for the earliest
 * deadline. That timer is unref'd unless a kevent wait is pending, so timer knotes alone never
 * keep the process alive but a waiting kevent does, as a setTimeout would.
 */
export class RealClock extends Clock {
  private host: NodeJS.Timeout | null = null;
  private hostDeadline = Infinity;
  private holds = 0;
  private readonly onHost = (): void => {
    this.host = null;
    this.hostDeadline = Infinity;
    const t = performance.now();
    this.runDue(t, false, () => t);
    this.schedule();
  };

  now(): number {
    return performance.now();
  }

  override hold(): void {
    if (this.holds++ === 0) this.host?.ref();
  }

  override unhold(): void {
    if (--this.holds === 0) this.host?.unref();
  }

  protected override deadlineAdded(deadline: number): void {
    // Arming a later deadline than the one the host timer serves needs no work.
    if (deadline < this.hostDeadline) this.schedule();
  }

  protected schedule(): void {
    const next = this.nextDeadline();
    if (next === this.hostDeadline) return;
    if (this.host !== null) clearTimeout(this.host);
    this.host = null;
    this.hostDeadline = Infinity;
    if (next === Infinity) return;
    const delay = Math.min(MAX_DELAY, Math.max(1, Math.ceil(next - performance.now())));
    this.host = setTimeout(this.onHost, delay);
    if (this.holds === 0) this.host.unref();
    this.hostDeadline = delay === MAX_DELAY ? Infinity : next;
  }
}

/** The clock kqueues use unless given one. */
export const realClock = new RealClock();
