import type { FilterOps } from '../engine/filter-ops.js';

/** Ops of a filter whose every registration fails with `errno` (nothing is ever attached). */
export function refusingFilterOps(errno: number): FilterOps {
  return {
    isFd: false,
    attach: () => errno,
    detach: () => {},
    event: () => false,
  };
}
