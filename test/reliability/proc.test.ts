// EVFILT_PROC under faults (issue 10, scope 1, "processes"), on real processes: SIGKILL, a
// registration racing the exit, zombies, a pid reused after exit (forced in a pid namespace) and
// a fork bomb under NOTE_TRACK. The outcome of each is documented in docs/filters/proc.md, Faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import {
  EMFILE, ENOENT, ESRCH, EV_ADD, EV_CLEAR, EV_DELETE, EV_EOF, EV_NODATA, EV_ONESHOT, EV_RECEIPT,
  EVFILT_PROC, EVFILT_USER, NOTE_CHILD, NOTE_EXEC, NOTE_EXIT, NOTE_FORK, NOTE_TRACK, NOTE_TRACKERR,
  NOTE_TRIGGER, type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { engineOf } from '../../src/kqueue.js';
import { procPollState } from '../../src/filters/proc.js';
import { openKqueue } from '../support/open.js';
import { exited, LIBRARY, libraryModule, runNode, stateOf } from '../support/child.js';
import { change, receiptErrno } from '../support/changes.js';

type TestContext = { after(fn: () => void): void; diagnostic(msg: string): void };

const EXIT_FLAGS = EV_EOF | EV_NODATA | EV_ONESHOT | EV_CLEAR;
const IDLE = { sources: 0, polled: 0, timer: false, table: false };

function proc(ident: unknown, fflags: number, flags = EV_ADD, udata?: unknown): KEventInit {
  return { ident: ident as KEventInit['ident'], filter: EVFILT_PROC, flags, fflags, udata };
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  change(kq, ...changes);
}


/** How many knotes the kqueue holds, of every filter. */
function knoteCount(kq: Kqueue): number {
  let n = 0;
  for (const table of engineOf(kq).knotes) n += table?.all().length ?? 0;
  return n;
}

/** A process running `argv`, killed when the test ends if it still runs. */
function start(t: TestContext, argv: string[]): ChildProcess {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  return c;
}

const sh = (t: TestContext, script: string): ChildProcess => start(t, ['sh', '-c', script]);

/** Kills `pid` when the test ends (a grandchild left behind). */
function reap(t: TestContext, pid: number): void {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
}

/** The child's stdout, line by line: `next()` resolves with the next line. */
function lines(c: ChildProcess): { next(): Promise<string> } {
  const queue: string[] = [];
  let waiting: ((line: string) => void) | null = null;
  let partial = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      queue.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    if (waiting !== null && queue.length > 0) {
      const w = waiting;
      waiting = null;
      w(queue.shift()!);
    }
  });
  return {
    next: () => new Promise((resolve, reject) => {
      if (queue.length > 0) return resolve(queue.shift()!);
      const timer = setTimeout(() => reject(new Error('no line from the child within 10 s')), 10_000);
      waiting = (line) => { clearTimeout(timer); resolve(line); };
    }),
  };
}



/** Spins (without letting the event loop turn, so libuv reaps nothing) until every pid is a zombie. */
function spinUntilZombies(pids: number[]): void {
  const end = Date.now() + 5000;
  while (!pids.every((pid) => stateOf(pid) === 'Z')) {
    assert.ok(Date.now() < end, `never zombies: ${pids.map(stateOf).join(',')}`);
  }
}

/** Harvests until `done` says every expected event is in; fails after 5 s without any event. */
async function harvest(kq: Kqueue, done: (all: KEvent[]) => boolean, all: KEvent[] = []): Promise<KEvent[]> {
  while (!done(all)) {
    const evs = await kq.kevent(null, 256, 5000);
    assert.ok(evs.length > 0, `timed out; so far ${all.length} events: ${JSON.stringify(all.slice(-20).map(show))}`);
    all.push(...evs);
  }
  return all;
}

function show(e: KEvent): unknown {
  return { ident: typeof e.ident === 'object' ? 'ChildProcess' : e.ident, flags: e.flags, fflags: e.fflags, data: e.data, udata: e.udata };
}

const isExit = (e: KEvent): boolean => (e.flags & EV_EOF) !== 0;

/**
 * Proves nothing else is queued for `kq`: a user event triggered now comes after anything already
 * pending, so the batch that holds it holds everything that was.
 */
async function fence(kq: Kqueue): Promise<KEvent[]> {
  const id = Symbol('fence');
  apply(kq, [{ ident: id, filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER }]);
  const evs = await kq.kevent(null, 256, 5000);
  const at = evs.findIndex((e) => e.ident === id);
  assert.ok(at >= 0, 'the fence came back');
  return evs.filter((e) => e.ident !== id);
}

