// The kq tool under faults and bad input (issue 10): watched paths that vanish, hostile standard
// input for kq run, utilities that cannot be run or will not stop, readers that go away, and
// signals sent to kq itself. Each case runs the real built kq; its outcome is in docs/cli.md
// ("Faults").
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { alive, exitOf, gone, KQ, kq, needs, type Run, tempDir, unreaped, write } from './support.js';

const EV = { ...process.env, EV_TRACE: '1' };

/** kq run ARGS with `input` (text or bytes) on stdin. */
function run(t: TestContext, input: string | Buffer, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = kq(t, ['run', ...args], { env: { ...EV, ...env } });
  r.child.stdin!.end(input);
  return r;
}

const count = (lines: string[], re: RegExp): number => lines.filter((l) => re.test(l)).length;

/** The pid in the last line `WORD PID` printed so far. */
async function pidOf(r: Run, word: string, from = 0, stream: 'stdout' | 'stderr' = 'stdout'): Promise<number> {
  return Number((await r.line(new RegExp(`^${word} \\d+$`), { from, stream })).split(' ')[1]);
}

// ---- kq watch: paths that go away --------------------------------------------------------

test('watch: a deleted file is reported once and waited for; the other paths keep being watched', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  write(a, '');
  write(b, '');
  const r = kq(t, ['watch', a, b, '--verbose']);
  await r.line(/watching 2 paths/, { stream: 'stderr' });
  rmSync(a);
  await r.line(/gone, waiting for it to reappear/, { stream: 'stderr' });
  appendFileSync(b, 'x');
  // b's line comes after everything a's deletion caused: a's DELETE was printed exactly once.
  const at = r.stdout.indexOf(await r.line(new RegExp(`VNODE ${b} WRITE`)));
  assert.equal(count(r.stdout.slice(0, at), new RegExp(`VNODE ${a} `)), 1, r.stdout.join('\n'));
  assert.match(r.stdout.find((l) => l.includes(` ${a} `))!, /DELETE/);
  write(a, 'back');
  await r.line(/exists again, watching it/, { stream: 'stderr' });
  const n = r.stdout.length;
  appendFileSync(a, 'more');
  await r.line(new RegExp(`VNODE ${a} WRITE\\|EXTEND$`), { from: n });
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130);
});

test('watch: the watched directory itself removed: each entry and the directory reported once, then waited for', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const top = tempDir(t);
  const dir = join(top, 'd');
  const other = join(top, 'other');
  mkdirSync(dir);
  write(join(dir, 'x'), '');
  write(join(dir, 'y'), '');
  write(other, '');
  const r = kq(t, ['watch', dir, other, '--verbose']);
  await r.line(/watching 4 paths/, { stream: 'stderr' });
  rmSync(dir, { recursive: true });
  await r.line(new RegExp(`^kq watch: ${dir}: gone, waiting`), { stream: 'stderr' });
  appendFileSync(other, 'x');
  const at = r.stdout.indexOf(await r.line(new RegExp(`VNODE ${other} WRITE`)));
  const before = r.stdout.slice(0, at);
  for (const e of ['x', 'y']) assert.equal(count(before, new RegExp(`VNODE ${dir}/${e} .*DELETE`)), 1, before.join('\n'));
  assert.equal(count(before, new RegExp(`VNODE ${dir} .*DELETE`)), 1, before.join('\n'));
  assert.equal(r.status, null, 'still running: the name is waited for');
  // The directory comes back: it is watched again, with its entries.
  mkdirSync(dir);
  await r.line(new RegExp(`^kq watch: ${dir}: exists again`), { stream: 'stderr' });
  write(join(dir, 'z'), '');
  await r.line(new RegExp(`watching new ${dir}/z$`), { stream: 'stderr' });
  const n = r.stdout.length;
  appendFileSync(join(dir, 'z'), 'x');
  await r.line(new RegExp(`VNODE ${dir}/z WRITE\\|EXTEND$`), { from: n });
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 130);
});

