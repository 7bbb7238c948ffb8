import { readFileSync } from 'node:fs';
import { type RemoteInfo, Socket } from 'node:dgram';
import {
  EBADF, EOPNOTSUPP, EVFILT_EXCEPT, EVFILT_READ, EVFILT_WRITE, NOTE_LOWAT, NOTE_OOB,
} from '../constants.js';
import type { Descriptor, FilterOps } from '../engine/filter-ops.js';
import { KqueueError } from '../errors.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { hookMethod, isInstance } from './source-hooks.js';

/**
 * A dgram.Socket as a descriptor: filt_soread / filt_sowrite on a UDP (or Unix datagram)
 * socket. Node hands datagrams to 'message' listeners and keeps none, so from the first READ
 * knote on they are queued here for `recvfrom()`; READ `data` is the bytes queued. What is queued
 * stays for `recvfrom()` after the knotes go; datagrams arriving while no READ knote exists are
 * Node's to drop. The queue is bounded like a socket's receive buffer: datagrams that do not fit
 * are dropped, as the kernel drops them. UDP never blocks a send, so WRITE is ready while the
 * socket is open, with `data` = the send buffer's free space. EXCEPT is READ (with NOTE_OOB it
 * never fires). Closing the socket is knote_fdclose: its knotes go silently (no EOF on datagrams).
 */

interface Datagram { msg: Buffer; rinfo: RemoteInfo }

interface DgramInternals { getSendQueueSize(): number; getSendBufferSize(): number }

/** Linux's default socket buffer (net.core.[rw]mem_default), for a socket not bound yet. */
function defaultBuffer(name: 'rmem_default' | 'wmem_default'): number {
  try {
    return Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8')) || 212992;
  } catch {
    return 212992;
  }
}
let rmemDefault = 0;
let wmemDefault = 0;

class DgramSource implements Descriptor {
  readonly rklist = new Klist();
  readonly wklist = new Klist();
  private queue: Datagram[] = [];
  private head = 0;
  /** Bytes queued (READ data). */
  bytes = 0;
  /** A pending socket error ('error' on the socket, e.g. ICMP port unreachable): so_error. */
  soError = 0;
  gone = false;
  private sndbuf = 0;
  private rcvbuf = 0;
  private unhookCommon: (() => void) | null = null;

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.enqueue(msg, rinfo);
  private readonly onError = (err: unknown): void => {
    this.soError = errnoFromCode((err as { code?: unknown } | null)?.code);
    this.rklist.post(0);
    this.wklist.post(0);
  };
  private readonly onClosed = (): void => {
    if (this.gone) return;
    this.gone = true;
    this.rklist.dropAll();
    this.wklist.dropAll();
    this.discard();
  };

  /** The receive buffer goes with the socket (close(2)): nothing is left for recvfrom(). */
  discard(): void {
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
  }

  constructor(readonly socket: Socket) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  kqfilter(kn: Knote): number {
    switch (kn.filter) {
      case EVFILT_READ:
      case EVFILT_EXCEPT:
        kn.fop = dgramReadOps;
        if (this.rklist.size === 0) this.socket.on('message', this.onMessage);
        this.rklist.insert(kn);
        break;
      case EVFILT_WRITE:
        kn.fop = dgramWriteOps;
        this.wklist.insert(kn);
        break;
      default:
        return EOPNOTSUPP;
    }
    this.hookCommon();
    return 0;
  }

  detach(kn: Knote): void {
    if (kn.filter === EVFILT_WRITE) {
      this.wklist.remove(kn);
    } else {
      this.rklist.remove(kn);
      if (this.rklist.size === 0) this.socket.removeListener('message', this.onMessage);
    }
    if (this.rklist.size === 0 && this.wklist.size === 0 && this.unhookCommon !== null) {
      this.unhookCommon();
      this.unhookCommon = null;
    }
  }

  private hookCommon(): void {
    if (this.unhookCommon !== null) return;
    const s = this.socket;
    s.on('error', this.onError);
    s.on('close', this.onClosed);
    const unhookClose = hookMethod(s, 'close', this.onClosed);
    this.unhookCommon = () => {
      unhookClose();
      s.removeListener('error', this.onError);
      s.removeListener('close', this.onClosed);
    };
  }

