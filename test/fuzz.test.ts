// Fuzzed calls (issue scope item 2): random, malformed and hostile input to every public function
// (kqueue(), new Kqueue(), kq.kevent, kq.keventSync, kevent(), kq.events(), kq.close and
// VirtualClock), driven by fast-check with a fixed seed. The oracle is api.md "Errors": every call
// gives a valid answer, a KqueueError whose code matches its errno, or exactly the caller's own
// thrown value (identity); nothing else escapes, a failed call applies no change, nothing is ever
// rejected unhandled, and a set of witness knotes that the fuzzed calls cannot name stays exactly
// as it was (their events are checked at every harvest and once more at the end).
//
// Each property runs in a worker thread under a watchdog, so a call that never returns (an
// endless loop in the engine) fails the test with the input that hung instead of hanging the run.
// Inputs are plain data (specs); the hostile objects (getters, proxies, iterators) are built from
// them at run time, so that fast-check can print and shrink every counterexample.
import assert from 'node:assert/strict';
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import * as K from '../src/index.js';
import { liveTimerCount } from '../src/filters/timer.js';

const {
  kqueue, Kqueue, kevent, VirtualClock, KqueueError, Clock,
  EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH, EV_ERROR,
  EVFILT_USER, EVFILT_TIMER, NOTE_TRIGGER, NOTE_FFCOPY, NOTE_FFOR, NOTE_FFAND,
  EBADF, EINVAL, EINTR,
} = K;
type Kq = K.Kqueue;
type KEvent = K.KEvent;
type VClock = K.VirtualClock;

const SEED = 0x6b717565; // 'kque'
/** Runs per property; together they take well under 20 s on a 2-core machine. */
const RUNS = { options: 1000, open: 900, reentrant: 500, closed: 600, clock: 1000 } as const;
/** A property that has not finished after this long is declared hung. */
const WATCHDOG_MS = 20_000;
/** fast-check stops shrinking after this long. */
const SHRINK_LIMIT_MS = 20_000;

// ---- errno bookkeeping --------------------------------------------------------------------------

const ERRNO_NAME = new Map<number, string>();
for (const [name, value] of Object.entries(K)) {
  if (/^E[A-Z]+$/.test(name) && !name.startsWith('EV') && typeof value === 'number' && !ERRNO_NAME.has(value)) {
    ERRNO_NAME.set(value, name);
  }
}
// Two names share a number (EAGAIN/EWOULDBLOCK, EOPNOTSUPP/ENOTSUP): either name is right.
const ERRNO_ALIASES = new Map<number, Set<string>>();
for (const [name, value] of Object.entries(K)) {
  if (/^E[A-Z]+$/.test(name) && !name.startsWith('EV') && typeof value === 'number') {
    if (!ERRNO_ALIASES.has(value)) ERRNO_ALIASES.set(value, new Set());
    ERRNO_ALIASES.get(value)!.add(name);
  }
}
/** Errnos a single change can fail with (posted as EV_ERROR, or thrown when nevents has no room). */
const PER_CHANGE_ERRNOS = new Set([...ERRNO_NAME.keys()].filter((e) => e !== EINTR));

function isWellFormedKqueueError(e: unknown): e is K.KqueueError {
  return e instanceof KqueueError && typeof e.errno === 'number' && ERRNO_ALIASES.get(e.errno)?.has(e.code) === true;
}

// ---- the caller's own exceptions ------------------------------------------------------------------

type ThrowKind = 'error' | 'object' | 'string' | 'kqerror' | 'symbol';
let throwSerial = 0;
class CallerError extends Error {
  constructor(readonly serial: number) {
    super(`the caller's own exception #${serial}`);
    this.name = 'CallerError';
  }
}
/** A fresh value for the caller's code to throw; only its identity matters. */
function makeThrowable(kind: ThrowKind): unknown {
  const n = ++throwSerial;
  switch (kind) {
    case 'error': return new CallerError(n);
    case 'object': return Object.freeze({ callerThrow: n });
    case 'string': return `caller-throw-${n}`;
    // A KqueueError thrown by the caller must come back as that very object, not a look-alike.
    case 'kqerror': return new KqueueError(EINVAL, `thrown by the caller #${n}`);
    case 'symbol': return Symbol(`caller-throw-${n}`);
  }
}

// ---- specs: plain data that fast-check generates, prints and shrinks ----------------------------

type Effect = 'nestedSync' | 'advance' | 'abort' | 'closeT';
type Val =
  | { t: 'absent' } | { t: 'undef' } | { t: 'null' }
  | { t: 'num'; v: number } | { t: 'big'; v: bigint } | { t: 'str'; v: string } | { t: 'bool'; v: boolean }
  | { t: 'sym' } | { t: 'obj' } | { t: 'frozen' } | { t: 'arr' } | { t: 'fn' } | { t: 'boxed'; v: number }
  | { t: 'pool'; i: number }
  | { t: 'throw'; kind: ThrowKind }
  | { t: 'effect'; effect: Effect; then: Val };
type Box = 'plain' | 'frozen' | 'getters' | 'proxy' | 'nullproto' | 'inherited' | 'fnobj';
type Field = 'ident' | 'filter' | 'flags' | 'fflags' | 'data' | 'udata';
const FIELDS: readonly Field[] = ['ident', 'filter', 'flags', 'fflags', 'data', 'udata'];
type ChangeSpec =
  | { c: 'obj'; box: Box; f: Partial<Record<Field, Val>>; trap: ThrowKind | null }
  | { c: 'prim'; v: Val }
  | { c: 'revoked' };
type ListKind =
  | 'array' | 'frozenArray' | 'sparse' | 'patchedArray' | 'generator' | 'throwingGenerator' | 'set'
  | 'customIter' | 'badIterResult' | 'iterNotObject' | 'iterGetterThrows' | 'proxyArray' | 'null'
  | 'undef' | 'nonIterable' | 'num' | 'string' | 'typed' | 'map' | 'returnThrows';
interface ListSpec { k: ListKind; items: ChangeSpec[]; at: number; kind: ThrowKind }
type TimeoutSpec =
  | { k: 'v'; v: Val }
  | { k: 'ts'; box: Box; sec: Val; nsec: Val; trap: ThrowKind | null };
type SigSpec =
  | { s: 'absent' } | { s: 'ctrl'; i: number } | { s: 'aborted' } | { s: 'fake' } | { s: 'proxy'; i: number }
  | { s: 'val'; v: Val };
type OptSpec =
  | { k: 'v'; v: Val }
  | { k: 'o'; box: Box; signal: SigSpec; nevents: Val; trap: ThrowKind | null };
type KqSpec = { k: 'T' } | { k: 'S' } | { k: 'closed' } | { k: 'proxyT' } | { k: 'throwProxy'; kind: ThrowKind } | { k: 'v'; v: Val };
type Cmd =
  | { c: 'sync'; list: ListSpec; n: Val }
  | { c: 'async'; list: ListSpec; n: Val; to: TimeoutSpec; opt: OptSpec }
  | { c: 'free'; kq: KqSpec; list: ListSpec; n: Val; to: TimeoutSpec; opt: OptSpec }
  | { c: 'events'; opt: OptSpec | null }
  | { c: 'pull'; i: number }
  | { c: 'advance'; ms: number }
  | { c: 'turn' } | { c: 'micro' }
  | { c: 'abort'; i: number }
  | { c: 'closeSpare' }
  | { c: 'closeT' };

// ---- arbitraries ----------------------------------------------------------------------------------

const POOL_SIZE = 28;
const CTRLS = 3;
const HUGE_NUMBERS = [
  0, -0, 1, -1, 2, 0.5, -0.5, 1.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1,
  0xffff, 0x10000, 0x7fff, -0x8000, -0x8001, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63,
  -(2 ** 63), 2 ** 64, 1e21, 1e300, -1e300, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  Number.EPSILON, NaN, Infinity, -Infinity, 1e9, 1e9 - 1, 999_999_999.5,
];
const HUGE_BIGINTS = [
  0n, 1n, -1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), -(2n ** 63n) - 1n, 2n ** 64n,
  -(2n ** 64n), 2n ** 100n, 0x7fffn, 0x8000n, -0x8000n, -0x8001n, 0xffffn, 0x10000n, 0xffffffffn, 2n ** 32n,
];
const v = (x: Val): Val => x;
const num = (x: number): Val => ({ t: 'num', v: x });
const throwKind = fc.constantFrom<ThrowKind>('error', 'object', 'string', 'kqerror', 'symbol');
const anyNumber = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -5, max: 100 }) },
  { weight: 3, arbitrary: fc.constantFrom(...HUGE_NUMBERS) },
  { weight: 1, arbitrary: fc.double() },
);
const anyBigint = fc.oneof(fc.bigInt({ min: -20n, max: 20n }), fc.constantFrom(...HUGE_BIGINTS));
/** Any plain value (no getter behaviour). */
const plainVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 4, arbitrary: anyNumber.map(num) },
  { weight: 2, arbitrary: anyBigint.map((x) => v({ t: 'big', v: x })) },
  { weight: 4, arbitrary: fc.nat(POOL_SIZE - 1).map((i) => v({ t: 'pool', i })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Val>(
      { t: 'undef' }, { t: 'null' }, { t: 'sym' }, { t: 'obj' }, { t: 'frozen' }, { t: 'arr' }, { t: 'fn' },
      { t: 'bool', v: true }, { t: 'bool', v: false },
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }).map((s) => v({ t: 'str', v: s })) },
  { weight: 1, arbitrary: anyNumber.map((x) => v({ t: 'boxed', v: x })) },
);

/** Wraps a field's value: mostly as is, sometimes behind a getter that throws or re-enters. */
function hostileField(base: fc.Arbitrary<Val>, effects: readonly Effect[]): fc.Arbitrary<Val> {
  return fc.oneof(
    { weight: 24, arbitrary: base },
    { weight: 1, arbitrary: throwKind.map((kind) => v({ t: 'throw', kind })) },
    {
      weight: effects.length === 0 ? 0 : 1,
      arbitrary: fc.tuple(fc.constantFrom(...(effects.length === 0 ? ['advance' as Effect] : effects)), base)
        .map(([effect, then]) => v({ t: 'effect', effect, then })),
    },
  );
}

const FILTERS = [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10];
/** READ, WRITE, VNODE, EXCEPT: their ident names a descriptor. */
const DESCRIPTOR_FILTERS = new Set([-1, -2, -4, -8]);
const filterVal = fc.oneof(
  { weight: 14, arbitrary: fc.constantFrom(-9, -9, -9, -9, -7, -7, -7, -1, -1, -2, -3, -4, -5, -6, -8, -10).map(num) },
  { weight: 2, arbitrary: fc.constantFrom(-11, 0, 1, -32768, 32767, -65536, 2 ** 40, -(2 ** 53)).map(num) },
  { weight: 1, arbitrary: fc.bigInt({ min: -12n, max: 1n }).map((x) => v({ t: 'big', v: x })) },
  { weight: 1, arbitrary: fc.constantFrom<Val>({ t: 'absent' }, { t: 'undef' }) },
  { weight: 2, arbitrary: plainVal },
);
const flagsVal = fc.oneof(
  {
    weight: 14,
    arbitrary: fc.subarray([EV_ADD, EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH])
      .map((a) => num(a.reduce((x, y) => x | y, 0))),
  },
  { weight: 2, arbitrary: fc.constantFrom<Val>({ t: 'absent' }, { t: 'undef' }) },
  { weight: 2, arbitrary: plainVal },
);
const fflagsVal = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.tuple(fc.boolean(), fc.constantFrom(0, NOTE_FFAND, NOTE_FFOR, NOTE_FFCOPY), fc.nat(0xffffff))
      .map(([trig, op, bits]) => num((trig ? NOTE_TRIGGER : 0) | op | (bits & 0xff))),
  },
  { weight: 3, arbitrary: fc.constantFrom<Val>({ t: 'absent' }, num(NOTE_TRIGGER)) },
  { weight: 2, arbitrary: plainVal },
);
const dataVal = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: -3, max: 40 }).map(num) },
  { weight: 3, arbitrary: fc.constantFrom<Val>({ t: 'absent' }) },
  { weight: 3, arbitrary: plainVal },
);
const identVal = fc.oneof(
  { weight: 10, arbitrary: fc.nat(POOL_SIZE - 1).map((i) => v({ t: 'pool', i })) },
  { weight: 1, arbitrary: fc.constantFrom<Val>({ t: 'absent' }) },
  { weight: 2, arbitrary: plainVal },
);

