/**
 * Trigger + harvest of EVFILT_USER events, versus EventEmitter.
 *
 * - kqueue, keventSync, batch B (1, 64, 1024): B knotes registered once with EV_ADD|EV_CLEAR;
 *   each call passes the same changelist of B NOTE_TRIGGER changes and harvests the B events.
 * - kqueue, kevent() with timeout 0 (async), batch 1024: the same through the promise API.
 * - EventEmitter: `emit()` with one listener.
 * - events.on(): 1024 emits, then the async iterator is drained of them.
 *
 * Metrics are events per second.
 */
import { EventEmitter, on } from 'node:events';
import {
  EV_ADD, EV_CLEAR, EVFILT_USER, type KEventInit, kqueue, NOTE_TRIGGER,
} from '../src/index.js';
import { emit, main, rate, rateAsync, sink } from './common.js';

const BATCHES = [1, 64, 1024];
const ON_BATCH = 1024;

function userKqueue(b: number): { kq: ReturnType<typeof kqueue>; triggers: KEventInit[] } {
  const kq = kqueue();
  const adds: KEventInit[] = [];
  for (let i = 0; i < b; i++) adds.push({ ident: i, filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR });
  const errs = kq.keventSync(adds, 0);
  if (errs.length !== 0) throw new Error('registration failed');
  const triggers: KEventInit[] = [];
  for (let i = 0; i < b; i++) triggers.push({ ident: i, filter: EVFILT_USER, fflags: NOTE_TRIGGER });
  return { kq, triggers };
}

function keventSyncRate(b: number): number {
  const { kq, triggers } = userKqueue(b);
  // One checked call: every trigger is harvested in the same call.
  if (kq.keventSync(triggers, b).length !== b) throw new Error(`batch ${b}: short harvest`);
  const r = rate((iters) => {
    let n = 0;
    for (let k = 0; k < iters; k++) n += kq.keventSync(triggers, b).length;
    return n;
  });
  kq.close();
  return r;
}

async function keventAsyncRate(b: number): Promise<number> {
  const { kq, triggers } = userKqueue(b);
  if ((await kq.kevent(triggers, b, 0)).length !== b) throw new Error(`async batch ${b}: short harvest`);
  const r = await rateAsync(async (iters) => {
    let n = 0;
    for (let k = 0; k < iters; k++) n += (await kq.kevent(triggers, b, 0)).length;
    return n;
  });
  kq.close();
  return r;
}

function emitterRate(): number {
  const ee = new EventEmitter();
  let got = 0;
  ee.on('ev', (i: number) => {
    got += i & 1;
  });
  const r = rate((iters) => {
    for (let k = 0; k < iters; k++) ee.emit('ev', k);
    return iters;
  });
  sink(got);
  return r;
}

async function eventsOnRate(): Promise<number> {
  const ee = new EventEmitter();
  const it = on(ee, 'ev')[Symbol.asyncIterator]();
  let got = 0;
  const r = await rateAsync(async (iters) => {
    for (let k = 0; k < iters; k++) {
      for (let i = 0; i < ON_BATCH; i++) ee.emit('ev', i);
      for (let i = 0; i < ON_BATCH; i++) {
        const res = await it.next();
        got += (res.value as number[])[0]! & 1;
      }
    }
    return iters * ON_BATCH;
  });
  await it.return?.();
  sink(got);
  return r;
}

main(async () => {
  const m: Record<string, number> = {};
  m.emit = emitterRate();
  for (const b of BATCHES) m[`sync_${b}`] = keventSyncRate(b);
  m.events_on = await eventsOnRate();
  m.async_1024 = await keventAsyncRate(1024);
  emit(m);
});