// ---- SIGKILL --------------------------------------------------------------------------------

test('SIGKILL: data 9 for a ChildProcess, its pid, a polled child and a zombie that is not ours', async (t) => {
  const kq = openKqueue(t);
  const own = start(t, ['sleep', '30']);
  const polled = start(t, ['sleep', '30']);
  // The grandchild's parent becomes `sleep`, which never reaps it: killed, it stays a zombie.
  const holder = sh(t, '(exec sleep 30) & echo $!; exec sleep 30');
  const grandchild = Number(await lines(holder).next());
  reap(t, grandchild);
  while (!readFileSync(`/proc/${holder.pid}/stat`, 'latin1').includes('(sleep)')) await new Promise((r) => setTimeout(r, 5));
  apply(kq, [proc(own, NOTE_EXIT, EV_ADD, 'own'), proc(own.pid, NOTE_EXIT, EV_ADD, 'own pid'),
    proc(polled, NOTE_EXIT | NOTE_FORK | NOTE_EXEC | NOTE_TRACK, EV_ADD, 'polled'),
    proc(grandchild, NOTE_EXIT, EV_ADD, 'grandchild')]);
  for (const pid of [own.pid!, polled.pid!, grandchild]) process.kill(pid, 'SIGKILL');
  const evs = await harvest(kq, (all) => all.filter(isExit).length >= 4);
  assert.deepEqual(evs.map((e) => [e.udata, e.flags, e.fflags, e.data]).sort(), [
    ['grandchild', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 9],
    ['own pid', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 9],
    ['own', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 9],
    ['polled', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 9],
  ].sort());
  assert.equal(stateOf(grandchild), 'Z', 'the status came from the zombie, which is still there');
  assert.equal(knoteCount(kq), 0, 'every knote went with its exit');
  assert.deepEqual(procPollState(), IDLE);
});

// ---- registration racing the exit -----------------------------------------------------------

test('a child reaped by Node whose exit is not yet emitted: NOTE_EXIT gives its status, not ESRCH', async (t) => {
  // libuv reaps every exited child, then runs their exit callbacks one by one: in the first
  // child's 'exit', the second is gone from /proc but Node has not told its status yet.
  const kq = openKqueue(t);
  const first = sh(t, 'exit 1');
  const second = sh(t, 'exit 6');
  const third = sh(t, 'exit 7');
  spinUntilZombies([first.pid!, second.pid!, third.pid!]);
  const seen: unknown[] = [];
  first.once('exit', () => {
    seen.push(stateOf(second.pid!), second.exitCode);
    seen.push(receiptErrno(kq, proc(second, NOTE_EXIT, EV_ADD, 'child')), receiptErrno(kq, proc(second.pid, NOTE_EXIT, EV_ADD, 'pid')));
    seen.push(receiptErrno(kq, proc(third, NOTE_FORK)), receiptErrno(kq, proc(third.pid, NOTE_EXEC)));
  });
  await Promise.all([exited(first), exited(second), exited(third)]);
  assert.deepEqual(seen, [null, null, 0, 0, ESRCH, ESRCH], 'gone from /proc, exit not emitted: attached; without NOTE_EXIT: ESRCH');
  const evs = await harvest(kq, (all) => all.length >= 2);
  assert.deepEqual(evs.map((e) => [e.udata, e.flags, e.fflags, e.data]).sort(), [
    ['child', EV_ADD | EV_RECEIPT | EXIT_FLAGS, NOTE_EXIT, 6 << 8], ['pid', EV_ADD | EV_RECEIPT | EXIT_FLAGS, NOTE_EXIT, 6 << 8]].sort());
  assert.deepEqual(await fence(kq), [], 'delivered once');
  assert.equal(knoteCount(kq), 0);
  assert.deepEqual(procPollState(), IDLE);
});

test('a child that exited but is not reaped yet (a zombie of ours): its exit is pending at once, exactly once', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'exit 5');
  spinUntilZombies([c.pid!]);
  // Still in the same turn: libuv has not reaped it, Node has not emitted 'exit'.
  assert.equal(c.exitCode, null);
  assert.equal(receiptErrno(kq, proc(c, NOTE_FORK)), ESRCH, 'a zombie without NOTE_EXIT');
  apply(kq, [proc(c, NOTE_EXIT, EV_ADD, 'child'), proc(c.pid, NOTE_EXIT | NOTE_FORK, EV_ADD, 'pid')]);
  const now = kq.keventSync(null, 8);
  assert.deepEqual(now.map((e) => [e.udata, e.flags, e.fflags, e.data]), [
    ['child', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 5 << 8], ['pid', EV_ADD | EXIT_FLAGS, NOTE_EXIT, 5 << 8]],
  'the status read from the zombie');
  await exited(c);
  assert.deepEqual(await fence(kq), [], 'Node\'s own exit later adds nothing');
  assert.equal(knoteCount(kq), 0);
});

