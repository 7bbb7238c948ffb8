// EVFILT_SIGNAL on real signals sent to this process and to child Node processes (digest 3.9,
// edge cases 16, 36, 108, 109; api.md: idents in host numbering or by name, dispositions kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  EINVAL, EV_ADD, EV_CLEAR, EV_DELETE, EV_ERROR, EV_RECEIPT, EVFILT_SIGNAL, KqueueError,
  type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { signalSourceOf } from '../../src/filters/signal.js';
import { openKqueue } from '../support/open.js';
import { LIBRARY, runNode } from '../support/child.js';
import { counting } from '../support/signals.js';

const SIG = os.constants.signals;

// Node 24's test runner starts test files with --report-on-signal (SIGUSR2): every SIGUSR2 sent
// here would write a diagnostic report into the working directory.
process.report.reportOnSignal = false;

function sig(ident: KEventInit['ident'], flags = EV_ADD): KEventInit {
  return { ident, filter: EVFILT_SIGNAL, flags };
}

function one(evs: KEvent[]): KEvent {
  assert.equal(evs.length, 1, `expected one event, got ${JSON.stringify(evs)}`);
  return evs[0]!;
}

function apply(kq: Kqueue, changes: KEventInit[]): void {
  assert.deepEqual(kq.keventSync(changes, 0), []);
}

// ---- counting -------------------------------------------------------------------------------

test('SIGUSR2 sent 3 times to an ignoring process gives one event with data 3, then nothing', async (t) => {
  const user = counting(t, 'SIGUSR2');
  const kq = openKqueue(t);
  apply(kq, [{ ...sig('SIGUSR2'), udata: 'u' }]);
  for (let i = 0; i < 3; i++) process.kill(process.pid, 'SIGUSR2');
  await user.seen(3);
  const ev = one(kq.keventSync(null, 8));
  assert.deepEqual(ev, { ident: 'SIGUSR2', filter: EVFILT_SIGNAL, flags: EV_ADD | EV_CLEAR, fflags: 0, data: 3, udata: 'u' });
  assert.deepEqual(kq.keventSync(null, 8), [], 'EV_CLEAR: the count restarts from 0');
});

test('an awaited kevent wakes on a signal', async (t) => {
  counting(t, 'SIGUSR2');
  const kq = openKqueue(t);
  apply(kq, [sig(SIG.SIGUSR2!)]);
  setTimeout(() => process.kill(process.pid, 'SIGUSR2'), 20);
  const ev = one(await kq.kevent(null, 8, 5000));
  assert.equal(ev.ident, SIG.SIGUSR2);
  assert.ok((ev.data as number) >= 1);
});

test('EV_CLEAR is forced: each harvest reports the deliveries since the previous one', async (t) => {
  const user = counting(t, 'SIGUSR2');
  const kq = openKqueue(t);
  apply(kq, [sig('SIGUSR2')]);
  process.kill(process.pid, 'SIGUSR2');
  await user.seen(1);
  assert.equal(one(kq.keventSync(null, 8)).data, 1);
  for (let i = 0; i < 5; i++) process.kill(process.pid, 'SIGUSR2');
  await user.seen(6);
  const ev = one(kq.keventSync(null, 8));
  assert.equal(ev.data, 5);
  assert.equal(ev.flags & EV_CLEAR, EV_CLEAR);
});

test('the name and the number are two knotes, both counting; several kqueues each count', async (t) => {
  const user = counting(t, 'SIGUSR2');
  const a = openKqueue(t);
  const b = openKqueue(t);
  apply(a, [sig('SIGUSR2'), sig(SIG.SIGUSR2!)]);
  apply(b, [sig('SIGUSR2')]);
  process.kill(process.pid, 'SIGUSR2');
  process.kill(process.pid, 'SIGUSR2');
  await user.seen(2);
  const evs = a.keventSync(null, 8);
  assert.deepEqual(evs.map((e) => [e.ident, e.data]).sort(), [[SIG.SIGUSR2, 2], ['SIGUSR2', 2]].sort());
  assert.deepEqual(one(b.keventSync(null, 8)).data, 2);
});

test('a disabled knote keeps counting; EV_DELETE drops its count', async (t) => {
  const user = counting(t, 'SIGUSR2');
  const kq = openKqueue(t);
  apply(kq, [sig('SIGUSR2', EV_ADD | 0x0008 /* EV_DISABLE */)]);
  process.kill(process.pid, 'SIGUSR2');
  process.kill(process.pid, 'SIGUSR2');
  await user.seen(2);
  assert.deepEqual(kq.keventSync(null, 8), []);
  apply(kq, [sig('SIGUSR2', 0x0004 /* EV_ENABLE */)]);
  assert.equal(one(kq.keventSync(null, 8)).data, 2);
  process.kill(process.pid, 'SIGUSR2');
  await user.seen(3);
  apply(kq, [sig('SIGUSR2', EV_DELETE)]);
  assert.deepEqual(kq.keventSync(null, 8), []);
});