test('watch -r: a subtree removed is reported once per path and dropped; the rest of the tree keeps working', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const root = tempDir(t);
  mkdirSync(join(root, 'sub', 'deep'), { recursive: true });
  write(join(root, 'sub', 'deep', 'f'), '');
  write(join(root, 'keep'), '');
  const r = kq(t, ['watch', '-r', root, '--verbose']);
  await r.line(/watching 5 paths/, { stream: 'stderr' });
  rmSync(join(root, 'sub'), { recursive: true });
  await r.line(new RegExp(`VNODE ${root}/sub .*DELETE`));
  appendFileSync(join(root, 'keep'), 'x');
  const at = r.stdout.indexOf(await r.line(new RegExp(`VNODE ${root}/keep WRITE`)));
  const before = r.stdout.slice(0, at);
  for (const p of ['sub', 'sub/deep', 'sub/deep/f']) {
    assert.equal(count(before, new RegExp(`VNODE ${root}/${p} .*DELETE`)), 1, `${p}\n${before.join('\n')}`);
  }
  // Dropped, not waited for: a new sub is a new entry of the root.
  mkdirSync(join(root, 'sub'));
  await r.line(new RegExp(`watching new ${root}/sub$`), { stream: 'stderr' });
  r.child.kill('SIGTERM');
  assert.equal(await exitOf(r), 143);
});

// ---- kq run: files that go away ----------------------------------------------------------

test('run -r: a watched file deleted for good stops the utility, then kq run exits 1', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '');
  const r = run(t, `${f}\n`, ['-nr', 'sh', '-c', 'echo start $$; exec sleep 100']);
  const pid = await pidOf(r, 'start');
  rmSync(f);
  assert.equal(await exitOf(r), 1);
  assert.ok(r.stderr.includes(`kq run: cannot open '${f}': No such file or directory`), r.stderr.join('\n'));
  assert.equal(alive(pid), false, 'the utility was stopped first');
});

test('run -d: the watched directory removed ends kq run with status 1, not 2 (nothing was added)', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const top = tempDir(t);
  const dir = join(top, 'src');
  mkdirSync(dir);
  write(join(dir, 'a.c'), '');
  const r = run(t, `${join(dir, 'a.c')}\n`, ['-nd', 'echo', 'ran']);
  await r.line(/utility exited/, { stream: 'stderr' });
  rmSync(dir, { recursive: true });
  assert.equal(await exitOf(r), 1);
  assert.ok(r.stderr.some((l) => l === `kq run: cannot open '${join(dir, 'a.c')}': No such file or directory` || l === `kq run: cannot open '${dir}': No such file or directory`), r.stderr.join('\n'));
});

test('run: a file deleted and re-created within the second keeps kq run going, and counts as a change', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '1');
  const r = run(t, `${f}\n`, ['-n', 'echo', 'ran']);
  await r.line(/utility exited/, { stream: 'stderr' });
  rmSync(f);
  write(f, '2');
  await r.line(/^ran$/, { from: 1 });
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
  assert.ok(!r.stderr.some((l) => /cannot open/.test(l)), r.stderr.join('\n'));
});

// ---- kq run: standard input --------------------------------------------------------------

test('run: empty input, or only empty lines: entr\'s message, status 1', async (t) => {
  const results = await Promise.all(['', '\n', '\n\n\n'].map(async (input) => {
    const r = run(t, input, ['-n', 'true'], { EV_TRACE: undefined });
    return { status: await exitOf(r), stderr: r.stderr, stdout: r.stdout };
  }));
  for (const r of results) assert.deepEqual(r, { status: 1, stderr: ['kq run: No regular files to watch'], stdout: [] });
});

test('run: binary garbage on stdin (NULs, invalid UTF-8, control bytes): each line reported readably, the real file still watched', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const good = join(dir, 'good');
  write(good, '');
  // A file whose name is not UTF-8 (Latin-1 "café"): Node can neither take it from a string nor
  // hand it to the library, so it is refused by name rather than mistaken for another file.
  const latin1 = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]);
  writeFileSync(latin1, '');
  const input = Buffer.concat([
    Buffer.from(`${good}\0junk\n`),
    Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]),
    latin1, Buffer.from('\n'),
    Buffer.from('\x1b[31mred\x07\n'),
    Buffer.from(`${good}\n`),
    Buffer.from([0x80, 0x81]), // no final newline
  ]);
  const r = run(t, input, ['-nz', 'echo', 'ran', '/_'], { EV_TRACE: undefined });
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`ran ${good}`]);
  assert.deepEqual(r.stderr, [
    `kq run: unable to stat '${good}\\000junk'`,
    "kq run: unable to stat '\\377\\376\\000\\001'",
    `kq run: unable to watch '${dir}/caf\\351': not a UTF-8 name (Node takes names as UTF-8 text)`,
    "kq run: unable to stat '\\033[31mred\\007'",
    "kq run: unable to stat '\\200\\201'",
  ]);
});

