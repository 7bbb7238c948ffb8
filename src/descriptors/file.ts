import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { types } from 'node:util';
import { EBADF, EINVAL, EOPNOTSUPP, EVFILT_READ, EVFILT_VNODE, EVFILT_WRITE } from '../constants.js';
import type { Descriptor, FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { type OpenFile, fileReadFilterOps, fileWriteFilterOps, vnodeFilterOps } from './file-filters.js';
import { HAS_PROC, fdinfoField, loadFdinfo } from './proc-self.js';
import { type Vnode, attachKnote, vnodeOfFd, vnodeOfPath } from './vnode-watch.js';

/**
 * Files and directories as descriptors (the reference's vnode files): a numeric fd from
 * `fs.openSync`, a `fs.promises.FileHandle`, or, for EVFILT_VNODE only, a path string. READ and
 * WRITE (file-filters.ts) and VNODE knotes all hang off the one vnode of the inode
 * (vnode-watch.ts); EXCEPT is EOPNOTSUPP, as on DragonFly's filesystems.
 */
export function fileDescriptor(ident: unknown): Descriptor | undefined {
  switch (typeof ident) {
    case 'number': return fdDescriptor(ident);
    case 'string': return pathDescriptor;
    case 'object': return ident === null ? undefined : fileHandleDescriptor(ident);
    default: return undefined;
  }
}

/** The ops and the need for OS events of each filter a file supports. */
function fileOps(filter: number): FilterOps | null {
  switch (filter) {
    case EVFILT_VNODE: return vnodeFilterOps;
    case EVFILT_READ: return fileReadFilterOps;
    case EVFILT_WRITE: return fileWriteFilterOps;
    default: return null;
  }
}

function attachTo(vn: Vnode, kn: Knote, fop: FilterOps): number {
  const error = attachKnote(vn, kn, fop !== fileWriteFilterOps);
  if (error !== 0) return error;
  kn.fop = fop;
  kn.hook = vn;
  return 0;
}

/**
 * An open file the user holds (a numeric fd or a FileHandle). Its knotes are listed here too, so
 * that its close drops them all in every kqueue (knote_fdclose).
 */
abstract class HeldFile implements Descriptor, OpenFile {
  /** Knotes registered through this descriptor. */
  readonly knotes = new Klist();
  private closeNoticed = false;
  /** The inode number fdinfo shows for the descriptor (to tell a reused number), -1 if unknown. */
  private readonly infoIno: number;

  constructor(fd: number, readonly dev: number, readonly ino: number) {
    this.infoIno = loadFdinfo(fd) ? fdinfoField('ino:') : -1;
  }

  abstract currentFd(): number;
  /** The first knote arrived: become findable (and watch the object's close). */
  protected abstract adopt(): void;
  /** The last knote went. */
  protected abstract abandon(): void;
  /** Is the descriptor closed (or its number now another file's)? */
  protected abstract isClosed(): boolean;

  kqfilter(kn: Knote): number {
    const fd = this.currentFd();
    if (fd < 0) return EBADF;
    const fop = fileOps(kn.filter);
    if (fop === null) return EOPNOTSUPP;
    const vn = vnodeOfFd(fd, this.dev, this.ino);
    if (typeof vn === 'number') return vn;
    const error = attachTo(vn, kn, fop);
    if (error !== 0) return error;
    if (this.knotes.size === 0) this.adopt();
    this.knotes.insert(kn);
    return 0;
  }

  forget(kn: Knote): void {
    this.knotes.remove(kn);
    if (this.knotes.size === 0) this.abandon();
  }

  position(): number {
    if (!HAS_PROC) return 0;
    const fd = this.currentFd();
    if (fd < 0 || !loadFdinfo(fd) || fdinfoField('ino:') !== this.infoIno) {
      this.noticeClosed();
      return -1;
    }
    const pos = fdinfoField('pos:');
    return pos < 0 ? 0 : pos;
  }

  /** knote_fdclose: every knote registered through this descriptor goes, in every kqueue. */
  closed(): void {
    this.knotes.dropAll();
  }

  /** A filter met the descriptor closed: drop its knotes once the current operation is over. */
  private noticeClosed(): void {
    if (this.closeNoticed) return;
    this.closeNoticed = true;
    queueMicrotask(() => {
      this.closeNoticed = false;
      if (this.knotes.size !== 0 && this.isClosed()) this.closed();
    });
  }
}

// ---- numeric file descriptors ---------------------------------------------------------------

/** Numeric fds with knotes. A close by fs.closeSync cannot be observed: it is noticed late. */
const fdFiles = new Map<number, FdFile>();

class FdFile extends HeldFile {
  constructor(readonly fd: number, dev: number, ino: number) {
    super(fd, dev, ino);
  }

  currentFd(): number {
    return this.fd;
  }

  protected adopt(): void {
    fdFiles.set(this.fd, this);
  }

  protected abandon(): void {
    if (fdFiles.get(this.fd) === this) fdFiles.delete(this.fd);
  }

  protected isClosed(): boolean {
    const st = fstatOrNull(this.fd);
    return st === null || st.dev !== this.dev || st.ino !== this.ino;
  }
}

function fstatOrNull(fd: number): fs.Stats | null {
  try {
    return fs.fstatSync(fd);
  } catch {
    return null;
  }
}

/**
 * A numeric fd names a regular file or a directory (others: EBADF, per the contract: wrap them in
 * a stream). When the number no longer names the file its knotes were registered on (it was
 * closed, maybe reopened on another file), those knotes are dropped first, as close(2) would have.
 */
function fdDescriptor(fd: number): FdFile | undefined {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) return undefined;
  const st = fstatOrNull(fd);
  let known = fdFiles.get(fd);
  if (known !== undefined && (st === null || st.dev !== known.dev || st.ino !== known.ino)) {
    known.closed();
    known = undefined;
  }
  if (st === null || !(st.isFile() || st.isDirectory())) return undefined;
  return known ?? new FdFile(fd, st.dev, st.ino);
}

