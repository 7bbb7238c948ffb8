import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, kq, needs, tempDir, unreaped, write } from './support.js';

const LINE = /^\d\d:\d\d:\d\d\.\d\d\d (\S+) (\S+) (.*)$/;

test('--timer: one line per expiry with its count, from the same loop as everything else', async (t) => {
  const r = kq(t, ['watch', '--timer', '50', '--verbose']);
  await r.line(/watching 0 paths, 1 timer/, { stream: 'stderr' });
  const l = await r.line(/TIMER/);
  assert.match(l, /^\d\d:\d\d:\d\d\.\d\d\d TIMER 50 x\d+$/);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130, 'Ctrl-C exits 130');
});

test('--json: one object per line with exactly the contract keys', async (t) => {
  const r = kq(t, ['watch', '--timer', '30', '--json', '-1']);
  assert.equal(await exitOf(r), 0, '-1 exits 0 after the first event');
  assert.equal(r.stdout.length, 1);
  const o = JSON.parse(r.stdout[0]!);
  assert.deepEqual(Object.keys(o), ['time', 'filter', 'ident', 'flags', 'fflags', 'data']);
  assert.equal(o.filter, 'TIMER');
  assert.equal(o.ident, 30);
  assert.ok(o.flags.includes('ADD'), String(o.flags));
  assert.deepEqual(o.fflags, []);
  assert.equal(typeof o.data, 'number');
  assert.ok(o.data >= 1);
  assert.equal(new Date(o.time).toISOString(), o.time, 'ISO 8601');
});

test('--timeout: 124 when nothing happened in the quiet period, 0 when events came first', async (t) => {
  const r = kq(t, ['watch', '--timer', '100000', '--timeout', '200']);
  assert.equal(await exitOf(r), 124);
  assert.deepEqual(r.stdout, []);
});

test('--timeout after events: the quiet period ends the run with status 0', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  write(join(dir, 'f'), '');
  const r = kq(t, ['watch', join(dir, 'f'), '--timeout', '400', '--verbose']);
  await r.line(/watching/, { stream: 'stderr' });
  appendFileSync(join(dir, 'f'), 'x');
  await r.line(/VNODE/);
  assert.equal(await exitOf(r), 0);
});

test('a write to a watched file is one line: time, VNODE, the path as given, WRITE|EXTEND', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'a.txt');
  write(f, 'one\n');
  const r = kq(t, ['watch', f, '--verbose']);
  await r.line(/watching 1 path/, { stream: 'stderr' });
  appendFileSync(f, 'two\n');
  const l = await r.line(/VNODE/);
  const m = LINE.exec(l)!;
  assert.ok(m, l);
  assert.equal(m[1], 'VNODE');
  assert.equal(m[2], f);
  assert.equal(m[3], 'WRITE|EXTEND');
});

test('--json for a file: VNODE with the path as given and the NOTE_ names', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  write(join(dir, 'b.txt'), '');
  const r = kq(t, ['watch', 'b.txt', '--json', '-1', '--verbose'], { cwd: dir });
  await r.line(/watching/, { stream: 'stderr' });
  appendFileSync(join(dir, 'b.txt'), 'x');
  assert.equal(await exitOf(r), 0);
  const o = JSON.parse(r.stdout[0]!);
  assert.equal(o.filter, 'VNODE');
  assert.equal(o.ident, 'b.txt');
  assert.deepEqual(o.fflags, ['WRITE', 'EXTEND']);
  assert.deepEqual(o.flags, ['ADD', 'CLEAR']);
});

test('a file replaced by an editor (write a temp file, rename it over) stays watched', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'doc.txt');
  write(f, 'v1\n');
  const r = kq(t, ['watch', f, '--verbose']);
  await r.line(/watching/, { stream: 'stderr' });
  write(join(dir, '.doc.txt.swp'), 'v2\n');
  renameSync(join(dir, '.doc.txt.swp'), f);
  await r.line(/VNODE \S+ .*DELETE/);
  await r.line(/replaced, watching the new file/, { stream: 'stderr' });
  const n = r.stdout.length;
  appendFileSync(f, 'v3\n');
  const l = await r.line(/VNODE/, { from: n });
  assert.match(l, /WRITE\|EXTEND$/);
});