test('run: 100,000 names on stdin (1,000 files, each listed 100 times) are read and watched promptly', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const names: string[] = [];
  for (let i = 0; i < 1000; i++) {
    names.push(join(dir, `f${i}`));
    write(names[i]!, '');
  }
  const lines: string[] = [];
  for (let k = 0; k < 100; k++) lines.push(...names);
  const t0 = Date.now();
  const r = run(t, `${lines.join('\n')}\n`, ['-npz', 'echo', 'ran', '/_']);
  await r.line(/^kq run: watching 1000 files$/, { stream: 'stderr', timeout: 30_000 });
  t.diagnostic(`100,000 names read and 1,000 files watched in ${Date.now() - t0} ms`);
  appendFileSync(names[999]!, 'x');
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`ran ${names[999]}`]);
});

test('run: 100,000 names that do not exist: each reported, then entr\'s message (status 1)', async (t) => {
  const lines = Array.from({ length: 100_000 }, (_, i) => `/nonexistent/kq-fault/${i}`);
  const t0 = Date.now();
  const r = run(t, `${lines.join('\n')}\n`, ['-n', 'true'], { EV_TRACE: undefined });
  assert.equal(await exitOf(r, 30_000), 1);
  t.diagnostic(`100,000 missing names reported in ${Date.now() - t0} ms`);
  assert.equal(r.stderr.length, 100_001);
  assert.equal(r.stderr[99_999], "kq run: unable to stat '/nonexistent/kq-fault/99999'");
  assert.equal(r.stderr[100_000], 'kq run: No regular files to watch');
});

test('run: more files than the open files limit allows: entr\'s "Too many files listed" before watching any', async (t) => {
  const dir = tempDir(t);
  const names = Array.from({ length: 300 }, (_, i) => join(dir, `f${i}`));
  for (const n of names) write(n, '');
  const r = kq(t, [], { env: EV }, ['sh', '-c', `ulimit -n 200 && exec "${process.execPath}" "${KQ}" run -n true`]);
  r.child.stdin!.end(`${names.join('\n')}\n`);
  assert.equal(await exitOf(r), 1);
  assert.deepEqual(r.stderr, ['kq run: Too many files listed; the hard limit for your login class is 136. Please consult docs/cli.md (the open files limit, ulimit -n)']);
});

// ---- kq run: utilities that cannot run, or will not stop ---------------------------------

test('run: a utility that cannot be executed is reported with the reason; status 1 with -z, else kq run keeps watching', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  const script = join(dir, 'not-executable');
  write(f, '');
  writeFileSync(script, '#!/bin/sh\necho no\n', { mode: 0o644 });
  const [missing, denied] = [run(t, `${f}\n`, ['-nz', 'no-such-command-kq']), run(t, `${f}\n`, ['-nz', script])];
  assert.equal(await exitOf(missing), 1);
  assert.ok(missing.stderr.includes('kq run: exec no-such-command-kq: No such file or directory'), missing.stderr.join('\n'));
  assert.equal(await exitOf(denied), 1);
  assert.ok(denied.stderr.includes(`kq run: exec ${script}: Permission denied`), denied.stderr.join('\n'));
  // Without -z, as entr: the failure is the run's status (1); the next change tries again.
  const r = run(t, `${f}\n`, ['-n', 'no-such-command-kq']);
  await r.line(/utility exited: status 1/, { stream: 'stderr' });
  appendFileSync(f, 'x');
  await r.line(/utility exited: status 1/, { stream: 'stderr', from: r.stderr.findIndex((l) => /utility exited/.test(l)) + 1 });
  assert.equal(count(r.stderr, /^kq run: exec no-such-command-kq: No such file or directory$/), 2);
  r.child.kill('SIGINT');
  assert.equal(await exitOf(r), 0);
});

const STUBBORN = 'trap "" TERM; echo start $$; sleep 100 & echo child $!; wait';

test('run -r: a utility that ignores SIGTERM is sent SIGKILL after the grace period, and the restart happens', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '');
  const r = run(t, `${f}\n`, ['-nr', 'sh', '-c', STUBBORN]);
  const first = await pidOf(r, 'start');
  const grandchild = await pidOf(r, 'child');
  appendFileSync(f, 'x');
  await r.line(new RegExp(`^kq run: sh \\(pid ${first}\\) did not exit 2 s after SIGTERM: sending SIGKILL$`), { stream: 'stderr' });
  const second = await pidOf(r, 'start', r.stdout.indexOf(`start ${first}`) + 1);
  assert.notEqual(second, first);
  assert.equal(alive(first), false);
  await gone(grandchild); // SIGKILL went to the whole process group
  assert.equal(r.status, null);
  r.child.kill('SIGINT');
  await r.line(new RegExp(`^kq run: sh \\(pid ${second}\\) did not exit`), { stream: 'stderr' });
  assert.equal(await exitOf(r), 0);
  assert.equal(alive(second), false);
});

