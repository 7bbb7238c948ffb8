// Soak phases A-E, on the engine alone (USER, TIMER, READ on a kqueue): see run.ts.
import { getEventListeners, setMaxListeners } from 'node:events';
import {
  EINTR, EV_ADD, EV_CLEAR, EV_DELETE, EV_ONESHOT, EVFILT_READ, EVFILT_TIMER, EVFILT_USER,
  KqueueError, NOTE_TRIGGER, VirtualClock, kqueue, tunables, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { check, phase, turn } from './harness.js';

// ---- A. 1M knotes registered and deleted -------------------------------------------------------------

export async function phaseRegister(SCALE: number): Promise<void> {
  const PER_TENTH = Math.round(100_000 * SCALE);
  const clock = new VirtualClock();
  let kq: Kqueue = kqueue({ clock });
  let serial = 0;
  /** One batch: `size` knotes added (idents of four kinds, every tenth one a timer), then deleted. */
  const batch = (size: number): number => {
    const add: KEventInit[] = new Array(size);
    const keys: unknown[] = new Array(size);
    for (let j = 0; j < size; j++) {
      const k = serial++;
      const ident = k % 4 === 0 ? k : k % 4 === 1 ? `s${k}` : k % 4 === 2 ? Symbol(k) : { k };
      keys[j] = ident;
      add[j] = j % 10 === 0
        ? { ident, filter: EVFILT_TIMER, flags: EV_ADD, data: 1 + (j % 100) }
        : { ident, filter: EVFILT_USER, flags: EV_ADD | (j % 2 === 0 ? EV_CLEAR : 0), fflags: j % 3 === 0 ? NOTE_TRIGGER : 0, udata: j };
    }
    kq.keventSync(add, 0);
    const del: KEventInit[] = new Array(size);
    for (let j = 0; j < size; j++) del[j] = { ident: keys[j] as never, filter: add[j]!.filter, flags: EV_DELETE };
    kq.keventSync(del, 0);
    return size;
  };
  const tenth = async (n: number): Promise<number> => {
    // 50 batches of 1000 and 5 of 10000: 100k knotes per tenth (scaled).
    let done = 0;
    const small = Math.max(1, Math.round(1000 * SCALE));
    const big = Math.max(1, Math.round(10_000 * SCALE));
    for (let b = 0; b < 50; b++) done += batch(small);
    for (let b = 0; b < 5; b++) done += batch(big);
    check(kq.pending === 0, `A: pending ${kq.pending} after deleting every knote`);
    await turn();
    void n;
    return done || PER_TENTH;
  };
  await phase('A. register + delete 1M knotes', 'knotes', async () => {
    for (let i = 0; i < 3; i++) batch(Math.max(1, Math.round(10_000 * SCALE)));
  }, tenth, async () => {
    kq.close();
    kq = kqueue({ clock });
    kq.close();
    return `${serial} knotes`;
  });
}

// ---- B. 10M events triggered and harvested in batches ------------------------------------------------

export async function phaseHarvest(SCALE: number): Promise<void> {
  const N = 1000;
  const ROUNDS = Math.max(1, Math.round(1000 * SCALE)); // per tenth: 1000 rounds x 1000 events
  let kq: Kqueue = kqueue();
  const add: KEventInit[] = [];
  const trig: KEventInit[] = [];
  for (let i = 0; i < N; i++) {
    add.push({ ident: i, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, udata: i });
    trig.push({ ident: i, filter: EVFILT_USER, fflags: NOTE_TRIGGER });
  }
  kq.keventSync(add, 0);
  let total = 0;
  const round = async (r: number): Promise<number> => {
    kq.keventSync(trig, 0);
    const evs = r % 4 === 0 ? await kq.kevent(null, N, 0) : kq.keventSync(null, N);
    if (evs.length !== N) check(false, `B: a harvest returned ${evs.length} events, want ${N}`);
    total += evs.length;
    return evs.length;
  };
  await phase('B. trigger + harvest 10M events', 'events', async () => {
    for (let r = 0; r < 50; r++) await round(r);
  }, async () => {
    let n = 0;
    for (let r = 0; r < ROUNDS; r++) n += await round(r);
    return n;
  }, async () => {
    check(kq.pending === 0, `B: pending ${kq.pending} at the end`);
    kq.close();
    kq = kqueue();
    kq.close();
    return `${total} events`;
  });
}

// ---- C. 100k timers firing on the real clock -----------------------------------------------------------

export async function phaseTimers(SCALE: number): Promise<void> {
  const PER_TENTH = Math.max(10, Math.round(10_000 * SCALE));
  const saved = tunables.kq_calloutmax;
  tunables.kq_calloutmax = Math.max(saved, PER_TENTH * 2);
  let kq: Kqueue = kqueue();
  let fired = 0;
  let late = 0;
  let lateMax = 0;
  /** Arms `n` one-shot timers with periods 1..50 ms and harvests until every one has fired. */
  const wave = async (n: number, base: number): Promise<number> => {
    const t0 = performance.now();
    const changes: KEventInit[] = new Array(n);
    for (let i = 0; i < n; i++) {
      changes[i] = { ident: base + i, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 1 + (i % 50), udata: 1 + (i % 50) };
    }
    kq.keventSync(changes, 0);
    const seen = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const evs = await kq.kevent(null, 4096, 5000);
      if (evs.length === 0) {
        check(false, `C: no timer fired within 5 s (${got}/${n})`);
        break;
      }
      const now = performance.now();
      for (const e of evs) {
        const k = (e.ident as number) - base;
        if (seen[k] !== 0 || e.data !== 1) check(false, `C: timer ${k} delivered twice or with data ${String(e.data)}`);
        seen[k] = 1;
        const lateness = now - t0 - (e.udata as number);
        late += lateness;
        if (lateness > lateMax) lateMax = lateness;
      }
      got += evs.length;
    }
    fired += got;
    return got;
  };
  let base = 0;
  await phase('C. 100k one-shot timers on the real clock', 'timers', async () => {
    await wave(Math.min(2000, PER_TENTH), 1e9);
  }, async () => {
    const n = await wave(PER_TENTH, base);
    base += PER_TENTH;
    return n;
  }, async () => {
    check(kq.pending === 0, `C: pending ${kq.pending} at the end`);
    kq.close();
    kq = kqueue();
    kq.close();
    tunables.kq_calloutmax = saved;
    return `${fired} fired, lateness mean ${(late / Math.max(1, fired)).toFixed(1)} ms, max ${lateMax.toFixed(1)} ms`;
  });
}

