import { EBADF, EINTR, EINVAL } from './constants.js';
import { Clock } from './clock/clock.js';
import { realClock } from './clock/real-clock.js';
import { acquireChangeBuffer, releaseChangeBuffer } from './engine/changes.js';
import { registerKqueue } from './descriptors/kqueue.js';
import { KqueueEngine } from './engine/kqueue.js';
import { KqueueError } from './errors.js';
import type { KEvent, KEventInit, Timeout } from './kevent.js';
import { filterTable } from './sysfilt.js';
import { Waiter } from './wait.js';

export interface KqueueOptions {
  /** Time source for EVFILT_TIMER and kevent timeouts; the real monotonic clock by default. */
  clock?: Clock;
}

export interface KeventOptions {
  /** Aborting it ends a wait that has collected nothing with EINTR. */
  signal?: AbortSignal;
}

export interface EventsOptions {
  /** Most events yielded between two turns of the event loop (default 64, at least 1). */
  nevents?: number;
  signal?: AbortSignal;
}

/**
 * Where a Kqueue keeps its engine and its waits: symbol-keyed, so they are not part of what a
 * user sees (nor of the published types), yet reached through a transparent Proxy of a Kqueue
 * as the old public fields were.
 */
const ENGINE = Symbol('kqueue engine');
const WAITS = Symbol('kqueue waits');

/** @internal a kqueue's engine, for tests that look inside. */
export function engineOf(kq: Kqueue): KqueueEngine {
  return kq[ENGINE];
}

/**
 * A kqueue: one queue for every kind of event. Register interest with changes, harvest ready
 * events in batches with `kevent()`. It holds its engine privately: what a user can reach is
 * exactly the calls below.
 */
export class Kqueue {
  /** @internal */
  readonly [ENGINE]: KqueueEngine;
  /** @internal waits in progress, failed with EBADF on close. */
  readonly [WAITS] = new Set<Waiter>();

  constructor(options?: KqueueOptions) {
    this[ENGINE] = new KqueueEngine(readClockOption(options), filterTable);
    registerKqueue(this, this[ENGINE]);
  }

  /** Number of queued events (the reference's kq_count, which fstat reports as st_size). */
  get pending(): number {
    return this[ENGINE].count;
  }

  get closed(): boolean {
    return this[ENGINE].isClosed;
  }

  /** Shows what a user can observe. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Kqueue { pending: ${this[ENGINE].count}, closed: ${this[ENGINE].isClosed} }`;
  }

  /**
   * Applies `changelist` in order, then collects up to `nevents` ready events. `timeout`:
   * undefined/null/Infinity wait for at least one event, 0 polls, a positive value waits at most
   * that many milliseconds (or a `{sec, nsec}`), a negative one is already expired. A call whose
   * timeout is not 0 lets the event loop turn before it settles.
   */
  kevent(changelist: Iterable<KEventInit> | null | undefined, nevents: number, timeout?: Timeout,
    options?: KeventOptions): Promise<KEvent[]> {
    let ms: number;
    let signal: AbortSignal | undefined;
    let out: KEvent[] | null;
    const kq = this[ENGINE];
    try {
      // A closed kqueue fails every call with EBADF, before any argument is read.
      if (kq.isClosed) throw new KqueueError(EBADF, 'the kqueue is closed');
      ms = readTimeout(timeout);
      signal = readSignal(options);
      out = harvestNow(kq, changelist, nevents);
    } catch (e) {
      return Promise.reject(e);
    }
    if (out !== null || ms <= 0) return settle(out ?? [], ms);
    if (signal?.aborted) return afterTurn(new KqueueError(EINTR, 'the wait was aborted'));
    const deadline = ms === Infinity ? Infinity : kq.clock.now() + ms;
    return new Promise<KEvent[]>((resolve, reject) => {
      new Waiter(kq, this[WAITS], nevents, deadline, signal, resolve, reject);
    });
  }

  /** `kevent()` with a zero timeout, synchronously: errors are thrown. */
  keventSync(changelist: Iterable<KEventInit> | null | undefined, nevents: number): KEvent[] {
    return harvestNow(this[ENGINE], changelist, nevents) ?? [];
  }

  /** Drops every knote and fails pending waits with EBADF; later calls fail with EBADF. */
  close(): void {
    if (this[ENGINE].isClosed) return;
    this[ENGINE].terminate();
    for (const w of [...this[WAITS]]) w.close();
  }

  /**
   * Harvests forever, batch by batch; ends when the kqueue closes or the signal aborts. A batch
   * is up to `nevents` events yielded between two turns of the event loop. Each event is taken
   * from the queue only when it is about to be yielded, so leaving the loop (break, throw, abort,
   * close) never loses an event, and what the loop body changes (an EV_DELETE, say) applies to
   * the very next event.
   */
  async *events(options?: EventsOptions): AsyncGenerator<KEvent, void, undefined> {
    if (this[ENGINE].isClosed) return;
    const signal = readSignal(options);
    const nevents = options?.nevents ?? 64;
    if (typeof nevents !== 'number' || !Number.isInteger(nevents) || nevents < 1) {
      throw new KqueueError(EINVAL, 'events() takes nevents >= 1');
    }
    const waitOptions = signal === undefined ? undefined : { signal };
    for (;;) {
      if (signal?.aborted) return;
      let ev: KEvent;
      try {
        // Waits for one event, letting the event loop turn first (the starvation guard).
        ev = (await this.kevent(null, 1, null, waitOptions))[0]!;
      } catch (e) {
        if (e instanceof KqueueError && (e.errno === EBADF || e.errno === EINTR)) return;
        throw e;
      }
      for (let n = 1; ; n++) {
        yield ev;
        if (n >= nevents || this[ENGINE].isClosed || signal?.aborted) break;
        const next = this.keventSync(null, 1);
        if (next.length === 0) break;
        ev = next[0]!;
      }
    }
  }
}