test('run: SIGTERM to kq run with a stubborn utility: SIGKILL after KQ_RUN_KILL_AFTER, then kq run dies of SIGTERM; a second signal kills at once', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '');
  const r = run(t, `${f}\n`, ['-n', 'sh', '-c', STUBBORN], { KQ_RUN_KILL_AFTER: '0.3' });
  const pid = await pidOf(r, 'start');
  const grandchild = await pidOf(r, 'child');
  r.child.kill('SIGTERM');
  await r.line(new RegExp(`^kq run: sh \\(pid ${pid}\\) did not exit 0.3 s after SIGTERM: sending SIGKILL$`), { stream: 'stderr' });
  assert.equal(await exitOf(r), 143);
  assert.equal(alive(pid), false);
  await gone(grandchild); // its child, which ignores SIGTERM too, is not left orphaned
  // KQ_RUN_KILL_AFTER=0 waits for ever; a second Ctrl-C is then the way out. This utility
  // says when the first one reached it (as SIGTERM to its group), and goes on.
  const again = run(t, `${f}\n`, ['-nr', 'sh', '-c', 'trap "echo term" TERM; echo start $$; while :; do sleep 0.05; done'], { KQ_RUN_KILL_AFTER: '0' });
  const p2 = await pidOf(again, 'start');
  again.child.kill('SIGINT');
  await again.line(/^term$/);
  assert.equal(again.status, null);
  again.child.kill('SIGINT');
  assert.equal(await exitOf(again), 0);
  assert.equal(alive(p2), false);
  const bad = run(t, `${f}\n`, ['-n', 'true'], { KQ_RUN_KILL_AFTER: 'soon' });
  assert.equal(await exitOf(bad), 1);
  assert.deepEqual(bad.stderr, ["kq run: KQ_RUN_KILL_AFTER takes a number of seconds, not 'soon'"]);
});

// ---- readers that go away ----------------------------------------------------------------

/**
 * `kq ARGS | head -1` in bash; the script prints kq's own status (PIPESTATUS) at the end.
 * `poke` causes one more event each time it is called, until kq has seen its reader gone.
 */
async function intoHead(t: TestContext, args: string, poke: () => void): Promise<Run> {
  const r = kq(t, [], {}, ['bash', '-c', `"${process.execPath}" "${KQ}" ${args} | head -1; echo "kq status \${PIPESTATUS[0]}"`]);
  for (let i = 0; r.status === null && !r.stdout.some((l) => l.startsWith('kq status')); i++) {
    if (i > 100) throw new Error(`kq did not notice its reader gone\n${r.stderr.join('\n')}`);
    poke();
    await r.line(/^kq status/, { timeout: 200 }).catch(() => {});
  }
  assert.equal(await exitOf(r), 0);
  return r;
}

test('closed pipe: kq watch | head -1 and kq tail -f | head -1 exit 0 quietly at their next write', async (t) => {
  if (!needs(t, 'VNODE')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, 'one\n');
  const [w, tl] = await Promise.all([
    intoHead(t, `watch ${f} --verbose`, () => appendFileSync(f, 'x')),
    intoHead(t, `tail -f ${f}`, () => appendFileSync(f, 'y\n')),
  ]);
  for (const r of [w, tl]) {
    assert.equal(r.stdout.at(-1), 'kq status 0');
    assert.equal(r.stdout.length, 2, r.stdout.join('\n'));
    assert.deepEqual(r.stderr.filter((l) => !/watching/.test(l)), [], 'no EPIPE, no stack trace');
  }
  // Without -f, a long output cut short.
  writeFileSync(join(dir, 'big'), Array.from({ length: 200_000 }, (_, i) => `${i}\n`).join(''));
  const big = kq(t, [], {}, ['bash', '-c', `"${process.execPath}" "${KQ}" tail -n +1 ${join(dir, 'big')} | head -1; echo "kq status \${PIPESTATUS[0]}"`]);
  assert.equal(await exitOf(big), 0);
  assert.deepEqual(big.stdout, ['0', 'kq status 0']);
  assert.deepEqual(big.stderr, []);
});

