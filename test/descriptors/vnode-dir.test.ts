// EVFILT_VNODE on directories (digest 3.5, edge case 100): entries created, removed and renamed
// are NOTE_WRITE, a subdirectory made or removed NOTE_WRITE|NOTE_LINK, the directory's own rename,
// removal and attributes. Real directories in a temp dir; a note that must not be posted is
// checked with a later change that must be reported after it.
import { after, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_VNODE, NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK,
  NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE,
  type Ident, type Kqueue,
} from '../../src/index.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { harvestUntil, tempDir } from '../support/files.js';

beforeEach(() => assert.equal(vnodeCount(), 0, 'the previous test left a vnode behind'));
after(() => assert.equal(vnodeCount(), 0, 'the last test left a vnode behind'));

const ALL = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE;

function watch(kq: Kqueue, ident: Ident, fflags = ALL, flags = EV_ADD | EV_CLEAR): void {
  assert.deepEqual(kq.keventSync([{ ident, filter: EVFILT_VNODE, flags, fflags }], 1), []);
}

async function notes(kq: Kqueue, ident: Ident, want: number): Promise<number> {
  return (await harvestUntil(kq, ident, EVFILT_VNODE, want)).fflags;
}

/** `expected` on `ident`, then nothing else before the barrier's note (see vnode.test.ts). */
async function exactly(kq: Kqueue, ident: Ident, expected: number, barrier: () => void,
  barrierNote: number, what?: string): Promise<void> {
  let seen = await notes(kq, ident, expected);
  barrier();
  seen |= await notes(kq, ident, barrierNote);
  assert.equal(seen, expected | barrierNote, what);
}

test('creating, removing and renaming entries post NOTE_WRITE on the directory', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  watch(kq, d);
  let mode = 0o700;
  const barrier = (): void => fs.chmodSync(d, (mode ^= 0o050));
  const steps: [string, () => void][] = [
    ['create', () => fs.writeFileSync(join(d, 'a'), 'x')],
    ['hard link', () => fs.linkSync(join(d, 'a'), join(d, 'b'))],
    ['symlink', () => fs.symlinkSync('a', join(d, 's'))],
    ['rename within', () => fs.renameSync(join(d, 'b'), join(d, 'c'))],
    ['create another', () => fs.writeFileSync(join(d, 'x'), 'y')],
    ['rename over an entry', () => fs.renameSync(join(d, 'x'), join(d, 'a'))],
    ['unlink', () => fs.unlinkSync(join(d, 's'))],
  ];
  for (const [name, step] of steps) {
    step();
    await exactly(kq, d, NOTE_WRITE, barrier, NOTE_ATTRIB, name);
  }
});

test('mkdir and rmdir inside post NOTE_WRITE|NOTE_LINK on the directory', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  watch(kq, d, NOTE_WRITE);
  fs.mkdirSync(join(d, 'sub'));
  // Watching NOTE_WRITE only, the companion NOTE_LINK of the same post shows too.
  assert.equal(await notes(kq, d, NOTE_WRITE), NOTE_WRITE | NOTE_LINK);
  watch(kq, d);
  fs.rmdirSync(join(d, 'sub'));
  await exactly(kq, d, NOTE_WRITE | NOTE_LINK, () => fs.chmodSync(d, 0o750), NOTE_ATTRIB);
});

test('a subdirectory moved between two watched directories: NOTE_WRITE|NOTE_LINK on both', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  const a = join(d, 'a');
  const b = join(d, 'b');
  fs.mkdirSync(join(a, 'sub'), { recursive: true });
  fs.mkdirSync(b);
  watch(kq, a);
  watch(kq, b);
  fs.renameSync(join(a, 'sub'), join(b, 'sub'));
  assert.equal(await notes(kq, a, NOTE_WRITE | NOTE_LINK), NOTE_WRITE | NOTE_LINK);
  assert.equal(await notes(kq, b, NOTE_WRITE | NOTE_LINK), NOTE_WRITE | NOTE_LINK);
  // A file moved between them: NOTE_WRITE alone on both.
  fs.writeFileSync(join(a, 'f'), '');
  await notes(kq, a, NOTE_WRITE);
  fs.renameSync(join(a, 'f'), join(b, 'f'));
  await exactly(kq, a, NOTE_WRITE, () => fs.chmodSync(a, 0o700), NOTE_ATTRIB);
  await exactly(kq, b, NOTE_WRITE, () => fs.chmodSync(b, 0o700), NOTE_ATTRIB);
});

test('writes to a file in the directory are not changes of the directory', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  const f = join(d, 'f');
  fs.writeFileSync(f, '');
  watch(kq, d);
  fs.appendFileSync(f, 'data');
  fs.chmodSync(f, 0o600);
  fs.truncateSync(f, 0);
  await exactly(kq, d, 0, () => fs.chmodSync(d, 0o700), NOTE_ATTRIB);
});

