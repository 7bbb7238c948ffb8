/**
 * Watching a *name*, as a user means it. The library's EVFILT_VNODE knote follows an inode (a
 * path ident is resolved once, as an open descriptor would be), so when an editor or
 * `git checkout` replaces a file (write a temp file, rename it over the old one) the knote sees
 * NOTE_DELETE or NOTE_RENAME on the old inode and nothing more. NameSet re-registers the name on
 * such an event (or whenever the name now resolves to another inode), so it keeps watching
 * whatever has that name. A name that is gone is waited for: its nearest existing ancestor
 * directory is watched (NOTE_WRITE) and the name is registered again as soon as it reappears;
 * the ancestor is watched *before* the name is checked again, so a re-creation in between is
 * not missed.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EV_DELETE, EV_ERROR, EVFILT_VNODE, ENOENT, type KEvent, type Kqueue,
  NOTE_DELETE, NOTE_RENAME, NOTE_REVOKE, NOTE_WRITE,
} from '../index.js';
import { change } from './kev.js';

export type NameKind = 'file' | 'dir' | 'other';

/** One watched name. `udata` of its knote, so an event leads straight to it. */
export class WatchedName {
  /** A knote is registered for the inode the name had at `ino`. */
  live = false;
  ino = -1;
  kind: NameKind = 'other';
  /** Waiting for the name to reappear (persistent names only). */
  waitingOn: AncestorWait | null = null;

  constructor(
    readonly name: string,
    /** Named by the user: waited for when it disappears (a discovered child is dropped instead). */
    readonly persistent: boolean,
    /** The caller's own data (the tree a child belongs to, say). */
    public tag: unknown = null,
  ) {}
}

/** A directory watched on behalf of names that do not exist right now. */
class AncestorWait {
  readonly names = new Set<WatchedName>();
  constructor(readonly dir: string, readonly ident: string) {}
}

export type RegisterResult = { ok: true } | { ok: false; errno: number };

/** What an event on a name meant. */
export interface NameEvent {
  /** The watched name the event is for, or null for an ancestor wait (not the user's business). */
  name: WatchedName | null;
  /** The knote was replaced by one on the inode that now has the name. */
  rewatched: boolean;
  /** The name is gone (a discovered child is then dropped; a persistent one waited for). */
  gone: boolean;
  /** A name that was waited for exists again and is watched (it counts as a change). */
  reappeared: WatchedName[];
}

const GONE = NOTE_DELETE | NOTE_RENAME | NOTE_REVOKE;

