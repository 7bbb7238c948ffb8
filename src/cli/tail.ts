/**
 * `kq tail [-f | -F] [-n N] FILE`: the end of a file, then what is appended, as BSD tail(1)
 * follows a file with kqueue: EVFILT_READ on the descriptor (its `data` is the bytes between
 * the read position and the end: the file grew) and EVFILT_VNODE on it (NOTE_ATTRIB for a
 * truncation; NOTE_DELETE and NOTE_RENAME for a rotation under -F). Reads go through the
 * descriptor's own position, so READ's `data` always counts exactly what is left to print.
 *
 * Truncation is reported as OpenBSD's tail does ("FILE has been truncated, resetting.") and
 * printing starts again at the new beginning; under -F a file replaced by another under the
 * same name (log rotation) is drained, then the new one is opened ("FILE has been replaced,
 * reopening."). As FreeBSD's tail, -F also re-checks the name once a second.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EV_DELETE, EVFILT_READ, EVFILT_VNODE, kqueue, type Kqueue,
  NOTE_ATTRIB, NOTE_DELETE, NOTE_EXTEND, NOTE_RENAME, NOTE_WRITE,
} from '../index.js';
import { parse } from './args.js';
import { change } from './kev.js';
import { CliError, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit, setProgram, warn } from './common.js';
import { strerror } from './notes.js';

const USAGE = 'usage: kq tail [-f | -F] [-n N] FILE';

export const TAIL_HELP = `${USAGE}

Prints the last N lines of FILE (10 by default), then, with -f or -F, whatever is
appended to it, as it is written (EVFILT_READ and EVFILT_VNODE on one kqueue).

  -n N, --lines N   the last N lines; +N starts at line N instead
  -f, --follow      keep printing what is appended to the file
  -F                follow the name: when the file is renamed or deleted and a new
                    one is created under the name (log rotation), print the rest of
                    the old one, then the new one from its start
  -h, --help        this help

A truncated file is reported on stderr ("FILE has been truncated, resetting.") and
printed again from its new beginning; a rotation under -F is reported as "FILE
has been replaced, reopening.". Ctrl-C exits 130.

Exit status: 0 (without -f/-F, once printed), 1 when FILE cannot be read, 2 on a
usage error.
`;

const CHUNK = 64 * 1024;

/** Where the last `n` lines start: scanned backwards with positioned reads (no seek needed). */
function lastLinesOffset(fd: number, size: number, n: number): number {
  if (n === 0) return size;
  const buf = Buffer.allocUnsafe(CHUNK);
  let end = size;
  let newlines = 0;
  // A final newline ends the last line; it does not start a new one.
  let skipLast = true;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const len = readSync(fd, buf, 0, end - start, start);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      if (++newlines === n) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/** Where line `n` (1-based) starts, for `-n +N`. */
function lineOffset(fd: number, n: number): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  let line = 1;
  while (line < n) {
    const len = readSync(fd, buf, 0, CHUNK, pos);
    if (len === 0) return pos;
    for (let i = 0; i < len; i++) {
      if (buf[i] === 0x0a && ++line === n) return pos + i + 1;
    }
    pos += len;
  }
  return pos;
}

/** A followed file: its descriptor, how far it was read, and the inode it is. */
class Followed {
  pos = 0;
  readonly ino: number;
  constructor(readonly fd: number) {
    this.ino = fstatSync(fd).ino;
  }

  /** Reads (through the descriptor's position) `count` bytes, or to the end; writes them unless `discard`. */
  copy(count = Infinity, discard = false): void {
    const buf = Buffer.allocUnsafe(CHUNK);
    while (count > 0) {
      const len = readSync(this.fd, buf, 0, Math.min(CHUNK, count), null);
      if (len === 0) break;
      this.pos += len;
      count -= len;
      if (!discard) process.stdout.write(Buffer.from(buf.subarray(0, len)));
    }
  }
}

function openFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CliError(`${path}: ${describe(e)}`, EXIT_ERROR);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new CliError(`${path}: Is a directory`, EXIT_ERROR);
  }
  return fd;
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory',
    ENOTDIR: 'Not a directory', ELOOP: 'Too many levels of symbolic links',
  };
  return (code !== undefined ? words[code] : undefined) ?? (e as Error).message;
}

const VNODE_NOTES = NOTE_DELETE | NOTE_RENAME | NOTE_ATTRIB | NOTE_WRITE | NOTE_EXTEND;

function watchFd(kq: Kqueue, fd: number): void {
  for (const ev of [
    { ident: fd, filter: EVFILT_READ, flags: EV_ADD | EV_CLEAR },
    { ident: fd, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: VNODE_NOTES },
  ]) {
    const errno = change(kq, ev);
    if (errno !== 0) throw new CliError(`cannot follow the file: ${strerror(errno)}`, EXIT_ERROR);
  }
}

function unwatchFd(kq: Kqueue, fd: number): void {
  change(kq, { ident: fd, filter: EVFILT_READ, flags: EV_DELETE });
  change(kq, { ident: fd, filter: EVFILT_VNODE, flags: EV_DELETE });
}

function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

export async function tailMain(argv: string[]): Promise<never> {
  setProgram('kq tail');
  const { values, positionals } = parse(argv, {
    lines: { type: 'string', short: 'n' },
    follow: { type: 'boolean', short: 'f' },
    F: { type: 'boolean', short: 'F' },
    help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (values.help === true) {
    process.stdout.write(TAIL_HELP);
    return exit(EXIT_OK);
  }
  const linesText = (values.lines as string | undefined) ?? '10';
  const m = /^([+-]?)(\d+)$/.exec(linesText);
  if (m === null) throw new CliError(`-n takes a number of lines, not '${linesText}' (${USAGE})`, EXIT_USAGE);
  const fromStart = m[1] === '+';
  const n = Number(m[2]);
  if (positionals.length !== 1) throw new CliError(`${positionals.length === 0 ? 'no FILE given' : 'one FILE only'} (${USAGE})`, EXIT_USAGE);
  const byName = values.F === true;
  const follow = byName || values.follow === true;
  const path = positionals[0]!;

  let file = new Followed(openFile(path));
  const size = fstatSync(file.fd).size;
  const start = fromStart ? lineOffset(file.fd, Math.max(1, n)) : lastLinesOffset(file.fd, size, n);
  file.copy(start, true); // moves the descriptor's position to the start, without a seek
  file.copy();
  if (!follow) return exit(EXIT_OK);

  const kq = kqueue();
  process.on('SIGINT', () => {
    kq.close();
    void exit(EXIT_INTERRUPTED);
  });
  watchFd(kq, file.fd);
  // Under -F a re-created name is seen at once through its directory, besides the 1 s re-check.
  const dirIdent = `${dirname(path)}/.`;
  if (byName) change(kq, { ident: dirIdent, filter: EVFILT_VNODE, flags: EV_ADD | EV_CLEAR, fflags: NOTE_WRITE });

  for (;;) {
    try {
      await kq.kevent(null, 8, byName ? 1000 : null);
    } catch {
      return exit(EXIT_INTERRUPTED); // closed by Ctrl-C
    }
    const st = fstatSync(file.fd);
    if (st.size < file.pos) {
      warn(`${path} has been truncated, resetting.`);
      // The same file from its beginning: a new descriptor on the same inode (even if renamed).
      const fd = openSync(`/proc/self/fd/${file.fd}`, 'r');
      unwatchFd(kq, file.fd);
      closeSync(file.fd);
      file = new Followed(fd);
      watchFd(kq, fd);
    }
    file.copy();
    if (byName) {
      const ino = inodeOf(path);
      if (ino !== null && ino !== file.ino) {
        let fd: number;
        try {
          fd = openSync(path, 'r');
        } catch {
          continue; // gone again: the next change or the 1 s re-check tries once more
        }
        warn(`${path} has been replaced, reopening.`);
        unwatchFd(kq, file.fd);
        closeSync(file.fd);
        file = new Followed(fd);
        watchFd(kq, fd);
        file.copy();
      }
    }
  }
}
