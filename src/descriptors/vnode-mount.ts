import { tunables } from '../tunables.js';
import { mountIds, readMountinfo } from './proc-self.js';
import type { Vnode } from './vnode-watch.js';

/**
 * Learning that a watched file's filesystem was unmounted, for NOTE_REVOKE. A watched inode is held
 * open (vnode-watch.ts), so a plain umount fails with EBUSY, as on DragonFly, and inotify's
 * IN_UNMOUNT never comes; a lazy unmount (umount -l, Linux's counterpart of a forced unmount)
 * detaches the mount at once and tells no one. Node cannot wait for the POLLPRI that
 * /proc/self/mountinfo raises on every mount change, so it is read every
 * `tunables.vnode_mount_poll_ms` milliseconds (about 70 us for a few dozen mounts), only while a
 * file is watched, on an unref'd timer; the mount ids of watched inodes missing from it are revoked.
 */
const byMount = new Map<number, Set<Vnode>>();
let timer: NodeJS.Timeout | null = null;
let lastText: string | null = null;

export function trackMount(vn: Vnode): void {
  if (vn.mntId < 0) return;
  let set = byMount.get(vn.mntId);
  if (set === undefined) byMount.set(vn.mntId, (set = new Set()));
  set.add(vn);
  if (timer === null) arm();
}

export function untrackMount(vn: Vnode): void {
  const set = byMount.get(vn.mntId);
  if (set === undefined || !set.delete(vn) || set.size !== 0) return;
  byMount.delete(vn.mntId);
  if (byMount.size === 0 && timer !== null) {
    clearTimeout(timer);
    timer = null;
    lastText = null;
  }
}

function arm(): void {
  const ms = tunables.vnode_mount_poll_ms;
  timer = setTimeout(poll, typeof ms === 'number' && ms >= 1 ? ms : 1000);
  timer.unref();
}

/** Reads the mount table; revokes the inodes whose mount is gone. Exported for tests. */
export function pollMounts(): void {
  const text = readMountinfo();
  if (text === null || text === lastText) return;
  lastText = text;
  const ids = mountIds(text);
  for (const [id, set] of [...byMount]) {
    if (ids.has(id)) continue;
    for (const vn of [...set]) vn.revoke();
  }
}

function poll(): void {
  timer = null;
  pollMounts();
  if (byMount.size !== 0 && timer === null) arm();
}