test('a process that is not ours, already reaped by its parent: ESRCH (unless its pid was taken since)', async (t) => {
  const kq = openKqueue(t);
  const c = sh(t, 'sh -c "exit 3" & echo $!; wait; echo reaped; read x');
  const out = lines(c);
  const pid = Number(await out.next());
  assert.equal(await out.next(), 'reaped');
  const errno = receiptErrno(kq, proc(pid, NOTE_EXIT));
  // Linux may hand the pid to a new process at any moment (pid_max is small): then the change
  // watches that process, and nothing in /proc says it is not the old one. It has to be there.
  if (errno !== ESRCH) {
    assert.equal(errno, 0);
    assert.ok(existsSync(`/proc/${pid}`), 'attached: the pid belongs to a new process');
    t.diagnostic(`pid ${pid} was reused before the registration`);
  }
  c.stdin!.end('\n');
});

test('200 grandchildren registered as they exit: each registration is ESRCH or ends with an exit, never silence', async (t) => {
  const kq = openKqueue(t);
  // Each `(exit 3) &` ends at once; its shell reaps it at any time (at the latest at `wait`).
  const c = sh(t, 'i=0; while [ $i -lt 200 ]; do (exit 3) & echo $!; i=$((i+1)); done; wait; echo done');
  const out = lines(c);
  const attached = new Set<number>();
  let esrch = 0;
  for (;;) {
    const line = await out.next();
    if (line === 'done') break;
    const pid = Number(line);
    const errno = receiptErrno(kq, proc(pid, NOTE_EXIT));
    if (errno === ESRCH) esrch++;
    else {
      assert.equal(errno, 0);
      attached.add(pid);
    }
  }
  assert.equal(esrch + attached.size, 200);
  const evs = await harvest(kq, (all) => all.length >= attached.size);
  for (const e of evs) {
    assert.ok(attached.has(e.ident as number), `an exit for a pid that was registered: ${String(e.ident)}`);
    assert.equal(e.flags, EV_ADD | EV_RECEIPT | EXIT_FLAGS);
    // Seen as a zombie: its status; seen after its shell reaped it: unknown, 0.
    assert.ok(e.data === 3 << 8 || e.data === 0, `status ${e.data}`);
  }
  assert.equal(new Set(evs.map((e) => e.ident)).size, attached.size, 'one exit per attached knote');
  assert.deepEqual(await fence(kq), []);
  assert.equal(knoteCount(kq), 0);
  assert.deepEqual(procPollState(), IDLE);
  t.diagnostic(`${esrch} ESRCH (already reaped), ${attached.size} attached and seen to exit, ` +
    `${evs.filter((e) => e.data !== 0).length} of them with the zombie's status`);
});

// ---- zombies --------------------------------------------------------------------------------

test('a zombie: its exit fires once while it lingers; new NOTE_EXIT knotes fire at once; reaping it adds nothing', async (t) => {
  const kq = openKqueue(t);
  // An asynchronous list reads /dev/null, so the subshell gets the pipe as fd 3: it exits on our word.
  const holder = sh(t, 'exec 3<&0; (read x <&3; exit 9) & echo $!; exec sleep 30 3<&-');
  const pid = Number(await lines(holder).next());
  reap(t, pid);
  while (!readFileSync(`/proc/${holder.pid}/stat`, 'latin1').includes('(sleep)')) await new Promise((r) => setTimeout(r, 5));
  apply(kq, [proc(pid, NOTE_EXIT | NOTE_FORK | NOTE_EXEC, EV_ADD, 'alive')]);
  holder.stdin!.end('go\n');
  const [ev] = await harvest(kq, (all) => all.length >= 1);
  assert.deepEqual(show(ev!), { ident: pid, flags: EV_ADD | EXIT_FLAGS, fflags: NOTE_EXIT, data: 9 << 8, udata: 'alive' });
  assert.equal(stateOf(pid), 'Z');
  assert.equal(receiptErrno(kq, proc(pid, 0, EV_DELETE)), ENOENT, 'the exit took the knote');
  assert.equal(receiptErrno(kq, proc(pid, NOTE_FORK | NOTE_TRACK)), ESRCH, 'a zombie without NOTE_EXIT');
  apply(kq, [proc(pid, NOTE_EXIT, EV_ADD, 'again'), proc(pid, NOTE_EXIT | NOTE_TRACK, EV_ADD, 'modified')]);
  assert.deepEqual(kq.keventSync(null, 8).map(show), [{ ident: pid, flags: EV_ADD | EXIT_FLAGS, fflags: NOTE_EXIT, data: 9 << 8, udata: 'modified' }],
    'pending at once; the second change met the knote that had already exited and gave it its udata: one event');
  assert.equal(knoteCount(kq), 0);
  // Its parent dies (init will reap it). Nothing is watching, nothing fires.
  holder.kill('SIGKILL');
  await exited(holder);
  assert.deepEqual(await fence(kq), []);
  assert.deepEqual(procPollState(), IDLE);
});

