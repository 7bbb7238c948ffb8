// Operation generators (fast-check arbitraries) and the step runner of the model-based tests:
// every operation is applied to the library, through its public API, and to the model
// (./model.ts); after every step the answers, the settled waits and every kqueue's `pending`
// and `closed` must agree.
import fc from 'fast-check';
import {
  KqueueError, VirtualClock, kevent, kqueue, tunables, type KEvent, type Kqueue,
} from '../../src/index.js';
import {
  EVFILT_AIO, EVFILT_EXCEPT, EVFILT_READ, EVFILT_TIMER, EVFILT_USER, EVFILT_VNODE, EVFILT_WRITE,
  EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH, EV_ENABLE, EV_ONESHOT, EV_RECEIPT,
  NOTE_FFAND, NOTE_FFCOPY, NOTE_FFNOP, NOTE_FFOR, NOTE_TRIGGER,
  type MCall, type MEvent, type MKqueue, Model, ModelError, type Outcome,
} from './model.js';

// ---- operations (plain data, so a shrunk sequence can be written down as a regression test) ----

/** An ident: itself, a bigint (decimal string), one of the sequence's objects, or its i-th kqueue. */
export type IdentSpec = string | number | { big: string } | { obj: number } | { kq: number };
export type UdataSpec = undefined | null | string | number | { obj: number };
export type DataSpec = number | { big: string };
export type BadKind = 'null' | 'number' | 'flagsFloat' | 'fflagsString' | 'dataFloat' | 'filterString' | 'noFilter' | 'throws';

export interface ChangeSpec {
  ident: IdentSpec;
  filter: number;
  flags?: number;
  fflags?: number;
  data?: DataSpec;
  udata?: UdataSpec;
  /** A malformed change (the whole call is EINVAL), or one whose `flags` getter throws. */
  bad?: BadKind;
}

export type TimeoutSpec = number | null | { sec: number; nsec: number } | 'bad';

export type Op =
  /** keventSync; `iter` passes the changelist as a generator instead of an array. */
  | { op: 'sync'; kq: number; changes: ChangeSpec[] | null; nevents: number; iter?: boolean }
  /** kevent() on the VirtualClock-backed kqueue: settles now, after a turn, or later (a waiter). */
  | { op: 'async'; kq: number; changes: ChangeSpec[] | null; nevents: number; timeout: TimeoutSpec; signal?: number; free?: boolean }
  | { op: 'advance'; ms: number }
  | { op: 'close'; kq: number }
  | { op: 'create' }
  | { op: 'abort'; signal: number }
  | { op: 'calloutmax'; n: number };

export interface Sequence {
  /** tunables.kq_calloutmax for the sequence. */
  calloutmax: number;
  /** kqueues created before the first operation. */
  kqueues: number;
  ops: Op[];
}

const MAX_KQUEUES = 4;
const SIGNALS = 3;

// ---- arbitraries -------------------------------------------------------------------------------

const kqIdx = fc.nat({ max: MAX_KQUEUES - 1 });

const identUser: fc.Arbitrary<IdentSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<IdentSpec>('a', 'b', 'c') },
  { weight: 2, arbitrary: fc.constantFrom<IdentSpec>(0, -0, NaN, 1) },
  { weight: 1, arbitrary: fc.constantFrom<IdentSpec>({ big: '1' }, { obj: 0 }) },
  { weight: 1, arbitrary: kqIdx.map((kq): IdentSpec => ({ kq })) },
);
const identTimer: fc.Arbitrary<IdentSpec> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom<IdentSpec>('t1', 't2', 'a') },
  { weight: 1, arbitrary: fc.constantFrom<IdentSpec>(0, -0, NaN, { obj: 1 }) },
);
const identFd: fc.Arbitrary<IdentSpec> = fc.oneof(
  { weight: 6, arbitrary: kqIdx.map((kq): IdentSpec => ({ kq })) },
  { weight: 1, arbitrary: fc.constant<IdentSpec>({ obj: 0 }) },
);

const udataArb: fc.Arbitrary<UdataSpec> = fc.constantFrom<UdataSpec>(undefined, undefined, null, 'u1', 7, { obj: 1 });

