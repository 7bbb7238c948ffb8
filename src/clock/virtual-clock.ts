import { EINVAL } from '../constants.js';
import { KqueueError } from '../errors.js';
import { Clock } from './clock.js';

/**
 * A clock that moves only when told to, for exact tests of timers and timeouts. Advancing walks
 * deadline by deadline, synchronously: each timer expires with now() equal to its deadline, in
 * deadline order, and a periodic timer keeps expiring while it is still due. Waits settled by an
 * advance settle in the same turn (their promises resolve before the next macrotask). Time stays
 * within [0, 2^53 - 1] ms, where every millisecond is exact (and so is every expiration count).
 */
export class VirtualClock extends Clock {
  private current: number;
  private readonly moveTo = (d: number): number => {
    if (d > this.current) this.current = d;
    return this.current;
  };

  constructor(startMs = 0) {
    super();
    if (typeof startMs !== 'number' || !(startMs >= 0 && startMs <= Number.MAX_SAFE_INTEGER)) {
      throw new KqueueError(EINVAL, 'VirtualClock start must be a number of milliseconds in [0, 2^53 - 1]');
    }
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Moves time forward by `ms` (>= 0), expiring everything that falls due. */
  advance(ms: number): void {
    if (typeof ms !== 'number' || !(ms >= 0) || !(this.current + ms <= Number.MAX_SAFE_INTEGER)) {
      throw new KqueueError(EINVAL, 'advance() takes a non-negative number of milliseconds, up to a time of 2^53 - 1');
    }
    this.advanceTo(this.current + ms);
  }

  /** Moves time forward to `ms` (not before now()), expiring everything that falls due. */
  advanceTo(ms: number): void {
    if (typeof ms !== 'number' || !(ms >= this.current) || !(ms <= Number.MAX_SAFE_INTEGER)) {
      throw new KqueueError(EINVAL, 'advanceTo() takes a time not before now() and at most 2^53 - 1');
    }
    this.runDue(ms, true, this.moveTo);
    this.current = ms;
  }

  protected schedule(): void {
    // Nothing to arrange: deadlines are served by advance().
  }
}