test('a deleted name is waited for and watched again when it reappears', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'gone.txt');
  write(f, 'x');
  const r = kq(t, ['watch', f, '--verbose']);
  await r.line(/watching/, { stream: 'stderr' });
  rmSync(f);
  await r.line(/DELETE/);
  await r.line(/gone, waiting/, { stream: 'stderr' });
  write(f, 'back');
  await r.line(/exists again/, { stream: 'stderr' });
  const n = r.stdout.length;
  appendFileSync(f, 'more');
  assert.match(await r.line(/VNODE/, { from: n }), /WRITE\|EXTEND$/);
});

test('-r watches a tree, new directories (watched before listed) and files; .git and node_modules are skipped', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'node_modules'));
  write(join(dir, 'src', 'a.ts'), '');
  write(join(dir, 'node_modules', 'dep.js'), '');
  const r = kq(t, ['watch', '-r', '.', '--verbose'], { cwd: dir });
  await r.line(/watching 3 paths/, { stream: 'stderr' }); // ., src and src/a.ts: node_modules is excluded
  appendFileSync(join(dir, 'node_modules', 'dep.js'), 'x');
  appendFileSync(join(dir, 'src', 'a.ts'), 'x');
  await r.line(/VNODE \.\/src\/a\.ts WRITE/);
  mkdirSync(join(dir, 'src', 'new'));
  // The new directory is watched before it is listed, so a file made right away is found
  // (by the listing, or by the directory's own NOTE_WRITE).
  write(join(dir, 'src', 'new', 'b.ts'), '');
  await r.line(/VNODE \.\/src WRITE/);
  await r.line(/watching new \.\/src\/new\/b\.ts$/, { stream: 'stderr' });
  const n = r.stdout.length;
  appendFileSync(join(dir, 'src', 'new', 'b.ts'), 'x');
  await r.line(/VNODE \.\/src\/new\/b\.ts WRITE\|EXTEND/, { from: n });
  assert.ok(!r.stdout.some((l) => l.includes('node_modules/dep.js')), r.stdout.join('\n'));
});

test('--pid: EXIT with the status, in the same stream as a timer', async (t) => {
  if (!needs(t, 'PROC')) return;
  const p = await unreaped(t, 'exit 3');
  const r = kq(t, ['watch', '--pid', String(p.pid), '--timer', '100000', '--verbose']);
  await r.line(/watching 0 paths, 1 process, 1 timer/, { stream: 'stderr' });
  p.go();
  assert.match(await r.line(/PROC/), new RegExp(`PROC ${p.pid} EXIT status 3$`));
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130);
});

test('when every watched process has exited and nothing else is watched, kq watch exits 0', async (t) => {
  if (!needs(t, 'PROC')) return;
  const p = await unreaped(t, 'exit 4');
  const r = kq(t, ['watch', '--pid', String(p.pid), '--json', '--verbose']);
  await r.line(/watching/, { stream: 'stderr' });
  p.go();
  assert.equal(await exitOf(r), 0);
  const o = JSON.parse(r.stdout.at(-1)!);
  assert.equal(o.filter, 'PROC');
  assert.equal(o.ident, p.pid);
  assert.deepEqual(o.fflags, ['EXIT']);
  assert.equal(o.data, 4 << 8, 'wait status: exit code 4');
});

test('--signal: counted deliveries, by name; a watched SIGTERM does not end kq', async (t) => {
  if (!needs(t, 'SIGNAL')) return;
  const r = kq(t, ['watch', '--signal', 'usr1', '--signal', 'TERM', '--verbose']);
  await r.line(/watching 0 paths, 2 signals/, { stream: 'stderr' });
  r.child.kill('SIGUSR1');
  assert.match(await r.line(/SIGNAL SIGUSR1/), /SIGNAL SIGUSR1 x\d+$/);
  r.child.kill('SIGTERM');
  assert.match(await r.line(/SIGNAL SIGTERM/), /SIGNAL SIGTERM x1$/);
  assert.equal(r.status, null, 'still running');
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130);
});

test('--events limits the notes of files', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'e.txt');
  write(f, '');
  const r = kq(t, ['watch', f, '--events', 'attrib', '--verbose']);
  await r.line(/watching/, { stream: 'stderr' });
  appendFileSync(f, 'x'); // WRITE|EXTEND: not asked for
  writeFileSync(f, 'y', { mode: 0o600 });
  const { chmodSync } = await import('node:fs');
  chmodSync(f, 0o640);
  assert.match(await r.line(/VNODE/), /VNODE \S+ ATTRIB$/);
});
