import * as constants from '../constants.js';
import { KqueueError } from '../errors.js';
import { type KEvent, makeEvent } from '../kevent.js';
import { tunables } from '../tunables.js';
import type { Clock } from '../clock/clock.js';
import type { ChangeBuffer } from './changes.js';
import type { Descriptor, FilterOps, FilterTable } from './filter-ops.js';
import { IdentTable } from './ident-table.js';
import { Klist } from './klist.js';
import * as knote from './knote.js';
import { type Knote, newKnote } from './knote.js';
import { PendingQueue } from './pending-queue.js';

// Module-local copies of the constants the hot paths test: optimised code folds a module's own
// consts into the instructions, but loads and hole-checks an imported binding at every use.
const {
  EBADF, EINVAL, ENOENT, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE,
  EV_ERROR, EV_ONESHOT, EV_RECEIPT, EVFILT_READ, EVFILT_SYSCOUNT,
} = constants;
const { EV_BITS, KN_ACTIVE, KN_DELETING, KN_DISABLED, KN_PROCESSING, KN_QUEUED, KN_REPROCESS } = knote;

/** A waiting kevent call, as the engine sees it: woken when something is queued. */
export interface Sleeper {
  /** Called synchronously from an enqueue: must only schedule the re-scan, never run it. */
  wakeup(): void;
}

/**
 * The kqueue engine: knotes, the pending queue, register, scan and the wake-up of sleepers. It
 * knows filters only through the FilterTable it is given and sources only through klists. It is
 * a descriptor itself: EVFILT_READ on a kqueue (the reference's filt_kqueue) lives here.
 */
export class KqueueEngine implements Descriptor {
  /** Knotes by filter slot (~filter), each table keyed by ident (SameValueZero). */
  readonly knotes: (IdentTable | undefined)[] = new Array(EVFILT_SYSCOUNT).fill(undefined);
  /** The pending queue: activated knotes in order (read by tests through `engineOf`). */
  readonly queue = new PendingQueue();
  /** The reference's kq_count: queued knotes (stale slots excluded). */
  count = 0;
  /** Knotes in other kqueues (or this one) watching this kqueue with EVFILT_READ. */
  readonly kqinfo = new Klist();
  /** Waits asleep on this kqueue, in arrival order. */
  readonly sleepers = new Set<Sleeper>();
  /** The reference's kq_sleep_cnt: 1 wakes one sleeper, more wake all. */
  sleepCnt = 0;
  isClosed = false;
  /**
   * The table's sysfilt_ops[], copied: the table is frozen, and an indexed load from a frozen
   * array goes through a generic IC where one from an ordinary array is a bounds check and a load.
   */
  private readonly sysfilt: FilterOps[];

  constructor(
    /** The clock behind this kqueue's timers and timeouts. */
    readonly clock: Clock,
    private readonly filters: FilterTable,
  ) {
    this.sysfilt = [...filters.sysfilt];
  }

  /** fo_kqfilter of a kqueue: READ is supported (filt_kqueue), every other filter is EOPNOTSUPP. */
  kqfilter(kn: Knote): number {
    if (kn.filter !== EVFILT_READ) return EOPNOTSUPP;
    kn.fop = kqueueReadFilterOps;
    this.kqinfo.insert(kn);
    return 0;
  }

  // ---- queue primitives -------------------------------------------------------------------

  /** KNOTE_ACTIVATE: mark active and queue it unless queued or disabled. */
  activate(kn: Knote): void {
    kn.flags |= KN_ACTIVE;
    if ((kn.flags & (KN_QUEUED | KN_DISABLED)) === 0) this.enqueue(kn);
  }

  /** Append at the tail, then wake sleepers and notify watching kqueues. */
  enqueue(kn: Knote): void {
    this.queue.push(kn);
    kn.flags |= KN_QUEUED;
    this.count++;
    if (this.sleepCnt !== 0) this.wakeSleepers();
    if (this.kqinfo.size !== 0) this.kqinfo.post(0);
  }

  /** Takes a queued knote out of turn: its slot is left behind, stale, for a scan to skip. */
  dequeue(kn: Knote): void {
    kn.flags &= ~KN_QUEUED;
    this.count--;
    this.queue.forget();
  }

  private wakeSleepers(): void {
    const n = this.sleepCnt;
    this.sleepCnt = 0;
    if (n === 1) {
      for (const s of this.sleepers) {
        this.sleepers.delete(s);
        s.wakeup();
        return;
      }
    } else {
      const all = [...this.sleepers];
      this.sleepers.clear();
      for (const s of all) s.wakeup();
    }
  }

  /** Puts a wait to sleep until the next enqueue (the caller checked nothing is pending). */
  sleep(s: Sleeper): void {
    this.sleepers.add(s);
    this.sleepCnt++;
  }

  /** A wait that ends without being woken (timeout, abort) leaves the sleepers. */
  unsleep(s: Sleeper): void {
    // The count is not decremented, as in the reference: over-counting only wakes more.
    this.sleepers.delete(s);
  }

