import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { exitOf, kq, needs, unreaped } from './support.js';

function sleeper(t: import('node:test').TestContext, seconds: number, code = 0): import('node:child_process').ChildProcess {
  const c = spawn('sh', ['-c', `sleep ${seconds}; exit ${code}`], { stdio: 'ignore' });
  t.after(() => c.kill('SIGKILL'));
  return c;
}

test('usage errors: no pid (64), a bad option (64), a bad duration or unit (65)', async (t) => {
  let r = kq(t, ['wait']);
  assert.equal(await exitOf(r), 64);
  assert.deepEqual(r.stderr, ['usage: kq wait [-t duration] [-ov] pid ...']);
  r = kq(t, ['wait', '-x', '1']);
  assert.equal(await exitOf(r), 64);
  assert.deepEqual(r.stderr, ["kq wait: invalid option -- 'x'", 'usage: kq wait [-t duration] [-ov] pid ...']);
  r = kq(t, ['wait', '-t', 'abc', '1']);
  assert.equal(await exitOf(r), 65);
  assert.deepEqual(r.stderr, ['kq wait: timeout value']);
  r = kq(t, ['wait', '-t', '5d', '1']);
  assert.equal(await exitOf(r), 65);
  assert.deepEqual(r.stderr, ['kq wait: timeout unit']);
});

test('bad and own pids are reported and skipped; nothing left to wait for exits 0', async (t) => {
  const r = kq(t, ['wait', 'abc', '-5']);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stderr, ['kq wait: abc: bad process id', 'kq wait: -5: bad process id']);
});

test('waits for every pid; -v prints each exit status as pwait does', async (t) => {
  if (!needs(t, 'PROC')) return;
  const a = await unreaped(t, 'sleep 0.2; exit 3');
  const b = await unreaped(t, 'sleep 0.4; exit 5');
  const r = kq(t, ['wait', '-v', String(a.pid), String(b.pid)]);
  a.go();
  b.go();
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`${a.pid}: exited with status 3.`, `${b.pid}: exited with status 5.`]);
  assert.deepEqual(r.stderr, []);
});

test('-v reports a process killed by a signal as pwait does', async (t) => {
  if (!needs(t, 'PROC')) return;
  // In the subshell $$ is still the outer shell's pid: exec a shell that kills itself instead.
  const b = await unreaped(t, "exec sh -c 'kill -9 $$'");
  const r = kq(t, ['wait', '-v', String(b.pid)]);
  b.go();
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`${b.pid}: killed by signal 9.`]);
});

test('a pid that does not exist is reported in words (ESRCH) and skipped', async (t) => {
  if (!needs(t, 'PROC')) return;
  const a = await unreaped(t, 'exit 0');
  // A pid far above pid_max (4194304 at most on Linux) never exists.
  const r = kq(t, ['wait', '-v', '99999999', String(a.pid)]);
  a.go();
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stderr, ['kq wait: 99999999: No such process']);
  assert.deepEqual(r.stdout, [`${a.pid}: exited with status 0.`]);
});

test('-o returns when the first process exits', async (t) => {
  if (!needs(t, 'PROC')) return;
  const fast = await unreaped(t, 'exit 0');
  const slow = sleeper(t, 30);
  const r = kq(t, ['wait', '-o', '-v', String(slow.pid), String(fast.pid)]);
  fast.go();
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`${fast.pid}: exited with status 0.`]);
  assert.equal(slow.exitCode, null, 'the slow one still runs');
});

test('-t gives up with status 124 (and -v says timeout); units are accepted', async (t) => {
  if (!needs(t, 'PROC')) return;
  const slow = sleeper(t, 30);
  const t0 = Date.now();
  let r = kq(t, ['wait', '-v', '-t', '0.3', String(slow.pid)]);
  assert.equal(await exitOf(r), 124);
  assert.ok(Date.now() - t0 >= 250, 'waited for the duration');
  assert.deepEqual(r.stdout, ['timeout']);
  r = kq(t, ['wait', '-t0.005m', String(slow.pid)]);
  assert.equal(await exitOf(r), 124);
  assert.deepEqual(r.stdout, []);
  const fast = sleeper(t, 0.1);
  r = kq(t, ['wait', '-t', '1h', String(fast.pid)]);
  assert.equal(await exitOf(r), 0, 'the process ended first');
});

test('a process that already exited as a zombie is reported at once', async (t) => {
  if (!needs(t, 'PROC')) return;
  // A child of a shell that does not reap it while it sleeps: a zombie.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => parent.kill('SIGKILL'));
  const pid = await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  // Poll until Linux shows it as a zombie (state Z), a deterministic point.
  for (let i = 0; i < 500 && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const r = kq(t, ['wait', '-v', pid]);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`${pid}: exited with status 0.`]);
});
