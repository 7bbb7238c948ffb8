import { ENXIO, EVFILT_AIO } from '../constants.js';
import { registerFilter } from '../engine/filter-ops.js';
import { refusingFilterOps } from './refusing.js';

/** EVFILT_AIO: DragonFly removed kernel AIO, so every registration fails with ENXIO. */
export const aioFilterOps = refusingFilterOps(ENXIO);

registerFilter(EVFILT_AIO, aioFilterOps);
