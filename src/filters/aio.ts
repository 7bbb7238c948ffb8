import { ENXIO, EVFILT_AIO } from '../constants.js';
import { type FilterOps, registerFilter } from '../engine/filter-ops.js';

/** EVFILT_AIO: DragonFly removed kernel AIO, so every registration fails with ENXIO. */
export const aioFilterOps: FilterOps = {
  isFd: false,
  attach(): number {
    return ENXIO;
  },
  detach(): void {},
  event(): boolean {
    return false;
  },
};

registerFilter(EVFILT_AIO, aioFilterOps);
