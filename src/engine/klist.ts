import { KN_DELETING, KN_PROCESSING, KN_REPROCESS, type Knote } from './knote.js';

/**
 * The knotes interested in one event source (the reference's klist). A source calls `post()`
 * when something happened; each knote's filter decides whether that activates it.
 */
export class Klist {
  private readonly knotes = new Set<Knote>();

  get size(): number {
    return this.knotes.size;
  }

  insert(kn: Knote): void {
    this.knotes.add(kn);
  }

  remove(kn: Knote): void {
    this.knotes.delete(kn);
  }

  /** The reference's knote(): run every knote's filter with `hint` and activate those it accepts. */
  post(hint: number): void {
    for (const kn of this.knotes) {
      const kq = kn.kq;
      if (kq === null) continue;
      if (kn.status & KN_PROCESSING) {
        // Someone up the stack owns the knote. A bare re-check is left to its release; a hint
        // carries state the filter must record now (the reference sleeps until it can).
        if (hint === 0) kn.status |= KN_REPROCESS;
        else if (kn.fop.event(kn, hint)) kq.activate(kn);
        continue;
      }
      kn.status |= KN_PROCESSING;
      if ((kn.status & KN_DELETING) === 0 && kn.fop.event(kn, hint)) kq.activate(kn);
      kq.release(kn);
    }
  }

  /** Destroys every knote on the list, as closing a watched descriptor does (knote_fdclose). */
  dropAll(): void {
    for (const kn of this.knotes) {
      const kq = kn.kq;
      this.knotes.delete(kn);
      if (kq !== null) kq.detachAndDrop(kn);
    }
  }
}
