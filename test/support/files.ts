import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EV_ERROR, type Ident, type KEvent, type Kqueue } from '../../src/index.js';

/** A fresh temporary directory (its real path), removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'kqueue-vnode-'): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Generous: a pass never depends on timing. */
export const WAIT_MS = 5000;

/** Events harvested for other knotes than the one waited for, kept for the next wait. */
const stash = new WeakMap<Kqueue, KEvent[]>();

/**
 * Harvests `kq` until the fflags seen on knote (`ident`, `filter`) together include every bit of
 * `want`; returns their OR and the events for that knote. Fails after WAIT_MS. Events for other
 * knotes are kept for later calls.
 */
export async function harvestUntil(kq: Kqueue, ident: Ident, filter: number, want: number):
Promise<{ fflags: number; events: KEvent[] }> {
  const deadline = performance.now() + WAIT_MS;
  let fflags = 0;
  const events: KEvent[] = [];
  const others = stash.get(kq) ?? [];
  stash.set(kq, others);
  for (let i = 0; i < others.length && (fflags & want) !== want; i++) {
    const ev = others[i]!;
    if (ev.ident === ident && ev.filter === filter) {
      fflags |= ev.fflags;
      events.push(ev);
      others.splice(i--, 1);
    }
  }
  while ((fflags & want) !== want) {
    const left = deadline - performance.now();
    if (left <= 0) {
      assert.fail(`timed out waiting for fflags 0x${want.toString(16)} on ${String(ident)}; ` +
        `saw 0x${fflags.toString(16)} in ${JSON.stringify(events)}`);
    }
    for (const ev of await kq.kevent(null, 64, left)) {
      assert.equal(ev.flags & EV_ERROR, 0, `unexpected error entry ${JSON.stringify(ev)}`);
      if (ev.ident === ident && ev.filter === filter) {
        fflags |= ev.fflags;
        events.push(ev);
      } else {
        others.push(ev);
      }
    }
  }
  return { fflags, events };
}

/**
 * The latest event of knote (`ident`, `filter`): from those already harvested for it if any (all
 * of them are taken), else the first batch that has one. Fails after WAIT_MS.
 */
export async function nextEvent(kq: Kqueue, ident: Ident, filter: number): Promise<KEvent> {
  const others = stash.get(kq) ?? [];
  stash.set(kq, others);
  const mine = (ev: KEvent): boolean => ev.ident === ident && ev.filter === filter;
  let last: KEvent | undefined;
  for (let i = 0; i < others.length; i++) {
    if (mine(others[i]!)) last = others.splice(i--, 1)[0];
  }
  const deadline = performance.now() + WAIT_MS;
  while (last === undefined) {
    const left = deadline - performance.now();
    if (left <= 0) assert.fail(`timed out waiting for an event of ${String(ident)} filter ${filter}`);
    for (const ev of await kq.kevent(null, 64, left)) {
      if (mine(ev)) last = ev;
      else others.push(ev);
    }
  }
  return last;
}

/** Asserts that `ev` is an error entry with `errno`. */
export function assertError(ev: KEvent | undefined, errno: number): void {
  assert.ok(ev !== undefined, 'no error entry');
  assert.equal(ev.flags & EV_ERROR, EV_ERROR, `not an error entry: ${JSON.stringify(ev)}`);
  assert.equal(ev.data, errno, `errno ${String(ev.data)}, expected ${errno}`);
}

/** Forgets what was harvested for other knotes (before checking that nothing else is queued). */
export function stashed(kq: Kqueue): KEvent[] {
  const others = stash.get(kq) ?? [];
  stash.delete(kq);
  return others;
}

/** Mounts a small tmpfs in a temp dir (unmounted lazily and removed when the test ends), or skips. */
export function tmpfs(t: TestContext, size = '1m'): string | null {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'kqueue-tmpfs-')));
  const dir = join(base, 'mnt');
  mkdirSync(dir);
  t.after(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(base, { recursive: true, force: true });
  });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    t.skip(`mounting a tmpfs is not permitted here: ${(r.stderr || String(r.error)).trim()}`);
    return null;
  }
  return dir;
}

/** This process's open descriptors, each with what it names (readlink of /proc/self/fd/N). */
export function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // readdir's own descriptor, closed meanwhile
    }
  }
  return out;
}

/** The inotify watches this process holds (the `inotify wd:` lines of its inotify descriptors). */
export function inotifyWatches(): number {
  let n = 0;
  for (const [fd, target] of openFds()) {
    if (target !== 'anon_inode:inotify') continue;
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

export interface ChildResult { code: number | null; killed: boolean; stdout: string; stderr: string }

/** The library's entry point and its built sources, for a child's script to import. */
export const BUILD_SRC = pathToFileURL(realpathSync(new URL('../../src/', import.meta.url))).href + '/';

/**
 * Runs `body` as an ES module (with `K`, the library, and `fs` imported) in a child `node`,
 * optionally under a wrapper command (`unshare`, `prlimit`) or as another user; killed after `ms`.
 * Its last stdout line is the JSON it reports.
 */
export function runChild(dir: string, body: string, opts: { wrapper?: string[]; uid?: number; gid?: number; ms?: number } = {}):
Promise<ChildResult> {
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, `import * as K from ${JSON.stringify(BUILD_SRC + 'index.js')};\nimport fs from 'node:fs';\n${body}\n`);
  chmodSync(script, 0o644);
  const node = opts.uid === undefined ? process.execPath : reachableNode(dir);
  const argv = [...opts.wrapper ?? [], node, script];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, opts.ms ?? 20_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, killed, stdout, stderr }); });
  });
}

/**
 * A `node` another user can run: process.execPath may sit in a directory only its owner can enter
 * (CI fetches Node 24 into a mktemp folder of mode 700), so the binary is linked (or copied) into
 * `dir`, which the caller made reachable.
 */
function reachableNode(dir: string): string {
  const node = join(dir, 'node');
  if (!existsSync(node)) {
    try {
      linkSync(process.execPath, node);
    } catch {
      copyFileSync(process.execPath, node);
    }
    chmodSync(node, 0o755);
  }
  return node;
}

/** The JSON a child reported on its last stdout line, after checking that it exited 0 in time. */
export function childReport<T>(r: ChildResult): T {
  assert.equal(r.killed, false, `the child was killed after its time; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