function changeArb(effects: readonly Effect[]): fc.Arbitrary<ChangeSpec> {
  const f = fc.record(
    {
      ident: hostileField(identVal, effects),
      filter: hostileField(filterVal, effects),
      flags: hostileField(flagsVal, effects),
      fflags: hostileField(fflagsVal, effects),
      data: hostileField(dataVal, effects),
      udata: hostileField(plainVal, effects),
    },
    { requiredKeys: ['ident', 'filter'] },
  );
  const box = fc.constantFrom<Box>('plain', 'plain', 'plain', 'plain', 'frozen', 'getters', 'proxy', 'nullproto', 'inherited', 'fnobj');
  return fc.oneof(
    { weight: 20, arbitrary: fc.record({ c: fc.constant('obj' as const), box, f, trap: fc.option(throwKind, { freq: 4 }) }) },
    { weight: 1, arbitrary: plainVal.map((x): ChangeSpec => ({ c: 'prim', v: x })) },
    { weight: 1, arbitrary: fc.constant<ChangeSpec>({ c: 'revoked' }) },
  );
}

function listArb(effects: readonly Effect[]): fc.Arbitrary<ListSpec> {
  const kind = fc.oneof(
    { weight: 16, arbitrary: fc.constant<ListKind>('array') },
    { weight: 5, arbitrary: fc.constant<ListKind>('null') },
    {
      weight: 12,
      arbitrary: fc.constantFrom<ListKind>(
        'frozenArray', 'sparse', 'patchedArray', 'generator', 'throwingGenerator', 'set', 'customIter',
        'badIterResult', 'iterNotObject', 'iterGetterThrows', 'proxyArray', 'undef', 'nonIterable', 'num',
        'string', 'typed', 'map', 'returnThrows',
      ),
    },
  );
  return fc.record({ k: kind, items: fc.array(changeArb(effects), { maxLength: 6 }), at: fc.nat(6), kind: throwKind });
}

const neventsVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(0, 1, 1, 2, 3, 5, 8, 64, 1000).map(num) },
  { weight: 2, arbitrary: fc.constantFrom(-1, 0.5, 2 ** 53, 1e300, NaN, Infinity, -0, 2 ** 32).map(num) },
  { weight: 2, arbitrary: plainVal },
);

const timeoutArb: fc.Arbitrary<TimeoutSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 0, 0, 1, 5, 20, 1000, -1, -Infinity, Infinity).map((x): TimeoutSpec => ({ k: 'v', v: num(x) })) },
  { weight: 4, arbitrary: fc.constantFrom<TimeoutSpec>({ k: 'v', v: { t: 'null' } }, { k: 'v', v: { t: 'undef' } }, { k: 'v', v: { t: 'absent' } }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('ts' as const),
      box: fc.constantFrom<Box>('plain', 'frozen', 'getters', 'proxy', 'inherited'),
      sec: hostileField(fc.oneof(fc.constantFrom(0, 0, 1, -1, 0.5, NaN, Infinity, -Infinity).map(num), plainVal), []),
      nsec: hostileField(fc.oneof(fc.constantFrom(0, 0, 1, 5e6, 999_999_999, 1e9, -1, 0.5, NaN).map(num), plainVal), []),
      trap: fc.option(throwKind, { freq: 4 }),
    }),
  },
  { weight: 2, arbitrary: plainVal.map((x): TimeoutSpec => ({ k: 'v', v: x })) },
  { weight: 1, arbitrary: throwKind.map((kind): TimeoutSpec => ({ k: 'v', v: { t: 'throw', kind } })) },
);

const sigArb: fc.Arbitrary<SigSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<SigSpec>({ s: 'absent' }) },
  { weight: 6, arbitrary: fc.nat(CTRLS - 1).map((i): SigSpec => ({ s: 'ctrl', i })) },
  { weight: 2, arbitrary: fc.constant<SigSpec>({ s: 'aborted' }) },
  { weight: 1, arbitrary: fc.constant<SigSpec>({ s: 'fake' }) },
  { weight: 1, arbitrary: fc.nat(CTRLS - 1).map((i): SigSpec => ({ s: 'proxy', i })) },
  { weight: 2, arbitrary: hostileField(plainVal, []).map((x): SigSpec => ({ s: 'val', v: x })) },
);
const optArb: fc.Arbitrary<OptSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<OptSpec>({ k: 'v', v: { t: 'absent' } }, { k: 'v', v: { t: 'undef' } }, { k: 'v', v: { t: 'null' } }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('o' as const),
      box: fc.constantFrom<Box>('plain', 'plain', 'frozen', 'getters', 'proxy', 'nullproto', 'inherited'),
      signal: sigArb,
      nevents: fc.oneof({ weight: 3, arbitrary: fc.constant<Val>({ t: 'absent' }) }, { weight: 3, arbitrary: neventsVal }, { weight: 1, arbitrary: throwKind.map((kind) => v({ t: 'throw', kind })) }),
      trap: fc.option(throwKind, { freq: 4 }),
    }),
  },
  { weight: 1, arbitrary: plainVal.map((x): OptSpec => ({ k: 'v', v: x })) },
);

function cmdArb(effects: readonly Effect[], withCloseT: boolean): fc.Arbitrary<Cmd> {
  const list = listArb(effects);
  const kqSpec = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<KqSpec>({ k: 'T' }, { k: 'S' }, { k: 'closed' }, { k: 'proxyT' }) },
    { weight: 1, arbitrary: throwKind.map((kind): KqSpec => ({ k: 'throwProxy', kind })) },
    { weight: 1, arbitrary: plainVal.map((x): KqSpec => ({ k: 'v', v: x })) },
  );
  return fc.oneof(
    { weight: 30, arbitrary: fc.record({ c: fc.constant('sync' as const), list, n: neventsVal }) },
    { weight: 18, arbitrary: fc.record({ c: fc.constant('async' as const), list, n: neventsVal, to: timeoutArb, opt: optArb }) },
    { weight: 7, arbitrary: fc.record({ c: fc.constant('free' as const), kq: kqSpec, list, n: neventsVal, to: timeoutArb, opt: optArb }) },
    { weight: 5, arbitrary: fc.record({ c: fc.constant('events' as const), opt: fc.option(optArb, { freq: 4 }) }) },
    { weight: 5, arbitrary: fc.record({ c: fc.constant('pull' as const), i: fc.nat(7) }) },
    { weight: 9, arbitrary: fc.record({ c: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constantFrom(0, 100, 1000)) }) },
    { weight: 7, arbitrary: fc.constant<Cmd>({ c: 'turn' }) },
    { weight: 3, arbitrary: fc.constant<Cmd>({ c: 'micro' }) },
    { weight: 3, arbitrary: fc.record({ c: fc.constant('abort' as const), i: fc.nat(CTRLS - 1) }) },
    { weight: 1, arbitrary: fc.constant<Cmd>({ c: 'closeSpare' }) },
    { weight: withCloseT ? 1 : 0, arbitrary: fc.constant<Cmd>({ c: 'closeT' }) },
  );
}

// ---- run context ----------------------------------------------------------------------------------

/** What the call's arguments make acceptable, gathered while they are built. */
interface Acc {
  /** Some argument is malformed (api.md): EINVAL is expected and success is not. */
  malformed: boolean;
  /** Not malformed per the contract, but EINVAL is a reasonable answer too. */
  lenient: boolean;
  /** The caller's throwables that a complete read of the arguments certainly reaches. */
  must: Set<unknown>;
  /** The caller's throwables behind proxy traps a correct implementation may or may not hit. */
  may: Set<unknown>;
  /** Throwables behind traps that only writing to the caller's objects would hit. */
  forbidden: Set<unknown>;
  /** A revoked proxy is read: its TypeError (or EINVAL) is acceptable; success is not. */
  revoked: boolean;
  /** A revoked proxy is handed over as a value (an ident, udata): a TypeError is acceptable if it
   *  is touched, but a correct call need not touch it. */
  mayRevoked: boolean;
  /** A getter of the caller changed state while the call read its arguments. */
  sideEffects: boolean;
  /** Changes the call reaches, in order (for matching EV_ERROR entries). */
  changes: { ident: unknown; udata: unknown; receipt: boolean }[];
  /** Plain change objects and a copy of their own properties, to show they are not written to. */
  plain: { obj: object; copy: [PropertyKey, unknown][] }[];
}
function newAcc(): Acc {
  return {
    malformed: false, lenient: false, must: new Set(), may: new Set(), forbidden: new Set(), revoked: false, mayRevoked: false,
    sideEffects: false, changes: [], plain: [],
  };
}
const clean = (a: Acc): boolean => !a.malformed && !a.revoked && a.must.size === 0;

interface Witness { ident: symbol; udata: object }
interface Tracked { what: string; settled: boolean }
interface Iter {
  it: AsyncIterator<KEvent>;
  acc: Acc;
  signal: AbortSignal | undefined;
  settled: boolean;
  done: boolean;
  what: string;
}

interface Ctx {
  clock: VClock;
  T: Kq;
  W: Kq;
  S: Kq;
  C: Kq;
  pool: unknown[];
  ctrls: AbortController[];
  /** Every value handed to the library: an event's ident and udata must be one of them. */
  known: Set<unknown>;
  /** Hostile objects that must never be touched by this test's own code. */
  hostile: WeakSet<object>;
  /** Idents used in changes (to delete every fuzzed knote before the final check). */
  used: Set<unknown>;
  kqs: Set<unknown>;
  tracked: Tracked[];
  iters: Iter[];
  failures: string[];
  /** Witness knotes in T: wB never triggered, wC triggered but disabled, wD EV_CLEAR triggered once,
   *  wE EV_ONESHOT triggered, wT a 7 ms timer. Their events are counted wherever they appear. */
  wB: Witness; wC: Witness; wD: Witness; wE: Witness; wT: Witness;
  seenD: number; seenE: number; timerSum: number;
  /** W (never called by the fuzzer): wA level-triggered, wU a 5 ms timer. */
  wA: Witness; wU: Witness;
  /** An events() iterator stopped by its signal may drop what it had harvested (see faults.test). */
  lossy: boolean;
  /** Live timer knotes in the process when the run began: every run must give its own back. */
  timersAtStart: number;
  calls: number;
  allowCloseT: boolean;
  cmdIndex: number;
}

const unhandled: unknown[] = [];

function witness(name: string): Witness {
  return { ident: Symbol(name), udata: { witness: name } };
}

function setup(allowCloseT: boolean): Ctx {
  const clock = new VirtualClock(0);
  const T = kqueue({ clock });
  const W = kqueue({ clock });
  const S = kqueue({ clock });
  const C = kqueue({ clock });
  C.close();
  const hostile = new WeakSet<object>();
  const trapAll = (th: unknown): ProxyHandler<object> => {
    const thrower = (): never => { throw th; };
    return {
      get: thrower, has: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower, getPrototypeOf: thrower,
      set: thrower, defineProperty: thrower, deleteProperty: thrower, isExtensible: thrower, preventExtensions: thrower,
      setPrototypeOf: thrower, apply: thrower, construct: thrower,
    };
  };
  const trapTh = makeThrowable('error');
  const trapProxy = new Proxy(function trapped() {}, trapAll(trapTh));
  hostile.add(trapProxy);
  proxyThrowables.set(trapProxy, [trapTh]);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  hostile.add(revoked.proxy);
  const thenThrow = makeThrowable('object');
  const badThenable = Object.defineProperty({}, 'then', { get() { throw thenThrow; }, enumerable: true });
  hostile.add(badThenable);
  proxyThrowables.set(badThenable, [thenThrow]);
  const pool: unknown[] = [
    'a', 7, 7n, NaN, -0, Symbol('p5'), {}, Object.freeze({}), function fn() {}, null, undefined,
    T, W, C, S, trapProxy, revoked.proxy, true, 2 ** 60, -(2n ** 63n), 'SIGUSR1', badThenable,
    Promise.resolve(1), Object.freeze([1]), Object.create(null), clock, '', 2 ** 32 + 3,
  ];
  assert.equal(pool.length, POOL_SIZE);
  const ctx: Ctx = {
    clock, T, W, S, C, pool,
    ctrls: Array.from({ length: CTRLS }, () => new AbortController()),
    known: new Set(pool), hostile, used: new Set(), kqs: new Set([T, W, S, C]),
    tracked: [], iters: [], failures: [],
    wB: witness('wB'), wC: witness('wC'), wD: witness('wD'), wE: witness('wE'), wT: witness('wT'),
    seenD: 0, seenE: 0, timerSum: 0,
    wA: witness('wA'), wU: witness('wU'),
    lossy: false, timersAtStart: liveTimerCount(), calls: 0, allowCloseT, cmdIndex: -1,
  };
  const reg = T.keventSync([
    { ident: ctx.wB.ident, filter: EVFILT_USER, flags: EV_ADD, udata: ctx.wB.udata },
    { ident: ctx.wC.ident, filter: EVFILT_USER, flags: EV_ADD | EV_DISABLE, fflags: NOTE_TRIGGER, udata: ctx.wC.udata },
    { ident: ctx.wD.ident, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER | NOTE_FFCOPY | 0x42, data: 9, udata: ctx.wD.udata },
    { ident: ctx.wE.ident, filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER, data: 5, udata: ctx.wE.udata },
    { ident: ctx.wT.ident, filter: EVFILT_TIMER, flags: EV_ADD, data: 7, udata: ctx.wT.udata },
  ], 0);
  assert.deepEqual(reg, []);
  assert.deepEqual(W.keventSync([
    { ident: ctx.wA.ident, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER | NOTE_FFCOPY | 0x7, data: 3, udata: ctx.wA.udata },
    { ident: ctx.wU.ident, filter: EVFILT_TIMER, flags: EV_ADD, data: 5, udata: ctx.wU.udata },
  ], 0), []);
  for (const w of [ctx.wB, ctx.wC, ctx.wD, ctx.wE, ctx.wT, ctx.wA, ctx.wU]) ctx.known.add(w.udata);
  return ctx;
}

