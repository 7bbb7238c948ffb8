import fs from 'node:fs';
import { posix } from 'node:path';
import {
  EOPNOTSUPP, NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE,
  NOTE_WRITE,
} from '../constants.js';
import { Klist, postKnote } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { HAS_PROC, O_WATCH, dropReserve, fdPath, holdReserve } from './proc-self.js';
import { trackMount, untrackMount } from './vnode-mount.js';
import { type VnodeStat, vnodeNotes } from './vnode-notes.js';

const IS_DIR = 1;
const REVOKED = 2;
/** `nameHash` holds the hash of the file's name. */
const NAMED = 4;
/** Renames seen through the name before their IN_MOVE_SELF arrived: bits 8-15 of `flags`. */
const CREDIT = 0x100;
const CREDIT_MASK = 0xff00;
/** Knotes that need OS events (VNODE and READ; WRITE only needs a revoke): bits 16 and up. */
const USER = 0x10000;

/**
 * One watched inode (the reference's vnode, as far as kqueue sees it): the knotes on it, in every
 * kqueue, and the one OS watch that feeds them.
 *
 * The library holds its own descriptor on the inode (O_PATH on Linux) for as long as a knote
 * needs it, as the descriptor a BSD program registers would be held: stats keep reaching the same
 * inode after a rename or an unlink (inotify's events arrive after the fact: a write then an
 * unlink is still seen as both), and the file's current name can be read back from it to tell a
 * rename.
 *
 * Notes are derived by comparing the inode's stat before and after each fs.watch event
 * (vnode-notes.ts), since fs.watch only says 'rename' or 'change'. For a regular file a 'rename' is
 * inotify's IN_MOVE_SELF (IN_DELETE_SELF and IN_UNMOUNT cannot come while the descriptor is held).
 * For a directory, every event about itself and every change of its entries come as 'rename'
 * (libuv maps IN_ISDIR so), so a rename is told from its current name and parent instead; and
 * its own removal (rmdir) sends it no event at all while a descriptor holds it, so a watched
 * directory also listens to its parent for the removal of its name.
 *
 * Kept small (a vnode per watched file): the times of the last stat and the mount id live in a
 * pool indexed by the library's descriptor, the name is kept as a hash, one knote needs no list,
 * and directory state is kept apart.
 */
export class Vnode {
  size: number;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  watcher: fs.FSWatcher | null = null;
  /** The knote on this inode, or from the second one on a klist of them. */
  knotes: Knote | Klist | null = null;
  /**
   * Where the file was when last looked at (when NAMED): a hash of the last component of its name
   * and of the inode of the directory holding it. A rename changes one or the other; renaming an
   * ancestor directory changes neither. 32 bits tell a new place from the old one at a fraction of
   * a string's cost.
   */
  place = 0;
  /** IS_DIR, REVOKED, the rename credit and the count of knotes that need events. */
  flags: number;

  constructor(
    /** The library's descriptor on the inode; -1 once released. */
    public fd: number,
    readonly dev: number,
    readonly ino: number,
    st: fs.Stats,
  ) {
    this.size = st.size;
    this.nlink = st.nlink;
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    this.flags = st.isDirectory() ? IS_DIR : 0;
    claimSlot(fd, st);
  }

  get isDir(): boolean {
    return (this.flags & IS_DIR) !== 0;
  }

  get revoked(): boolean {
    return (this.flags & REVOKED) !== 0;
  }

  get named(): boolean {
    return (this.flags & NAMED) !== 0;
  }

  /** Knotes that need OS events. */
  get users(): number {
    return Math.floor(this.flags / USER);
  }

  /** The mount the inode was reached through (mountinfo's id): -2 until needed, -1 if unknown. */
  get mntId(): number {
    return pool[this.fd * 4 + 3]!;
  }

  set mntId(id: number) {
    pool[this.fd * 4 + 3] = id;
  }

  /** A directory's hooks on its parent and from its subdirectories. */
  get dir(): DirHooks | null {
    return (this.flags & IS_DIR) === 0 ? null : dirHooks.get(this) ?? null;
  }

  /** Number of knotes on it. */
  get count(): number {
    const k = this.knotes;
    return k === null ? 0 : k instanceof Klist ? k.size : 1;
  }

  /** Is anything still using this vnode (knotes, or subdirectories listening through it)? */
  get used(): boolean {
    return this.knotes !== null || this.hasChildren;
  }

