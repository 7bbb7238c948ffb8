import { EV_CLEAR } from '../constants.js';
import type { FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { MountWatcher } from './mountinfo.js';

/**
 * EVFILT_FS (the reference's filt_fsattach / filt_fs on the global fs_klist): any ident; each
 * mount posts VQ_MOUNT and each unmount VQ_UNMOUNT, OR-ed into fflags until delivered. EV_CLEAR is
 * forced on. The mount table is watched only while some FS knote exists, in any kqueue.
 */

/** The reference's fs_klist: every FS knote of every kqueue. */
const fsKlist = new Klist();
const watcher = new MountWatcher((vq) => fsKlist.post(vq));

/** @internal the watcher, for tests (its state, and an immediate read). */
export function fsWatcher(): MountWatcher {
  return watcher;
}

export const fsFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    kn.flags |= EV_CLEAR;
    fsKlist.insert(kn);
    watcher.start();
    return 0;
  },
  detach(kn: Knote): void {
    fsKlist.remove(kn);
    if (fsKlist.size === 0) watcher.stop();
  },
  event(kn: Knote, hint: number): boolean {
    kn.fflags = (kn.fflags | hint) >>> 0;
    return kn.fflags !== 0;
  },
};
