import fs from 'node:fs';
import { posix } from 'node:path';
import {
  EOPNOTSUPP, NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE,
  NOTE_WRITE,
} from '../constants.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { HAS_PROC, O_WATCH, fdMountId, fdPath } from './proc-self.js';
import { trackMount, untrackMount } from './vnode-mount.js';
import { type VnodeStat, vnodeNotes } from './vnode-notes.js';

/**
 * One watched inode (the reference's vnode, as far as kqueue sees it): the klist of every knote on
 * it, in every kqueue, and the one OS watch that feeds them.
 *
 * The library holds its own descriptor on the inode (O_PATH on Linux) for as long as a knote
 * needs it, as the descriptor a BSD program registers would be held: stats keep reaching the same
 * inode after a rename or an unlink (the inotify events arrive after the fact: a write then an
 * unlink is still seen as both), the watch is made through its /proc/self/fd name, and the
 * current name of the file can be read back to tell a rename.
 *
 * Notes are derived by comparing the inode's stat before and after each fs.watch event
 * (vnode-notes.ts); fs.watch only says 'rename' or 'change'. For a regular file a 'rename' is
 * inotify's IN_MOVE_SELF (the others, IN_DELETE_SELF and IN_UNMOUNT, cannot come while the
 * descriptor is held). For a directory every event about itself comes as 'rename' (libuv maps
 * IN_ISDIR so), so a rename is told from the directory's current name and parent instead.
 * A directory's own removal (rmdir) sends it no event at all while a descriptor holds it, so a
 * watched directory also listens to its parent for the removal of its name.
 */
export class Vnode implements VnodeStat {
  /** Every knote on this inode, in every kqueue. */
  readonly klist = new Klist();
  size = 0;
  atimeMs = 0;
  mtimeMs = 0;
  ctimeMs = 0;
  nlink = 0;
  mode = 0;
  uid = 0;
  gid = 0;
  readonly isDir: boolean;
  /** The mount this inode was reached through (/proc/self/mountinfo's id), -1 when unknown. */
  readonly mntId: number;
  /** The name of the file when last looked at (latin1, byte for byte), null when not tracked. */
  path: string | null = null;
  /** The directory holding `path`, by identity: a rename elsewhere is told from an ancestor's. */
  parentDev = 0;
  parentIno = 0;
  /** Renames seen through the name before their IN_MOVE_SELF arrived (each comes once). */
  renameCredit = 0;
  watcher: fs.FSWatcher | null = null;
  /** Knotes that need OS events (VNODE and READ; WRITE only needs a revoke). */
  watchUsers = 0;
  /** For a directory: the vnode of its parent, which reports the removal of its name. */
  parent: Vnode | null = null;
  /** Directories whose removal this one reports, by their name in it. */
  children: Map<string, Vnode> | null = null;
  revoked = false;

  constructor(
    /** The library's descriptor on the inode; -1 once released. */
    public fd: number,
    readonly key: number | string,
    readonly dev: number,
    readonly ino: number,
    st: fs.Stats,
  ) {
    this.isDir = st.isDirectory();
    this.snapshot(st);
    this.mntId = fdMountId(fd);
  }

  private snapshot(st: fs.Stats): void {
    this.size = st.size;
    this.atimeMs = st.atimeMs;
    this.mtimeMs = st.mtimeMs;
    this.ctimeMs = st.ctimeMs;
    this.nlink = st.nlink;
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
  }

  /** Is anything still using this vnode? */
  get used(): boolean {
    return this.klist.size !== 0 || (this.children !== null && this.children.size !== 0);
  }

  /**
   * Re-reads the inode and posts what changed since the last look. `moveSelf`: the event was a
   * file's IN_MOVE_SELF; `selfEvent`: the event concerned this inode itself (not a directory's
   * entry), so a rename may hide in it.
   */
  refresh(moveSelf: boolean, selfEvent: boolean): void {
    if (this.fd < 0) return;
    let st: fs.Stats;
    try {
      st = fs.fstatSync(this.fd);
    } catch {
      return;
    }
    let renamed = false;
    if (this.path !== null && st.nlink !== 0 &&
      (moveSelf || (selfEvent && this.isDir) || (st.ctimeMs !== this.ctimeMs && st.ctimeMs !== st.mtimeMs))) {
      if (this.checkName()) {
        renamed = true;
        if (!this.isDir) this.renameCredit++;
      }
    }
    if (moveSelf) {
      if (this.renameCredit > 0) this.renameCredit--;
      else renamed = true;
    }
    const notes = vnodeNotes(this, st, this.isDir, renamed) | (renamed ? NOTE_RENAME : 0);
    this.snapshot(st);
    if (notes !== 0 && this.klist.size !== 0) this.postNotes(notes);
  }

