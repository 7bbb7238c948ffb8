import * as constants from '../constants.js';
import { KqueueError } from '../errors.js';
import type { FilterOps } from './filter-ops.js';

// Module-local copies: optimised code folds a module's own consts, not imported bindings.
const { EINVAL, EV_SYSFLAGS, EVFILT_SYSCOUNT } = constants;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Longest changelist whose buffer space is kept for the next call. */
const RETAINED = 4096;

/**
 * A changelist read once and normalised, field by field, into parallel arrays. Every field of
 * every change is read exactly once (a getter sees one read) and the whole list is validated
 * before any change is applied. Arrays are reused from call to call: applying a change never
 * allocates for the changelist itself.
 */
export class ChangeBuffer {
  length = 0;
  readonly ident: unknown[] = [];
  readonly filter: number[] = [];
  readonly flags: number[] = [];
  readonly fflags: number[] = [];
  readonly data: (number | bigint)[] = [];
  readonly udata: unknown[] = [];
  /** Whether a stored ident or udata may hold on to something (anything but a number or undefined). */
  private retains = false;
  /** The filter table of the call being read, for filters that refuse malformed idents. */
  private sysfilt: readonly FilterOps[] = [];
  /** Bit ~filter set when that filter has a `malformed` check (worked out once per table). */
  private malformedSlots = 0;

  /**
   * Drops references to the caller's values so that a finished call retains nothing, and gives
   * back the memory of an unusually long changelist.
   */
  clear(): void {
    const n = this.length;
    this.length = 0;
    if (this.ident.length > RETAINED) {
      for (const a of [this.ident, this.filter, this.flags, this.fflags, this.data, this.udata]) a.length = 0;
      this.retains = false;
      return;
    }
    // Numbers and undefined hold nothing: the common changelist leaves no loop to run.
    if (!this.retains) return;
    this.retains = false;
    for (let i = 0; i < n; i++) {
      this.ident[i] = undefined;
      this.udata[i] = undefined;
    }
  }

  private push(change: unknown): void {
    if (!isObject(change)) {
      throw new KqueueError(EINVAL, 'a change must be an object');
    }
    const c = change as Record<string, unknown>;
    const ident = c.ident;
    const filter = c.filter;
    const flags = c.flags;
    const fflags = c.fflags;
    const data = c.data;
    const udata = c.udata;
    const i = this.length;
    this.ident[i] = ident;
    const slot = ~(this.filter[i] = readFilter(filter));
    // One bit test on the hot path; only a filter that can refuse idents is asked (SIGNAL).
    if (slot >>> 0 < EVFILT_SYSCOUNT && (this.malformedSlots & (1 << slot)) !== 0) this.checkIdent(slot, ident);
    // EV_SYSFLAGS bits are stripped from every incoming change before it is processed.
    this.flags[i] = (flags === undefined ? 0 : readUint(flags, 0xffff, 'flags')) & ~EV_SYSFLAGS;
    this.fflags[i] = fflags === undefined ? 0 : readUint(fflags, 0xffffffff, 'fflags');
    this.data[i] = data === undefined ? 0 : readData(data);
    this.udata[i] = udata;
    if (typeof ident !== 'number' || udata !== undefined) this.retains = true;
    this.length = i + 1;
  }

  private checkIdent(slot: number, ident: unknown): void {
    if (this.sysfilt[slot]!.malformed!(ident)) {
      throw new KqueueError(EINVAL, 'a change\'s ident can never name anything for its filter');
    }
  }

  /**
   * Walks an iterable by hand, as for-of would, so that an iterator that breaks the protocol
   * (a non-object iterator or step result, a `next` that is not a function) is EINVAL rather
   * than a TypeError. Our own error closes the iterator (its return()); the caller's own
   * exceptions propagate unchanged.
   */
  private readIterable(changelist: unknown): void {
    const method = (changelist as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof method !== 'function') throw new KqueueError(EINVAL, 'the changelist must be iterable');
    const it: unknown = method.call(changelist);
    if (!isObject(it)) throw new KqueueError(EINVAL, 'the changelist\'s iterator is not an object');
    const next = (it as { next?: unknown }).next;
    if (typeof next !== 'function') throw new KqueueError(EINVAL, 'the changelist\'s iterator has no next()');
    for (;;) {
      const step: unknown = next.call(it);
      if (!isObject(step)) throw new KqueueError(EINVAL, 'the changelist\'s iterator returned a non-object');
      if ((step as { done?: unknown }).done) return;
      const change = (step as { value?: unknown }).value;
      try {
        this.push(change);
      } catch (e) {
        if (e instanceof KqueueError) {
          try {
            const ret = (it as { return?: unknown }).return;
            if (typeof ret === 'function') ret.call(it);
          } catch {
            // As for-of does, the error that ended the walk wins over one from return().
          }
        }
        throw e;
      }
    }
  }

  /**
   * Reads `changelist` (null/undefined mean none) for a kqueue with filter table `sysfilt`;
   * throws EINVAL or the caller's own exception.
   */
  read(changelist: unknown, sysfilt: readonly FilterOps[]): void {
    this.length = 0;
    if (sysfilt !== this.sysfilt) {
      this.sysfilt = sysfilt;
      let mask = 0;
      for (let k = 0; k < sysfilt.length; k++) if (sysfilt[k]!.malformed !== undefined) mask |= 1 << k;
      this.malformedSlots = mask;
    }
    if (changelist === undefined || changelist === null) return;
    try {
      if (Array.isArray(changelist) && changelist[Symbol.iterator] === Array.prototype[Symbol.iterator]) {
        for (let i = 0; i < changelist.length; i++) this.push(changelist[i]);
        return;
      }
      this.readIterable(changelist);
    } catch (e) {
      this.clear();
      throw e;
    }
  }
}

function isObject(v: unknown): v is object {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

function readFilter(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return v >= -0x8000n && v <= 0x7fffn ? Number(v) : 0;
  throw new KqueueError(EINVAL, 'a change\'s filter must be an integer');
}

/** An unsigned field taken modulo its width (so `NOTE_FFOR | 1`, a negative int32, means what it says). */
function readUint(v: unknown, mask: number, name: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) {
    return mask === 0xffff ? v & 0xffff : v >>> 0;
  }
  if (typeof v === 'bigint') return Number(BigInt.asUintN(mask === 0xffff ? 16 : 32, v));
  throw new KqueueError(EINVAL, `a change's ${name} must be an integer`);
}

const TWO_53 = 2 ** 53;

/** `data` is a signed 64-bit value: a number up to 2^53 in magnitude, a bigint beyond. */
export function readData(v: unknown): number | bigint {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v <= TWO_53 && v >= -TWO_53) return v;
    if (Number.isInteger(v)) return bigData(BigInt(v));
  } else if (typeof v === 'bigint') {
    return bigData(v);
  }
  throw new KqueueError(EINVAL, 'a change\'s data must be an integer');
}

function bigData(v: bigint): number | bigint {
  if (v < INT64_MIN || v > INT64_MAX) throw new KqueueError(EINVAL, 'data is outside the signed 64-bit range');
  return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v;
}

const pool: ChangeBuffer[] = [];
let depth = 0;

/** A buffer for one kevent call; nested calls (from a filter's attach) get their own. */
export function acquireChangeBuffer(): ChangeBuffer {
  const b = pool[depth] ?? (pool[depth] = new ChangeBuffer());
  depth++;
  return b;
}

export function releaseChangeBuffer(b: ChangeBuffer): void {
  b.clear();
  depth--;
}
