import fs from 'node:fs';

/**
 * What Linux's /proc tells a process about its own descriptors and mounts, which Node has no API
 * for: an open file's position (fdinfo `pos:`), the mount it was opened through (fdinfo
 * `mnt_id:`), the current name of an open file (the /proc/self/fd magic link), and the mount table
 * (mountinfo). Elsewhere the answers degrade as documented in docs/filters/file.md and vnode.md.
 */
export const HAS_PROC = process.platform === 'linux';

/**
 * open(2) flags for the library's own descriptor on a watched file: O_PATH on Linux needs no read
 * permission, never blocks (a FIFO) and allows only fstat and naming, which is all it is used for.
 */
export const O_WATCH = HAS_PROC ? 0o10000000 : fs.constants.O_RDONLY;

/** A path naming the file open on `fd`, even when renamed or deleted (Linux's magic link). */
export function fdPath(fd: number): string {
  return (HAS_PROC ? '/proc/self/fd/' : '/dev/fd/') + fd;
}

/** One buffer for every fdinfo read (the files are a few lines long), and its length. */
const info = Buffer.allocUnsafe(512);
let infoLength = -1;

/**
 * Reads `/proc/self/fdinfo/<fd>` for `fdinfoField`; false when the fd is not open (or there is
 * no /proc).
 */
export function loadFdinfo(fd: number): boolean {
  infoLength = -1;
  if (!HAS_PROC) return false;
  let f: number;
  try {
    f = fs.openSync('/proc/self/fdinfo/' + fd, 'r');
  } catch {
    return false;
  }
  try {
    infoLength = fs.readSync(f, info, 0, info.length, 0);
  } catch {
    infoLength = -1;
  } finally {
    fs.closeSync(f);
  }
  return infoLength >= 0;
}

/**
 * The decimal number of a line `key<tab>N` of the fdinfo last loaded (`pos:`, `mnt_id:`, `ino:`),
 * or -1 when absent.
 */
export function fdinfoField(key: string): number {
  const n = infoLength;
  if (n < 0) return -1;
  let at = info.indexOf(key, 0, 'latin1');
  while (at > 0 && info[at - 1] !== 0x0a) at = info.indexOf(key, at + 1, 'latin1');
  if (at < 0 || at >= n) return -1;
  let i = at + key.length;
  while (i < n && (info[i] === 0x09 || info[i] === 0x20)) i++;
  let v = 0;
  let digits = 0;
  for (; i < n; i++) {
    const c = info[i]!;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? -1 : v;
}

/** The id of the mount `fd` was opened through (mountinfo's first field), or -1 when unknown. */
export function fdMountId(fd: number): number {
  return loadFdinfo(fd) ? fdinfoField('mnt_id:') : -1;
}

/** The text of /proc/self/mountinfo, or null without /proc. */
export function readMountinfo(): string | null {
  if (!HAS_PROC) return null;
  try {
    return fs.readFileSync('/proc/self/mountinfo', 'latin1');
  } catch {
    return null;
  }
}

/** The mount ids listed in a mountinfo text (each line starts with one). */
export function mountIds(text: string): Set<number> {
  const ids = new Set<number>();
  let i = 0;
  while (i < text.length) {
    let v = 0;
    let j = i;
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
    }
    if (j > i) ids.add(v);
    const nl = text.indexOf('\n', j);
    if (nl < 0) break;
    i = nl + 1;
  }
  return ids;
}
