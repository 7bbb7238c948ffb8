import * as constants from '../constants.js';
import type { TimerHandler } from '../clock/timer-queues.js';
import type { FilterOps } from '../engine/filter-ops.js';
import { postKnote } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { tunables } from '../tunables.js';

// Module-local copies: optimised code folds a module's own consts, not imported bindings.
const { ENOMEM, EV_CLEAR, EV_ONESHOT } = constants;

/**
 * EVFILT_TIMER: `data` given on registration is the period in milliseconds; delivered `data`
 * counts expirations since the last delivery. EV_CLEAR is forced on. While the knote is armed on
 * its kqueue's clock, `hook` is its link in the clock's bucket of its deadline (the next knote, or
 * null at the tail), so an armed timer costs the clock nothing more; `false` once it is not
 * armed. Periods are exact milliseconds (no tick rounding; the real clock counts from the next
 * whole millisecond); a period of 0 or less means "as soon as possible", which here is 1 ms
 * (DragonFly: one tick).
 */

/** Live timer knotes in the process, limited by tunables.kq_calloutmax. */
let liveTimers = 0;

/** @internal live timer knotes, for leak checks in tests. */
export function liveTimerCount(): number {
  return liveTimers;
}

/** The period a knote's `sdata` asks for, in ms: at least 1, exact above that. */
export function periodOf(sdata: number | bigint): number {
  const p = typeof sdata === 'bigint' ? Number(sdata) : sdata;
  return p >= 1 ? p : 1;
}

/** How the clock treats a timer knote: the reference's callout with filt_timerexpire. */
const expiry: TimerHandler<Knote> = {
  cancelled: (kn) => kn.kq === null,
  /** A timer re-arms with its current period (a modification applies from here) unless one-shot. */
  rearm(kn) {
    if (kn.flags & EV_ONESHOT) {
      kn.hook = false;
      return -1;
    }
    return periodOf(kn.sdata);
  },
  /** filt_timerexpire: count the expirations and activate through the common path. */
  expire(kn, times) {
    kn.data = (kn.data as number) + times;
    postKnote(kn, 0);
  },
  next: (kn) => kn.hook as Knote | null,
  setNext(kn, next) {
    kn.hook = next;
  },
};

export const timerFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    if (liveTimers >= tunables.kq_calloutmax) return ENOMEM;
    liveTimers++;
    kn.flags |= EV_CLEAR;
    kn.kq!.clock.armTimer(kn, periodOf(kn.sdata), expiry);
    return 0;
  },
  detach(kn: Knote): void {
    liveTimers--;
    if (kn.hook !== false) kn.kq!.clock.cancelTimer(expiry);
  },
  event(kn: Knote): boolean {
    return kn.data !== 0;
  },
};
