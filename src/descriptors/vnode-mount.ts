import fs from 'node:fs';
import { tunables } from '../tunables.js';
import { fdMountId, mountIds, readMountinfo } from './proc-self.js';
import { allVnodes, type Vnode } from './vnode-watch.js';

/**
 * Learning that a watched file's filesystem was unmounted, for NOTE_REVOKE. A watched inode is held
 * open (vnode-watch.ts), so a plain umount fails with EBUSY, as on DragonFly, and inotify's
 * IN_UNMOUNT never comes; a lazy unmount (umount -l, Linux's counterpart of a forced unmount)
 * detaches the mount at once and tells no one. Node cannot wait for the POLLPRI that
 * /proc/self/mountinfo raises on every mount change, so it is polled every
 * `tunables.vnode_mount_poll_ms` milliseconds, only while a file is watched, on an unref'd timer.
 *
 * Reading mountinfo costs from 0.1 ms to several ms when other processes are mounting, so a poll
 * first stats the mount points of the devices watched files are on (learnt from the table): while
 * each still shows its mount's root, nothing was unmounted there. Only when one does not (or a new
 * file was watched on that device since) is the table read; when it changed, the inodes whose
 * mount (fdinfo's mnt_id of the library's descriptor, read then and kept) is no longer listed are
 * revoked.
 */
const devices = new Map<number, Device>();
let watched = 0;
let timer: NodeJS.Timeout | null = null;
let lastText: string | null = null;
/** Vnodes watched since the last poll, whose mount may have been gone before they were. */
let fresh: Vnode[] = [];

interface Device {
  /** Watched inodes on it. */
  count: number;
  /** Its mount points and what they showed (device and root inode), or null: read the table. */
  probes: Probe[] | null;
}

interface Probe {
  /** The mount point, byte for byte. */
  path: Buffer;
  ino: number;
}

export function trackMount(vn: Vnode): void {
  let dev = devices.get(vn.dev);
  if (dev === undefined) devices.set(vn.dev, (dev = { count: 0, probes: null }));
  dev.count++;
  // It may have been reached through a mount the probes do not know: the next poll reads the table.
  dev.probes = null;
  if (watched++ === 0) {
    // The table as it is now: only a change from it is worth a look.
    lastText = readMountinfo();
    if (lastText !== null) arm();
  }
  // Its mount may be gone already (a descriptor of a lazily unmounted filesystem): looked at once.
  if (lastText !== null) fresh.push(vn);
}

export function untrackMount(vn: Vnode): void {
  const dev = devices.get(vn.dev);
  if (dev !== undefined && --dev.count === 0) devices.delete(vn.dev);
  if (--watched !== 0) return;
  if (timer !== null) clearTimeout(timer);
  timer = null;
  lastText = null;
  fresh = [];
}

function arm(): void {
  const ms = tunables.vnode_mount_poll_ms;
  timer = setTimeout(poll, typeof ms === 'number' && ms >= 1 ? ms : 1000);
  timer.unref();
}

function poll(): void {
  timer = null;
  if (!probesHold()) pollMounts();
  if (watched !== 0 && timer === null) arm();
}

/** Do all the watched devices' mount points still show their mounts? */
function probesHold(): boolean {
  for (const [dev, d] of devices) {
    if (d.probes === null) return false;
    for (const p of d.probes) {
      try {
        const st = fs.statSync(p.path);
        if (st.dev !== dev || st.ino !== p.ino) return false;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/**
 * Reads the mount table; when it changed, revokes the inodes whose mount is gone (an inode's mount
 * id is read from fdinfo the first time it is needed, then kept); so are inodes watched since the
 * last poll on a device the table does not list (a filesystem unmounted before they were watched,
 * or a device the table names otherwise); then learns the devices' mount points. Exported for
 * tests.
 */
export function pollMounts(): void {
  const text = readMountinfo();
  if (text === null) return;
  const points = mountPoints(text);
  const changed = text !== lastText;
  lastText = text;
  const suspects = changed ? [...allVnodes()] : fresh.filter((vn) => !points.has(majorMinor(vn.dev)));
  fresh = [];
  let ids: Set<number> | null = null;
  for (const vn of suspects) {
    if (vn.fd < 0) continue;
    if (vn.mntId === -2) vn.mntId = fdMountId(vn.fd);
    if (vn.mntId < 0) continue;
    ids ??= mountIds(text);
    if (!ids.has(vn.mntId)) vn.revoke();
  }
  learnProbes(points);
}

/** The mount points of each device (major:minor), from a mountinfo text. */
function mountPoints(text: string): Map<string, string[]> {
  const points = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options ...
    const f = line.split(' ');
    if (f.length < 5) continue;
    let list = points.get(f[2]!);
    if (list === undefined) points.set(f[2]!, (list = []));
    list.push(unescapeMountPath(f[4]!));
  }
  return points;
}

/** The mount points of each watched device, probed. */
function learnProbes(points: Map<string, string[]>): void {
  for (const [dev, d] of devices) {
    const list = points.get(majorMinor(dev));
    if (list === undefined) {
      d.probes = null; // a device mountinfo names otherwise (btrfs subvolumes): read the table
      continue;
    }
    const probes: Probe[] = [];
    for (const point of list) {
      const path = Buffer.from(point, 'latin1');
      try {
        const st = fs.statSync(path);
        if (st.dev === dev) probes.push({ path, ino: st.ino });
      } catch {
        // a mount point hidden from us: its mount is not probed
      }
    }
    d.probes = probes.length === list.length ? probes : null;
  }
}

/** st_dev as mountinfo writes it (glibc's makedev encoding, taken apart). */
function majorMinor(dev: number): string {
  const lo = dev % 0x100000000;
  const hi = Math.floor(dev / 0x100000000);
  const major = ((lo >>> 8) & 0xfff) | (hi & 0xfffff000);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00);
  return `${major >>> 0}:${minor >>> 0}`;
}

/** Mount points are written with octal escapes for space, tab, newline and backslash. */
function unescapeMountPath(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) : s;
}
