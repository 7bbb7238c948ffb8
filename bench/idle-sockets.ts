/**
 * Harvest cost with idle sockets: `keventSync([], 1)` returning the one ready READ knote (a
 * socket with unread bytes, level-triggered, never drained) while N other connected sockets are
 * registered for READ on the same kqueue and stay silent. N = 10 and as many as the process's
 * file-descriptor limit allows (two descriptors per connection, this process holding both ends).
 * Idle sockets must cost nothing per harvest. Metrics: ns per call (ns_small, ns_large) and the
 * large N itself (n_large).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import {
  EV_ADD, EVFILT_READ, type KEventInit, kqueue,
} from '../src/index.js';
import { compareRates, type Contender, emit, fullGC, main, QUICK, sink } from './common.js';

/** The soft RLIMIT_NOFILE, from /proc (Node has no getrlimit). */
function fdLimit(): number {
  try {
    const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m !== null) return Number(m[1]);
  } catch { /* not Linux */ }
  return 1024;
}

/** `n` connected loopback pairs; returns the accepted ends (the other ends are kept open). */
async function pairs(server: net.Server, port: number, n: number, keep: net.Socket[]): Promise<net.Socket[]> {
  const accepted: net.Socket[] = [];
  const onConn = (s: net.Socket): void => { accepted.push(s); };
  server.on('connection', onConn);
  const BATCH = 256;
  for (let done = 0; done < n; done += BATCH) {
    const k = Math.min(BATCH, n - done);
    const target = accepted.length + k;
    const batch = Array.from({ length: k }, () => net.connect(port, '127.0.0.1'));
    keep.push(...batch);
    await Promise.all(batch.map((c) => new Promise((r, j) => { c.once('connect', r); c.once('error', j); })));
    while (accepted.length < target) await new Promise((r) => setImmediate(r));
  }
  server.removeListener('connection', onConn);
  return accepted;
}

let got = 0;

main(async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as net.AddressInfo).port;
  const large = QUICK ? 1000 : Math.max(10, Math.floor((fdLimit() - 256) / 2) - 20);
  const clients: net.Socket[] = [];

  async function contender(name: string, n: number): Promise<Contender> {
    const idle = await pairs(server, port, n, clients);
    const [active] = await pairs(server, port, 1, clients);
    const kq = kqueue();
    const changes: KEventInit[] = idle.map((s) => ({ ident: s, filter: EVFILT_READ, flags: EV_ADD }));
    changes.push({ ident: active!, filter: EVFILT_READ, flags: EV_ADD });
    kq.keventSync(changes, 0);
    // Bytes the active socket never drains: its level knote stays ready.
    clients.at(-1)!.write('x');
    while (kq.keventSync(null, 1).length === 0) await new Promise((r) => setImmediate(r));
    const none: KEventInit[] = [];
    return {
      name,
      run(iters) {
        for (let k = 0; k < iters; k++) got += kq.keventSync(none, 1).length;
        return iters;
      },
    };
  }

  const contenders = [await contender('ns_small', 10), await contender('ns_large', large)];
  fullGC();
  const rates = await compareRates(contenders);
  sink(got);
  emit({ ns_small: 1e9 / rates.ns_small!, ns_large: 1e9 / rates.ns_large!, n_large: large });
  for (const c of clients) c.destroy();
  server.close();
  process.exit(0);
});