  private post(hint: number): void {
    const k = this.knotes;
    if (k === null) return;
    if (k instanceof Klist) k.post(hint);
    else postKnote(k, hint);
  }

  private snapshot(st: fs.Stats): void {
    this.size = st.size;
    this.nlink = st.nlink;
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    setTimes(this.fd, st);
  }

  /**
   * Re-reads the inode and posts what changed since the last look. `moveSelf`: the event was a
   * file's IN_MOVE_SELF; `selfEvent`: the event may concern the inode itself, so a rename may hide
   * in it.
   */
  refresh(moveSelf: boolean, selfEvent: boolean): void {
    if (this.fd < 0) return;
    let st: fs.Stats;
    try {
      st = fs.fstatSync(this.fd);
    } catch {
      return;
    }
    const t = this.fd * 4;
    let renamed = false;
    if ((this.flags & NAMED) !== 0 && st.nlink !== 0 &&
      (moveSelf || (selfEvent && this.isDir) || (st.ctimeMs !== pool[t + 2] && st.ctimeMs !== st.mtimeMs))) {
      if (this.checkName()) {
        renamed = true;
        if (!this.isDir && (this.flags & CREDIT_MASK) !== CREDIT_MASK) this.flags += CREDIT;
      }
    }
    if (moveSelf) {
      if ((this.flags & CREDIT_MASK) !== 0) this.flags -= CREDIT;
      else renamed = true;
    }
    prev.size = this.size;
    prev.nlink = this.nlink;
    prev.mode = this.mode;
    prev.uid = this.uid;
    prev.gid = this.gid;
    prev.atimeMs = pool[t]!;
    prev.mtimeMs = pool[t + 1]!;
    prev.ctimeMs = pool[t + 2]!;
    const notes = vnodeNotes(prev, st, this.isDir, renamed) | (renamed ? NOTE_RENAME : 0);
    this.snapshot(st);
    if (notes !== 0 && this.knotes !== null) this.postNotes(notes);
  }

  /**
   * Posts `notes` as the separate hints DragonFly's filesystems post (a write's NOTE_WRITE with
   * its NOTE_EXTEND, a mkdir's NOTE_WRITE|NOTE_LINK on the parent, then each other note alone), so
   * that a knote sees a companion bit only when DragonFly would have leaked it too.
   */
  private postNotes(notes: number): void {
    const isDir = this.isDir;
    const content = notes & (NOTE_WRITE | NOTE_EXTEND | (isDir ? NOTE_LINK : 0));
    if (content !== 0) this.post(content);
    if (!isDir && (notes & NOTE_LINK) !== 0) this.post(NOTE_LINK);
    if ((notes & NOTE_ATTRIB) !== 0) this.post(NOTE_ATTRIB);
    if ((notes & NOTE_RENAME) !== 0) this.post(NOTE_RENAME);
    if ((notes & NOTE_DELETE) !== 0) this.post(NOTE_DELETE);
  }

  /** Reads the file's current name; true when the file itself moved (not only an ancestor). */
  private checkName(): boolean {
    const path = currentPath(this.fd);
    if (path === null) return false;
    const place = placeOf(path);
    if (place === this.place) return false;
    this.place = place;
    if (this.isDir && this.users !== 0) this.rehook(path);
    return true;
  }

  /** Learns the name and parent of the file (once, when first watched). */
  learnName(): string | null {
    const path = currentPath(this.fd);
    if (path === null) return null;
    this.place = placeOf(path);
    this.flags |= NAMED;
    return path;
  }

  /** Makes sure the OS watch exists; returns 0 or the errno of its failure (ENOSPC). */
  watch(path: string | null): number {
    if (this.watcher !== null || this.revoked) return 0;
    let w: fs.FSWatcher;
    try {
      w = this.openWatch(path);
    } catch (e) {
      return errnoFromCode((e as NodeJS.ErrnoException).code);
    }
    (w as WatcherWithVnode)[VNODE] = this;
    w.on('change', onWatchEvent);
    // libuv's inotify backend never reports an error to a watch (its callback always gets status
    // 0); elsewhere an unhandled 'error' would kill the process.
    if (!HAS_PROC) w.on('error', onWatchError);
    this.watcher = w;
    return 0;
  }