test('closed pipe: kq wait -v | head -1 exits 0 quietly when the second exit is written', async (t) => {
  if (!needs(t, 'PROC')) return;
  const a = await unreaped(t, 'exit 3');
  const b = await unreaped(t, 'exit 4');
  const r = kq(t, [], {}, ['bash', '-c', `"${process.execPath}" "${KQ}" wait -v ${a.pid} ${b.pid} | head -1; echo "kq status \${PIPESTATUS[0]}"`]);
  a.go();
  await r.line(new RegExp(`^${a.pid}: exited with status 3\\.$`));
  b.go();
  assert.equal(await exitOf(r), 0);
  assert.deepEqual(r.stdout, [`${a.pid}: exited with status 3.`, 'kq status 0']);
  assert.deepEqual(r.stderr, []);
});

test('closed pipe: kq run -r stops its utility and exits 0 when its output has no reader', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '');
  // -c makes kq run itself write (the clear sequence) before each run.
  const r = run(t, `${f}\n`, ['-nrc', 'sh', '-c', 'echo start $$ >&2; exec sleep 100']);
  const first = await pidOf(r, 'start', 0, 'stderr');
  r.child.stdout!.destroy(); // the reader goes away
  appendFileSync(f, 'x');
  assert.equal(await exitOf(r), 0);
  assert.equal(alive(first), false);
  for (const l of r.stderr.filter((s) => /^start /.test(s))) assert.equal(alive(Number(l.split(' ')[1])), false, l);
  assert.ok(!r.stderr.some((l) => /EPIPE|Error/.test(l)), r.stderr.join('\n'));
});

// ---- signals to kq itself ----------------------------------------------------------------

const SIGNALS = [['SIGTERM', 143], ['SIGINT', 0], ['SIGHUP', 0]] as const;

test('signals to kq run (a long-running utility, then -r with a grandchild): conventional statuses, no process left', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, '');
  const cases = SIGNALS.flatMap(([sig, status]) => [
    { sig, status, args: ['-n', 'sh', '-c', 'echo start $$; exec sleep 100'] },
    { sig, status, args: ['-nr', 'sh', '-c', 'echo start $$; sleep 100 & echo child $!; wait'] },
  ]);
  await Promise.all(cases.map(async ({ sig, status, args }) => {
    const r = run(t, `${f}\n`, args);
    const pids = [await pidOf(r, 'start')];
    if (args[0] === '-nr') pids.push(await pidOf(r, 'child'));
    r.child.kill(sig);
    assert.equal(await exitOf(r), status, `${sig} ${args.join(' ')}`);
    assert.equal(alive(pids[0]!), false, `${sig}: the utility is gone`);
    for (const p of pids.slice(1)) await gone(p);
  }));
  assert.deepEqual(readdirSync(dir), ['f'], 'nothing left behind');
});

test('signals to kq watch, kq wait and kq tail -f: 143, 130 and 129, and nothing else is touched', async (t) => {
  if (!needs(t, 'VNODE', 'PROC')) return;
  const dir = tempDir(t);
  const f = join(dir, 'f');
  write(f, 'line\n');
  const waited = await unreaped(t, 'exit 0'); // kq wait's process: must outlive the signals
  const expected = { SIGTERM: 143, SIGINT: 130, SIGHUP: 129 } as const;
  const modes: { args: string[]; ready: (r: Run) => Promise<unknown> }[] = [
    { args: ['watch', f, '--verbose'], ready: (r) => r.line(/watching/, { stream: 'stderr' }) },
    { args: ['watch', '-r', dir, '--timer', '100000', '--verbose'], ready: (r) => r.line(/watching/, { stream: 'stderr' }) },
    { args: ['wait', String(waited.pid)], ready: async () => {} },
    { args: ['tail', '-f', f], ready: (r) => r.line(/^line$/) },
  ];
  await Promise.all(modes.flatMap((m) => (Object.keys(expected) as (keyof typeof expected)[]).map(async (sig) => {
    const r = kq(t, m.args);
    await m.ready(r);
    r.child.kill(sig);
    assert.equal(await exitOf(r), expected[sig], `${sig} to kq ${m.args.join(' ')}`);
  })));
  assert.equal(alive(waited.pid), true, 'the waited-for process is not affected');
  assert.deepEqual(readdirSync(dir), ['f'], 'nothing left behind');
  waited.go(); // let it end, so that nothing holds the test's pipes open
});
