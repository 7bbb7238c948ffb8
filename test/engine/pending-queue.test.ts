// The pending queue: a ring of knote references with positions for scan ends, lazy removal of
// destroyed knotes and a bounded footprint (src/engine/pending-queue.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EV_ADD, EV_DELETE, EVFILT_USER, NOTE_TRIGGER, kqueue } from '../../src/index.js';
import { KN_QUEUED, type Knote, newKnote } from '../../src/engine/knote.js';
import { PendingQueue } from '../../src/engine/pending-queue.js';
import { engineOf } from '../../src/kqueue.js';
import { openKqueue } from '../support/open.js';

const noOps = { isFd: false, attach: () => 0, detach: () => {}, event: () => false };

function knotes(n: number): Knote[] {
  const out: Knote[] = [];
  for (let i = 0; i < n; i++) {
    const kn = newKnote(null, EVFILT_USER, i, 0, undefined, noOps, null);
    kn.flags = KN_QUEUED;
    out.push(kn);
  }
  return out;
}

/** Takes every slot before `end`, stale ones as null. */
function drain(q: PendingQueue, end: number): (number | null)[] {
  const got: (number | null)[] = [];
  for (;;) {
    const kn = q.shift(end);
    if (kn === undefined) return got;
    got.push(kn === null ? null : (kn.ident as number));
  }
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

test('the queue is FIFO through growth, and a scan stops at the end it was given', () => {
  const q = new PendingQueue();
  const kns = knotes(10_000);
  for (const kn of kns.slice(0, 6000)) q.push(kn);
  const end = q.tail;
  for (const kn of kns.slice(6000)) q.push(kn);
  assert.deepEqual(drain(q, end), range(0, 6000));
  assert.deepEqual(drain(q, q.tail), range(6000, 10_000));
  assert.equal(q.slotCount, 0);
});

test('positions wrap past 2^31 without losing the order or the end', () => {
  const q = new PendingQueue();
  q.head = q.tail = 0x7ffffff0;
  const kns = knotes(100);
  for (const kn of kns.slice(0, 40)) q.push(kn);
  const end = q.tail;
  assert.ok(end < 0, 'the tail wrapped to a negative int32');
  for (const kn of kns.slice(40)) q.push(kn);
  assert.deepEqual(drain(q, end), range(0, 40));
  assert.deepEqual(drain(q, q.tail), range(40, 100));
});

/** Destroys every knote whose ident is not a multiple of 7. */
function destroyMost(q: PendingQueue, kns: Knote[]): void {
  for (const kn of kns) {
    if ((kn.ident as number) % 7 === 0) continue;
    kn.flags &= ~KN_QUEUED;
    q.forget();
  }
}

test('destroyed knotes leave stale slots that are skipped and swept, in order', () => {
  const q = new PendingQueue();
  const kns = knotes(1000);
  for (const kn of kns) q.push(kn);
  destroyMost(q, kns);
  assert.ok(q.slotCount < 300, `${q.slotCount} slots after sweeps`);
  assert.deepEqual(drain(q, q.tail).filter((x) => x !== null), range(0, 1000).filter((i) => i % 7 === 0));
});

test('no sweep moves slots under a scan: its end keeps splitting the queue where it did', () => {
  const q = new PendingQueue();
  const kns = knotes(1000);
  for (const kn of kns.slice(0, 500)) q.push(kn);
  const end = q.beginScan();
  for (const kn of kns.slice(500)) q.push(kn);
  destroyMost(q, kns);
  assert.equal(q.slotCount, 1000, 'nothing swept during the scan');
  const before = drain(q, end);
  assert.deepEqual(before.filter((x) => x !== null), range(0, 500).filter((i) => i % 7 === 0));
  assert.equal(before.length, 500, 'stale slots came back as null');
  q.endScan();
  assert.ok(q.slotCount < 500, `${q.slotCount} slots after the scan ended`);
  assert.deepEqual(drain(q, q.tail).filter((x) => x !== null), range(500, 1000).filter((i) => i % 7 === 0));
});

test('a drained burst gives its ring back', () => {
  const q = new PendingQueue();
  for (const kn of knotes(100_000)) q.push(kn);
  assert.ok(q.capacity >= 100_000);
  drain(q, q.beginScan());
  assert.ok(q.capacity >= 100_000, 'kept while the scan is under way');
  q.endScan();
  assert.ok(q.capacity <= 4096, `capacity ${q.capacity} after draining`);
});

test('knotes destroyed while queued and never harvested do not pile up in the queue', (t) => {
  const kq = openKqueue(t);
  const queue = engineOf(kq).queue;
  for (let i = 0; i < 100_000; i++) {
    kq.keventSync([
      { ident: i, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER },
      { ident: i, filter: EVFILT_USER, flags: EV_DELETE },
    ], 0);
  }
  assert.equal(kq.pending, 0);
  assert.ok(queue.slotCount <= 128, `${queue.slotCount} stale slots held`);
  assert.ok(queue.capacity <= 4096, `capacity ${queue.capacity}`);
  kq.keventSync([{ ident: 'last', filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER }], 0);
  assert.deepEqual(kq.keventSync(null, 10).map((e) => e.ident), ['last']);
});

test('a scan re-entered halfway takes the rest once, and the outer one still stops at its own end', () => {
  const q = new PendingQueue();
  const kns = knotes(30);
  for (const kn of kns.slice(0, 20)) q.push(kn);
  const outerEnd = q.tail;
  const got: number[] = [];
  for (let i = 0; i < 5; i++) got.push(q.shift(outerEnd)!.ident as number);
  // The nested scan starts later: two more knotes were queued, and it takes everything.
  for (const kn of kns.slice(20, 22)) q.push(kn);
  const nested = drain(q, q.tail);
  // Requeued behind both ends (a level-triggered knote going back to the tail).
  for (const kn of kns.slice(22)) q.push(kn);
  assert.deepEqual(drain(q, outerEnd), []);
  assert.deepEqual(got, range(0, 5));
  assert.deepEqual(nested, range(5, 22));
  assert.deepEqual(drain(q, q.tail), range(22, 30));
});

test('a knote destroyed while queued keeps neither its ident nor its udata alive, nor does a closed kqueue its queue', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const kq = kqueue();
  let ident: object | null = { name: 'ident' };
  let udata: object | null = { name: 'udata' };
  const refs = [new WeakRef(ident), new WeakRef(udata)];
  kq.keventSync([{ ident, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata }], 0);
  assert.equal(kq.pending, 1);
  kq.keventSync([{ ident, filter: EVFILT_USER, flags: EV_DELETE }], 0);
  assert.equal(engineOf(kq).queue.slotCount, 1, 'the slot is stale, not yet swept');
  ident = udata = null;
  // A second kqueue, closed with events queued: its knotes' values go too.
  const closed = kqueue();
  let held: object | null = { name: 'held' };
  refs.push(new WeakRef(held));
  closed.keventSync([{ ident: held, filter: EVFILT_USER, flags: EV_ADD, fflags: NOTE_TRIGGER, udata: held }], 0);
  closed.close();
  held = null;
  for (let i = 0; i < 5 && refs.some((r) => r.deref() !== undefined); i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  assert.deepEqual(refs.map((r) => r.deref()), [undefined, undefined, undefined]);
  assert.equal(engineOf(closed).queue.slotCount, 0);
  kq.close();
});
