// EVFILT_PROC on real processes: our own children (ChildProcess or pid), other processes seen in
// /proc, zombies, forks, execs and NOTE_TRACK (digest 3.8, edge cases 14, 15, 22, 36, 102-107;
// api.md's PROC row: two knotes for a ChildProcess and its pid, statuses Linux hides are 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import {
  EBADF, ENOENT, ESRCH, EV_ADD, EV_CLEAR, EV_DELETE, EV_ENABLE, EV_EOF, EV_ERROR, EV_NODATA,
  EV_ONESHOT, EVFILT_PROC, NOTE_CHILD, NOTE_EXEC, NOTE_EXIT, NOTE_FORK, NOTE_TRACK,
  NOTE_TRACKERR, tunables, type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { procPollNow, procPollState, procSourceOf } from '../../src/filters/proc.js';
import { openKqueue } from '../support/open.js';
import { exited, LIBRARY, runNode, stateOf } from '../support/child.js';
import { change, receiptErrno } from '../support/changes.js';

type TestContext = { after(fn: () => void): void };

const EXIT_FLAGS = EV_EOF | EV_NODATA | EV_ONESHOT | EV_CLEAR;

function proc(ident: unknown, fflags: number, flags = EV_ADD, udata?: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_PROC, flags, fflags, udata };
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  change(kq, ...changes);
}


/** A shell running `script`, killed when the test ends if it is still running. */
function sh(t: TestContext, script: string): ChildProcess {
  const c = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  return c;
}

/** Lets a script that starts with `read x` go on (once the test has registered its knotes). */
function go(c: ChildProcess): void {
  c.stdin!.end('go\n');
}

/** Kills `pid` when the test ends (a grandchild the shell left behind). */
function reap(t: TestContext, pid: number): void {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
}

/** The first line the child prints (a pid it reports with `echo $!`). */
function firstLine(c: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    c.on('error', reject);
  });
}



/** Waits (up to 5 s, polling /proc) until `pid` is a zombie. */
async function untilZombie(pid: number): Promise<void> {
  const end = Date.now() + 5000;
  while (stateOf(pid) !== 'Z') {
    assert.ok(Date.now() < end, `pid ${pid} never became a zombie (state ${stateOf(pid)})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits (up to 5 s) until `pid` runs a program named `comm` (the shell has exec'd it). */
async function untilRuns(pid: number, comm: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!readFileSync(`/proc/${pid}/stat`, 'latin1').includes(`(${comm})`)) {
    assert.ok(Date.now() < end, `pid ${pid} never ran ${comm}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Harvests until `done` says every expected event is in, or 5 s pass without one. */
async function harvest(kq: Kqueue, done: (all: KEvent[]) => boolean): Promise<KEvent[]> {
  const all: KEvent[] = [];
  while (!done(all)) {
    const evs = await kq.kevent(null, 16, 5000);
    assert.ok(evs.length > 0, `timed out; so far ${JSON.stringify(all.map(show))}`);
    all.push(...evs);
  }
  return all;
}

function show(e: KEvent): unknown {
  return { ident: typeof e.ident === 'object' ? 'ChildProcess' : e.ident, flags: e.flags, fflags: e.fflags, data: e.data };
}

const isExit = (e: KEvent): boolean => (e.flags & EV_EOF) !== 0;

// ---- our own children -----------------------------------------------------------------------

test('a child that exits with 3: NOTE_EXIT, data 3 << 8, EV_EOF|EV_NODATA|EV_ONESHOT, then gone', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'read x; exit 3');
  apply(kq, [proc(c, NOTE_EXIT, EV_ADD, 'u')]);
  assert.deepEqual(kq.keventSync(null, 8), []);
  go(c);
  const ev = (await harvest(kq, (a) => a.length >= 1))[0]!;
  assert.deepEqual(ev, { ident: c, filter: EVFILT_PROC, flags: EV_ADD | EXIT_FLAGS, fflags: NOTE_EXIT, data: 768, udata: 'u' });
  assert.equal(receiptErrno(kq, proc(c, 0, EV_DELETE)), ENOENT, 'delivered once, then destroyed');
});

test('killed by SIGTERM: data 15; by SIGKILL: data 9', async (t) => {
  const kq = openKqueue(t);
  const a = sh(t, 'exec sleep 30');
  const b = sh(t, 'exec sleep 30');
  apply(kq, [proc(a, NOTE_EXIT), proc(b, NOTE_EXIT)]);
  a.kill('SIGTERM');
  b.kill('SIGKILL');
  const evs = await harvest(kq, (all) => all.length >= 2);
  assert.equal(evs.find((e) => e.ident === a)!.data, 15);
  assert.equal(evs.find((e) => e.ident === b)!.data, 9);
});

test('exit is delivered even when not asked for: fflags without NOTE_EXIT', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'read x; exit 0');
  apply(kq, [proc(c, NOTE_FORK)]);
  go(c);
  const ev = (await harvest(kq, (a) => a.length >= 1))[0]!;
  assert.equal(ev.fflags, 0);
  assert.equal(ev.flags, EV_ADD | EXIT_FLAGS);
  assert.equal(ev.data, 0);
});

