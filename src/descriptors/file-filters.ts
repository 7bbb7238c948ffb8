import { EV_EOF, EV_NODATA, EV_ONESHOT, NOTE_REVOKE } from '../constants.js';
import type { FilterOps } from '../engine/filter-ops.js';
import type { Knote } from '../engine/knote.js';
import type { Vnode } from './vnode-watch.js';
import fs from 'node:fs';

/** What a file knote's descriptor offers its filters (file.ts). */
export interface OpenFile {
  /** The descriptor number the user's object stands for now; -1 once closed. */
  currentFd(): number;
  /** Forgets a knote going away (the list knote_fdclose walks). */
  forget(kn: Knote): void;
  /**
   * The descriptor's current file position, or -1 when it turned out to be closed (its knotes are
   * then dropped soon, the close being noticed late). 0 where the position cannot be read.
   */
  position(): number;
}

function detachFileKnote(kn: Knote, needsEvents: boolean): void {
  (kn.hook as Vnode).detach(kn, needsEvents);
  (kn.fp as unknown as OpenFile).forget(kn);
}

/**
 * filt_vnode (DragonFly's ufs/tmpfs filt_*vnode): a post whose hint shares a bit with the interest
 * mask ORs the whole hint into fflags; ready while fflags is not 0. A revoke (unmount) sets
 * EV_EOF|EV_NODATA and is ready even without NOTE_REVOKE in the mask; a level-triggered knote then
 * stays ready (EV_EOF), as a revoked descriptor stays readable.
 */
export const vnodeFilterOps: FilterOps = {
  isFd: true,
  attach: () => 0, // attached by the descriptor's kqfilter
  detach(kn: Knote): void {
    detachFileKnote(kn, true);
  },
  event(kn: Knote, hint: number): boolean {
    if ((kn.sfflags & hint) !== 0) kn.fflags |= hint;
    if ((hint & NOTE_REVOKE) !== 0) {
      kn.flags |= EV_EOF | EV_NODATA;
      return true;
    }
    return kn.fflags !== 0 || (kn.flags & EV_EOF) !== 0;
  },
};

/**
 * filt_ufsread on a regular file (or a directory): `data` = size - the descriptor's current
 * position (negative past the end), ready while it is not 0. The position is read from
 * /proc/self/fdinfo at every evaluation (posts from the file, and each scan of a level knote);
 * lseek alone posts nothing, as in DragonFly. Without /proc the position is taken as 0.
 * A revoke sets EV_EOF|EV_NODATA|EV_ONESHOT: delivered once, then gone.
 */
export const fileReadFilterOps: FilterOps = {
  isFd: true,
  attach: () => 0,
  detach(kn: Knote): void {
    detachFileKnote(kn, true);
  },
  event(kn: Knote, hint: number): boolean {
    if ((hint & NOTE_REVOKE) !== 0 || (kn.hook as Vnode).revoked) {
      kn.flags |= EV_EOF | EV_NODATA | EV_ONESHOT;
      return true;
    }
    let size: number;
    try {
      size = fs.fstatSync((kn.hook as Vnode).fd).size;
    } catch {
      return false;
    }
    const pos = (kn.fp as unknown as OpenFile).position();
    if (pos < 0) return false;
    kn.data = size - pos;
    return kn.data !== 0;
  },
};

/** filt_ufswrite: always ready with data 0; a revoke adds EV_EOF|EV_NODATA|EV_ONESHOT. */
export const fileWriteFilterOps: FilterOps = {
  isFd: true,
  attach: () => 0,
  detach(kn: Knote): void {
    detachFileKnote(kn, false);
  },
  event(kn: Knote, hint: number): boolean {
    if ((hint & NOTE_REVOKE) !== 0 || (kn.hook as Vnode).revoked) kn.flags |= EV_EOF | EV_NODATA | EV_ONESHOT;
    kn.data = 0;
    return true;
  },
};