  /**
   * Posts `notes` as the separate hints DragonFly's filesystems post (a write's NOTE_WRITE with
   * its NOTE_EXTEND, a mkdir's NOTE_WRITE|NOTE_LINK on the parent, then each other note alone), so
   * that a knote sees a companion bit only when DragonFly would have leaked it too.
   */
  private postNotes(notes: number): void {
    const content = notes & (NOTE_WRITE | NOTE_EXTEND | (this.isDir ? NOTE_LINK : 0));
    if (content !== 0) this.klist.post(content);
    if (!this.isDir && (notes & NOTE_LINK) !== 0) this.klist.post(NOTE_LINK);
    if ((notes & NOTE_ATTRIB) !== 0) this.klist.post(NOTE_ATTRIB);
    if ((notes & NOTE_RENAME) !== 0) this.klist.post(NOTE_RENAME);
    if ((notes & NOTE_DELETE) !== 0) this.klist.post(NOTE_DELETE);
  }

  /** Reads the file's current name; true when the file itself moved (not only an ancestor). */
  private checkName(): boolean {
    let now: string;
    try {
      now = fs.readlinkSync(fdPath(this.fd), 'latin1');
    } catch {
      return false;
    }
    const was = this.path!;
    if (now === was || now.endsWith(' (deleted)')) return false;
    this.path = now;
    let moved = posix.basename(now) !== posix.basename(was);
    const pst = statParent(now);
    if (pst !== null) {
      if (pst.dev !== this.parentDev || pst.ino !== this.parentIno) moved = true;
      this.parentDev = pst.dev;
      this.parentIno = pst.ino;
    }
    if (moved && this.isDir) this.rehook();
    return moved;
  }

  /** Learns the name and parent of the file (once, when first watched). */
  learnName(): void {
    if (!HAS_PROC) return;
    try {
      this.path = fs.readlinkSync(fdPath(this.fd), 'latin1');
    } catch {
      return;
    }
    if (this.path.endsWith(' (deleted)')) {
      this.path = null;
      return;
    }
    const pst = statParent(this.path);
    if (pst !== null) {
      this.parentDev = pst.dev;
      this.parentIno = pst.ino;
    }
  }

  /** Makes sure the OS watch exists; returns 0 or the errno of its failure (ENOSPC). */
  watch(): number {
    if (this.watcher !== null || this.revoked) return 0;
    let w: fs.FSWatcher;
    try {
      const byName = this.path !== null;
      w = fs.watch(byName ? Buffer.from(this.path!, 'latin1') : fdPath(this.fd), WATCH_OPTIONS);
      if (byName && !this.isSelf(this.path!)) {
        // The name was replaced while the watch was being made: watch through the descriptor.
        w.close();
        w = fs.watch(fdPath(this.fd), WATCH_OPTIONS);
      }
    } catch (e) {
      return errnoFromCode((e as NodeJS.ErrnoException).code);
    }
    (w as WatcherWithVnode)[VNODE] = this;
    w.on('change', onWatchEvent);
    w.on('error', onWatchError);
    this.watcher = w;
    return 0;
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
    this.unhook();
  }

  /** Adds a knote; `needsEvents` for VNODE and READ. Returns 0 or an errno. */
  attach(kn: Knote, needsEvents: boolean): number {
    if (needsEvents) {
      // Changes made before the registration but not yet reported must not reach the new knote.
      if (this.watcher !== null && this.klist.size !== 0) this.refresh(false, true);
      else if (this.watcher !== null) this.rebase();
      const error = this.watch();
      if (error !== 0) {
        if (!this.used) this.release();
        return error;
      }
      if (this.watchUsers++ === 0 && this.isDir) this.hook();
    }
    this.klist.insert(kn);
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
    this.klist.remove(kn);
    if (needsEvents && --this.watchUsers === 0) {
      this.unhook();
      if (this.children === null || this.children.size === 0) this.unwatch();
    }
    if (!this.used) this.release();
  }