// ---- pid reuse ------------------------------------------------------------------------------

test('a pid reused after exit (forced in a pid namespace): the old knote gets the old exit, never the new process\'s events', async (t) => {
  // In a new pid namespace the child Node is pid 1 and writing ns_last_pid picks the next pid, so
  // the reuse is certain rather than waited for.
  const script = `
    import { spawn } from 'node:child_process';
    import { existsSync, readFileSync, writeFileSync } from 'node:fs';
    import { kqueue, tunables, EVFILT_PROC, EV_ADD, NOTE_EXIT, NOTE_FORK, NOTE_EXEC } from ${JSON.stringify(LIBRARY)};
    import { procPollNow, procPollState } from ${JSON.stringify(libraryModule('./filters/proc.js'))};
    tunables.proc_poll_ms = 2 ** 30; // polls only when this script says so
    const ALL = NOTE_EXIT | NOTE_FORK | NOTE_EXEC;
    const kq = kqueue();
    const out = {};
    const firstLine = (c) => new Promise((res) => { let b = ''; c.stdout.setEncoding('utf8').on('data', (d) => { b += d; if (b.includes('\\n')) res(b.slice(0, b.indexOf('\\n'))); }); });
    const exited = (c) => new Promise((res) => (c.exitCode !== null || c.signalCode !== null) ? res() : c.once('exit', res));
    const evs = () => kq.keventSync(null, 16).map((e) => [e.udata, e.flags, e.fflags, e.data]);
    const later = async (cond) => { const end = Date.now() + 5000; while (!cond()) { if (Date.now() > end) throw new Error('timeout'); await new Promise((r) => setTimeout(r, 5)); } };
    const comm = (pid) => { try { return readFileSync('/proc/' + pid + '/comm', 'latin1').trim(); } catch { return null; } };
    /** A grandchild (not ours), reaped by its shell when killed; the shell then exits. */
    async function grandchild() {
      const s = spawn('sh', ['-c', 'sleep 1000 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
      return { shell: s, pid: Number(await firstLine(s)) };
    }
    /** Our child, given exactly pid \`pid\`: it forks and execs once told to. */
    function takePid(pid) {
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
      return spawn('sh', ['-c', 'read x; sleep 1000 & exec sleep 1000'], { stdio: ['pipe', 'ignore', 'inherit'] });
    }

    // 1. The poller meets the reuse.
    const a = await grandchild();
    kq.keventSync([{ ident: a.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: ALL, udata: 'old' }], 0);
    process.kill(a.pid, 'SIGKILL');
    await exited(a.shell);
    out.goneA = !existsSync('/proc/' + a.pid);
    const b = takePid(a.pid);
    out.reusedA = b.pid === a.pid;
    procPollNow();
    out.oldA = evs();
    kq.keventSync([{ ident: a.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: ALL, udata: 'new' }], 0);
    b.stdin.end('go\\n');
    await later(() => comm(b.pid) === 'sleep' && existsSync('/proc/' + (b.pid + 1)));
    procPollNow();
    out.forkExecB = evs();
    b.kill('SIGKILL');
    await exited(b);
    out.exitB = evs();

    // 2. A registration (in another kqueue) meets the reuse before any poll.
    const kq2 = kqueue();
    const c = await grandchild();
    kq.keventSync([{ ident: c.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, udata: 'old' }], 0);
    process.kill(c.pid, 'SIGKILL');
    await exited(c.shell);
    const d = takePid(c.pid);
    out.reusedC = d.pid === c.pid;
    kq2.keventSync([{ ident: c.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, udata: 'new' }], 0);
    out.oldC = evs();
    out.newC = kq2.keventSync(null, 8).length;
    d.kill('SIGTERM');
    await exited(d);
    out.exitD = kq2.keventSync(null, 8).map((e) => [e.udata, e.flags, e.fflags, e.data]);
    out.afterD = evs();

    // 3. EV_ADD on the same knote before any poll modifies the old knote: it reports the old exit.
    const e = await grandchild();
    kq.keventSync([{ ident: e.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, udata: 'old' }], 0);
    process.kill(e.pid, 'SIGKILL');
    await exited(e.shell);
    const f = takePid(e.pid);
    out.reusedE = f.pid === e.pid;
    kq.keventSync([{ ident: e.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: ALL, udata: 'modified' }], 0);
    f.stdin.end('go\\n');
    await later(() => comm(f.pid) === 'sleep' && existsSync('/proc/' + (f.pid + 1)));
    procPollNow();
    out.oldE = evs();
    f.kill('SIGKILL');
    await exited(f);
    out.afterF = evs();
    kq.close();
    kq2.close();
    out.idle = procPollState();
    for (const pid of [b.pid + 1, f.pid + 1]) try { process.kill(pid, 'SIGKILL'); } catch {}
    console.log(JSON.stringify(out));
  `;
  const res = await runNode(t, script, undefined, 30_000, { wrap: ['unshare', '--fork', '--pid', '--kill-child', '--mount-proc'] });
  assert.equal(res.code, 0, `${res.code}/${res.signal}: ${res.stderr}`);
  const out = JSON.parse(res.stdout) as Record<string, unknown>;
  const exitOf = (udata: string, data: number): unknown[] => [udata, EV_ADD | EXIT_FLAGS, NOTE_EXIT, data];
  assert.equal(out.goneA, true);
  assert.equal(out.reusedA, true, 'the new child got the old pid');
  assert.deepEqual(out.oldA, [exitOf('old', 0)], 'the old knote: the old process\'s exit (status unknown once reaped), no fork or exec');
  assert.deepEqual(out.forkExecB, [['new', EV_ADD | EV_CLEAR, (NOTE_FORK | NOTE_EXEC) >>> 0, 0]], 'a new knote watches the new process');
  assert.deepEqual(out.exitB, [exitOf('new', 9)]);
  assert.equal(out.reusedC, true);
  assert.deepEqual(out.oldC, [exitOf('old', 0)], 'the old knote is told as the new registration meets the dead source');
  assert.equal(out.newC, 0, 'the new knote watches the new process, which runs');
  assert.deepEqual(out.exitD, [exitOf('new', 15)], 'the new knote gets the new process\'s exit, with its status');
  assert.deepEqual(out.afterD, [], 'and the old kqueue nothing');
  assert.equal(out.reusedE, true);
  assert.deepEqual(out.oldE, [exitOf('modified', 0)], 'the modified old knote: the old exit at the next poll, none of the new process\'s fork or exec');
  assert.deepEqual(out.afterF, [], 'it went with that exit: the new process was never watched by it');
  assert.deepEqual(out.idle, IDLE);
});

