// Source faults on files (issue 10): the watched file deleted, renamed, replaced by a rename over
// it, truncated, its directory removed, its filesystem unmounted, its permissions removed; the
// inotify watch limit and the descriptor limit reached. Each on real files in temp dirs (a real
// tmpfs for the unmount), for EVFILT_VNODE by path, numeric fd and FileHandle, and READ/WRITE on
// the file's descriptors. The outcomes are those of docs/filters/vnode.md and file.md ("Faults").
// Every wait is a kevent with a generous timeout; an absence is asserted only after a later change
// that must be reported after it.
import { after, before, beforeEach, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EVFILT_READ, EVFILT_VNODE,
  NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE, tunables,
  type Ident, type Kqueue,
} from '../../src/index.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { change } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import { harvestUntil, nextEvent, tempDir } from '../support/files.js';

const ALL = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE;

const savedPoll = tunables.vnode_mount_poll_ms;
before(() => { tunables.vnode_mount_poll_ms = 20; });
after(() => {
  tunables.vnode_mount_poll_ms = savedPoll;
  assert.equal(vnodeCount(), 0, 'the last test left a vnode behind');
});
beforeEach(() => assert.equal(vnodeCount(), 0, 'the previous test left a vnode behind'));

/** The three idents of one file: its path, a numeric fd and a FileHandle (both r+, closed at the end). */
async function idents(t: TestContext, f: string, flags = 'r+'): Promise<{ path: string; fd: number; fh: fsp.FileHandle; all: Ident[] }> {
  const fd = fs.openSync(f, flags);
  const fh = await fsp.open(f, flags);
  t.after(async () => {
    try { fs.closeSync(fd); } catch { /* closed by the test */ }
    await fh.close();
  });
  return { path: f, fd, fh, all: [f, fd, fh] };
}

function watchAll(kq: Kqueue, list: Ident[], fflags = ALL, flags = EV_ADD | EV_CLEAR): void {
  change(kq, ...list.map((ident) => ({ ident, filter: EVFILT_VNODE, flags, fflags })));
}

function name(ident: Ident): string {
  return typeof ident === 'object' ? 'FileHandle' : typeof ident === 'number' ? 'fd' : 'path';
}

/**
 * Waits until every knote of `list` saw `expected`, then makes the `barrier` change, whose
 * `barrierNote` can only be seen once every event before it was read: each knote must have seen
 * exactly both, so nothing else was posted to it for the fault under test.
 */
async function exactly(kq: Kqueue, list: Ident[], expected: number, barrier: () => void, barrierNote: number,
  what: string): Promise<void> {
  const seen = new Map<Ident, number>();
  for (const ident of list) seen.set(ident, (await harvestUntil(kq, ident, EVFILT_VNODE, expected)).fflags);
  barrier();
  for (const ident of list) {
    const all = seen.get(ident)! | (await harvestUntil(kq, ident, EVFILT_VNODE, barrierNote)).fflags;
    assert.equal(all, expected | barrierNote, `${what}, by ${name(ident)}: 0x${all.toString(16)}`);
  }
}

test('truncated: NOTE_WRITE|NOTE_ATTRIB by path, fd and FileHandle; READ data drops to the new end, negative under the position', async (t) => {
  const kq = openKqueue(t);
  const dir = tempDir(t);
  const f = join(dir, 'f');
  fs.writeFileSync(f, '0123456789');
  const { fd, fh, all } = await idents(t, f);
  watchAll(kq, all);
  // The fd's position at 6, the FileHandle's at 2.
  fs.readSync(fd, Buffer.alloc(6));
  await fh.read(Buffer.alloc(2), 0, 2, null);
  change(kq, { ident: fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR }, { ident: fh, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
  assert.deepEqual(kq.keventSync(null, 8).map((e) => e.data), [4, 8]);

  fs.truncateSync(f, 4);
  await exactly(kq, all, NOTE_WRITE | NOTE_ATTRIB, () => fs.linkSync(f, join(dir, 'l1')), NOTE_LINK, 'truncate to 4');
  assert.equal((await nextEvent(kq, fd, EVFILT_READ)).data, 4 - 6, 'READ on the fd: under its position');
  assert.equal((await nextEvent(kq, fh, EVFILT_READ)).data, 4 - 2, 'READ on the FileHandle');

  fs.ftruncateSync(fd, 0);
  await exactly(kq, all, NOTE_WRITE | NOTE_ATTRIB, () => fs.linkSync(f, join(dir, 'l2')), NOTE_LINK, 'ftruncate to 0');
  assert.equal((await nextEvent(kq, fd, EVFILT_READ)).data, -6);
  assert.equal((await nextEvent(kq, fh, EVFILT_READ)).data, -2);
  // Reading from the start again (a new FileHandle position is not settable: the fd only).
  const fd0 = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd0));
  change(kq, { ident: fd0, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
  // At the end of an empty file READ is not ready; the next append makes it ready with its bytes.
  fs.appendFileSync(f, 'abc');
  assert.equal((await nextEvent(kq, fd0, EVFILT_READ)).data, 3);
});

test('rewritten shorter in place (O_TRUNC then write, as fs.writeFileSync and `echo x > f` do): NOTE_WRITE is not lost', async (t) => {
  // Regression: both changes are usually seen in one look, as a shrink, which posted NOTE_ATTRIB
  // alone: a knote watching NOTE_WRITE (the usual "the file changed") missed the new content.
  const kq = openKqueue(t);
  const dir = tempDir(t);
  const f = join(dir, 'f');
  fs.writeFileSync(f, 'a long first version');
  const { all } = await idents(t, f);
  watchAll(kq, all, NOTE_WRITE);
  fs.writeFileSync(f, 'short');
  for (const ident of all) {
    const { fflags } = await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_WRITE);
    assert.equal(fflags & NOTE_WRITE, NOTE_WRITE, name(ident));
  }
  execFileSync('sh', ['-c', 'echo x > "$1"', 'sh', f]);
  for (const ident of all) await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_WRITE);
});
