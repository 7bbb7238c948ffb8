import * as knote from './knote.js';
import type { Knote } from './knote.js';

// Module-local copies: optimised code folds a module's own consts, not imported bindings.
const { KN_DELETING, KN_PROCESSING, KN_REPROCESS } = knote;

/**
 * The knotes interested in one event source (the reference's klist). A source calls `post()`
 * when something happened; each knote's filter decides whether that activates it. As in the
 * reference (knote_insert puts a knote at the head), a post visits the newest knote first; the
 * order is visible when knotes of one kqueue are activated by posts that cascade.
 */
export class Klist {
  /** Oldest first; walked backwards. */
  private readonly knotes: Knote[] = [];

  get size(): number {
    return this.knotes.length;
  }

  insert(kn: Knote): void {
    this.knotes.push(kn);
  }

  remove(kn: Knote): void {
    const i = this.knotes.lastIndexOf(kn);
    if (i >= 0) this.knotes.splice(i, 1);
  }

  /** The reference's knote(): run every knote's filter with `hint` and activate those it accepts. */
  post(hint: number): void {
    const list = this.knotes;
    if (list.length === 1) {
      postKnote(list[0]!, hint);
      return;
    }
    // A snapshot: filters and activations may add or remove knotes of this list meanwhile.
    const snapshot = list.slice();
    for (let i = snapshot.length - 1; i >= 0; i--) postKnote(snapshot[i]!, hint);
  }

  /** Destroys every knote on the list, as closing a watched descriptor does (knote_fdclose). */
  dropAll(): void {
    const snapshot = this.knotes.splice(0);
    for (let i = snapshot.length - 1; i >= 0; i--) {
      const kn = snapshot[i]!;
      kn.kq?.detachAndDrop(kn);
    }
  }
}

/**
 * The one activation routine every source uses, for one knote (the body of the reference's
 * knote() loop): run the filter with `hint` and activate the knote if it accepts. A knote owned
 * further up the stack (being registered or scanned) is not touched: a bare re-check is left to
 * its release, while a hint carries state the filter must record now (the reference sleeps until
 * it can).
 */
export function postKnote(kn: Knote, hint: number): void {
  const kq = kn.kq;
  if (kq === null) return;
  if (kn.flags & KN_PROCESSING) {
    if (hint === 0) kn.flags |= KN_REPROCESS;
    else if (kn.fop.event(kn, hint)) kq.activate(kn);
    return;
  }
  kn.flags |= KN_PROCESSING;
  if ((kn.flags & KN_DELETING) === 0 && kn.fop.event(kn, hint)) kq.activate(kn);
  kq.release(kn);
}