  /**
   * knote_release: give up ownership, first running the re-checks requested while the
   * knote was owned. Kept tiny so that the common case (nothing requested) inlines into the hot
   * paths; the reference returns whether the knote went away, which no caller here needs.
   */
  release(kn: Knote): void {
    if (kn.flags & KN_REPROCESS) this.reprocess(kn);
    else kn.flags &= ~KN_PROCESSING;
  }

  private reprocess(kn: Knote): void {
    while (kn.flags & KN_REPROCESS) {
      kn.flags &= ~KN_REPROCESS;
      if (kn.flags & KN_DELETING) {
        this.detachAndDrop(kn);
        return;
      }
      if (kn.fop.event(kn, 0)) this.activate(kn);
    }
    kn.flags &= ~KN_PROCESSING;
  }

  /** Destroy: filter detach, then drop. */
  detachAndDrop(kn: Knote): void {
    if (kn.kq === null) return;
    kn.flags |= KN_DELETING | KN_REPROCESS;
    kn.fop.detach(kn);
    this.drop(kn);
  }

  /** Unlinks from the lookup table and the queue; the knote is dead afterwards. */
  drop(kn: Knote): void {
    if (kn.kq === null) return;
    this.knotes[~kn.filter]!.delete(kn.ident, kn);
    if (kn.flags & KN_QUEUED) {
      this.dequeue(kn);
      // Its stale slot holds the knote until a scan or a sweep passes: not the caller's values.
      kn.ident = undefined;
      kn.udata = undefined;
    }
    kn.kq = null;
    // The hook stays: it is the filter's, and a source that forgets its dead knotes lazily may
    // still read it (a timer's hook is its link in the clock's bucket until the clock reaches it).
    kn.fp = null;
  }

  // ---- registration -----------------------------------------------------------------------

  /**
   * Applies the changes in order (kqueue_register per change). Error and receipt entries are
   * returned (null when none was posted) while room remains in `nevents`; past that the call
   * fails with the change's errno and later changes are not applied.
   */
  applyChanges(ch: ChangeBuffer, nevents: number): KEvent[] | null {
    let posted: KEvent[] | null = null;
    const n = ch.length;
    for (let i = 0; i < n; i++) {
      const error = this.register(ch, i);
      if (error !== 0 || (ch.flags[i]! & EV_RECEIPT) !== 0) {
        if (posted === null) posted = [];
        if (posted.length >= nevents) {
          if (error !== 0) throw new KqueueError(error, 'no room in nevents to report a change\'s error');
          // A successful receipt with nowhere to go ends the call, as DragonFly's -1 without
          // errno does: later changes are not applied and what was posted is returned.
          return posted;
        }
        posted.push(makeEvent(ch.ident[i], ch.filter[i]!, EV_ERROR, ch.fflags[i]!, error, ch.udata[i]));
      }
    }
    return posted;
  }

  /** kqueue_register for change `i`; returns 0 or the errno to post. */
  register(ch: ChangeBuffer, i: number): number {
    const filter = ch.filter[i]!;
    if (filter >= 0 || filter < -EVFILT_SYSCOUNT) return EINVAL;
    const slot = ~filter;
    const fops = this.sysfilt[slot]!;
    const ident = ch.ident[i];
    let fp: Descriptor | null = null;
    if (fops.isFd) {
      fp = this.filters.getfp(ident) ?? null;
      if (fp === null) return EBADF;
    }
    const flags = ch.flags[i]!;
    let table = this.knotes[slot];
    let kn = table === undefined ? undefined : table.get(ident);

    if (kn === undefined) {
      if ((flags & EV_ADD) === 0) return ENOENT;
      kn = newKnote(this, filter, ident, flags, ch.udata[i], fops, fp);
      kn.sfflags = ch.fflags[i]!;
      kn.sdata = ch.data[i]!;
      // The change's fflags and data are zeroed on creation: a receipt shows 0 for both.
      ch.fflags[i] = 0;
      ch.data[i] = 0;
      kn.flags |= KN_PROCESSING;
      if (table === undefined) table = this.knotes[slot] = new IdentTable();
      table.add(ident, kn);
      // A descriptor filter's attach is the descriptor's kqfilter, which replaces kn.fop.
      const error = fops.attach(kn);
      if (error !== 0) {
        kn.flags |= KN_DELETING | KN_REPROCESS;
        this.drop(kn);
        return error;
      }
    } else if (flags & EV_DELETE && (flags & EV_ADD) === 0) {
      kn.flags |= KN_PROCESSING;
      this.detachAndDrop(kn);
      return 0;
    } else {
      kn.flags |= KN_PROCESSING;
      this.modify(kn, kn.fop, ch, i);
    }

    // Evaluate now, so a condition that already holds is reported (before EV_DISABLE applies).
    if ((kn.flags & KN_REPROCESS) === 0 && kn.kq !== null && kn.fop.event(kn, 0)) {
      this.activate(kn);
    }

    // Disabling does not dequeue: a queued knote stays counted until a scan discards it.
    if (flags & EV_DISABLE) kn.flags |= KN_DISABLED;
    if ((flags & EV_ENABLE) && (kn.flags & KN_DISABLED)) {
      kn.flags &= ~KN_DISABLED;
      if ((kn.flags & (KN_ACTIVE | KN_QUEUED)) === KN_ACTIVE) this.enqueue(kn);
    }
    this.release(kn);
    return 0;
  }

