/**
 * A TCP echo server written as one kevent loop, the way a BSD program writes it: the listening
 * server and every connection are knotes of one kqueue; each harvest says which sockets can be
 * read, and how much; the loop reads with `read()`, writes with `write()`, and changes its
 * interest in the next kevent() call's changelist. No 'data' or 'connection' listener anywhere.
 *
 *   npm run build && node build/examples/echo-server.js [port] [host]
 *
 * then e.g. `nc 127.0.0.1 7007`. Imported, `startEchoServer()` runs it in the caller's process
 * (the tests and the benchmark do).
 */
import { once } from 'node:events';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  accept, EV_ADD, EV_CLEAR, EV_DISABLE, EV_ENABLE, EV_EOF, EV_ERROR, EV_ONESHOT, EVFILT_READ, EVFILT_WRITE,
  type KEvent, type KEventInit, kqueue,
} from '../src/index.js';

export interface EchoServer {
  server: net.Server;
  port: number;
  /** Resolves when the loop has ended (after close()). */
  done: Promise<void>;
  /** Stops the loop, the server and every connection. */
  close(): Promise<void>;
}

export async function startEchoServer(options: { port?: number; host?: string; nevents?: number } = {}): Promise<EchoServer> {
  const server = net.createServer();
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const kq = kqueue();
  const nevents = options.nevents ?? 256;
  const open = new Set<net.Socket>();
  // The changelist of the next kevent() call, as a C program would keep it.
  let changes: KEventInit[] = [{ ident: server, filter: EVFILT_READ, flags: EV_ADD }];

  function handle(ev: KEvent): void {
    if (ev.flags & EV_ERROR) return; // a change on a socket that went away meanwhile
    if (ev.ident === server) {
      // data = connections waiting; take them all and watch each for reading. EV_CLEAR (edge
      // triggered) suffices: each read() below takes everything buffered, so only new arrivals
      // need to wake the loop, and the harvest never re-checks drained sockets.
      for (let s = accept(server); s !== undefined; s = accept(server)) {
        open.add(s);
        changes.push({ ident: s, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR });
      }
      return;
    }
    const s = ev.ident as net.Socket;
    if (s.destroyed) {
      // The last delivery (EV_EOF|EV_ONESHOT) of a socket that is gone: Node closes a socket
      // by itself once both sides have ended.
      open.delete(s);
      return;
    }
    if (ev.filter === EVFILT_WRITE) {
      // Room again in the send buffer: read again.
      changes.push({ ident: s, filter: EVFILT_READ, flags: EV_ENABLE });
      return;
    }
    if (ev.fflags !== 0) {
      // EV_EOF after an error (a reset): close(2), which drops the socket's knotes.
      open.delete(s);
      s.destroy();
      return;
    }
    // ev.data bytes are buffered: one read() takes them all.
    const chunk = ev.data === 0 ? null : s.read() as Buffer | null;
    if (chunk !== null && !s.write(chunk)) {
      // The peer is slow: stop reading until what we wrote has drained.
      changes.push({ ident: s, filter: EVFILT_READ, flags: EV_DISABLE },
        { ident: s, filter: EVFILT_WRITE, flags: EV_ADD | EV_ONESHOT });
      return;
    }
    if (ev.flags & EV_EOF) s.end(); // everything echoed: shut our side down too
  }

  const done = (async () => {
    while (!kq.closed) {
      const list = changes;
      changes = [];
      let evs: KEvent[];
      try {
        evs = await kq.kevent(list, nevents);
      } catch (e) {
        if (kq.closed) return;
        throw e;
      }
      for (let i = 0; i < evs.length; i++) handle(evs[i]!);
    }
  })();

  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    done,
    async close() {
      kq.close();
      server.close();
      for (const s of open) s.destroy();
      for (let s = accept(server); s !== undefined; s = accept(server)) s.destroy();
      await done;
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.argv[2] ?? 7007);
  const echo = await startEchoServer({ port, host: process.argv[3] ?? '127.0.0.1' });
  console.log(`echo server on ${echo.port} (one kevent loop); Ctrl-C to stop`);
  process.once('SIGINT', () => void echo.close());
}
