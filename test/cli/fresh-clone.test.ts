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

  // Its own process group, as a shell gives a job: npm exec runs kq through `sh -c` and does not
  // pass signals on, while Ctrl-C in a terminal reaches the whole group.
  const child = spawn('npx', ['kq', 'watch', '.', '--verbose'], { cwd: clone, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const group = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // The group is gone already.
    }
  };
  t.after(() => group('SIGKILL'));
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
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  group('SIGINT'); // Ctrl-C
  await exited;
  // kq itself may finish a moment after npm: wait (bounded) for the whole group to be gone.
  const alive = (): boolean => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(), false, 'Ctrl-C leaves no process of the job behind');
  assert.equal(statSync(bin).mtimeMs, builtAt, 'npx kq ran the tool as npm install built it');
});
