/**
 * What a clock's timers are armed for, and what they are told when they expire: the timer
 * filter's knotes here, though the clock knows nothing of them. One handler serves every entry it
 * arms, so an entry costs the clock nothing but its deadline: the FIFOs are threaded through the
 * entries themselves, by a link the handler keeps in each entry.
 */
export interface TimerHandler<T> {
  /** True once the entry was cancelled: it is skipped (and forgotten) when reached. */
  cancelled(entry: T): boolean;
  /** The period `entry` re-arms with after expiring, or -1 when it does not re-arm (one-shot). */
  rearm(entry: T): number;
  /** `entry` expired `times` times (more than once when a virtual clock catches up). */
  expire(entry: T, times: number): void;
  /** The entry behind `entry` in its FIFO (what `setNext` stored; null at the tail). */
  next(entry: T): T | null;
  /** Links `next` behind `entry`; a cancelled entry must keep its link until it is reached. */
  setNext(entry: T, next: T | null): void;
}

/**
 * Deadlines of every timer entry of one handler on one clock, in the shape Node's own timers use: one FIFO per
 * period (a timer re-armed with period p always lands behind every earlier one with period p, so
 * each FIFO is sorted by construction) and a binary heap of FIFOs keyed by their first deadline.
 * Arming is O(1) (O(log P) when a FIFO becomes non-empty), expiring O(log P) for P distinct
 * periods. Cancelled entries are skipped lazily and compacted when they outnumber live ones.
 * A FIFO links its entries through the handler (no slot per entry) and keeps their deadlines in a
 * ring of doubles, in the same order.
 */
class PeriodQueue<T> {
  first: T | null = null;
  last: T | null = null;
  deadlines: Float64Array;
  head = 0;
  size = 0;
  heapIndex = -1;
  /** Deadline of the first entry, kept here so heap comparisons touch only the queues. */
  front = Infinity;

  constructor(readonly period: number, private readonly handler: TimerHandler<T>) {
    this.deadlines = new Float64Array(8);
  }

  push(e: T, deadline: number): void {
    let cap = this.deadlines.length;
    if (this.size === cap) {
      this.grow();
      cap *= 2;
    }
    this.deadlines[(this.head + this.size) & (cap - 1)] = deadline;
    this.handler.setNext(e, null);
    if (this.size++ === 0) {
      this.first = e;
      this.front = deadline;
    } else {
      this.handler.setNext(this.last!, e);
    }
    this.last = e;
  }

  shift(): T {
    const e = this.first!;
    const next = this.handler.next(e);
    this.handler.setNext(e, null);
    this.first = next;
    if (next === null) this.last = null;
    this.head = (this.head + 1) & (this.deadlines.length - 1);
    this.front = --this.size === 0 ? Infinity : this.deadlines[this.head]!;
    return e;
  }

  /** Doubles the ring of deadlines (the entries' links are untouched). */
  private grow(): void {
    const old = this.deadlines;
    const cap = old.length;
    const deadlines = new Float64Array(cap * 2);
    deadlines.set(old.subarray(this.head));
    deadlines.set(old.subarray(0, this.head), cap - this.head);
    this.deadlines = deadlines;
    this.head = 0;
  }

  /** Moves the deadlines into a ring of `cap` slots, unlinking the entries `dead` says are; returns how many were dropped. */
  regrow(cap: number, dead: ((e: T) => boolean) | null): number {
    const h = this.handler;
    const deadlines = new Float64Array(cap);
    const mask = this.deadlines.length - 1;
    let n = 0;
    let prev: T | null = null;
    let e = this.first;
    for (let k = 0; k < this.size; k++) {
      const next = h.next(e!);
      if (dead !== null && dead(e!)) {
        h.setNext(e!, null);
      } else {
        if (prev === null) this.first = e;
        else h.setNext(prev, e);
        prev = e;
        deadlines[n++] = this.deadlines[(this.head + k) & mask]!;
      }
      e = next;
    }
    if (prev === null) this.first = null;
    else h.setNext(prev, null);
    this.last = prev;
    const dropped = this.size - n;
    this.deadlines = deadlines;
    this.head = 0;
    this.size = n;
    this.front = n === 0 ? Infinity : deadlines[0]!;
    return dropped;
  }
}

