// Process keep-alive on the real clock, checked in child processes (api.md "Calls" and
// RealClock: timer knotes alone never keep the process alive; a pending kevent does, as a
// setTimeout would; close releases everything). These are the only tests that use real time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The library as built next to this compiled test (build/test/ -> build/src/), wherever the checkout is. */
const LIB = new URL('../src/index.js', import.meta.url).href;
/** A child that has not exited by itself after this long is killed and the test fails. */
const KILL_AFTER_MS = 3000;

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'kqueue-lifecycle-')); });
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
  stdout: string;
  stderr: string;
  elapsed: number;
}

/** Runs an ESM script (given the library's URL as `LIB`) in a fresh node process. */
function runChild(name: string, body: string): Promise<ChildResult> {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, `import * as K from ${JSON.stringify(LIB)};\n${body}\n`);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const killer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, KILL_AFTER_MS);
    child.on('error', (e) => { clearTimeout(killer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, killed, stdout, stderr, elapsed: performance.now() - start });
    });
  });
}

function assertExitedByItself(r: ChildResult): void {
  assert.equal(r.killed, false, `the child was still alive after ${KILL_AFTER_MS} ms (stdout: ${r.stdout})`);
  assert.equal(r.code, 0, `child failed: ${r.stderr}`);
}

function lastJson(r: ChildResult): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

test('an idle kqueue holding a periodic real-clock timer does not keep the process alive', async () => {
  const r = await runChild('idle-timer', `
const kq = K.kqueue();
kq.keventSync([{ ident: 1, filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 10 }], 0);
// Keep the process busy long enough for the timer to be seen running, then let it go idle.
setTimeout(() => {
  const evs = kq.keventSync(null, 1);
  console.log(JSON.stringify({ n: evs.length, data: evs[0] ? evs[0].data : 0 }));
}, 60);
`);
  assertExitedByItself(r);
  const out = lastJson(r);
  assert.equal(out.n, 1, 'the timer was running');
  assert.ok((out.data as number) >= 1);
  assert.ok(r.elapsed < 2000, `exited after ${r.elapsed} ms`);
});

test('a closed kqueue leaves nothing keeping the process alive', async () => {
  const r = await runChild('closed', `
const kq = K.kqueue();
kq.keventSync([{ ident: 1, filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 5000 }], 0);
kq.kevent(null, 1, 10000).then(
  (evs) => console.log(JSON.stringify({ resolved: evs.length })),
  (e) => console.log(JSON.stringify({ rejected: e.code })),
);
kq.close();
`);
  assertExitedByItself(r);
  assert.deepEqual(lastJson(r), { rejected: 'EBADF' });
  assert.ok(r.elapsed < 2000, `exited after ${r.elapsed} ms`);
});

test('a pending kevent with a 200 ms timeout keeps the process alive until it resolves', async () => {
  const r = await runChild('timeout-200', `
const kq = K.kqueue();
const t0 = performance.now();
kq.kevent(null, 1, 200).then((evs) => {
  console.log(JSON.stringify({ n: evs.length, elapsed: performance.now() - t0 }));
  kq.close();
});
`);
  assertExitedByItself(r);
  const out = lastJson(r);
  assert.equal(out.n, 0, 'resolved [] at the timeout');
  assert.ok((out.elapsed as number) >= 199, `resolved after ${String(out.elapsed)} ms`);
});

test('a pending kevent with a null timeout and a 50 ms timer knote stays alive and gets the timer event', async () => {
  const r = await runChild('null-timeout-timer', `
const kq = K.kqueue();
const t0 = performance.now();
kq.kevent([{ ident: 'tick', filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 50 }], 4, null).then((evs) => {
  console.log(JSON.stringify({ evs: evs.map((e) => ({ ident: e.ident, filter: e.filter, data: e.data })),
    elapsed: performance.now() - t0 }));
  kq.close();
});
`);
  assertExitedByItself(r);
  const out = lastJson(r);
  assert.deepEqual(out.evs, [{ ident: 'tick', filter: -7, data: 1 }]);
  assert.ok((out.elapsed as number) >= 49, `resolved after ${String(out.elapsed)} ms`);
});

test('a pending kevent that resolved lets the process exit although its timer knote is still armed', async () => {
  const r = await runChild('resolved-then-idle', `
const kq = K.kqueue();
kq.kevent([{ ident: 'tick', filter: K.EVFILT_TIMER, flags: K.EV_ADD, data: 20 }], 1, null).then((evs) => {
  console.log(JSON.stringify({ n: evs.length }));
});
`);
  assertExitedByItself(r);
  assert.deepEqual(lastJson(r), { n: 1 });
  assert.ok(r.elapsed < 2000, `exited after ${r.elapsed} ms`);
});

test('a pending kevent with a null timeout keeps the process alive with nothing else holding it', async () => {
  // The only thing that will wake the wait is an unref'd Node timer: without the wait's own
  // keep-alive the process would exit before it fires.
  const r = await runChild('null-wait-no-timer', `
const kq = K.kqueue();
kq.keventSync([{ ident: 'u', filter: K.EVFILT_USER, flags: K.EV_ADD | K.EV_CLEAR }], 0);
setTimeout(() => kq.keventSync([{ ident: 'u', filter: K.EVFILT_USER, fflags: K.NOTE_TRIGGER }], 0), 100).unref();
const evs = await kq.kevent(null, 1, null);
console.log(JSON.stringify({ n: evs.length, ident: evs[0].ident }));
kq.close();
`);
  assertExitedByItself(r);
  assert.deepEqual(lastJson(r), { n: 1, ident: 'u' });
});