// ---- idents ---------------------------------------------------------------------------------

test('uncatchable, fault and out-of-range signals are accepted and never fire', async (t) => {
  const user = counting(t, 'SIGUSR2');
  const kq = openKqueue(t);
  const idents: KEventInit['ident'][] = [
    0, -1, 1000, 1.5, 2 ** 40, 2n ** 40n, 64, SIG.SIGKILL!, SIG.SIGSTOP!, 'SIGKILL', 'SIGSTOP', 'SIGSEGV', SIG.SIGBUS!,
  ];
  const out = kq.keventSync(idents.map((ident) => sig(ident, EV_ADD | EV_RECEIPT)), idents.length);
  assert.deepEqual(out.map((e) => [e.flags, e.data]), idents.map(() => [EV_ERROR, 0]));
  apply(kq, [sig('SIGUSR2')]);
  process.kill(process.pid, 'SIGUSR2');
  await user.seen(1);
  // Only SIGUSR2's knote fired; the others are registered (EV_DELETE finds them).
  assert.equal(one(kq.keventSync(null, 32)).ident, 'SIGUSR2');
  const del = kq.keventSync(idents.map((ident) => sig(ident, EV_DELETE | EV_RECEIPT)), idents.length);
  assert.deepEqual(del.map((e) => e.data), idents.map(() => 0));
  assert.equal(signalSourceOf(SIG.SIGKILL!), undefined, 'no listener is attempted for SIGKILL');
});

test('an unknown signal name makes the call malformed: EINVAL, and no change of the call applies', async (t) => {
  const kq = openKqueue(t);
  const isEinval = (e: unknown): boolean => e instanceof KqueueError && e.errno === EINVAL;
  for (const ident of ['SIGNOPE', 'sigusr2', 'USR2', '12', '']) {
    // The valid change before it is not applied: the whole changelist is validated first.
    assert.throws(() => kq.keventSync([sig('SIGUSR2'), sig(ident)], 4), isEinval, ident);
    assert.throws(() => kq.keventSync([sig(ident, EV_DELETE)], 4), isEinval, ident);
    await assert.rejects(kq.kevent([sig(ident)], 4, 0), isEinval, ident);
  }
  assert.equal(kq.keventSync([sig('SIGUSR2', EV_DELETE)], 1)[0]!.data, 2 /* ENOENT: never added */);
  // An ident that is neither a number nor a string is a per-change EINVAL, as for other filters.
  for (const ident of [Symbol('SIGUSR2'), {}]) {
    const out = kq.keventSync([sig(ident as KEventInit['ident'])], 1);
    assert.deepEqual(out, [{ ident, filter: EVFILT_SIGNAL, flags: EV_ERROR, fflags: 0, data: EINVAL, udata: undefined }]);
  }
});

test('signal names cover aliases: SIGIOT and SIGABRT are one signal, two knotes', async (t) => {
  if (SIG.SIGIOT === undefined) return t.skip('this platform has no SIGIOT');
  process.on('SIGABRT', noop);
  t.after(() => { process.removeListener('SIGABRT', noop); });
  const kq = openKqueue(t);
  apply(kq, [sig('SIGIOT'), sig('SIGABRT')]);
  process.kill(process.pid, 'SIGABRT');
  const evs = await kq.kevent(null, 8, 5000);
  assert.ok(evs.length >= 1);
  for (const e of evs) assert.ok(e.ident === 'SIGIOT' || e.ident === 'SIGABRT');
});

function noop(): void {}

// ---- one listener, released with the last knote -------------------------------------------

test('one process listener per signal, shared by every knote, removed with the last one', (t) => {
  const before = process.listenerCount('SIGUSR2');
  const a = openKqueue(t);
  const b = openKqueue(t);
  apply(a, [sig('SIGUSR2'), sig(SIG.SIGUSR2!)]);
  apply(b, [sig('SIGUSR2')]);
  assert.equal(process.listenerCount('SIGUSR2'), before + 1);
  assert.deepEqual(signalSourceOf(SIG.SIGUSR2!), { knotes: 3, listening: true });
  apply(a, [sig('SIGUSR2', EV_DELETE)]);
  a.close();
  assert.equal(process.listenerCount('SIGUSR2'), before + 1);
  b.close();
  assert.equal(process.listenerCount('SIGUSR2'), before);
  assert.equal(signalSourceOf(SIG.SIGUSR2!), undefined);
});

// ---- dispositions, checked in child processes ----------------------------------------------

/** A child that watches `name`, says 'ready', and reports its harvest when told to. */
function watcher(name: string, extra = ''): string {
  return `
    import { kqueue, EVFILT_SIGNAL, EV_ADD } from ${JSON.stringify(LIBRARY)};
    const kq = kqueue();
    kq.keventSync([{ ident: ${JSON.stringify(name)}, filter: EVFILT_SIGNAL, flags: EV_ADD }], 0);
    ${extra}
    console.log('ready');
    const evs = await kq.kevent(null, 8, 3000);
    console.log('events', JSON.stringify(evs.map((e) => [e.ident, e.data])));
    kq.close();
  `;
}

