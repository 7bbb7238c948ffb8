// The example TCP echo server (examples/echo-server.ts), one kevent loop, driven by 200
// concurrent clients: every byte must come back, in order, to the client that sent it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { startEchoServer } from '../../examples/echo-server.js';

/** Sends `payload` in `chunks` writes, half-closes, and resolves with everything echoed back. */
function client(port: number, payload: Buffer, chunks: number, readLate = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    c.on('error', reject);
    const collect = (): void => {
      c.on('data', (d: Buffer) => got.push(d));
      c.on('end', () => resolve(Buffer.concat(got)));
    };
    if (!readLate) collect();
    c.on('connect', () => {
      const step = Math.ceil(payload.length / chunks);
      for (let i = 0; i < payload.length; i += step) c.write(payload.subarray(i, i + step));
      c.end();
      // A client that does not read for a while makes the server's writes back up: the server
      // must stop reading and resume on drain without losing a byte. (The delay only shapes the
      // load: the assertions hold whatever it is.)
      if (readLate) setTimeout(collect, 300);
    });
  });
}

test('200 concurrent clients: every byte echoed back to its sender', async (t) => {
  const echo = await startEchoServer();
  t.after(() => echo.close());
  const payloads = Array.from({ length: 200 }, (_, i) => randomBytes(1024 + (i * 997) % 30000));
  const results = await Promise.all(payloads.map((p, i) => client(echo.port, p, 1 + (i % 7))));
  for (let i = 0; i < payloads.length; i++) assert.ok(results[i]!.equals(payloads[i]!), `client ${i}`);
});

test('a client that reads late (server backpressure) and one that resets do not disturb the others', async (t) => {
  const echo = await startEchoServer();
  t.after(() => echo.close());
  const big = randomBytes(8 << 20);
  const slow = client(echo.port, big, 64, true);
  const rude = net.connect(echo.port, '127.0.0.1');
  rude.on('error', () => {});
  await once(rude, 'connect');
  rude.write('bye');
  rude.resetAndDestroy();
  const small = randomBytes(5000);
  const others = await Promise.all(Array.from({ length: 20 }, () => client(echo.port, small, 3)));
  for (const r of others) assert.ok(r.equals(small));
  assert.ok((await slow).equals(big));
});

test('ping-pong: each request answered before the next is sent', async (t) => {
  const echo = await startEchoServer();
  t.after(() => echo.close());
  const c = net.connect(echo.port, '127.0.0.1');
  t.after(() => c.destroy());
  await once(c, 'connect');
  for (let i = 0; i < 200; i++) {
    const msg = Buffer.from(`ping ${i} `.padEnd(64, '.'));
    c.write(msg);
    let got = Buffer.alloc(0);
    while (got.length < 64) got = Buffer.concat([got, (await once(c, 'data'))[0] as Buffer]);
    assert.ok(got.equals(msg));
  }
});