const actionArb = fc.constantFrom(
  EV_ADD, EV_ADD, EV_ADD, EV_ADD, 0, EV_DELETE, EV_DELETE, EV_ENABLE, EV_DISABLE,
  EV_ADD | EV_DELETE, EV_ENABLE | EV_DISABLE,
);
const extraFlagArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(EV_ONESHOT, EV_CLEAR, EV_DISPATCH, EV_RECEIPT) },
  { weight: 4, arbitrary: fc.constantFrom(EV_ENABLE, EV_DISABLE) },
  // unknown bits (stored and echoed) and EV_SYSFLAGS bits (stripped)
  { weight: 1, arbitrary: fc.constantFrom(0x100, 0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x8000) },
);
const flagsArb: fc.Arbitrary<number> = fc.tuple(actionArb, fc.array(extraFlagArb, { maxLength: 2 }))
  .map(([a, xs]) => xs.reduce((f, x) => f | x, a));
const optFlags = fc.option(flagsArb, { nil: undefined, freq: 25 });

const ffctrlArb = fc.constantFrom(NOTE_FFNOP, NOTE_FFAND, NOTE_FFOR, NOTE_FFCOPY);
const ffbitsArb = fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xf0, 0x1234, 0xffffff), fc.integer({ min: 0, max: 0xffffff }));
const userFflagsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, NOTE_TRIGGER) },
  {
    weight: 5,
    arbitrary: fc.tuple(fc.boolean(), ffctrlArb, ffbitsArb, fc.boolean()).map(([t, c, b, signed]) => {
      const v = (t ? NOTE_TRIGGER : 0) | c | b; // an int32, as JavaScript computes it
      return signed ? v : v >>> 0;
    }),
  },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }) },
);

const smallDataArb: fc.Arbitrary<DataSpec> = fc.oneof(fc.constantFrom(0, 1, 7, -1), fc.integer({ min: -1000, max: 1000 }));
const dataArb: fc.Arbitrary<DataSpec> = fc.oneof(
  { weight: 8, arbitrary: smallDataArb },
  {
    weight: 1,
    arbitrary: fc.constantFrom<DataSpec>({ big: '5' }, { big: '-9223372036854775808' }, { big: '9223372036854775807' }, 2 ** 60, -(2 ** 60)),
  },
);
const periodArb: fc.Arbitrary<DataSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<DataSpec>(-5, 0, 1, 2, 3, 5, 10, 20, 50) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom<DataSpec>(1000, 1e12, { big: '4611686018427387904' }) },
);

const userChange: fc.Arbitrary<ChangeSpec> = fc.record({
  ident: identUser,
  filter: fc.constant(EVFILT_USER),
  flags: optFlags,
  fflags: fc.option(userFflagsArb, { nil: undefined, freq: 8 }),
  data: fc.option(dataArb, { nil: undefined, freq: 4 }),
  udata: udataArb,
});
const timerChange: fc.Arbitrary<ChangeSpec> = fc.record({
  ident: identTimer,
  filter: fc.constant(EVFILT_TIMER),
  flags: optFlags,
  fflags: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: undefined, freq: 2 }),
  data: fc.option(periodArb, { nil: undefined, freq: 10 }),
  udata: udataArb,
});
const fdChange: fc.Arbitrary<ChangeSpec> = fc.record({
  ident: identFd,
  filter: fc.constantFrom(EVFILT_READ, EVFILT_READ, EVFILT_READ, EVFILT_READ, EVFILT_WRITE, EVFILT_EXCEPT, EVFILT_VNODE),
  flags: optFlags,
  fflags: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: undefined, freq: 2 }),
  data: fc.option(smallDataArb, { nil: undefined, freq: 2 }),
  udata: udataArb,
});
const aioChange: fc.Arbitrary<ChangeSpec> = fc.record({
  ident: fc.constantFrom<IdentSpec>('a', { obj: 0 }),
  filter: fc.constant(EVFILT_AIO),
  flags: optFlags,
  fflags: fc.option(userFflagsArb, { nil: undefined, freq: 2 }),
  udata: udataArb,
});
const badFilterChange: fc.Arbitrary<ChangeSpec> = fc.record({
  ident: fc.constantFrom<IdentSpec>('a', 'b'),
  filter: fc.constantFrom(0, 1, -11, 10, 15, -32768, 1000),
  flags: optFlags,
  fflags: fc.option(userFflagsArb, { nil: undefined, freq: 2 }),
  udata: udataArb,
});
const malformedChange: fc.Arbitrary<ChangeSpec> = fc.constantFrom<BadKind>(
  'null', 'number', 'flagsFloat', 'fflagsString', 'dataFloat', 'filterString', 'noFilter', 'throws',
).map((bad): ChangeSpec => ({ ident: 'a', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, bad }));