// ---- fork bomb under NOTE_TRACK ---------------------------------------------------------------

/**
 * A parent that forks 200 children at once when told; each lives 0-30 ms and exits with its pid
 * mod 256. The parent reaps them only when told, so each child is visible in /proc (running or a
 * zombie) until then and every fork can be seen.
 */
const BOMB = `
  use POSIX ();
  $| = 1;
  my $go = <STDIN>;
  my @kids;
  for (1 .. 200) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) { select(undef, undef, undef, rand(0.03)); POSIX::_exit($$ % 256); }
    push @kids, $pid;
  }
  print "forked\\n";
  my $reap = <STDIN>;
  waitpid($_, 0) for @kids;
  exit 0;
`;

test('a fork bomb of 200 short children under NOTE_TRACK: 200 NOTE_CHILD knotes, 200 exits with their statuses, no knote left', async (t) => {
  const kq = openKqueue(t);
  const c = start(t, ['perl', '-e', BOMB]);
  const out = lines(c);
  apply(kq, [proc(c, NOTE_EXIT | NOTE_FORK | NOTE_TRACK, EV_ADD, 'bomb')]);
  c.stdin!.write('go\n');
  assert.equal(await out.next(), 'forked');
  const kids = new Map<number, KEvent[]>();
  const parentEvents: KEvent[] = [];
  const all = await harvest(kq, (evs) => {
    for (const e of evs.splice(0)) {
      if (e.ident === c) {
        parentEvents.push(e);
        continue;
      }
      const list = kids.get(e.ident as number) ?? [];
      list.push(e);
      kids.set(e.ident as number, list);
    }
    return kids.size >= 200 && [...kids.values()].every((l) => l.some(isExit));
  });
  assert.equal(all.length, 0);
  assert.equal(kids.size, 200);
  assert.ok(parentEvents.some((e) => e.fflags & NOTE_FORK), 'the parent\'s NOTE_FORK');
  c.stdin!.end('reap\n');
  const rest = await harvest(kq, (evs) => evs.some((e) => e.ident === c && isExit(e)));
  for (const e of rest) {
    if (e.ident === c) parentEvents.push(e);
    else assert.fail(`an event for a child after its exit: ${JSON.stringify(show(e))}`);
  }
  let asZombie = 0;
  for (const [pid, evs] of kids) {
    assert.equal(evs[0]!.fflags & NOTE_CHILD, NOTE_CHILD, `pid ${pid}: NOTE_CHILD first`);
    assert.equal(evs[0]!.udata, 'bomb');
    assert.equal(evs.filter(isExit).length, 1, `pid ${pid}: one exit`);
    const exit = evs[evs.length - 1]!;
    assert.ok(isExit(exit), `pid ${pid}: the exit is its last event`);
    assert.equal(exit.data, (pid % 256) << 8, `pid ${pid}: its own status`);
    assert.equal((exit.fflags & NOTE_EXIT) >>> 0, NOTE_EXIT);
    if (evs.length === 1) asZombie++;
    else assert.equal(evs[0]!.data, c.pid, `pid ${pid}: NOTE_CHILD's data is the parent's pid`);
  }
  const parentExit = parentEvents[parentEvents.length - 1]!;
  assert.equal(parentExit.data, 0);
  for (const e of parentEvents) assert.equal(e.fflags & NOTE_TRACKERR, 0, 'every child could be watched');
  assert.deepEqual(await fence(kq), []);
  assert.equal(knoteCount(kq), 0, 'no knote left');
  assert.deepEqual(procPollState(), IDLE);
  t.diagnostic(`${200 - asZombie} children seen running, ${asZombie} first seen as zombies`);
});

