/**
 * What a clock's timers are armed for, and what they are told when they expire: the timer
 * filter's knotes here, though the clock knows nothing of them. One handler serves every entry it
 * arms, so an entry costs the clock nothing: the buckets of entries due together are threaded
 * through the entries themselves, by a link the handler keeps in each entry.
 */
export interface TimerHandler<T> {
  /** True once the entry was cancelled: it is skipped (and forgotten) when reached. */
  cancelled(entry: T): boolean;
  /** The period `entry` re-arms with after expiring, or -1 when it does not re-arm (one-shot). */
  rearm(entry: T): number;
  /** `entry` expired `times` times (more than once when a virtual clock catches up). */
  expire(entry: T, times: number): void;
  /** The entry behind `entry` in its bucket (what `setNext` stored; null at the tail). */
  next(entry: T): T | null;
  /** Links `next` behind `entry`; a cancelled entry must keep its link until it is reached. */
  setNext(entry: T, next: T | null): void;
}

/**
 * Every entry due at one deadline, in arming order, linked through the entries by the handler:
 * the bucket costs its entries nothing but their link.
 */
class Bucket<T> {
  first: T | null = null;
  last: T | null = null;
  size = 0;
  heapIndex = -1;

  constructor(readonly deadline: number) {}
}

/**
 * A VirtualClock advance that would expire one periodic timer at least this many times credits
 * them in one expiry instead of walking them one by one.
 */
const CATCH_UP_MIN = 1024;

/** Slots of the cache that finds a bucket by its deadline without a hash lookup. */
const CACHE_SIZE = 4096;

/**
 * The timer entries of one handler on one clock, grouped by deadline: one bucket per distinct
 * deadline, holding its entries in arming order, and a binary heap of buckets keyed by deadline.
 * Deadlines are unique among buckets, so the order of expiry is exactly (deadline, arming order)
 * and a whole bucket expires with one heap operation. Arming appends to a bucket found through a
 * direct-mapped cache (a load and a compare) and only creates one, O(log B), for a deadline not
 * seen yet; on the real clock deadlines are whole milliseconds, so a bucket serves every timer due
 * in the same millisecond. Cancelled entries are skipped lazily and compacted when they outnumber
 * live ones.
 */
export class TimerQueues<T> {
  private readonly buckets = new Map<number, Bucket<T>>();
  private readonly cache: (Bucket<T> | undefined)[] = new Array<Bucket<T> | undefined>(CACHE_SIZE).fill(undefined);
  private readonly heap: Bucket<T>[] = [];
  /** Entries in all buckets, dead included, and how many of them are dead. */
  private entries = 0;
  private dead = 0;

  constructor(readonly handler: TimerHandler<T>) {}

  /** Arms `e` to expire at `deadline`, behind every entry armed earlier for the same deadline. */
  arm(e: T, deadline: number): void {
    const slot = deadline & (CACHE_SIZE - 1);
    let b = this.cache[slot];
    if (b === undefined || b.deadline !== deadline) {
      b = this.buckets.get(deadline);
      if (b === undefined) {
        b = new Bucket<T>(deadline);
        this.buckets.set(deadline, b);
        this.heapInsert(b);
      }
      this.cache[slot] = b;
    }
    const h = this.handler;
    h.setNext(e, null);
    if (b.size++ === 0) b.first = e;
    else h.setNext(b.last!, e);
    b.last = e;
    this.entries++;
  }

  /** Counts one entry as dead (its handler now says it is cancelled); it is skipped when reached. */
  cancel(): void {
    this.dead++;
    if (this.dead === this.entries) this.clear();
    else if (this.dead > 4096 && this.dead * 2 > this.entries) this.compact();
  }

  /** Forgets every entry: all were cancelled. */
  private clear(): void {
    // Only the slots of the buckets there were: a kqueue adding and deleting one timer lands here
    // on every delete, and must not pay for the whole cache.
    const cache = this.cache;
    for (const b of this.heap) {
      b.heapIndex = -1;
      const slot = b.deadline & (CACHE_SIZE - 1);
      if (cache[slot] === b) cache[slot] = undefined;
    }
    this.heap.length = 0;
    this.buckets.clear();
    this.entries = 0;
    this.dead = 0;
  }