// ---- FileHandle -------------------------------------------------------------------------------

/** FileHandles with knotes. */
const handles = new WeakMap<object, HandleFile>();

class HandleFile extends HeldFile {
  private listening = false;
  private syncQueued = false;
  private readonly onClose = (): void => this.closed();

  constructor(private readonly fh: object, fd: number, dev: number, ino: number) {
    super(fd, dev, ino);
  }

  currentFd(): number {
    return fileHandleFd(this.fh) ?? -1;
  }

  protected adopt(): void {
    handles.set(this.fh, this);
    this.queueSync();
  }

  protected abandon(): void {
    if (handles.get(this.fh) === this) handles.delete(this.fh);
    this.queueSync();
  }

  protected isClosed(): boolean {
    return this.currentFd() < 0;
  }

  /**
   * The 'close' listener is added and removed after the current call: adding or removing a
   * listener emits 'newListener'/'removeListener', the user's code, which must not run in the
   * middle of a changelist. A close in between is caught by the check here.
   */
  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      if (this.knotes.size !== 0 && this.isClosed()) this.closed();
      const want = this.knotes.size !== 0;
      if (want && !this.listening) EventEmitter.prototype.on.call(this.fh, 'close', this.onClose);
      else if (!want && this.listening) EventEmitter.prototype.removeListener.call(this.fh, 'close', this.onClose);
      this.listening = want;
    });
  }
}

function fileHandleDescriptor(obj: object): HandleFile | undefined {
  // A Proxy's traps must not run: it is not a FileHandle (nor anything the library knows).
  if (types.isProxy(obj)) return undefined;
  const known = handles.get(obj);
  if (known !== undefined) return known.currentFd() >= 0 ? known : undefined;
  const fd = fileHandleFd(obj);
  if (fd === undefined || fd < 0) return undefined;
  const st = fstatOrNull(fd);
  if (st === null || !(st.isFile() || st.isDirectory())) return undefined;
  return new HandleFile(obj, fd, st.dev, st.ino);
}

/** Prototypes already looked at: is it FileHandle.prototype? */
const protoVerdict = new WeakMap<object, boolean>();
/** Node's private symbol for a FileHandle's fd (found on the first FileHandle seen). */
let kFd: symbol | undefined;

/**
 * The fd of a Node FileHandle (-1 once closed), or undefined for any other object. Node does not
 * export the FileHandle class, so it is recognised by its shape, reading only data properties
 * (getOwnPropertyDescriptor runs no code on an ordinary object): a prototype whose constructor is
 * named FileHandle with an `fd` accessor, and the instance's own `kFd` symbol property.
 */
function fileHandleFd(obj: object): number | undefined {
  const proto = Object.getPrototypeOf(obj) as object | null;
  // A Proxy as the prototype would run its traps when its descriptors are read.
  if (proto === null || types.isProxy(proto)) return undefined;
  let verdict = protoVerdict.get(proto);
  if (verdict === undefined) {
    verdict = looksLikeFileHandlePrototype(proto);
    protoVerdict.set(proto, verdict);
  }
  if (!verdict) return undefined;
  if (kFd === undefined) {
    kFd = Object.getOwnPropertySymbols(obj).find((s) => s.description === 'kFd');
    if (kFd === undefined) return undefined;
  }
  const d = Object.getOwnPropertyDescriptor(obj, kFd);
  return d !== undefined && typeof d.value === 'number' ? d.value : undefined;
}

function looksLikeFileHandlePrototype(proto: object): boolean {
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  if (typeof ctor !== 'function') return false;
  if (Object.getOwnPropertyDescriptor(ctor, 'name')?.value !== 'FileHandle') return false;
  return typeof Object.getOwnPropertyDescriptor(proto, 'fd')?.get === 'function';
}

// ---- path strings -----------------------------------------------------------------------------

/**
 * A path string, for EVFILT_VNODE only (READ, WRITE and EXCEPT take descriptors: EBADF). Nothing is
 * looked up until a knote is attached, so that EV_DELETE of a path knote finds it by its ident
 * even when the file is gone; attaching resolves the path once, following symlinks, and the knote
 * then follows that inode.
 */
const pathDescriptor: Descriptor & OpenFile = {
  kqfilter(kn: Knote): number {
    if (kn.filter !== EVFILT_VNODE) return EBADF;
    const path = kn.ident as string;
    if (path.includes('\0')) return EINVAL;
    const vn = vnodeOfPath(path);
    if (typeof vn === 'number') return vn;
    return attachTo(vn, kn, vnodeFilterOps);
  },
  currentFd: () => -1,
  forget: () => {},
  position: () => -1,
};
