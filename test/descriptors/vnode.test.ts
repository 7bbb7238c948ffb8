// EVFILT_VNODE on regular files: every note (digest 3.5, edge cases 97-100), the idents (a path,
// a numeric fd, a FileHandle), EV_CLEAR against level accumulation, and the races between events
// and stats. Real files in a temp dir; every wait is a kevent with a generous timeout, and a note
// that must NOT be posted is checked by making a later change that must be reported after it.
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  EBADF, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISPATCH, EV_ENABLE, EV_ONESHOT,
  EVFILT_EXCEPT, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE, NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND,
  NOTE_LINK, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE,
  type Ident, type Kqueue,
} from '../../src/index.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { assertError, harvestUntil, tempDir } from '../support/files.js';

// Every test closes its kqueues (openKqueue): no inode may stay watched after it.
beforeEach(() => assert.equal(vnodeCount(), 0, 'the previous test left a vnode behind'));
after(() => assert.equal(vnodeCount(), 0, 'the last test left a vnode behind'));

const ALL = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE;

function watch(kq: Kqueue, ident: Ident, fflags = ALL, flags = EV_ADD | EV_CLEAR): void {
  assert.deepEqual(kq.keventSync([{ ident, filter: EVFILT_VNODE, flags, fflags }], 1), []);
}

/** Notes seen on `ident` until `want` is among them. */
async function notes(kq: Kqueue, ident: Ident, want: number): Promise<number> {
  return (await harvestUntil(kq, ident, EVFILT_VNODE, want)).fflags;
}

/**
 * Waits for `expected` on `ident`, then makes the `barrier` change, whose `barrierNote` can only be
 * seen once every event before it was read: what was seen in all must be exactly both, so no
 * other note was posted for the changes under test.
 */
async function exactly(kq: Kqueue, ident: Ident, expected: number, barrier: () => void,
  barrierNote: number, what?: string): Promise<void> {
  let seen = await notes(kq, ident, expected);
  barrier();
  seen |= await notes(kq, ident, barrierNote);
  assert.equal(seen, expected | barrierNote, what);
}

function file(t: Parameters<typeof tempDir>[0], content = 'x'): { dir: string; f: string } {
  const dir = tempDir(t);
  const f = join(dir, 'a');
  fs.writeFileSync(f, content);
  return { dir, f };
}

test('an append posts NOTE_WRITE|NOTE_EXTEND; an in-place overwrite NOTE_WRITE alone (edge 98)', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t, 'abc');
  watch(kq, f);
  fs.appendFileSync(f, 'd');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  const fd = fs.openSync(f, 'r+');
  fs.writeSync(fd, 'Z', 0);
  fs.closeSync(fd);
  // No NOTE_EXTEND, no NOTE_ATTRIB with it.
  await exactly(kq, f, NOTE_WRITE, () => fs.linkSync(f, join(dir, 'b')), NOTE_LINK);
});

test('chmod, chown, utimes (in the past, in the future, now) each post NOTE_ATTRIB alone', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  const changes: [string, () => void][] = [
    ['chmod', () => fs.chmodSync(f, 0o600)],
    ['chown', () => fs.chownSync(f, 1, 1)],
    ['utimes in the past', () => fs.utimesSync(f, new Date(1e12), new Date(1e12))],
    ['utimes in the future', () => fs.utimesSync(f, new Date(4e12), new Date(4e12))],
    ['utimes now', () => { const now = new Date(); fs.utimesSync(f, now, now); }],
    ['touch -d', () => execFileSync('touch', ['-d', '2001-02-03 04:05:06', f])],
  ];
  let links = 0;
  for (const [name, change] of changes) {
    change();
    await exactly(kq, f, NOTE_ATTRIB, () => fs.linkSync(f, join(dir, `l${links++}`)), NOTE_LINK, name);
  }
});

test('touch (every time set to now) reads as the write it may be: NOTE_WRITE', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  execFileSync('touch', [f]);
  await exactly(kq, f, NOTE_WRITE, () => fs.linkSync(f, join(dir, 'b')), NOTE_LINK);
});

test('a write then a read of the file within one instant is still a write', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t, 'abc');
  watch(kq, f);
  for (let i = 0; i < 5; i++) {
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, 'Z', 0);
    fs.closeSync(fd);
    fs.readFileSync(f);
    await exactly(kq, f, NOTE_WRITE, () => fs.linkSync(f, join(dir, `l${i}`)), NOTE_LINK);
  }
});

