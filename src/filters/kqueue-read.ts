import { EOPNOTSUPP, EVFILT_READ } from '../constants.js';
import { addDescriptorResolver, type FilterOps } from '../engine/filter-ops.js';
import type { Knote } from '../engine/knote.js';
import { KqueueEngine, setKqueueAsDescriptor } from '../engine/kqueue.js';

/**
 * EVFILT_READ on a kqueue: ready while the watched kqueue has queued events; `data` is its
 * pending count. The watched kqueue posts to these knotes on every enqueue (never on dequeue:
 * a watcher's event is weeded out by its own scan once the count has dropped to 0).
 */
export const kqueueReadFilterOps: FilterOps = {
  isFd: true,
  attach(): number {
    return 0; // attached through the kqueue's kqfilter below
  },
  detach(kn: Knote): void {
    (kn.hook as KqueueEngine).kqinfo.remove(kn);
  },
  event(kn: Knote): boolean {
    const n = (kn.hook as KqueueEngine).count;
    kn.data = n;
    return n > 0;
  },
};

setKqueueAsDescriptor({
  kqfilter(kq, kn) {
    if (kn.filter !== EVFILT_READ) return EOPNOTSUPP;
    kq.kqinfo.insert(kn);
    return 0;
  },
  ops: kqueueReadFilterOps,
});

// An open kqueue is a descriptor; a closed one is EBADF. The brand check runs no caller code
// (instanceof would run a Proxy's getPrototypeOf trap in the middle of applying a changelist).
addDescriptorResolver((ident) => (KqueueEngine.isKqueue(ident) && !ident.isClosed ? ident : undefined));
