// EVFILT_VNODE at scale and at the limits: 10,000 watched files; the inotify watch limit (ENOSPC
// in an EV_ERROR entry, checked in a child process inside its own user namespace, whose lowered
// limit touches nothing else on the machine); and nothing keeps the process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  EV_ADD, EV_CLEAR, EV_ERROR, EVFILT_VNODE, NOTE_WRITE, type KEventInit,
} from '../../src/index.js';
import { vnodeCount } from '../../src/descriptors/vnode-watch.js';
import { openKqueue } from '../support/open.js';
import { tempDir, WAIT_MS } from '../support/files.js';

const LIB = pathToFileURL(fs.realpathSync(new URL('../../src/index.js', import.meta.url))).href;

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

interface ChildResult { code: number | null; killed: boolean; stdout: string; stderr: string }

/** Runs `node <script>` (optionally under a wrapper command), killed after `ms`. */
function runChild(dir: string, body: string, wrapper: string[] = [], ms = 5000): Promise<ChildResult> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(script, `import * as K from ${JSON.stringify(LIB)};\nimport fs from 'node:fs';\n${body}\n`);
  const argv = [...wrapper, process.execPath, script];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, ms);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, killed, stdout, stderr }); });
  });
}

test('past the inotify watch limit a registration fails with EV_ERROR ENOSPC; the other knotes keep working', async (t) => {
  // A user namespace has its own inotify limits, bounded by its parent's: lowering it there
  // leaves every other process (other tests running meanwhile) alone.
  const probe = spawnSync('unshare', ['-Ur', 'sh', '-c', 'echo 8 > /proc/sys/user/max_inotify_watches'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`no user namespace with its own inotify limit here: ${(probe.stderr || String(probe.error)).trim()}`);
    return;
  }
  const dir = tempDir(t, 'kqueue-enospc-');
  const LIMIT = 20;
  const r = await runChild(dir, `
    fs.writeFileSync('/proc/sys/user/max_inotify_watches', '${LIMIT}');
    const dir = ${JSON.stringify(dir)};
    const kq = K.kqueue();
    const changes = [];
    for (let i = 0; i < ${LIMIT + 10}; i++) {
      fs.writeFileSync(dir + '/f' + i, '');
      changes.push({ ident: dir + '/f' + i, filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE });
    }
    const errors = kq.keventSync(changes, 100);
    const failed = errors.map((e) => e.ident);
    const ok = changes.map((c) => c.ident).filter((p) => !failed.includes(p));
    // The knotes that were added still work.
    fs.appendFileSync(ok[0], 'x');
    const got = await kq.kevent(null, 4, 5000);
    // Deleting one gives its watch back: a failed one can be added now.
    const retry = kq.keventSync([
      { ident: ok[1], filter: K.EVFILT_VNODE, flags: K.EV_DELETE },
      { ident: failed[0], filter: K.EVFILT_VNODE, flags: K.EV_ADD | K.EV_CLEAR, fflags: K.NOTE_WRITE },
    ], 4);
    fs.appendFileSync(failed[0], 'x');
    const late = await kq.kevent(null, 4, 5000);
    kq.close();
    console.log(JSON.stringify({
      errors: errors.map((e) => [e.flags, e.data]), ok: ok.length, got: got.map((e) => [e.ident === ok[0], e.fflags]),
      retry: retry.length, late: late.map((e) => [e.ident === failed[0], e.fflags]),
    }));
  `, ['unshare', '-Ur']);
  assert.equal(r.killed, false);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    errors: [number, number][]; ok: number; got: [boolean, number][]; retry: number; late: [boolean, number][];
  };
  assert.ok(out.ok > 0 && out.ok <= LIMIT, `${out.ok} knotes added under a limit of ${LIMIT}`);
  assert.equal(out.errors.length, LIMIT + 10 - out.ok);
  for (const [flags, data] of out.errors) {
    assert.equal(flags, EV_ERROR);
    assert.equal(data, 28 /* ENOSPC */);
  }
  assert.deepEqual(out.got, [[true, NOTE_WRITE | 4 /* NOTE_EXTEND */]]);
  assert.equal(out.retry, 0);
  assert.deepEqual(out.late, [[true, NOTE_WRITE | 4]]);
});

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
    const r = await runChild(dir, body(closeIt), [], 4000);
    assert.equal(r.killed, false, `the child was kept alive (close: ${closeIt}); stdout: ${r.stdout}`);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { got: number; closeListeners: number };
    assert.ok(out.got >= 1);
    if (closeIt) assert.equal(out.closeListeners, 0);
  }
});
