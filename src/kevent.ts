/** Public shapes of changes and events (DragonFly's `struct kevent`, with JavaScript values). */

/** What identifies a knote; its meaning depends on the filter (see docs/filters). */
export type Ident = number | bigint | string | symbol | object;

/** One change: an entry of the changelist given to `kevent()`. */
export interface KEventInit {
  ident: Ident;
  filter: number;
  flags?: number;
  fflags?: number;
  data?: number | bigint;
  udata?: unknown;
}

/** One harvested event, or the result of a change when `flags` holds EV_ERROR. */
export interface KEvent {
  ident: Ident;
  filter: number;
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
}

/** Milliseconds, or a timespec; null/undefined/Infinity wait without limit, 0 polls. */
export type Timeout = number | { sec: number; nsec: number } | null | undefined;

/** Every event object is made here, so that all of them share one shape. */
export function makeEvent(
  ident: unknown,
  filter: number,
  flags: number,
  fflags: number,
  data: number | bigint,
  udata: unknown,
): KEvent {
  return { ident: ident as Ident, filter, flags, fflags, data, udata };
}
