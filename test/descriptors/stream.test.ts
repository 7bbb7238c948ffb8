// READ, WRITE and EXCEPT on streams that are not sockets (filt_piperead / filt_pipewrite in
// spirit), on child-process stdio and process.stdin, and what the last knote leaves behind.
// DragonFly digest 3.3 and edge cases 12, 53, 91-93.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  EBADF, EIO, ENOENT, EOPNOTSUPP, EPIPE, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH,
  EV_ENABLE, EV_EOF, EV_NODATA, EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ, EVFILT_VNODE,
  EVFILT_WRITE, NOTE_LOWAT,
  type KEvent, type Kqueue,
} from '../../src/index.js';
import { change, failure } from '../support/changes.js';
import { openKqueue } from '../support/open.js';
import { buffered, eofSeen } from '../support/net.js';

const READ = EVFILT_READ;
const WRITE = EVFILT_WRITE;

async function one(kq: Kqueue): Promise<KEvent> {
  const evs = await kq.kevent(null, 10, 5000);
  assert.equal(evs.length, 1, `expected one event, got ${evs.length}`);
  return evs[0]!;
}

/** A Writable whose writes complete only when the test says so. */
function heldWritable(highWaterMark: number): { w: Writable; release(): void } {
  const held: (() => void)[] = [];
  const w = new Writable({ highWaterMark, write(_c, _e, cb) { held.push(() => cb()); } });
  // A completed write lets Node start the next buffered one, which is held in turn.
  return { w, release: () => { while (held.length !== 0) held.shift()!(); } };
}

test('PassThrough: READ reports what is buffered, WRITE the room left', (t) => {
  const kq = openKqueue(t);
  const p = new PassThrough({ highWaterMark: 100 });
  change(kq, { ident: p, filter: READ, flags: EV_ADD }, { ident: p, filter: WRITE, flags: EV_ADD | EV_ONESHOT });
  assert.deepEqual(kq.keventSync(null, 10).map((e) => [e.filter, e.data]), [[WRITE, 100]]);
  p.write('hello');
  const [ev] = kq.keventSync(null, 10);
  assert.equal(ev?.filter, READ);
  assert.equal(ev?.data, 5);
  assert.equal(String(p.read(2)), 'he');
  assert.equal(kq.keventSync(null, 10)[0]?.data, 3);
  p.read();
  assert.deepEqual(kq.keventSync(null, 10), []);
});

test('object mode: READ data counts objects', (t) => {
  const kq = openKqueue(t);
  const r = new Readable({ objectMode: true, read() {} });
  change(kq, { ident: r, filter: READ, flags: EV_ADD | EV_CLEAR });
  r.push({ a: 1 });
  r.push({ b: 2 });
  r.push({ c: 3 });
  assert.equal(kq.keventSync(null, 10)[0]?.data, 3);
  assert.deepEqual(r.read(), { a: 1 });
  assert.deepEqual(kq.keventSync(null, 10), [], 'EV_CLEAR: a read is no new activity');
  r.push({ d: 4 });
  assert.equal(kq.keventSync(null, 10)[0]?.data, 3);
});

