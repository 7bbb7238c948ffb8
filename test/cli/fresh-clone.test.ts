// The README's quick start, as a newcomer runs it: clone, `npm install`, `npx kq watch .`, change
// a file, see the line. It also checks that `npx kq` (which installs the project into npm's exec
// cache and runs its prepare script again) does not rebuild what `npm install` built.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('a fresh clone: npm install, then npx kq watch . prints a line when a file changes', { timeout: 300_000 }, async (t) => {
  if (!existsSync(join(root, '.git'))) return t.skip('the project is not a git checkout here');
  const work = mkdtempSync(join(tmpdir(), 'kq-clone-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const clone = join(work, 'kqueue');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: clone, stdio: 'ignore' });
  const bin = join(clone, 'dist', 'cli', 'main.js');
  assert.ok(existsSync(bin), 'npm install built the kq tool');
  const builtAt = statSync(bin).mtimeMs;

  const child = spawn('npx', ['kq', 'watch', '.', '--verbose'], { cwd: clone, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/kq watch: watching/.test(err)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`npx kq exited (${code}) before watching:\n${err}`)));
  });
  await ready;
  appendFileSync(join(clone, 'README.md'), '\nA line.\n');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line for README.md within 30 s; stdout:\n${out}`)), 30_000);
    const check = (): void => {
      if (/VNODE \.\/README\.md WRITE\|EXTEND/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    check();
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, 'Ctrl-C ends kq watch with 130');
  assert.equal(statSync(bin).mtimeMs, builtAt, 'npx kq ran the tool as npm install built it');
});
