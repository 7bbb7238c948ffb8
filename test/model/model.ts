// A deliberately simple reference model of kqueue/kevent, written from the DragonFly digest
// (/work/shared/reference/dragonfly-semantics.md sections 2, 3.6, 3.7, 3.10, 3.11, 5) and
// kern_event.c at the reference commit, with the overrides of api.md (error entries limited by
// nevents, malformed calls EINVAL, exact-millisecond timers, close rejecting waits with EBADF).
//
// Nothing here comes from src/: plain arrays (the pending queue is an array holding knotes and
// marker objects), plain objects, linear searches, no performance tricks. Every function names
// the piece of the reference it transcribes. Filters modelled: EVFILT_USER, EVFILT_TIMER (on a
// virtual clock), EVFILT_READ on a kqueue (the only descriptor this model knows), EVFILT_AIO on
// non-thenables, and the per-change errors of READ/WRITE/VNODE/EXCEPT and of bad filters.

// ---- numbers (digest 1.2, 1.3, 1.4, 1.8) ----------------------------------------------------
// Repeated here on purpose rather than imported from src/constants.ts: a wrong constant in the
// library must make the model disagree, not silently agree with it.

export const EVFILT_READ = -1;
export const EVFILT_WRITE = -2;
export const EVFILT_AIO = -3;
export const EVFILT_VNODE = -4;
export const EVFILT_PROC = -5;
export const EVFILT_SIGNAL = -6;
export const EVFILT_TIMER = -7;
export const EVFILT_EXCEPT = -8;
export const EVFILT_USER = -9;
export const EVFILT_FS = -10;
export const EVFILT_SYSCOUNT = 10;

export const EV_ADD = 0x0001;
export const EV_DELETE = 0x0002;
export const EV_ENABLE = 0x0004;
export const EV_DISABLE = 0x0008;
export const EV_ONESHOT = 0x0010;
export const EV_CLEAR = 0x0020;
export const EV_RECEIPT = 0x0040;
export const EV_DISPATCH = 0x0080;
export const EV_SYSFLAGS = 0xf000;
export const EV_ERROR = 0x4000;

export const NOTE_FFNOP = 0x00000000;
export const NOTE_FFAND = 0x40000000;
export const NOTE_FFOR = 0x80000000;
export const NOTE_FFCOPY = 0xc0000000;
export const NOTE_FFCTRLMASK = 0xc0000000;
export const NOTE_FFLAGSMASK = 0x00ffffff;
export const NOTE_TRIGGER = 0x01000000;

export const ENOENT = 2;
export const EINTR = 4;
export const ENXIO = 6;
export const EBADF = 9;
export const ENOMEM = 12;
export const EINVAL = 22;
export const EOPNOTSUPP = 45;

/** KQ_NEVENTS: the batch size of the collection loop (2.7). */
const KQ_NEVENTS = 32;

// ---- shapes -----------------------------------------------------------------------------------

export interface MEvent {
  ident: unknown;
  filter: number;
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
}

/** A whole-call failure (what the library throws as a KqueueError). */
export class ModelError extends Error {
  constructor(readonly errno: number, why: string) {
    super(`errno ${errno}: ${why}`);
  }
}

/** A change after the API's reading of it (api.md "Types", "Errors"). */
interface MChange {
  ident: unknown;
  filter: number;
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
}

interface Marker {
  isMarker: true;
}

export interface MKnote {
  isMarker: false;
  kq: MKqueue;
  // the kevent image (digest 2.1)
  ident: unknown;
  filter: number;
  flags: number;
  fflags: number;
  data: number | bigint;
  udata: unknown;
  // the user's inputs
  sfflags: number;
  sdata: number | bigint;
  // status (digest 1.6)
  active: boolean;
  queued: boolean;
  disabled: boolean;
  processing: boolean;
  reprocess: boolean;
  deleting: boolean;
  dead: boolean;
  // per filter
  triggered: boolean; // EVFILT_USER's hookid
  watched: MKqueue | null; // EVFILT_READ on a kqueue
}