test('a Readable at its end: EV_EOF with data, then Node\'s teardown delivers it once more', async (t) => {
  const kq = openKqueue(t);
  const r = new Readable({ read() {} });
  change(kq, { ident: r, filter: READ, flags: EV_ADD });
  r.push('abc');
  r.push(null);
  const [ev] = kq.keventSync(null, 10);
  assert.equal(ev?.flags, EV_ADD | EV_EOF);
  assert.equal(ev?.data, 3);
  assert.equal(String(r.read()), 'abc');
  // 'end' then autoDestroy: the knote's last delivery, then it is gone.
  let last = await one(kq);
  while (!(last.flags & EV_ONESHOT)) last = await one(kq);
  assert.equal(last.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.ok(r.destroyed);
  assert.equal(kq.pending, 0);
  assert.equal(failure(kq, { ident: r, filter: READ, flags: EV_ADD }), EBADF);
});

test('NOTE_LOWAT, disable/enable, dispatch and oneshot on a stream', (t) => {
  const kq = openKqueue(t);
  const p = new PassThrough();
  change(kq, { ident: p, filter: READ, flags: EV_ADD, fflags: NOTE_LOWAT, data: 4 });
  p.write('abc');
  assert.deepEqual(kq.keventSync(null, 10), []);
  p.write('d');
  assert.equal(kq.keventSync(null, 10)[0]?.data, 4);
  change(kq, { ident: p, filter: READ, flags: EV_DISABLE });
  assert.deepEqual(kq.keventSync(null, 10), []);
  change(kq, { ident: p, filter: READ, flags: EV_ENABLE, fflags: 0, data: 0 });
  assert.equal(kq.keventSync(null, 10)[0]?.data, 4);
  // EV_DISPATCH counts at creation only (edge 37): a new knote for it.
  change(kq, { ident: p, filter: READ, flags: EV_DELETE }, { ident: p, filter: READ, flags: EV_ADD | EV_DISPATCH });
  assert.equal(kq.keventSync(null, 10)[0]?.data, 4);
  p.write('e');
  assert.deepEqual(kq.keventSync(null, 10), [], 'dispatched: disabled after delivery');
  change(kq, { ident: p, filter: READ, flags: EV_DELETE });
  assert.equal(failure(kq, { ident: p, filter: READ, flags: EV_DELETE }), ENOENT);
  change(kq, { ident: p, filter: READ, flags: EV_ADD | EV_ONESHOT });
  // Stale data is delivered as it was when activated, then the knote is gone (edge 53).
  p.read();
  const [ev] = kq.keventSync(null, 10);
  assert.equal(ev?.data, 5);
  assert.equal(failure(kq, { ident: p, filter: READ, flags: EV_DELETE }), ENOENT);
});

test('WRITE: not ready once the high-water mark is reached, ready again on drain; EV_EOF after end()', async (t) => {
  const kq = openKqueue(t);
  const { w, release } = heldWritable(8);
  change(kq, { ident: w, filter: WRITE, flags: EV_ADD | EV_CLEAR });
  assert.equal(kq.keventSync(null, 10)[0]?.data, 8);
  w.write('123');
  w.write('45678');
  assert.equal(w.writableLength, 8);
  const level = openKqueue(t);
  change(level, { ident: w, filter: WRITE, flags: EV_ADD });
  assert.deepEqual(level.keventSync(null, 10), []);
  assert.deepEqual(kq.keventSync(null, 10), []);
  release();
  await new Promise((r) => process.nextTick(r)); // 'drain' is emitted on a later tick
  await new Promise((r) => setImmediate(r));
  assert.equal(kq.keventSync(null, 10)[0]?.data, 8);
  w.end();
  const [e] = level.keventSync(null, 10);
  assert.equal(e?.flags & (EV_EOF | EV_NODATA), EV_EOF | EV_NODATA);
  // end() is a shutdown (EV_EOF at once); finish, then autoDestroy: one last delivery.
  let last = await one(kq);
  assert.ok(last.flags & EV_EOF);
  while (!(last.flags & EV_ONESHOT)) last = await one(kq);
  assert.ok(w.destroyed);
});

test('READ on a Writable and WRITE on a Readable are EOPNOTSUPP; so are EXCEPT and VNODE on streams', (t) => {
  const kq = openKqueue(t);
  const r = new Readable({ read() {} });
  const w = new Writable({ write(_c, _e, cb) { cb(); } });
  const p = new PassThrough();
  assert.equal(failure(kq, { ident: w, filter: READ, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(failure(kq, { ident: r, filter: WRITE, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(failure(kq, { ident: p, filter: EVFILT_EXCEPT, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(failure(kq, { ident: p, filter: EVFILT_VNODE, flags: EV_ADD }), EOPNOTSUPP);
  assert.equal(failure(kq, { ident: new Proxy(p, {}), filter: READ, flags: EV_ADD }), EBADF);
  // Nothing was left on them by the refusals.
  for (const s of [r, w, p]) for (const n of ['readable', 'error', 'close', 'drain']) assert.equal(s.listenerCount(n), 0);
});

test('an error on a watched stream is taken and reported as EV_EOF with its errno; nothing crashes', async (t) => {
  const kq = openKqueue(t);
  const r = new Readable({ read() {} });
  const w = new Writable({ write(_c, _e, cb) { cb(Object.assign(new Error('gone'), { code: 'EPIPE' })); } });
  change(kq, { ident: r, filter: READ, flags: EV_ADD }, { ident: w, filter: WRITE, flags: EV_ADD | EV_CLEAR });
  kq.keventSync(null, 10);
  r.destroy(new Error('no code'));
  w.write('x'); // fails on a later tick
  const evs: KEvent[] = [];
  while (!evs.some((e) => e.ident === w && e.flags & EV_EOF)) evs.push(...await kq.kevent(null, 10, 5000));
  const re = evs.find((e) => e.ident === r)!;
  assert.equal(re.flags, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT);
  assert.equal(re.fflags, EIO, 'an error without a code is EIO');
  const we = evs.find((e) => e.ident === w)!;
  assert.equal(we.fflags, EPIPE);
  assert.ok(we.flags & EV_EOF);
  await new Promise((res) => setImmediate(res));
  for (const s of [r, w]) assert.equal(s.listenerCount('error'), 0);
});

test('a FIFO through fs streams: READ sees the bytes and the writer\'s close as EV_EOF (edge 91)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kq-fifo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'f');
  execFileSync('mkfifo', [path]);
  const kq = openKqueue(t);
  const reader = createReadStream(path);
  const writer = createWriteStream(path);
  t.after(() => { reader.destroy(); writer.destroy(); });
  change(kq, { ident: reader, filter: READ, flags: EV_ADD });
  assert.equal(failure(kq, { ident: reader, filter: EVFILT_EXCEPT, flags: EV_ADD }), EOPNOTSUPP);
  writer.write('through the fifo');
  const ev = await buffered(reader, 16);
  assert.equal(ev.data, 16);
  writer.end();
  const eof = await eofSeen(reader);
  assert.ok(eof.flags & EV_EOF);
  assert.equal(String(reader.read()), 'through the fifo');
});

// ---- child processes ------------------------------------------------------------------------

function child(t: TestContext, script: string, args: string[] = []): ChildProcess {
  const c = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => { if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  return c;
}

test('child stdio: WRITE on stdin, READ on stdout with EV_EOF when the child exits', async (t) => {
  const kq = openKqueue(t);
  const c = child(t, "process.stdin.pipe(process.stdout)");
  change(kq, { ident: c.stdout!, filter: READ, flags: EV_ADD | EV_CLEAR }, { ident: c.stdin!, filter: WRITE, flags: EV_ADD | EV_ONESHOT });
  const w = await one(kq);
  assert.equal(w.ident, c.stdin);
  assert.ok((w.data as number) > 0);
  c.stdin!.write('echo me');
  const r = await one(kq);
  assert.equal(r.ident, c.stdout);
  let got = String(c.stdout!.read());
  while (got.length < 7) {
    await one(kq);
    got += String(c.stdout!.read());
  }
  assert.equal(got, 'echo me');
  c.stdin!.end();
  const eof = await eofSeen(c.stdout!);
  assert.ok(eof.flags & EV_EOF);
});

test('writing to the stdin of a child that died: EPIPE through the queue, no crash', async (t) => {
  const kq = openKqueue(t);
  // The child closes its stdin and lingers: our writes then fail with EPIPE.
  const c = child(t, "import fs from 'node:fs'; fs.closeSync(0); console.log('closed'); setTimeout(() => {}, 20000);");
  await once(c.stdout!, 'data');
  change(kq, { ident: c.stdin!, filter: WRITE, flags: EV_ADD | EV_CLEAR });
  kq.keventSync(null, 10);
  c.stdin!.write(Buffer.alloc(1 << 16));
  const deadline = Date.now() + 5000;
  let ev: KEvent | undefined;
  while (!(ev && ev.flags & EV_EOF) && Date.now() < deadline) ev = (await kq.kevent(null, 10, 5000))[0];
  assert.ok(ev !== undefined && ev.flags & EV_EOF);
  assert.equal(ev.fflags, EPIPE);
});

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'index.js');

/** Spawns a child that runs `body` with the library imported, and waits for it to exit by itself. */
async function exitsByItself(t: TestContext, body: string, feed?: (c: ChildProcess) => void): Promise<string> {
  const script = `import * as k from ${JSON.stringify(entry)};\n${body}`;
  const c = child(t, script);
  let out = '';
  let err = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  c.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  feed?.(c);
  const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
  const [code, signal] = await once(c, 'exit') as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, `the child did not exit by itself (stdout: ${out}, stderr: ${err})`);
  assert.equal(code, 0, err);
  return out;
}

test('process.stdin watched, then deleted: nothing keeps the child alive while its stdin stays open', async (t) => {
  const out = await exitsByItself(t, `
    const kq = k.kqueue();
    kq.keventSync([{ ident: process.stdin, filter: k.EVFILT_READ, flags: k.EV_ADD }], 0);
    const [ev] = await kq.kevent(null, 1, 5000);
    const data = String(process.stdin.read());
    kq.keventSync([{ ident: process.stdin, filter: k.EVFILT_READ, flags: k.EV_DELETE }], 0);
    const names = ['readable', 'data', 'end', 'error', 'close', 'pause', 'resume'];
    console.log(ev.data, data, names.map((n) => process.stdin.listenerCount(n)).join(','));
  `, (c) => c.stdin!.write('ping'));
  assert.match(out, /^4 ping /);
});

test('process.stdin watched, then the kqueue closed: the child exits by itself', async (t) => {
  await exitsByItself(t, `
    const kq = k.kqueue();
    kq.keventSync([{ ident: process.stdin, filter: k.EVFILT_READ, flags: k.EV_ADD | k.EV_CLEAR },
      { ident: process.stdout, filter: k.EVFILT_WRITE, flags: k.EV_ADD }], 0);
    await kq.kevent(null, 1, 5000);
    kq.close();
  `);
});

test('an accepted connection watched, then deleted, is left as found: the child exits though the peer stays', async (t) => {
  const out = await exitsByItself(t, `
    import net from 'node:net';
    const kq = k.kqueue();
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => console.log('port', server.address().port));
    kq.keventSync([{ ident: server, filter: k.EVFILT_READ, flags: k.EV_ADD }], 0);
    await kq.kevent(null, 1, 5000);
    const s = k.accept(server);
    kq.keventSync([{ ident: s, filter: k.EVFILT_READ, flags: k.EV_ADD }, { ident: s, filter: k.EVFILT_WRITE, flags: k.EV_ADD }], 0);
    let got = '';
    while (got.length < 5) {
      await kq.kevent(null, 4, 5000);
      const chunk = s.read();
      if (chunk) got += chunk;
    }
    kq.keventSync([{ ident: s, filter: k.EVFILT_READ, flags: k.EV_DELETE }], 0);
    kq.close();
    server.close();
    console.log('got', got);
  `, (c) => {
    // Connect once the child listens, send, and keep the connection open until it exits.
    c.stdout!.once('data', (d: string) => {
      const port = Number(/port (\d+)/.exec(d)![1]);
      void import('node:net').then((net) => {
        const peer = net.connect(port, '127.0.0.1', () => peer.write('hello'));
        peer.on('error', () => {});
        c.once('exit', () => peer.destroy());
      });
    });
  });
  assert.match(out, /got hello/);
});

test('a Writable destroyed before end() drops its knotes silently; after end() it is delivered once more', (t) => {
  const kq = openKqueue(t);
  const quiet = new Writable({ write(_c, _e, cb) { cb(); } });
  const ended = new Writable({ write(_c, _e, cb) { cb(); }, autoDestroy: false });
  change(kq, { ident: quiet, filter: WRITE, flags: EV_ADD }, { ident: ended, filter: WRITE, flags: EV_ADD });
  assert.equal(kq.keventSync(null, 10).length, 2);
  quiet.destroy();
  ended.end();
  ended.destroy();
  const evs = kq.keventSync(null, 10);
  assert.deepEqual(evs.map((e) => [e.ident === ended, e.flags]), [[true, EV_ADD | EV_EOF | EV_NODATA | EV_ONESHOT]]);
  assert.equal(kq.pending, 0);
  assert.deepEqual(kq.keventSync(null, 10), []);
});
