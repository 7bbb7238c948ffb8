// EVFILT_READ and EVFILT_WRITE on regular files (digest 3.5, edge cases 95 and 96): READ's data is
// the size minus the descriptor's position (Linux: /proc/self/fdinfo), not ready at EOF, ready
// again when the file grows; WRITE is always ready with data 0. Numeric fds and FileHandles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  EBADF, EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE, NOTE_WRITE,
  type Ident, type KEvent, type Kqueue,
} from '../../src/index.js';
import { engineOf } from '../../src/kqueue.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { assertError, harvestUntil, tempDir, WAIT_MS } from '../support/files.js';

function add(kq: Kqueue, ident: Ident, filter: number, flags = EV_ADD): void {
  assert.deepEqual(kq.keventSync([{ ident, filter, flags }], 0), []);
}

function readEvents(kq: Kqueue, ident: Ident): KEvent[] {
  return kq.keventSync(null, 16).filter((e) => e.ident === ident && e.filter === EVFILT_READ);
}

/** Waits for a READ event on `ident` (the file grew). */
async function readable(kq: Kqueue, ident: Ident): Promise<KEvent> {
  const deadline = performance.now() + WAIT_MS;
  for (;;) {
    const left = deadline - performance.now();
    assert.ok(left > 0, 'timed out waiting for READ');
    const ev = (await kq.kevent(null, 16, left)).find((e) => e.ident === ident && e.filter === EVFILT_READ);
    if (ev !== undefined) return ev;
  }
}

function file(t: Parameters<typeof tempDir>[0], content: string): string {
  const f = join(tempDir(t, 'kqueue-file-'), 'f');
  fs.writeFileSync(f, content);
  return f;
}

test('READ on a file: data = size - position; reading moves it; not ready at EOF (edge 95)', (t) => {
  const kq = openKqueue(t);
  const fd = fs.openSync(file(t, '0123456789'), 'r');
  t.after(() => fs.closeSync(fd));
  add(kq, fd, EVFILT_READ);
  assert.deepEqual(kq.keventSync(null, 4), [{ ident: fd, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 10, udata: undefined }]);
  const buf = Buffer.alloc(4);
  fs.readSync(fd, buf, 0, 4, null);
  // A level knote is re-evaluated at each harvest: lseek or read alone post nothing.
  assert.equal(readEvents(kq, fd)[0]?.data, 6);
  fs.readSync(fd, Buffer.alloc(16), 0, 16, null);
  assert.deepEqual(readEvents(kq, fd), []);
  assert.deepEqual(readEvents(kq, fd), []);
});

test('READ at EOF becomes ready again when the file grows, with data = the new bytes', async (t) => {
  const kq = openKqueue(t);
  const f = file(t, 'abc');
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  fs.readSync(fd, Buffer.alloc(3), 0, 3, null);
  add(kq, fd, EVFILT_READ, EV_ADD | EV_CLEAR);
  assert.deepEqual(readEvents(kq, fd), []);
  fs.appendFileSync(f, 'defg');
  const ev = await readable(kq, fd);
  assert.equal(ev.data, 4);
  assert.equal(ev.flags, EV_ADD | EV_CLEAR);
  // EV_CLEAR: not again until the file changes again.
  assert.deepEqual(readEvents(kq, fd), []);
  fs.appendFileSync(f, 'h');
  assert.equal((await readable(kq, fd)).data, 5);
});

test('READ past the end (the file was truncated under the position): ready with a negative data', async (t) => {
  const kq = openKqueue(t);
  const f = file(t, '0123456789');
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  fs.readSync(fd, Buffer.alloc(8), 0, 8, null);
  add(kq, fd, EVFILT_READ);
  assert.equal(readEvents(kq, fd)[0]?.data, 2);
  fs.truncateSync(f, 3);
  assert.equal((await readable(kq, fd)).data, -5);
});

test('READ on a FileHandle follows its position', async (t) => {
  const kq = openKqueue(t);
  const f = file(t, 'hello world');
  const fh = await fsp.open(f, 'r');
  t.after(() => fh.close());
  add(kq, fh, EVFILT_READ);
  assert.equal(readEvents(kq, fh)[0]?.data, 11);
  await fh.read(Buffer.alloc(6), 0, 6, null);
  assert.equal(readEvents(kq, fh)[0]?.data, 5);
  await fh.read(Buffer.alloc(16), 0, 16, null);
  assert.deepEqual(readEvents(kq, fh), []);
  fs.appendFileSync(f, '!!');
  assert.equal((await readable(kq, fh)).data, 2);
});

test('WRITE on a file is always ready with data 0 (edge 96), on an fd and a FileHandle', async (t) => {
  const kq = openKqueue(t);
  const f = file(t, '');
  const fd = fs.openSync(f, 'w');
  t.after(() => fs.closeSync(fd));
  const fh = await fsp.open(f, 'r+');
  t.after(() => fh.close());
  add(kq, fd, EVFILT_WRITE);
  add(kq, fh, EVFILT_WRITE, EV_ADD | EV_CLEAR);
  const out = kq.keventSync(null, 4);
  assert.deepEqual(out.map((e) => [e.ident === fd ? 'fd' : 'fh', e.data, e.flags]),
    [['fd', 0, EV_ADD], ['fh', 0, EV_ADD | EV_CLEAR]]);
  assert.deepEqual(kq.keventSync(null, 4).map((e) => e.ident), [fd]);
  // WRITE takes no OS watch: only READ and VNODE do.
  assert.equal(vnodeCount(), 1);
});

test('closing a FileHandle drops its READ and WRITE knotes in every kqueue, queued events included', async (t) => {
  const kq1 = openKqueue(t);
  const kq2 = openKqueue(t);
  const fh = await fsp.open(file(t, 'data'), 'r');
  add(kq1, fh, EVFILT_READ);
  add(kq1, fh, EVFILT_WRITE);
  add(kq2, fh, EVFILT_READ);
  assert.equal(kq1.pending, 2);
  assert.equal(kq2.pending, 1);
  await new Promise((r) => setImmediate(r));
  await fh.close();
  assert.equal(kq1.pending, 0);
  assert.equal(kq2.pending, 0);
  assertError(kq1.keventSync([{ ident: fh, filter: EVFILT_READ, flags: EV_DELETE }], 1)[0], EBADF);
  assert.equal(vnodeCount(), 0);
});

test('a FileHandle closed in the same turn as its registration: its knotes go too', async (t) => {
  const kq = openKqueue(t);
  const fh = await fsp.open(file(t, 'data'), 'r');
  add(kq, fh, EVFILT_READ);
  const closing = fh.close();
  await closing;
  assert.equal(kq.pending, 0);
  assert.equal(vnodeCount(), 0);
});

test('a numeric fd closed with fs.closeSync: its READ knote goes when a post finds it closed', async (t) => {
  const kq = openKqueue(t);
  const f = file(t, '');
  const fd = fs.openSync(f, 'r');
  add(kq, fd, EVFILT_READ);
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE }], 0), []);
  fs.closeSync(fd);
  fs.appendFileSync(f, 'x');
  await harvestUntil(kq, f, EVFILT_VNODE, NOTE_WRITE);
  await new Promise((r) => setImmediate(r));
  assert.equal(engineOf(kq).knotes[~EVFILT_READ]?.get(fd), undefined);
  assert.deepEqual(kq.keventSync(null, 4), []);
});
