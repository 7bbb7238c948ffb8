// Source faults on files (issue 10): the watched file deleted, renamed, replaced by a rename over
// it, truncated, its directory removed, its filesystem unmounted, its permissions removed; the
// inotify watch limit and the descriptor limit reached. Each on real files in temp dirs (a real
// tmpfs for the unmount), for EVFILT_VNODE by path, numeric fd and FileHandle, and READ/WRITE on
// the file's descriptors. The outcomes are those of docs/filters/vnode.md and file.md ("Faults").
// Every wait is a kevent with a generous timeout; an absence is asserted only after a later change
// that must be reported after it.
import { after, before, beforeEach, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  EACCES, EBADF, EMFILE, ENOENT, ENOSPC, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_ERROR, EV_NODATA, EV_ONESHOT, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE,
  NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE, tunables,
  type Ident, type Kqueue,
} from '../../src/index.js';
import { vnodeNotes } from '../../src/descriptors/vnode-notes.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { change } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import {
  BUILD_SRC, assertError, childReport, harvestUntil, nextEvent, openFds, runChild, tempDir, tmpfs,
} from '../support/files.js';

const APPEND = NOTE_WRITE | NOTE_EXTEND;
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

/** A kqueue whose VNODE knotes watch a new file `dir/f` holding `content`, by path, fd and FileHandle. */
async function watchedFile(t: TestContext, content: string): Promise<{ kq: Kqueue; dir: string; f: string; fd: number; fh: fsp.FileHandle; all: Ident[] }> {
  const kq = openKqueue(t);
  const dir = tempDir(t);
  const f = join(dir, 'f');
  fs.writeFileSync(f, content);
  const { fd, fh, all } = await idents(t, f);
  watchAll(kq, all);
  return { kq, dir, f, fd, fh, all };
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
  const { kq, dir, f, fd, fh, all } = await watchedFile(t, '0123456789');
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

test('the descriptor limit reached: EMFILE as an EV_ERROR entry; the other knotes keep firing (READ too); nothing leaks; freed descriptors make it work again', async (t) => {
  const dir = tempDir(t, 'kqueue-emfile-');
  for (const n of ['a', 'b', 'c', 'd']) fs.writeFileSync(join(dir, n), '0123');
  // A child whose limit is low (Node raises the soft limit to the hard one: set both). It fills
  // every free descriptor before registering, so the library's own descriptor cannot be had.
  const r = await runChild(dir, `
    import fsp from 'node:fs/promises';
    import { vnodeCount } from ${JSON.stringify(BUILD_SRC + 'descriptors/vnode-watch.js')};
    const dir = ${JSON.stringify(dir)};
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const at = (n) => dir + '/' + n;
    // libuv keeps its inotify descriptor once made: make it before the baseline.
    fs.watch(dir).close();
    const baseline = fds();
    const kq = K.kqueue();
    const a = fs.openSync(at('a'), 'r+'), a2 = fs.openSync(at('a'), 'r'), c = fs.openSync(at('c'), 'r+');
    const bh = await fsp.open(at('b'), 'r+'), dh = await fsp.open(at('d'), 'r');
    const V = (ident) => ({ ident, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE });
    const R = (ident) => ({ ident, filter: K.EVFILT_READ, flags: K.EV_ADD | K.EV_CLEAR });
    const W = (ident) => ({ ident, filter: K.EVFILT_WRITE, flags: K.EV_ADD | K.EV_CLEAR });
    const before = kq.keventSync([V(at('a')), R(a), W(a), V(bh)], 8).map((e) => [e.filter, e.data]);
    const fill = [];
    let code = null;
    try { for (;;) fill.push(fs.openSync('/dev/null', 'r')); } catch (e) { code = e.code; }
    const vnodesAtLimit = vnodeCount();
    // New inodes need a descriptor of the library's: EMFILE, for every ident and filter.
    const refused = kq.keventSync([V(at('c')), V(c), R(c), W(c), V(dh), R(dh)], 8).map((e) => [e.flags, e.data]);
    // Another knote on an inode already watched needs none.
    const shared = kq.keventSync([R(a2)], 8).map((e) => [e.filter, e.data]);
    // Writes through descriptors opened before: every knote reports, READ with its data.
    fs.writeSync(a, 'xy', 4);
    await bh.write('z', 0, 'latin1');
    const seen = new Map();
    const deadline = Date.now() + 5000;
    while (seen.size < 5 && Date.now() < deadline) {
      for (const e of await kq.kevent(null, 16, deadline - Date.now())) {
        seen.set((typeof e.ident === 'object' ? 'bh' : e.ident === a ? 'a' : e.ident === a2 ? 'a2' : e.ident) + '/' + e.filter, [e.flags, e.fflags, e.data]);
      }
    }
    const vnodesAfterFaults = vnodeCount();
    for (const f of fill) fs.closeSync(f);
    // Room again: the refused registrations work and fire.
    const retried = kq.keventSync([V(at('c')), V(c), R(c), V(dh), R(dh)], 0).map((e) => [e.filter, e.data]);
    kq.keventSync(null, 16); // READ on c and dh are ready at once
    fs.writeSync(c, 'w', 4);
    const late = new Set();
    const deadline2 = Date.now() + 5000;
    while (late.size < 2 && Date.now() < deadline2) {
      for (const e of await kq.kevent(null, 16, deadline2 - Date.now())) late.add(String(e.ident === c ? 'c' : e.ident) + '/' + e.filter);
    }
    kq.close();
    fs.closeSync(a); fs.closeSync(a2); fs.closeSync(c); await bh.close(); await dh.close();
    console.log(JSON.stringify({
      code, fill: fill.length, before, refused, shared, seen: [...seen], vnodesAtLimit, vnodesAfterFaults, retried,
      late: [...late].sort(), leaked: fds() - baseline, vnodes: vnodeCount(),
    }));
  `, { wrapper: ['prlimit', '--nofile=64:64'] });
  const out = childReport<{
    code: string; fill: number; before: [number, number][]; refused: [number, number][]; shared: unknown[];
    seen: [string, [number, number, number]][]; vnodesAtLimit: number; vnodesAfterFaults: number;
    retried: unknown[]; late: string[]; leaked: number; vnodes: number;
  }>(r);
  assert.equal(out.code, 'EMFILE');
  assert.ok(out.fill > 0);
  assert.deepEqual(out.before, [[EVFILT_READ, 4], [EVFILT_WRITE, 0]], 'READ and WRITE ready at once, harvested');
  assert.deepEqual(out.refused, Array.from({ length: 6 }, () => [EV_ERROR, EMFILE]));
  assert.deepEqual(out.shared, [[EVFILT_READ, 4]], 'a second READ knote on a watched inode: registered, and ready');
  assert.equal(out.vnodesAtLimit, 2);
  assert.equal(out.vnodesAfterFaults, 2, 'nothing was kept of the refused registrations');
  const seen = new Map(out.seen);
  assert.deepEqual(seen.get(`${join(dir, 'a')}/${EVFILT_VNODE}`), [EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_EXTEND, 0]);
  assert.deepEqual(seen.get(`a/${EVFILT_READ}`), [EV_ADD | EV_CLEAR, 0, 6], 'READ at the limit: the position is still read');
  assert.deepEqual(seen.get(`a2/${EVFILT_READ}`), [EV_ADD | EV_CLEAR, 0, 6], 'READ registered at the limit');
  assert.deepEqual(seen.get(`a/${EVFILT_WRITE}`), [EV_ADD | EV_CLEAR, 0, 0]);
  assert.deepEqual(seen.get(`bh/${EVFILT_VNODE}`), [EV_ADD | EV_CLEAR, NOTE_WRITE, 0]);
  assert.deepEqual(out.retried, []);
  assert.deepEqual(out.late, [`c/${EVFILT_READ}`, `c/${EVFILT_VNODE}`, `${join(dir, 'c')}/${EVFILT_VNODE}`].sort());
  assert.equal(out.leaked, 0, 'descriptors left open after close');
  assert.equal(out.vnodes, 0);
});

/** The mount id a descriptor was opened through (fdinfo's mnt_id). */
function mountOf(fd: number | string): number {
  const m = /^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m === null ? -1 : Number(m[1]);
}

/** How many of this process's descriptors are open on mount `id`. */
function heldOn(id: number): number {
  let n = 0;
  for (const fd of openFds().keys()) {
    try {
      if (mountOf(fd) === id) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

test('the filesystem unmounted (a real tmpfs, umount -l): NOTE_REVOKE to every knote, deleted files included; nothing more after; a later registration on its descriptors is revoked too', async (t) => {
  const mnt = tmpfs(t);
  if (mnt === null) return;
  const kq = openKqueue(t);
  const f = join(mnt, 'f');
  const gone = join(mnt, 'gone');
  const sub = join(mnt, 'sub');
  fs.writeFileSync(f, 'data');
  fs.writeFileSync(gone, '');
  fs.mkdirSync(sub);
  const { fd, fh } = await idents(t, f);
  const elsewhere = join(tempDir(t), 'e');
  fs.writeFileSync(elsewhere, '');
  change(kq,
    { ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE | NOTE_REVOKE },
    { ident: fd, filter: EVFILT_VNODE, flags: EV_ADD, fflags: NOTE_WRITE | NOTE_REVOKE },
    { ident: fh, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE },
    { ident: sub, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL },
    { ident: gone, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL },
    { ident: elsewhere, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE },
  );
  fs.unlinkSync(gone);
  assert.equal((await harvestUntil(kq, gone, EVFILT_VNODE, NOTE_DELETE)).fflags, NOTE_DELETE);
  change(kq, { ident: fh, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR }, { ident: fd, filter: EVFILT_WRITE, flags: EV_ADD | EV_CLEAR });
  assert.deepEqual(kq.keventSync(null, 8).map((e) => [name(e.ident), e.filter, e.data]), [['FileHandle', EVFILT_READ, 4], ['fd', EVFILT_WRITE, 0]]);
  const id = mountOf(fd);

  execFileSync('umount', ['-l', mnt]);
  const revoked = (ident: Ident, filter: number, fflags: number, flags: number): Promise<void> =>
    nextEvent(kq, ident, filter).then((ev) => {
      assert.deepEqual([ev.fflags, ev.flags], [fflags, flags], `${name(ident)} ${filter}: ${JSON.stringify(ev)}`);
    });
  const EOF = EV_EOF | EV_NODATA;
  await revoked(f, EVFILT_VNODE, NOTE_REVOKE, EV_ADD | EV_CLEAR | EOF);
  await revoked(fd, EVFILT_VNODE, NOTE_REVOKE, EV_ADD | EOF);
  await revoked(fh, EVFILT_VNODE, 0, EV_ADD | EV_CLEAR | EOF);
  await revoked(sub, EVFILT_VNODE, NOTE_REVOKE, EV_ADD | EV_CLEAR | EOF);
  await revoked(gone, EVFILT_VNODE, NOTE_REVOKE, EV_ADD | EV_CLEAR | EOF);
  await revoked(fh, EVFILT_READ, 0, EV_ADD | EV_CLEAR | EOF | EV_ONESHOT);
  await revoked(fd, EVFILT_WRITE, 0, EV_ADD | EV_CLEAR | EOF | EV_ONESHOT);
  // The library let go of the filesystem at once: only the user's fd and FileHandle hold it.
  assert.equal(heldOn(id), 2);

  // The detached file is still writable through the user's descriptors: nothing is reported of it
  // (no watch is left), as a later change elsewhere, seen first, shows.
  fs.writeSync(fd, 'more', 4);
  fs.appendFileSync(elsewhere, 'x');
  await harvestUntil(kq, elsewhere, EVFILT_VNODE, NOTE_WRITE);
  const rest = kq.keventSync(null, 16);
  assert.deepEqual(rest.map((e) => [name(e.ident), e.fflags]), [['fd', NOTE_REVOKE]], 'only the level knote, still ready');
  // The name now leads into the empty mount point: once its knote is deleted, adding it again is
  // ENOENT (a second EV_ADD would only modify the knote). A descriptor of the detached filesystem
  // can be registered (regression: the watch was tried through its name and failed ENOENT), and
  // is revoked at once (regression: it stayed watched for ever, its mount already gone).
  const refused = kq.keventSync([
    { ident: f, filter: EVFILT_VNODE, flags: EV_DELETE },
    { ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE },
  ], 8);
  assertError(refused.find((e) => (e.flags & EV_ERROR) !== 0), ENOENT);
  const fd2 = fs.openSync(`/proc/self/fd/${fd}`, 'r');
  t.after(() => fs.closeSync(fd2));
  change(kq,
    { ident: fd2, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE | NOTE_REVOKE },
    { ident: fd2, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR },
  );
  await revoked(fd2, EVFILT_VNODE, NOTE_REVOKE, EV_ADD | EV_CLEAR | EOF);
  await revoked(fd2, EVFILT_READ, 0, EV_ADD | EV_CLEAR | EOF | EV_ONESHOT);
  assert.equal(heldOn(id), 3, 'the user\'s three descriptors, none of the library\'s');
  kq.close();
  assert.equal(vnodeCount(), 0);
});

/** Links of this process's descriptors that name `f`, deleted. */
function heldDeleted(f: string): number {
  return [...openFds().values()].filter((target) => target === `${f} (deleted)`).length;
}

test('deleted: NOTE_DELETE by path, fd and FileHandle; later writes and chmods through a descriptor are still reported; the space goes with the last knote', async (t) => {
  const { kq, f, fd, fh, all } = await watchedFile(t, 'abc');
  change(kq, { ident: fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR }, { ident: fh, filter: EVFILT_WRITE, flags: EV_ADD | EV_CLEAR });
  kq.keventSync(null, 8); // READ (3 bytes) and WRITE are ready at once

  fs.unlinkSync(f);
  await exactly(kq, all, NOTE_DELETE, () => fs.writeSync(fd, 'd', 3), APPEND, 'unlink, then a write through the fd');
  assert.equal((await nextEvent(kq, fd, EVFILT_READ)).data, 4, 'READ sees the write to the deleted file');
  assert.equal((await nextEvent(kq, fh, EVFILT_WRITE)).flags & EV_EOF, 0);
  await fh.chmod(0o600);
  for (const ident of all) assert.equal((await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_ATTRIB)).fflags, NOTE_ATTRIB);

  // Its name is free: a new file there is not the knotes' file (the path knote stays on the old
  // inode); the same path is registered again only after EV_DELETE.
  fs.writeFileSync(f, 'another file');
  fs.appendFileSync(f, '!');
  await exactly(kq, all, 0, () => fs.writeSync(fd, 'e', 4), APPEND, 'a new file under the old name');
  change(kq, { ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }, { ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL });
  fs.appendFileSync(f, '?');
  assert.equal((await harvestUntil(kq, f, EVFILT_VNODE, NOTE_WRITE)).fflags, APPEND);

  // The deleted inode is held by the user's two descriptors and the library's one; once the user
  // closed theirs, the library's goes with the last knote on it.
  fs.closeSync(fd);
  await fh.close();
  assert.equal(heldDeleted(f), 1, 'the library holds the deleted file while a knote watches it');
  // The FileHandle's close dropped its knotes; the numeric fd's close is noticed when its number is
  // used again (EBADF) — here by EV_DELETE, which drops its knotes first.
  assertError(kq.keventSync([{ ident: fd, filter: EVFILT_VNODE, flags: EV_DELETE }], 1)[0], EBADF);
  assert.equal(heldDeleted(f), 0, 'the deleted file\'s space is freed with its last knote');
  assert.equal(vnodeCount(), 1, 'only the new file under the name is watched');
});

test('renamed, within its directory and to another: NOTE_RENAME; path, fd and FileHandle knotes follow the inode; READ is unaffected', async (t) => {
  const { kq, dir, f, fd, fh, all } = await watchedFile(t, 'abc');
  change(kq, { ident: fh, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
  assert.equal((await nextEvent(kq, fh, EVFILT_READ)).data, 3);

  const g = join(dir, 'g');
  fs.renameSync(f, g);
  await exactly(kq, all, NOTE_RENAME, () => fs.appendFileSync(g, 'd'), APPEND, 'renamed in its directory, then written under the new name');
  assert.equal((await nextEvent(kq, fh, EVFILT_READ)).data, 4);
  const other = tempDir(t);
  const h = join(other, 'h');
  fs.renameSync(g, h);
  await exactly(kq, all, NOTE_RENAME, () => fs.chmodSync(h, 0o640), NOTE_ATTRIB, 'moved to another directory');
  // A new file under the first name is not theirs.
  fs.writeFileSync(f, 'new');
  fs.appendFileSync(f, 'more');
  await exactly(kq, all, 0, () => fs.writeSync(fd, 'e', 4), APPEND, 'a new file under the old name');
  // The path knote is still found by its first name; the name, added again, is the new file.
  change(kq, { ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }, { ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL });
  fs.appendFileSync(h, 'to the moved file');
  fs.appendFileSync(f, 'to the new file');
  await harvestUntil(kq, fd, EVFILT_VNODE, NOTE_WRITE);
  await harvestUntil(kq, f, EVFILT_VNODE, NOTE_WRITE);
  assert.equal(vnodeCount(), 2);
});

test('replaced by a rename over it: the old inode\'s knotes (fd, FileHandle, path) get NOTE_DELETE and never report the new file; READ stays on the old data', async (t) => {
  const kq = openKqueue(t);
  const dir = tempDir(t);
  const f = join(dir, 'f');
  fs.writeFileSync(f, 'old');
  const { fd, all } = await idents(t, f);
  watchAll(kq, all);
  change(kq, { ident: fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
  assert.equal((await nextEvent(kq, fd, EVFILT_READ)).data, 3);

  const tmp = join(dir, '.f.new');
  fs.writeFileSync(tmp, 'the new version, longer');
  change(kq, { ident: tmp, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: ALL });
  fs.renameSync(tmp, f);
  assert.equal((await harvestUntil(kq, tmp, EVFILT_VNODE, NOTE_RENAME)).fflags, NOTE_RENAME, 'the moved file');
  // Writes to the new file come before this write to the old inode: none may reach the old knotes.
  fs.appendFileSync(f, ' and more');
  fs.chmodSync(f, 0o600);
  await exactly(kq, all, NOTE_DELETE, () => fs.writeSync(fd, '!', 3), APPEND, 'replaced, then the new file written');
  assert.equal((await nextEvent(kq, fd, EVFILT_READ)).data, 4, 'READ: the old file, with its own write');
  assert.equal((await harvestUntil(kq, tmp, EVFILT_VNODE, NOTE_ATTRIB)).fflags, APPEND | NOTE_ATTRIB, 'the new file: its knote has them');
});

test('its directory removed (rm -rf): the file\'s knotes get NOTE_DELETE, the directory\'s (path, fd, FileHandle) NOTE_DELETE, the parent\'s NOTE_WRITE|NOTE_LINK', async (t) => {
  const kq = openKqueue(t);
  const top = tempDir(t);
  const d = join(top, 'd');
  fs.mkdirSync(join(d, 'inner'), { recursive: true });
  const f = join(d, 'f');
  fs.writeFileSync(f, 'x');
  const file = await idents(t, f);
  const dfd = fs.openSync(d, 'r');
  t.after(() => fs.closeSync(dfd));
  const dfh = await fsp.open(d, 'r');
  t.after(() => dfh.close());
  const dirs = [d, dfd, dfh];
  watchAll(kq, [...file.all, ...dirs, top]);
  change(kq, { ident: file.fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
  assert.equal((await nextEvent(kq, file.fd, EVFILT_READ)).data, 1);

  fs.rmSync(d, { recursive: true });
  for (const ident of file.all) assert.equal((await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_DELETE)).fflags, NOTE_DELETE, name(ident));
  // The directory also lost its subdirectory and its file first (NOTE_WRITE|NOTE_LINK), merged or not.
  for (const ident of dirs) {
    const { fflags } = await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_DELETE);
    assert.equal(fflags & ~(NOTE_WRITE | NOTE_LINK), NOTE_DELETE, `${name(ident)}: 0x${fflags.toString(16)}`);
  }
  assert.equal((await harvestUntil(kq, top, EVFILT_VNODE, NOTE_WRITE | NOTE_LINK)).fflags, NOTE_WRITE | NOTE_LINK);
  // The file lives on through the descriptors: a write is still reported, and READ sees it.
  await exactly(kq, file.all, 0, () => fs.writeSync(file.fd, 'y', 1), APPEND, 'a write to the orphaned file');
  assert.equal((await nextEvent(kq, file.fd, EVFILT_READ)).data, 2);
  // The names made again are other files: nothing reaches the old knotes (checked by a change
  // the old directory's knotes see after it).
  fs.mkdirSync(d);
  fs.writeFileSync(f, 'new');
  await exactly(kq, file.all, 0, () => fs.writeSync(file.fd, 'z', 2), APPEND, 'the names made again');
  await exactly(kq, [top], NOTE_WRITE | NOTE_LINK, () => fs.writeFileSync(join(top, 'later'), ''), NOTE_WRITE, 'the parent');
  await dfh.chmod(0o700);
  for (const ident of dirs) assert.equal((await harvestUntil(kq, ident, EVFILT_VNODE, NOTE_ATTRIB)).fflags, NOTE_ATTRIB, name(ident));
});

test('a directory listed, emptied and removed within one look (rm -rf) is not mistaken for a utimes: no NOTE_ATTRIB', () => {
  // Regression, from the stats seen on ext4: the listing set atime and the removal of the entries
  // set mtime in the same clock tick (atime = mtime), then rmdir moved ctime alone, which looked
  // like utimes setting atime and mtime to one given time. A link count change explains ctime.
  const before = { size: 4096, atimeMs: 1000.5, mtimeMs: 1004.25, ctimeMs: 1004.25, nlink: 3, mode: 0o40755, uid: 0, gid: 0 };
  const after = { ...before, size: 0, atimeMs: 1076.5, mtimeMs: 1076.5, ctimeMs: 1088.5, nlink: 0 };
  assert.equal(vnodeNotes(before, after, true, false), NOTE_DELETE | NOTE_WRITE);
  // The same for a file written, read and unlinked within one look.
  const file = { size: 1, atimeMs: 1000.5, mtimeMs: 1000.5, ctimeMs: 1000.5, nlink: 1, mode: 0o100644, uid: 0, gid: 0 };
  assert.equal(vnodeNotes(file, { ...file, size: 2, atimeMs: 1020, mtimeMs: 1020, ctimeMs: 1030, nlink: 0 }, false, false),
    NOTE_DELETE | APPEND);
  // utimes itself (the link count unchanged) is still NOTE_ATTRIB.
  assert.equal(vnodeNotes(file, { ...file, atimeMs: 5000, mtimeMs: 5000, ctimeMs: 1040 }, false, false), NOTE_ATTRIB);
});

test('the inotify watch limit reached: ENOSPC as an EV_ERROR entry for every ident and filter that needs a watch; the other knotes keep firing; nothing leaks; freed watches make it work again', async (t) => {
  // A user namespace has its own inotify limits, bounded by its parent's: lowering it there
  // leaves every other process (other tests running meanwhile) alone.
  const probe = spawnSync('unshare', ['-Ur', 'sh', '-c', 'echo 8 > /proc/sys/user/max_inotify_watches'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`no user namespace with its own inotify limit here: ${(probe.stderr || String(probe.error)).trim()}`);
    return;
  }
  const dir = tempDir(t, 'kqueue-enospc-');
  const LIMIT = 12;
  const r = await runChild(dir, `
    import fsp from 'node:fs/promises';
    import { vnodeCount } from ${JSON.stringify(BUILD_SRC + 'descriptors/vnode-watch.js')};
    fs.writeFileSync('/proc/sys/user/max_inotify_watches', '${LIMIT}');
    const dir = ${JSON.stringify(dir)};
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const watches = () => {
      let n = 0;
      for (const fd of fs.readdirSync('/proc/self/fd')) {
        try {
          if (fs.readlinkSync('/proc/self/fd/' + fd) !== 'anon_inode:inotify') continue;
          n += fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8').split('\\n').filter((l) => l.startsWith('inotify wd:')).length;
        } catch {}
      }
      return n;
    };
    const V = (ident) => ({ ident, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE });
    const files = [];
    for (let i = 0; i < ${LIMIT + 8}; i++) { files.push(dir + '/f' + i); fs.writeFileSync(files.at(-1), ''); }
    fs.mkdirSync(dir + '/sub');
    fs.watch(dir).close(); // libuv keeps its inotify descriptor once made: before the baseline
    const baseline = fds();
    const kq = K.kqueue();
    const first = kq.keventSync(files.map(V), 64);
    const failed = first.map((e) => e.ident);
    const ok = files.filter((p) => !failed.includes(p));
    const held = fds();
    // Every kind of registration that needs a watch of a new inode: ENOSPC, and nothing kept.
    const extra = dir + '/extra';
    fs.writeFileSync(extra, '');
    const xfd = fs.openSync(extra, 'r+'), xfh = await fsp.open(extra, 'r');
    const refused = kq.keventSync([V(extra), V(xfd), V(xfh), { ident: xfd, filter: K.EVFILT_READ, flags: K.EV_ADD }], 8)
      .map((e) => [e.flags, e.data]);
    // WRITE needs no watch; a second knote on a watched inode shares its watch.
    const f0 = fs.openSync(ok[0], 'r+');
    const allowed = kq.keventSync([{ ident: xfd, filter: K.EVFILT_WRITE, flags: K.EV_ADD | K.EV_ONESHOT }, V(f0)], 8)
      .map((e) => [e.filter, e.flags, e.data]);
    const leakedAtLimit = fds() - held - 3; // xfd, xfh and f0 are the test's own
    // Every knote added keeps firing.
    for (const p of ok) fs.appendFileSync(p, 'x');
    const seen = new Set();
    const deadline = Date.now() + 5000;
    while (seen.size < ok.length + 1 && Date.now() < deadline) {
      for (const e of await kq.kevent(null, 64, deadline - Date.now())) seen.add(e.ident === f0 ? 'f0' : e.ident);
    }
    // Giving watches back makes the refused registrations work, and fire.
    const freed = ok.slice(0, 4);
    const retry = kq.keventSync([
      ...freed.map((ident) => ({ ident, filter: K.EVFILT_VNODE, flags: K.EV_DELETE })),
      V(failed[0]), V(xfd), { ident: xfd, filter: K.EVFILT_READ, flags: K.EV_ADD | K.EV_CLEAR }, V(failed[1]),
    ], 8).map((e) => [e.flags, e.data]);
    fs.appendFileSync(failed[0], 'x');
    fs.writeSync(xfd, 'y', 0); // at offset 0: the descriptor's position stays, READ sees 1 byte
    fs.appendFileSync(failed[1], 'x');
    const late = new Set();
    const deadline2 = Date.now() + 5000;
    while (late.size < 4 && Date.now() < deadline2) {
      for (const e of await kq.kevent(null, 64, deadline2 - Date.now())) late.add((e.ident === xfd ? 'xfd' : e.ident) + '/' + e.filter);
    }
    const watchesOpen = watches();
    kq.close();
    fs.closeSync(xfd); fs.closeSync(f0); await xfh.close();
    console.log(JSON.stringify({
      failed: first.map((e) => [e.flags, e.data]), ok, refused, allowed, leakedAtLimit, seen: [...seen],
      retry, late: [...late].sort(), failedNames: failed.slice(0, 2), watchesOpen,
      watchesAfter: watches(), leaked: fds() - baseline, vnodes: vnodeCount(),
    }));
  `, { wrapper: ['unshare', '-Ur'] });
  const out = childReport<{
    failed: [number, number][]; ok: string[]; refused: [number, number][]; allowed: [number, number, number][];
    leakedAtLimit: number; seen: string[]; retry: unknown[]; late: string[]; failedNames: string[];
    watchesOpen: number; watchesAfter: number; leaked: number; vnodes: number;
  }>(r);
  assert.ok(out.ok.length > 4 && out.ok.length <= LIMIT, `${out.ok.length} knotes added under a limit of ${LIMIT}`);
  assert.equal(out.failed.length, LIMIT + 8 - out.ok.length);
  for (const e of out.failed) assert.deepEqual(e, [EV_ERROR, ENOSPC]);
  assert.deepEqual(out.refused, Array.from({ length: 4 }, () => [EV_ERROR, ENOSPC]), 'path, fd, FileHandle and READ on a new inode');
  assert.deepEqual(out.allowed, [[EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0]], 'WRITE registered (and ready); the shared VNODE knote too');
  assert.equal(out.leakedAtLimit, 0, 'the refused registrations left descriptors open');
  assert.deepEqual(out.seen.sort(), [...out.ok, 'f0'].sort(), 'every knote that was added fired');
  assert.deepEqual(out.retry, []);
  assert.deepEqual(out.late, [`${out.failedNames[0]}/${EVFILT_VNODE}`, `${out.failedNames[1]}/${EVFILT_VNODE}`,
    `xfd/${EVFILT_READ}`, `xfd/${EVFILT_VNODE}`].sort());
  // Four freed, but the first still watched through f0's knote; three added.
  assert.equal(out.watchesOpen, out.ok.length - 4 + 1 + 3, 'one watch per watched inode');
  assert.equal(out.watchesAfter, 0, 'every watch given back on close');
  assert.equal(out.leaked, 0, 'descriptors left open after close');
  assert.equal(out.vnodes, 0);
});

test('permissions: chmod 000 while watched (NOTE_ATTRIB, the knotes keep working); registering what cannot be read is EACCES, unless it is watched already; WRITE needs no permission', async (t) => {
  const dir = tempDir(t, 'kqueue-perm-');
  // An unprivileged child (root bypasses permissions): nobody's own directory in the temp dir.
  const NOBODY = 65534;
  fs.chmodSync(dir, 0o755);
  const own = join(dir, 'own');
  fs.mkdirSync(own);
  fs.chownSync(own, NOBODY, NOBODY);
  const r = await runChild(dir, `
    const own = ${JSON.stringify(own)};
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const f = own + '/f', g = own + '/g', w = own + '/w', locked = own + '/locked';
    fs.writeFileSync(f, 'abc');
    fs.writeFileSync(g, ''); fs.chmodSync(g, 0);
    fs.writeFileSync(w, ''); fs.chmodSync(w, 0o200);
    fs.mkdirSync(locked); fs.writeFileSync(locked + '/x', ''); fs.chmodSync(locked, 0);
    const fd = fs.openSync(f, 'r+');
    const wfd = fs.openSync(w, 'w');
    const kq = K.kqueue();
    const V = (ident) => ({ ident, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: 0x7f });
    kq.keventSync([V(f), V(fd), { ident: fd, filter: K.EVFILT_READ, flags: K.EV_ADD | K.EV_CLEAR }], 0);
    const got = async (n) => {
      const out = [];
      const deadline = Date.now() + 5000;
      while (out.length < n && Date.now() < deadline) out.push(...await kq.kevent(null, 16, deadline - Date.now()));
      return out.map((e) => [typeof e.ident === 'number' ? 'fd' : 'path', e.filter, e.fflags, e.data]);
    };
    const ready = await got(1);
    fs.chmodSync(f, 0);
    const chmodded = await got(3); // the VNODE knotes' NOTE_ATTRIB; READ is re-evaluated (ready: 3 bytes)
    let reopen = null;
    try { fs.openSync(f, 'r'); } catch (e) { reopen = e.code; }
    fs.writeSync(fd, 'd', 3);
    const written = await got(3);
    // The directory made unsearchable too: the file is still reported, through the descriptor held.
    fs.chmodSync(own, 0);
    fs.writeSync(fd, 'e', 4);
    const hidden = await got(3);
    fs.chmodSync(own, 0o700);
    const before = fds();
    const second = K.kqueue();
    const regs = {
      watchedAlready: second.keventSync([V(f)], 4).map((e) => e.data),
      unreadable: kq.keventSync([V(g)], 4).map((e) => e.data),
      unsearchable: kq.keventSync([V(locked + '/x')], 4).map((e) => e.data),
      unreadableDir: kq.keventSync([V(locked)], 4).map((e) => e.data),
      writeOnlyVnode: kq.keventSync([V(wfd)], 4).map((e) => e.data),
      writeOnlyRead: kq.keventSync([{ ident: wfd, filter: K.EVFILT_READ, flags: K.EV_ADD }], 4).map((e) => e.data),
      writeOnlyWrite: kq.keventSync([{ ident: wfd, filter: K.EVFILT_WRITE, flags: K.EV_ADD | K.EV_ONESHOT }], 4).map((e) => [e.filter, e.data]),
    };
    second.close();
    const leaked = fds() - before;
    kq.close();
    fs.closeSync(fd); fs.closeSync(wfd);
    fs.chmodSync(locked, 0o700);
    console.log(JSON.stringify({ uid: process.getuid(), ready, chmodded, reopen, written, hidden, regs, leaked }));
  `, { uid: NOBODY, gid: NOBODY });
  const out = childReport<{
    uid: number; ready: unknown[]; chmodded: unknown[]; reopen: string; written: unknown[]; hidden: unknown[];
    regs: Record<string, unknown[]>; leaked: number;
  }>(r);
  assert.equal(out.uid, NOBODY);
  assert.deepEqual(out.ready, [['fd', EVFILT_READ, 0, 3]]);
  const sorted = (l: unknown[]): unknown[] => [...l].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  assert.deepEqual(sorted(out.chmodded), sorted([['path', EVFILT_VNODE, NOTE_ATTRIB, 0], ['fd', EVFILT_VNODE, NOTE_ATTRIB, 0], ['fd', EVFILT_READ, 0, 3]]));
  assert.equal(out.reopen, 'EACCES');
  assert.deepEqual(sorted(out.written), sorted([['path', EVFILT_VNODE, APPEND, 0], ['fd', EVFILT_VNODE, APPEND, 0], ['fd', EVFILT_READ, 0, 4]]));
  assert.deepEqual(sorted(out.hidden), sorted([['path', EVFILT_VNODE, APPEND, 0], ['fd', EVFILT_VNODE, APPEND, 0], ['fd', EVFILT_READ, 0, 5]]));
  assert.deepEqual(out.regs, {
    watchedAlready: [], // the inode's watch exists: shared, no permission asked
    unreadable: [EACCES], // inotify needs read permission on what it watches
    unsearchable: [EACCES],
    unreadableDir: [EACCES],
    writeOnlyVnode: [EACCES],
    writeOnlyRead: [EACCES],
    writeOnlyWrite: [[EVFILT_WRITE, 0]],
  });
  assert.equal(out.leaked, 0);
});

test('moved to another filesystem (mv copies, then unlinks): the knotes get NOTE_DELETE and stay on the old file; the copy is not theirs', async (t) => {
  const mnt = tmpfs(t);
  if (mnt === null) return;
  const kq = openKqueue(t);
  const dir = tempDir(t);
  const f = join(dir, 'f');
  fs.writeFileSync(f, 'content');
  const { fd, all } = await idents(t, f);
  watchAll(kq, all);
  const moved = join(mnt, 'f');
  execFileSync('mv', [f, moved]);
  assert.equal(fs.existsSync(f), false);
  fs.appendFileSync(moved, ' and more');
  await exactly(kq, all, NOTE_DELETE, () => fs.writeSync(fd, '!', 7), APPEND, 'moved across filesystems, then the copy written');
  assert.equal(fs.readFileSync(moved, 'utf8'), 'content and more');
});
