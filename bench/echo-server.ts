/**
 * Echo server throughput: the load generator. It starts both servers in processes of their
 * own: `kqueue`, examples/echo-server.ts (one kevent loop), and `node`, the same server written
 * the idiomatic Node way ('data' -> write). It opens 100 connections to each, and measures them
 * interleaved: in each round, each server in turn gets a slice during which its 100 connections
 * do 64-byte ping-pong (send, wait for the 64 bytes back, send again) while the other server's
 * connections stay idle. Interleaving makes the machine's other load fall on both alike.
 * Metrics: kqueue_rps and node_rps, the median over rounds of round trips per second, and
 * ratio, the median over rounds of kqueue / node within the round (paired slices, which the
 * machine's load varies least between).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, main, median, QUICK } from './common.js';

const CLIENTS = 100;
const SIZE = 64;
const ROUNDS = QUICK ? 3 : 9;
const SLICE_MS = QUICK ? 300 : 800;
const WARMUP_MS = QUICK ? 300 : 1000;

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

/** 100 connections that do ping-pong while a run is on; `run(ms)` returns round trips/s. */
async function pool(port: number): Promise<{ run(ms: number): Promise<number>; close(): void }> {
  const msg = Buffer.alloc(SIZE, 0x61);
  let on = false;
  let count = 0;
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const conns = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.on('error', reject);
    let got = 0;
    c.on('data', (d: Buffer) => {
      got += d.length;
      if (got < SIZE) return;
      got -= SIZE;
      count++;
      if (on) c.write(msg);
      else if (--inFlight === 0) idle?.();
    });
  })));
  return {
    async run(ms) {
      count = 0;
      on = true;
      inFlight = conns.length;
      const t0 = performance.now();
      for (const c of conns) c.write(msg);
      await new Promise((r) => setTimeout(r, ms));
      on = false;
      const n = count;
      const t1 = performance.now();
      // Let the round trips in flight finish, so the next slice starts from a quiet server.
      await new Promise<void>((r) => { idle = r; if (inFlight === 0) r(); });
      idle = null;
      return n / ((t1 - t0) / 1000);
    },
    close() { for (const c of conns) c.destroy(); },
  };
}

main(async () => {
  const servers = { kqueue: await startServer('kqueue'), node: await startServer('node') };
  try {
    const pools = { kqueue: await pool(servers.kqueue.port), node: await pool(servers.node.port) };
    await pools.kqueue.run(WARMUP_MS);
    await pools.node.run(WARMUP_MS);
    const samples: Record<'kqueue' | 'node', number[]> = { kqueue: [], node: [] };
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order: ('kqueue' | 'node')[] = r % 2 === 0 ? ['kqueue', 'node'] : ['node', 'kqueue'];
      for (const v of order) samples[v].push(await pools[v].run(SLICE_MS));
      ratios.push(samples.kqueue[r]! / samples.node[r]!);
    }
    pools.kqueue.close();
    pools.node.close();
    emit({ kqueue_rps: median(samples.kqueue), node_rps: median(samples.node), ratio: median(ratios) });
  } finally {
    servers.kqueue.stop();
    servers.node.stop();
  }
});
