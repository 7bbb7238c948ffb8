// EVFILT_VNODE at scale: 10,000 watched files; and nothing keeps the process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EVFILT_VNODE, NOTE_WRITE, type KEventInit,
} from '../../src/index.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { runChild, tempDir, WAIT_MS } from '../support/files.js';

test('10,000 watched files: each change reaches its own knote; everything is released on close', async (t) => {
  const N = 10_000;
  const dir = tempDir(t, 'kqueue-scale-');
  const changes: KEventInit[] = [];
  for (let i = 0; i < N; i++) {
    const f = join(dir, `f${i}`);
    fs.writeFileSync(f, '');
    changes.push({ ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE, udata: i });
  }
  const kq = openKqueue(t);
  assert.deepEqual(kq.keventSync(changes, 0), []);
  assert.equal(vnodeCount(), N);
  const touched = [0, 1, 4999, 7777, N - 1];
  for (const i of touched) fs.appendFileSync(join(dir, `f${i}`), 'x');
  const seen = new Set<number>();
  const deadline = performance.now() + WAIT_MS;
  while (seen.size < touched.length) {
    const left = deadline - performance.now();
    assert.ok(left > 0, `saw only ${[...seen].join(', ')}`);
    for (const ev of await kq.kevent(null, 64, left)) seen.add(ev.udata as number);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), touched);
  kq.close();
  assert.equal(vnodeCount(), 0);
});

// The inotify watch limit (ENOSPC) and the descriptor limit (EMFILE) are in
// test/reliability/files.test.ts.

test('watched files never keep the process alive; after close nothing is left', async (t) => {
  const dir = tempDir(t, 'kqueue-vnode-life-');
  fs.writeFileSync(join(dir, 'f'), '');
  const body = (closeIt: boolean): string => `
    import fsp from 'node:fs/promises';
    const dir = ${JSON.stringify(dir)};
    const f = dir + '/f';
    const kq = K.kqueue();
    const fd = fs.openSync(f, 'r');
    const fh = await fsp.open(f, 'r');
    kq.keventSync([
      { ident: f, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE },
      { ident: dir, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE },
      { ident: fd, filter: K.EVFILT_READ, flags: K.EV_ADD | K.EV_CLEAR },
      { ident: fh, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE },
    ], 0);
    fs.appendFileSync(f, 'x');
    const got = await kq.kevent(null, 8, 5000);
    ${closeIt ? 'kq.close(); await new Promise((r) => setImmediate(r));' : ''}
    console.log(JSON.stringify({ got: got.length, closeListeners: fh.listenerCount('close') }));
  `;
  for (const closeIt of [true, false]) {
    const r = await runChild(dir, body(closeIt), { ms: 4000 });
    assert.equal(r.killed, false, `the child was kept alive (close: ${closeIt}); stdout: ${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { got: number; closeListeners: number };
    assert.ok(out.got >= 1);
    if (closeIt) assert.equal(out.closeListeners, 0);
  }
});
