import { ENOSYS, EVFILT_FS, EVFILT_PROC, EVFILT_SIGNAL } from '../constants.js';
import { registerFilter } from '../engine/filter-ops.js';
import { refusingFilterOps } from './refusing.js';

/**
 * Filters that exist in DragonFly but are not built yet here. They are valid filter numbers, so
 * unlike an unknown filter (EINVAL) a registration is refused with ENOSYS ("not implemented").
 */
const plannedFilterOps = refusingFilterOps(ENOSYS);

for (const filter of [EVFILT_PROC, EVFILT_SIGNAL, EVFILT_FS]) registerFilter(filter, plannedFilterOps);
