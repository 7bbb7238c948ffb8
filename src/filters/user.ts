import * as constants from '../constants.js';
import type { FilterOps } from '../engine/filter-ops.js';
import type { Knote } from '../engine/knote.js';

// Module-local copies: optimised code folds a module's own consts, not imported bindings.
const { EV_CLEAR, NOTE_FFLAGSMASK, NOTE_TRIGGER } = constants;

/**
 * EVFILT_USER: events the program triggers itself. `hook` is the trigger bit; `fflags` holds
 * 24 user bits combined by the NOTE_FF* operation in the top two bits of each change's fflags.
 */

/** Applies the NOTE_FFNOP/FFAND/FFOR/FFCOPY operation selected by the top two bits. */
function combine(stored: number, fflags: number): number {
  const bits = fflags & NOTE_FFLAGSMASK;
  switch (fflags >>> 30) {
    case 1: return stored & bits; // NOTE_FFAND
    case 2: return stored | bits; // NOTE_FFOR
    case 3: return bits; // NOTE_FFCOPY
    default: return stored; // NOTE_FFNOP
  }
}

export const userFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    const input = kn.sfflags;
    kn.hook = (input & NOTE_TRIGGER) !== 0 ? 1 : 0;
    kn.sfflags = input & NOTE_FFLAGSMASK;
    kn.fflags = combine(0, input);
    kn.data = kn.sdata; // the reference copies data on creation too, triggered or not
    return 0;
  },
  detach(): void {},
  event(kn: Knote): boolean {
    return kn.hook === 1;
  },
  touch(kn: Knote, flags: number, fflags: number, data: number | bigint): number {
    // Unlike every other filter, udata and sfflags stay as created.
    if (fflags & NOTE_TRIGGER) kn.hook = 1;
    kn.fflags = combine(kn.fflags, fflags);
    kn.data = data;
    if (flags & EV_CLEAR) {
      // EV_CLEAR in a modification un-triggers and zeroes data, but keeps the stored fflags.
      kn.hook = 0;
      kn.data = 0;
    }
    return fflags & NOTE_FFLAGSMASK;
  },
  deliver(kn: Knote): void {
    // Created with EV_CLEAR: delivery un-triggers (the scan then zeroes fflags and data).
    if (kn.flags & EV_CLEAR) kn.hook = 0;
  },
};