test('a ChildProcess and its pid are two knotes; both get the status; several kqueues too', async (t) => {
  const a = openKqueue(t);
  const b = openKqueue(t);
  const c = sh(t, 'sleep 0.1; exit 7');
  apply(a, [proc(c, NOTE_EXIT), proc(c.pid, NOTE_EXIT)]);
  apply(b, [proc(c.pid, NOTE_EXIT)]);
  const evs = await harvest(a, (all) => all.length >= 2);
  assert.deepEqual(evs.map((e) => [e.ident === c ? 'child' : e.ident, e.data]).sort(), [['child', 1792], [c.pid, 1792]].sort());
  assert.deepEqual((await harvest(b, (all) => all.length >= 1)).map((e) => e.data), [1792]);
});

test('an exited child is a zombie: NOTE_EXIT fires at once with its status; without it, ESRCH', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'exit 2');
  await exited(c);
  assert.equal(receiptErrno(kq, proc(c, NOTE_FORK)), ESRCH);
  assert.equal(receiptErrno(kq, proc(c.pid, NOTE_FORK)), ESRCH);
  apply(kq, [proc(c, NOTE_EXIT), proc(c.pid!, NOTE_EXIT)]);
  const evs = kq.keventSync(null, 8);
  assert.deepEqual(evs.map((e) => [e.fflags, e.flags, e.data]), [[NOTE_EXIT, EV_ADD | EXIT_FLAGS, 512], [NOTE_EXIT, EV_ADD | EXIT_FLAGS, 512]]);
});

test('the knote holds no listener on the child after it goes', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'exec sleep 30');
  const before = c.listenerCount('exit');
  apply(kq, [proc(c, NOTE_EXIT), proc(c.pid, NOTE_EXIT | NOTE_EXEC)]);
  assert.equal(c.listenerCount('exit'), before + 1, 'one listener for both knotes');
  apply(kq, [proc(c, 0, EV_DELETE)]);
  assert.equal(c.listenerCount('exit'), before + 1);
  kq.close();
  assert.equal(c.listenerCount('exit'), before);
  assert.deepEqual(procPollState(), { sources: 0, polled: 0, timer: false, table: false });
});

test('EV_DELETE before the exit: nothing fires later', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'sleep 0.05');
  apply(kq, [proc(c, NOTE_EXIT), proc(c, 0, EV_DELETE)]);
  await exited(c);
  assert.deepEqual(kq.keventSync(null, 8), []);
});

