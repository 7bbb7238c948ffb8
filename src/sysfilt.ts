import { getfp } from './descriptors/index.js';
import { type FilterOps, type FilterTable, fileFilterOps } from './engine/filter-ops.js';
import { aioFilterOps } from './filters/aio.js';
import { fsFilterOps } from './filters/fs.js';
import { procFilterOps } from './filters/proc.js';
import { signalFilterOps } from './filters/signal.js';
import { timerFilterOps } from './filters/timer.js';
import { userFilterOps } from './filters/user.js';

/**
 * The reference's sysfilt_ops[]: the one place filters are wired, slot ~filter for filter number
 * `filter`. The descriptor filters share file_filtops, which hands the knote to the descriptor
 * the ident names (src/descriptors/); the others take any ident and attach to their own source.
 */
const sysfilt: readonly FilterOps[] = Object.freeze([
  fileFilterOps, //  -1 EVFILT_READ
  fileFilterOps, //  -2 EVFILT_WRITE
  aioFilterOps, //   -3 EVFILT_AIO
  fileFilterOps, //  -4 EVFILT_VNODE
  procFilterOps, //  -5 EVFILT_PROC
  signalFilterOps, // -6 EVFILT_SIGNAL
  timerFilterOps, // -7 EVFILT_TIMER
  fileFilterOps, //  -8 EVFILT_EXCEPT
  userFilterOps, //  -9 EVFILT_USER
  fsFilterOps, //   -10 EVFILT_FS
]);

/** What every kqueue is built with. */
export const filterTable: FilterTable = Object.freeze({ sysfilt, getfp });