// ---- building hostile values from specs ---------------------------------------------------------

const THROWS = Symbol('the getter throws');

function runEffect(effect: Effect, ctx: Ctx): void {
  switch (effect) {
    case 'nestedSync': {
      // A re-entrant call from inside the caller's getter: legal, and its events count like any.
      try {
        const r = ctx.T.keventSync([{ ident: ctx.pool[0] as K.Ident, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER }], 3);
        ctx.used.add(ctx.pool[0]);
        checkEvents(ctx, r, null, 3, 'a re-entrant keventSync from a getter');
      } catch (e) {
        if (!(ctx.T.closed && isWellFormedKqueueError(e) && e.errno === EBADF)) {
          ctx.failures.push(`a re-entrant keventSync from a getter threw ${describe(ctx, e)}`);
        }
      }
      break;
    }
    case 'advance': ctx.clock.advance(3); break;
    case 'abort': abortCtrl(ctx, 0); break;
    case 'closeT': ctx.T.close(); break;
  }
}

function abortCtrl(ctx: Ctx, i: number): void {
  const s = ctx.ctrls[i]!.signal;
  if (!s.aborted) for (const it of ctx.iters) if (!it.done && it.signal === s) ctx.lossy = true;
  ctx.ctrls[i]!.abort();
}

function makeValue(x: Val, ctx: Ctx): unknown {
  let out: unknown;
  switch (x.t) {
    case 'absent': case 'undef': out = undefined; break;
    case 'null': out = null; break;
    case 'num': case 'big': case 'str': case 'bool': out = x.v; break;
    case 'sym': out = Symbol('fuzz'); break;
    case 'obj': out = { fuzz: true }; break;
    case 'frozen': out = Object.freeze({ fuzz: 'frozen' }); break;
    case 'arr': out = [1, 2]; break;
    case 'fn': out = function fuzz() {}; break;
    case 'boxed': {
      const n = x.v;
      out = { valueOf: () => n, toString: () => String(n), [Symbol.toPrimitive]: () => n };
      break;
    }
    case 'pool': out = ctx.pool[x.i % POOL_SIZE]; break;
    case 'throw': case 'effect': throw new Error('makeValue: a getter spec has no plain value');
  }
  ctx.known.add(out);
  return out;
}

/** Notes what using `value` as an ident or field costs: a proxy's traps may throw. */
function noteHostileValue(value: unknown, ctx: Ctx, acc: Acc | null): void {
  if (acc === null || (typeof value !== 'object' && typeof value !== 'function') || value === null) return;
  if (!ctx.hostile.has(value)) return;
  if (value === ctx.pool[16]) acc.mayRevoked = true; // the revoked proxy: any use is a TypeError
  else for (const th of hostileThrowables(value)) acc.may.add(th);
}
const proxyThrowables = new WeakMap<object, unknown[]>();
function hostileThrowables(p: object): unknown[] {
  return proxyThrowables.get(p) ?? [];
}

interface BuiltField { desc: PropertyDescriptor | undefined; value: unknown; present: boolean }

/** A property for field spec `x`: a data property, or a getter that throws or has an effect. */
function buildField(x: Val, ctx: Ctx, acc: Acc | null, asGetter: boolean): BuiltField {
  if (x.t === 'absent') return { desc: undefined, value: undefined, present: false };
  if (x.t === 'throw') {
    const th = makeThrowable(x.kind);
    acc?.must.add(th);
    return { desc: { get() { throw th; }, enumerable: true, configurable: true }, value: THROWS, present: true };
  }
  if (x.t === 'effect') {
    const inner = buildField(x.then, ctx, acc, false);
    if (acc !== null) acc.sideEffects = true;
    const effect = x.effect;
    const val = inner.value;
    const innerGet = inner.desc?.get;
    return {
      desc: {
        get() {
          runEffect(effect, ctx);
          return innerGet !== undefined ? innerGet() : val;
        },
        enumerable: true, configurable: true,
      },
      value: inner.value, present: inner.present,
    };
  }
  const value = makeValue(x, ctx);
  noteHostileValue(value, ctx, acc);
  const desc: PropertyDescriptor = asGetter
    ? { get: () => value, enumerable: true, configurable: true }
    : { value, enumerable: true, writable: true, configurable: true };
  return { desc, value, present: true };
}

/** Wraps own property descriptors in the requested kind of object. */
function buildBox(box: Box, descs: PropertyDescriptorMap, trap: ThrowKind | null, ctx: Ctx, acc: Acc | null): object {
  switch (box) {
    case 'plain': case 'getters': return Object.defineProperties({}, descs);
    case 'frozen': return Object.freeze(Object.defineProperties({}, descs));
    case 'nullproto': return Object.defineProperties(Object.create(null) as object, descs);
    case 'inherited': return Object.create(Object.defineProperties({}, descs)) as object;
    case 'fnobj': return Object.defineProperties(function change() {}, descs);
    case 'proxy': {
      const target = Object.defineProperties({}, descs);
      const handler: ProxyHandler<object> = { get: (t, k) => Reflect.get(t, k, t) };
      if (trap !== null) {
        const readTh = makeThrowable(trap);
        const writeTh = makeThrowable(trap);
        acc?.may.add(readTh);
        acc?.forbidden.add(writeTh);
        const r = (): never => { throw readTh; };
        const w = (): never => { throw writeTh; };
        Object.assign(handler, {
          has: r, ownKeys: r, getOwnPropertyDescriptor: r, getPrototypeOf: r, isExtensible: r,
          set: w, defineProperty: w, deleteProperty: w, preventExtensions: w, setPrototypeOf: w,
        });
      }
      const p = new Proxy(target, handler);
      if (trap !== null) ctx.hostile.add(p);
      return p;
    }
  }
}

const isIntNumber = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x);
function dataOk(x: unknown): boolean {
  if (x === undefined) return true;
  if (typeof x === 'number') return Number.isInteger(x) && x >= -(2 ** 63) && x < 2 ** 63;
  if (typeof x === 'bigint') return x >= -(2n ** 63n) && x <= 2n ** 63n - 1n;
  return false;
}
const uintOk = (x: unknown): boolean => x === undefined || isIntNumber(x) || typeof x === 'bigint';
const filterOk = (x: unknown): boolean => isIntNumber(x) || typeof x === 'bigint';
function receiptOf(flags: unknown): boolean {
  if (typeof flags === 'number' && Number.isInteger(flags)) return ((flags & 0xffff) & EV_RECEIPT) !== 0;
  if (typeof flags === 'bigint') return (BigInt.asUintN(16, flags) & BigInt(EV_RECEIPT)) !== 0n;
  return false;
}

/** Builds one change; `acc` is null for changes the call can never reach. */
function buildChange(spec: ChangeSpec, ctx: Ctx, acc: Acc | null): unknown {
  if (spec.c === 'revoked') {
    if (acc !== null) acc.revoked = true;
    const r = Proxy.revocable({}, {});
    r.revoke();
    ctx.hostile.add(r.proxy);
    return r.proxy;
  }
  if (spec.c === 'prim') {
    const x = spec.v.t === 'throw' || spec.v.t === 'effect' ? v({ t: 'undef' }) : spec.v;
    const value = makeValue(x, ctx);
    noteHostileValue(value, ctx, acc);
    // Not an object, or an object without an integer filter: a malformed change either way.
    if (acc !== null) acc.malformed = true;
    return value;
  }
  const descs: PropertyDescriptorMap = {};
  const values: Partial<Record<Field, unknown>> = {};
  let present: Partial<Record<Field, boolean>> = {};
  for (const field of FIELDS) {
    const b = buildField(spec.f[field] ?? { t: 'absent' }, ctx, acc, spec.box === 'getters');
    if (b.desc !== undefined) descs[field] = b.desc;
    values[field] = b.value;
    present = { ...present, [field]: b.present };
  }
  const obj = buildBox(spec.box, descs, spec.trap, ctx, acc);
  if (acc !== null) {
    const ok = (field: Field, test: (x: unknown) => boolean): boolean => values[field] === THROWS || test(values[field]);
    const filterGood = present.filter === true && ok('filter', filterOk);
    if (!filterGood || !ok('flags', uintOk) || !ok('fflags', uintOk) || !ok('data', dataOk)) acc.malformed = true;
    // An EVFILT_SIGNAL change naming no signal is a malformed call too (api.md, idents per filter).
    if (filterGood && values.filter !== THROWS && Number(values.filter) === K.EVFILT_SIGNAL && typeof values.ident === 'string'
      && !Object.prototype.hasOwnProperty.call(os.constants.signals, values.ident)) acc.malformed = true;
    acc.changes.push({ ident: values.ident, udata: values.udata, receipt: receiptOf(values.flags) });
    if (values.ident !== THROWS) ctx.used.add(values.ident);
    if (spec.box === 'plain' && Object.values(descs).every((d) => 'value' in d)) {
      acc.plain.push({ obj, copy: Reflect.ownKeys(obj).map((k) => [k, (obj as Record<PropertyKey, unknown>)[k]]) });
    }
  }
  return obj;
}

/** Builds a changelist; items the iteration can never reach are built without being counted. */
function buildList(spec: ListSpec, ctx: Ctx, acc: Acc): unknown {
  const reach = (n: number): unknown[] => spec.items.map((s, i) => buildChange(s, ctx, i < n ? acc : null));
  const all = (): unknown[] => reach(spec.items.length);
  /** Kinds whose iteration never yields the items as changes still build them (for the spec). */
  const none = (): unknown[] => reach(0);
  const len = spec.items.length;
  switch (spec.k) {
    case 'null': return null;
    case 'undef': return undefined;
    case 'array': return all();
    case 'frozenArray': return Object.freeze(all());
    case 'sparse': {
      const at = spec.at % (len + 1);
      const items = reach(len);
      const arr: unknown[] = new Array(len + 1);
      for (let i = 0, j = 0; i <= len; i++) if (i !== at) arr[i] = items[j++];
      acc.malformed = true; // the hole reads as undefined: not an object
      return arr;
    }
    case 'patchedArray': {
      // An array whose own iterator yields its items in reverse: the iterator decides.
      const items = spec.items.slice().reverse().map((s) => buildChange(s, ctx, acc));
      const arr = items.slice().reverse();
      Object.defineProperty(arr, Symbol.iterator, { value: function* () { yield* items; } });
      return arr;
    }
    case 'generator': {
      const items = all();
      return { *[Symbol.iterator]() { yield* items; } };
    }
    case 'throwingGenerator': {
      const at = Math.min(spec.at, len);
      const items = reach(at);
      const th = makeThrowable(spec.kind);
      acc.must.add(th);
      return { *[Symbol.iterator]() { for (let i = 0; i < at; i++) yield items[i]; throw th; } };
    }
    case 'set': return new Set(all());
    case 'customIter': {
      const items = all();
      return {
        [Symbol.iterator]() {
          let i = 0;
          return { next: () => (i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true }) };
        },
      };
    }
    case 'returnThrows': {
      const items = all();
      const th = makeThrowable(spec.kind);
      acc.may.add(th);
      return {
        [Symbol.iterator]() {
          let i = 0;
          return {
            next: () => (i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true }),
            return: (): never => { throw th; },
          };
        },
      };
    }
    case 'badIterResult': {
      // The iterator breaks the protocol (a result that is not an object): a malformed changelist.
      const at = Math.min(spec.at, len);
      const items = reach(at);
      acc.malformed = true;
      return {
        [Symbol.iterator]() {
          let i = 0;
          return { next: () => (i < at ? { value: items[i++], done: false } : 42) };
        },
      };
    }
    case 'iterNotObject':
      none();
      acc.malformed = true;
      return { [Symbol.iterator]: () => 42 };
    case 'iterGetterThrows': {
      const th = makeThrowable(spec.kind);
      acc.must.add(th);
      return Object.defineProperty({}, Symbol.iterator, { get() { throw th; } });
    }
    case 'proxyArray': {
      const at = spec.at;
      const items = reach(Math.min(at, len));
      const th = makeThrowable(spec.kind);
      if (at < len) acc.must.add(th);
      const p = new Proxy(items, {
        get(t, k, r) {
          if (k === String(at)) throw th;
          return Reflect.get(t, k, r) as unknown;
        },
      });
      ctx.hostile.add(p);
      return p;
    }
    case 'nonIterable': none(); acc.malformed = true; return { length: len };
    case 'num': none(); acc.malformed = true; return spec.at;
    case 'string': {
      none();
      const s = 'ab'.slice(0, spec.at % 3);
      if (s.length !== 0) acc.malformed = true;
      return s;
    }
    case 'typed': {
      none();
      const n = spec.at % 3;
      if (n !== 0) acc.malformed = true;
      return new Uint8Array(n);
    }
    case 'map': {
      // Entries are [key, change] arrays: objects without a filter.
      const items = reach(0);
      if (items.length !== 0) acc.malformed = true;
      return new Map(items.map((it, i) => [i, it]));
    }
  }
}

