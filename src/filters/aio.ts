import { types } from 'node:util';
import { EBADF, EIO, ENXIO } from '../constants.js';
import type { FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';

/**
 * EVFILT_AIO on promises (an extension: DragonFly has no AIO and answers ENXIO, which a
 * non-thenable ident still gets). A knote on a Promise or thenable is ready once it has settled,
 * level-triggered like a completed aio request; `data` is 0 on fulfilment, otherwise the
 * rejection's `code` as a DragonFly errno (EIO when it has none).
 *
 * Nothing of the caller's runs during the changelist: whether an object is a thenable is decided
 * from its property descriptors (which run no code), and the thenable is only resolved, with the
 * full Promise resolution procedure, in a microtask after the call. A `then` getter or a `then`
 * that throws is a rejection; a thenable that settles twice counts once; one that never settles
 * holds nothing but itself (no handle: the process can still exit).
 */

/** One watched promise: its settlement and the knotes on it, in every kqueue. */
interface AioSource {
  settled: boolean;
  errno: number;
  readonly klist: Klist;
}

/** Kept for the promise's lifetime: a settled promise's outcome serves later knotes at once. */
const sources = new WeakMap<object, AioSource>();

// Captured once, so a later change to the globals cannot make us run the user's code mid-call.
const promiseThen = Promise.prototype.then;
const resolved = Promise.resolve();

/**
 * Whether `x` is a thenable, decided without running any of its code: a native promise, or an
 * object whose `then` (own or inherited) is a function or an accessor (read later, as `await`
 * would). A Proxy anywhere on the way could run traps: 'proxy'.
 */
function thenable(x: object): boolean | 'proxy' {
  if (types.isPromise(x)) return true;
  try {
    for (let o: object | null = x; o !== null; o = Reflect.getPrototypeOf(o)) {
      if (types.isProxy(o)) return 'proxy';
      const d = Reflect.getOwnPropertyDescriptor(o, 'then');
      if (d !== undefined) return d.get !== undefined || typeof d.value === 'function';
    }
  } catch {
    // An exotic object whose descriptor cannot be read without error (a module namespace's
    // uninitialised binding): not something we can treat as a thenable.
  }
  return false;
}

/** The errno a rejection reason stands for: its `code` (EIO when missing, unknown or unreadable). */
function errnoOfReason(reason: unknown): number {
  if ((typeof reason !== 'object' || reason === null) && typeof reason !== 'function') return EIO;
  if (types.isProxy(reason)) return EIO;
  try {
    return errnoFromCode((reason as { code?: unknown }).code);
  } catch {
    return EIO;
  }
}

function settle(src: AioSource, errno: number): void {
  src.settled = true;
  src.errno = errno;
  src.klist.post(0);
}

/**
 * Follows `x` to its settlement. Returning it from a reaction makes the engine resolve a fresh
 * promise with it in a later microtask: `then` is read (and called) there, never during the
 * changelist, and any exception becomes a rejection.
 */
function subscribe(x: object, src: AioSource): void {
  const adopted = promiseThen.call(resolved, () => x);
  promiseThen.call(adopted, () => settle(src, 0), (reason: unknown) => settle(src, errnoOfReason(reason)));
}

export const aioFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    const x = kn.ident;
    if ((typeof x !== 'object' || x === null) && typeof x !== 'function') return ENXIO;
    let src = sources.get(x);
    if (src === undefined) {
      const kind = thenable(x);
      // A Proxy is answered as descriptor filters answer it: inspecting it would run its traps.
      if (kind === 'proxy') return EBADF;
      if (!kind) return ENXIO;
      src = { settled: false, errno: 0, klist: new Klist() };
      sources.set(x, src);
      subscribe(x, src);
    }
    src.klist.insert(kn);
    kn.hook = src;
    return 0;
  },
  detach(kn: Knote): void {
    // A promise cannot be unsubscribed: its settlement will find the knote gone.
    (kn.hook as AioSource).klist.remove(kn);
  },
  event(kn: Knote): boolean {
    const src = kn.hook as AioSource;
    if (!src.settled) return false;
    kn.data = src.errno;
    return true;
  },
};
