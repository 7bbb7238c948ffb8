import assert from 'node:assert/strict';
import { appendFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exitOf, kq, needs, tempDir } from './support.js';

const lines = (a: number, b: number): string => Array.from({ length: b - a + 1 }, (_, i) => `${a + i}\n`).join('');

test('prints the last 10 lines, or -n N, or from line +N', async (t) => {
  const dir = tempDir(t);
  const f = join(dir, 'log');
  writeFileSync(f, lines(1, 30));
  let r = kq(t, ['tail', f]);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, lines(21, 30).trim().split('\n'));
  r = kq(t, ['tail', '-n', '3', f]);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, ['28', '29', '30']);
  r = kq(t, ['tail', '-n', '+28', f]);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, ['28', '29', '30']);
  writeFileSync(f, 'a\nb'); // no final newline: the last line still counts
  r = kq(t, ['tail', '-n1', f]);
  assert.equal(await exitOf(r), 0);
  assert.equal(r.raw(), 'b');
});

test('-f follows appends as they are written', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'log');
  writeFileSync(f, lines(1, 5));
  const r = kq(t, ['tail', '-f', '-n', '2', f]);
  await r.line(/^5$/);
  appendFileSync(f, 'six\n');
  await r.line(/^six$/);
  appendFileSync(f, 'seven\neight\n');
  await r.line(/^eight$/);
  assert.deepEqual(r.stdout, ['4', '5', 'six', 'seven', 'eight']);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130);
});

test('-f notices a truncation, says so as BSD tail does, and prints from the new beginning', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'log');
  writeFileSync(f, lines(1, 5));
  const r = kq(t, ['tail', '-f', f]);
  await r.line(/^5$/);
  truncateSync(f, 0);
  appendFileSync(f, 'fresh\n');
  await r.line(/^fresh$/);
  assert.ok(r.stderr.includes(`kq tail: ${f} has been truncated, resetting.`), r.stderr.join('\n'));
});

test('-F follows the name across a rotation (rename, then a new file)', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'app.log');
  writeFileSync(f, 'old 1\n');
  const r = kq(t, ['tail', '-F', f]);
  await r.line(/^old 1$/);
  appendFileSync(f, 'old 2\n');
  renameSync(f, `${f}.1`);
  appendFileSync(`${f}.1`, 'old 3\n'); // still written to by the logger before it reopens
  writeFileSync(f, 'new 1\n');
  await r.line(/^new 1$/);
  assert.ok(r.stderr.includes(`kq tail: ${f} has been replaced, reopening.`), r.stderr.join('\n'));
  assert.deepEqual(r.stdout.slice(0, 3), ['old 1', 'old 2', 'old 3'], 'the old file is drained first');
  appendFileSync(f, 'new 2\n');
  await r.line(/^new 2$/);
  rmSync(f);
  writeFileSync(f, 'again\n');
  await r.line(/^again$/);
});
