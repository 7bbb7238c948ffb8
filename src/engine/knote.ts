import type { Descriptor, FilterOps } from './filter-ops.js';
import type { KqueueEngine } from './kqueue.js';

// Knote status bits, named as the reference's kn_status and in the same order, kept in `flags`
// above the 16 bits of EV_ flags (a field less in every knote): an event shows `flags & EV_BITS`.
/** The EV_ flags of a knote's `flags`, what its events show. */
export const EV_BITS = 0xffff;
/** The condition was seen true and not yet consumed. */
export const KN_ACTIVE = 0x01 << 16;
/** On the pending queue (or being examined by a scan). */
export const KN_QUEUED = 0x02 << 16;
/** Disabled by EV_DISABLE or EV_DISPATCH. */
export const KN_DISABLED = 0x04 << 16;
/** The source vanished (a process exited): detach must not touch it again. */
export const KN_DETACHED = 0x08 << 16;
/** Something happened while the knote was being processed: re-run the filter on release. */
export const KN_REPROCESS = 0x10 << 16;
/** Destruction requested; performed on release. */
export const KN_DELETING = 0x20 << 16;
/** Owned by one operation (register, scan, post); re-entrant posts only mark REPROCESS. */
export const KN_PROCESSING = 0x40 << 16;

/**
 * One registration: (kqueue, filter, ident). The public fields form the event image handed out by
 * a scan; `sfflags`/`sdata` are what the user supplied (the filter's inputs). As in the
 * reference, `fop` is the ops the knote runs (its filter's, or for a descriptor filter the ops its
 * descriptor picked in kqfilter), `fp` the descriptor it came through (null for other filters),
 * and `hook` the filter's own per-knote state. Knotes are made only by `newKnote()`.
 */
export interface Knote {
  /** Owning kqueue; null once the knote is dropped. */
  kq: KqueueEngine | null;
  filter: number;
  ident: unknown;
  /** EV_ flags in the low 16 bits (EV_BITS), the KN_ status bits above (the reference's kn_status). */
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
  sfflags: number;
  sdata: number | bigint;
  /** The reference's kn_fop. */
  fop: FilterOps;
  /** The reference's kn_fp: the descriptor of a descriptor filter's knote, else null. */
  fp: Descriptor | null;
  /** The filter's own state (kn_hook): a trigger bit, an armed flag, a source's per-knote record. */
  hook: unknown;
}

/**
 * Makes a knote. An object literal rather than a class: V8 tracks the survival of what a literal
 * allocates and, since knotes mostly outlive a young-generation collection, soon allocates them
 * directly in the old generation; a class instance would be copied by two scavenges first (a
 * million timers spent more time in the scavenger than in the engine). Every knote has this one
 * shape.
 */
export function newKnote(kq: KqueueEngine | null, filter: number, ident: unknown, flags: number, udata: unknown,
  fop: FilterOps, fp: Descriptor | null): Knote {
  return {
    kq,
    filter,
    ident,
    flags,
    fflags: 0,
    data: 0,
    udata,
    sfflags: 0,
    sdata: 0,
    fop,
    fp,
    hook: undefined,
  };
}
