// The system filters together (issue 8, item 6): whatever PROC, SIGNAL, FS and AIO knotes attach
// (process listeners, child listeners, /proc pollers, the mount watcher and its helper, promise
// reactions) is released when the last knote goes or its kqueue closes, and nothing keeps the
// process alive afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  EV_ADD, EVFILT_AIO, EVFILT_FS, EVFILT_PROC, EVFILT_SIGNAL, NOTE_EXEC, NOTE_EXIT, NOTE_FORK,
  NOTE_TRACK, type KEventInit, kqueue, type Kqueue,
} from '../../src/index.js';
import { fsWatcher } from '../../src/filters/fs.js';
import { procPollState } from '../../src/filters/proc.js';
import { signalSourceOf } from '../../src/filters/signal.js';
import { turns } from '../support/async.js';
import { LIBRARY, runNode } from '../support/child.js';

const ALL_PROC = NOTE_EXIT | NOTE_FORK | NOTE_EXEC | NOTE_TRACK;

function everything(child: ReturnType<typeof spawn>, pending: Promise<unknown>): KEventInit[] {
  return [
    { ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: ALL_PROC },
    { ident: child.pid!, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT },
    { ident: process.pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: ALL_PROC },
    { ident: 'SIGUSR2', filter: EVFILT_SIGNAL, flags: EV_ADD },
    { ident: 'SIGHUP', filter: EVFILT_SIGNAL, flags: EV_ADD },
    { ident: 'mounts', filter: EVFILT_FS, flags: EV_ADD },
    { ident: pending, filter: EVFILT_AIO, flags: EV_ADD },
  ];
}

test('closing the kqueue releases every listener, poller and watcher of the system filters', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const exitListeners = child.listenerCount('exit');
  const usr2 = process.listenerCount('SIGUSR2');
  const hup = process.listenerCount('SIGHUP');
  const kqs: Kqueue[] = [kqueue(), kqueue()];
  const pending = new Promise(() => {});
  for (const kq of kqs) assert.deepEqual(kq.keventSync(everything(child, pending), 0), []);
  assert.equal(child.listenerCount('exit'), exitListeners + 1);
  assert.equal(process.listenerCount('SIGUSR2'), usr2 + 1);
  assert.equal(fsWatcher().active, true);
  assert.equal(procPollState().timer, true);
  kqs[0]!.close();
  assert.equal(fsWatcher().active, true, 'the other kqueue still watches');
  kqs[1]!.close();
  assert.equal(child.listenerCount('exit'), exitListeners);
  assert.equal(process.listenerCount('SIGUSR2'), usr2);
  assert.equal(process.listenerCount('SIGHUP'), hup);
  assert.equal(signalSourceOf(12), undefined);
  assert.equal(fsWatcher().active, false);
  assert.equal(fsWatcher().helperProcess, null);
  assert.deepEqual(procPollState(), { sources: 0, polled: 0, timer: false, table: false });
});

test('a closed kqueue is not kept alive by a pending promise it watched', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const pending = new Promise(() => {});
  let kq: Kqueue | null = kqueue();
  kq.keventSync([{ ident: pending, filter: EVFILT_AIO, flags: EV_ADD }], 0);
  kq.close();
  const ref = new WeakRef(kq);
  kq = null;
  for (let i = 0; i < 3 && ref.deref() !== undefined; i++) {
    await turns(1);
    gc();
  }
  assert.equal(ref.deref(), undefined);
  void pending;
});

test('a process with knotes of every system filter exits by itself, closed or not', async (t) => {
  for (const close of [true, false]) {
    const res = await runNode(t, `
      import { spawn } from 'node:child_process';
      import { kqueue, EV_ADD, EVFILT_AIO, EVFILT_FS, EVFILT_PROC, EVFILT_SIGNAL } from ${JSON.stringify(LIBRARY)};
      const child = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
      child.unref();
      const kq = kqueue();
      kq.keventSync([
        { ident: child, filter: EVFILT_PROC, flags: EV_ADD, fflags: ${ALL_PROC >>> 0} },
        { ident: process.ppid, filter: EVFILT_PROC, flags: EV_ADD, fflags: ${ALL_PROC >>> 0} },
        { ident: 'SIGTERM', filter: EVFILT_SIGNAL, flags: EV_ADD },
        { ident: 'SIGUSR1', filter: EVFILT_SIGNAL, flags: EV_ADD },
        { ident: 'SIGPIPE', filter: EVFILT_SIGNAL, flags: EV_ADD },
        { ident: 1, filter: EVFILT_FS, flags: EV_ADD },
        { ident: new Promise(() => {}), filter: EVFILT_AIO, flags: EV_ADD },
      ], 0);
      ${close ? 'kq.close();' : ''}
      console.log(child.pid);
    `, undefined, 10_000);
    assert.equal(res.signal, null, 'it exited on its own, not killed by the timeout');
    assert.equal(res.code, 0, res.stderr);
    process.kill(Number(res.stdout.trim()), 'SIGKILL');
  }
});
