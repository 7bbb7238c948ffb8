// kq run, case by case along entr(1)'s manual: options, /_, exit statuses, messages, keys.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { exitOf, KQ, kq, needs, type Run, tempDir, write } from './support.js';

const USAGE = 'usage: kq run [-acdnprsxz] utility [argument [/_] ...] < filenames';

/** A temp dir with files a.txt and b.txt; returns their paths. */
function files(t: TestContext): { dir: string; a: string; b: string } {
  const dir = tempDir(t);
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  write(a, 'a\n');
  write(b, 'b\n');
  return { dir, a, b };
}

/** kq run ARGS with `list` on stdin, and EV_TRACE: it reports on stderr each end of the utility. */
function run(t: TestContext, list: string[], args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Run {
  return kq(t, ['run', ...args], { input: list.map((l) => `${l}\n`).join(''), env: { ...process.env, EV_TRACE: '1', ...env }, cwd });
}

/**
 * Waits until the utility has ended `n` times. Changes made while it runs are consolidated away
 * (entr's rule, without -a), so a test changes files only after this.
 */
async function ended(r: Run, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (r.stderr.filter((l) => /utility exited/.test(l)).length < n) {
    if (Date.now() > deadline) throw new Error(`the utility did not end ${n} times\n${r.stderr.join('\n')}`);
    await r.line(/utility exited/, { stream: 'stderr', from: r.stderr.length, timeout: Math.max(1, deadline - Date.now()) }).catch(() => {});
  }
}

/** stderr without EV_TRACE's lines. */
function messages(r: Run): string[] {
  return r.stderr.filter((l) => !/^kq run: (watching \d|utility exited|event )/.test(l));
}

function count(r: Run, re: RegExp): number {
  return r.stdout.filter((l) => re.test(l)).length;
}

test('usage: no utility, a bad option, and -h answer as entr does (release and usage on stderr, status 1)', async (t) => {
  for (const args of [[], ['-n'], ['-h'], ['-q', 'true']]) {
    const r = run(t, ['x'], args);
    assert.equal(await exitOf(r), 1, args.join(' '));
    const expected = args[0] === '-h' || args[0] === '-q' ? [`kq run: invalid option -- '${args[0]!.slice(1)}'`] : [];
    assert.deepEqual(r.stderr, [...expected, `release: ${JSON.parse(readFileSync(join(KQ, '..', '..', '..', 'package.json'), 'utf8')).version}`, USAGE], args.join(' '));
    assert.deepEqual(r.stdout, []);
  }
});

test('no regular file: empty input, missing files (each reported), and directories without -d', async (t) => {
  const { dir } = files(t);
  let r = run(t, [], ['-n', 'true']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: No regular files to watch']);
  r = run(t, ['nope', join(dir, 'gone')], ['-n', 'true']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ["kq run: unable to stat 'nope'", `kq run: unable to stat '${join(dir, 'gone')}'`, 'kq run: No regular files to watch']);
  r = run(t, [dir], ['-n', 'true']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: No regular files to watch']);
});

test('a path too long for PATH_MAX is refused', async (t) => {
  const r = run(t, [`/${'x'.repeat(5000)}`], ['-n', 'true']);
  assert.equal(await exitOf(r), 1);
  assert.equal(r.stderr.length, 1);
  assert.match(r.stderr[0]!, /^kq run: path too long: \/xxx/);
});

test('-s takes one argument; -r and -x do not combine; an unknown ENTR_RESTART_SIGNAL is refused', async (t) => {
  const { a } = files(t);
  let r = run(t, [a], ['-ns', 'echo', 'hi']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: -s requires commands to be formatted as a single argument']);
  r = run(t, [a], ['-n', '-r', '-x', 'true']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: -r and -x may not be combined']);
  r = run(t, [a], ['-nr', 'true'], { ENTR_RESTART_SIGNAL: 'SIGFOO' });
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: unrecognized signal: FOO (HUP, INT, QUIT, TERM, USR1, USR2)']);
});

test('without -n and without a terminal, kq run says to use -n (entr\'s message, status 1)', async (t) => {
  const { a } = files(t);
  // detached: a new session, so there is no controlling terminal to open.
  const r = kq(t, ['run', 'true'], { input: `${a}\n`, detached: true });
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ["kq run: unable to get terminal attributes, use '-n' to run non-interactively"]);
});

test('runs the utility at once, then when a file changes; /_ is the absolute path of the file that changed', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { dir, b } = files(t);
  const r = run(t, ['a.txt', 'b.txt'], ['-n', 'echo', 'changed', '/_'], {}, dir);
  assert.equal(await r.line(/^changed /), `changed ${join(dir, 'a.txt')}`, 'the first file before any change');
  await ended(r, 1);
  appendFileSync(b, 'more\n');
  assert.equal(await r.line(/^changed /, { from: 1 }), `changed ${b}`);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0, 'SIGINT is a normal termination');
});

test('-p postpones the first run until a file changes; -z exits with the utility\'s status', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  let r = run(t, [a], ['-np', 'echo', 'ran']);
  // Two changes, two runs: a run at start would have made a third line.
  await r.line(/watching 1 file/, { stream: 'stderr' });
  appendFileSync(a, 'x');
  await ended(r, 1);
  appendFileSync(a, 'y');
  await ended(r, 2);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, ['ran', 'ran']);
  r = run(t, [a], ['-npz', 'sh', '-c', 'exit 7']);
  await r.line(/watching 1 file/, { stream: 'stderr' });
  appendFileSync(a, 'z');
  assert.equal(await exitOf(r), 7);
});

