import type { Knote } from '../engine/knote.js';

/**
 * Deadlines of every timer knote on one clock, in the shape Node's own timers use: one FIFO per
 * period (a timer re-armed with period p always lands behind every earlier one with period p, so
 * each FIFO is sorted by construction) and a binary heap of FIFOs keyed by their first deadline.
 * Arming is O(1) (O(log P) when a FIFO becomes non-empty), expiring O(log P) for P distinct
 * periods. Cancelled entries are skipped lazily and compacted when they outnumber live ones.
 */
class PeriodQueue {
  knotes: (Knote | null)[];
  deadlines: Float64Array;
  head = 0;
  size = 0;
  heapIndex = -1;

  constructor(readonly period: number) {
    this.knotes = new Array(8).fill(null);
    this.deadlines = new Float64Array(8);
  }

  push(kn: Knote, deadline: number): void {
    let cap = this.knotes.length;
    if (this.size === cap) {
      this.regrow(cap * 2, false);
      cap *= 2;
    }
    const i = (this.head + this.size) & (cap - 1);
    this.knotes[i] = kn;
    this.deadlines[i] = deadline;
    this.size++;
  }

  frontDeadline(): number {
    return this.deadlines[this.head]!;
  }

  shift(): Knote {
    const i = this.head;
    const kn = this.knotes[i]!;
    this.knotes[i] = null;
    this.head = (i + 1) & (this.knotes.length - 1);
    this.size--;
    return kn;
  }

  /** Copies the entries into a ring of `cap` slots, dropping dead ones when `compact`; returns how many were dropped. */
  regrow(cap: number, compact: boolean): number {
    const knotes: (Knote | null)[] = new Array(cap).fill(null);
    const deadlines = new Float64Array(cap);
    const mask = this.knotes.length - 1;
    let n = 0;
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & mask;
      const kn = this.knotes[i]!;
      if (compact && kn.kq === null) continue;
      knotes[n] = kn;
      deadlines[n] = this.deadlines[i]!;
      n++;
    }
    const dropped = this.size - n;
    this.knotes = knotes;
    this.deadlines = deadlines;
    this.head = 0;
    this.size = n;
    return dropped;
  }
}

/** The timer filter's expiry: count `times` expirations on `kn`. */
export type ExpireFn = (kn: Knote, times: number) => void;
/** The period `kn` re-arms with after expiring, or -1 when it does not re-arm (EV_ONESHOT). */
export type RearmFn = (kn: Knote) => number;

export class TimerQueues {
  private readonly byPeriod = new Map<number, PeriodQueue>();
  private readonly heap: PeriodQueue[] = [];
  /** Entries in all FIFOs, dead included, and how many of them are dead. */
  private entries = 0;
  private dead = 0;

  /** Arms `kn` to expire at `deadline`; `period` names its FIFO and must be the gap from now. */
  arm(kn: Knote, period: number, deadline: number): void {
    let q = this.byPeriod.get(period);
    if (q === undefined) {
      if (this.byPeriod.size >= 4096) this.forgetEmpty();
      q = new PeriodQueue(period);
      this.byPeriod.set(period, q);
    }
    q.push(kn, deadline);
    this.entries++;
    if (q.heapIndex < 0) this.heapInsert(q);
    else if (q.size === 1) this.siftUp(q.heapIndex);
  }

  /** Marks the (dropped) knote's entry dead; it is skipped when reached. */
  cancel(): void {
    this.dead++;
    if (this.dead > 4096 && this.dead * 2 > this.entries) this.compact();
  }

  get live(): number {
    return this.entries - this.dead;
  }

  /** Earliest live deadline, or Infinity. */
  nextDeadline(): number {
    while (this.heap.length !== 0) {
      const q = this.heap[0]!;
      if (q.knotes[q.head]!.kq !== null) return q.frontDeadline();
      q.shift();
      this.entries--;
      this.dead--;
      this.settleTop(q);
    }
    return Infinity;
  }

  /**
   * Expires, in deadline order, every entry due at or before `limit`. `at(d)` gives the time a
   * timer due at `d` fires at (and may move a virtual clock's now to it); with `catchUp` a
   * periodic timer is credited with every period that elapses up to `limit` in one expiry, as
   * firing it repeatedly would do, since nothing can run in between.
   */
  expireDue(limit: number, catchUp: boolean, at: (d: number) => number, rearm: RearmFn, expire: ExpireFn): void {
    for (;;) {
      const d = this.nextDeadline();
      if (d > limit) return;
      const q = this.heap[0]!;
      const kn = q.shift();
      this.entries--;
      this.settleTop(q);
      const t = at(d);
      const p = rearm(kn);
      let times = 1;
      if (p >= 0) {
        if (catchUp && p > 0 && limit - d >= p) times += Math.floor((limit - d) / p);
        this.arm(kn, p, catchUp ? d + times * p : t + p);
      }
      expire(kn, times);
    }
  }

  private compact(): void {
    for (const q of this.byPeriod.values()) {
      if (q.size === 0) continue;
      const dropped = q.regrow(Math.max(8, pow2(q.size)), true);
      this.entries -= dropped;
      this.dead -= dropped;
      if (q.size === 0) this.heapRemove(q);
    }
    this.rebuildHeap();
  }

  private forgetEmpty(): void {
    for (const [p, q] of this.byPeriod) if (q.size === 0) this.byPeriod.delete(p);
  }

  // ---- heap of FIFOs ordered by (first deadline, larger period first) -----------------------
  // For equal deadlines the FIFO with the larger period was armed earlier, so ties expire in
  // arming order.

  private less(a: PeriodQueue, b: PeriodQueue): boolean {
    const da = a.frontDeadline();
    const db = b.frontDeadline();
    return da < db || (da === db && a.period > b.period);
  }

  private settleTop(q: PeriodQueue): void {
    if (q.size === 0) this.heapRemove(q);
    else this.siftDown(q.heapIndex);
  }

  private heapInsert(q: PeriodQueue): void {
    q.heapIndex = this.heap.length;
    this.heap.push(q);
    this.siftUp(q.heapIndex);
  }

  private heapRemove(q: PeriodQueue): void {
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

function pow2(n: number): number {
  let c = 8;
  while (c < n) c *= 2;
  return c;
}