  private enqueue(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.rcvbuf === 0) this.rcvbuf = recvBufferSize(this.socket);
    // A datagram that does not fit in the receive buffer is dropped (sbappendaddr fails); an
    // empty queue always takes one, so a datagram larger than the buffer is not lost forever.
    if (this.bytes !== 0 && this.bytes + msg.length > this.rcvbuf) return;
    this.queue.push({ msg, rinfo });
    this.bytes += msg.length;
    this.rklist.post(0);
  }

  take(): Datagram | undefined {
    this.soError = 0; // soreceive reports and clears so_error
    // Closed after its last knote went (no hook saw it): the queue went with it.
    if (this.head !== this.queue.length && isClosed(this.socket)) this.discard();
    if (this.head === this.queue.length) return undefined;
    const d = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Datagram;
    this.bytes -= d.msg.length;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return d;
  }

  /** Free space in the send buffer (what filt_sowrite reports as data). */
  sendSpace(): number {
    const s = this.socket as unknown as DgramInternals;
    let size = this.sndbuf;
    if (size === 0) {
      // Known once bound; until then (a send binds implicitly) Linux's default.
      try {
        size = this.sndbuf = s.getSendBufferSize();
      } catch {
        size = wmemDefault ||= defaultBuffer('wmem_default');
      }
    }
    let queued: number;
    try {
      queued = s.getSendQueueSize();
    } catch {
      return 0; // closed
    }
    return queued < size ? size - queued : 0;
  }
}

/** The receive buffer's size (datagrams only arrive on a bound socket, where it is known). */
function recvBufferSize(socket: Socket): number {
  try {
    return socket.getRecvBufferSize();
  } catch {
    return (rmemDefault ||= defaultBuffer('rmem_default'));
  }
}

/** Whether a dgram socket is closed (Node then has no handle: every call on it throws). */
function isClosed(socket: Socket): boolean {
  try {
    (socket as unknown as DgramInternals).getSendQueueSize();
    return false;
  } catch {
    return true;
  }
}

const sources = new WeakMap<Socket, DgramSource>();

export function dgramDescriptor(ident: unknown): DgramSource | undefined {
  if (!isInstance(Socket, ident)) return undefined;
  const socket = ident as Socket;
  let src = sources.get(socket);
  if (src?.gone || isClosed(socket)) return undefined;
  if (src === undefined) {
    src = new DgramSource(socket);
    sources.set(socket, src);
  }
  return src;
}

/** recvfrom() (src/io.ts): the next queued datagram. */
export function takeDatagram(socket: Socket): Datagram | undefined {
  if (!isInstance(Socket, socket)) throw new KqueueError(EBADF, 'recvfrom() takes a dgram.Socket');
  return sources.get(socket)?.take();
}

// ---- filter ops ---------------------------------------------------------------------------

function detach(kn: Knote): void {
  (kn.fp as DgramSource).detach(kn);
}

/**
 * filt_soread on a datagram socket: data = bytes queued; a pending error makes it ready with
 * the errno in fflags (no EOF: a datagram socket does not end); NOTE_LOWAT takes the mark from
 * sdata; NOTE_OOB never fires.
 */
function readEvent(kn: Knote): boolean {
  const src = kn.fp as DgramSource;
  if (kn.sfflags & NOTE_OOB) return false;
  const n = src.bytes;
  kn.data = n;
  if (src.soError !== 0) {
    kn.fflags = src.soError;
    return true;
  }
  if (kn.sfflags & NOTE_LOWAT) return n >= kn.sdata;
  return n > 0;
}

/** filt_sowrite on a datagram socket: no connection needed, ready with room in the send buffer. */
function writeEvent(kn: Knote): boolean {
  const src = kn.fp as DgramSource;
  const n = src.sendSpace();
  kn.data = n;
  if (src.soError !== 0) {
    kn.fflags = src.soError;
    return true;
  }
  if (kn.sfflags & NOTE_LOWAT) return n >= kn.sdata;
  return n > 0;
}

const attached = (): number => 0; // attached by kqfilter

const dgramReadOps: FilterOps = { isFd: true, attach: attached, detach, event: readEvent };
const dgramWriteOps: FilterOps = { isFd: true, attach: attached, detach, event: writeEvent };