  /**
   * An fs.watch of this inode: through its name when that still names it, else through the
   * descriptor. The name may not reach the inode at all: replaced meanwhile, or the file of a
   * detached (lazily unmounted) filesystem, whose name is relative to a root no longer mounted.
   */
  private openWatch(path: string | null): fs.FSWatcher {
    if (path !== null) {
      let w: fs.FSWatcher | null = null;
      try {
        w = fs.watch(Buffer.from(path, 'latin1'), WATCH_OPTIONS);
      } catch {
        // the name does not reach it: through the descriptor
      }
      if (w !== null) {
        if (this.isSelf(path)) return w;
        w.close();
      }
    }
    return fs.watch(fdPath(this.fd), WATCH_OPTIONS);
  }

  /**
   * Does `path` (latin1) name this inode now? libuv shares one inotify watch between every
   * fs.watch of an inode and names the inode's own events after the path of the first one, so the
   * watch is made through the file's real name (just read back from the descriptor), which keeps
   * the user's own fs.watch callbacks on it as they would be without the library; if the name
   * turns out to name another inode once the watch is made (replaced meanwhile), and for a
   * deleted file, the watch goes through /proc/self/fd, which always reaches this inode.
   */
  private isSelf(path: string): boolean {
    try {
      const st = fs.statSync(Buffer.from(path, 'latin1'));
      return st.ino === this.ino && st.dev === this.dev;
    } catch {
      return false;
    }
  }

  private unwatch(): void {
    const w = this.watcher;
    if (w === null) return;
    this.watcher = null;
    w.close();
  }

  /** Adds a knote; `needsEvents` for VNODE and READ. Returns 0 or an errno. */
  attach(kn: Knote, needsEvents: boolean, path: string | null): number {
    if (needsEvents) {
      if (this.watcher !== null) {
        // Changes made before the registration but not yet reported must not reach the new knote.
        if (this.knotes !== null) this.refresh(false, true);
        else this.rebase();
      }
      const error = this.watcher !== null ? 0 : this.watch(path ?? (this.named ? currentPath(this.fd) : null));
      if (error !== 0) {
        if (!this.used) this.release();
        return error;
      }
      this.flags += USER;
      if (this.users === 1 && this.isDir) this.hook();
    }
    const k = this.knotes;
    if (k === null) this.knotes = kn;
    else if (k instanceof Klist) k.insert(kn);
    else {
      const list = new Klist();
      list.insert(k);
      list.insert(kn);
      this.knotes = list;
    }
    return 0;
  }

  /** A fresh baseline without posting (nobody listens yet). */
  private rebase(): void {
    try {
      this.snapshot(fs.fstatSync(this.fd));
    } catch {
      // the descriptor is ours: cannot fail
    }
  }

  detach(kn: Knote, needsEvents: boolean): void {
    const k = this.knotes;
    if (k === kn) this.knotes = null;
    else if (k instanceof Klist) {
      k.remove(kn);
      if (k.size === 0) this.knotes = null;
    }
    if (needsEvents && (this.flags -= USER) < USER) {
      this.unhook();
      if (!this.hasChildren) this.unwatch();
    }
    if (!this.used) this.release();
  }

  private get hasChildren(): boolean {
    const dir = this.dir;
    return dir !== null && dir.children !== null && dir.children.size !== 0;
  }

  /** Gives back the descriptor and the watch: the last user went. */
  release(): void {
    if (this.fd < 0) return;
    this.unwatch();
    this.unhook();
    forget(this);
    untrackMount(this);
    dirHooks.delete(this);
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
  }

  /**
   * The filesystem went away (unmount): NOTE_REVOKE to every knote, then the descriptor and the
   * watch are released so that the filesystem can really go. Knotes stay until they are deleted
   * or delivered (READ/WRITE get EV_ONESHOT).
   */
  revoke(): void {
    if (this.revoked) return;
    this.flags |= REVOKED;
    const children = this.dir?.children;
    if (children) for (const child of [...children.values()]) child.unhook();
    this.release();
    this.post(NOTE_REVOKE);
  }

  /** Starts listening to the parent directory for this directory's removal. */
  private hook(path: string | null = currentPath(this.fd)): void {
    if (path === null || (this.dir !== null && this.dir.parent !== null)) return;
    const parentPath = posix.dirname(path);
    if (parentPath === path) return;
    const parent = vnodeOfPath(Buffer.from(parentPath, 'latin1'));
    if (typeof parent === 'number') return; // no watch left: rmdir goes unreported (documented)
    if (parent === this || parent.dev !== this.dev || parent.watch(parentPath) !== 0) {
      // A mount's root cannot be removed while mounted: nothing to listen for.
      if (!parent.used) parent.release();
      return;
    }
    const name = flat(posix.basename(path));
    (hooksOf(parent).children ??= new Map()).set(name, this);
    const own = hooksOf(this);
    own.parent = parent;
    own.nameInParent = name;
  }