test('SIGTERM still terminates a process whose only SIGTERM listener is a knote', async (t) => {
  const res = await runNode(t, watcher('SIGTERM'), (line, child) => { if (line === 'ready') child.kill('SIGTERM'); });
  assert.equal(res.signal, 'SIGTERM', `the child ended with ${res.code}/${res.signal}: ${res.stdout}${res.stderr}`);
  assert.doesNotMatch(res.stdout, /events/);
});

test('SIGINT and SIGUSR2 keep their default (terminate) too', async (t) => {
  for (const name of ['SIGINT', 'SIGUSR2'] as const) {
    const res = await runNode(t, watcher(name), (line, child) => { if (line === 'ready') child.kill(name); });
    assert.equal(res.signal, name, `${name}: ${res.code}/${res.signal} ${res.stderr}`);
  }
});

test('with an ignoring listener of the user, SIGTERM is counted and the process lives', async (t) => {
  const res = await runNode(t, watcher('SIGTERM', "process.on('SIGTERM', () => {});"),
    (line, child) => { if (line === 'ready') child.kill('SIGTERM'); });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /events \[\["SIGTERM",1\]\]/);
});

test('signals ignored by default (SIGWINCH, SIGCHLD, SIGPIPE) are counted and stay harmless', async (t) => {
  for (const name of ['SIGWINCH', 'SIGCHLD', 'SIGPIPE'] as const) {
    const res = await runNode(t, watcher(name), (line, child) => { if (line === 'ready') child.kill(name); });
    assert.equal(res.code, 0, `${name}: ${res.code}/${res.signal} ${res.stderr}`);
    assert.match(res.stdout, new RegExp(`events \\[\\["${name}",1\\]\\]`));
  }
});

test('SIGPIPE and SIGXFSZ stay ignored after their last knote goes (no SIG_DFL left behind)', async (t) => {
  const res = await runNode(t, `
    import { kqueue, EVFILT_SIGNAL, EV_ADD } from ${JSON.stringify(LIBRARY)};
    const kq = kqueue();
    kq.keventSync([{ ident: 'SIGPIPE', filter: EVFILT_SIGNAL, flags: EV_ADD },
                   { ident: 'SIGXFSZ', filter: EVFILT_SIGNAL, flags: EV_ADD }], 0);
    kq.close();
    process.kill(process.pid, 'SIGPIPE');
    process.kill(process.pid, 'SIGXFSZ');
    setTimeout(() => console.log('alive'), 100);
  `);
  assert.equal(res.code, 0, `${res.code}/${res.signal} ${res.stderr}`);
  assert.match(res.stdout, /alive/);
});

test('SIGUSR1 still starts the inspector, with a knote and after it', async (t) => {
  if (!process.features.inspector) return t.skip('this Node has no inspector');
  const res = await runNode(t, `
    import inspector from 'node:inspector';
    import { kqueue, EVFILT_SIGNAL, EV_ADD } from ${JSON.stringify(LIBRARY)};
    const kq = kqueue();
    kq.keventSync([{ ident: 'SIGUSR1', filter: EVFILT_SIGNAL, flags: EV_ADD }], 0);
    process.kill(process.pid, 'SIGUSR1');
    const evs = await kq.kevent(null, 8, 3000);
    console.log('events', JSON.stringify(evs.map((e) => [e.ident, e.data])), inspector.url() !== undefined);
    inspector.close();
    kq.close();
    process.kill(process.pid, 'SIGUSR1');
    setTimeout(() => { console.log('alive', inspector.url() !== undefined); inspector.close(); }, 200);
  `);
  assert.equal(res.code, 0, `${res.code}/${res.signal} ${res.stderr}`);
  assert.match(res.stdout, /events \[\["SIGUSR1",1\]\] true/);
  assert.match(res.stdout, /alive true/);
});

test('a process that registers signal knotes exits by itself, closed or not', async (t) => {
  for (const close of [true, false]) {
    const res = await runNode(t, `
      import { kqueue, EVFILT_SIGNAL, EV_ADD } from ${JSON.stringify(LIBRARY)};
      const kq = kqueue();
      kq.keventSync(['SIGUSR2', 'SIGTERM', 'SIGPIPE', 'SIGUSR1', 'SIGHUP'].map((ident) => ({ ident, filter: EVFILT_SIGNAL, flags: EV_ADD })), 0);
      ${close ? 'kq.close();' : ''}
      console.log('done');
    `, undefined, 10_000);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.signal, null, 'it exited on its own, not killed by the timeout');
    assert.match(res.stdout, /done/);
  }
});