test('watching only the exit of our own child polls nothing', (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'exec sleep 30');
  apply(kq, [proc(c, NOTE_EXIT), proc(c.pid, NOTE_EXIT)]);
  assert.deepEqual(procPollState(), { sources: 1, polled: 0, timer: false, table: false });
  apply(kq, [proc(c, NOTE_EXIT | NOTE_EXEC)]);
  assert.equal(procPollState().polled, 1, 'a modification asking for exec starts polling');
  apply(kq, [proc(c, NOTE_EXIT)]);
  procPollNow();
  assert.deepEqual(procPollState(), { sources: 1, polled: 0, timer: false, table: false }, 'and one asking less stops it');
  kq.close();
  assert.deepEqual(procPollState(), { sources: 0, polled: 0, timer: false, table: false });
});

// ---- ESRCH and other idents -----------------------------------------------------------------

test('no such process is ESRCH; a thread id is not a process; a Proxy is EBADF', (t) => {
  const kq = openKqueue(t);
  const tids = readdirSync('/proc/self/task').map(Number).filter((n) => n !== process.pid);
  const idents: unknown[] = [4194304, 0, -1, 1.5, 2 ** 40, 'abc', `${process.pid}`, {}, Symbol('p'), null, ...tids.slice(0, 1)];
  for (const ident of idents) assert.equal(receiptErrno(kq, proc(ident, NOTE_EXIT)), ESRCH, `ident ${String(ident)}`);
  assert.equal(receiptErrno(kq, proc(new Proxy({}, {}), NOTE_EXIT)), EBADF);
  // A failed attach posts fflags 0 (the change's fflags were consumed at creation).
  const out = kq.keventSync([proc(4194304, NOTE_EXIT)], 1);
  assert.deepEqual(out[0], { ident: 4194304, filter: EVFILT_PROC, flags: EV_ERROR, fflags: 0, data: ESRCH, udata: undefined });
});

test('EV_CLEAR is forced on a PROC knote', (t) => {
  const kq = openKqueue(t);
  apply(kq, [proc(process.pid, NOTE_EXEC)]);
  apply(kq, [{ ident: process.pid, filter: EVFILT_PROC, flags: EV_ADD | EV_ENABLE, fflags: NOTE_EXEC }]);
  assert.deepEqual(kq.keventSync(null, 8), []);
  kq.close();
});

// ---- processes that are not our children ---------------------------------------------------

test('another process\'s exit is seen in /proc, with a zombie\'s status', async (t) => {
  const kq = openKqueue(t);
  // The grandchild's parent becomes `sleep`, which never reaps it: once killed, it stays a zombie.
  const c = sh(t, '(exec sleep 30) & echo $!; exec sleep 30');
  const pid = Number(await firstLine(c));
  reap(t, pid);
  apply(kq, [proc(pid, NOTE_EXIT, EV_ADD, 'g')]);
  assert.equal(procPollState().polled, 1);
  assert.deepEqual(kq.keventSync(null, 8), []);
  await untilRuns(c.pid!, 'sleep'); // the shell no longer reaps its children
  process.kill(pid, 'SIGTERM');
  const ev = (await harvest(kq, (a) => a.length >= 1))[0]!;
  assert.equal(ev.ident, pid);
  assert.equal(ev.fflags, NOTE_EXIT);
  assert.equal(ev.flags, EV_ADD | EXIT_FLAGS);
  assert.equal(ev.data, 15, 'the zombie shows it was killed by SIGTERM');
});

test('a zombie that is not ours: NOTE_EXIT is pending at once with its status; without it, ESRCH', async (t) => {
  const kq = openKqueue(t);
  // The subshell exits once its parent is `sleep` (a shell would reap it).
  const c = sh(t, '(sleep 0.1; exit 3) & echo $!; exec sleep 30');
  const pid = Number(await firstLine(c));
  await untilZombie(pid);
  assert.equal(receiptErrno(kq, proc(pid, NOTE_FORK)), ESRCH);
  apply(kq, [proc(pid, NOTE_EXIT)]);
  const evs = kq.keventSync(null, 8);
  assert.deepEqual(evs.map((e) => [e.ident, e.fflags, e.flags, e.data]), [[pid, NOTE_EXIT, EV_ADD | EXIT_FLAGS, 768]]);
});

