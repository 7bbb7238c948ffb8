// Soak phase F: TCP connections opened, echoed and closed through one kqueue. The listening server
// (READ, accept()), every client socket (WRITE while sending, READ for the echo) and every accepted
// socket (READ, WRITE when its writes back up) are knotes of the same kqueue, driven by one kevent
// loop, with a bounded number of clients in flight. Every byte echoed is compared with what its
// client sent; every accepted socket must be seen closing (its last EV_EOF|EV_ONESHOT delivery).
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  accept, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_ENABLE, EV_EOF, EV_ERROR, EV_ONESHOT, EVFILT_READ, EVFILT_WRITE,
  kqueue, type KEvent, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { check, fmt, runPhase } from './harness.js';

export interface TcpSize {
  /** Connections in all (a tenth of them per tenth). */
  connections: number;
  /** Clients open at once, at most. */
  inFlight: number;
}

/** Shared random bytes: each client sends its own slice. */
const POOL = randomBytes(256 * 1024);
const SERVER = Symbol('server');
/** kevent() returning nothing this many times in a row (5 s each) with work outstanding: stalled. */
const STALLS = 3;

interface Client { kind: 'client'; sock: net.Socket; payload: Buffer; sent: number; got: Buffer[]; gotLen: number; done: boolean; closed: boolean }
interface Peer { kind: 'peer'; sock: net.Socket; ended: boolean; closed: boolean }

class TcpRig {
  private kq: Kqueue | null = null;
  private server: net.Server | null = null;
  private port = 0;
  private changes: KEventInit[] = [];
  private serial = 0;
  private clientsOpen = new Set<Client>();
  private peersOpen = new Set<Peer>();
  counts = { connections: 0, bytes: 0, harvests: 0, events: 0, clientWriteEvents: 0, peerWriteBlocks: 0, stale: 0, last: 0 };

  async open(): Promise<void> {
    this.server = net.createServer();
    this.server.listen(0, '127.0.0.1', 1024);
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    this.kq = kqueue();
    this.kq.keventSync([{ ident: this.server, filter: EVFILT_READ, flags: EV_ADD, udata: SERVER }], 0);
  }

  private connect(): void {
    const k = this.serial++;
    const size = k % 100 === 7 ? 64 * 1024 + (k % 1000) : 1 + ((k * 7919) % 8192);
    const off = (k * 104_729) % (POOL.length - size);
    const sock = net.connect({ port: this.port, host: '127.0.0.1' });
    const c: Client = { kind: 'client', sock, payload: POOL.subarray(off, off + size), sent: 0, got: [], gotLen: 0, done: false, closed: false };
    this.clientsOpen.add(c);
    // WRITE is level-triggered while there is something left to send; READ waits for the echo.
    this.changes.push({ ident: sock, filter: EVFILT_WRITE, flags: EV_ADD, udata: c },
      { ident: sock, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR, udata: c });
  }

  private onServer(ev: KEvent): void {
    check((ev.flags & EV_EOF) === 0 && ev.fflags === 0, `F: the server reported ${JSON.stringify(ev)}`);
    for (let s = accept(this.server!); s !== undefined; s = accept(this.server!)) {
      const p: Peer = { kind: 'peer', sock: s, ended: false, closed: false };
      this.peersOpen.add(p);
      this.changes.push({ ident: s, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR, udata: p });
    }
  }

  /**
   * An event on a socket that is destroyed: its last delivery (EV_EOF|EV_ONESHOT, exactly once),
   * or an earlier event collected before Node destroyed it during the event-loop turn that every
   * kevent() with a timeout takes before it settles (stale: the last delivery follows). A client
   * that Node destroyed by itself before its EOF was harvested (both sides ended and everything
   * read: Node 24 gets there within that turn) is checked at its last delivery.
   */
  private closing(ev: KEvent, x: Client | Peer, open: Set<Client> | Set<Peer>): void {
    if ((ev.flags & EV_ONESHOT) === 0) {
      this.counts.stale++;
      return;
    }
    check((ev.flags & EV_EOF) !== 0 && !x.closed, `F: a second last delivery, or one without EV_EOF: ${ev.flags}`);
    if (x.kind === 'client' && !x.done) this.finish(ev, x);
    this.counts.last++;
    x.closed = true;
    (open as Set<Client | Peer>).delete(x);
  }

  /** The client's EOF: everything it sent must have come back. */
  private finish(ev: KEvent, c: Client): void {
    check(ev.fflags === 0, `F: a client's READ reported EV_EOF with errno ${ev.fflags}`);
    const echoed = Buffer.concat(c.got, c.gotLen);
    check(c.sent === c.payload.length && echoed.equals(c.payload),
      `F: a client sent ${c.sent}/${c.payload.length} bytes and got ${echoed.length} back${echoed.length === c.payload.length ? ' (different bytes)' : ''}`);
    this.counts.bytes += echoed.length;
    this.counts.connections++;
    c.done = true;
    c.got = [];
  }

