import type { Knote } from './knote.js';

/**
 * What a filter provides to the engine: the reference's `struct filterops`. The engine reaches a
 * filter only through this interface: a knote runs the ops in its `fop` field.
 */
export interface FilterOps {
  /** The ident names a descriptor (READ, WRITE, VNODE, EXCEPT): it is resolved before lookup. */
  readonly isFd: boolean;
  /** Connects a new knote to its source; returns 0 or an errno (the knote is then destroyed). */
  attach(kn: Knote): number;
  /** Disconnects the knote from its source before it is destroyed. */
  detach(kn: Knote): void;
  /** Evaluates the condition, updating data/fflags/flags; `hint` comes from the source's post. */
  event(kn: Knote, hint: number): boolean;
  /**
   * Replaces the default modification of an existing knote (sfflags, sdata, udata := change).
   * Returns the fflags value to echo in a receipt or error entry. Only EVFILT_USER has one.
   */
  touch?(kn: Knote, flags: number, fflags: number, data: number | bigint): number;
  /** Runs as the knote is delivered, before its image is copied out (EVFILT_USER's EVENT_PROCESS). */
  deliver?(kn: Knote): void;
  /**
   * True when `ident` can never name anything for this filter, so that the change makes the
   * whole call malformed (EINVAL before any change applies), as the contract has it for an
   * unknown signal name; the reference has no such case. It must run no caller code.
   */
  malformed?(ident: unknown): boolean;
}

/**
 * A descriptor a knote can watch: the reference's `struct file` with its `fo_kqfilter`. Attaching
 * a knote of a descriptor filter asks the descriptor, which picks the ops for that filter on its
 * kind of object (setting `kn.fop`, as fo_kqfilter sets kn_fop), keeps its own per-knote state in
 * `kn.hook`, puts the knote on the klist of its source, and returns 0; or refuses with an errno
 * (EOPNOTSUPP for a filter its kind does not support).
 */
export interface Descriptor {
  kqfilter(kn: Knote): number;
}

/**
 * Everything the engine needs from outside: the filter table and the descriptor table, both
 * built in `src/sysfilt.ts` and handed to every kqueue. Keeping them out of the engine is what lets
 * the engine know no filter and no Node resource by name.
 */
export interface FilterTable {
  /** The reference's sysfilt_ops[]: slot ~filter holds the ops of filter `filter`. */
  readonly sysfilt: readonly FilterOps[];
  /** The reference's holdfp(): the descriptor an ident names, or undefined (EBADF). */
  getfp(ident: unknown): Descriptor | undefined;
}

/**
 * The reference's file_filtops, the table entry of every descriptor filter: the engine has
 * already resolved the descriptor into `kn.fp`, and attaching hands the knote to it.
 */
export const fileFilterOps: FilterOps = {
  isFd: true,
  attach(kn: Knote): number {
    return kn.fp!.kqfilter(kn);
  },
  detach(): void {},
  event(): boolean {
    return false;
  },
};

/** Ops of a filter whose every registration fails with `errno` (nothing is ever attached). */
export function refusingFilterOps(errno: number): FilterOps {
  return {
    isFd: false,
    attach: () => errno,
    detach: () => {},
    event: () => false,
  };
}