function inodeOf(name: string): { ino: number; kind: NameKind } | null {
  try {
    const st = statSync(name);
    return { ino: st.ino, kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' };
  } catch {
    return null;
  }
}

export class NameSet {
  readonly names = new Map<string, WatchedName>();
  private readonly waits = new Map<string, AncestorWait>();

  constructor(private readonly kq: Kqueue, private readonly fflags: number) {}

  /**
   * Starts watching `name`. Fails with the errno of the registration (ENOENT for a name that does
   * not exist, ENOSPC over the inotify limit, ...), except that a persistent name that does not
   * exist can be `waitIfMissing`: it is then watched once it appears.
   */
  add(name: string, persistent: boolean, tag: unknown = null, waitIfMissing = false): RegisterResult {
    let w = this.names.get(name);
    if (w === undefined) {
      w = new WatchedName(name, persistent, tag);
      this.names.set(name, w);
    }
    const r = this.register(w);
    if (!r.ok) {
      if (r.errno === ENOENT && persistent && waitIfMissing) {
        this.waitFor(w);
        return { ok: true };
      }
      this.names.delete(name);
    }
    return r;
  }

  /** Stops watching `name` (its knote or its wait). */
  remove(name: string): void {
    const w = this.names.get(name);
    if (w === undefined) return;
    this.names.delete(name);
    this.unregister(w);
    this.stopWaiting(w);
  }

  get size(): number {
    return this.names.size;
  }

  /** Handles an EVFILT_VNODE event that came from this set (its udata is ours); null otherwise. */
  handle(ev: KEvent): NameEvent | null {
    const u = ev.udata;
    if (u instanceof AncestorWait) {
      return { name: null, rewatched: false, gone: false, reappeared: this.retry(u, ev.fflags) };
    }
    if (!(u instanceof WatchedName) || this.names.get(u.name) !== u || (ev.flags & EV_ERROR) !== 0) return null;
    const now = inodeOf(u.name);
    const replaced = (ev.fflags & GONE) !== 0 || now === null || now.ino !== u.ino;
    if (!replaced) return { name: u, rewatched: false, gone: false, reappeared: [] };
    this.unregister(u);
    if (now !== null && this.register(u).ok) return { name: u, rewatched: true, gone: false, reappeared: [] };
    if (u.persistent) this.waitFor(u);
    else this.names.delete(u.name);
    return { name: u, rewatched: false, gone: true, reappeared: [] };
  }

  /** Registers again every name whose inode changed (a directory rescan found it replaced). */
  refresh(w: WatchedName): boolean {
    const now = inodeOf(w.name);
    if (now !== null && now.ino === w.ino && w.live) return false;
    this.unregister(w);
    if (now !== null && this.register(w).ok) return true;
    if (w.persistent) this.waitFor(w);
    else this.names.delete(w.name);
    return true;
  }

  private register(w: WatchedName): RegisterResult {
    const st = inodeOf(w.name);
    if (st === null) return { ok: false, errno: ENOENT };
    const errno = change(this.kq, { ident: w.name, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: this.fflags, udata: w });
    if (errno !== 0) return { ok: false, errno };
    w.live = true;
    w.ino = st.ino;
    w.kind = st.kind;
    this.stopWaiting(w);
    return { ok: true };
  }

  private unregister(w: WatchedName): void {
    if (!w.live) return;
    w.live = false;
    change(this.kq, { ident: w.name, filter: EVFILT_VNODE, flags: EV_DELETE });
  }

  /** Watches the nearest existing ancestor of a missing name, then checks the name once more. */
  private waitFor(w: WatchedName): void {
    this.stopWaiting(w);
    let dir = dirname(w.name);
    for (;;) {
      if (inodeOf(dir)?.kind === 'dir') break;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
    // A distinct ident ("dir/."), so that a directory the user also watches by name keeps its own
    // knote and udata: two idents that resolve to one inode are two knotes.
    const ident = `${dir}/.`;
    let wait = this.waits.get(ident);
    if (wait === undefined) {
      wait = new AncestorWait(dir, ident);
      if (change(this.kq, { ident, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE | GONE, udata: wait }) !== 0) {
        return; // nothing to wait on: the name stays unwatched
      }
      this.waits.set(ident, wait);
    }
    wait.names.add(w);
    w.waitingOn = wait;
    if (inodeOf(w.name) !== null) this.register(w);
  }

  private stopWaiting(w: WatchedName): void {
    const wait = w.waitingOn;
    if (wait === null) return;
    w.waitingOn = null;
    wait.names.delete(w);
    if (wait.names.size === 0) {
      this.waits.delete(wait.ident);
      change(this.kq, { ident: wait.ident, filter: EVFILT_VNODE, flags: EV_DELETE });
    }
  }

  /** The waited-on directory changed: register the names that exist again. */
  private retry(wait: AncestorWait, fflags: number): WatchedName[] {
    const back: WatchedName[] = [];
    for (const w of [...wait.names]) {
      if (inodeOf(w.name) !== null && this.register(w).ok) back.push(w);
      else if ((fflags & GONE) !== 0 || inodeOf(wait.dir) === null) this.waitFor(w);
      // A deeper ancestor may exist now: move the wait down so the name itself is seen.
      else if (dirname(w.name) !== wait.dir && inodeOf(dirname(w.name)) !== null) this.waitFor(w);
    }
    return back;
  }
}