test('a truncation that shrinks the file posts NOTE_WRITE|NOTE_ATTRIB (tmpfs and UFS)', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t, 'abcdef');
  watch(kq, f);
  fs.truncateSync(f, 2);
  await exactly(kq, f, NOTE_WRITE | NOTE_ATTRIB, () => fs.linkSync(f, join(dir, 'b')), NOTE_LINK);
});

test('a new hard link posts NOTE_LINK; removing one of two names posts NOTE_DELETE', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  fs.linkSync(f, join(dir, 'b'));
  await exactly(kq, f, NOTE_LINK, () => fs.appendFileSync(f, 'y'), NOTE_WRITE | NOTE_EXTEND);
  fs.unlinkSync(join(dir, 'b'));
  await exactly(kq, f, NOTE_DELETE, () => fs.appendFileSync(f, 'y'), NOTE_WRITE | NOTE_EXTEND);
});

test('unlink posts NOTE_DELETE; the knote stays and still sees writes through an open fd', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  watch(kq, f);
  const fd = fs.openSync(f, 'a');
  t.after(() => fs.closeSync(fd));
  fs.unlinkSync(f);
  assert.equal(await notes(kq, f, NOTE_DELETE), NOTE_DELETE);
  fs.writeSync(fd, 'more');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('a write then an unlink before any event is read: both are reported', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  watch(kq, f);
  fs.appendFileSync(f, 'last words');
  fs.unlinkSync(f);
  assert.equal(await notes(kq, f, NOTE_DELETE | NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND | NOTE_DELETE);
});

test('rename posts NOTE_RENAME; the knote follows the file under its new name', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  const g = join(dir, 'g');
  fs.renameSync(f, g);
  assert.equal(await notes(kq, f, NOTE_RENAME), NOTE_RENAME);
  fs.appendFileSync(g, 'z');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  // Into another directory too.
  const sub = join(dir, 'sub');
  fs.mkdirSync(sub);
  fs.renameSync(g, join(sub, 'g'));
  fs.chmodSync(join(sub, 'g'), 0o640);
  assert.equal(await notes(kq, f, NOTE_ATTRIB), NOTE_RENAME | NOTE_ATTRIB);
});

test('renaming an ancestor directory is not a rename of the file', async (t) => {
  const kq = openKqueue(t);
  const dir = tempDir(t);
  fs.mkdirSync(join(dir, 'p'));
  const f = join(dir, 'p', 'f');
  fs.writeFileSync(f, '');
  watch(kq, f);
  fs.renameSync(join(dir, 'p'), join(dir, 'q'));
  fs.chmodSync(join(dir, 'q', 'f'), 0o600);
  await exactly(kq, f, NOTE_ATTRIB, () => fs.linkSync(join(dir, 'q', 'f'), join(dir, 'l')), NOTE_LINK);
});

test('a rename and a write in either order before any event is read: NOTE_RENAME and the write, no NOTE_ATTRIB', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  const g = join(dir, 'g');
  fs.renameSync(f, g);
  fs.appendFileSync(g, 'z');
  await exactly(kq, f, NOTE_RENAME | NOTE_WRITE | NOTE_EXTEND, () => fs.linkSync(g, join(dir, 'm1')), NOTE_LINK);
  fs.appendFileSync(g, 'z');
  fs.renameSync(g, f);
  await exactly(kq, f, NOTE_RENAME | NOTE_WRITE | NOTE_EXTEND, () => fs.linkSync(f, join(dir, 'm2')), NOTE_LINK);
});

