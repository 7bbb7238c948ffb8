import * as knote from './knote.js';
import type { Knote } from './knote.js';

// Module-local copy: optimised code folds a module's own consts, not imported bindings.
const { KN_QUEUED } = knote;

/** A new kqueue's ring. */
const MIN_CAPACITY = 16;
/** The largest ring a drained queue keeps: a burst past it gives its memory back once taken. */
const RETAINED = 4096;
/** Stale slots tolerated before a sweep, whatever the number of live ones. */
const STALE_SLACK = 64;

/**
 * The pending queue (the reference's kq_knpend): knotes in activation order, in a ring of
 * references rather than links through the knotes, so a knote spends nothing on a queue it is
 * not on. Slots carry positions that only grow (int32 arithmetic, wrapping), which stand in for
 * the reference's on-stack markers: a scan stops at the position that was the tail when it began,
 * however other scans (re-entered from a filter) moved the head meanwhile.
 *
 * Removal from the middle (a queued knote destroyed) is lazy: its slot stays, counted as stale,
 * and is skipped when reached. Stale slots are swept once they outnumber the live ones, but only
 * while no scan is under way: a sweep moves slots, and an end a scan holds must keep splitting
 * the queue where it did.
 */
export class PendingQueue {
  private slots: (Knote | undefined)[] = new Array<Knote | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  /** Position of the oldest slot. */
  head = 0;
  /** Position one past the newest slot. */
  tail = 0;
  /** Slots whose knote left the queue before being reached. */
  private stale = 0;
  /** Scans under way (a filter may re-enter one). */
  private scans = 0;

  /** Slots the ring has room for (for tests: what the queue holds on to). */
  get capacity(): number {
    return this.slots.length;
  }

  /** Slots in use, stale included. */
  get slotCount(): number {
    return (this.tail - this.head) | 0;
  }

  push(kn: Knote): void {
    const tail = this.tail;
    if (((tail - this.head) | 0) > this.mask) this.resize(this.slots.length * 2);
    this.slots[tail & this.mask] = kn;
    this.tail = (tail + 1) | 0;
  }

  /**
   * Takes the oldest slot if it lies before `end` (a position this queue handed out): its knote,
   * or null when the slot was stale; undefined once `end` is reached.
   */
  shift(end: number): Knote | null | undefined {
    const head = this.head;
    if (((end - head) | 0) <= 0) return undefined;
    const slots = this.slots;
    const i = head & this.mask;
    const kn = slots[i]!;
    slots[i] = undefined;
    this.head = (head + 1) | 0;
    if ((kn.flags & KN_QUEUED) === 0) {
      this.stale--;
      return null;
    }
    return kn;
  }

  /** A scan begins: returns its end, the tail now. Every beginScan() needs its endScan(). */
  beginScan(): number {
    this.scans++;
    return this.tail;
  }

  /** A scan ended: the last one out sweeps, or gives back the ring of a burst it drained. */
  endScan(): void {
    if (--this.scans !== 0) return;
    if (this.tooStale()) this.sweep();
    else if (this.head === this.tail && this.slots.length > RETAINED) this.resize(RETAINED);
  }

  /**
   * Forgets every slot (the kqueue closed: every knote was dequeued). Positions stay, so that a
   * scan under way (re-entered into close) finds its end already passed.
   */
  clear(): void {
    const { slots, mask } = this;
    for (let p = this.head; p !== this.tail; p = (p + 1) | 0) slots[p & mask] = undefined;
    this.head = this.tail;
    this.stale = 0;
    if (this.scans === 0 && slots.length > MIN_CAPACITY) this.resize(MIN_CAPACITY);
  }

  /** A knote's slot went stale: it was dequeued out of turn, its KN_QUEUED bit cleared. */
  forget(): void {
    this.stale++;
    if (this.scans === 0 && this.tooStale()) this.sweep();
  }

  private tooStale(): boolean {
    return this.stale > STALE_SLACK && this.stale * 2 > ((this.tail - this.head) | 0);
  }

  /** Drops the stale slots, keeping the live ones in order (no scan is under way). */
  private sweep(): void {
    const { slots, mask } = this;
    let w = this.tail;
    for (let p = (this.tail - 1) | 0; ((p - this.head) | 0) >= 0; p = (p - 1) | 0) {
      const kn = slots[p & mask]!;
      slots[p & mask] = undefined;
      if ((kn.flags & KN_QUEUED) === 0) continue;
      w = (w - 1) | 0;
      slots[w & mask] = kn;
    }
    this.head = w;
    this.stale = 0;
    const n = (this.tail - w) | 0;
    if (n * 4 < slots.length && slots.length > RETAINED) this.resize(pow2(n * 2));
  }

  /** Moves the slots into a ring of `cap` (a power of two holding them all); positions stay. */
  private resize(cap: number): void {
    const old = this.slots;
    const oldMask = this.mask;
    const slots = new Array<Knote | undefined>(cap).fill(undefined);
    const mask = cap - 1;
    for (let p = this.head; p !== this.tail; p = (p + 1) | 0) slots[p & mask] = old[p & oldMask];
    this.slots = slots;
    this.mask = mask;
  }
}

/** The smallest ring of at least RETAINED slots that holds `n`. */
function pow2(n: number): number {
  let c = RETAINED;
  while (c < n) c *= 2;
  return c;
}