interface TimerEntry {
  kn: MKnote;
  deadline: number;
  seq: number;
}

/** When a settled call becomes visible to the caller (api.md "Calls"). */
export type Timing =
  | 'micro' // settles in microtasks after the step (woken waits, timeouts)
  | 'turn' // settles only after one event-loop turn (timeout not 0, events ready at call time)
  | 'any'; // not pinned by the contract: anything up to one turn

export type Outcome = { events: MEvent[] } | { errno: number } | { thrown: unknown };

/** An asynchronous kevent() call as the model sees it. */
export interface MCall {
  id: number;
  settled: boolean;
  timing: Timing;
  outcome?: Outcome;
  /** The event loop has turned since the call (a wait settles no earlier than that). */
  turned: boolean;
}

/** A kevent() call asleep on a kqueue with nothing collected (digest 2.6, 2.13). */
interface MWaiter {
  call: MCall;
  kq: MKqueue;
  nevents: number;
  deadline: number;
  signal: number | undefined;
  woken: boolean;
  done: boolean;
  timeoutFired: boolean;
  order: number;
}

export class MKqueue {
  /** kq_knlist: every knote of this kqueue. */
  readonly knotes: MKnote[] = [];
  /** kq_knpend: queued knotes and scan markers, head first. */
  readonly queue: (MKnote | Marker)[] = [];
  /** kq_count: queued knotes (markers excluded); what `pending` reports. */
  count = 0;
  /** kq_kqinfo.ki_note: knotes (in any kqueue) watching this one; new ones go to the head. */
  readonly watchers: MKnote[] = [];
  /** Threads asleep in kevent on this kqueue, first asleep first. */
  readonly sleepers: MWaiter[] = [];
  /** kq_sleep_cnt. */
  sleepCnt = 0;
  closed = false;
  /** Every unfinished wait on this kqueue (woken ones included). */
  readonly waits: MWaiter[] = [];

  constructor(readonly model: Model, readonly handle: unknown) {}
}

function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

function isFdFilter(filter: number): boolean {
  return filter === EVFILT_READ || filter === EVFILT_WRITE || filter === EVFILT_VNODE || filter === EVFILT_EXCEPT;
}