/**
 * A VirtualClock advance that would expire one periodic timer at least this many times credits
 * them in one expiry instead of walking them one by one.
 */
const CATCH_UP_MIN = 1024;

/** Integer periods below this (ms) find their FIFO by index. */
const SMALL_PERIODS = 4096;

export class TimerQueues<T> {
  private readonly byPeriod = new Map<number, PeriodQueue<T>>();
  /** The same queues for small integer periods, indexed by period: a load instead of a hash lookup. */
  private readonly small: (PeriodQueue<T> | undefined)[] = [];
  private readonly heap: PeriodQueue<T>[] = [];
  /** Timers re-armed by a catch-up (VirtualClock only), in a heap of their own. */
  private readonly late: LateEntry<T>[] = [];
  private readonly isDead: (e: T) => boolean;
  /** Entries in all FIFOs, dead included, and how many of them are dead. */
  private entries = 0;
  private dead = 0;

  constructor(readonly handler: TimerHandler<T>) {
    this.isDead = (e) => handler.cancelled(e);
  }

  /** Arms `e` to expire at `deadline`; `period` names its FIFO and must be the gap from now. */
  arm(e: T, period: number, deadline: number): void {
    const isSmall = period < SMALL_PERIODS && (period | 0) === period;
    let q = isSmall ? this.small[period] : this.byPeriod.get(period);
    if (q === undefined) {
      q = this.byPeriod.get(period);
      if (q === undefined) {
        if (this.byPeriod.size >= 4096) this.forgetEmpty();
        q = new PeriodQueue(period, this.handler);
        this.byPeriod.set(period, q);
      }
      if (isSmall) this.small[period] = q;
    }
    q.push(e, deadline);
    this.entries++;
    if (q.heapIndex < 0) this.heapInsert(q);
    else if (q.size === 1) this.siftUp(q.heapIndex);
  }

  /** Counts one entry as dead (its handler now says it is cancelled); it is skipped when reached. */
  cancel(): void {
    this.dead++;
    if (this.dead === this.entries) this.clear();
    else if (this.dead > 4096 && this.dead * 2 > this.entries) this.compact();
  }

  /** Forgets every entry: all were cancelled. */
  private clear(): void {
    for (const q of this.heap) q.heapIndex = -1;
    this.heap.length = 0;
    this.late.length = 0;
    this.byPeriod.clear();
    this.small.length = 0;
    this.entries = 0;
    this.dead = 0;
  }

  get live(): number {
    return this.entries - this.dead;
  }

  /** Earliest deadline, or Infinity (it may belong to a cancelled entry: see expireDue). */
  nextDeadline(): number {
    const a = this.heap.length === 0 ? Infinity : this.heap[0]!.front;
    const b = this.late.length === 0 ? Infinity : this.late[0]!.deadline;
    return a < b ? a : b;
  }

