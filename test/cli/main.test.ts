import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KQ, root, tempDir } from './support.js';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function kqSync(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KQ, ...args], { encoding: 'utf8', input, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('kq --version prints the package version', () => {
  const r = kqSync(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `kq ${pkg.version}\n`);
  assert.equal(r.stderr, '');
});

test('kq --help lists every command on stdout with status 0; no command is a usage error on stderr', () => {
  const r = kqSync(['--help']);
  assert.equal(r.status, 0);
  for (const c of ['watch', 'run', 'wait', 'tail']) assert.match(r.stdout, new RegExp(`kq ${c} `));
  const none = kqSync([]);
  assert.equal(none.status, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /usage: kq <command>/);
});

test('each command has --help on stdout with status 0', () => {
  for (const c of ['watch', 'run', 'wait', 'tail']) {
    const r = kqSync([c, '--help']);
    assert.equal(r.status, 0, c);
    assert.match(r.stdout, new RegExp(`usage: kq ${c}`), c);
    assert.equal(r.stderr, '', c);
    assert.equal(kqSync(['help', c]).stdout, r.stdout, c);
  }
});

test('errors are one line on stderr with a non-zero status', () => {
  const cases: [string[], number, RegExp][] = [
    [['frobnicate'], 2, /^kq: unknown command 'frobnicate'/],
    [['--frob'], 2, /^kq: unknown option --frob/],
    [['watch', '--bogus', '.'], 2, /^kq watch: unknown option --bogus/],
    [['watch', '--timeout'], 2, /^kq watch: option --timeout needs a value/],
    [['watch', '--timeout', 'soon', '.'], 2, /^kq watch: --timeout takes a number of milliseconds/],
    [['watch', '--signal', 'SIGNOPE'], 2, /^kq watch: unknown signal 'SIGNOPE'/],
    [['watch', '--events', 'explode', '.'], 2, /^kq watch: unknown event 'explode'/],
    [['watch'], 2, /^kq watch: nothing to watch/],
    [['watch', '/no/such/path'], 1, /^kq watch: \/no\/such\/path: No such file or directory\n$/],
    [['tail'], 2, /^kq tail: /],
    [['tail', '/no/such/file'], 1, /^kq tail: \/no\/such\/file: No such file or directory\n$/],
    [['tail', '-n', 'many', 'x'], 2, /^kq tail: /],
  ];
  for (const [args, status, re] of cases) {
    const r = kqSync(args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});

test('the bin is the built main.js, executable, with a node shebang', () => {
  assert.deepEqual(pkg.bin, { kq: './dist/cli/main.js' });
  const file = join(root, pkg.bin.kq);
  assert.match(readFileSync(file, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.ok((statSync(file).mode & 0o111) !== 0, 'executable bit');
  assert.equal(execFileSync(file, ['--version'], { encoding: 'utf8' }), `kq ${pkg.version}\n`);
  assert.equal(pkg.scripts.prepare, 'npm run build', 'npm install on a clone builds the bin');
});

test('installed from its npm pack tarball, npx kq works in another project', (t) => {
  const dir = tempDir(t);
  // --ignore-scripts: packing must not rebuild dist/ and build/ under the running suite.
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack made a tarball');
  const proj = join(dir, 'proj');
  execFileSync('mkdir', [proj]);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--silent', join(dir, tgz!)], { cwd: proj, encoding: 'utf8' });
  const out = execFileSync('npx', ['--offline', 'kq', '--version'], { cwd: proj, encoding: 'utf8' });
  assert.equal(out, `kq ${pkg.version}\n`);
  const help = execFileSync('npx', ['--offline', 'kq', 'watch', '--help'], { cwd: proj, encoding: 'utf8' });
  assert.match(help, /^usage: kq watch/);
});