test('NOTE_TRACK on 200 children reaped as they end: every child seen gets its exit, none is left', async (t) => {
  // `true` runs for about a millisecond and its shell reaps it at once: most of them are born
  // and gone between two polls and are never seen (no NOTE_FORK, no knote: documented). What is
  // seen must end.
  const kq = openKqueue(t);
  const c = sh(t, 'read x; i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done');
  apply(kq, [proc(c, NOTE_EXIT | NOTE_FORK | NOTE_TRACK, EV_ADD, 'loop')]);
  c.stdin!.end('go\n');
  const all = await harvest(kq, (evs) => evs.some((e) => e.ident === c && isExit(e)));
  const kids = new Set(all.filter((e) => e.ident !== c && (e.fflags & NOTE_CHILD)).map((e) => e.ident));
  await harvest(kq, (evs) => [...kids].every((pid) => evs.some((e) => e.ident === pid && isExit(e))), all);
  for (const pid of kids) assert.equal(all.filter((e) => e.ident === pid && isExit(e)).length, 1);
  assert.deepEqual(await fence(kq), []);
  assert.equal(knoteCount(kq), 0);
  assert.deepEqual(procPollState(), IDLE);
  const trackerr = all.some((e) => e.ident === c && (e.fflags & NOTE_TRACKERR));
  t.diagnostic(`${kids.size} of 200 children seen, NOTE_TRACKERR ${trackerr}`);
});

// ---- the descriptor limit ------------------------------------------------------------------

test('the descriptor limit reached: a registration is EMFILE (not ESRCH), the knotes already there keep working', async (t) => {
  const res = await runNode(t, `
    import { closeSync, openSync } from 'node:fs';
    import { spawn } from 'node:child_process';
    import { kqueue, EVFILT_PROC, EVFILT_USER, EV_ADD, EV_CLEAR, EV_RECEIPT, NOTE_EXIT, NOTE_TRIGGER } from ${JSON.stringify(LIBRARY)};
    const kq = kqueue();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    kq.keventSync([{ ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT, udata: 'child' },
                   { ident: 'w', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, udata: 'witness' }], 0);
    const held = [];
    const fill = () => { try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (e) { return e.code; } };
    const errno = () => kq.keventSync([{ ident: process.ppid, filter: EVFILT_PROC, flags: EV_ADD | EV_RECEIPT, fflags: NOTE_EXIT }], 1)[0].data;
    const out = { fill: fill() };
    out.none = errno();
    closeSync(held.pop());
    out.one = errno(); // /proc/<pid>/stat takes the last descriptor; /proc/<pid>/status finds none
    closeSync(held.pop());
    closeSync(held.pop());
    out.three = errno();
    fill();
    kq.keventSync([{ ident: 'w', filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 0);
    child.kill('SIGKILL');
    const got = [];
    while (got.length < 2) for (const e of await kq.kevent(null, 8, 5000)) got.push([e.udata, e.data]);
    out.events = got.sort();
    for (const fd of held) closeSync(fd);
    kq.close();
    console.log(JSON.stringify(out));
  `, undefined, 20_000, { wrap: ['prlimit', '--nofile=256:256'] });
  assert.equal(res.code, 0, `${res.code}/${res.signal}: ${res.stderr}`);
  assert.deepEqual(JSON.parse(res.stdout), { fill: 'EMFILE', none: EMFILE, one: EMFILE, three: 0, events: [['child', 9], ['witness', 0]] });
});