  /**
   * Expires, in deadline order, every entry due at or before `limit`. `at(d)` gives the time a
   * timer due at `d` fires at (and may move a virtual clock's now to it); with `catchUp` a
   * periodic timer is credited with every period that elapses up to `limit` in one expiry, as
   * firing it repeatedly would do, since nothing can run in between. Cancelled entries are
   * dropped as they are met.
   */
  expireDue(limit: number, catchUp: boolean, at: (d: number) => number): void {
    const { handler, heap } = this;
    const late = this.late;
    for (;;) {
      const q = heap.length === 0 ? null : heap[0]!;
      const l = late.length === 0 ? null : late[0]!;
      let d: number;
      let entry: T;
      if (q !== null && (l === null || q.front < l.deadline || (q.front === l.deadline && q.period >= l.period))) {
        d = q.front;
        if (d > limit) return;
        entry = q.shift();
        if (q.size === 0) this.heapRemove(q);
        else this.siftDown(0);
      } else if (l !== null) {
        d = l.deadline;
        if (d > limit) return;
        entry = l.entry;
        this.latePop();
      } else {
        return;
      }
      this.entries--;
      if (handler.cancelled(entry)) {
        this.dead--;
        continue;
      }
      const t = at(d);
      const p = handler.rearm(entry);
      let times = 1;
      if (p >= 0) {
        if (catchUp && limit - d >= p * CATCH_UP_MIN) {
          // Credited with every expiry up to `limit`, it re-arms as if armed at its last one,
          // which is later than now: a FIFO of its period could then be out of order, so it
          // waits in the heap of late entries instead. Only for long runs of expiries: among
          // timers due at the same millisecond with the same period, the order then follows
          // arming order only approximately (docs/differences.md).
          times += Math.floor((limit - d) / p);
          this.lateInsert({ entry, deadline: d + times * p, period: p });
          this.entries++;
        } else {
          this.arm(entry, p, catchUp ? d + p : t + p);
        }
      }
      handler.expire(entry, times);
    }
  }

  private compact(): void {
    const live = this.late.filter((e) => !this.isDead(e.entry));
    this.entries -= this.late.length - live.length;
    this.dead -= this.late.length - live.length;
    this.late.length = 0;
    for (const e of live) this.lateInsert(e);
    for (const q of this.byPeriod.values()) {
      if (q.size === 0) continue;
      const dropped = q.regrow(Math.max(8, pow2(q.size)), this.isDead);
      this.entries -= dropped;
      this.dead -= dropped;
      if (q.size === 0) this.heapRemove(q);
    }
    this.rebuildHeap();
  }

  private forgetEmpty(): void {
    for (const [p, q] of this.byPeriod) {
      if (q.size !== 0) continue;
      this.byPeriod.delete(p);
      if (this.small[p] === q) this.small[p] = undefined;
    }
  }

  // ---- heap of FIFOs ordered by (first deadline, larger period first) -----------------------
  // For equal deadlines the FIFO with the larger period was armed earlier, so ties expire in
  // arming order.

  private less(a: PeriodQueue<T>, b: PeriodQueue<T>): boolean {
    const da = a.front;
    const db = b.front;
    return da < db || (da === db && a.period > b.period);
  }

  private heapInsert(q: PeriodQueue<T>): void {
    q.heapIndex = this.heap.length;
    this.heap.push(q);
    this.siftUp(q.heapIndex);
  }

  private heapRemove(q: PeriodQueue<T>): void {
    const i = q.heapIndex;
    const last = this.heap.pop()!;
    q.heapIndex = -1;
    if (last !== q) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
  }

  private rebuildHeap(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private lateInsert(e: LateEntry<T>): void {
    const h = this.late;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!lateLess(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private latePop(): void {
    const h = this.late;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && lateLess(h[c + 1]!, h[c]!)) c++;
      if (!lateLess(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const q = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(q, h[p]!)) break;
      h[i] = h[p]!;
      h[i]!.heapIndex = i;
      i = p;
    }
    h[i] = q;
    q.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const q = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.less(h[c + 1]!, h[c]!)) c++;
      if (!this.less(h[c]!, q)) break;
      h[i] = h[c]!;
      h[i]!.heapIndex = i;
      i = c;
    }
    h[i] = q;
    q.heapIndex = i;
  }
}

interface LateEntry<T> {
  entry: T;
  deadline: number;
  period: number;
}

/** Heap order of late entries: the same as the FIFOs' (deadline, larger period first). */
function lateLess<T>(a: LateEntry<T>, b: LateEntry<T>): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.period > b.period);
}

function pow2(n: number): number {
  let c = 8;
  while (c < n) c *= 2;
  return c;
}