  unhook(): void {
    const parent = this.dir?.parent;
    if (parent === null || parent === undefined) return;
    const own = this.dir!;
    own.parent = null;
    const children = parent.dir!.children!;
    // Another directory may have the name by now (this one renamed, its event not read yet).
    if (children.get(own.nameInParent) === this) children.delete(own.nameInParent);
    if (children.size === 0 && parent.users === 0) parent.unwatch();
    if (!parent.used) parent.release();
  }

  private rehook(path: string): void {
    this.unhook();
    this.hook(path);
  }

  /**
   * An fs.watch event. A file: re-read it ('rename' is its IN_MOVE_SELF). A directory: its own
   * events and its entries' changes all come as 'rename' (libuv reports IN_ISDIR so); a 'change'
   * is about an entry's content (IN_MODIFY/IN_ATTRIB of a file in it), which does not change the
   * directory. The entry named may be a watched subdirectory whose removal it reports.
   */
  onEvent(type: string, name: string | null): void {
    if (!this.isDir) {
      this.refresh(type === 'rename', true);
      return;
    }
    if (type !== 'rename') return;
    const children = this.dir?.children;
    if (name !== null && children) children.get(name)?.refresh(false, true);
    if (this.users !== 0) this.refresh(false, true);
  }
}

/** What only a watched directory needs, apart (most vnodes are files). */
const dirHooks = new Map<Vnode, DirHooks>();

function hooksOf(vn: Vnode): DirHooks {
  let h = dirHooks.get(vn);
  if (h === undefined) dirHooks.set(vn, (h = new DirHooks()));
  return h;
}

class DirHooks {
  /** The vnode of its parent, which reports the removal of its name. */
  parent: Vnode | null = null;
  /** Directories whose removal this one reports, by their name in it. */
  children: Map<string, Vnode> | null = null;
  /** The name this directory is listened for under, in its parent. */
  nameInParent = '';
}

/** The previous stat handed to vnodeNotes (one object, reused). */
const prev: VnodeStat = { size: 0, atimeMs: 0, mtimeMs: 0, ctimeMs: 0, nlink: 0, mode: 0, uid: 0, gid: 0 };

// ---- the pool ---------------------------------------------------------------------------------

/**
 * Per vnode, indexed by the library's descriptor on it (small, dense and unique while the vnode
 * lives): the atime, mtime and ctime of its last stat and its mount id. As fields, each double
 * would be a boxed number of its own.
 */
let pool = new Float64Array(4 * 256);

function claimSlot(fd: number, st: fs.Stats): void {
  if (4 * (fd + 1) > pool.length) {
    let n = pool.length * 2;
    while (4 * (fd + 1) > n) n *= 2;
    const bigger = new Float64Array(n);
    bigger.set(pool);
    pool = bigger;
  }
  setTimes(fd, st);
  pool[fd * 4 + 3] = -2;
}

function setTimes(fd: number, st: fs.Stats): void {
  const t = fd * 4;
  pool[t] = st.atimeMs;
  pool[t + 1] = st.mtimeMs;
  pool[t + 2] = st.ctimeMs;
}

// ---- names ------------------------------------------------------------------------------------

const VNODE = Symbol('vnode');
type WatcherWithVnode = fs.FSWatcher & { [VNODE]?: Vnode };
/** Unref'd (a watch never keeps the process alive); names kept byte for byte. */
const WATCH_OPTIONS = { persistent: false, encoding: 'latin1' } as const;

function onWatchEvent(this: WatcherWithVnode, type: string, name: string | null): void {
  const vn = this[VNODE];
  if (vn !== undefined && vn.watcher === this) vn.onEvent(type, name);
}

/**
 * fs.watch reports an error only when libuv's watch fails after it started, which inotify does not
 * do; should it happen the inode can no longer be watched: its knotes are revoked rather than left
 * silent forever (an unhandled 'error' would kill the process).
 */
function onWatchError(this: WatcherWithVnode): void {
  const vn = this[VNODE];
  if (vn !== undefined && vn.watcher === this) vn.revoke();
}