test('rename over a watched file: NOTE_DELETE on the replaced one, NOTE_RENAME on the moved one', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  const src = join(dir, 'new');
  fs.writeFileSync(src, 'new content');
  watch(kq, f);
  watch(kq, src);
  fs.renameSync(src, f);
  assert.equal(await notes(kq, f, NOTE_DELETE), NOTE_DELETE);
  assert.equal(await notes(kq, src, NOTE_RENAME), NOTE_RENAME);
  // The name now belongs to the moved file, which the second knote follows.
  fs.appendFileSync(f, '!');
  assert.equal(await notes(kq, src, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('delete and re-create a path: the old knote saw NOTE_DELETE and never fires for the new file', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  watch(kq, f);
  const old = fs.openSync(f, 'a');
  t.after(() => fs.closeSync(old));
  fs.unlinkSync(f);
  assert.equal(await notes(kq, f, NOTE_DELETE), NOTE_DELETE);
  fs.writeFileSync(f, 'a new file');
  fs.chmodSync(f, 0o600);
  fs.appendFileSync(f, 'more');
  // Events of the new file come before this write to the old inode: none may reach the knote.
  fs.writeSync(old, 'to the old inode');
  await exactly(kq, f, NOTE_WRITE | NOTE_EXTEND, () => fs.fchmodSync(old, 0o600), NOTE_ATTRIB);
  // The same name registered again is a new registration only after EV_DELETE.
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }], 1), []);
  watch(kq, f);
  fs.appendFileSync(f, '!');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('an editor\'s save (write a temp file, rename it over): the old knote sees NOTE_DELETE, a re-registered name follows', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t, 'v1');
  watch(kq, f);
  const tmp = join(dir, '.a.swp');
  fs.writeFileSync(tmp, 'v2');
  fs.renameSync(tmp, f);
  assert.equal(await notes(kq, f, NOTE_DELETE), NOTE_DELETE);
  assert.deepEqual(kq.keventSync([
    { ident: f, filter: EVFILT_VNODE, flags: EV_DELETE },
    { ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL },
  ], 2), []);
  fs.appendFileSync(f, ' edited');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('a path is resolved through symlinks, once', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  const link = join(dir, 'link');
  fs.symlinkSync(f, link);
  watch(kq, link);
  fs.appendFileSync(f, 'y');
  assert.equal(await notes(kq, link, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  // Re-pointing the symlink changes nothing for the knote: it follows the inode.
  const other = join(dir, 'other');
  fs.writeFileSync(other, '');
  fs.unlinkSync(link);
  fs.symlinkSync(other, link);
  fs.appendFileSync(other, 'y');
  await exactly(kq, link, 0, () => fs.chmodSync(f, 0o600), NOTE_ATTRIB);
});

test('a relative path is resolved against the current directory at registration', async (t) => {
  const kq = openKqueue(t);
  const { dir } = file(t);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    watch(kq, 'a');
  } finally {
    process.chdir(cwd);
  }
  fs.appendFileSync(join(dir, 'a'), 'y');
  assert.equal(await notes(kq, 'a', NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('a numeric fd and a FileHandle are idents too', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  const fh = await fsp.open(f, 'r');
  t.after(() => fh.close());
  watch(kq, fd);
  watch(kq, fh);
  fs.appendFileSync(f, 'y');
  assert.equal(await notes(kq, fd, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  assert.equal(await notes(kq, fh, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  fs.chmodSync(f, 0o600);
  assert.equal(await notes(kq, fd, NOTE_ATTRIB), NOTE_ATTRIB);
  assert.equal(await notes(kq, fh, NOTE_ATTRIB), NOTE_ATTRIB);
  assert.deepEqual(kq.keventSync([
    { ident: fd, filter: EVFILT_VNODE, flags: EV_DELETE },
    { ident: fh, filter: EVFILT_VNODE, flags: EV_DELETE },
  ], 2), []);
});

test('errors: ENOENT, EBADF, EOPNOTSUPP, EINVAL', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  const nul = fs.openSync('/dev/null', 'r');
  t.after(() => fs.closeSync(nul));
  const closed = fs.openSync(f, 'r');
  fs.closeSync(closed);
  const loop = join(dir, 'loop');
  fs.symlinkSync(loop, loop);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fh = await fsp.open(f, 'r');
  await fh.close();
  const cases: [Ident, number, number, string][] = [
    [join(dir, 'missing'), EVFILT_VNODE, ENOENT, 'a path that does not exist'],
    [join(dir, 'missing', 'deeper'), EVFILT_VNODE, ENOENT, 'under a missing directory'],
    [join(f, 'x'), EVFILT_VNODE, ENOTDIR, 'a file used as a directory'],
    [f + '\0x', EVFILT_VNODE, EINVAL, 'a path with a NUL'],
    [loop, EVFILT_VNODE, ELOOP, 'a symlink loop'],
    [join(dir, 'x'.repeat(300)), EVFILT_VNODE, ENAMETOOLONG, 'a name too long'],
    [f, EVFILT_READ, EBADF, 'READ on a path'],
    [f, EVFILT_WRITE, EBADF, 'WRITE on a path'],
    [f, EVFILT_EXCEPT, EBADF, 'EXCEPT on a path'],
    [fd, EVFILT_EXCEPT, EOPNOTSUPP, 'EXCEPT on a file'],
    [closed, EVFILT_VNODE, EBADF, 'a closed fd'],
    [-1, EVFILT_VNODE, EBADF, 'a negative fd'],
    [1.5, EVFILT_VNODE, EBADF, 'a fractional fd'],
    [nul, EVFILT_VNODE, EBADF, 'an fd of a character device'],
    [fh, EVFILT_VNODE, EBADF, 'a closed FileHandle'],
    [fifo, EVFILT_VNODE, EOPNOTSUPP, 'a FIFO by path'],
    [new Proxy(fh, {}), EVFILT_VNODE, EBADF, 'a Proxy of a FileHandle'],
    [{ fd }, EVFILT_VNODE, EBADF, 'an object with an fd'],
  ];
  for (const [ident, filter, errno, name] of cases) {
    const out = kq.keventSync([{ ident, filter, flags: EV_ADD, fflags: ALL }], 1);
    assert.equal(out.length, 1, name);
    assertError(out[0], errno);
  }
  // Nothing was left behind: the failed additions are not knotes.
  assertError(kq.keventSync([{ ident: join(dir, 'missing'), filter: EVFILT_VNODE, flags: EV_DELETE }], 1)[0], ENOENT);
  assert.equal(vnodeCount(), 0);
});

test('EV_DELETE of a path knote finds it after the file is gone', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  watch(kq, f);
  fs.rmSync(dir, { recursive: true });
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }], 1), []);
  assert.equal(vnodeCount(), 0);
});

test('level-triggered: fflags accumulate and the event is returned by every harvest (edge 99)', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  watch(kq, f, ALL, EV_ADD);
  fs.chmodSync(f, 0o600);
  await notes(kq, f, NOTE_ATTRIB);
  fs.appendFileSync(f, 'y');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_ATTRIB | NOTE_WRITE | NOTE_EXTEND);
  for (let i = 0; i < 3; i++) {
    const again = kq.keventSync(null, 4);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.fflags, NOTE_ATTRIB | NOTE_WRITE | NOTE_EXTEND);
    assert.equal(again[0]!.data, 0);
  }
});