test('a reused pid is never mistaken for the old process: the start time is compared', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'sleep 30 & echo $!; wait');
  const pid = Number(await firstLine(c));
  reap(t, pid);
  apply(kq, [proc(pid, NOTE_EXIT)]);
  const src = procSourceOf(pid)!;
  // Make the source believe it watched a process that started at another time, as a process
  // whose pid was later reused would look: the next poll must see "not the same process".
  (src as { start: number }).start += 1;
  procPollNow();
  const ev = (await harvest(kq, (a) => a.length >= 1))[0]!;
  assert.equal(ev.ident, pid);
  assert.equal(ev.flags & EV_EOF, EV_EOF);
  assert.equal(ev.data, 0, 'the status of a process that is gone is unknown: 0');
  assert.ok(stateOf(pid) !== null && stateOf(pid) !== 'Z', 'the process with that pid is alive: the knote took it for another');
});

// ---- fork, exec, NOTE_TRACK ----------------------------------------------------------------

test('NOTE_FORK, NOTE_EXEC and NOTE_TRACK on a shell that forks and execs', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'read x; sleep 0.3 & exec sleep 0.5');
  apply(kq, [proc(c, NOTE_EXIT | NOTE_FORK | NOTE_EXEC | NOTE_TRACK, EV_ADD, 'tree')]);
  go(c);
  const all = await harvest(kq, (a) => a.some((e) => e.ident === c && isExit(e)));
  const parent = all.filter((e) => e.ident === c);
  const kids = all.filter((e) => e.ident !== c);
  const parentNotes = parent.reduce((f, e) => (f | e.fflags) >>> 0, 0);
  assert.equal((parentNotes & (NOTE_FORK | NOTE_EXEC | NOTE_EXIT)) >>> 0, (NOTE_FORK | NOTE_EXEC | NOTE_EXIT) >>> 0, JSON.stringify(all.map(show)));
  assert.equal(parentNotes & NOTE_TRACKERR, 0);
  for (const e of parent) assert.equal(e.data, 0, 'fork and exec events carry data 0; the exit status 0');
  // Each child got its own knote under its pid: NOTE_CHILD with data = the parent's pid first.
  const childPids = new Set(kids.map((e) => e.ident));
  assert.ok(childPids.size >= 1);
  for (const pid of childPids) {
    const evs = kids.filter((e) => e.ident === pid);
    assert.equal(typeof pid, 'number');
    assert.equal(evs[0]!.fflags & NOTE_CHILD, NOTE_CHILD);
    assert.equal(evs[0]!.data, c.pid);
    assert.equal(evs[0]!.udata, 'tree');
    assert.equal(evs[0]!.flags & (EV_ADD | EV_ENABLE | EV_CLEAR), EV_ADD | EV_ENABLE | EV_CLEAR);
  }
  // `sleep 0.3 &` is a child that exec'd sleep: it ends within the harvest's patience.
  const sleeper = [...childPids].find((pid) => kids.some((e) => e.ident === pid && (e.fflags & NOTE_EXEC)));
  assert.ok(sleeper !== undefined, `a child with NOTE_EXEC: ${JSON.stringify(all.map(show))}`);
  const rest = await harvest(kq, (a) => [...all, ...a].some((e) => e.ident === sleeper && isExit(e)));
  assert.ok([...all, ...rest].some((e) => e.ident === sleeper && isExit(e) && e.data === 0));
});