  /** A change to an existing knote (EV_ADD on it, or no EV_ADD/EV_DELETE). */
  private modify(kn: Knote, fop: FilterOps, ch: ChangeBuffer, i: number): void {
    if (fop.touch !== undefined) {
      ch.fflags[i] = fop.touch(kn, ch.flags[i]!, ch.fflags[i]!, ch.data[i]!);
    } else {
      // Only the inputs and udata change: flags, accumulated output and timers are untouched.
      kn.sfflags = ch.fflags[i]!;
      kn.sdata = ch.data[i]!;
      kn.udata = ch.udata[i];
    }
  }

  // ---- harvesting -------------------------------------------------------------------------

  /**
   * The collection loop of kern_kevent without its sleep: scans up to `nevents` events queued
   * before the call (the queue's tail stands in for the reference's marker). An empty result
   * means the caller would have to sleep (or stop, when polling).
   */
  collect(nevents: number): KEvent[] {
    if (this.count === 0) return [];
    // At most what is queued now can be taken: later activity lands behind the end.
    const out: KEvent[] = new Array(nevents < this.count ? nevents : this.count);
    const queue = this.queue;
    let end = queue.beginScan();
    let total = 0;
    let rounds = tunables.kq_checkloop;
    try {
      while (total < nevents) {
        if (this.count === 0) break;
        total = this.scan(end, total, nevents, out);
        if (total !== 0 || (rounds > 0 && --rounds === 0)) break;
        // Only stale or disabled entries were met: move the end to the tail and look again.
        end = queue.tail;
      }
    } finally {
      queue.endScan();
    }
    out.length = total;
    return out;
  }

  /** kqueue_scan: fill `out` from index `taken` up to `max` events from the head, stopping at position `end`. */
  private scan(end: number, taken: number, max: number, out: KEvent[]): number {
    const queue = this.queue;
    while (taken < max) {
      const kn = queue.shift(end);
      if (kn === undefined) break;
      if (kn === null) continue; // destroyed while queued
      kn.flags |= KN_PROCESSING;
      this.count--;
      // EV_ flags and status bits share `flags`; a filter's event() may set EV_ flags (EV_EOF).
      const flags = kn.flags;
      const fop = kn.fop;
      if (flags & KN_DISABLED) {
        // Left active: enabling it again queues it at once.
        kn.flags &= ~KN_QUEUED;
      } else if ((flags & (EV_ONESHOT | KN_DELETING)) === 0 && !fop.event(kn, 0)) {
        kn.flags &= ~(KN_QUEUED | KN_ACTIVE);
      } else {
        if (fop.deliver !== undefined) fop.deliver(kn);
        out[taken++] = makeEvent(kn.ident, kn.filter, kn.flags & EV_BITS, kn.fflags, kn.data, kn.udata);
        if (flags & EV_ONESHOT) {
          kn.flags = (kn.flags & ~KN_QUEUED) | KN_DELETING | KN_REPROCESS;
        } else if (flags & (EV_CLEAR | EV_DISPATCH)) {
          if (flags & EV_CLEAR) {
            kn.data = 0;
            kn.fflags = 0;
          }
          if (flags & EV_DISPATCH) kn.flags |= KN_DISABLED;
          kn.flags &= ~(KN_QUEUED | KN_ACTIVE);
        } else {
          // Level-triggered: back to the tail, behind this call's end, so one harvest never
          // returns it twice. Not an enqueue: no wake-up and no post to watchers.
          queue.push(kn);
          this.count++;
        }
      }
      this.release(kn);
    }
    return taken;
  }

  // ---- teardown ---------------------------------------------------------------------------

  /**
   * kqueue_terminate plus the close of its descriptor: destroys every knote (filters detach from
   * their sources) and every knote elsewhere that watches this kqueue.
   */
  terminate(): void {
    this.isClosed = true;
    for (let slot = 0; slot < this.knotes.length; slot++) {
      const table = this.knotes[slot];
      if (table === undefined) continue;
      for (const kn of table.all()) {
        kn.flags |= KN_PROCESSING;
        this.detachAndDrop(kn);
      }
      this.knotes[slot] = undefined;
    }
    this.kqinfo.dropAll();
    this.queue.clear();
    this.sleepers.clear();
    this.sleepCnt = 0;
  }
}

/**
 * filt_kqueue: EVFILT_READ on a kqueue is ready while the watched kqueue has queued events; `data`
 * is its pending count. The watched kqueue posts to these knotes on every enqueue (never on
 * dequeue: a watcher's event is weeded out by its own scan once the count has dropped to 0).
 */
const kqueueReadFilterOps: FilterOps = {
  isFd: true,
  attach(): number {
    return 0; // attached by the kqueue's kqfilter
  },
  detach(kn: Knote): void {
    (kn.fp as KqueueEngine).kqinfo.remove(kn);
  },
  event(kn: Knote): boolean {
    const n = (kn.fp as KqueueEngine).count;
    kn.data = n;
    return n > 0;
  },
};
