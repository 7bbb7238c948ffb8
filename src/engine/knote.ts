import type { KqueueEngine } from './kqueue.js';

// Knote status bits, named and numbered as the reference's kn_status.
/** The condition was seen true and not yet consumed. */
export const KN_ACTIVE = 0x01;
/** On the pending queue (or being examined by a scan). */
export const KN_QUEUED = 0x02;
/** Disabled by EV_DISABLE or EV_DISPATCH. */
export const KN_DISABLED = 0x04;
/** The source vanished (a process exited): detach must not touch it again. */
export const KN_DETACHED = 0x08;
/** Something happened while the knote was being processed: re-run the filter on release. */
export const KN_REPROCESS = 0x10;
/** Destruction requested; performed on release. */
export const KN_DELETING = 0x20;
/** Owned by one operation (register, scan, post); re-entrant posts only mark REPROCESS. */
export const KN_PROCESSING = 0x40;

/**
 * One registration: (kqueue, filter, ident). The public fields form the event image handed out by
 * a scan; `sfflags`/`sdata` are what the user supplied (the filter's inputs); `hook` is the
 * filter's own attachment (the descriptor for descriptor filters, a trigger bit, timer state).
 * Its filter ops are not stored: they follow from `filter` and, for descriptor filters, from the
 * descriptor (see fopOf), which keeps every knote 8 bytes smaller.
 */
export class Knote {
  /** Owning kqueue; null once the knote is dropped. */
  kq: KqueueEngine | null;
  filter: number;
  ident: unknown;
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
  sfflags: number;
  sdata: number | bigint;
  status: number;
  hook: unknown;
  /** Pending-queue links (a circular list through the kqueue's sentinel). */
  next: Knote | null;
  prev: Knote | null;

  constructor(kq: KqueueEngine | null, filter: number, ident: unknown, flags: number, udata: unknown) {
    this.kq = kq;
    this.filter = filter;
    this.ident = ident;
    this.flags = flags;
    this.fflags = 0;
    this.data = 0;
    this.udata = udata;
    this.sfflags = 0;
    this.sdata = 0;
    this.status = 0;
    this.hook = undefined;
    this.next = null;
    this.prev = null;
  }
}
