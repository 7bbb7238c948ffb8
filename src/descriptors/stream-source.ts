import type { Readable, Writable } from 'node:stream';
import {
  EBADF, EOPNOTSUPP, EPIPE, EV_EOF, EV_NODATA, EV_ONESHOT, EVFILT_EXCEPT, EVFILT_READ, EVFILT_WRITE,
  NOTE_LOWAT, NOTE_OOB,
} from '../constants.js';
import type { Descriptor, FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { hookMethod } from './source-hooks.js';

/**
 * The source behind READ, WRITE and EXCEPT knotes on a Node stream (a net.Socket or any
 * Readable/Writable/Duplex): one per object, shared by all its knotes in every kqueue, with a
 * klist per direction as the reference hangs them off so_rcv and so_snd. Listeners and method
 * hooks go on the object when the first knote of a direction arrives and come off with the last,
 * giving the stream back as it was found.
 *
 * READ `data` is what Node has buffered (`readableLength`, up to the high-water mark: our receive
 * buffer); WRITE `data` is the room left before `writableHighWaterMark`. Node's own read() and
 * write() calls by the user post nothing, as a process's own read(2) does not (filt_soread is
 * re-evaluated by the engine's scan for level knotes).
 */

/** Node's stream states, read-only here except where Node's own pause logic writes them too. */
interface ReadableState { ended: boolean; reading: boolean; errorEmitted: boolean }
interface WritableState { ended: boolean; errorEmitted: boolean }
interface Handle { reading?: boolean; readStop?(): number }
/** What is read of a stream: a Readable's and a Writable's public surface plus a socket's. */
export type AnyStream = Partial<Readable> & Partial<Writable> & {
  readonly destroyed: boolean;
  readonly errored: Error | null;
  on(event: string, fn: (...args: never[]) => void): unknown;
  removeListener(event: string, fn: (...args: never[]) => void): unknown;
  _readableState?: ReadableState;
  _writableState?: WritableState;
  _handle?: Handle | null;
  connecting?: boolean;
  pending?: boolean;
};

/**
 * The errno of a stream's error. Node's own stream errors have no errno: a write after `end()`
 * (or after the stream was destroyed) is write(2) after shutdown(2), which is EPIPE.
 */
function streamErrno(code: unknown): number {
  if (code === 'ERR_STREAM_WRITE_AFTER_END' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_SOCKET_CLOSED') return EPIPE;
  return errnoFromCode(code);
}

/** Hint of the post that delivers the last EV_EOF|EV_ONESHOT image (recorded even mid-scan). */
const HINT_GONE = 1;

export class StreamSource implements Descriptor {
  /** READ and EXCEPT knotes (the reference's so_rcv klist). */
  readonly rklist = new Klist();
  /** WRITE knotes (so_snd). */
  readonly wklist = new Klist();
  readonly stream: AnyStream;
  readonly rs: ReadableState | undefined;
  readonly ws: WritableState | undefined;
  /** A net.Socket: EXCEPT is supported, and WRITE waits for the connection. */
  readonly socket: boolean;
  /** The error seen ('error' or destroy(err)) as a DragonFly errno; 0 while none. */
  errno = 0;
  /** Destroyed: no new knote can attach (EBADF). */
  gone = false;
  /** Destroyed after EOF or an error: every knote gets one last EV_EOF|EV_ONESHOT delivery. */
  final = false;

  private unhookCommon: (() => void) | null = null;
  private unhookRead: (() => void) | null = null;
  private unhookWrite: (() => void) | null = null;
  /** How the readable side was found by the first READ knote, restored after the last. */
  private flowingFound: boolean | null = null;
  private readingFound = true;
  /** Bumped by each first READ knote: a pending restore of an earlier release is then void. */
  private readGen = 0;

  // Listeners, made once per source so they can be removed again.
  private readonly onError = (err: unknown): void => this.error(err);
  private readonly onClose = (): void => this.destroyed();
  private readonly onReadable = (): void => {};
  private readonly onWritable = (): void => this.wklist.post(0);
  private readonly onPush = (): void => this.rklist.post(0);

  constructor(stream: AnyStream, socket: boolean, readable: boolean, writable: boolean) {
    this.stream = stream;
    this.socket = socket;
    this.rs = readable ? stream._readableState : undefined;
    this.ws = writable ? stream._writableState : undefined;
  }

  /** fo_kqfilter: READ (and EXCEPT on sockets) on the receive side, WRITE on the send side. */
  kqfilter(kn: Knote): number {
    if (this.gone) return EBADF;
    switch (kn.filter) {
      case EVFILT_READ:
        if (this.rs === undefined) return EOPNOTSUPP;
        kn.fop = this.socket ? socketReadOps : streamReadOps;
        this.attachRead(kn);
        return 0;
      case EVFILT_EXCEPT:
        // Sockets only (pipes and other streams: EOPNOTSUPP, as DragonFly's pipes answer).
        if (!this.socket) return EOPNOTSUPP;
        kn.fop = socketReadOps;
        this.attachRead(kn);
        return 0;
      case EVFILT_WRITE:
        if (this.ws === undefined) return EOPNOTSUPP;
        kn.fop = streamWriteOps;
        if (this.wklist.size === 0) this.hookWrite();
        this.wklist.insert(kn);
        this.hookCommon();
        return 0;
      default:
        return EOPNOTSUPP; // VNODE on a socket, pipe or stream
    }
  }

  /** Whether the object has reached end-of-file or an error (the lifecycle's dividing line). */
  atEof(): boolean {
    if (this.errno !== 0) return true;
    return this.rs !== undefined ? this.rs.ended : this.ws!.ended;
  }

  private attachRead(kn: Knote): void {
    if (this.rklist.size === 0) this.hookRead();
    this.rklist.insert(kn);
    this.hookCommon();
  }

  detach(kn: Knote): void {
    if (kn.filter === EVFILT_WRITE) {
      this.wklist.remove(kn);
      if (this.wklist.size === 0) this.releaseWrite();
    } else {
      this.rklist.remove(kn);
      if (this.rklist.size === 0) this.releaseRead();
    }
    if (this.rklist.size === 0 && this.wklist.size === 0) this.releaseCommon();
  }

  // ---- events from the stream -------------------------------------------------------------

  private error(err: unknown): void {
    const code = (err as { code?: unknown } | null)?.code;
    this.errno = streamErrno(code);
    if (this.unhookCommon === null) {
      // Left behind as a guard for an error that was already on its way when the last knote
      // went (see releaseCommon): it has now been taken, so the guard goes too.
      this.stream.removeListener('error', this.onError);
      return;
    }
    this.rklist.post(0);
    this.wklist.post(0);
  }

  /**
   * The object was destroyed (by the user or Node's teardown): knote_fdclose, except that an
   * object that had reached EOF or an error first hands each knote one last EV_EOF|EV_ONESHOT.
   */
  private destroyed(): void {
    if (this.gone || this.unhookCommon === null) return;
    this.gone = true;
    const err = this.stream.errored as { code?: unknown } | null | undefined;
    if (err != null && this.errno === 0) this.errno = streamErrno(err.code);
    if (this.atEof()) {
      this.final = true;
      this.rklist.post(HINT_GONE);
      this.wklist.post(HINT_GONE);
    } else {
      this.rklist.dropAll();
      this.wklist.dropAll();
    }
  }

  // ---- hooks on and off -------------------------------------------------------------------

  private hookCommon(): void {
    if (this.unhookCommon !== null) return;
    const s = this.stream;
    const err = s.errored as { code?: unknown } | null | undefined;
    if (err != null) this.errno = streamErrno(err.code);
    s.on('error', this.onError);
    s.on('close', this.onClose);
    const unhook = hookMethod(s, 'destroy', this.onClose);
    this.unhookCommon = () => {
      unhook();
      s.removeListener('close', this.onClose);
    };
  }

  private releaseCommon(): void {
    if (this.unhookCommon === null) return;
    this.unhookCommon();
    this.unhookCommon = null;
    // An error passed to destroy() is emitted on a later tick: removing our listener now would
    // turn it into an unhandled 'error'. The listener then stays until it has taken that one.
    const s = this.stream;
    const pending = s.errored != null && !(this.rs?.errorEmitted ?? false) && !(this.ws?.errorEmitted ?? false);
    if (!pending) s.removeListener('error', this.onError);
  }

  private hookRead(): void {
    const s = this.stream;
    this.readGen++;
    this.flowingFound = s.readableFlowing!;
    const h = s._handle;
    // A socket that is not reading from its handle (process.stdin, a socket from accept()) is
    // stopped again afterwards, else it would keep the process alive. One still connecting will
    // start reading by itself once connected.
    this.readingFound = !this.socket || h == null || s.connecting === true || h.reading === true;
    this.unhookRead = hookMethod(s, 'push', this.onPush);
    // A 'readable' listener is Node's paused mode: the stream keeps reading into its buffer up
    // to the high-water mark, and only the user's read() takes from it.
    s.on('readable', this.onReadable);
  }

  private releaseRead(): void {
    if (this.unhookRead === null) return;
    const s = this.stream;
    this.unhookRead();
    this.unhookRead = null;
    s.removeListener('readable', this.onReadable);
    // Removing the listener makes Node recompute the flowing state on the next tick (resuming
    // if 'data' listeners exist, else unset); restore what we found after that.
    const gen = this.readGen;
    process.nextTick(() => this.restoreRead(gen));
  }

  private restoreRead(gen: number): void {
    const s = this.stream;
    if (gen !== this.readGen || this.rklist.size !== 0 || s.destroyed) return;
    if (this.flowingFound === true && s.readableFlowing !== true) s.resume!();
    else if (this.flowingFound === false && s.readableFlowing !== false) s.pause!();
    const h = s._handle;
    if (!this.readingFound && s.readableFlowing !== true && h != null && h.reading === true && h.readStop) {
      // What Node does for process.stdin on 'pause': stop reading from the handle.
      this.rs!.reading = false;
      h.reading = false;
      h.readStop();
    }
  }

  private hookWrite(): void {
    const s = this.stream;
    s.on('drain', this.onWritable);
    s.on('finish', this.onWritable);
    if (this.socket) s.on('connect', this.onWritable);
    // end() shuts the send side at once (EV_EOF), before 'finish' can say so.
    const unhook = hookMethod(s, 'end', this.onWritable);
    this.unhookWrite = () => {
      unhook();
      s.removeListener('drain', this.onWritable);
      s.removeListener('finish', this.onWritable);
      if (this.socket) s.removeListener('connect', this.onWritable);
    };
  }

  private releaseWrite(): void {
    if (this.unhookWrite === null) return;
    this.unhookWrite();
    this.unhookWrite = null;
  }
}

// ---- filter ops ---------------------------------------------------------------------------

function detach(kn: Knote): void {
  (kn.fp as StreamSource).detach(kn);
}

/** The last image of a knote on a destroyed object that had reached EOF (contract, Lifecycle). */
function finalEvent(kn: Knote, src: StreamSource, data: number): boolean {
  kn.data = data;
  kn.flags |= data === 0 ? EV_EOF | EV_ONESHOT | EV_NODATA : EV_EOF | EV_ONESHOT;
  kn.fflags = src.errno;
  return true;
}

/**
 * filt_soread / filt_piperead on a stream: data = bytes (objects) buffered; EV_EOF once the
 * other side finished (or an error), with fflags = the error; NOTE_LOWAT takes the mark from
 * sdata, else ready with anything buffered.
 */
function readEvent(kn: Knote): boolean {
  const src = kn.fp as StreamSource;
  // What is still buffered when the last image is delivered: Node keeps a destroyed stream's
  // buffer readable, and the user may have read from it since (a disabled knote enabled later).
  if (src.final) return finalEvent(kn, src, src.stream.readableLength!);
  const s = src.stream;
  if (s.destroyed) return false;
  const n = s.readableLength!;
  kn.data = n;
  if (src.errno !== 0 || src.rs!.ended) {
    kn.flags |= n === 0 ? EV_EOF | EV_NODATA : EV_EOF;
    kn.fflags = src.errno;
    return true;
  }
  if (kn.sfflags & NOTE_LOWAT) return n >= kn.sdata;
  return n > 0;
}

/**
 * The socket variant, shared by EXCEPT: with NOTE_OOB in its fflags the knote waits for
 * out-of-band data (filt_soread's first test), which Node cannot receive: it never fires.
 */
function socketReadEvent(kn: Knote): boolean {
  if ((kn.sfflags & NOTE_OOB) !== 0 && !(kn.fp as StreamSource).final) return false;
  return readEvent(kn);
}

/**
 * filt_sowrite on a stream: data = room before the write high-water mark; EV_EOF|EV_NODATA once
 * it can no longer be written (ended, destroyed or failed); a socket still connecting is not
 * writable; NOTE_LOWAT takes the mark from sdata, else ready with any room.
 */
function writeEvent(kn: Knote): boolean {
  const src = kn.fp as StreamSource;
  if (src.final) return finalEvent(kn, src, 0);
  const s = src.stream;
  if (s.destroyed) return false;
  const hwm = s.writableHighWaterMark!;
  const len = s.writableLength!;
  const n = len < hwm ? hwm - len : 0;
  kn.data = n;
  if (src.errno !== 0 || src.ws!.ended) {
    kn.flags |= EV_EOF | EV_NODATA;
    kn.fflags = src.errno;
    return true;
  }
  if (src.socket && s.pending) return false;
  if (kn.sfflags & NOTE_LOWAT) return n >= kn.sdata;
  return n > 0;
}

const attached = (): number => 0; // attached by kqfilter

const streamReadOps: FilterOps = { isFd: true, attach: attached, detach, event: readEvent };
const socketReadOps: FilterOps = { isFd: true, attach: attached, detach, event: socketReadEvent };
const streamWriteOps: FilterOps = { isFd: true, attach: attached, detach, event: writeEvent };
