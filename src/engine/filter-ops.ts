import { EVFILT_SYSCOUNT } from '../constants.js';
import type { Knote } from './knote.js';

/**
 * What a filter provides to the engine: the reference's `struct filterops`. The engine reaches a
 * filter only through this interface and the table below, never through the filter's module.
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
}

/**
 * A descriptor a knote can watch (the reference's `struct file` with its fo_kqfilter). A
 * descriptor filter's attach asks the resolved object to attach the knote; from then on the
 * knote runs the ops the descriptor gives for it (the reference's kqfilter sets kn_fop).
 */
export interface Descriptor {
  kqfilter(kn: Knote): number;
  /** The ops of a knote this descriptor attached. */
  attachedOps(kn: Knote): FilterOps;
}

/** Turns an ident into the descriptor it names, or undefined; each kind of descriptor adds one. */
export type DescriptorResolver = (ident: unknown) => Descriptor | undefined;

const resolvers: DescriptorResolver[] = [];

export function addDescriptorResolver(resolver: DescriptorResolver): void {
  if (!resolvers.includes(resolver)) resolvers.push(resolver);
}

export function resolveDescriptor(ident: unknown): Descriptor | undefined {
  for (let i = 0; i < resolvers.length; i++) {
    const d = resolvers[i]!(ident);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** The reference's sysfilt_ops[]: slot ~filter holds the ops of filter `filter`. */
export const sysfiltOps: (FilterOps | undefined)[] = new Array(EVFILT_SYSCOUNT).fill(undefined);

export function registerFilter(filter: number, ops: FilterOps): void {
  sysfiltOps[~filter] = ops;
}

/** The ops of an attached knote: its filter's, or for a descriptor filter, its descriptor's. */
export function fopOf(kn: Knote): FilterOps {
  const ops = sysfiltOps[~kn.filter]!;
  return ops.isFd ? (kn.hook as Descriptor).attachedOps(kn) : ops;
}