test('-z: a utility ended by a signal gives 128 + the signal; a failed exec is reported, status 1', async (t) => {
  if (!needs(t, 'PROC')) return;
  const { a } = files(t);
  let r = run(t, [a], ['-nz', 'sh', '-c', 'kill -9 $$']);
  assert.equal(await exitOf(r), 137);
  r = run(t, [a], ['-nz', '/no/such/program']);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(messages(r), ['kq run: exec /no/such/program: No such file or directory']);
});

test('-s runs the command through $SHELL -c, with the file as $0; without -s no shell is involved', async (t) => {
  if (!needs(t, 'PROC')) return;
  const { a, dir } = files(t);
  let r = run(t, ['a.txt'], ['-nzs', 'echo "zero=$0" && exit 4'], { SHELL: '/bin/sh' }, dir);
  assert.equal(await exitOf(r), 4);
  assert.deepEqual(r.stdout, [`zero=${a}`]);
  r = run(t, [a], ['-nz', 'echo', '$HOME', '&&', 'false']);
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, ['$HOME && false'], 'arguments go straight to the program');
});

test('a burst of changes (write, rename over, chmod) runs the utility once, and the replaced file stays watched', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { dir, a } = files(t);
  const r = run(t, [a], ['-n', 'echo', 'run']);
  await ended(r, 1);
  // An editor's save: write a temp file, rename it over the original, fix its mode.
  const tmp = join(dir, '.a.txt.tmp');
  writeFileSync(tmp, 'new\n');
  renameSync(tmp, a);
  chmodSync(a, 0o644);
  await ended(r, 2);
  // The second run is the burst's only one: a later change runs it a third time, no more.
  appendFileSync(a, 'again\n');
  await r.line(/^run$/, { from: 2 });
  assert.equal(count(r, /^run$/), 3, r.stdout.join('\n'));
});

test('without -a, changes made while the utility runs are consolidated; with -a they run it again', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a, b } = files(t);
  // The utility itself writes the watched file: without -a this must not loop.
  const script = `echo run; echo x >> ${a}`;
  let r = run(t, [a], ['-n', 'sh', '-c', script]);
  await ended(r, 1);
  appendFileSync(a, 'y\n');
  await ended(r, 2);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
  assert.equal(count(r, /^run$/), 2, r.stdout.join('\n'));
  r = run(t, [b], ['-na', 'sh', '-c', `echo run; if [ "$(wc -l < ${b})" -lt 3 ]; then echo x >> ${b}; fi`]);
  // With -a each run's own write runs it again, until the script stops writing.
  await r.line(/^run$/, { from: 2 });
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
  assert.ok(count(r, /^run$/) >= 3, r.stdout.join('\n'));
});

test('-r restarts a persistent utility: SIGTERM to its process group, wait for its exit, start again', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  const r = run(t, [a], ['-nr', 'sh', '-c', 'echo "start $$"; trap "echo term $$; exit 0" TERM; while :; do sleep 0.05; done']);
  const first = (await r.line(/^start /)).split(' ')[1];
  appendFileSync(a, 'x');
  assert.equal(await r.line(/^term /), `term ${first}`);
  const second = (await r.line(/^start /, { from: 1 })).split(' ')[1];
  assert.notEqual(second, first);
  const termAt = r.stdout.indexOf(`term ${first}`);
  assert.ok(termAt < r.stdout.indexOf(`start ${second}`), 'the old one exited before the new one started');
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
  await r.line(new RegExp(`^term ${second}$`)); // the utility is stopped when kq run exits
});

test('ENTR_RESTART_SIGNAL chooses the restart signal', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  const r = run(t, [a], ['-nr', 'sh', '-c', 'echo start; trap "echo usr1; exit 0" USR1; while :; do sleep 0.05; done'], { ENTR_RESTART_SIGNAL: 'USR1' });
  await r.line(/^start$/);
  appendFileSync(a, 'x');
  await r.line(/^usr1$/);
  await r.line(/^start$/, { from: 2 });
  r.child.kill('SIGINT'); // kq run stops the utility (with USR1) before it exits
  assert.equal(await exitOf(r), 0);
  await r.line(/^usr1$/, { from: 3 });
});

