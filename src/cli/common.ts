/**
 * What every kq command shares: the one-line error (`kq CMD: message` on stderr and a non-zero
 * status), leaving the process once stdout has been written out, and the package's version.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An error the user caused or must know about: printed as one line, then exit with `status`. */
export class CliError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** Exit statuses shared by kq's own commands (run and wait keep entr's and pwait's). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 124;
export const EXIT_INTERRUPTED = 130;

let program = 'kq';

/** Names the command in error lines (`kq watch: ...`). */
export function setProgram(name: string): void {
  program = name;
}

export function warn(message: string): void {
  process.stderr.write(`${program}: ${message}\n`);
}

let exiting = false;

/**
 * Leaves the process with `status` once what was written to stdout and stderr has gone out
 * (a pipe's buffered lines are not lost, as they would be with a bare process.exit).
 */
export function exit(status: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    let pending = 2;
    const done = (): void => {
      if (--pending === 0) process.exit(status);
    };
    for (const s of [process.stdout, process.stderr]) {
      if (s.writableLength === 0 || s.destroyed) done();
      else s.write('', done);
    }
  }
  return new Promise<never>(() => {});
}

let onBrokenPipe: () => void = () => process.exit(EXIT_OK);

/** What a broken pipe does instead of exiting at once (kq run stops its utility first). */
export function whenPipeBreaks(then: () => void): void {
  onBrokenPipe = then;
}

/**
 * A reader that went away (`kq watch | head -1`) ends the program quietly, with status 0, at its
 * next write (a C tool is killed by SIGPIPE there; Node ignores SIGPIPE and reports EPIPE). The
 * same for stderr (`2>&1 | head -1`). Installed for every command by main.ts.
 */
export function quietOnBrokenPipe(): void {
  let broken = false;
  const onError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') throw e;
    if (broken) return;
    broken = true;
    onBrokenPipe();
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}

let cachedVersion: string | undefined;

/** The package's version, from the nearest package.json above this file (dist/cli/ in a package). */
export function version(): string {
  if (cachedVersion === undefined) {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'kqueue' && typeof pkg.version === 'string') {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // not here: look one level up
      }
      const up = dirname(dir);
      if (up === dir) {
        cachedVersion = 'unknown';
        break;
      }
      dir = up;
    }
  }
  return cachedVersion;
}

const octal = (b: number): string => `\\${b.toString(8).padStart(3, '0')}`;

/** The bytes as UTF-8, or null when they are not valid UTF-8 (Node would replace them with U+FFFD). */
export function utf8(bytes: Buffer): string | null {
  const s = bytes.toString('utf8');
  return Buffer.byteLength(s) === bytes.length && Buffer.from(s).equals(bytes) ? s : null;
}

/**
 * A name as a message shows it: control characters (NUL included) and, in a name that is not
 * UTF-8, every byte outside ASCII, as octal escapes (`caf\351`), as BSD tools print names through
 * vis(3); so a line of binary garbage stays one readable line.
 */
export function visible(name: string | Buffer): string {
  const s = typeof name === 'string' ? name : utf8(name);
  if (s !== null) {
    let out = '';
    for (const c of s) {
      const code = c.charCodeAt(0);
      out += code < 0x20 || code === 0x7f ? octal(code) : c;
    }
    return out;
  }
  let out = '';
  for (const b of name as Buffer) out += b < 0x20 || b >= 0x7f ? octal(b) : String.fromCharCode(b);
  return out;
}
