import { Server, type Socket } from 'node:net';
import {
  EBADF, EOPNOTSUPP, EV_EOF, EVFILT_EXCEPT, EVFILT_READ, EVFILT_WRITE, NOTE_LOWAT, NOTE_OOB,
} from '../constants.js';
import type { Descriptor, FilterOps } from '../engine/filter-ops.js';
import { KqueueError } from '../errors.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { hookMethod, isInstance } from './source-hooks.js';

/**
 * A listening net.Server as a descriptor (a socket with SO_ACCEPTCONN). READ is filt_solisten:
 * `data` = connections Node has accepted that no one has taken with `accept()` yet. libuv accepts
 * eagerly, so these are Node's connections, not the kernel's backlog; from the first READ knote
 * on, every 'connection' is queued here, frozen (nothing read from it, as `pauseOnConnect` would
 * leave it), until `accept()` hands it out. What is queued stays for `accept()` after the knotes
 * go. EXCEPT runs filt_soread on the listening socket (no bytes, ready while connections wait);
 * WRITE attaches but never fires (a listening socket is not connected).
 */

/** kern.ipc.soavailconn: filt_solisten reports at most this many queued connections. */
export const SOAVAILCONN = 32;

interface ServerInternals { _connectionKey?: string }
interface SocketInternals {
  _handle?: { reading?: boolean; readStop?(): number } | null;
  _readableState?: { reading: boolean };
}

class ServerSource implements Descriptor {
  /** READ and EXCEPT knotes. */
  readonly rklist = new Klist();
  /** WRITE knotes (never activated). */
  readonly wklist = new Klist();
  /** Connections accepted by Node, not yet taken by accept(); from index `head` on. */
  private queue: Socket[] = [];
  private head = 0;
  /** An 'error' of the server (EMFILE on accept, a failed listen): the reference's so_error. */
  soError = 0;
  private unhook: (() => void) | null = null;
  /** The close hook and listener, kept while knotes exist or connections are queued. */
  private unhookClose: (() => void) | null = null;

  private readonly onConnection = (s: Socket): void => this.enqueue(s);
  private readonly onError = (err: unknown): void => {
    this.soError = errnoFromCode((err as { code?: unknown } | null)?.code);
    this.rklist.post(0);
  };
  private readonly onClosed = (): void => {
    // soclose on the listening socket: knote_fdclose, and the connections waiting to be accepted
    // are aborted (soabort), else they would stay open, frozen, forever (and the server's
    // 'close' would never come).
    if (this.server.listening) return;
    this.rklist.dropAll();
    this.wklist.dropAll();
    this.abortQueued();
    this.release();
  };

  constructor(readonly server: Server) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  kqfilter(kn: Knote): number {
    if (closed(this.server)) return EBADF;
    switch (kn.filter) {
      case EVFILT_READ:
        kn.fop = listenOps;
        this.rklist.insert(kn);
        break;
      case EVFILT_EXCEPT:
        kn.fop = exceptOps;
        this.rklist.insert(kn);
        break;
      case EVFILT_WRITE:
        kn.fop = neverOps;
        this.wklist.insert(kn);
        break;
      default:
        return EOPNOTSUPP;
    }
    this.hook();
    return 0;
  }

  detach(kn: Knote): void {
    (kn.filter === EVFILT_WRITE ? this.wklist : this.rklist).remove(kn);
    this.release();
  }

  /**
   * The last knote takes the listeners off; the close hook stays while connections are queued
   * (they must be aborted if the server closes before they are accepted), and goes with the last.
   */
  private release(): void {
    if (this.rklist.size !== 0 || this.wklist.size !== 0) return;
    if (this.unhook !== null) {
      this.unhook();
      this.unhook = null;
    }
    if (this.pending === 0 && this.unhookClose !== null) {
      this.unhookClose();
      this.unhookClose = null;
    }
  }