export const changeArb: fc.Arbitrary<ChangeSpec> = fc.oneof(
  { weight: 30, arbitrary: userChange },
  { weight: 18, arbitrary: timerChange },
  { weight: 12, arbitrary: fdChange },
  { weight: 3, arbitrary: aioChange },
  { weight: 3, arbitrary: badFilterChange },
  { weight: 1, arbitrary: malformedChange },
);
const changesArb: fc.Arbitrary<ChangeSpec[] | null> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 8, arbitrary: fc.array(changeArb, { maxLength: 4 }) },
);
const neventsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 0, max: 4 }) },
  { weight: 5, arbitrary: fc.integer({ min: 5, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, NaN) },
);
const timeoutArb: fc.Arbitrary<TimeoutSpec> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constantFrom<TimeoutSpec>(Infinity, 0, -1, -Infinity, -0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 100 }) },
  { weight: 2, arbitrary: fc.record({ sec: fc.constantFrom(0, 0, 1, -1), nsec: fc.constantFrom(0, 1, 5_000_000, 999_999_999) }) },
  { weight: 1, arbitrary: fc.constantFrom<TimeoutSpec>(NaN, 'bad', { sec: 0, nsec: 1e9 }, { sec: 0, nsec: -1 }) },
);

/** More than KQ_NEVENTS (32) triggered level events at once, to make the collection loop go round. */
const bulkArb: fc.Arbitrary<Op> = fc.tuple(kqIdx, fc.integer({ min: 33, max: 40 }), fc.boolean()).map(([kq, n, clear]) => ({
  op: 'sync',
  kq,
  nevents: 0,
  changes: Array.from({ length: n }, (_, i): ChangeSpec => ({
    ident: `n${i}`, filter: EVFILT_USER, flags: EV_ADD | (clear ? EV_CLEAR : 0), fflags: NOTE_TRIGGER,
  })),
}));

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      op: fc.constant('sync' as const), kq: kqIdx, changes: changesArb, nevents: neventsArb,
      iter: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant('async' as const), kq: kqIdx, changes: changesArb, nevents: neventsArb, timeout: timeoutArb,
      signal: fc.option(fc.nat({ max: SIGNALS - 1 }), { nil: undefined, freq: 2 }), free: fc.boolean(),
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(0, 1, 2, 5, 10) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: 100 }) }, { weight: 1, arbitrary: fc.constant(1000) }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('close' as const), kq: kqIdx }) },
  { weight: 3, arbitrary: fc.constant<Op>({ op: 'create' }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('abort' as const), signal: fc.nat({ max: SIGNALS - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('calloutmax' as const), n: fc.constantFrom(0, 1, 2, 3, 4096) }) },
  { weight: 1, arbitrary: bulkArb },
);

export const sequenceArb: fc.Arbitrary<Sequence> = fc.record({
  calloutmax: fc.constantFrom(1, 2, 3, 5, 4096, 4096),
  kqueues: fc.integer({ min: 1, max: 3 }),
  // Lengths spread over 0..50 (no minimum, so shrinking can remove any operation).
  ops: fc.array(opArb, { maxLength: 50, size: 'max' }),
});

// ---- the runner --------------------------------------------------------------------------------

/** A difference between the library and the model. */
export class Divergence extends Error {
  override name = 'Divergence';
}

interface Tracked {
  label: string;
  settled: boolean;
  value?: KEvent[];
  error?: unknown;
  model: MCall;
  final: boolean;
}

type Answer = { events: KEvent[] | MEvent[] } | { errno: number } | { other: unknown };

/** What a change's throwing getter throws: it must reach the caller unchanged. */
const USER_EXCEPTION = new Error('thrown by the caller\'s own getter');

