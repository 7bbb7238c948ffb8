import { tunables } from '../tunables.js';
import { fdMountId, mountIds, readMountinfo } from './proc-self.js';
import { allVnodes, type Vnode } from './vnode-watch.js';

/**
 * Learning that a watched file's filesystem was unmounted, for NOTE_REVOKE. A watched inode is held
 * open (vnode-watch.ts), so a plain umount fails with EBUSY, as on DragonFly, and inotify's
 * IN_UNMOUNT never comes; a lazy unmount (umount -l, Linux's counterpart of a forced unmount)
 * detaches the mount at once and tells no one. Node cannot wait for the POLLPRI that
 * /proc/self/mountinfo raises on every mount change, so it is read every
 * `tunables.vnode_mount_poll_ms` milliseconds (tens of microseconds), only while a file is
 * watched, on an unref'd timer. Only when the table changed is anything else done: the inodes
 * whose mount (fdinfo's mnt_id of the library's descriptor, read then and kept) is no longer
 * listed are revoked.
 */
let watched = 0;
let timer: NodeJS.Timeout | null = null;
let lastText: string | null = null;

export function trackMount(_vn: Vnode): void {
  if (watched++ !== 0) return;
  // The table as it is now: only a change from it is worth a look.
  lastText = readMountinfo();
  if (lastText !== null) arm();
}

export function untrackMount(_vn: Vnode): void {
  if (--watched !== 0) return;
  if (timer !== null) clearTimeout(timer);
  timer = null;
  lastText = null;
}

function arm(): void {
  const ms = tunables.vnode_mount_poll_ms;
  timer = setTimeout(poll, typeof ms === 'number' && ms >= 1 ? ms : 1000);
  timer.unref();
}

function poll(): void {
  timer = null;
  pollMounts();
  if (watched !== 0 && timer === null) arm();
}

/**
 * Reads the mount table; when it changed, revokes the inodes whose mount is gone (an inode's mount
 * id is read from fdinfo the first time it is needed, then kept). Exported for tests.
 */
export function pollMounts(): void {
  const text = readMountinfo();
  if (text === null || text === lastText) return;
  lastText = text;
  const ids = mountIds(text);
  for (const vn of [...allVnodes()]) {
    if (vn.fd < 0) continue;
    if (vn.mntId === -2) vn.mntId = fdMountId(vn.fd);
    if (vn.mntId >= 0 && !ids.has(vn.mntId)) vn.revoke();
  }
}