  /** Gives back the descriptor and the watch: the last user went. */
  release(): void {
    if (this.fd < 0) return;
    this.unwatch();
    vnodes.delete(this.key);
    untrackMount(this);
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
    this.revoked = true;
    const children = this.children;
    this.release();
    if (children !== null) for (const child of [...children.values()]) child.unhook();
    this.klist.post(NOTE_REVOKE);
  }

  /** Starts listening to the parent directory for this directory's removal. */
  private hook(): void {
    if (this.parent !== null || this.path === null) return;
    const name = posix.basename(this.path);
    const parentPath = posix.dirname(this.path);
    if (parentPath === this.path) return;
    const parent = vnodeOfPath(Buffer.from(parentPath, 'latin1'));
    if (typeof parent === 'number') return; // no watch left: rmdir goes unreported (documented)
    if (parent === this || parent.dev !== this.dev) {
      // A mount's root cannot be removed while mounted: nothing to listen for.
      if (!parent.used) parent.release();
      return;
    }
    if (parent.watch() !== 0) {
      if (!parent.used) parent.release();
      return;
    }
    (parent.children ??= new Map()).set(name, this);
    this.parent = parent;
  }

  unhook(): void {
    const parent = this.parent;
    if (parent === null) return;
    this.parent = null;
    const children = parent.children!;
    for (const [name, child] of children) {
      if (child === this) {
        children.delete(name);
        break;
      }
    }
    if (children.size === 0 && parent.watchUsers === 0) parent.unwatch();
    if (!parent.used) parent.release();
  }

  private rehook(): void {
    this.unhook();
    if (this.watchUsers !== 0) this.hook();
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
    if (name !== null && this.children !== null) this.children.get(name)?.refresh(false, true);
    if (this.watchUsers !== 0) this.refresh(false, true);
  }
}

const VNODE = Symbol('vnode');
/** Unref'd (a watch never keeps the process alive); names kept byte for byte. */
const WATCH_OPTIONS = { persistent: false, encoding: 'latin1' } as const;
type WatcherWithVnode = fs.FSWatcher & { [VNODE]?: Vnode };

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

/**
 * The identity of the directory holding `path`. Registering many files of one directory stats it
 * once: the answer is kept until the current synchronous run ends.
 */
function statParent(path: string): { dev: number; ino: number } | null {
  const dir = posix.dirname(path);
  if (dir === lastParent) return lastParentId;
  let id: { dev: number; ino: number } | null;
  try {
    const st = fs.statSync(Buffer.from(dir, 'latin1'));
    id = { dev: st.dev, ino: st.ino };
  } catch {
    id = null;
  }
  if (lastParent === null) queueMicrotask(forgetParent);
  lastParent = dir;
  lastParentId = id;
  return id;
}

let lastParent: string | null = null;
let lastParentId: { dev: number; ino: number } | null = null;

function forgetParent(): void {
  lastParent = null;
  lastParentId = null;
}

/** Every vnode with a user, by device and inode. */
const vnodes = new Map<number | string, Vnode>();

/** The table key of an inode: one number when device and inode allow (the usual case). */
function vnodeKey(dev: number, ino: number): number | string {
  return dev < 0x100000 && ino < 0x100000000 ? dev * 0x100000000 + ino : `${dev}:${ino}`;
}

/** The number of inodes watched now (for tests). */
export function vnodeCount(): number {
  return vnodes.size;
}

/**
 * The vnode of the file open on `fd` (a new descriptor of the library's own is kept for it when it
 * is new), or an errno. Regular files and directories only.
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
  const key = vnodeKey(st.dev, st.ino);
  const known = vnodes.get(key);
  if (known !== undefined) {
    fs.closeSync(fd);
    return known;
  }
  const vn = new Vnode(fd, key, st.dev, st.ino, st);
  vn.learnName();
  vnodes.set(key, vn);
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
  return vnodes.get(vnodeKey(dev, ino)) ?? vnodeOfPath(fdPath(fd));
}
