import type { Knote } from './knote.js';

/** How far past the end of the dense array a new small-integer ident may land and still go there. */
const DENSE_GAP = 1024;

/**
 * The knotes of one filter in one kqueue, keyed by ident with SameValueZero (the reference's
 * hash of non-descriptor knotes, and its per-file lists). Small non-negative integer idents, by
 * far the most common (descriptor numbers, pids, signal numbers, counters), live in a dense array:
 * a lookup is one indexed load and costs 8 bytes instead of a hash entry. Other idents, and
 * integers far past the dense range, live in a Map.
 */
export class IdentTable {
  private dense: (Knote | undefined)[] = [];
  private denseCount = 0;
  private map: Map<unknown, Knote> | null = null;

  get(ident: unknown): Knote | undefined {
    if (typeof ident === 'number' && ident >>> 0 === ident) {
      const kn = this.dense[ident];
      if (kn !== undefined || this.map === null) return kn;
    }
    return this.map === null ? undefined : this.map.get(ident);
  }

  /** Adds a knote whose ident has no entry yet. */
  add(ident: unknown, kn: Knote): void {
    if (typeof ident === 'number' && ident >>> 0 === ident && ident <= this.dense.length + DENSE_GAP) {
      this.dense[ident] = kn;
      this.denseCount++;
      return;
    }
    (this.map ??= new Map()).set(ident, kn);
  }

  delete(ident: unknown, kn: Knote): void {
    if (typeof ident === 'number' && ident >>> 0 === ident && this.dense[ident] === kn) {
      this.dense[ident] = undefined;
      // An emptied table gives its array back, so a burst of idents leaves nothing behind.
      if (--this.denseCount === 0) this.dense = [];
      return;
    }
    this.map?.delete(ident);
  }

  /** Every knote, as a snapshot (callers destroy knotes while walking it). */
  all(): Knote[] {
    const out: Knote[] = [];
    for (const kn of this.dense) if (kn !== undefined) out.push(kn);
    if (this.map !== null) for (const kn of this.map.values()) out.push(kn);
    return out;
  }
}