test('fork then exec before retrieval coalesce into one event', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'read x; sleep 1 & exec sleep 30');
  apply(kq, [proc(c, NOTE_FORK | NOTE_EXEC)]);
  go(c);
  // Wait (reading /proc ourselves) until the shell has forked and exec'd, then poll once.
  const end = Date.now() + 5000;
  while (!readFileSync(`/proc/${c.pid}/stat`, 'latin1').includes('(sleep)')) {
    assert.ok(Date.now() < end, 'the shell never exec\'d');
    await new Promise((r) => setTimeout(r, 5));
  }
  procPollNow();
  const evs = kq.keventSync(null, 8);
  assert.deepEqual(evs.map((e) => [e.ident === c, e.fflags, e.data]), [[true, (NOTE_FORK | NOTE_EXEC) >>> 0, 0]]);
});

test('NOTE_TRACKERR when the child cannot be watched; with NOTE_EXIT its exit comes with NOTE_CHILD', async (t) => {
  const kq = openKqueue(t);
  // Only explicit polls: the scan must meet the child as a zombie, not in its first millisecond.
  const saved = tunables.proc_poll_ms;
  tunables.proc_poll_ms = 60_000;
  t.after(() => { tunables.proc_poll_ms = saved; });
  // The subshell leaves a zombie nobody reaps (its parent becomes sleep): a zombie can only be
  // watched with NOTE_EXIT.
  const a = sh(t, 'read x; (sleep 0.1; exit 4) & echo $!; exec sleep 30');
  const b = sh(t, 'read x; (sleep 0.1; exit 4) & echo $!; exec sleep 30');
  apply(kq, [proc(a, NOTE_FORK | NOTE_TRACK), proc(b, NOTE_FORK | NOTE_TRACK | NOTE_EXIT)]);
  go(a);
  go(b);
  await untilZombie(Number(await firstLine(a)));
  await untilZombie(Number(await firstLine(b)));
  procPollNow();
  const all = await harvest(kq, (evs) => evs.some((e) => e.ident === a && (e.fflags & NOTE_TRACKERR))
    && evs.some((e) => typeof e.ident === 'number' && (e.fflags & NOTE_CHILD)));
  const errA = all.find((e) => e.ident === a && (e.fflags & NOTE_TRACKERR))!;
  assert.equal(errA.fflags & NOTE_FORK, NOTE_FORK);
  const kid = all.find((e) => typeof e.ident === 'number' && (e.fflags & NOTE_CHILD))!;
  assert.equal(kid.fflags, (NOTE_CHILD | NOTE_EXIT) >>> 0);
  assert.equal(kid.data, 4 << 8, 'the zombie child\'s status replaces the parent pid, as in the reference');
  assert.equal(kid.flags & EXIT_FLAGS, EXIT_FLAGS);
  assert.ok(!all.some((e) => e.ident === b && (e.fflags & NOTE_TRACKERR)));
});

// ---- nothing is left behind -------------------------------------------------------------------

test('a process watching processes exits by itself, with or without close()', async (t) => {
  for (const close of [true, false]) {
    const res = await runNode(t, `
      import { spawn } from 'node:child_process';
      import { kqueue, EVFILT_PROC, EV_ADD, NOTE_EXIT, NOTE_FORK, NOTE_EXEC, NOTE_TRACK } from ${JSON.stringify(LIBRARY)};
      const kq = kqueue();
      const child = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
      child.unref();
      const all = NOTE_EXIT | NOTE_FORK | NOTE_EXEC | NOTE_TRACK;
      kq.keventSync([{ ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: all },
                     { ident: child.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT },
                     { ident: process.ppid, filter: EVFILT_PROC, flags: EV_ADD, fflags: all }], 0);
      ${close ? 'kq.close();' : ''}
      console.log(child.pid);
    `, undefined, 10_000);
    assert.equal(res.signal, null, 'it exited on its own, not killed by the timeout');
    assert.equal(res.code, 0, res.stderr);
    process.kill(Number(res.stdout.trim()), 'SIGKILL');
  }
});