function buildNevents(x: Val, ctx: Ctx, acc: Acc): unknown {
  if (x.t === 'throw' || x.t === 'effect') return 1;
  const value = makeValue(x, ctx);
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) acc.malformed = true;
  return value;
}

/** Builds a timeout; returns the value and the milliseconds it means (NaN when malformed). */
function buildTimeout(spec: TimeoutSpec, ctx: Ctx, acc: Acc): { value: unknown; absent: boolean } {
  if (spec.k === 'v') {
    if (spec.v.t === 'absent') return { value: undefined, absent: true };
    if (spec.v.t === 'throw') {
      // A timeout is a value, not a property: stand in a {sec, nsec} whose sec getter throws.
      const th = makeThrowable(spec.v.kind);
      acc.must.add(th);
      return { value: Object.defineProperty({ nsec: 0 }, 'sec', { get() { throw th; } }), absent: false };
    }
    const value = makeValue(spec.v.t === 'effect' ? spec.v.then : spec.v, ctx);
    noteHostileValue(value, ctx, acc);
    if (value === undefined || value === null) return { value, absent: false };
    if (typeof value === 'number') {
      if (Number.isNaN(value)) acc.malformed = true;
      return { value, absent: false };
    }
    // No hostile object has a valid sec and nsec: reading them throws, or finds none (EINVAL).
    if (typeof value === 'object' && ctx.hostile.has(value)) {
      acc.malformed = true;
      return { value, absent: false };
    }
    if (typeof value === 'object') {
      const o = value as { sec?: unknown; nsec?: unknown };
      if (!tsFieldsOk(o.sec, o.nsec)) acc.malformed = true;
      return { value, absent: false };
    }
    if (typeof value !== 'object') acc.malformed = true;
    return { value, absent: false };
  }
  const sec = buildField(spec.sec, ctx, acc, spec.box === 'getters');
  const nsec = buildField(spec.nsec, ctx, acc, spec.box === 'getters');
  const descs: PropertyDescriptorMap = {};
  if (sec.desc) descs.sec = sec.desc;
  if (nsec.desc) descs.nsec = nsec.desc;
  const value = buildBox(spec.box, descs, spec.trap, ctx, acc);
  if ((sec.value !== THROWS && nsec.value !== THROWS) && !tsFieldsOk(sec.value, nsec.value)) acc.malformed = true;
  else if (sec.value !== THROWS && nsec.value === THROWS && !(typeof sec.value === 'number' && !Number.isNaN(sec.value))) acc.malformed = true;
  else if (nsec.value !== THROWS && sec.value === THROWS && !nsecOk(nsec.value)) acc.malformed = true;
  return { value, absent: false };
}
const nsecOk = (n: unknown): boolean => typeof n === 'number' && n >= 0 && n < 1e9;
const tsFieldsOk = (sec: unknown, nsec: unknown): boolean =>
  typeof sec === 'number' && !Number.isNaN(sec) && nsecOk(nsec);

/** Builds kevent/events options; returns the signal the call may be interrupted by. */
function buildOptions(spec: OptSpec, ctx: Ctx, acc: Acc, forEvents: boolean): { value: unknown; absent: boolean; signal: AbortSignal | undefined } {
  if (spec.k === 'v') {
    if (spec.v.t === 'absent') return { value: undefined, absent: true, signal: undefined };
    const value = makeValue(spec.v.t === 'throw' || spec.v.t === 'effect' ? v({ t: 'undef' }) : spec.v, ctx);
    noteHostileValue(value, ctx, acc);
    if (value === undefined || value === null) return { value, absent: false, signal: undefined };
    if (typeof value === 'object') {
      // A pool object as options: it has no signal (and no nevents).
      if (ctx.hostile.has(value) || value instanceof Kqueue || value instanceof VirtualClock) acc.lenient = true;
      return { value, absent: false, signal: undefined };
    }
    if (forEvents) acc.lenient = true; // events(5): a number has no nevents; ignoring it is fine too
    else acc.malformed = true;
    return { value, absent: false, signal: undefined };
  }
  const descs: PropertyDescriptorMap = {};
  let signal: AbortSignal | undefined;
  const s = spec.signal;
  const asGetter = spec.box === 'getters';
  const put = (value: unknown): void => {
    descs.signal = asGetter ? { get: () => value, enumerable: true } : { value, enumerable: true };
  };
  switch (s.s) {
    case 'absent': break;
    case 'ctrl': signal = ctx.ctrls[s.i % CTRLS]!.signal; put(signal); break;
    case 'aborted': signal = AbortSignal.abort(); put(signal); break;
    case 'fake': put(Object.create(AbortSignal.prototype)); acc.malformed = true; break;
    case 'proxy': {
      // A transparent proxy of a real signal: using it as the signal, or EINVAL, are both fine.
      signal = ctx.ctrls[s.i % CTRLS]!.signal;
      put(new Proxy(signal, {}));
      acc.lenient = true;
      break;
    }
    case 'val': {
      const b = buildField(s.v, ctx, acc, asGetter);
      if (b.desc) descs.signal = b.desc;
      if (b.value !== THROWS && b.present && b.value !== undefined) {
        if (b.value === null) acc.lenient = true;
        else acc.malformed = true;
      }
      break;
    }
  }
  if (forEvents) {
    const b = buildField(spec.nevents, ctx, acc, asGetter);
    if (b.desc) descs.nevents = b.desc;
    if (b.value !== THROWS && b.present && b.value !== undefined && b.value !== null) {
      const n = b.value;
      if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1)) acc.malformed = true; // events() takes nevents >= 1
    }
  }
  const value = buildBox(spec.box, descs, spec.trap, ctx, acc);
  return { value, absent: false, signal };
}

// ---- the oracle -----------------------------------------------------------------------------------

function describe(ctx: Ctx | null, x: unknown): string {
  if ((typeof x === 'object' || typeof x === 'function') && x !== null && ctx?.hostile.has(x)) return '<a hostile object>';
  if (x instanceof CallerError) return `CallerError#${x.serial}`;
  if (x instanceof KqueueError) return `KqueueError(${String(x.code)}, errno ${String(x.errno)}: ${x.message})`;
  if (x instanceof Error) return `${x.name}: ${x.message}`;
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'function') return '<function>';
  if (typeof x === 'object' && x !== null) {
    try {
      return `object ${JSON.stringify(x)}`;
    } catch {
      return '<object>';
    }
  }
  return String(x);
}

const sameValueZero = (a: unknown, b: unknown): boolean => a === b || (a !== a && b !== b);

/** Checks a batch of events: shape, the EV_ERROR rules, and the witnesses' images. */
function checkEvents(ctx: Ctx, events: unknown, acc: Acc | null, nevents: unknown, where: string): void {
  const fail = (msg: string): void => { ctx.failures.push(`${where}: ${msg}`); };
  if (!Array.isArray(events)) return fail(`resolved with a non-array ${describe(ctx, events)}`);
  const evs = events as KEvent[];
  if (typeof nevents === 'number' && evs.length > nevents) fail(`returned ${evs.length} entries for nevents ${nevents}`);
  const errors = evs.filter((e) => typeof e?.flags === 'number' && (e.flags & EV_ERROR) !== 0);
  if (errors.length !== 0 && errors.length !== evs.length) fail('mixed EV_ERROR entries with events (a call that posts errors returns at once)');
  let j = 0;
  const seen = new Map<number, Set<unknown>>();
  for (const ev of evs) {
    if (typeof ev !== 'object' || ev === null) { fail(`entry ${describe(ctx, ev)} is not an object`); continue; }
    const { filter, flags, fflags, data } = ev;
    if (!isIntNumber(filter)) fail(`filter ${describe(ctx, filter)} is not an integer`);
    if (!isIntNumber(fflags) || fflags < 0 || fflags > 0xffffffff) fail(`fflags ${describe(ctx, fflags)} is not an unsigned 32-bit integer`);
    // api.md: "data is a number unless a value exceeds 2^53, then a bigint" (exactly ±2^53 may be either).
    if (typeof data === 'bigint') {
      if (data > -(2n ** 53n) && data < 2n ** 53n) fail(`data ${data}n is a bigint although it does not exceed 2^53`);
      if (data < -(2n ** 63n) || data > 2n ** 63n - 1n) fail(`data ${data}n is outside int64`);
    } else if (!(typeof data === 'number' && Number.isInteger(data) && Math.abs(data) <= 2 ** 53)) {
      fail(`data ${describe(ctx, data)} is a number that is not an integer within ±2^53 (a larger count must be an exact bigint)`);
    }
    if (flags === EV_ERROR) {
      if (acc === null) { fail('an EV_ERROR entry from a call without changes'); continue; }
      while (j < acc.changes.length && !(sameValueZero(acc.changes[j]!.ident, ev.ident) && sameValueZero(acc.changes[j]!.udata, ev.udata))) j++;
      if (j === acc.changes.length) { fail(`EV_ERROR entry for ident ${describe(ctx, ev.ident)} matches no change, in order`); continue; }
      const ch = acc.changes[j++]!;
      if (data === 0) {
        if (!ch.receipt) fail('an EV_ERROR entry with data 0 for a change without EV_RECEIPT');
      } else if (typeof data !== 'number' || !PER_CHANGE_ERRNOS.has(data)) {
        fail(`EV_ERROR data ${describe(ctx, data)} is not an errno`);
      }
      continue;
    }
    if (!isIntNumber(flags) || flags < 0 || flags > 0xffff || (flags & EV_ERROR) !== 0) fail(`flags ${describe(ctx, flags)} are not a valid event's`);
    if (!(isIntNumber(filter) && filter >= -10 && filter <= -1)) fail(`event filter ${describe(ctx, filter)} is not a filter`);
    const byFilter = seen.get(filter) ?? new Set();
    if (byFilter.has(ev.ident)) fail(`knote (${filter}, ${describe(ctx, ev.ident)}) returned twice in one batch`);
    byFilter.add(ev.ident);
    seen.set(filter, byFilter);
    checkWitness(ctx, ev, fail);
    if (!isWitnessIdent(ctx, ev.ident)) {
      if (!ctx.known.has(ev.ident)) fail(`event ident ${describe(ctx, ev.ident)} was never given to the library`);
      if (!ctx.known.has(ev.udata)) fail(`event udata ${describe(ctx, ev.udata)} was never given to the library`);
    }
  }
}

function isWitnessIdent(ctx: Ctx, ident: unknown): boolean {
  return [ctx.wB, ctx.wC, ctx.wD, ctx.wE, ctx.wT, ctx.wA, ctx.wU].some((w) => w.ident === ident);
}

