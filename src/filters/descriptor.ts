import { EVFILT_EXCEPT, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE } from '../constants.js';
import { type Descriptor, type FilterOps, registerFilter } from '../engine/filter-ops.js';
import type { Knote } from '../engine/knote.js';

/**
 * The reference's file_filtops: READ, WRITE, VNODE and EXCEPT take a descriptor as ident. The
 * engine resolves it (EBADF when nothing answers to it) and stores it in `hook`; attaching asks
 * the descriptor itself, which installs the filter ops of its kind (or refuses: EOPNOTSUPP).
 */
export const descriptorFilterOps: FilterOps = {
  isFd: true,
  attach(kn: Knote): number {
    return (kn.hook as Descriptor).kqfilter(kn);
  },
  detach(): void {},
  event(): boolean {
    return false;
  },
};

for (const filter of [EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE, EVFILT_EXCEPT]) {
  registerFilter(filter, descriptorFilterOps);
}