/**
 * A tree under NOTE_TRACK: the parent forks 10 children when told on stdin, each forks 19
 * grandchildren that exit at once, says "ready" and holds them as zombies until it reads its own
 * byte from stdin; it then reaps them and exits with its pid mod 256. The parent holds its
 * children as zombies until it reads a byte from fd 3, then reaps them and exits 0.
 */
const TREE = `
  use POSIX ();
  $| = 1;
  open(my $ctl, '<&=', 3) or die "fd 3: $!";
  sysread(STDIN, my $go, 1) == 1 or die "go";
  my @kids;
  for (1 .. 10) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
      my @g;
      for (1 .. 19) {
        my $g = fork() // POSIX::_exit(99);
        POSIX::_exit($$ % 256) if $g == 0;
        push @g, $g;
      }
      print "ready\\n";
      sysread(STDIN, my $b, 1) == 1 or POSIX::_exit(98);
      waitpid($_, 0) for @g;
      POSIX::_exit($$ % 256);
    }
    push @kids, $pid;
  }
  print "forked\\n";
  sysread($ctl, my $r, 1) == 1 or die "reap";
  waitpid($_, 0) for @kids;
  exit 0;
`;

test('a tree under NOTE_TRACK: 10 children forking 19 grandchildren each, every one tracked by its own parent and seen to exit with its status', async (t) => {
  const kq = openKqueue(t);
  const c = spawn('perl', ['-e', TREE], { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] });
  t.after(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  const out = lines(c);
  apply(kq, [proc(c, NOTE_EXIT | NOTE_FORK | NOTE_TRACK, EV_ADD, 'tree')]);
  c.stdin!.write('g');
  for (let i = 0; i < 11; i++) assert.match(await out.next(), /^(ready|forked)$/);
  const byPid = new Map<number, KEvent[]>();
  const root: KEvent[] = [];
  const sort = (evs: KEvent[]): void => {
    for (const e of evs.splice(0)) {
      if (e.ident === c) root.push(e);
      else byPid.set(e.ident as number, [...(byPid.get(e.ident as number) ?? []), e]);
    }
  };
  const parentOf = (pid: number): number => byPid.get(pid)![0]!.data as number;
  const children = (): number[] => [...byPid.keys()].filter((pid) => byPid.get(pid)![0]!.data === c.pid);
  // Every grandchild is a zombie until its parent reads its byte: all 200 are seen, the 190 exit.
  await harvest(kq, (evs) => {
    sort(evs);
    return byPid.size >= 200 && [...byPid].filter(([, l]) => l.some(isExit)).length >= 190;
  });
  assert.equal(children().length, 10, 'ten knotes made from the root\'s, with its pid');
  c.stdin!.end('0123456789');
  await harvest(kq, (evs) => {
    sort(evs);
    return [...byPid.values()].every((l) => l.some(isExit));
  });
  (c.stdio[3] as NodeJS.WritableStream).end('r');
  await harvest(kq, (evs) => {
    sort(evs);
    return root.some(isExit);
  });
  const kids = children();
  for (const [pid, evs] of byPid) {
    assert.equal(evs[0]!.fflags & NOTE_CHILD, NOTE_CHILD, `pid ${pid}: NOTE_CHILD first`);
    assert.equal(evs.filter(isExit).length, 1, `pid ${pid}: one exit`);
    assert.equal(evs[evs.length - 1]!.data, (pid % 256) << 8, `pid ${pid}: its own status`);
    if (kids.includes(pid)) {
      assert.ok(evs.some((e) => e.fflags & NOTE_FORK), `child ${pid}: its forks were seen`);
      assert.equal(evs.reduce((f, e) => f | e.fflags, 0) & NOTE_TRACKERR, 0);
    }
  }
  const grandchildren = [...byPid.keys()].filter((pid) => !kids.includes(pid));
  assert.equal(grandchildren.length, 190);
  for (const g of grandchildren) {
    const first = byPid.get(g)![0]!;
    // First seen running: data is its parent's pid; first seen as a zombie: its status.
    if (!isExit(first)) assert.ok(kids.includes(parentOf(g)), `grandchild ${g}: tracked from a child`);
  }
  const perChild = new Map(kids.map((k) => [k, 0]));
  for (const g of grandchildren) {
    const first = byPid.get(g)![0]!;
    if (!isExit(first)) perChild.set(parentOf(g), perChild.get(parentOf(g))! + 1);
  }
  assert.ok(root.some((e) => e.fflags & NOTE_FORK));
  assert.equal(root[root.length - 1]!.data, 0);
  assert.deepEqual(await fence(kq), []);
  assert.equal(knoteCount(kq), 0);
  assert.deepEqual(procPollState(), IDLE);
  t.diagnostic(`grandchildren first seen running per child: ${[...perChild.values()].join(' ')}`);
});