function checkWitness(ctx: Ctx, ev: KEvent, fail: (m: string) => void): void {
  const img = (w: Witness, filter: number, flags: number, fflags: number, data: number | bigint): void => {
    const got = { filter: ev.filter, flags: ev.flags, fflags: ev.fflags, data: ev.data, udataOk: ev.udata === w.udata };
    const want = { filter, flags, fflags, data, udataOk: true };
    try {
      assert.deepStrictEqual(got, want);
    } catch {
      fail(`witness ${w.ident.toString()} disturbed: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  };
  switch (ev.ident) {
    case ctx.wB.ident: fail('witness wB (never triggered) was delivered'); break;
    case ctx.wC.ident: fail('witness wC (disabled) was delivered'); break;
    case ctx.wD.ident: ctx.seenD++; img(ctx.wD, EVFILT_USER, EV_ADD | EV_CLEAR, 0x42, 9); break;
    case ctx.wE.ident: ctx.seenE++; img(ctx.wE, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 5); break;
    case ctx.wT.ident:
      if (typeof ev.data === 'number' && ev.data > 0) ctx.timerSum += ev.data;
      img(ctx.wT, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, typeof ev.data === 'number' && ev.data > 0 ? ev.data : -1);
      break;
    case ctx.wA.ident: case ctx.wU.ident: fail('a W witness turned up in a harvest of another kqueue'); break;
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
interface Allow { ebadf: boolean; eintr: boolean; nevents: unknown; closedDuring?: boolean }

/** Judges a call's outcome against what its arguments allow. */
function judge(ctx: Ctx, out: Outcome, acc: Acc, allow: Allow, where: string): void {
  const fail = (msg: string): void => { ctx.failures.push(`${where}: ${msg}`); };
  const problems = (): string => [
    acc.malformed ? 'a malformed argument' : '', acc.revoked ? 'a revoked proxy' : '',
    acc.must.size !== 0 ? `getters that throw (${[...acc.must].map((t) => describe(ctx, t)).join(', ')})` : '',
  ].filter(Boolean).join(' and ');
  for (const p of acc.plain) {
    const now = Reflect.ownKeys(p.obj).map((k) => [k, (p.obj as Record<PropertyKey, unknown>)[k]]);
    try {
      assert.deepStrictEqual(now, p.copy);
    } catch {
      fail('the call wrote to the caller\'s change object');
    }
  }
  if (out.ok) {
    if (allow.closedDuring) fail('succeeded although the kqueue was closed while the call read its arguments');
    if (!clean(acc)) return fail(`succeeded although its arguments hold ${problems()}`);
    checkEvents(ctx, out.value, acc, allow.nevents, where);
    return;
  }
  const e = out.error;
  if (acc.forbidden.has(e)) return fail('the call wrote to (or reconfigured) the caller\'s object: a write trap threw');
  if (acc.must.has(e) || acc.may.has(e)) return;
  if (e instanceof KqueueError) {
    if (!isWellFormedKqueueError(e)) {
      const bad = e as { code?: unknown; errno?: unknown };
      return fail(`KqueueError with code ${String(bad.code)} and errno ${String(bad.errno)} that do not match`);
    }
    if (e.errno === EINVAL && (acc.malformed || acc.lenient || acc.revoked)) return;
    if (e.errno === EBADF && allow.ebadf) return;
    if (e.errno === EINTR && allow.eintr) return;
    const n = allow.nevents;
    if (clean(acc) && PER_CHANGE_ERRNOS.has(e.errno) && typeof n === 'number' && n < acc.changes.length) return;
    return fail(`unexpected ${describe(ctx, e)} (arguments hold ${problems() || 'nothing wrong'})`);
  }
  if ((acc.revoked || acc.mayRevoked) && e instanceof TypeError && /revoked/.test(e.message)) return;
  fail(`let escape ${describe(ctx, e)}, which is neither a KqueueError nor the caller's own exception`);
}

// ---- kqueue state snapshots (white box: what a failed call must leave unchanged) ----------------

type Snapshot = unknown[] | null;
/** The knotes of a kqueue and every field of each; just the pending count if the shape is unknown. */
function snapshot(kq: Kq): Snapshot {
  const tables = (kq as unknown as { knotes?: unknown }).knotes;
  const out: unknown[] = [kq.pending, kq.closed];
  if (!Array.isArray(tables)) return out;
  for (const t of tables as unknown[]) {
    if (t === undefined) continue;
    let knotes: Record<string, unknown>[];
    if (t instanceof Map) knotes = [...(t as Map<unknown, Record<string, unknown>>).values()];
    else if (typeof (t as { all?: unknown }).all === 'function') knotes = (t as { all(): Record<string, unknown>[] }).all();
    else return [kq.pending, kq.closed];
    for (const kn of knotes) out.push(kn.ident, kn, kn.flags, kn.fflags, kn.data, kn.udata, kn.sfflags, kn.sdata, kn.hook);
  }
  return out;
}
function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}
/** A failed call applies nothing: the kqueue's knotes are exactly as before. */
function checkNothingApplied(ctx: Ctx, out: Outcome, acc: Acc, before: Snapshot, after: Snapshot, where: string): void {
  if (out.ok || acc.sideEffects) return;
  const e = out.error;
  const wholeCall = !clean(acc) || acc.may.has(e) || (e instanceof KqueueError && e.errno === EINVAL && acc.lenient)
    || (acc.mayRevoked && e instanceof TypeError);
  if (!wholeCall) return;
  if (!sameSnapshot(before, after)) ctx.failures.push(`${where}: failed with ${describe(ctx, e)} but left changes applied`);
}

// ---- commands -------------------------------------------------------------------------------------

async function turns(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
async function microtasks(n = 30): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

function track(ctx: Ctx, p: unknown, what: string, onSettle: (o: Outcome) => void): void {
  const t: Tracked = { what, settled: false };
  ctx.tracked.push(t);
  if (!(p instanceof Promise)) {
    t.settled = true;
    ctx.failures.push(`${what}: returned ${describe(ctx, p)} instead of a promise`);
    return;
  }
  p.then(
    (value: unknown) => { t.settled = true; onSettle({ ok: true, value }); },
    (error: unknown) => { t.settled = true; onSettle({ ok: false, error }); },
  );
}

function targetOf(ctx: Ctx, k: KqSpec['k']): Kq | null {
  switch (k) {
    case 'T': return ctx.T;
    case 'S': return ctx.S;
    case 'closed': return ctx.C;
    default: return null;
  }
}

async function exec(ctx: Ctx, cmd: Cmd): Promise<void> {
  const where = `command #${ctx.cmdIndex} (${cmd.c})`;
  const T = ctx.T;
  switch (cmd.c) {
    case 'sync': {
      const acc = newAcc();
      const list = buildList(cmd.list, ctx, acc);
      const n = buildNevents(cmd.n, ctx, acc);
      const wasClosed = T.closed;
      const before = snapshot(T);
      let out: Outcome;
      ctx.calls++;
      try {
        out = { ok: true, value: T.keventSync(list as Iterable<K.KEventInit>, n as number) };
      } catch (error) {
        out = { ok: false, error };
      }
      const closedDuring = !wasClosed && T.closed;
      if (!closedDuring) checkNothingApplied(ctx, out, acc, before, snapshot(T), where);
      judge(ctx, out, acc, { ebadf: T.closed, eintr: false, nevents: n, closedDuring }, where);
      break;
    }
    case 'async': case 'free': {
      const acc = newAcc();
      let target: unknown;
      let realTarget: Kq | null = null;
      if (cmd.c === 'async') {
        realTarget = T;
        target = T;
      } else {
        const k = cmd.kq;
        realTarget = targetOf(ctx, k.k);
        if (k.k === 'proxyT') {
          realTarget = T;
          target = new Proxy(T, {});
          acc.lenient = true;
        } else if (k.k === 'throwProxy') {
          const th = makeThrowable(k.kind);
          acc.may.add(th);
          const thrower = (): never => { throw th; };
          target = new Proxy({}, { get: thrower, getPrototypeOf: thrower, has: thrower });
          ctx.hostile.add(target as object);
        } else if (k.k === 'v') {
          target = makeValue(k.v.t === 'throw' || k.v.t === 'effect' ? v({ t: 'undef' }) : k.v, ctx);
          if (target === ctx.W) target = ctx.C; // W is never handed to a call
          noteHostileValue(target, ctx, acc);
          const obj = (typeof target === 'object' || typeof target === 'function') && target !== null;
          realTarget = obj && !ctx.hostile.has(target as object) && target instanceof Kqueue ? target : null;
        } else {
          target = realTarget;
        }
      }
      const list = buildList(cmd.list, ctx, acc);
      const n = buildNevents(cmd.n, ctx, acc);
      const to = buildTimeout(cmd.to, ctx, acc);
      const opt = buildOptions(cmd.opt, ctx, acc, false);
      const args: unknown[] = [list, n];
      if (!(to.absent && opt.absent)) args.push(to.value);
      if (!opt.absent) args.push(opt.value);
      const wasClosed = realTarget?.closed ?? true;
      const before = realTarget === null ? null : snapshot(realTarget);
      let p: unknown;
      ctx.calls++;
      try {
        p = cmd.c === 'async'
          ? (T.kevent as (...a: unknown[]) => unknown)(...args)
          : (kevent as (...a: unknown[]) => unknown)(target, ...args);
      } catch (e) {
        ctx.failures.push(`${where}: threw synchronously ${describe(ctx, e)} (a promise-returning call must reject)`);
        break;
      }
      const after = realTarget === null ? null : snapshot(realTarget);
      const closedDuring = realTarget !== null && !wasClosed && realTarget.closed;
      const notKq = realTarget === null;
      track(ctx, p, where, (out) => {
        if (!closedDuring && realTarget !== null) checkNothingApplied(ctx, out, acc, before, after, where);
        judge(ctx, out, acc, {
          ebadf: notKq || (realTarget?.closed ?? false), eintr: opt.signal !== undefined, nevents: n, closedDuring,
        }, where);
      });
      break;
    }
    case 'events': {
      const acc = newAcc();
      const opt = cmd.opt === null ? { value: undefined, absent: true, signal: undefined } : buildOptions(cmd.opt, ctx, acc, true);
      ctx.calls++;
      let iterable: unknown;
      try {
        iterable = opt.absent ? T.events() : T.events(opt.value as K.EventsOptions);
      } catch (e) {
        judge(ctx, { ok: false, error: e }, acc, { ebadf: false, eintr: false, nevents: undefined }, `${where} (events() itself)`);
        break;
      }
      const it = (iterable as AsyncIterable<KEvent>)[Symbol.asyncIterator]();
      const iter: Iter = { it, acc, signal: opt.signal, settled: true, done: false, what: `${where} iterator #${ctx.iters.length}` };
      if (opt.signal?.aborted) ctx.lossy = true;
      ctx.iters.push(iter);
      pull(ctx, iter);
      break;
    }
    case 'pull': {
      const iter = ctx.iters[cmd.i % Math.max(1, ctx.iters.length)];
      if (iter !== undefined && iter.settled && !iter.done) pull(ctx, iter);
      break;
    }
    case 'advance': ctx.clock.advance(cmd.ms); break;
    case 'turn': await turns(1); break;
    case 'micro': await microtasks(5); break;
    case 'abort': abortCtrl(ctx, cmd.i); break;
    case 'closeSpare': ctx.S.close(); break;
    case 'closeT': if (ctx.allowCloseT) T.close(); break;
  }
  if (T.closed && T.pending !== 0) ctx.failures.push(`${where}: a closed kqueue reports pending ${T.pending}`);
  if (!Number.isInteger(T.pending) || T.pending < 0) ctx.failures.push(`${where}: pending is ${T.pending}`);
}

function pull(ctx: Ctx, iter: Iter): void {
  iter.settled = false;
  ctx.calls++;
  let p: Promise<IteratorResult<KEvent>>;
  try {
    p = iter.it.next();
  } catch (e) {
    iter.settled = true;
    iter.done = true;
    ctx.failures.push(`${iter.what}: next() threw synchronously ${describe(ctx, e)}`);
    return;
  }
  track(ctx, p, `${iter.what} next()`, (out) => {
    iter.settled = true;
    if (!out.ok) {
      iter.done = true;
      judge(ctx, out, iter.acc, { ebadf: false, eintr: false, nevents: undefined }, `${iter.what} next()`);
      return;
    }
    const r = out.value as IteratorResult<KEvent>;
    if (r.done === true) {
      iter.done = true;
      if (!ctx.T.closed && !(iter.signal?.aborted ?? false)) {
        ctx.failures.push(`${iter.what}: ended although the kqueue is open and its signal was not aborted`);
      }
      return;
    }
    if (!clean(iter.acc)) ctx.failures.push(`${iter.what}: yielded although its options are malformed or throw`);
    checkEvents(ctx, [r.value], null, 1, `${iter.what} next()`);
  });
}

/** After the commands: drain, delete every fuzzed knote, then compare the witnesses exactly. */
async function finish(ctx: Ctx): Promise<void> {
  const { T, W, clock } = ctx;
  await turns(2);
  const tOpen = !T.closed;
  if (tOpen) {
    // Delete every knote the fuzzer may have made, one change per call (a failing one is ignored).
    for (const ident of ctx.used) {
      for (const filter of FILTERS) {
        const object = (typeof ident === 'object' || typeof ident === 'function') && ident !== null;
        // A descriptor filter resolves its ident (instanceof), which a proxy's traps would see.
        if (object && ctx.hostile.has(ident as object) && DESCRIPTOR_FILTERS.has(filter)) continue;
        try {
          // nevents 0: nothing is harvested (an ENOENT for a knote that does not exist throws).
          T.keventSync([{ ident: ident as K.Ident, filter, flags: EV_DELETE }], 0);
        } catch {
          // reported by the commands themselves
        }
      }
    }
    // Drain the iterators: a next() that does not settle within turns is asleep with nothing.
    for (let round = 0; round < 100; round++) {
      const live = ctx.iters.filter((i) => i.settled && !i.done);
      if (live.length === 0) break;
      for (const i of live) pull(ctx, i);
      await turns(3);
    }
    const fin = T.keventSync(null, 100_000);
    checkEvents(ctx, fin, null, 100_000, 'the final harvest of T');
    for (const ev of fin) {
      if (!isWitnessIdent(ctx, ev.ident)) ctx.failures.push(`the final harvest of T holds a fuzzed knote (${ev.filter}, ${describe(ctx, ev.ident)}) that EV_DELETE did not remove`);
    }
    if (T.pending !== 0) ctx.failures.push(`T.pending is ${T.pending} after the final harvest (want 0)`);
  }
  // W was never named by a call: its harvest is exact.
  const now = clock.now();
  const wEvents = W.keventSync(null, 100);
  const byIdent = new Map(wEvents.map((e) => [e.ident, e]));
  const uCount = Math.floor(now / 5);
  const want = [{ ident: 'wA', filter: EVFILT_USER, flags: EV_ADD, fflags: 0x7, data: 3 }];
  if (uCount > 0) want.push({ ident: 'wU', filter: EVFILT_TIMER, flags: EV_ADD | EV_CLEAR, fflags: 0, data: uCount });
  const got = [ctx.wA, ctx.wU].flatMap((w, i) => {
    const e = byIdent.get(w.ident);
    if (e === undefined) return [];
    if (e.udata !== w.udata) ctx.failures.push(`witness ${w.ident.toString()} lost its udata`);
    return [{ ident: i === 0 ? 'wA' : 'wU', filter: e.filter, flags: e.flags, fflags: e.fflags, data: e.data as number }];
  });
  try {
    assert.deepStrictEqual(got, want);
    assert.equal(wEvents.length, want.length);
    assert.equal(W.pending, 1, 'W keeps exactly its level-triggered witness queued');
  } catch (e) {
    ctx.failures.push(`the witness kqueue W was disturbed: ${(e as Error).message}`);
  }
  T.close();
  ctx.S.close();
  W.close();
  await turns(3);
  for (const t of ctx.tracked) if (!t.settled) ctx.failures.push(`${t.what}: never settled, even after close()`);
  if (tOpen) {
    const tCount = Math.floor(clock.now() / 7);
    const exact = !ctx.lossy;
    const checks: [string, number, number][] = [['wD', ctx.seenD, 1], ['wE', ctx.seenE, 1], ['wT data sum', ctx.timerSum, tCount]];
    for (const [name, seen, expected] of checks) {
      if (exact ? seen !== expected : seen > expected) {
        ctx.failures.push(`witness ${name}: delivered ${seen} over the run, expected ${exact ? '' : 'at most '}${expected}`);
      }
    }
  }
  const timers = (clock as unknown as { liveTimers: number }).liveTimers;
  if (timers !== 0) ctx.failures.push(`${timers} timer entries stay armed on the clock after every kqueue closed`);
  if (liveTimerCount() !== ctx.timersAtStart) ctx.failures.push(`live timer count is ${liveTimerCount()} after closing every kqueue (${ctx.timersAtStart} when the run began)`);
}

async function runCommands(cmds: Cmd[], allowCloseT: boolean): Promise<number> {
  const ctx = setup(allowCloseT);
  for (let i = 0; i < cmds.length; i++) {
    ctx.cmdIndex = i;
    try {
      await exec(ctx, cmds[i]!);
    } catch (e) {
      ctx.failures.push(`command #${i} (${cmds[i]!.c}): the test harness caught ${describe(ctx, e)}`);
    }
    if (ctx.failures.length !== 0) break;
  }
  if (ctx.failures.length === 0) await finish(ctx);
  else {
    ctx.T.close(); ctx.S.close(); ctx.W.close();
    await turns(2);
  }
  await turns(1);
  if (unhandled.length !== 0) ctx.failures.push(`unhandled rejections: ${unhandled.splice(0).map((r) => describe(ctx, r)).join(', ')}`);
  if (ctx.failures.length !== 0) throw new Error(ctx.failures.slice(0, 5).join('\n'));
  return ctx.calls;
}

// ---- the properties ---------------------------------------------------------------------------------

type ClockOpt = { c: 'absent' } | { c: 'virtual' } | { c: 'fakeVirtual' } | { c: 'fakeClock' } | { c: 'proxyVirtual' } | { c: 'v'; v: Val };
type KqOptSpec = { k: 'none' } | { k: 'v'; v: Val } | { k: 'o'; box: Box; clock: ClockOpt; trap: ThrowKind | null };

const kqOptArb: fc.Arbitrary<KqOptSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<KqOptSpec>({ k: 'none' }) },
  { weight: 3, arbitrary: plainVal.map((x): KqOptSpec => ({ k: 'v', v: x })) },
  {
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('o' as const),
      box: fc.constantFrom<Box>('plain', 'frozen', 'getters', 'proxy', 'nullproto', 'inherited', 'fnobj'),
      clock: fc.oneof(
        fc.constantFrom<ClockOpt>({ c: 'absent' }, { c: 'virtual' }, { c: 'virtual' }, { c: 'fakeVirtual' }, { c: 'fakeClock' }, { c: 'proxyVirtual' }),
        hostileField(plainVal, []).map((x): ClockOpt => ({ c: 'v', v: x })),
      ),
      trap: fc.option(throwKind, { freq: 4 }),
    }),
  },
);

