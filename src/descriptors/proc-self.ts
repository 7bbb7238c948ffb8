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
  const f = openProc('/proc/self/fdinfo/' + fd);
  if (f < 0) return false;
  try {
    infoLength = fs.readSync(f, info, 0, info.length, 0);
  } catch {
    infoLength = -1;
  } finally {
    closeProc(f);
  }
  return infoLength >= 0;
}

// ---- the reserve descriptor -------------------------------------------------------------------

/**
 * One descriptor kept in reserve while any file is watched. A READ knote's position and the mount
 * table are read from /proc files, each open costing a descriptor: at the process's descriptor
 * limit (EMFILE) those reads would fail, leaving READ knotes silent and unmounts unnoticed. At the
 * limit the reserve is closed to make room for the one read, then taken again (as servers keep a
 * spare descriptor for accept). Single-threaded JavaScript makes the swap safe, except against a
 * libuv worker thread opening a file at that instant: then the read fails as before, and the
 * reserve is taken again at the next read.
 */
let reserve = -1;
let reserveHolders = 0;

/** A watched file appeared: keep a descriptor in reserve (while any is watched). */
export function holdReserve(): void {
  if (reserveHolders++ === 0) takeReserve();
}

/** A watched file went. */
export function dropReserve(): void {
  if (--reserveHolders !== 0 || reserve < 0) return;
  fs.closeSync(reserve);
  reserve = -1;
}

function takeReserve(): void {
  if (!HAS_PROC) return;
  try {
    reserve = fs.openSync('/', O_WATCH);
  } catch {
    reserve = -1; // at the limit already: taken again after the next read
  }
}

/** Opens a /proc file for reading, with the reserve's room at the descriptor limit; -1 on failure. */
function openProc(path: string): number {
  if (!HAS_PROC) return -1;
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code !== 'EMFILE' && code !== 'ENFILE') || reserve < 0) return -1;
  }
  fs.closeSync(reserve);
  reserve = -1;
  try {
    return fs.openSync(path, 'r');
  } catch {
    takeReserve();
    return -1;
  }
}

function closeProc(f: number): void {
  fs.closeSync(f);
  if (reserve < 0 && reserveHolders !== 0) takeReserve();
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
  const f = openProc('/proc/self/mountinfo');
  if (f < 0) return null;
  try {
    return fs.readFileSync(f, 'latin1');
  } catch {
    return null;
  } finally {
    closeProc(f);
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
