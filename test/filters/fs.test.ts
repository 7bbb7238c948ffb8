// EVFILT_FS on real tmpfs mounts and unmounts (digest 3.12, edge cases 36, 120; the filter is
// watched through findmnt --poll when installed, and by reading /proc/self/mountinfo).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EV_DELETE, EV_RECEIPT, EVFILT_FS, VQ_MOUNT, VQ_UNMOUNT, tunables,
  type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { fsWatcher } from '../../src/filters/fs.js';
import { openKqueue } from '../support/open.js';
import { LIBRARY, runNode } from '../support/child.js';

type TestContext = { after(fn: () => void): void; skip(msg: string): void };

function fsKnote(ident: unknown, flags = EV_ADD, udata?: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_FS, flags, udata };
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

/** A mount point in a temp dir, unmounted and removed when the test ends. */
class Mountpoint {
  readonly dir = mkdtempSync(join(tmpdir(), 'kqueue-fs-'));
  private mounted = false;

  constructor(t: TestContext) {
    t.after(() => {
      if (this.mounted) this.umount();
      rmdirSync(this.dir);
    });
  }

  mount(): void {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kqueue-test', this.dir], { stdio: 'pipe' });
    this.mounted = true;
  }

  remount(): void {
    execFileSync('mount', ['-o', 'remount,size=2m', this.dir], { stdio: 'pipe' });
  }

  umount(): void {
    execFileSync('umount', [this.dir], { stdio: 'pipe' });
    this.mounted = false;
  }
}

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN in its namespace). */
const mountError: string | null = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'kqueue-fs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kqueue-probe', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mounting a tmpfs is not permitted here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  } finally {
    rmdirSync(dir);
  }
})();

/** Runs the test with findmnt allowed or not (it takes effect when the watch starts). */
function withFindmnt(t: TestContext, on: boolean): void {
  const saved = tunables.fs_findmnt;
  tunables.fs_findmnt = on;
  t.after(() => { tunables.fs_findmnt = saved; });
}