/** kqueue(options) and new Kqueue(options): a working kqueue, EINVAL, or the caller's exception. */
async function propOptions(spec: { opt: KqOptSpec; ctor: 'fn' | 'new' }): Promise<number> {
  const ctx = setup(false);
  const acc = newAcc();
  let value: unknown;
  let clock: VClock | null = null;
  let absent = false;
  const o = spec.opt;
  if (o.k === 'none') absent = true;
  else if (o.k === 'v') {
    value = makeValue(o.v.t === 'throw' || o.v.t === 'effect' ? v({ t: 'undef' }) : o.v, ctx);
    noteHostileValue(value, ctx, acc);
    if (value !== undefined && value !== null) {
      if (typeof value !== 'object') acc.malformed = true;
      // A function is an object too: refusing it (EINVAL) or reading its clock are both fine.
      else if (ctx.hostile.has(value) || value instanceof VirtualClock || value instanceof Kqueue || typeof value === 'function') acc.lenient = true;
    }
  } else {
    const descs: PropertyDescriptorMap = {};
    const put = (x: unknown): void => { descs.clock = { value: x, enumerable: true }; };
    switch (o.clock.c) {
      case 'absent': break;
      case 'virtual': clock = new VirtualClock(); put(clock); break;
      case 'fakeVirtual': put(Object.create(VirtualClock.prototype)); acc.lenient = true; break;
      case 'fakeClock': put(Object.create(Clock.prototype)); acc.lenient = true; break;
      case 'proxyVirtual': clock = new VirtualClock(); put(new Proxy(clock, {})); acc.lenient = true; break;
      case 'v': {
        const b = buildField(o.clock.v, ctx, acc, o.box === 'getters');
        if (b.desc) descs.clock = b.desc;
        if (b.value !== THROWS && b.value !== undefined) {
          const obj = typeof b.value === 'object' && b.value !== null;
          if (obj && !ctx.hostile.has(b.value as object) && b.value instanceof VirtualClock) clock = b.value;
          else acc.malformed = true;
        }
        break;
      }
    }
    value = buildBox(o.box, descs, o.trap, ctx, acc);
    if (o.box === 'fnobj') acc.lenient = true;
  }
  let out: Outcome;
  try {
    const arg = value as K.KqueueOptions;
    const kq = spec.ctor === 'fn' ? (absent ? kqueue() : kqueue(arg)) : (absent ? new Kqueue() : new Kqueue(arg));
    out = { ok: true, value: kq };
  } catch (error) {
    out = { ok: false, error };
  }
  const where = `${spec.ctor === 'fn' ? 'kqueue' : 'new Kqueue'}(${absent ? '' : 'options'})`;
  if (out.ok) {
    const kq = out.value;
    if (!(kq instanceof Kqueue)) ctx.failures.push(`${where} returned ${describe(ctx, kq)}`);
    else {
      if (!clean(acc)) ctx.failures.push(`${where} succeeded although its options hold a malformed value or a throwing getter`);
      try {
        assert.equal(kq.closed, false);
        assert.equal(kq.pending, 0);
        // The new kqueue works: a USER event is returned and a timer runs on the clock it was given.
        assert.deepEqual(kq.keventSync([
          { ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER },
          { ident: 't', filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 5 },
        ], 0), []);
        const first = kq.keventSync(null, 4).map((e) => e.ident);
        assert.deepEqual(first, ['u']);
        if (clock !== null) {
          clock.advance(5);
          assert.deepEqual(kq.keventSync(null, 4).map((e) => [e.ident, e.data]), [['u', 0], ['t', 1]]);
        }
        kq.close();
        assert.equal(kq.closed, true);
      } catch (e) {
        ctx.failures.push(`${where} made a kqueue that does not work: ${describe(ctx, e)}`);
        try { kq.close(); } catch { /* reported */ }
      }
    }
  } else {
    judge(ctx, out, acc, { ebadf: false, eintr: false, nevents: undefined }, where);
  }
  ctx.T.close(); ctx.S.close(); ctx.W.close();
  await turns(1);
  if (liveTimerCount() !== ctx.timersAtStart) ctx.failures.push(`${where}: live timer count ${liveTimerCount()} after close (${ctx.timersAtStart} when the run began)`);
  if (unhandled.length !== 0) ctx.failures.push(`unhandled rejections: ${unhandled.splice(0).map((r) => describe(ctx, r)).join(', ')}`);
  if (ctx.failures.length !== 0) throw new Error(ctx.failures.join('\n'));
  return 1;
}

/** Every call on a closed kqueue fails with EBADF, whatever its arguments (api.md: "Afterwards
 *  every call fails with EBADF"), a closed kqueue's events() ends at once, and close() is a no-op. */