test('EV_CLEAR: delivered once per batch of changes, then quiet until the next', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  watch(kq, f);
  fs.chmodSync(f, 0o600);
  assert.equal(await notes(kq, f, NOTE_ATTRIB), NOTE_ATTRIB);
  assert.deepEqual(kq.keventSync(null, 4), []);
  fs.appendFileSync(f, 'y');
  assert.equal(await notes(kq, f, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
});

test('the interest mask: a post sharing a bit ORs the whole hint; others are ignored (edge 97)', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t, 'abc');
  const fd = fs.openSync(f, 'r+');
  t.after(() => fs.closeSync(fd));
  watch(kq, f, NOTE_WRITE);
  fs.chmodSync(f, 0o600);
  await exactly(kq, f, 0, () => fs.appendFileSync(f, 'd'), NOTE_WRITE | NOTE_EXTEND);
  // NOTE_EXTEND only: an in-place overwrite is not reported, an append is, with its NOTE_WRITE.
  assert.deepEqual(kq.keventSync([{ ident: fd, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_EXTEND }], 1), []);
  fs.writeSync(fd, 'Z', 0);
  await exactly(kq, fd, 0, () => fs.appendFileSync(f, 'e'), NOTE_WRITE | NOTE_EXTEND);
});

test('EV_ENABLE with fflags 0 empties the interest mask: later changes are not reported (edge 43)', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  watch(kq, f);
  watch(kq, fd); // a witness on the same inode, posted by the same stat
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_ENABLE, fflags: 0 }], 1), []);
  fs.appendFileSync(f, 'y');
  const seen = await harvestUntil(kq, fd, EVFILT_VNODE, NOTE_WRITE);
  assert.equal(seen.fflags, NOTE_WRITE | NOTE_EXTEND);
  assert.deepEqual(kq.keventSync(null, 4), []);
});