/**
 * Validates, applies the changes and scans once. Returns the call's result when it is complete
 * (entries were posted, nevents is 0, or events were collected), or null when it would sleep.
 */
function harvestNow(kq: KqueueEngine, changelist: Iterable<KEventInit> | null | undefined,
nevents: number): KEvent[] | null {
  if (kq.isClosed) throw new KqueueError(EBADF, 'the kqueue is closed');
  // DragonFly treats a negative nevents as 0; the contract makes a malformed one EINVAL.
  if (typeof nevents !== 'number' || !Number.isInteger(nevents) || nevents < 0) {
    throw new KqueueError(EINVAL, 'nevents must be a non-negative integer');
  }
  const ch = acquireChangeBuffer();
  try {
    ch.read(changelist, filterTable.sysfilt);
    // The caller's getters or iterator may have closed this kqueue while it was being read.
    if (kq.isClosed) throw new KqueueError(EBADF, 'the kqueue was closed while the changelist was read');
    const posted = kq.applyChanges(ch, nevents);
    if (posted !== null) return posted;
  } finally {
    releaseChangeBuffer(ch);
  }
  if (nevents === 0) return [];
  const out = kq.collect(nevents);
  return out.length !== 0 ? out : null;
}

/** Creates a kqueue (same as `new Kqueue(options)`). */
export function kqueue(options?: KqueueOptions): Kqueue {
  return new Kqueue(options);
}

/** Free-function form of `kq.kevent()`. */
export function kevent(kq: Kqueue, changelist: Iterable<KEventInit> | null | undefined, nevents: number,
  timeout?: Timeout, options?: KeventOptions): Promise<KEvent[]> {
  try {
    // instanceof and the method lookup may run the caller's own code (a Proxy's traps): it must
    // not throw synchronously out of a function that returns a promise.
    if (!(kq instanceof Kqueue)) return Promise.reject(new KqueueError(EBADF, 'not a kqueue'));
    return kq.kevent(changelist, nevents, timeout, options);
  } catch (e) {
    return Promise.reject(e);
  }
}

function settle(out: KEvent[], ms: number): Promise<KEvent[]> {
  return ms === 0 ? Promise.resolve(out) : afterTurn(out);
}

/** Lets the event loop turn (as setImmediate does) before the call settles with `outcome`. */
function afterTurn(outcome: KEvent[] | KqueueError): Promise<KEvent[]> {
  return new Promise((resolve, reject) => {
    setImmediate(() => (outcome instanceof KqueueError ? reject(outcome) : resolve(outcome)));
  });
}

function readClockOption(options: KqueueOptions | undefined): Clock {
  if (options === undefined || options === null) return realClock;
  if (typeof options !== 'object') throw new KqueueError(EINVAL, 'options must be an object');
  const clock = options.clock;
  if (clock === undefined) return realClock;
  if (!Clock.isClock(clock)) throw new KqueueError(EINVAL, 'options.clock must be a Clock such as VirtualClock');
  return clock;
}

function readSignal(options: KeventOptions | EventsOptions | undefined): AbortSignal | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw new KqueueError(EINVAL, 'options must be an object');
  const signal = options.signal;
  if (signal === undefined) return undefined;
  if (!isAbortSignal(signal)) throw new KqueueError(EINVAL, 'options.signal must be an AbortSignal');
  return signal;
}

const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

/** A real AbortSignal: its own `aborted` accessor accepts it (a prototype-made look-alike fails). */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (!(value instanceof AbortSignal)) return false;
  try {
    abortedGetter.call(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * A timeout in milliseconds: Infinity waits without limit, 0 polls, negative is expired (as in
 * DragonFly). DragonFly validates nothing else; here a malformed timeout is EINVAL (the contract).
 */
function readTimeout(t: Timeout): number {
  if (t === undefined || t === null) return Infinity;
  if (typeof t === 'number') {
    if (Number.isNaN(t)) throw new KqueueError(EINVAL, 'timeout is NaN');
    return t;
  }
  if (typeof t === 'object') {
    const sec = t.sec;
    const nsec = t.nsec;
    if (typeof sec !== 'number' || Number.isNaN(sec)) throw new KqueueError(EINVAL, 'timeout.sec must be a number');
    if (typeof nsec !== 'number' || !(nsec >= 0 && nsec < 1e9)) {
      throw new KqueueError(EINVAL, 'timeout.nsec must be a number in [0, 1e9)');
    }
    return sec * 1000 + nsec / 1e6;
  }
  throw new KqueueError(EINVAL, 'timeout must be a number of milliseconds, {sec, nsec}, or null');
}
