// NOTE_REVOKE: the filesystem of a watched file goes away (digest 3.5, edge case 101). A real tmpfs
// is mounted in a temp dir and unmounted; where mounting is not permitted the tests say so and skip.
import { after, before, beforeEach, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ENOENT, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_NODATA, EV_ONESHOT, EVFILT_READ, EVFILT_VNODE,
  EVFILT_WRITE, NOTE_REVOKE, NOTE_WRITE, tunables,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { pollMounts } from '../../src/descriptors/vnode-mount.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { assertError, tempDir, WAIT_MS } from '../support/files.js';

const savedPoll = tunables.vnode_mount_poll_ms;
before(() => { tunables.vnode_mount_poll_ms = 20; });
after(() => { tunables.vnode_mount_poll_ms = savedPoll; });
beforeEach(() => assert.equal(vnodeCount(), 0, 'the previous test left a vnode behind'));

/** Mounts a small tmpfs in a temp dir (unmounted lazily when the test ends), or skips the test. */
function tmpfs(t: TestContext): string | null {
  const base = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), 'kqueue-revoke-')));
  const dir = join(base, 'mnt');
  fs.mkdirSync(dir);
  t.after(() => {
    spawnSync('umount', ['-l', dir]);
    fs.rmSync(base, { recursive: true, force: true });
  });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    t.skip(`mounting a tmpfs is not permitted here: ${(r.stderr || String(r.error)).trim()}`);
    return null;
  }
  return dir;
}

/** Harvests until `n` events arrived, each knote's last event kept. */
async function harvest(kq: Kqueue, n: number): Promise<KEvent[]> {
  const deadline = performance.now() + WAIT_MS;
  const out: KEvent[] = [];
  while (out.length < n) {
    const left = deadline - performance.now();
    assert.ok(left > 0, `timed out with ${JSON.stringify(out)}`);
    out.push(...await kq.kevent(null, 16, left));
  }
  return out;
}

/** The mount id of an open descriptor (fdinfo's mnt_id). */
function mountOf(fd: number | string): number {
  const m = /^mnt_id:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m === null ? -1 : Number(m[1]);
}

/** How many descriptors of this process are open on mount `id`. */
function heldOn(id: number): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (mountOf(fd) === id) n++;
    } catch {
      // readdir's own descriptor, closed meanwhile
    }
  }
  return n;
}

test('a lazy unmount revokes: VNODE gets EV_EOF|EV_NODATA (NOTE_REVOKE if asked), READ and WRITE EV_EOF|EV_ONESHOT', async (t) => {
  const mnt = tmpfs(t);
  if (mnt === null) return;
  const kq = openKqueue(t);
  const f = join(mnt, 'f');
  fs.writeFileSync(f, 'data');
  const fd = fs.openSync(f, 'r');
  t.after(() => fs.closeSync(fd));
  assert.deepEqual(kq.keventSync([
    { ident: f, filter: EVFILT_VNODE, flags: EV_ADD, fflags: NOTE_REVOKE },
    { ident: mnt, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE },
    { ident: fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR },
    { ident: fd, filter: EVFILT_WRITE, flags: EV_ADD | EV_CLEAR },
  ], 0), []);
  // READ and WRITE are ready at once; take them first.
  const first = kq.keventSync(null, 8);
  assert.deepEqual(first.map((e) => [e.filter, e.data]), [[EVFILT_READ, 4], [EVFILT_WRITE, 0]], JSON.stringify(first));
  const id = mountOf(fd);
  assert.equal(heldOn(id), 3, 'the user\'s fd and the library\'s, one per inode watched');
  execFileSync('umount', ['-l', mnt]);
  const got = await harvest(kq, 4);
  const by = (ident: unknown, filter: number): KEvent => got.find((e) => e.ident === ident && e.filter === filter)!;
  const level = by(f, EVFILT_VNODE);
  assert.equal(level.fflags, NOTE_REVOKE);
  assert.equal(level.flags, EV_ADD | EV_EOF | EV_NODATA);
  const root = by(mnt, EVFILT_VNODE);
  assert.equal(root.fflags, 0, 'NOTE_REVOKE was not asked for: ready all the same, without it');
  assert.equal(root.flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA);
  assert.equal(by(fd, EVFILT_READ).flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.equal(by(fd, EVFILT_WRITE).flags, EV_ADD | EV_CLEAR | EV_EOF | EV_NODATA | EV_ONESHOT);
  // READ and WRITE were delivered once and are gone; the level VNODE knote stays ready.
  assertError(kq.keventSync([{ ident: fd, filter: EVFILT_READ, flags: EV_DELETE }], 1)[0], ENOENT);
  assertError(kq.keventSync([{ ident: fd, filter: EVFILT_WRITE, flags: EV_DELETE }], 1)[0], ENOENT);
  const again = kq.keventSync(null, 8);
  assert.equal(again.length, 1);
  assert.equal(again[0]!.ident, f);
  // The library let go of the filesystem at once: only the user's own fd is left on it.
  assert.equal(heldOn(id), 1);
  assert.equal(vnodeCount(), 0);
});

test('a plain unmount fails with EBUSY while a file in it is watched, and works once the knote is gone', async (t) => {
  const mnt = tmpfs(t);
  if (mnt === null) return;
  const kq = openKqueue(t);
  const f = join(mnt, 'f');
  fs.writeFileSync(f, '');
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_ADD, fflags: NOTE_WRITE }], 1), []);
  const busy = spawnSync('umount', [mnt], { encoding: 'utf8' });
  assert.notEqual(busy.status, 0);
  assert.match(busy.stderr, /busy/i);
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_DELETE }], 1), []);
  const ok = spawnSync('umount', [mnt], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
});

test('unmounting another filesystem revokes nothing', async (t) => {
  const mnt = tmpfs(t);
  if (mnt === null) return;
  const kq = openKqueue(t);
  const d = tempDir(t);
  const f = join(d, 'f');
  fs.writeFileSync(f, '');
  assert.deepEqual(kq.keventSync([{ ident: f, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE | NOTE_REVOKE }], 1), []);
  execFileSync('umount', [mnt]);
  // The mount table is read now (as the poll would): then a write is the first thing reported.
  pollMounts();
  fs.appendFileSync(f, 'x');
  const out = await harvest(kq, 1);
  assert.equal(out[0]!.fflags & NOTE_REVOKE, 0);
  assert.equal(out[0]!.flags & EV_EOF, 0);
});