  /** The queued connections, reset (TCP, as soabort drops them) or closed (Unix); none is left. */
  private abortQueued(): void {
    const queued = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const s of queued) {
      queuedIn.delete(s);
      s.removeListener('error', queuedError);
      s.removeListener('close', queuedClose);
      try {
        s.resetAndDestroy(); // throws for a socket that is not TCP
      } catch {
        s.destroy();
      }
    }
  }

  private hook(): void {
    const s = this.server;
    if (this.unhookClose === null) {
      s.on('close', this.onClosed);
      const unhookClose = hookMethod(s, 'close', this.onClosed);
      this.unhookClose = () => {
        unhookClose();
        s.removeListener('close', this.onClosed);
      };
    }
    if (this.unhook !== null) return;
    s.on('connection', this.onConnection);
    s.on('error', this.onError);
    this.unhook = () => {
      s.removeListener('connection', this.onConnection);
      s.removeListener('error', this.onError);
    };
  }

  private enqueue(s: Socket): void {
    // Freeze it as Node's pauseOnConnect would have made it: no read from the handle yet, so that
    // the peer's data and end wait in the kernel, and a connection closed at once is still
    // there to be accepted. Reading resumes with the first read(), READ knote or resume().
    const internals = s as unknown as SocketInternals;
    const h = internals._handle;
    if (h != null && h.reading === true && typeof h.readStop === 'function') {
      h.readStop();
      h.reading = false;
      if (internals._readableState !== undefined) internals._readableState.reading = false;
    }
    // Until it is accepted, nothing of the user's listens: an error must not crash the process.
    queuedIn.set(s, this);
    s.on('error', queuedError);
    s.on('close', queuedClose);
    this.queue.push(s);
    this.rklist.post(0);
  }

  /** accept(): the oldest queued connection, given back as Node made it, paused. */
  take(): Socket | undefined {
    this.soError = 0;
    if (this.head === this.queue.length) return undefined;
    const s = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Socket;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    queuedIn.delete(s);
    s.removeListener('error', queuedError);
    s.removeListener('close', queuedClose);
    s.pause();
    this.release();
    return s;
  }

  /** A queued connection that failed or closed leaves the queue (as an aborted one does). */
  unqueue(s: Socket): void {
    const i = this.queue.indexOf(s, this.head);
    if (i >= 0) this.queue.splice(i, 1);
    queuedIn.delete(s);
    s.removeListener('error', queuedError);
    s.removeListener('close', queuedClose);
    this.release();
  }
}

const queuedIn = new WeakMap<Socket, ServerSource>();

function queuedError(): void {
  // Taken while queued; the socket is being destroyed and leaves the queue on 'close'.
}

function queuedClose(this: Socket): void {
  queuedIn.get(this)?.unqueue(this);
}

/** A server that listened and was closed (or failed to listen), as opposed to one not yet listening. */
function closed(server: Server): boolean {
  return !server.listening && (server as unknown as ServerInternals)._connectionKey !== undefined;
}

const sources = new WeakMap<Server, ServerSource>();

export function serverDescriptor(ident: unknown): ServerSource | undefined {
  if (!isInstance(Server, ident)) return undefined;
  const server = ident as Server;
  let src = sources.get(server);
  if (closed(server) && (src === undefined || src.rklist.size + src.wklist.size === 0)) return undefined;
  if (src === undefined) {
    src = new ServerSource(server);
    sources.set(server, src);
  }
  return src;
}

/** accept() (src/io.ts): the next queued connection. */
export function takeConnection(server: Server): Socket | undefined {
  if (!isInstance(Server, server)) throw new KqueueError(EBADF, 'accept() takes a net.Server');
  return sources.get(server)?.take();
}

// ---- filter ops ---------------------------------------------------------------------------

function detach(kn: Knote): void {
  (kn.fp as ServerSource).detach(kn);
}

/** filt_solisten: data = queued connections (at most SOAVAILCONN), ready while there is one. */
function listenEvent(kn: Knote): boolean {
  const src = kn.fp as ServerSource;
  const n = src.pending;
  kn.data = n < SOAVAILCONN ? n : SOAVAILCONN;
  if (src.soError !== 0) return reportError(kn, src);
  return n > 0;
}

/**
 * filt_soread on a listening socket (EXCEPT's ops): no bytes to read, so data is 0; ready while
 * connections wait, or with NOTE_LOWAT when 0 reaches the mark; with NOTE_OOB never.
 */
function exceptEvent(kn: Knote): boolean {
  const src = kn.fp as ServerSource;
  if (kn.sfflags & NOTE_OOB) return false;
  kn.data = 0;
  if (src.soError !== 0) return reportError(kn, src);
  if (kn.sfflags & NOTE_LOWAT) return 0 >= kn.sdata;
  return src.pending > 0;
}

/** A server error is ready with its errno in fflags, with EV_EOF once the server cannot listen. */
function reportError(kn: Knote, src: ServerSource): boolean {
  kn.fflags = src.soError;
  if (!src.server.listening) kn.flags |= EV_EOF;
  return true;
}

const attached = (): number => 0; // attached by kqfilter

const listenOps: FilterOps = { isFd: true, attach: attached, detach, event: listenEvent };
const exceptOps: FilterOps = { isFd: true, attach: attached, detach, event: exceptEvent };
/** WRITE on a listening socket: filt_sowrite finds it unconnected, so never ready. */
const neverOps: FilterOps = { isFd: true, attach: attached, detach, event: () => false };
