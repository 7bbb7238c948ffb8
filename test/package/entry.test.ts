import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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
  // Kqueue holds its engine: no published declaration reachable from the entry names it.
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const dts = readFileSync(file, 'utf8');
    for (const m of dts.matchAll(/from '(\.[^']+)\.js'/g)) walk(join(dirname(file), `${m[1]}.d.ts`));
  };
  walk(join(root, 'dist', 'index.d.ts'));
  const reachable = [...seen].map((f) => f.slice(join(root, 'dist').length + 1));
  assert.ok(!reachable.some((f) => f.startsWith('engine')), reachable.join(', '));
  const kqueueDts = readFileSync(join(root, 'dist', 'kqueue.d.ts'), 'utf8');
  for (const internal of ['KqueueEngine', 'harvestNow', 'engineOf', 'ENGINE', 'WAITS']) {
    assert.ok(!kqueueDts.includes(internal), internal);
  }
});

test('the engine and the clocks import no Node resource, and the clocks nothing of the engine', () => {
  for (const dir of ['engine', 'clock']) {
    for (const file of readdirSync(join(root, 'dist', dir)).filter((f) => f.endsWith('.js'))) {
      const src = readFileSync(join(root, 'dist', dir, file), 'utf8');
      assert.ok(!/from 'node:/.test(src), `${dir}/${file} imports a node: module`);
      if (dir === 'clock') assert.ok(!/from '\.\.\/engine\//.test(src), `clock/${file} imports the engine`);
    }
  }
});
