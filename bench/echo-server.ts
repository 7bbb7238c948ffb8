/**
 * Echo server throughput: the load generator. It starts the server variant (`--variant kqueue`:
 * examples/echo-server.ts, one kevent loop; `--variant node`: 'data' -> write) in a separate
 * process, opens 100 connections, and has each do 64-byte ping-pong (send, wait for the 64
 * bytes back, send again) for a fixed window after a warm-up. Metric: rps, round trips per
 * second over all connections. The driver runs the two variants alternately in fresh processes
 * and reports the ratio of their medians.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, emit, main, now, QUICK } from './common.js';

const CLIENTS = 100;
const SIZE = 64;
const WARMUP_MS = QUICK ? 300 : 1000;
const WINDOW_MS = QUICK ? 1000 : 3000;

const here = dirname(fileURLToPath(import.meta.url));

function startServer(impl: string): Promise<{ port: number; stop(): void }> {
  const child = spawn(process.execPath, [join(here, 'echo-server-process.js'), '--impl', impl], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`echo server (${impl}) exited with ${code}`)));
    child.stdout.setEncoding('utf8').once('data', (d: string) => {
      const m = /port (\d+)/.exec(d);
      if (m === null) reject(new Error(`unexpected output from the server: ${d}`));
      else resolve({ port: Number(m[1]), stop: () => { child.removeAllListeners('exit'); child.kill('SIGKILL'); } });
    });
  });
}

/** One ping-pong connection; `count` is incremented per completed round trip. */
function pingPong(port: number, counter: { n: number; stop: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const msg = Buffer.alloc(SIZE, 0x61);
    const c = net.connect(port, '127.0.0.1');
    let got = 0;
    c.on('error', reject);
    c.on('connect', () => c.write(msg));
    c.on('data', (d: Buffer) => {
      got += d.length;
      if (got < SIZE) return;
      got -= SIZE;
      counter.n++;
      if (counter.stop) {
        c.destroy();
        resolve();
      } else c.write(msg);
    });
  });
}

main(async () => {
  const variant = argValue('--variant') ?? 'kqueue';
  const server = await startServer(variant);
  try {
    const counter = { n: 0, stop: false };
    const clients = Array.from({ length: CLIENTS }, () => pingPong(server.port, counter));
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const n0 = counter.n;
    const t0 = now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const n1 = counter.n;
    const t1 = now();
    counter.stop = true;
    await Promise.all(clients);
    emit({ rps: (n1 - n0) / ((t1 - t0) / 1000) });
  } finally {
    server.stop();
  }
});
