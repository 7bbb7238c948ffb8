/**
 * `kq wait [-t duration] [-ov] pid ...`: BSD pwait(1) on one kqueue. Each pid gets an
 * EVFILT_PROC knote with NOTE_EXIT (its `data` is the wait(2) status); `-t` is an
 * EVFILT_TIMER one-shot on the same queue, where pwait arms SIGALRM. Messages, statuses and
 * the handling of bad, duplicate and vanished pids follow FreeBSD's pwait.
 */
import {
  EV_ADD, EV_ONESHOT, EVFILT_PROC, EVFILT_TIMER, NOTE_EXIT, kqueue,
} from '../index.js';
import { exit, setProgram, warn } from './common.js';
import { count, getopt, GetoptError } from './getopt.js';
import { change } from './kev.js';
import { strerror } from './notes.js';

const EX_USAGE = 64;
const EX_DATAERR = 65;
const EXIT_TIMEOUT = 124;

export const WAIT_HELP = `usage: kq wait [-t duration] [-ov] pid ...

Waits until each of the given processes has terminated (BSD pwait(1)), with one
EVFILT_PROC knote per pid on one kqueue.

  -o           exit when any of the given processes has terminated
  -t duration  give up after duration (a number, seconds by default, or with a
               unit: s seconds, m minutes, h hours); the exit status is then 124
  -v           print the exit status of each process as it terminates, or
               "timeout" if the timer goes off first
  --help       this help

Exit status: 0 once the processes have terminated (invalid or vanished pids are
reported on stderr and otherwise ignored), 124 on timeout, 64 on a usage error,
65 on a bad duration.
`;

function usage(): Promise<never> {
  process.stderr.write('usage: kq wait [-t duration] [-ov] pid ...\n');
  return exit(EX_USAGE);
}

/** pwait's duration: a decimal number with an optional unit, in milliseconds. */
export function parseDuration(text: string): number | 'value' | 'unit' {
  const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(.*)$/.exec(text);
  if (m === null) return 'value';
  let seconds = Number(m[1]);
  if (!Number.isFinite(seconds) || seconds < 0) return 'value';
  switch (m[2]) {
    case '': case 's': break;
    case 'm': seconds *= 60; break;
    case 'h': seconds *= 3600; break;
    default: return 'unit';
  }
  if (seconds > 100_000_000) return 'value';
  return seconds * 1000;
}

export async function waitMain(argv: string[]): Promise<never> {
  setProgram('kq wait');
  let parsed;
  try {
    parsed = getopt(argv, 'ot:v');
  } catch (e) {
    if (!(e instanceof GetoptError)) throw e;
    warn(e.message);
    return usage();
  }
  if (parsed.help) {
    process.stdout.write(WAIT_HELP);
    return exit(0);
  }
  const oflag = count(parsed, 'o') > 0;
  const verbose = count(parsed, 'v') > 0;
  let timeoutMs: number | undefined;
  for (const t of parsed.opts.get('t') ?? []) {
    const d = parseDuration(t);
    if (d === 'value' || d === 'unit') {
      warn(`timeout ${d}`);
      return exit(EX_DATAERR);
    }
    timeoutMs = d;
  }
  if (parsed.operands.length === 0) return usage();

  const kq = kqueue();
  const watched = new Set<number>();
  for (const arg of parsed.operands) {
    // Solaris compatibility, as pwait keeps it: /proc/PID names the process too.
    const s = arg.startsWith('/proc/') ? arg.slice('/proc/'.length) : arg;
    if (!/^\s*\+?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      warn(`${s}: bad process id`);
      continue;
    }
    const pid = Number(s);
    if (pid === process.pid) {
      warn(`${s}: skipping my own pid`);
      continue;
    }
    if (watched.has(pid)) continue;
    // Applied alone (nevents 0): a zombie's exit, ready at once, stays queued for the loop below.
    const errno = change(kq, { ident: pid, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT });
    if (errno !== 0) {
      warn(`${pid}: ${strerror(errno)}`);
      if (oflag) return exit(0);
      continue;
    }
    watched.add(pid);
  }

  if (watched.size > 0 && timeoutMs !== undefined) {
    change(kq, { ident: 'timeout', filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: Math.ceil(timeoutMs) });
  }
  while (watched.size > 0) {
    for (const ev of await kq.kevent(null, watched.size + 1, null)) {
      if (ev.filter === EVFILT_TIMER) {
        if (verbose) process.stdout.write('timeout\n');
        return exit(EXIT_TIMEOUT);
      }
      if (verbose) {
        const status = Number(ev.data);
        const sig = status & 0x7f;
        if (sig === 0) process.stdout.write(`${String(ev.ident)}: exited with status ${(status >> 8) & 0xff}.\n`);
        else if (sig !== 0x7f) process.stdout.write(`${String(ev.ident)}: killed by signal ${sig}.\n`);
        else process.stdout.write(`${String(ev.ident)}: terminated.\n`);
      }
      if (oflag) return exit(0);
      watched.delete(ev.ident as number);
    }
  }
  kq.close();
  return exit(0);
}