test('chmod, chown and utimes of the directory post NOTE_ATTRIB', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  watch(kq, d);
  let n = 0;
  const barrier = (): void => fs.writeFileSync(join(d, `f${n++}`), '');
  const steps: [string, () => void][] = [
    ['chmod', () => fs.chmodSync(d, 0o711)],
    ['chown', () => fs.chownSync(d, 2, 2)],
    ['utimes in the past', () => fs.utimesSync(d, new Date(1e12), new Date(1e12))],
    ['utimes now', () => { const now = new Date(); fs.utimesSync(d, now, now); }],
  ];
  for (const [name, step] of steps) {
    step();
    await exactly(kq, d, NOTE_ATTRIB, barrier, NOTE_WRITE, name);
  }
});

test('the directory renamed: NOTE_RENAME, and it is still watched under its new name', async (t) => {
  const kq = openKqueue(t);
  const base = tempDir(t);
  const d = join(base, 'd');
  fs.mkdirSync(d);
  fs.mkdirSync(join(base, 'elsewhere'));
  watch(kq, d);
  const moved = join(base, 'moved');
  fs.renameSync(d, moved);
  await exactly(kq, d, NOTE_RENAME, () => fs.writeFileSync(join(moved, 'f'), ''), NOTE_WRITE);
  // Renaming its parent is not a rename of it.
  fs.renameSync(base, base + '.p');
  t.after(() => fs.rmSync(base + '.p', { recursive: true, force: true }));
  const now = join(base + '.p', 'moved');
  fs.writeFileSync(join(now, 'g'), '');
  await exactly(kq, d, NOTE_WRITE, () => fs.chmodSync(now, 0o700), NOTE_ATTRIB);
  // Into another directory, then removed there.
  const there = join(base + '.p', 'elsewhere', 'd');
  fs.rmSync(join(now, 'f'));
  fs.rmSync(join(now, 'g'));
  await notes(kq, d, NOTE_WRITE);
  fs.renameSync(now, there);
  assert.equal(await notes(kq, d, NOTE_RENAME), NOTE_RENAME);
  fs.rmdirSync(there);
  assert.equal(await notes(kq, d, NOTE_DELETE), NOTE_DELETE);
});

test('rmdir of the watched directory posts NOTE_DELETE on it and NOTE_WRITE|NOTE_LINK on its parent', async (t) => {
  const kq = openKqueue(t);
  const base = tempDir(t);
  const d = join(base, 'd');
  fs.mkdirSync(d);
  watch(kq, d);
  watch(kq, base);
  fs.rmdirSync(d);
  assert.equal(await notes(kq, d, NOTE_DELETE), NOTE_DELETE);
  assert.equal(await notes(kq, base, NOTE_WRITE | NOTE_LINK), NOTE_WRITE | NOTE_LINK);
});

test('an empty directory replaced by a rename over it posts NOTE_DELETE', async (t) => {
  const kq = openKqueue(t);
  const base = tempDir(t);
  const d = join(base, 'd');
  fs.mkdirSync(d);
  fs.mkdirSync(join(base, 'e'));
  watch(kq, d);
  fs.renameSync(join(base, 'e'), d);
  assert.equal(await notes(kq, d, NOTE_DELETE), NOTE_DELETE);
});

test('a directory by numeric fd and by FileHandle', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  const fd = fs.openSync(d, 'r');
  t.after(() => fs.closeSync(fd));
  const fh = await fsp.open(d, 'r');
  t.after(() => fh.close());
  watch(kq, fd);
  watch(kq, fh);
  fs.mkdirSync(join(d, 'x'));
  assert.equal(await notes(kq, fd, NOTE_WRITE | NOTE_LINK), NOTE_WRITE | NOTE_LINK);
  assert.equal(await notes(kq, fh, NOTE_WRITE | NOTE_LINK), NOTE_WRITE | NOTE_LINK);
});

test('watching a directory and a file in it: an unlink posts NOTE_DELETE on the file, NOTE_WRITE on the directory', async (t) => {
  const kq = openKqueue(t);
  const d = tempDir(t);
  const f = join(d, 'f');
  fs.writeFileSync(f, '');
  watch(kq, d);
  watch(kq, f);
  fs.unlinkSync(f);
  assert.equal(await notes(kq, f, NOTE_DELETE), NOTE_DELETE);
  await exactly(kq, d, NOTE_WRITE, () => fs.chmodSync(d, 0o700), NOTE_ATTRIB);
});

test('the parent watched for a directory\'s removal is released with it', async (t) => {
  const kq = openKqueue(t);
  const base = tempDir(t);
  const d = join(base, 'd');
  fs.mkdirSync(d);
  watch(kq, d);
  assert.equal(vnodeCount(), 2, 'the directory and its parent');
  watch(kq, base);
  assert.equal(vnodeCount(), 3, 'the parent is shared, and has its own parent');
  assert.deepEqual(kq.keventSync([{ ident: d, filter: EVFILT_VNODE, flags: EV_DELETE }], 1), []);
  assert.equal(vnodeCount(), 2);
  assert.deepEqual(kq.keventSync([{ ident: base, filter: EVFILT_VNODE, flags: EV_DELETE }], 1), []);
  assert.equal(vnodeCount(), 0);
});