test('-rz: exits with the utility\'s status when it ends on its own', async (t) => {
  if (!needs(t, 'PROC')) return;
  const { a } = files(t);
  const r = run(t, [a], ['-nrz', 'sh', '-c', 'exit 5']);
  assert.equal(await exitOf(r), 5);
});

test('-d exits with status 2 when a new file appears in a watched directory; dotfiles count only with -dd', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { dir, a } = files(t);
  let r = run(t, [a], ['-nd', 'echo', 'run']);
  await ended(r, 1);
  write(join(dir, '.hidden'), '');
  write(join(dir, 'new.txt'), '');
  assert.equal(await exitOf(r), 2);
  r = run(t, [a], ['-ndd', 'echo', 'run']);
  await ended(r, 1);
  write(join(dir, '.hidden2'), '');
  assert.equal(await exitOf(r), 2);
  // A directory may be listed itself under -d.
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  r = run(t, [a, sub], ['-nd', 'echo', 'run']);
  await ended(r, 1);
  write(join(sub, 'x'), '');
  assert.equal(await exitOf(r), 2);
});

test('a watched file that is deleted and not re-created within a second ends kq run with entr\'s message', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  const r = run(t, [a], ['-n', 'echo', 'run']);
  await ended(r, 1);
  rmSync(a);
  assert.equal(await exitOf(r), 1);
  assert.ok(r.stderr.includes(`kq run: cannot open '${a}': No such file or directory`), r.stderr.join('\n'));
});

test('-x: exit statuses through the status script (an example is created when it is missing)', async (t) => {
  if (!needs(t, 'PROC')) return;
  const { a, dir } = files(t);
  const script = join(dir, 'status.awk');
  let r = run(t, [a], ['-nzx', 'sh', '-c', 'exit 3'], { ENTR_STATUS_SCRIPT: script });
  assert.equal(await exitOf(r), 3);
  assert.deepEqual(r.stdout, ['sh returned exit code 3']);
  assert.deepEqual(messages(r), [`kq run: created example status script ${script}`]);
  writeFileSync(script, 'BEGIN { FS = "|" } { print "got", $1, $2, $3 }\n');
  r = run(t, [a], ['-nzx', 'sh', '-c', 'kill -TERM $$'], { ENTR_STATUS_SCRIPT: script });
  assert.equal(await exitOf(r), 143);
  assert.deepEqual(r.stdout, ['got signal 15 sh']);
  writeFileSync(script, '{ system("echo unsafe") }\n');
  r = run(t, [a], ['-nzx', 'true'], { ENTR_STATUS_SCRIPT: script });
  assert.equal(await exitOf(r), 1);
  assert.match(messages(r).join('\n'), /give -x twice|sandbox|unsafe/);
  r = run(t, [a], ['-nzxx', 'true'], { ENTR_STATUS_SCRIPT: script });
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, ['unsafe']);
});

// ---- on a terminal: script(1) gives kq run a pseudo-terminal, as a person's shell would ----

const haveScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** `ls FILE | kq run ARGS` inside script(1): our stdin is the terminal's keyboard. */
function onTerminal(t: TestContext, file: string, args: string): Run {
  const cmd = `echo ${file} | ${process.execPath} ${KQ} run ${args}`;
  return kq(t, [], { stdio: ['pipe', 'pipe', 'pipe'] }, ['script', '-qfec', cmd, '/dev/null']);
}

test('on a terminal: space runs the utility, q quits with status 0', { skip: !haveScript && 'script(1) is missing (.ci/run installs bsdutils)' }, async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  const r = onTerminal(t, a, 'echo ran');
  await r.line(/ran/);
  r.child.stdin!.write(' ');
  await r.line(/ran/, { from: r.stdout.findIndex((l) => /ran/.test(l)) + 1 });
  r.child.stdin!.write('q');
  assert.equal(await exitOf(r), 0);
});

test('on a terminal: -c clears the screen before each run, -cc the scrollback too', { skip: !haveScript && 'script(1) is missing' }, async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const { a } = files(t);
  let r = onTerminal(t, a, '-c echo ran');
  await r.line(/ran/);
  assert.ok(r.raw().includes('\x1b[2J\x1b[H'), JSON.stringify(r.raw()));
  assert.ok(!r.raw().includes('\x1b[3J'));
  r.child.stdin!.write('q');
  assert.equal(await exitOf(r), 0);
  r = onTerminal(t, a, '-cc echo ran');
  await r.line(/ran/);
  assert.ok(r.raw().includes('\x1b[2J\x1b[3J\x1b[H'), JSON.stringify(r.raw()));
  r.child.stdin!.write('q');
  assert.equal(await exitOf(r), 0);
});
