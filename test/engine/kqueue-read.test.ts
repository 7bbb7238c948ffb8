// EVFILT_READ on a Kqueue: data is the watched kqueue's pending count. DragonFly digest 2.2,
// 2.10 (EV_DISABLE), 3.6, 4 (close), edge cases 56, 57, 121.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EBADF, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_ERROR, EV_RECEIPT,
  EVFILT_READ, EVFILT_USER, NOTE_TRIGGER,
  Kqueue,
  type KEvent,
} from '../../src/index.js';
import { openKqueue } from '../support/open.js';
import { engineOf } from '../../src/kqueue.js';

const open = openKqueue;

function trigger(kq: Kqueue, ident: string, flags = EV_ADD | EV_CLEAR): void {
  assert.deepEqual(kq.keventSync([{ ident, filter: EVFILT_USER, flags, fflags: NOTE_TRIGGER }], 0), []);
}

function watch(outer: Kqueue, inner: Kqueue, flags = EV_ADD): void {
  assert.deepEqual(outer.keventSync([{ ident: inner, filter: EVFILT_READ, flags }], 0), []);
}

function poll(kq: Kqueue): KEvent[] {
  return kq.keventSync(null, 10);
}

test('READ on a kqueue is ready with data = the watched kqueue\'s pending count', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  trigger(inner, 'b');
  watch(outer, inner);
  const out = poll(outer);
  assert.deepEqual(out, [{ ident: inner, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 2, udata: undefined }]);
  assert.equal(out[0]!.ident, inner);
});

test('READ on an empty kqueue is not ready', (t) => {
  const outer = open(t);
  const inner = open(t);
  watch(outer, inner);
  assert.equal(outer.pending, 0);
  assert.deepEqual(poll(outer), []);
});

test('an enqueue on the watched kqueue makes the watcher ready and data follows later enqueues', (t) => {
  const outer = open(t);
  const inner = open(t);
  watch(outer, inner);
  trigger(inner, 'a');
  assert.equal(outer.pending, 1);
  assert.equal(poll(outer)[0]?.data, 1);
  trigger(inner, 'b');
  assert.equal(poll(outer)[0]?.data, 2);
});

test('data counts level events re-queued by the watched kqueue\'s own scan', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'level', EV_ADD);
  watch(outer, inner);
  assert.equal(poll(inner).length, 1);
  assert.equal(inner.pending, 1);
  assert.equal(poll(outer)[0]?.data, 1);
});

test('once the inner kqueue is drained the outer event is weeded out by the outer\'s scan (edge 121)', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  trigger(inner, 'b');
  watch(outer, inner);
  assert.equal(poll(outer)[0]?.data, 2);
  assert.equal(poll(inner).length, 2);
  assert.equal(inner.pending, 0);
  // A dequeue posts nothing: the level outer knote is still queued until its own scan.
  assert.equal(outer.pending, 1);
  assert.deepEqual(poll(outer), []);
  assert.equal(outer.pending, 0);
});

test('EV_DELETE of a pending event on the inner kqueue weeds out the outer event', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  watch(outer, inner);
  inner.keventSync([{ ident: 'a', filter: EVFILT_USER, flags: EV_DELETE }], 0);
  assert.equal(inner.pending, 0);
  assert.deepEqual(poll(outer), []);
});

test('a kqueue can watch itself: its own scan reports the other events still counted', (t) => {
  const kq = open(t);
  watch(kq, kq);
  assert.deepEqual(poll(kq), [], 'an empty self-watch is not ready');
  trigger(kq, 'a');
  trigger(kq, 'b');
  // Queue: a, self, b. The self-knote is re-checked after a was taken: 1 remains (b).
  const out = poll(kq);
  assert.deepEqual(out.map((e) => [e.ident === kq ? 'self' : e.ident, e.data]), [['a', 0], ['self', 1], ['b', 0]]);
});

test('a self-watch is not self-sustaining', (t) => {
  const kq = open(t);
  watch(kq, kq);
  trigger(kq, 'a');
  assert.equal(kq.pending, 2, 'the event and the self-watch are queued');
  assert.deepEqual(poll(kq).map((e) => e.ident), ['a'], 'the self-knote found the count at 0 once it was unlinked');
  assert.equal(kq.pending, 0);
  assert.deepEqual(poll(kq), []);
});

test('closing the inner kqueue silently removes the outer knote', (t) => {
  const outer = open(t);
  const inner = new Kqueue();
  trigger(inner, 'a');
  watch(outer, inner);
  assert.equal(outer.pending, 1);
  inner.close();
  assert.equal(outer.pending, 0, 'the queued outer event is gone');
  assert.deepEqual(poll(outer), []);
  // The ident is now a closed kqueue: a descriptor filter reports EBADF, not ENOENT.
  const out = outer.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_DELETE }], 4);
  assert.deepEqual(out.map((e) => [e.flags, e.data]), [[EV_ERROR, EBADF]]);
});

test('closing the outer kqueue removes its knote from the inner kqueue\'s watchers', (t) => {
  const inner = open(t);
  const outer = new Kqueue();
  watch(outer, inner);
  const watchers = engineOf(inner).kqinfo;
  assert.equal(watchers.size, 1);
  outer.close();
  assert.equal(watchers.size, 0);
  assert.doesNotThrow(() => trigger(inner, 'a'));
  assert.equal(inner.pending, 1);
  assert.equal(poll(inner).length, 1);
});

test('a second watcher still works after the first watcher closed', (t) => {
  const inner = open(t);
  const second = open(t);
  const first = new Kqueue();
  watch(first, inner);
  watch(second, inner);
  first.close();
  trigger(inner, 'a');
  assert.equal(poll(second)[0]?.data, 1);
});

test('a disabled but queued knote still counts in pending and in the watcher\'s data until the inner scan (edge 56)', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  inner.keventSync([{ ident: 'a', filter: EVFILT_USER, flags: EV_DISABLE }], 0);
  assert.equal(inner.pending, 1);
  watch(outer, inner);
  assert.equal(poll(outer)[0]?.data, 1);
  assert.deepEqual(poll(inner), [], 'the inner scan discards the disabled entry');
  assert.equal(inner.pending, 0);
  assert.deepEqual(poll(outer), []);
});

test('EV_ADD|EV_DISABLE with the condition true is counted until the next scan, which returns nothing (edge 57)', (t) => {
  const outer = open(t);
  const inner = open(t);
  watch(outer, inner);
  const out = inner.keventSync([{ ident: 'a', filter: EVFILT_USER, flags: EV_ADD | EV_DISABLE | EV_RECEIPT, fflags: NOTE_TRIGGER }], 4);
  assert.equal(out[0]!.data, 0);
  assert.equal(inner.pending, 1);
  assert.equal(outer.pending, 1, 'the watched kqueue polls readable');
  assert.deepEqual(poll(inner), []);
  assert.equal(inner.pending, 0);
  assert.deepEqual(poll(outer), []);
});

test('re-adding a pending READ knote on a kqueue does not queue it twice', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  watch(outer, inner);
  watch(outer, inner);
  assert.equal(outer.pending, 1);
  assert.equal(poll(outer).length, 1);
});

test('deleting the READ knote on a kqueue drops its pending event', (t) => {
  const outer = open(t);
  const inner = open(t);
  trigger(inner, 'a');
  watch(outer, inner);
  assert.equal(outer.pending, 1);
  const out = outer.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_DELETE | EV_RECEIPT }], 4);
  assert.equal(out[0]!.data, 0);
  assert.equal(outer.pending, 0);
  trigger(inner, 'b');
  assert.equal(outer.pending, 0, 'no longer watching');
});