test('NOTE_TRACK across the pid wrap (forced in a pid namespace): grandchildren with low pids forked in the tick of their high-pid parent are all tracked', async (t) => {
  // The scan orders new processes by start time (clock ticks), then pid: across the wrap a
  // child sorted before its parent, whose knote did not exist yet, and was never tracked.
  const script = `
    import { spawn } from 'node:child_process';
    import { readFileSync, writeFileSync } from 'node:fs';
    import { kqueue, EVFILT_PROC, EV_ADD, EV_EOF, NOTE_EXIT, NOTE_FORK, NOTE_TRACK, NOTE_CHILD } from ${JSON.stringify(LIBRARY)};
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1'));
    const TREE = 'use POSIX (); $| = 1; sysread(STDIN, my $go, 1); my $c = fork() // die;'
      + ' if ($c == 0) { my @g; for (1 .. 5) { my $g = fork() // POSIX::_exit(99); POSIX::_exit(7) if $g == 0; push @g, $g; }'
      + ' print "@g\\\\n"; sysread(STDIN, my $b, 1); waitpid($_, 0) for @g; POSIX::_exit(3); }'
      + ' waitpid($c, 0); exit 0;';
    const rounds = [];
    for (let round = 0; round < 5; round++) {
      const kq = kqueue();
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(max - 3));
      const p = spawn('perl', ['-e', TREE], { stdio: ['pipe', 'pipe', 'inherit'] });
      kq.keventSync([{ ident: p, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT | NOTE_FORK | NOTE_TRACK }], 0);
      const line = new Promise((res) => { let b = ''; p.stdout.setEncoding('utf8').on('data', (d) => { b += d; if (b.includes('\\n')) res(b.trim()); }); });
      p.stdin.write('g');
      const grandchildren = (await line).split(' ').map(Number);
      const tracked = new Set();
      // Each grandchild stays a zombie until its parent reads a byte: every one can be seen.
      while (!grandchildren.every((g) => tracked.has(g))) {
        const evs = await kq.kevent(null, 64, 5000);
        if (evs.length === 0) break;
        for (const e of evs) if (e.fflags & NOTE_CHILD) tracked.add(e.ident);
      }
      p.stdin.end('x');
      let exited = false;
      while (!exited) {
        const evs = await kq.kevent(null, 64, 5000);
        if (evs.length === 0) break;
        exited = evs.some((e) => e.ident === p && (e.flags & EV_EOF));
      }
      rounds.push({ parent: p.pid, grandchildren, missed: grandchildren.filter((g) => !tracked.has(g)), exited });
      kq.close();
    }
    console.log(JSON.stringify(rounds));
  `;
  const res = await runNode(t, script, undefined, 60_000, { wrap: ['unshare', '--fork', '--pid', '--kill-child', '--mount-proc'] });
  assert.equal(res.code, 0, `${res.code}/${res.signal}: ${res.stderr}`);
  const rounds = JSON.parse(res.stdout) as { parent: number; grandchildren: number[]; missed: number[]; exited: boolean }[];
  for (const r of rounds) {
    assert.ok(r.grandchildren.some((g) => g < r.parent), `the pids wrapped: ${JSON.stringify(r)}`);
    assert.deepEqual(r.missed, [], JSON.stringify(r));
    assert.equal(r.exited, true);
  }
});
