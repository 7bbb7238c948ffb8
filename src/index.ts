export * from './constants.js';
export { KqueueError } from './errors.js';
export type { Ident, KEvent, KEventInit, Timeout } from './kevent.js';
export { Kqueue, kqueue, kevent } from './kqueue.js';
export type { EventsOptions, KeventOptions, KqueueOptions } from './kqueue.js';
export { Clock } from './clock/clock.js';
export { VirtualClock } from './clock/virtual-clock.js';
export { tunables } from './tunables.js';
export { accept, recvfrom, type Datagram } from './io.js';