async function microtasks(n = 25): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Runner {
  readonly clock = new VirtualClock(0);
  readonly model = new Model();
  readonly kqs: Kqueue[] = [];
  private readonly objs = [{ name: 'obj0' }, { name: 'obj1' }];
  private readonly controllers: AbortController[] = [];
  private readonly names = new Map<unknown, string>();
  private readonly calls: Tracked[] = [];
  private readonly savedCalloutmax = tunables.kq_calloutmax;
  private stepNo = -1;
  private op: Op | undefined;

  constructor(seq: Sequence) {
    this.objs.forEach((o) => this.names.set(o, o.name));
    for (let i = 0; i < SIGNALS; i++) {
      this.controllers.push(new AbortController());
      this.model.signals.push(false);
    }
    tunables.kq_calloutmax = seq.calloutmax;
    this.model.calloutmax = seq.calloutmax;
    for (let i = 0; i < Math.max(1, seq.kqueues); i++) this.create();
  }

  private create(): void {
    if (this.kqs.length >= MAX_KQUEUES) return;
    const kq = kqueue({ clock: this.clock });
    this.names.set(kq, `kq${this.kqs.length}`);
    this.kqs.push(kq);
    this.model.createKqueue(kq);
  }

  private fail(what: string): never {
    throw new Divergence(`step ${this.stepNo} ${this.op === undefined ? '(end)' : showOp(this.op)}: ${what}`);
  }

  private ident(s: IdentSpec): unknown {
    if (typeof s === 'string' || typeof s === 'number') return s;
    if ('big' in s) return BigInt(s.big);
    if ('obj' in s) return this.objs[s.obj % this.objs.length];
    return this.kqs[s.kq % this.kqs.length];
  }

  private udata(s: UdataSpec): unknown {
    return typeof s === 'object' && s !== null ? this.objs[s.obj % this.objs.length] : s;
  }

  /** One raw change object; built afresh for each side so neither can see the other's. */
  private change(c: ChangeSpec): unknown {
    switch (c.bad) {
      case 'null': return null;
      case 'number': return 5;
      default: break;
    }
    const o: Record<string, unknown> = { ident: this.ident(c.ident), filter: c.filter };
    if (c.flags !== undefined) o.flags = c.flags;
    if (c.fflags !== undefined) o.fflags = c.fflags;
    if (c.data !== undefined) o.data = typeof c.data === 'number' ? c.data : BigInt(c.data.big);
    if (c.udata !== undefined) o.udata = this.udata(c.udata);
    switch (c.bad) {
      case 'flagsFloat': o.flags = 1.5; break;
      case 'fflagsString': o.fflags = '1'; break;
      case 'dataFloat': o.data = 0.5; break;
      case 'throws': Object.defineProperty(o, 'flags', { enumerable: true, get() { throw USER_EXCEPTION; } }); break;
      case 'filterString': o.filter = String(c.filter); break;
      case 'noFilter': delete o.filter; break;
      default: break;
    }
    return o;
  }

  private changes(cs: ChangeSpec[] | null): unknown[] | null {
    return cs === null ? null : cs.map((c) => this.change(c));
  }

  private timeout(t: TimeoutSpec): unknown {
    return t === 'bad' ? 'soon' : t;
  }

  async step(op: Op, stepNo: number): Promise<void> {
    this.stepNo = stepNo;
    this.op = op;
    const m = this.model;
    switch (op.op) {
      case 'create':
        this.create();
        break;
      case 'sync': {
        const k = op.kq % this.kqs.length;
        const raw = this.changes(op.changes);
        const list = op.iter && raw !== null ? (function* gen() { yield* raw; })() : raw;
        let got: Answer;
        try {
          got = { events: this.kqs[k]!.keventSync(list as never, op.nevents) };
        } catch (e) {
          got = answerOfError(e);
        }
        let want: Answer;
        try {
          want = { events: m.keventSync(m.kqueues[k]!, this.changes(op.changes), op.nevents) };
        } catch (e) {
          if (e === USER_EXCEPTION) want = { other: e };
          else if (e instanceof ModelError) want = { errno: e.errno };
          else throw e;
        }
        this.compareAnswer('keventSync', got, want);
        break;
      }
      case 'async': {
        const k = op.kq % this.kqs.length;
        const kq = this.kqs[k]!;
        const options = op.signal === undefined ? undefined : { signal: this.controllers[op.signal]!.signal };
        const t = this.timeout(op.timeout);
        const p = op.free
          ? kevent(kq, this.changes(op.changes) as never, op.nevents, t as never, options)
          : kq.kevent(this.changes(op.changes) as never, op.nevents, t as never, options);
        const call = m.kevent(m.kqueues[k]!, this.changes(op.changes), op.nevents, t, op.signal, (e) => e === USER_EXCEPTION);
        const tr: Tracked = { label: `call@${stepNo}`, settled: false, model: call, final: false };
        p.then((v) => { tr.settled = true; tr.value = v; }, (e: unknown) => { tr.settled = true; tr.error = e; });
        this.calls.push(tr);
        break;
      }
      case 'advance':
        try {
          this.clock.advance(op.ms);
        } catch (e) {
          this.fail(`advance threw ${String(e)}`);
        }
        m.advance(op.ms);
        break;
      case 'close': {
        const k = op.kq % this.kqs.length;
        this.kqs[k]!.close();
        m.close(m.kqueues[k]!);
        break;
      }
      case 'abort':
        this.controllers[op.signal % SIGNALS]!.abort();
        m.abort(op.signal % SIGNALS);
        break;
      case 'calloutmax':
        tunables.kq_calloutmax = op.n;
        m.calloutmax = op.n;
        break;
    }
    this.comparePending('after the step');
    m.runMicrotasks();
    m.selfCheck();
    await this.settleCalls();
    this.comparePending('after the woken waits ran');
  }

  /** Closes everything (waits fail with EBADF), then checks that no timer slot leaked. */
  async end(): Promise<void> {
    this.stepNo = -1;
    this.op = undefined;
    for (let k = 0; k < this.kqs.length; k++) {
      this.kqs[k]!.close();
      this.model.close(this.model.kqueues[k]!);
    }
    this.model.runMicrotasks();
    await this.settleCalls();
    this.comparePending('after closing everything');
    this.model.selfCheck();
    if (this.model.liveTimers !== 0) this.fail(`model: ${this.model.liveTimers} live timers after close`);
    // Every timer slot must be free again: one timer fits under a limit of 1.
    tunables.kq_calloutmax = 1;
    const probe = kqueue({ clock: this.clock });
    try {
      const got = probe.keventSync([{ ident: 'leak-probe', filter: EVFILT_TIMER, flags: EV_ADD, data: 1000 }], 1);
      if (got.length !== 0) this.fail(`a timer slot leaked: the probe timer got ${this.showEvents(got)}`);
    } catch (e) {
      this.fail(`a timer slot leaked: the probe timer failed with ${String(e)}`);
    } finally {
      probe.close();
    }
  }

  /** Always run: leaves no kqueue open and restores the tunable. */
  cleanup(): void {
    for (const kq of this.kqs) kq.close();
    tunables.kq_calloutmax = this.savedCalloutmax;
  }

  private comparePending(when: string): void {
    for (let k = 0; k < this.kqs.length; k++) {
      const real = this.kqs[k]!;
      const mk = this.model.kqueues[k]!;
      if (real.pending !== mk.count) this.fail(`${when}: kq${k}.pending is ${real.pending}, model says ${mk.count}${this.queueNote(mk)}`);
      if (real.closed !== mk.closed) this.fail(`${when}: kq${k}.closed is ${real.closed}, model says ${mk.closed}`);
    }
  }

  private queueNote(mk: MKqueue): string {
    const q = mk.queue.map((x) => (x.isMarker ? 'marker' : `${x.filter}:${this.show(x.ident)}`));
    return ` (model queue: [${q.join(', ')}])`;
  }

  /** After microtasks: woken waits and timeouts have settled; calls deferred by a turn have not. */
  private async settleCalls(): Promise<void> {
    const open = this.calls.filter((c) => !c.final);
    if (open.length === 0) return;
    await microtasks();
    let later = false;
    for (const c of open) {
      const mc = c.model;
      if (!mc.settled) {
        if (c.settled) this.fail(`${c.label} settled with ${this.showTracked(c)} but the model is still waiting`);
        continue;
      }
      if (mc.timing === 'micro') {
        if (!c.settled) this.fail(`${c.label} did not settle in the same turn; the model settled it with ${this.showOutcome(mc.outcome!)}`);
        this.compareCall(c);
      } else {
        if (mc.timing === 'turn' && c.settled) {
          this.fail(`${c.label} settled with ${this.showTracked(c)} before the event loop turned`);
        }
        later = true;
      }
    }
    if (!later) return;
    await turn();
    this.model.turn();
    await microtasks();
    for (const c of open) {
      if (c.final) continue;
      if (!c.model.settled) {
        if (c.settled) this.fail(`${c.label} settled with ${this.showTracked(c)} but the model is still waiting`);
        continue;
      }
      if (!c.settled) this.fail(`${c.label} did not settle after one turn; the model settled it with ${this.showOutcome(c.model.outcome!)}`);
      this.compareCall(c);
    }
  }

  private compareCall(c: Tracked): void {
    c.final = true;
    const got: Answer = c.error !== undefined ? answerOfError(c.error) : { events: c.value! };
    const o = c.model.outcome!;
    this.compareAnswer(c.label, got, 'errno' in o ? { errno: o.errno } : 'thrown' in o ? { other: o.thrown } : { events: o.events });
  }

  private compareAnswer(what: string, got: Answer, want: Answer): void {
    if ('other' in want) {
      if (!('other' in got) || got.other !== want.other) this.fail(`${what} gave ${this.showAnswer(got)}; the caller's own exception must propagate unchanged`);
      return;
    }
    if ('other' in got) this.fail(`${what} threw a non-KqueueError: ${String((got.other as Error)?.stack ?? got.other)}`);
    if ('errno' in want) {
      if (!('errno' in got)) this.fail(`${what} returned ${this.showEvents((got as { events: KEvent[] }).events)}, model throws errno ${want.errno}`);
      if (got.errno !== want.errno) this.fail(`${what} threw errno ${got.errno}, model throws errno ${want.errno}`);
      return;
    }
    if ('errno' in got) this.fail(`${what} threw errno ${got.errno}, model returns ${this.showEvents((want as { events: MEvent[] }).events)}`);
    const a = (got as { events: KEvent[] }).events;
    const b = (want as { events: MEvent[] }).events;
    if (!Array.isArray(a)) this.fail(`${what} returned a non-array ${String(a)}`);
    let same = a.length === b.length;
    for (let i = 0; same && i < a.length; i++) same = sameEvent(a[i]!, b[i]!);
    if (!same) this.fail(`${what} returned\n    ${this.showEvents(a)}\n  model returns\n    ${this.showEvents(b)}`);
  }

  private showAnswer(a: Answer): string {
    if ('errno' in a) return `errno ${a.errno}`;
    if ('other' in a) return `exception ${String(a.other)}`;
    return this.showEvents(a.events);
  }

  private show(v: unknown): string {
    return showValue(v, this.names);
  }

  showEvents(evs: readonly (KEvent | MEvent)[]): string {
    return `[${evs.map((e) => `{ident: ${this.show(e.ident)}, filter: ${e.filter}, flags: 0x${e.flags.toString(16)}, `
      + `fflags: 0x${e.fflags.toString(16)}, data: ${this.show(e.data)}, udata: ${this.show(e.udata)}}`).join(', ')}]`;
  }

  private showOutcome(o: Outcome): string {
    return 'errno' in o ? `errno ${o.errno}` : 'thrown' in o ? `exception ${String(o.thrown)}` : this.showEvents(o.events);
  }

  private showTracked(c: Tracked): string {
    if (c.error !== undefined) return c.error instanceof KqueueError ? `errno ${c.error.errno}` : `exception ${String(c.error)}`;
    return this.showEvents(c.value ?? []);
  }
}