/** api.md: a number while exact, a bigint beyond. */
function normData(v: bigint): number | bigint {
  return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** api.md "Types"/"Errors": reads one change; EINVAL when malformed. */
function readChange(raw: unknown): MChange {
  if (typeof raw !== 'object' || raw === null) throw new ModelError(EINVAL, 'a change is not an object');
  const r = raw as Record<string, unknown>;
  const { ident, filter, flags, fflags, data, udata } = r;
  if (!isInt(filter)) throw new ModelError(EINVAL, 'filter is not an integer');
  let fl = 0;
  if (flags !== undefined) {
    if (!isInt(flags)) throw new ModelError(EINVAL, 'flags is not an integer');
    fl = flags & 0xffff;
  }
  let ff = 0;
  if (fflags !== undefined) {
    if (!isInt(fflags)) throw new ModelError(EINVAL, 'fflags is not an integer');
    ff = Number(BigInt.asUintN(32, BigInt(fflags))); // modulo 2^32
  }
  let d: number | bigint = 0;
  if (data !== undefined) {
    if (typeof data === 'bigint') d = normData(data);
    else if (isInt(data)) d = normData(BigInt(data));
    else throw new ModelError(EINVAL, 'data is not an integer');
  }
  // 2.4: EV_SYSFLAGS bits are cleared from every incoming change first.
  return { ident, filter, flags: fl & ~EV_SYSFLAGS, fflags: ff, data: d, udata };
}

/** api.md "Calls": a timeout in milliseconds; Infinity waits forever. */
function readTimeout(t: unknown): number {
  if (t === undefined || t === null) return Infinity;
  if (typeof t === 'number') {
    if (Number.isNaN(t)) throw new ModelError(EINVAL, 'timeout NaN');
    return t;
  }
  if (typeof t === 'object') {
    const { sec, nsec } = t as { sec: unknown; nsec: unknown };
    if (typeof sec !== 'number' || Number.isNaN(sec)) throw new ModelError(EINVAL, 'timeout.sec');
    if (!isInt(nsec) || nsec < 0 || nsec >= 1e9) throw new ModelError(EINVAL, 'timeout.nsec');
    return sec * 1000 + nsec / 1e6;
  }
  throw new ModelError(EINVAL, 'timeout type');
}

/** api.md: timer periods are exact milliseconds; a period <= 0 means 1 ms. */
function timerPeriod(sdata: number | bigint): number {
  const p = Number(sdata);
  return p <= 0 ? 1 : p;
}

/** NOTE_FF* on the stored 24 bits (3.11). */
function userFfop(stored: number, fflags: number): number {
  const bits = fflags & NOTE_FFLAGSMASK;
  const ctrl = (fflags & NOTE_FFCTRLMASK) >>> 0;
  if (ctrl === NOTE_FFAND) return stored & bits;
  if (ctrl === NOTE_FFOR) return stored | bits;
  if (ctrl === NOTE_FFCOPY) return bits;
  return stored; // NOTE_FFNOP
}

/** How often each rule fired, summed over every model (coverage of the generated sequences). */
export const coverage: Record<string, number> = {};

function hit(what: string): void {
  coverage[what] = (coverage[what] ?? 0) + 1;
}

export class Model {
  now = 0;
  readonly kqueues: MKqueue[] = [];
  /** Armed timer callouts on the (single, virtual) clock. */
  private timers: TimerEntry[] = [];
  private seq = 0;
  /** kq_ncallouts and kern.kq_calloutmax (2.14). */
  liveTimers = 0;
  calloutmax = 4096;
  /** Waits with a finite deadline, not yet timed out. */
  private timeouts: MWaiter[] = [];
  /** Woken waits whose re-scan is queued (a FIFO: microtasks). */
  private microtasks: MWaiter[] = [];
  /** Abort signals: true once aborted. */
  readonly signals: boolean[] = [];
  private waitOrder = 0;
  private callIds = 0;

  createKqueue(handle: unknown): MKqueue {
    const kq = new MKqueue(this, handle);
    this.kqueues.push(kq);
    return kq;
  }

  /** A descriptor-filter ident names an open kqueue, or nothing (EBADF). */
  private resolveFd(ident: unknown): MKqueue | undefined {
    return this.kqueues.find((k) => k.handle === ident && !k.closed);
  }

  // ---- filters (filterops) -------------------------------------------------------------------

  private attach(kn: MKnote, fp: MKqueue | undefined): number {
    switch (kn.filter) {
      case EVFILT_READ:
      case EVFILT_WRITE:
      case EVFILT_VNODE:
      case EVFILT_EXCEPT:
        // kqueue_kqfilter: only READ is supported on a kqueue (3.6, 3.1 table).
        if (kn.filter !== EVFILT_READ) return EOPNOTSUPP;
        kn.watched = fp!;
        fp!.watchers.unshift(kn); // knote_insert: SLIST_INSERT_HEAD
        return 0;
      case EVFILT_AIO:
        return ENXIO; // 3.7 (api.md: a non-thenable ident)
      case EVFILT_TIMER: {
        // filt_timerattach (3.10, 2.14)
        if (this.liveTimers >= this.calloutmax) return ENOMEM;
        this.liveTimers++;
        kn.flags |= EV_CLEAR;
        this.arm(kn, this.now + timerPeriod(kn.sdata));
        return 0;
      }
      case EVFILT_USER: {
        // filt_userattach (3.11)
        kn.triggered = (kn.sfflags & NOTE_TRIGGER) !== 0;
        const input = kn.sfflags;
        kn.sfflags = input & NOTE_FFLAGSMASK;
        kn.fflags = userFfop(kn.fflags, input);
        kn.data = kn.sdata;
        return 0;
      }
      default:
        throw new Error(`model: filter ${kn.filter} is not modelled`);
    }
  }

  private detach(kn: MKnote): void {
    if (kn.filter === EVFILT_TIMER) {
      this.timers = this.timers.filter((t) => t.kn !== kn); // callout_terminate
      this.liveTimers--;
    } else if (kn.watched !== null) {
      const list = kn.watched.watchers;
      list.splice(list.indexOf(kn), 1);
    }
  }

  private event(kn: MKnote, _hint: number): boolean {
    switch (kn.filter) {
      case EVFILT_TIMER:
        return kn.data !== 0;
      case EVFILT_USER:
        return kn.triggered;
      case EVFILT_READ: {
        // filt_kqueue
        const n = kn.watched!.count;
        kn.data = n;
        return n > 0;
      }
      default:
        return false;
    }
  }

  /** filt_usertouch(EVENT_REGISTER); leaves in ch.fflags what an entry echoes (low 24 bits). */
  private userTouch(kn: MKnote, ch: MChange): void {
    if (ch.fflags & NOTE_TRIGGER) kn.triggered = true;
    kn.fflags = userFfop(kn.fflags, ch.fflags);
    ch.fflags = ch.fflags & NOTE_FFLAGSMASK;
    kn.data = ch.data;
    if (ch.flags & EV_CLEAR) {
      kn.triggered = false;
      kn.data = 0;
    }
  }

  // ---- engine primitives (2.2) -----------------------------------------------------------------

  private activate(kn: MKnote): void {
    kn.active = true;
    if (!kn.queued && !kn.disabled) this.enqueue(kn);
  }

  private enqueue(kn: MKnote): void {
    const kq = kn.kq;
    kq.queue.push(kn);
    kn.queued = true;
    kq.count++;
    this.kqueueWakeup(kq);
  }

  private dequeue(kn: MKnote): void {
    const q = kn.kq.queue;
    q.splice(q.indexOf(kn), 1);
    kn.queued = false;
    kn.kq.count--;
  }

  /** kqueue_wakeup: sleepers first (2.13), then the knotes watching this kqueue. */
  private kqueueWakeup(kq: MKqueue): void {
    if (kq.sleepCnt !== 0) {
      const n = kq.sleepCnt;
      kq.sleepCnt = 0;
      if (n === 1) {
        const w = kq.sleepers.shift();
        if (w !== undefined) this.wake(w);
      } else {
        const all = kq.sleepers.splice(0);
        for (const w of all) this.wake(w);
      }
    }
    this.post(kq.watchers, 0);
  }

  /** knote(): run each knote's filter with the hint, activate on true. */
  private post(list: MKnote[], hint: number): void {
    for (const kn of [...list]) {
      if (kn.dead) continue;
      if (kn.processing) {
        hit('post: reprocess requested');
        kn.reprocess = true; // hint 0: ask the owner to re-run it
        continue;
      }
      kn.processing = true;
      if (!kn.deleting && this.event(kn, hint)) this.activate(kn);
      this.release(kn);
    }
  }

  /** knote_release. */
  private release(kn: MKnote): void {
    while (kn.reprocess) {
      kn.reprocess = false;
      if (kn.deleting) {
        this.detachAndDrop(kn);
        return;
      }
      if (this.event(kn, 0)) this.activate(kn);
    }
    kn.processing = false;
  }

  private detachAndDrop(kn: MKnote): void {
    kn.deleting = true;
    kn.reprocess = true;
    this.detach(kn);
    this.drop(kn);
  }

  private drop(kn: MKnote): void {
    const list = kn.kq.knotes;
    list.splice(list.indexOf(kn), 1);
    if (kn.queued) this.dequeue(kn);
    kn.dead = true;
  }

  // ---- registration (2.4, 2.11) --------------------------------------------------------------

  /** kqueue_register for one change; returns 0 or the errno. May rewrite ch.fflags/ch.data. */
  private register(kq: MKqueue, ch: MChange): number {
    const filter = ch.filter;
    if (filter >= 0 || filter < -EVFILT_SYSCOUNT) return EINVAL;
    let fp: MKqueue | undefined;
    if (isFdFilter(filter)) {
      fp = this.resolveFd(ch.ident);
      if (fp === undefined) return EBADF;
    }
    let kn = kq.knotes.find((k) => k.filter === filter && sameValueZero(k.ident, ch.ident));
    if (kn === undefined && (ch.flags & EV_ADD) === 0) return ENOENT;
    if (kn !== undefined) kn.processing = true; // knote_acquire
    hit(`register: ${filter} ${kn === undefined ? 'new' : 'existing'} ${ch.flags & EV_ADD ? 'add' : ch.flags & EV_DELETE ? 'delete' : 'modify'}`);

    if (ch.flags & EV_ADD) {
      if (kn === undefined) {
        kn = {
          isMarker: false, kq, ident: ch.ident, filter, flags: ch.flags, fflags: 0, data: 0,
          udata: ch.udata, sfflags: ch.fflags, sdata: ch.data, active: false, queued: false,
          disabled: false, processing: true, reprocess: false, deleting: false, dead: false,
          triggered: false, watched: null,
        };
        ch.fflags = 0;
        ch.data = 0;
        kq.knotes.unshift(kn); // knote_attach
        const error = this.attach(kn, fp);
        if (error !== 0) {
          kn.deleting = true;
          kn.reprocess = true;
          this.drop(kn);
          return error;
        }
      } else {
        this.modify(kn, ch);
      }
      if (!kn.reprocess && this.event(kn, 0)) this.activate(kn);
    } else if (ch.flags & EV_DELETE) {
      this.detachAndDrop(kn!);
      return 0;
    } else {
      this.modify(kn!, ch);
      if (!kn!.reprocess && this.event(kn!, 0)) this.activate(kn!);
    }
    kn = kn!;
    if ((ch.flags & EV_DISABLE) && !kn.disabled) kn.disabled = true;
    if ((ch.flags & EV_ENABLE) && kn.disabled) {
      kn.disabled = false;
      if (kn.active && !kn.queued) {
        hit('register: enable re-queues');
        this.enqueue(kn);
      }
    }
    this.release(kn);
    return 0;
  }

  private modify(kn: MKnote, ch: MChange): void {
    if (kn.filter === EVFILT_USER) {
      this.userTouch(kn, ch);
    } else {
      kn.sfflags = ch.fflags;
      kn.sdata = ch.data;
      kn.udata = ch.udata;
    }
  }

  // ---- collection (2.7, 2.8, 2.9) ----------------------------------------------------------------

  /** kqueue_scan: up to `count` events from the head, stopping at `marker`. */
  private scan(kq: MKqueue, count: number, marker: Marker, out: MEvent[]): number {
    let total = 0;
    let pos = 0; // the local marker: everything before pos is a foreign marker
    while (count > 0) {
      const item = kq.queue[pos]!;
      if (item.isMarker) {
        if (item === marker) break;
        pos++;
        continue;
      }
      const kn = item;
      kn.processing = true;
      kq.queue.splice(pos, 1); // removed, but KN_QUEUED stays while examined
      kq.count--;
      if (kn.disabled) {
        hit('scan: disabled dropped');
        kn.queued = false;
      } else if ((kn.flags & EV_ONESHOT) === 0 && !kn.deleting && !this.event(kn, 0)) {
        hit(`scan: stale ${kn.filter}`);
        kn.queued = false;
        kn.active = false;
      } else {
        hit(`scan: deliver ${kn.filter}${kn.flags & EV_ONESHOT ? ' oneshot' : kn.flags & (EV_CLEAR | EV_DISPATCH) ? ' clear/dispatch' : ' level'}`);
        out.push({ ident: kn.ident, filter: kn.filter, flags: kn.flags, fflags: kn.fflags, data: kn.data, udata: kn.udata });
        if (kn.filter === EVFILT_USER && (kn.flags & EV_CLEAR)) kn.triggered = false; // EVENT_PROCESS
        total++;
        count--;
        if (kn.flags & EV_ONESHOT) {
          kn.queued = false;
          kn.deleting = true;
          kn.reprocess = true;
        } else if (kn.flags & (EV_CLEAR | EV_DISPATCH)) {
          if (kn.flags & EV_CLEAR) {
            kn.data = 0;
            kn.fflags = 0;
          }
          if (kn.flags & EV_DISPATCH) kn.disabled = true;
          kn.queued = false;
          kn.active = false;
        } else {
          kq.queue.push(kn); // level: back to the tail, behind our marker
          kq.count++;
        }
      }
      this.release(kn);
    }
    return total;
  }

  /** The collection loop of kern_kevent without its sleep; returns how many were collected. */
  private collect(kq: MKqueue, nevents: number, out: MEvent[]): number {
    const marker: Marker = { isMarker: true };
    kq.queue.push(marker);
    let total = 0;
    let limit = 1000000;
    for (;;) {
      let n = nevents - total;
      if (n <= 0) break;
      if (n > KQ_NEVENTS) n = KQ_NEVENTS;
      if (kq.count === 0 && total === 0) break; // would sleep (or the poll ends)
      const i = this.scan(kq, n, marker, out);
      total += i;
      if (--limit === 0) throw new Error('model: checkloop');
      if (i < n && total > 0) break;
      if (i === 0) {
        hit('collect: marker moved');
        kq.queue.splice(kq.queue.indexOf(marker), 1);
        kq.queue.push(marker);
      }
    }
    kq.queue.splice(kq.queue.indexOf(marker), 1);
    return total;
  }

  // ---- the kevent call -------------------------------------------------------------------------

  /**
   * Validates, applies the changelist and scans once. `done` is false when the call would
   * have to sleep.
   */
  private keventNow(kq: MKqueue, changelist: unknown[] | null | undefined, nevents: unknown): { done: boolean; out: MEvent[] } {
    if (kq.closed) throw new ModelError(EBADF, 'closed kqueue');
    if (!isInt(nevents) || nevents < 0) throw new ModelError(EINVAL, 'nevents');
    const changes = (changelist ?? []).map(readChange); // validated before anything is applied
    const out: MEvent[] = [];
    let room = nevents;
    let posted = false;
    for (const ch of changes) {
      const error = this.register(kq, ch);
      if (error !== 0 || (ch.flags & EV_RECEIPT)) {
        hit(error !== 0 ? `entry: errno ${error}${room <= 0 ? ' no room' : ''}` : `entry: receipt${room <= 0 ? ' no room' : ''}`);
        if (room <= 0) {
          if (error !== 0) throw new ModelError(error, 'no room for the error entry');
          return { done: true, out }; // a receipt with no room ends the call
        }
        out.push({ ident: ch.ident, filter: ch.filter, flags: EV_ERROR, fflags: ch.fflags, data: error, udata: ch.udata });
        room--;
        posted = true;
      }
    }
    if (posted || nevents === 0) return { done: true, out };
    const n = this.collect(kq, nevents, out);
    return { done: n > 0, out };
  }

  /** keventSync: the events, or a thrown ModelError. */
  keventSync(kq: MKqueue, changelist: unknown[] | null | undefined, nevents: unknown): MEvent[] {
    return this.keventNow(kq, changelist, nevents).out;
  }

  /** kevent(): returns the call, settled or asleep. */
  kevent(kq: MKqueue, changelist: unknown[] | null | undefined, nevents: unknown, timeout: unknown, signal: number | undefined,
    isCallerException: (e: unknown) => boolean = () => false): MCall {
    const call: MCall = { id: this.callIds++, settled: false, timing: 'any', turned: false };
    let ms: number;
    let res: { done: boolean; out: MEvent[] };
    try {
      // api.md: after close() every call fails with EBADF, whatever its arguments (DragonFly
      // reads the timeout first, but the contract decides).
      if (kq.closed) throw new ModelError(EBADF, 'closed kqueue');
      ms = readTimeout(timeout);
      res = this.keventNow(kq, changelist, nevents);
    } catch (e) {
      // api.md: an exception thrown by the caller's own code while the call reads its
      // arguments propagates unchanged (and no change was applied).
      if (isCallerException(e)) return settle(call, { thrown: e }, 'any');
      if (!(e instanceof ModelError)) throw e;
      return settle(call, { errno: e.errno }, 'any');
    }
    if (res.done) return settle(call, { events: res.out }, ms === 0 ? 'any' : 'turn');
    if (ms === 0 || ms < 0) return settle(call, { events: [] }, ms === 0 ? 'any' : 'turn');
    if (signal !== undefined && this.signals[signal]) return settle(call, { errno: EINTR }, 'any');
    const w: MWaiter = {
      call, kq, nevents: nevents as number, deadline: ms === Infinity ? Infinity : this.now + ms,
      signal, woken: false, done: false, timeoutFired: false, order: this.waitOrder++,
    };
    kq.waits.push(w);
    if (w.deadline !== Infinity) this.timeouts.push(w);
    this.sleep(w);
    return call;
  }

  private sleep(w: MWaiter): void {
    w.kq.sleepers.push(w);
    w.kq.sleepCnt++;
  }

  private unsleep(w: MWaiter): void {
    const i = w.kq.sleepers.indexOf(w);
    if (i >= 0) w.kq.sleepers.splice(i, 1); // kq_sleep_cnt is not decremented
  }

  private wake(w: MWaiter): void {
    hit('wait: woken');
    w.woken = true;
    this.microtasks.push(w);
  }

  private finish(w: MWaiter, outcome: Outcome, timing: Timing): void {
    w.done = true;
    const ws = w.kq.waits;
    ws.splice(ws.indexOf(w), 1);
    this.timeouts = this.timeouts.filter((t) => t !== w);
    // api.md: a kevent() whose timeout is not 0 lets the event loop turn before it settles.
    settle(w.call, outcome, w.call.turned ? timing : 'turn');
  }

  /** The event loop turned: every call made so far may now settle as soon as it ends. */
  turn(): void {
    for (const kq of this.kqueues) for (const w of kq.waits) w.call.turned = true;
  }

  /** Runs the re-scans of woken waits, in the order they were woken. */
  runMicrotasks(): void {
    while (this.microtasks.length !== 0) {
      const w = this.microtasks.shift()!;
      if (w.done) continue;
      w.woken = false;
      const out: MEvent[] = [];
      if (this.collect(w.kq, w.nevents, out) !== 0) this.finish(w, { events: out }, 'micro');
      else if (this.now >= w.deadline) this.finish(w, { events: [] }, 'micro');
      else if (w.signal !== undefined && this.signals[w.signal]) this.finish(w, { errno: EINTR }, 'any');
      else {
        hit('wait: re-sleeps after a fruitless wake');
        this.sleep(w);
      }
    }
  }

  /** AbortController.abort(): listeners run in the order the waits registered them. */
  abort(signal: number): void {
    if (this.signals[signal]) return;
    this.signals[signal] = true;
    const ws = this.kqueues.flatMap((k) => k.waits).filter((w) => w.signal === signal).sort((a, b) => a.order - b.order);
    for (const w of ws) {
      if (w.done || w.woken) continue;
      hit('wait: aborted');
      this.unsleep(w);
      this.finish(w, { errno: EINTR }, 'any');
    }
  }

  // ---- close (4, api.md) ----------------------------------------------------------------------

  close(kq: MKqueue): void {
    if (kq.closed) return;
    kq.closed = true;
    // kqueue_terminate: every knote of the kqueue.
    while (kq.knotes.length !== 0) {
      const kn = kq.knotes[0]!;
      kn.processing = true;
      this.detachAndDrop(kn);
    }
    // Closing the descriptor: knotes elsewhere that watch it.
    while (kq.watchers.length !== 0) {
      const kn = kq.watchers[0]!;
      kn.processing = true;
      this.detachAndDrop(kn);
    }
    kq.sleepers.length = 0;
    kq.sleepCnt = 0;
    for (const w of [...kq.waits]) {
      hit('wait: closed');
      this.finish(w, { errno: EBADF }, 'any');
    }
  }

  // ---- the virtual clock (3.10, api.md "Clocks") --------------------------------------------------

  private arm(kn: MKnote, deadline: number): void {
    this.timers.push({ kn, deadline, seq: this.seq++ });
  }

  /** Moves time forward, firing timers and timeouts one by one in deadline order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let t: TimerEntry | undefined;
      for (const e of this.timers) {
        if (t === undefined || e.deadline < t.deadline || (e.deadline === t.deadline && e.seq < t.seq)) t = e;
      }
      let w: MWaiter | undefined;
      for (const e of this.timeouts) {
        if (w === undefined || e.deadline < w.deadline) w = e;
      }
      const td = t === undefined ? Infinity : t.deadline;
      const wd = w === undefined ? Infinity : w.deadline;
      if (td > target && wd > target) break;
      if (td <= wd) this.fireTimer(t!);
      else this.fireTimeout(w!);
    }
    this.now = target;
  }

  /** filt_timerexpire. */
  private fireTimer(e: TimerEntry): void {
    this.timers.splice(this.timers.indexOf(e), 1);
    if (e.deadline > this.now) this.now = e.deadline;
    const kn = e.kn;
    kn.data = (kn.data as number) + 1;
    hit(kn.disabled ? 'timer: fired while disabled' : 'timer: fired');
    if (kn.processing) throw new Error('model: a timer fired on a knote being processed');
    kn.processing = true;
    this.activate(kn);
    if ((kn.flags & EV_ONESHOT) === 0) this.arm(kn, e.deadline + timerPeriod(kn.sdata));
    this.release(kn);
  }

  private fireTimeout(w: MWaiter): void {
    this.timeouts.splice(this.timeouts.indexOf(w), 1);
    if (w.deadline > this.now) this.now = w.deadline;
    w.timeoutFired = true;
    if (w.woken || w.done) {
      hit('wait: timeout while woken');
      return;
    }
    this.unsleep(w);
    this.finish(w, { events: [] }, 'micro');
  }

  /** Internal consistency of the model itself (not a comparison with the engine). */
  selfCheck(): void {
    for (const kq of this.kqueues) {
      const queued = kq.queue.filter((x) => !x.isMarker).length;
      if (queued !== kq.count) throw new Error(`model: count ${kq.count} but ${queued} queued`);
      if (kq.queue.some((x) => x.isMarker)) throw new Error('model: a marker was left in a queue');
      for (const kn of kq.knotes) if (kn.processing || kn.reprocess) throw new Error('model: a knote left in processing');
    }
    const live = this.kqueues.flatMap((k) => k.knotes).filter((k) => k.filter === EVFILT_TIMER).length;
    if (live !== this.liveTimers) throw new Error(`model: liveTimers ${this.liveTimers} but ${live} timer knotes`);
  }
}

function settle(call: MCall, outcome: Outcome, timing: Timing): MCall {
  call.settled = true;
  call.outcome = outcome;
  call.timing = timing;
  return call;
}