const findmntInstalled = (() => {
  try {
    execFileSync('findmnt', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

async function next(kq: Kqueue): Promise<KEvent[]> {
  const evs = await kq.kevent(null, 8, 5000);
  assert.ok(evs.length > 0, 'no FS event within 5 s');
  return evs;
}

/** Waits for an (unref'd) child to exit, holding the event loop meanwhile. */
function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    const timer = setTimeout(() => reject(new Error('the helper did not exit')), 5000);
    c.once('exit', () => { clearTimeout(timer); resolve(); });
  });
}

for (const helper of [true, false]) {
  const how = helper ? 'with findmnt' : 'reading mountinfo only';

  test(`${how}: a tmpfs mount gives VQ_MOUNT, its unmount VQ_UNMOUNT`, async (t) => {
    if (mountError !== null) return t.skip(mountError);
    if (helper && !findmntInstalled) return t.skip('findmnt (util-linux) is not installed');
    withFindmnt(t, helper);
    const kq = openKqueue(t);
    const mp = new Mountpoint(t);
    apply(kq, [fsKnote('mounts', EV_ADD, 'u')]);
    assert.equal(fsWatcher().helperProcess !== null, helper);
    mp.mount();
    const [ev] = await next(kq);
    assert.deepEqual(ev, { ident: 'mounts', filter: EVFILT_FS, flags: EV_ADD | EV_CLEAR, fflags: VQ_MOUNT, data: 0, udata: 'u' });
    mp.umount();
    assert.deepEqual((await next(kq)).map((e) => e.fflags), [VQ_UNMOUNT]);
    assert.deepEqual(kq.keventSync(null, 8), [], 'EV_CLEAR: nothing more');
  });

  test(`${how}: a remount (options only) is neither a mount nor an unmount`, async (t) => {
    if (mountError !== null) return t.skip(mountError);
    if (helper && !findmntInstalled) return t.skip('findmnt (util-linux) is not installed');
    withFindmnt(t, helper);
    const kq = openKqueue(t);
    const mp = new Mountpoint(t);
    apply(kq, [fsKnote(1)]);
    mp.mount();
    assert.deepEqual((await next(kq)).map((e) => e.fflags), [VQ_MOUNT]);
    mp.remount();
    fsWatcher().check();
    mp.umount();
    // The remount came first: had it been reported, the unmount's event would carry VQ_MOUNT too.
    assert.deepEqual((await next(kq)).map((e) => e.fflags), [VQ_UNMOUNT]);
  });
}

test('with findmnt: a mount and an unmount while the event loop is busy give VQ_MOUNT|VQ_UNMOUNT', async (t) => {
  if (mountError !== null) return t.skip(mountError);
  if (!findmntInstalled) return t.skip('findmnt (util-linux) is not installed');
  withFindmnt(t, true);
  const kq = openKqueue(t);
  const mp = new Mountpoint(t);
  // Right after the registration, with no turn of the event loop in between (no read can run).
  apply(kq, [fsKnote('fs')]);
  mp.mount();
  mp.umount();
  const evs = await kq.kevent(null, 8, 5000);
  assert.equal(evs.reduce((f, e) => f | e.fflags, 0), VQ_MOUNT | VQ_UNMOUNT);
});

test('reading mountinfo only: a mount and an unmount between two reads both count', async (t) => {
  if (mountError !== null) return t.skip(mountError);
  withFindmnt(t, false);
  const kq = openKqueue(t);
  const mp = new Mountpoint(t);
  apply(kq, [fsKnote('fs')]);
  mp.mount();
  fsWatcher().check();
  mp.umount();
  fsWatcher().check();
  assert.deepEqual(kq.keventSync(null, 8).map((e) => e.fflags), [VQ_MOUNT | VQ_UNMOUNT]);
});

test('every FS knote sees each change: several idents, several kqueues', async (t) => {
  if (mountError !== null) return t.skip(mountError);
  const a = openKqueue(t);
  const b = openKqueue(t);
  const mp = new Mountpoint(t);
  const key = {};
  apply(a, [fsKnote('x'), fsKnote(key)]);
  apply(b, [fsKnote('x')]);
  mp.mount();
  const got = new Set<unknown>();
  while (got.size < 2) for (const e of await next(a)) { assert.equal(e.fflags, VQ_MOUNT); got.add(e.ident); }
  assert.deepEqual([...got].sort(), ['x', key].sort());
  assert.deepEqual((await next(b)).map((e) => [e.ident, e.fflags]), [['x', VQ_MOUNT]]);
});

test('the mount table is watched only while FS knotes exist; findmnt stops with the last', async (t) => {
  const kq = openKqueue(t);
  const other = openKqueue(t);
  assert.equal(fsWatcher().active, false);
  apply(kq, [fsKnote(1), fsKnote(2)]);
  apply(other, [fsKnote(1)]);
  assert.equal(fsWatcher().active, true);
  const helper = fsWatcher().helperProcess;
  apply(kq, [fsKnote(1, EV_DELETE)]);
  kq.close();
  assert.equal(fsWatcher().active, true);
  const out = other.keventSync([fsKnote(1, EV_DELETE | EV_RECEIPT)], 1);
  assert.equal(out[0]!.data, 0);
  assert.equal(fsWatcher().active, false);
  assert.equal(fsWatcher().helperProcess, null);
  if (helper !== null) await exited(helper);
});

test('a process with FS knotes exits by itself, closed or not, and leaves no findmnt behind', async (t) => {
  for (const close of [true, false]) {
    const res = await runNode(t, `
      import { readdirSync, readFileSync } from 'node:fs';
      import { kqueue, EVFILT_FS, EV_ADD } from ${JSON.stringify(LIBRARY)};
      import { fsWatcher } from ${JSON.stringify(new URL('../../src/filters/fs.js', import.meta.url).href)};
      const kq = kqueue();
      kq.keventSync([{ ident: 'fs', filter: EVFILT_FS, flags: EV_ADD }], 0);
      const helper = fsWatcher().helperProcess;
      // The shell around findmnt, and findmnt itself: both must go.
      const parentOf = (p) => { try { return readFileSync('/proc/' + p + '/stat', 'latin1').split(') ')[1].split(' ')[1]; } catch { return ''; } };
      const kids = helper === null ? [] : readdirSync('/proc').filter((p) => /^\\d+$/.test(p) && parentOf(p) === String(helper.pid));
      console.log([helper?.pid ?? 0, ...kids].join(' '));
      ${close ? 'kq.close();' : ''}
    `, undefined, 10_000);
    assert.equal(res.signal, null, 'it exited on its own, not killed by the timeout');
    assert.equal(res.code, 0, res.stderr);
    const pids = res.stdout.trim().split(' ').map(Number).filter((p) => p !== 0);
    assert.equal(pids.length, findmntInstalled ? 3 : 0, `the shell, findmnt and the shell's reader: ${res.stdout}`);
    // The helper's shell sees its input close and stops findmnt: wait for them to go.
    const end = Date.now() + 5000;
    while (pids.some(alive)) {
      assert.ok(Date.now() < end, 'the findmnt helper outlived its process');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
});

/** Running (not gone, and not a zombie waiting for whoever inherited it to reap it). */
function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return st[st.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}