async function propClosed(cmds: Cmd[]): Promise<number> {
  const ctx = setup(false);
  const K2 = kqueue({ clock: ctx.clock });
  K2.keventSync([
    { ident: 'u', filter: EVFILT_USER, flags: EV_ADD },
    { ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 1 },
  ], 0);
  // A wait asleep on the kqueue when it closes (nothing is ready: the clock has not moved).
  const sleeper = K2.kevent(null, 1, null).then(() => 'resolved', (e: unknown) => (isWellFormedKqueueError(e) && e.errno === EBADF ? 'EBADF' : describe(ctx, e)));
  await turns(1);
  K2.close();
  const expectEBADF = (out: Outcome, where: string): void => {
    if (out.ok) ctx.failures.push(`${where}: succeeded on a closed kqueue`);
    else if (!(isWellFormedKqueueError(out.error) && out.error.errno === EBADF)) {
      ctx.failures.push(`${where}: on a closed kqueue failed with ${describe(ctx, out.error)} instead of EBADF`);
    }
  };
  let calls = 0;
  for (let i = 0; i < cmds.length; i++) {
    const cmd = cmds[i]!;
    const where = `closed-kqueue command #${i} (${cmd.c})`;
    const acc = newAcc();
    if (cmd.c === 'sync') {
      const list = buildList(cmd.list, ctx, acc);
      const n = buildNevents(cmd.n, ctx, acc);
      calls++;
      try {
        K2.keventSync(list as Iterable<K.KEventInit>, n as number);
        expectEBADF({ ok: true, value: null }, where);
      } catch (error) {
        expectEBADF({ ok: false, error }, where);
      }
    } else if (cmd.c === 'async' || cmd.c === 'free') {
      const list = buildList(cmd.list, ctx, acc);
      const n = buildNevents(cmd.n, ctx, acc);
      const to = buildTimeout(cmd.to, ctx, acc);
      const opt = buildOptions(cmd.opt, ctx, acc, false);
      calls++;
      let p: unknown;
      try {
        p = cmd.c === 'async'
          ? (K2.kevent as (...a: unknown[]) => unknown)(list, n, to.value, opt.value)
          : (kevent as (...a: unknown[]) => unknown)(K2, list, n, to.value, opt.value);
      } catch (e) {
        ctx.failures.push(`${where}: threw synchronously ${describe(ctx, e)}`);
        continue;
      }
      track(ctx, p, where, (out) => expectEBADF(out, where));
    } else if (cmd.c === 'events') {
      const opt = cmd.opt === null ? undefined : buildOptions(cmd.opt, ctx, acc, true).value;
      calls++;
      try {
        const it = K2.events(opt as K.EventsOptions)[Symbol.asyncIterator]();
        track(ctx, it.next(), where, (out) => {
          if (!(out.ok && (out.value as IteratorResult<KEvent>).done === true)) {
            ctx.failures.push(`${where}: events() of a closed kqueue did not end at once: ${out.ok ? 'yielded' : describe(ctx, out.error)}`);
          }
        });
      } catch (e) {
        ctx.failures.push(`${where}: events() threw synchronously ${describe(ctx, e)}`);
      }
    } else if (cmd.c === 'advance') {
      ctx.clock.advance(cmd.ms);
    } else {
      calls++;
      try {
        const r = K2.close();
        if (r !== undefined) ctx.failures.push(`${where}: close() returned ${describe(ctx, r)}`);
      } catch (e) {
        ctx.failures.push(`${where}: a second close() threw ${describe(ctx, e)}`);
      }
    }
    if (!K2.closed || K2.pending !== 0) ctx.failures.push(`${where}: closed ${K2.closed}, pending ${K2.pending}`);
  }
  await turns(3);
  if ((await sleeper) !== 'EBADF') ctx.failures.push(`a wait pending at close() ended with ${await sleeper}, not EBADF`);
  for (const t of ctx.tracked) if (!t.settled) ctx.failures.push(`${t.what}: never settled`);
  ctx.T.close(); ctx.S.close(); ctx.W.close();
  await turns(1);
  if (liveTimerCount() !== ctx.timersAtStart) ctx.failures.push(`live timer count ${liveTimerCount()} after close (${ctx.timersAtStart} when the run began)`);
  if (unhandled.length !== 0) ctx.failures.push(`unhandled rejections: ${unhandled.splice(0).map((r) => describe(ctx, r)).join(', ')}`);
  if (ctx.failures.length !== 0) throw new Error(ctx.failures.slice(0, 5).join('\n'));
  return calls;
}

interface ClockSpec {
  start: Val;
  timers: { period: number | bigint; oneshot: boolean }[];
  waits: number[];
  ops: { op: 'advance' | 'advanceTo' | 'advanceToRel'; v: Val }[];
}
const TIMER_PERIODS: (number | bigint)[] = [0, -5, 1, 1, 3, 7, 10, 1000, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 5, 2 ** 40, 1e15, 2 ** 53 - 1, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)];
const clockSpecArb: fc.Arbitrary<ClockSpec> = fc.record({
  start: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<Val>({ t: 'absent' }, num(0), num(0), num(1000), num(-50)) },
    { weight: 2, arbitrary: fc.constantFrom(2 ** 31, 2 ** 52, 2 ** 53, 2 ** 60, 1e300, -1e300, 0.5).map(num) },
    { weight: 2, arbitrary: plainVal },
  ),
  timers: fc.array(fc.record({ period: fc.constantFrom(...TIMER_PERIODS), oneshot: fc.boolean() }), { maxLength: 4 }),
  waits: fc.array(fc.constantFrom(0.5, 1, 7, 100, 2 ** 31 + 1, 1e15, 2 ** 60), { maxLength: 2 }),
  ops: fc.array(fc.record({
    op: fc.constantFrom<'advance' | 'advanceTo' | 'advanceToRel'>('advance', 'advance', 'advanceTo', 'advanceToRel'),
    v: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 50 }).map(num) },
      { weight: 3, arbitrary: fc.constantFrom(0, 1, 100, 2 ** 31, 2 ** 32, 1e15, 2 ** 53, 2 ** 60, 1e300, Number.MAX_VALUE, -1, 0.25, NaN, Infinity, -Infinity).map(num) },
      { weight: 2, arbitrary: plainVal },
    ),
  }), { maxLength: 8 }),
});

/** Virtual time is bounded to [0, 2^53 - 1] ms, where every millisecond is exact (docs/api.md). */
const inRange = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER;

/** VirtualClock construction and advancing with hostile amounts; timers and timeouts follow it. */
async function propClock(spec: ClockSpec, progress: (i: number) => void): Promise<number> {
  const ctx = setup(false);
  const failures = ctx.failures;
  let calls = 1;
  const startVal = spec.start.t === 'throw' || spec.start.t === 'effect' ? undefined : makeValue(spec.start, ctx);
  let clock: VClock;
  try {
    clock = spec.start.t === 'absent' ? new VirtualClock() : new VirtualClock(startVal as number);
    const valid = spec.start.t === 'absent' || startVal === undefined || inRange(startVal);
    if (!valid) failures.push(`new VirtualClock(${describe(ctx, startVal)}) was accepted`);
    const want = typeof startVal === 'number' ? startVal : 0;
    if (!Object.is(clock.now(), want) && !(want === 0 && clock.now() === 0)) failures.push(`new VirtualClock(${describe(ctx, startVal)}).now() is ${clock.now()}`);
  } catch (e) {
    const valid = spec.start.t === 'absent' || startVal === undefined || inRange(startVal);
    if (valid || !(isWellFormedKqueueError(e) && e.errno === EINVAL)) failures.push(`new VirtualClock(${describe(ctx, startVal)}) threw ${describe(ctx, e)}`);
    clock = new VirtualClock();
  }
  const kq = kqueue({ clock });
  const kw = kqueue({ clock });
  const r0 = clock.now();
  const changes = spec.timers.map((t, i) => ({ ident: `t${i}`, filter: EVFILT_TIMER, flags: EV_ADD | (t.oneshot ? EV_ONESHOT : 0), data: t.period }));
  calls++;
  try {
    const res = kq.keventSync(changes, changes.length);
    if (res.length !== 0) failures.push(`registering timers ${JSON.stringify(spec.timers.map((t) => String(t.period)))} posted ${describe(ctx, res)}`);
  } catch (e) {
    failures.push(`registering timers threw ${describe(ctx, e)}`);
  }
  const delivered = spec.timers.map(() => 0n);
  for (const c of changes) ctx.known.add(c.ident);
  const waits = spec.waits.map((ms) => {
    const w = { deadline: clock.now() + ms, settled: false, value: undefined as unknown };
    calls++;
    kw.kevent(null, 1, ms).then((x) => { w.settled = true; w.value = x; }, (e: unknown) => { w.settled = true; w.value = e; });
    return w;
  });
  await turns(1);
  /** Whether every instant involved is exact (integers below 2^53): counts are then checked exactly. */
  let exact = Number.isSafeInteger(r0);
  for (let i = 0; i < spec.ops.length && failures.length === 0; i++) {
    const op = spec.ops[i]!;
    progress(i);
    const before = clock.now();
    const arg = op.v.t === 'throw' || op.v.t === 'effect' ? undefined : makeValue(op.v, ctx);
    let target: number | null = null;
    let call: () => void;
    if (op.op === 'advance') {
      if (typeof arg === 'number' && arg >= 0 && inRange(before + arg)) target = before + arg;
      call = () => clock.advance(arg as number);
    } else if (op.op === 'advanceTo') {
      if (typeof arg === 'number' && arg >= before && inRange(arg)) target = arg;
      call = () => clock.advanceTo(arg as number);
    } else {
      const to = typeof arg === 'number' ? before + arg : arg;
      if (typeof to === 'number' && to >= before && inRange(to)) target = to;
      call = () => clock.advanceTo(to as number);
    }
    const label = `${op.op}(${describe(ctx, arg)}) at now ${before}`;
    calls++;
    try {
      call();
      if (target === null) failures.push(`${label} was accepted`);
      else if (!Object.is(clock.now(), target) && !(target === 0 && clock.now() === 0)) failures.push(`${label} moved now() to ${clock.now()}, want ${target}`);
    } catch (e) {
      if (target !== null || !(isWellFormedKqueueError(e) && e.errno === EINVAL)) failures.push(`${label} threw ${describe(ctx, e)}`);
      if (clock.now() !== before) failures.push(`${label} failed but moved now() to ${clock.now()}`);
    }
    const now = clock.now();
    if (!Number.isSafeInteger(now)) exact = false;
    await microtasks(20);
    for (const w of waits) {
      const due = now >= w.deadline;
      if (w.settled && !due) failures.push(`a wait due at ${w.deadline} settled early, at now ${now}`);
      if (due && !w.settled && target !== null) failures.push(`a wait due at ${w.deadline} is not settled after ${label} (now ${now})`);
      if (w.settled && !(Array.isArray(w.value) && w.value.length === 0)) failures.push(`a timed-out wait settled with ${describe(ctx, w.value)}`);
    }
    calls++;
    let evs: KEvent[] = [];
    try {
      evs = kq.keventSync(null, 64);
    } catch (e) {
      failures.push(`harvesting timers threw ${describe(ctx, e)}`);
    }
    checkEvents(ctx, evs, null, 64, `timer harvest after ${label}`);
    for (const ev of evs) {
      const idx = Number(String(ev.ident).slice(1));
      delivered[idx]! += BigInt(ev.data);
      if (typeof ev.data === 'number' && ev.data <= 0) failures.push(`timer ${String(ev.ident)} delivered data ${ev.data}`);
    }
    spec.timers.forEach((t, idx) => {
      const pNum = Math.max(1, Number(t.period));
      const got = delivered[idx]!;
      const name = `timer t${idx} (period ${String(t.period)}${t.oneshot ? ', oneshot' : ''}, armed at ${r0})`;
      if (exact && Number.isSafeInteger(r0 + pNum)) {
        // Integer instants below 2^53: the count is exact, floor((now - armed) / period).
        const p = BigInt(pNum);
        const elapsed = BigInt(now) - BigInt(r0);
        let count = elapsed >= p ? elapsed / p : 0n;
        if (t.oneshot && count > 1n) count = 1n;
        if (got !== count) failures.push(`${name} delivered ${got} by now ${now}, want ${count}`);
      } else {
        // Fractional instants: the first expiry is due exactly at armed + period.
        const due = now >= r0 + pNum;
        if (due && got === 0n) failures.push(`${name} never fired by now ${now}, although it was due at ${r0 + pNum}`);
        if (!due && got !== 0n) failures.push(`${name} fired before its deadline ${r0 + pNum} (now ${now})`);
      }
    });
  }
  kq.close();
  kw.close();
  ctx.T.close(); ctx.S.close(); ctx.W.close();
  await turns(2);
  if (liveTimerCount() !== ctx.timersAtStart) failures.push(`live timer count ${liveTimerCount()} after close (${ctx.timersAtStart} when the run began)`);
  if (unhandled.length !== 0) failures.push(`unhandled rejections: ${unhandled.splice(0).map((r) => describe(ctx, r)).join(', ')}`);
  if (failures.length !== 0) throw new Error(failures.slice(0, 5).join('\n'));
  return calls;
}

const closedCmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ c: fc.constant('sync' as const), list: listArb([]), n: neventsVal }) },
  { weight: 4, arbitrary: fc.record({ c: fc.constant('async' as const), list: listArb([]), n: neventsVal, to: timeoutArb, opt: optArb }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('free' as const), kq: fc.constant<KqSpec>({ k: 'closed' }), list: listArb([]), n: neventsVal, to: timeoutArb, opt: optArb }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('events' as const), opt: fc.option(optArb, { freq: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 1, arbitrary: fc.constant<Cmd>({ c: 'closeT' }) },
);

const OPEN_EFFECTS: readonly Effect[] = ['nestedSync', 'advance', 'abort'];
const REENTRANT_EFFECTS: readonly Effect[] = ['nestedSync', 'advance', 'abort', 'closeT'];

interface PropertyResult { ok: boolean; runs: number; calls: number; report: string }

async function runProperty(name: string, progress: (p: unknown) => void): Promise<PropertyResult> {
  let calls = 0;
  let runs = 0;
  const params = { seed: SEED, plugins: [fc.interruptAfterTimeLimit(SHRINK_LIMIT_MS + 20_000)] };
  const done = (details: fc.RunDetails<unknown>): PropertyResult => ({
    ok: !details.failed, runs, calls,
    report: details.failed
      ? `${fc.defaultReportMessage(details) ?? 'failed'}\nFailure: ${describe(null, details.errorInstance)}`
      : '',
  });
  switch (name) {
    case 'options': {
      const d = await fc.check(fc.asyncProperty(fc.record({ opt: kqOptArb, ctor: fc.constantFrom<'fn' | 'new'>('fn', 'new') }), async (s) => {
        runs++;
        progress(s);
        calls += await propOptions(s);
      }), { ...params, numRuns: RUNS.options });
      return done(d as fc.RunDetails<unknown>);
    }
    case 'open': case 'reentrant': {
      const reentrant = name === 'reentrant';
      const effects = reentrant ? REENTRANT_EFFECTS : OPEN_EFFECTS;
      const d = await fc.check(fc.asyncProperty(fc.array(cmdArb(effects, reentrant), { minLength: 1, maxLength: reentrant ? 12 : 24 }), async (cmds) => {
        runs++;
        progress(cmds);
        calls += await runCommands(cmds, reentrant);
      }), { ...params, numRuns: reentrant ? RUNS.reentrant : RUNS.open });
      return done(d as fc.RunDetails<unknown>);
    }
    case 'closed': {
      const d = await fc.check(fc.asyncProperty(fc.array(closedCmdArb, { minLength: 1, maxLength: 10 }), async (cmds) => {
        runs++;
        progress(cmds);
        calls += await propClosed(cmds);
      }), { ...params, numRuns: RUNS.closed });
      return done(d as fc.RunDetails<unknown>);
    }
    case 'clock': {
      const d = await fc.check(fc.asyncProperty(clockSpecArb, async (s) => {
        runs++;
        progress(s);
        calls += await propClock(s, (i) => progress({ op: i }));
      }), { ...params, numRuns: RUNS.clock });
      return done(d as fc.RunDetails<unknown>);
    }
  }
  throw new Error(`no property ${name}`);
}

// ---- worker side --------------------------------------------------------------------------------------

if (!isMainThread && (workerData as { fuzzProperty?: string } | null)?.fuzzProperty !== undefined) {
  const name = (workerData as { fuzzProperty: string }).fuzzProperty;
  process.on('unhandledRejection', (r) => { unhandled.push(r); });
  const post = (m: unknown): void => {
    try {
      parentPort!.postMessage(m);
    } catch {
      parentPort!.postMessage({ type: 'progress', spec: '<unclonable>' });
    }
  };
  let lastSpec: unknown;
  runProperty(name, (p) => {
    if (typeof p === 'object' && p !== null && 'op' in p) post({ type: 'step', step: (p as { op: number }).op });
    else {
      lastSpec = p;
      post({ type: 'progress', spec: fc.stringify(p) });
    }
  }).then(
    (r) => post({ type: 'done', ...r }),
    (e: unknown) => post({ type: 'done', ok: false, runs: 0, calls: 0, report: `the property crashed: ${describe(null, e)}\nlast input: ${fc.stringify(lastSpec)}` }),
  );
}

// ---- main thread: one test per property, each in a worker under a watchdog --------------------------

interface WorkerOutcome { result?: PropertyResult; hung?: { spec: string; step: number | null }; error?: string }

function runInWorker(name: string): Promise<WorkerOutcome> {
  return new Promise((resolve) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { fuzzProperty: name }, execArgv: [], stdout: false, stderr: false });
    let spec = '';
    let step: number | null = null;
    let finished = false;
    const end = (o: WorkerOutcome): void => {
      if (finished) return;
      finished = true;
      clearTimeout(dog);
      void w.terminate();
      resolve(o);
    };
    const dog = setTimeout(() => end({ hung: { spec, step } }), WATCHDOG_MS);
    w.on('message', (m: { type: string; spec?: string; step?: number } & Partial<PropertyResult>) => {
      if (m.type === 'progress') { spec = m.spec ?? ''; step = null; }
      else if (m.type === 'step') step = m.step ?? null;
      else if (m.type === 'done') end({ result: { ok: m.ok ?? false, runs: m.runs ?? 0, calls: m.calls ?? 0, report: m.report ?? '' } });
    });
    w.on('error', (e) => end({ error: describe(null, e) }));
    w.on('exit', (code) => end({ error: `the worker exited with code ${code} before reporting` }));
  });
}

async function fuzz(name: string): Promise<void> {
  const o = await runInWorker(name);
  if (o.hung) {
    assert.fail(`a call never returned (the engine loops): property '${name}' hung for ${WATCHDOG_MS} ms on input\n${o.hung.spec}\n${o.hung.step === null ? '' : `at operation #${o.hung.step}`}`);
  }
  if (o.error !== undefined) assert.fail(`property '${name}': ${o.error}`);
  const r = o.result!;
  console.log(`# fuzz ${name}: ${r.runs} runs, ${r.calls} calls`);
  assert.ok(r.ok, r.report);
}

if (isMainThread) {
  const { test } = await import('node:test');
  const unhandledMain: unknown[] = [];
  process.on('unhandledRejection', (r) => { unhandledMain.push(r); });

  test('fuzz: kqueue(options) and new Kqueue(options) give a working kqueue, EINVAL or the caller\'s own exception', { timeout: WATCHDOG_MS + 10_000 }, async () => {
    await fuzz('options');
  });

  test('fuzz: hostile calls on an open kqueue (keventSync, kevent, kevent(), events(), VirtualClock.advance) leave the witnesses untouched', { timeout: WATCHDOG_MS + 10_000 }, async () => {
    await fuzz('open');
  });

  test('fuzz: getters that re-enter (nested calls, clock advances, aborts, close()) while a call reads its arguments', { timeout: WATCHDOG_MS + 10_000 }, async () => {
    await fuzz('reentrant');
  });

  test('fuzz: every call on a closed kqueue fails with EBADF before reading its arguments, events() ends, close() is a no-op', { timeout: WATCHDOG_MS + 10_000 }, async () => {
    await fuzz('closed');
  });

  test('fuzz: VirtualClock construction and advance/advanceTo with hostile amounts keep timers and timeouts exact and always return', { timeout: WATCHDOG_MS + 10_000 }, async () => {
    await fuzz('clock');
  });

  // Directed cases: the hostile inputs the properties found, kept as named regressions.

  const EVFILT_WRITE = K.EVFILT_WRITE;
  const trapAll = (th: unknown): object => {
    const t = (): never => { throw th; };
    return new Proxy({}, { get: t, has: t, getPrototypeOf: t, ownKeys: t, getOwnPropertyDescriptor: t });
  };

  test('directed: a descriptor-filter change whose ident is a proxy with throwing traps leaves no earlier change of the call applied', () => {
    const clock = new VirtualClock();
    const kq = kqueue({ clock });
    const mine = new CallerError(-1);
    let out: Outcome;
    try {
      out = { ok: true, value: kq.keventSync([
        { ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER },
        { ident: trapAll(mine) as K.Ident, filter: EVFILT_WRITE, flags: EV_ADD },
      ], 4) };
    } catch (error) {
      out = { ok: false, error };
    }
    // Either the proxy is an unknown object (an EBADF entry), or its exception propagates and the
    // call applied nothing: the USER knote must then not exist.
    if (out.ok) {
      assert.deepEqual((out.value as KEvent[]).map((e) => [e.flags, e.data]), [[EV_ERROR, EBADF]]);
    } else {
      assert.equal(out.error, mine);
      assert.equal(kq.pending, 0);
      assert.throws(() => kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_DELETE }], 0), (e: unknown) => e instanceof KqueueError && e.code === 'ENOENT');
    }
    kq.close();
  });

  test('directed: events({ nevents: 0 }) rejects EINVAL on its first next() instead of spinning without ever yielding', async () => {
    const kq = kqueue({ clock: new VirtualClock() });
    kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
    const next = kq.events({ nevents: 0 })[Symbol.asyncIterator]().next();
    const first = await Promise.race([
      next.then((r) => ({ r }), (e: unknown) => ({ e })),
      turns(20).then(() => 'still pending after 20 turns of the event loop'),
    ]);
    kq.close();
    await next.catch(() => {});
    assert.ok(typeof first === 'object' && 'e' in first, `first next(): ${JSON.stringify(first)}`);
    assert.ok(isWellFormedKqueueError(first.e) && first.e.errno === EINVAL, describe(null, first.e));
  });

  test('directed: kevent() on a proxy whose traps throw rejects (with the caller\'s exception or EBADF), never throws synchronously', async () => {
    const mine = new CallerError(-2);
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => { p = kevent(trapAll(mine) as Kq, [], 1, 0); });
    await assert.rejects(p!, (e: unknown) => e === mine || (isWellFormedKqueueError(e) && e.errno === EBADF));
  });

  test('directed: a look-alike AbortSignal or Clock (Object.create of the prototype) is EINVAL, not a TypeError', async () => {
    const kq = kqueue({ clock: new VirtualClock() });
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => { p = kq.kevent([], 1, 10, { signal: Object.create(AbortSignal.prototype) as AbortSignal }); });
    await assert.rejects(p!, (e: unknown) => isWellFormedKqueueError(e) && e.errno === EINVAL);
    const it = kq.events({ signal: Object.create(AbortSignal.prototype) as AbortSignal })[Symbol.asyncIterator]();
    await assert.rejects(it.next(), (e: unknown) => isWellFormedKqueueError(e) && e.errno === EINVAL);
    kq.close();
    for (const fake of [Object.create(VirtualClock.prototype), Object.create(Clock.prototype)]) {
      let made: Kq | undefined;
      try {
        made = kqueue({ clock: fake as K.Clock });
      } catch (e) {
        assert.ok(isWellFormedKqueueError(e) && e.errno === EINVAL, describe(null, e));
        continue;
      }
      // Accepted: then it must work like any clock.
      assert.deepEqual(made.keventSync([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 5 }], 1), []);
      made.close();
    }
  });

  test('directed: a changelist iterator that breaks the protocol is EINVAL and applies nothing', () => {
    const kq = kqueue({ clock: new VirtualClock() });
    const add = { ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER };
    const lists: unknown[] = [
      { [Symbol.iterator]: () => 42 },
      { [Symbol.iterator]() { let i = 0; return { next: () => (i++ === 0 ? { value: add, done: false } : 42) }; } },
      { [Symbol.iterator]() { return { next: 42 }; } },
    ];
    for (const list of lists) {
      assert.throws(() => kq.keventSync(list as K.KEventInit[], 4), (e: unknown) => isWellFormedKqueueError(e) && e.errno === EINVAL);
      assert.equal(kq.pending, 0);
    }
    kq.close();
  });

  test('directed: a getter that closes the kqueue while the call reads its changelist makes the call fail with EBADF and apply nothing', () => {
    const clock = new VirtualClock();
    const kq = kqueue({ clock });
    const other = kqueue({ clock });
    const timers = liveTimerCount();
    const list = [
      { get ident() { kq.close(); return 't'; }, filter: EVFILT_TIMER, flags: EV_ADD, data: 5 },
      { ident: other, filter: K.EVFILT_READ, flags: EV_ADD },
      { ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER },
    ];
    assert.throws(() => kq.keventSync(list, 4), (e: unknown) => isWellFormedKqueueError(e) && e.errno === EBADF);
    assert.equal(liveTimerCount(), timers, 'no timer was armed for the closed kqueue');
    clock.advance(10);
    other.keventSync([{ ident: 'o', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
    assert.equal(kq.pending, 0, 'nothing is ever queued on the closed kqueue');
    other.close();
  });

  test('directed: a call on a closed kqueue is EBADF even when its timeout, options or getters are malformed or throw', async () => {
    const kq = kqueue({ clock: new VirtualClock() });
    kq.close();
    const mine = new CallerError(-3);
    const throwing = { get sec(): number { throw mine; }, nsec: 0 };
    const calls: (() => Promise<unknown>)[] = [
      () => kq.kevent([], 1, NaN),
      () => kq.kevent([], 1, throwing as unknown as K.Timeout),
      () => kq.kevent([], 1, 0, 5 as unknown as K.KeventOptions),
      () => kevent(kq, [], -1, 0),
      () => kq.kevent({ [Symbol.iterator]() { throw mine; } } as unknown as K.KEventInit[], 1, 0),
    ];
    for (const call of calls) await assert.rejects(call(), (e: unknown) => isWellFormedKqueueError(e) && e.errno === EBADF);
    assert.throws(() => kq.keventSync({ [Symbol.iterator]() { throw mine; } } as unknown as K.KEventInit[], -1), (e: unknown) => isWellFormedKqueueError(e) && e.errno === EBADF);
    const r = await kq.events({ get nevents(): number { throw mine; } })[Symbol.asyncIterator]().next();
    assert.deepEqual(r, { value: undefined, done: true });
  });

  test('fuzz: no unhandled rejection reached the main thread', async () => {
    await turns(2);
    assert.deepEqual(unhandledMain, []);
  });
}