test('EV_ONESHOT and EV_DISPATCH on a vnode knote', async (t) => {
  const kq = openKqueue(t);
  const { f } = file(t);
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  watch(kq, f, ALL, EV_ADD | EV_ONESHOT);
  watch(kq, fd, ALL, EV_ADD | EV_CLEAR | EV_DISPATCH);
  fs.appendFileSync(f, 'y');
  await notes(kq, f, NOTE_WRITE);
  await notes(kq, fd, NOTE_WRITE);
  assertError(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }], 1)[0], ENOENT);
  // Disabled after its delivery, the dispatch knote keeps accumulating.
  fs.chmodSync(f, 0o600);
  fs.appendFileSync(f, 'y');
  // Give the events time to arrive: a third knote posted by the same stats is the witness.
  watch(kq, f);
  fs.linkSync(f, f + '.2');
  await notes(kq, f, NOTE_LINK);
  assert.deepEqual(kq.keventSync(null, 4), []);
  assert.deepEqual(kq.keventSync([{ ident: fd, filter: EVFILT_VNODE, flags: EV_ENABLE, fflags: ALL }], 0), []);
  const out = kq.keventSync(null, 4);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.fflags, NOTE_ATTRIB | NOTE_WRITE | NOTE_EXTEND | NOTE_LINK);
});

test('one OS watch per inode, shared by every knote in every kqueue; released with the last knote', async (t) => {
  const base = vnodeCount();
  const kq1 = openKqueue(t);
  const kq2 = openKqueue(t);
  const { f } = file(t);
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  const fh = await fsp.open(f, 'r');
  t.after(() => fh.close());
  watch(kq1, f);
  watch(kq1, fd);
  watch(kq2, f);
  watch(kq2, fh);
  assert.deepEqual(kq1.keventSync([{ ident: fd, filter: EVFILT_READ, flags: EV_ADD }], 0), []);
  assert.equal(vnodeCount(), base + 1);
  fs.appendFileSync(f, 'y');
  for (const [kq, ident] of [[kq1, f], [kq1, fd], [kq2, f], [kq2, fh]] as const) {
    assert.equal(await notes(kq, ident, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  }
  assert.deepEqual(kq1.keventSync([
    { ident: f, filter: EVFILT_VNODE, flags: EV_DELETE },
    { ident: fd, filter: EVFILT_VNODE, flags: EV_DELETE },
    { ident: fd, filter: EVFILT_READ, flags: EV_DELETE },
  ], 3), []);
  assert.equal(vnodeCount(), base + 1);
  kq2.close();
  assert.equal(vnodeCount(), base);
});

test('a numeric fd closed and reused for another file: its old knotes go when the number is used again', async (t) => {
  const kq = openKqueue(t);
  const { dir, f } = file(t);
  const fd = fs.openSync(f, 'r');
  watch(kq, fd);
  fs.closeSync(fd);
  const g = join(dir, 'g');
  fs.writeFileSync(g, '');
  const again = fs.openSync(g, 'r');
  t.after(() => fs.closeSync(again));
  assert.equal(again, fd, 'the lowest free number is reused');
  watch(kq, again);
  fs.appendFileSync(f, 'to the old file');
  fs.appendFileSync(g, 'to the new one');
  assert.equal(await notes(kq, again, NOTE_WRITE), NOTE_WRITE | NOTE_EXTEND);
  assert.equal(vnodeCount(), 1);
});

test('a FileHandle closed: its knotes go in every kqueue, queued events included', async (t) => {
  const kq1 = openKqueue(t);
  const kq2 = openKqueue(t);
  const { f } = file(t);
  const fh = await fsp.open(f, 'r');
  watch(kq1, fh, ALL, EV_ADD);
  watch(kq2, fh, ALL, EV_ADD);
  fs.appendFileSync(f, 'y');
  await notes(kq1, fh, NOTE_WRITE);
  assert.equal(kq2.keventSync(null, 4).length, 1);
  assert.equal(kq2.pending, 1);
  await fh.close();
  assert.equal(kq1.pending, 0);
  assert.equal(kq2.pending, 0);
  assertError(kq1.keventSync([{ ident: fh, filter: EVFILT_VNODE, flags: EV_DELETE }], 1)[0], EBADF);
  assert.equal(vnodeCount(), 0);
  // No listener of the library is left on the user's object.
  await new Promise((r) => setImmediate(r));
  assert.equal((fh as unknown as NodeJS.EventEmitter).listenerCount('close'), 0);
});