  private onClient(ev: KEvent, c: Client): void {
    if (c.sock.destroyed) return this.closing(ev, c, this.clientsOpen);
    check(!c.done, `F: an event on a finished client that is not destroyed: ${JSON.stringify(ev.flags)}`);
    if (ev.filter === EVFILT_WRITE) {
      this.counts.clientWriteEvents++;
      check((ev.flags & EV_EOF) === 0, `F: client ${JSON.stringify(ev.flags)} EV_EOF on WRITE before it finished sending`);
      const n = Math.min(c.payload.length - c.sent, Math.max(1, ev.data as number));
      c.sock.write(c.payload.subarray(c.sent, c.sent + n));
      c.sent += n;
      if (c.sent === c.payload.length) {
        c.sock.end();
        this.changes.push({ ident: c.sock, filter: EVFILT_WRITE, flags: EV_DELETE });
      }
      return;
    }
    for (let b = c.sock.read() as Buffer | null; b !== null; b = c.sock.read() as Buffer | null) {
      c.got.push(b);
      c.gotLen += b.length;
    }
    if ((ev.flags & EV_EOF) === 0) return;
    this.finish(ev, c);
    c.sock.destroy(); // after EOF: its READ knote gets its last delivery, which closes it here
  }

  private onPeer(ev: KEvent, p: Peer): void {
    const s = p.sock;
    // Node closes the socket once both directions have ended.
    if (s.destroyed) return this.closing(ev, p, this.peersOpen);
    if (ev.filter === EVFILT_WRITE) {
      this.changes.push({ ident: s, filter: EVFILT_READ, flags: EV_ENABLE });
      return;
    }
    check(ev.fflags === 0, `F: an accepted socket reported errno ${ev.fflags}`);
    const chunk = ev.data === 0 ? null : s.read() as Buffer | null;
    if (chunk !== null && !s.write(chunk)) {
      this.counts.peerWriteBlocks++;
      this.changes.push({ ident: s, filter: EVFILT_READ, flags: EV_DISABLE },
        { ident: s, filter: EVFILT_WRITE, flags: EV_ADD | EV_ONESHOT, udata: p });
      return;
    }
    if ((ev.flags & EV_EOF) !== 0 && !p.ended) {
      p.ended = true;
      s.end();
    }
  }

  /** Runs `n` connections to the end: every client verified and every accepted socket closed. */
  async run(n: number, inFlight: number): Promise<number> {
    const kq = this.kq!;
    let started = 0;
    const goal = this.counts.connections + n;
    let stalls = 0;
    while (this.counts.connections < goal || this.peersOpen.size !== 0 || this.clientsOpen.size !== 0) {
      while (started < n && this.clientsOpen.size < inFlight) {
        this.connect();
        started++;
      }
      const list = this.changes;
      this.changes = [];
      const evs = await kq.kevent(list, 1024, 5000);
      this.counts.harvests++;
      this.counts.events += evs.length;
      if (evs.length === 0) {
        if (++stalls < STALLS) continue;
        check(false, `F: stalled: no event for ${STALLS * 5} s with ${this.clientsOpen.size} clients and ${this.peersOpen.size} accepted sockets open, ${this.counts.connections}/${goal} done`);
        this.abandon();
        return n;
      }
      stalls = 0;
      for (const ev of evs) {
        if ((ev.flags & EV_ERROR) !== 0) {
          check(false, `F: a change failed: ${JSON.stringify({ filter: ev.filter, flags: ev.flags, data: ev.data })}`);
          continue;
        }
        const u = ev.udata as Client | Peer | typeof SERVER;
        if (u === SERVER) this.onServer(ev);
        else if (u.kind === 'client') this.onClient(ev, u);
        else this.onPeer(ev, u);
      }
    }
    check(kq.pending === 0, `F: ${kq.pending} events pending after every connection closed`);
    return n;
  }

  /** Destroys whatever is left (after a failure). */
  private abandon(): void {
    for (const c of this.clientsOpen) c.sock.destroy();
    for (const p of this.peersOpen) p.sock.destroy();
    this.clientsOpen.clear();
    this.peersOpen.clear();
    this.changes = [];
  }

  async close(): Promise<void> {
    this.abandon();
    this.kq?.close();
    this.kq = null;
    const server = this.server;
    this.server = null;
    if (server !== null) {
      let left = 0;
      for (let s = accept(server); s !== undefined; s = accept(server)) { left++; s.destroy(); }
      check(left === 0, `F: ${left} connections were never accepted`);
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}

export async function phaseTcp(size: TcpSize): Promise<void> {
  const per = Math.max(1, Math.round(size.connections / 10));
  let rig = new TcpRig();
  await runPhase({
    name: `F. ${fmt(per * 10)} TCP connections echoed`,
    unit: 'connections',
    warm: async () => {
      // Two tenths' worth: the JIT's code for these paths (counted in the heap) is then in place.
      const w = new TcpRig();
      await w.open();
      await w.run(per, size.inFlight);
      await w.run(per, size.inFlight);
      await w.close();
    },
    setup: async () => {
      rig = new TcpRig();
      await rig.open();
    },
    tenth: () => rig.run(per, size.inFlight),
    teardown: async () => {
      await rig.close();
      const c = rig.counts;
      return `${c.connections} connections (${size.inFlight} in flight), ${(c.bytes / 1e6).toFixed(1)} MB echoed and checked, ` +
        `${c.events} events in ${c.harvests} harvests, ${c.clientWriteEvents} client WRITE events, ${c.peerWriteBlocks} server-side write back-ups, ` +
        `${c.last} last deliveries (EV_EOF|EV_ONESHOT), ${c.stale} events collected before a destroy`;
    },
  });
}
