import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

test('the package name resolves through its exports map to the built entry', async () => {
  const entry = pkg.exports['.'];
  assert.equal(pkg.type, 'module');
  assert.ok(existsSync(join(root, entry.default)), entry.default);
  assert.ok(existsSync(join(root, entry.types)), entry.types);
  // A package may import itself by name: this is what users' `import ... from 'kqueue'` resolves.
  const self = await import('kqueue');
  assert.equal(typeof self.kqueue, 'function');
  assert.equal(self.EVFILT_USER, -9);
});

test('types come before default in the exports condition order', () => {
  assert.deepEqual(Object.keys(pkg.exports['.']), ['types', 'default']);
});

test('the public declarations do not expose engine internals', () => {
  const dts = readFileSync(join(root, 'dist', 'engine', 'kqueue.d.ts'), 'utf8');
  for (const internal of ['register(', 'collect(', 'enqueue(', 'sleepers:', 'knotes:']) {
    assert.ok(!dts.includes(internal), internal);
  }
});

test('the engine does not import Node resources', () => {
  for (const file of ['kqueue.js', 'knote.js', 'klist.js', 'filter-ops.js', 'changes.js']) {
    const src = readFileSync(join(root, 'dist', 'engine', file), 'utf8');
    assert.ok(!/from 'node:/.test(src), `${file} imports a node: module`);
  }
});
