/**
 * Names for what a kevent carries: filters, EV_ flags, NOTE_ bits per filter, signals and
 * errnos, and the one-line text `kq watch` prints for an event. Built from the public entry's
 * constants, so the numbers are DragonFly's and nothing here repeats them.
 */
import { constants as osConstants } from 'node:os';
import * as K from '../index.js';

/** `EVFILT_VNODE` -> `VNODE`, by value. */
export const FILTER_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(K)) {
  if (k.startsWith('EVFILT_') && typeof v === 'number' && k !== 'EVFILT_SYSCOUNT' && k !== 'EVFILT_MARKER') {
    FILTER_NAMES[v] = k.slice('EVFILT_'.length);
  }
}

/** EV_ flags in header order, without the prefix (EV_SYSFLAGS is a mask, not a flag). */
export const FLAG_BITS: [number, string][] = [
  [K.EV_ADD, 'ADD'], [K.EV_DELETE, 'DELETE'], [K.EV_ENABLE, 'ENABLE'], [K.EV_DISABLE, 'DISABLE'],
  [K.EV_ONESHOT, 'ONESHOT'], [K.EV_CLEAR, 'CLEAR'], [K.EV_RECEIPT, 'RECEIPT'],
  [K.EV_DISPATCH, 'DISPATCH'], [K.EV_NODATA, 'NODATA'], [K.EV_FLAG1, 'FLAG1'],
  [K.EV_ERROR, 'ERROR'], [K.EV_EOF, 'EOF'],
];

export const VNODE_NOTES: [number, string][] = [
  [K.NOTE_DELETE, 'DELETE'], [K.NOTE_WRITE, 'WRITE'], [K.NOTE_EXTEND, 'EXTEND'],
  [K.NOTE_ATTRIB, 'ATTRIB'], [K.NOTE_LINK, 'LINK'], [K.NOTE_RENAME, 'RENAME'],
  [K.NOTE_REVOKE, 'REVOKE'],
];

export const PROC_NOTES: [number, string][] = [
  [K.NOTE_EXIT, 'EXIT'], [K.NOTE_FORK, 'FORK'], [K.NOTE_EXEC, 'EXEC'], [K.NOTE_TRACK, 'TRACK'],
  [K.NOTE_TRACKERR, 'TRACKERR'], [K.NOTE_CHILD, 'CHILD'],
];

export const FS_NOTES: [number, string][] = [
  [K.VQ_NOTRESP, 'NOTRESP'], [K.VQ_NEEDAUTH, 'NEEDAUTH'], [K.VQ_LOWDISK, 'LOWDISK'],
  [K.VQ_MOUNT, 'MOUNT'], [K.VQ_UNMOUNT, 'UNMOUNT'], [K.VQ_DEAD, 'DEAD'], [K.VQ_ASSIST, 'ASSIST'],
  [K.VQ_NOTRESPLOCK, 'NOTRESPLOCK'],
];

const READ_NOTES: [number, string][] = [[K.NOTE_LOWAT, 'LOWAT'], [K.NOTE_OOB, 'OOB']];

/** The names of the bits set in `value`, in table order; unnamed bits as hex. */
export function bitNames(value: number, table: [number, string][]): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  for (const [bit, name] of table) {
    if ((rest & bit) >>> 0 === bit >>> 0 && bit !== 0) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}

export function noteTable(filter: number): [number, string][] {
  switch (filter) {
    case K.EVFILT_VNODE: return VNODE_NOTES;
    case K.EVFILT_PROC: return PROC_NOTES;
    case K.EVFILT_FS: return FS_NOTES;
    case K.EVFILT_READ: case K.EVFILT_WRITE: case K.EVFILT_EXCEPT: return READ_NOTES;
    default: return [];
  }
}

/** Host signal numbers and names (Node's numbering, as the SIGNAL filter uses). */
const SIGNALS = osConstants.signals as Record<string, number>;
const SIGNAL_NAMES: Record<number, string> = {};
for (const [name, num] of Object.entries(SIGNALS)) SIGNAL_NAMES[num] ??= name;

/** `USR1`, `sigusr1`, `SIGUSR1` or `10` -> `SIGUSR1`; undefined when unknown. */
export function signalName(text: string): string | undefined {
  if (/^\d+$/.test(text)) return SIGNAL_NAMES[Number(text)];
  const up = text.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return SIGNALS[name] !== undefined ? name : undefined;
}

export function signalNumber(name: string): number | undefined {
  return SIGNALS[name];
}

export function signalOf(num: number): string {
  return SIGNAL_NAMES[num] ?? `signal ${num}`;
}

/** DragonFly errno -> its symbolic name and the C library's words for it. */
const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', ESRCH: 'No such process',
  EINTR: 'Interrupted system call', EIO: 'Input/output error', ENXIO: 'Device not configured',
  EBADF: 'Bad file descriptor', ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied',
  EINVAL: 'Invalid argument', ENOSPC: 'No space left on device', EOPNOTSUPP: 'Operation not supported',
  ENOSYS: 'Function not implemented', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory',
  EMFILE: 'Too many open files', ENFILE: 'Too many open files in system', ENOEXEC: 'Exec format error',
  E2BIG: 'Argument list too long', ETXTBSY: 'Text file busy', ELOOP: 'Too many levels of symbolic links',
};
const ERRNO_NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(K)) {
  if (/^E[A-Z]+$/.test(k) && typeof v === 'number' && k !== 'EWOULDBLOCK' && k !== 'ENOTSUP') ERRNO_NAMES[v] ??= k;
}

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** `No such process` for ESRCH: what err(3) would print. */
export function strerror(errno: number): string {
  const name = ERRNO_NAMES[errno];
  return (name !== undefined ? ERRNO_TEXT[name] : undefined) ?? errnoName(errno);
}

/** Node's error code (`EACCES`) in the C library's words, or the code itself. */
export function codeText(code: string | undefined): string {
  return (code !== undefined ? ERRNO_TEXT[code] : undefined) ?? code ?? 'unknown error';
}

/** A wait(2) status in words: `status 3`, `signal SIGKILL`. */
export function waitStatusText(status: number): string {
  const sig = status & 0x7f;
  return sig === 0 ? `status ${(status >> 8) & 0xff}` : `signal ${signalOf(sig)}`;
}

/** The exit status a shell reports for a wait(2) status: the code, or 128 + the signal. */
export function shellStatus(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}