function answerOfError(e: unknown): Answer {
  return e instanceof KqueueError ? { errno: e.errno } : { other: e };
}

function sameEvent(a: KEvent, b: MEvent): boolean {
  return Object.is(a.ident, b.ident) && a.filter === b.filter && a.flags === b.flags && a.fflags === b.fflags
    && typeof a.data === typeof b.data && a.data === b.data && Object.is(a.udata, b.udata);
}

function showValue(v: unknown, names: Map<unknown, string>): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined || v === null) return String(v);
  return names.get(v) ?? Object.prototype.toString.call(v);
}

/** An operation as TypeScript source (NaN, -0, Infinity kept), for messages and regression tests. */
export function showOp(op: Op): string {
  return JSON.stringify(op, (_k, v: unknown) => {
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return `@@${Object.is(v, -0) ? '-0' : String(v)}@@`;
    return v;
  }).replace(/"@@(.*?)@@"/g, '$1');
}

export function showSequence(seq: Sequence): string {
  return `{ calloutmax: ${seq.calloutmax}, kqueues: ${seq.kqueues}, ops: [\n${seq.ops.map((o) => `  ${showOp(o)},`).join('\n')}\n] }`;
}

/** Runs one sequence; throws a Divergence at the first difference. */
export async function runSequence(seq: Sequence): Promise<void> {
  const r = new Runner(seq);
  try {
    for (let i = 0; i < seq.ops.length; i++) await r.step(seq.ops[i]!, i);
    await r.end();
  } finally {
    r.cleanup();
  }
}

/** The property: every generated sequence runs without a divergence. */
export function modelProperty(onRun?: () => void): fc.IAsyncPropertyWithHooks<[Sequence]> {
  return fc.asyncProperty(sequenceArb, async (seq) => {
    onRun?.();
    await runSequence(seq);
  });
}
