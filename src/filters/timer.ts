import { ENOMEM, EV_CLEAR, EV_ONESHOT, EVFILT_TIMER } from '../constants.js';
import { setTimerHandlers } from '../clock/clock.js';
import { type FilterOps, registerFilter } from '../engine/filter-ops.js';
import { KN_PROCESSING, KN_REPROCESS, type Knote } from '../engine/knote.js';
import { tunables } from '../tunables.js';

/**
 * EVFILT_TIMER: `data` given on registration is the period in milliseconds; delivered `data`
 * counts expirations since the last delivery. EV_CLEAR is forced on. `hook` is true while the
 * knote is armed on its kqueue's clock. Periods are exact milliseconds (no tick rounding); a
 * period of 0 or less means "as soon as possible", which here is 1 ms (DragonFly: one tick).
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

export const timerFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    if (liveTimers >= tunables.kq_calloutmax) return ENOMEM;
    liveTimers++;
    kn.flags |= EV_CLEAR;
    kn.hook = true;
    kn.kq!.clock.armTimer(kn, periodOf(kn.sdata));
    return 0;
  },
  detach(kn: Knote): void {
    liveTimers--;
    if (kn.hook === true) kn.kq!.clock.cancelTimer();
  },
  event(kn: Knote): boolean {
    return kn.data !== 0;
  },
};

/** A timer re-arms with its current period (a modification applies from here) unless one-shot. */
function rearm(kn: Knote): number {
  if (kn.flags & EV_ONESHOT) {
    kn.hook = false;
    return -1;
  }
  return periodOf(kn.sdata);
}

/** filt_timerexpire: count the expirations and activate. */
function expire(kn: Knote, times: number): void {
  const kq = kn.kq!;
  kn.data = (kn.data as number) + times;
  if (kn.status & KN_PROCESSING) {
    kn.status |= KN_REPROCESS;
    return;
  }
  kn.status |= KN_PROCESSING;
  kq.activate(kn);
  kq.release(kn);
}

setTimerHandlers(rearm, expire);
registerFilter(EVFILT_TIMER, timerFilterOps);