// ---- D. 10k kqueues opened and closed --------------------------------------------------------------------

export async function phaseKqueues(SCALE: number): Promise<void> {
  const PER_TENTH = Math.max(10, Math.round(1000 * SCALE));
  let opened = 0;
  let prev: Kqueue | null = null;
  const waits: Promise<string>[] = [];
  const one = (): void => {
    const kq = kqueue();
    // About 1 KiB of udata per knote: anything a closed kqueue still held would show in the heap.
    const udata = new Array<number>(120).fill(opened);
    kq.keventSync([
      { ident: 'u', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata },
      { ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 60_000, udata },
      ...(prev === null ? [] : [{ ident: prev, filter: EVFILT_READ, flags: EV_ADD }]),
    ], 0);
    // A wait that close() must end with EBADF: nothing is ready for it once 'u' is deleted.
    kq.keventSync([{ ident: 'u', filter: EVFILT_USER, flags: EV_DELETE }], 0);
    waits.push(kq.kevent(null, 1, null).then(() => 'resolved', (e: unknown) => (e instanceof KqueueError ? e.code : String(e))));
    prev?.close();
    prev = kq;
    opened++;
  };
  const drain = async (): Promise<void> => {
    const outcomes = await Promise.all(waits.splice(0));
    // The last kqueue of a tenth is closed by the next tenth (or the teardown): its wait is pending.
    for (const o of outcomes) if (o !== 'EBADF') check(false, `D: a wait pending at close() ended with ${o}`);
  };
  await phase('D. open + close 10k kqueues', 'kqueues', async () => {
    // A warm-up of half the phase: with less, code the JIT compiles later (the phase's rate still doubles
    // from its first tenths to its last) shows as 300-500 KiB of heap growth, a constant, not a leak.
    for (let i = 0; i < 5 * PER_TENTH; i++) one();
    prev!.close();
    prev = null;
    await drain();
  }, async () => {
    for (let i = 0; i < PER_TENTH; i++) one();
    prev!.close();
    prev = null;
    await drain();
    return PER_TENTH;
  }, async () => `${opened} kqueues`);
}

// ---- E. 100k waits aborted or timed out ------------------------------------------------------------------

export async function phaseWaits(SCALE: number): Promise<void> {
  const BATCH = 1000;
  const BATCHES = Math.max(1, Math.round(10 * SCALE)); // per tenth
  let kq: Kqueue = kqueue();
  const clock = new VirtualClock();
  let vkq: Kqueue = kqueue({ clock });
  let counts = { aborted: 0, real: 0, virtual: 0 };
  const batch = async (): Promise<number> => {
    const ac = new AbortController();
    // 500 waits share the signal: more listeners than Node's warning threshold, on purpose.
    setMaxListeners(0, ac.signal);
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < BATCH; i++) {
      const kind = i % 4;
      if (kind < 2) {
        ps.push(kq.kevent(null, 1, kind === 0 ? null : 60_000, { signal: ac.signal }).then(
          (v) => check(false, `E: an aborted wait resolved with ${JSON.stringify(v)}`),
          (e: unknown) => { if (e instanceof KqueueError && e.errno === EINTR) counts.aborted++; else check(false, `E: an aborted wait failed with ${String(e)}`); },
        ));
      } else if (kind === 2) {
        ps.push(kq.kevent(null, 1, 1).then((v) => { if (v.length === 0) counts.real++; else check(false, 'E: a timeout returned events'); }));
      } else {
        ps.push(vkq.kevent(null, 1, 1 + (i % 7)).then((v) => { if (v.length === 0) counts.virtual++; else check(false, 'E: a timeout returned events'); }));
      }
    }
    await turn();
    ac.abort();
    clock.advance(8);
    await Promise.all(ps);
    check(getEventListeners(ac.signal, 'abort').length === 0, 'E: a finished wait left its abort listener behind');
    return BATCH;
  };
  await phase('E. 100k waits aborted or timed out', 'waits', async () => {
    for (let i = 0; i < 5; i++) await batch();
    counts = { aborted: 0, real: 0, virtual: 0 };
  }, async () => {
    let n = 0;
    for (let b = 0; b < BATCHES; b++) n += await batch();
    return n;
  }, async () => {
    const note = `${counts.aborted} aborted (EINTR), ${counts.real} real-clock timeouts, ${counts.virtual} virtual-clock timeouts`;
    check(kq.pending === 0 && vkq.pending === 0, 'E: events appeared from nowhere');
    kq.close();
    vkq.close();
    kq = kqueue();
    vkq = kqueue({ clock });
    kq.close();
    vkq.close();
    return note;
  });
}

