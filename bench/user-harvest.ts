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
import { compareRates, type Contender, emit, main, sink } from './common.js';

const BATCHES = [1, 64, 1024];
const ON_BATCH = 1024;
const ASYNC_BATCH = 1024;

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

/** A contender harvesting batches of `b` through keventSync. */
function keventSyncContender(b: number): Contender {
  const { kq, triggers } = userKqueue(b);
  // One checked call: every trigger is harvested in the same call.
  if (kq.keventSync(triggers, b).length !== b) throw new Error(`batch ${b}: short harvest`);
  return {
    name: `sync_${b}`,
    run(iters) {
      let n = 0;
      for (let k = 0; k < iters; k++) n += kq.keventSync(triggers, b).length;
      return n;
    },
  };
}

/** The same through the promise API with a zero timeout. */
async function keventAsyncContender(b: number): Promise<Contender> {
  const { kq, triggers } = userKqueue(b);
  if ((await kq.kevent(triggers, b, 0)).length !== b) throw new Error(`async batch ${b}: short harvest`);
  return {
    name: `async_${b}`,
    async run(iters) {
      let n = 0;
      for (let k = 0; k < iters; k++) n += (await kq.kevent(triggers, b, 0)).length;
      return n;
    },
  };
}

let got = 0;

/** EventEmitter.emit with one listener, one event per emit. */
function emitterContender(): Contender {
  const ee = new EventEmitter();
  ee.on('ev', (i: number) => {
    got += i & 1;
  });
  return {
    name: 'emit',
    run(iters) {
      for (let k = 0; k < iters; k++) ee.emit('ev', k);
      return iters;
    },
  };
}

/** events.on(): ON_BATCH emits, then the async iterator drained of them. */
function eventsOnContender(): Contender {
  const ee = new EventEmitter();
  const it = on(ee, 'ev')[Symbol.asyncIterator]();
  return {
    name: 'events_on',
    async run(iters) {
      for (let k = 0; k < iters; k++) {
        for (let i = 0; i < ON_BATCH; i++) ee.emit('ev', i);
        for (let i = 0; i < ON_BATCH; i++) {
          const res = await it.next();
          got += (res.value as number[])[0]! & 1;
        }
      }
      return iters * ON_BATCH;
    },
  };
}

main(async () => {
  const contenders: Contender[] = [
    ...BATCHES.map(keventSyncContender),
    await keventAsyncContender(ASYNC_BATCH),
    emitterContender(),
    eventsOnContender(),
  ];
  const m = await compareRates(contenders);
  sink(got);
  emit(m);
});