  get live(): number {
    return this.entries - this.dead;
  }

  /** Earliest deadline, or Infinity (it may belong to cancelled entries only: see expireDue). */
  nextDeadline(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.deadline;
  }

  /**
   * Expires, in (deadline, arming) order, every entry due at or before `limit`. `at(d)` gives the
   * time a timer due at `d` fires at (and may move a virtual clock's now to it); with `catchUp` a
   * periodic timer is credited with every period that elapses up to `limit` in one expiry, as
   * firing it repeatedly would do, since nothing can run in between. Cancelled entries are
   * dropped as they are met.
   */
  expireDue(limit: number, catchUp: boolean, at: (d: number) => number): void {
    const { handler, heap } = this;
    while (heap.length !== 0) {
      const b = heap[0]!;
      const d = b.deadline;
      if (d > limit) return;
      // The whole bucket goes: what it re-arms lands in later buckets, since periods are >= 1.
      this.heapRemove(b);
      this.buckets.delete(d);
      const slot = d & (CACHE_SIZE - 1);
      if (this.cache[slot] === b) this.cache[slot] = undefined;
      this.entries -= b.size;
      const t = at(d);
      let e = b.first;
      while (e !== null) {
        const entry = e;
        e = handler.next(entry);
        if (handler.cancelled(entry)) {
          this.dead--;
          continue;
        }
        const p = handler.rearm(entry);
        let times = 1;
        if (p >= 0) {
          if (catchUp && limit - d >= p * CATCH_UP_MIN) {
            // Credited with every expiry up to `limit`, it re-arms as if armed at its last one.
            // Among timers due together, its later expiries then follow the order of this
            // catch-up rather than of their arming (docs/differences.md).
            times += Math.floor((limit - d) / p);
            this.arm(entry, d + times * p);
          } else {
            this.arm(entry, (catchUp ? d : t) + p);
          }
        }
        handler.expire(entry, times);
      }
    }
  }

  /** Unlinks every dead entry and drops the buckets left empty. */
  private compact(): void {
    const h = this.handler;
    for (const b of [...this.buckets.values()]) {
      let prev: T | null = null;
      let n = 0;
      let e = b.first;
      while (e !== null) {
        const next = h.next(e);
        if (h.cancelled(e)) {
          h.setNext(e, null);
        } else {
          if (prev === null) b.first = e;
          else h.setNext(prev, e);
          prev = e;
          n++;
        }
        e = next;
      }
      this.entries -= b.size - n;
      this.dead -= b.size - n;
      b.size = n;
      b.last = prev;
      if (prev === null) {
        b.first = null;
        this.heapRemove(b);
        this.buckets.delete(b.deadline);
        const slot = b.deadline & (CACHE_SIZE - 1);
        if (this.cache[slot] === b) this.cache[slot] = undefined;
      } else {
        h.setNext(prev, null);
      }
    }
  }

  // ---- heap of buckets, ordered by deadline (unique per bucket) -----------------------------

  private heapInsert(b: Bucket<T>): void {
    b.heapIndex = this.heap.length;
    this.heap.push(b);
    this.siftUp(b.heapIndex);
  }

  private heapRemove(b: Bucket<T>): void {
    const i = b.heapIndex;
    const last = this.heap.pop()!;
    b.heapIndex = -1;
    if (last !== b) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const b = h[i]!;
    const d = b.deadline;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.deadline <= d) break;
      h[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    h[i] = b;
    b.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const b = h[i]!;
    const d = b.deadline;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]!.deadline < h[c]!.deadline) c++;
      const child = h[c]!;
      if (child.deadline >= d) break;
      h[i] = child;
      child.heapIndex = i;
      i = c;
    }
    h[i] = b;
    b.heapIndex = i;
  }
}