/** The current name of the file open on `fd` (latin1), or null when deleted or unknown. */
function currentPath(fd: number): string | null {
  if (!HAS_PROC) return null;
  try {
    const path = fs.readlinkSync(fdPath(fd), 'latin1');
    return path.startsWith('/') && !path.endsWith(' (deleted)') ? path : null;
  } catch {
    return null;
  }
}

/**
 * FNV-1a over the inode of the directory holding `path` and its last component (latin1
 * characters are bytes).
 */
function placeOf(path: string): number {
  let h = 0x811c9dc5;
  let ino = parentIno(path);
  for (let k = 0; k < 6; k++, ino = Math.floor(ino / 256)) h = Math.imul(h ^ (ino & 0xff), 0x01000193);
  for (let i = path.lastIndexOf('/') + 1; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** A string of its own (a short slice of a long one would keep the long one alive). */
function flat(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
}

/**
 * The inode of the directory holding `path`, or -1. Registering many files of one directory
 * stats it once: the answer is kept until the current synchronous run ends.
 */
function parentIno(path: string): number {
  const dir = posix.dirname(path);
  if (dir === lastParent) return lastParentIno;
  let ino: number;
  try {
    ino = fs.statSync(Buffer.from(dir, 'latin1')).ino;
  } catch {
    ino = -1;
  }
  if (lastParent === null) queueMicrotask(forgetParent);
  lastParent = dir;
  lastParentIno = ino;
  return ino;
}

let lastParent: string | null = null;
let lastParentIno = -1;

function forgetParent(): void {
  lastParent = null;
}

// ---- the table of vnodes ----------------------------------------------------------------------

/** Every vnode with a user, by device, then inode. */
const vnodes = new Map<number, Map<number, Vnode>>();
let total = 0;

function lookup(dev: number, ino: number): Vnode | undefined {
  return vnodes.get(dev)?.get(ino);
}

function forget(vn: Vnode): void {
  const inDev = vnodes.get(vn.dev);
  if (inDev === undefined || inDev.get(vn.ino) !== vn) return;
  inDev.delete(vn.ino);
  total--;
  dropReserve();
  if (inDev.size === 0) vnodes.delete(vn.dev);
}

/** The number of inodes watched now (for tests). */
export function vnodeCount(): number {
  return total;
}

/** Every vnode (for the mount poll). */
export function* allVnodes(): Generator<Vnode> {
  for (const inDev of vnodes.values()) yield* inDev.values();
}

/**
 * The vnode of the file open on `fd` (the library's own descriptor, kept when the vnode is new),
 * or an errno. Regular files and directories only.
 */
function adopt(fd: number): Vnode | number {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    return errnoFromCode((e as NodeJS.ErrnoException).code);
  }
  if (!st.isFile() && !st.isDirectory()) {
    fs.closeSync(fd);
    return EOPNOTSUPP;
  }
  const known = lookup(st.dev, st.ino);
  if (known !== undefined) {
    fs.closeSync(fd);
    return known;
  }
  const vn = new Vnode(fd, st.dev, st.ino, st);
  let inDev = vnodes.get(st.dev);
  if (inDev === undefined) vnodes.set(st.dev, (inDev = new Map()));
  inDev.set(st.ino, vn);
  total++;
  holdReserve();
  trackMount(vn);
  return vn;
}

/** The vnode a path names now (symlinks followed), or an errno (ENOENT, EACCES, ...). */
export function vnodeOfPath(path: string | Buffer): Vnode | number {
  let fd: number;
  try {
    fd = fs.openSync(path, O_WATCH);
  } catch (e) {
    return errnoFromCode((e as NodeJS.ErrnoException).code);
  }
  return adopt(fd);
}

/** The vnode of the file (device `dev`, inode `ino`) open on the caller's `fd`, or an errno. */
export function vnodeOfFd(fd: number, dev: number, ino: number): Vnode | number {
  return lookup(dev, ino) ?? vnodeOfPath(fdPath(fd));
}

/**
 * Attaches `kn` to the vnode of `vn` (new or known), learning its name first when it is new.
 * Returns 0 or an errno.
 */
export function attachKnote(vn: Vnode, kn: Knote, needsEvents: boolean): number {
  const path = vn.named ? null : vn.learnName();
  return vn.attach(kn, needsEvents, path);
}
