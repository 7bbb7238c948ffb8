import { ENXIO } from '../constants.js';
import { refusingFilterOps } from '../engine/filter-ops.js';

/** EVFILT_AIO: DragonFly removed kernel AIO, so every registration fails with ENXIO. */
export const aioFilterOps = refusingFilterOps(ENXIO);
