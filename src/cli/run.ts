/**
 * `kq run`: entr(1) on one kqueue. The files named on standard input are watched by name
 * (EVFILT_VNODE, re-registered when an editor replaces a file: names.ts), the utility's exit is
 * an EVFILT_PROC knote on its ChildProcess, the terminal's keys are EVFILT_READ on the TTY, and
 * the short waits entr makes (the settle after an event, the second it gives a deleted file to
 * come back) are EVFILT_TIMER knotes or kevent timeouts on the same queue.
 *
 * Options, messages, exit statuses and behaviour follow the current entr's manual and source,
 * case by case: -a -c (-cc) -d (-dd) -n -p -r -s -x (-xx) -z, `/_`, ENTR_STATUS_SCRIPT,
 * ENTR_RESTART_SIGNAL, PAGER and SHELL, the space and q keys.
 */
import { type ChildProcess, spawn, spawnSync, type StdioOptions } from 'node:child_process';
import {
  existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, type Stats, statSync, writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { isatty, ReadStream } from 'node:tty';
import {
  EV_ADD, EV_DELETE, EV_ERROR, EV_ONESHOT, EVFILT_PROC, EVFILT_READ, EVFILT_TIMER,
  EVFILT_USER, EVFILT_VNODE, type KEvent, kqueue, NOTE_ATTRIB, NOTE_DELETE, NOTE_EXIT, NOTE_EXTEND,
  NOTE_RENAME, NOTE_TRIGGER, NOTE_WRITE,
} from '../index.js';
import { exit, setProgram, utf8, version, visible, warn, whenPipeBreaks } from './common.js';
import { count, getopt, GetoptError } from './getopt.js';
import { change } from './kev.js';
import { NameSet, type WatchedName } from './names.js';
import { bitNames, codeText, shellStatus, strerror, VNODE_NOTES } from './notes.js';

const USAGE_LINE = 'usage: kq run [-acdnprsxz] utility [argument [/_] ...] < filenames';

export const RUN_HELP = `${USAGE_LINE}

Runs utility whenever one of the files named on standard input (one per line)
changes: entr(1), built on one kqueue.

  -a  respond to every event that occurs while the utility runs (by default
      they are consolidated, so the utility cannot make itself loop)
  -c  clear the screen before each run; -cc also clears the scrollback
  -d  also watch the directories of the files, and exit (status 2) when a new
      file appears in one, so a shell loop can restart with the new list;
      -dd counts names starting with '.' too; directories may then be listed
  -n  non-interactive: do not read keys from the terminal
  -p  postpone the first run until a file changes
  -r  restart a persistent utility: send it SIGTERM (or ENTR_RESTART_SIGNAL),
      wait for it to exit, start it again; it runs in its own process group
      with /dev/null as standard input
  -s  run the first argument with $SHELL -c (only then is a shell involved);
      $0 is the first file that changed
  -x  report each exit status through a persistent awk(1) process running
      ENTR_STATUS_SCRIPT (default ~/.entr/status.awk; an example is created if
      it does not exist); shell commands and redirection are refused unless -x
      is given twice
  -z  exit after the utility completes, with its status (128 + the signal
      when a signal ended it)

The first argument that is exactly /_ is replaced by the absolute path of the
first file that changed (the first file listed, before any change).

Keys (on a terminal, without -n): space runs the utility now (with -r,
restarts it); q quits.

Environment: EV_TRACE (report what is watched and each event on stderr),
ENTR_RESTART_SIGNAL (HUP, INT, QUIT, TERM, USR1 or USR2, with or
without SIG), KQ_RUN_KILL_AFTER (seconds a stopped utility is given before
SIGKILL; 2 by default, 0 waits for ever), ENTR_STATUS_SCRIPT, PAGER (set to /bin/cat when unset), SHELL
(/bin/sh when unset).

Exit status: 0 after SIGINT, Ctrl-C or q; 1 when no regular file was given or
another error occurred; 2 when a file was added to a watched directory (-d);
with -z, the utility's own status.
`;

/** entr's usage(): release and synopsis on stderr, status 1. */
function usage(): Promise<never> {
  process.stderr.write(`release: ${version()}\n${USAGE_LINE}\n`);
  return exit(1);
}

function fail(message: string, status = 1): Promise<never> {
  warn(message);
  return exit(status);
}

const PATH_MAX = 4096;
/** entr waits up to this long for a deleted or renamed file to reappear. */
const REOPEN_MS = 1000;
/** Quiet time that ends a burst of events (an editor's write, rename over and chmod). */
const SETTLE_MS = 20;
/** A burst never holds a run back longer than this. */
const SETTLE_MAX_MS = 250;

/** Descriptors Node, the terminal, the utility's pipes and the status filter may need. */
const FDS_RESERVED = 64;

const FILE_NOTES = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_RENAME | NOTE_ATTRIB;

/** A utility that has not exited this long after the restart signal is sent SIGKILL. */
const KILL_AFTER_MS = 2000;
/** The ident of the grace period's timer. */
const KILL = 'kill the utility';

const RESTART_SIGNALS = ['HUP', 'INT', 'QUIT', 'TERM', 'USR1', 'USR2'];

const EXAMPLE_STATUS_SCRIPT = `# Status script for kq run -x (entr's format). Each line of input is
#   exit|CODE|NAME     the utility NAME exited with CODE
#   signal|SIG|NAME    the utility NAME was terminated by signal SIG
BEGIN { FS = "|" }
$1 == "exit" { print $3 " returned exit code " $2; fflush() }
$1 == "signal" { print $3 " terminated by signal " $2; fflush() }
`;

interface Options {
  aggressive: boolean;
  clear: number;
  dirwatch: number;
  interactive: boolean;
  postpone: boolean;
  restart: boolean;
  shell: boolean;
  status: number;
  oneshot: boolean;
}

/**
 * How many names can be watched: each holds an inotify watch (fs.inotify.max_user_watches) and
 * one descriptor of the library's (the open files limit, `ulimit -n`, less what Node itself
 * needs). entr raises its soft limit to the hard one; Node cannot, so the soft limit counts.
 */
function watchLimit(): { max: number; why: string } {
  let watches = 65536;
  try {
    watches = Number(readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim()) || watches;
  } catch {
    // not Linux: keep entr's default
  }
  let fds = Infinity;
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m !== null) fds = Number(m[1]) - FDS_RESERVED;
  } catch {
    // no /proc: only the inotify limit is known
  }
  return fds < watches
    ? { max: Math.max(0, fds), why: 'the open files limit, ulimit -n' }
    : { max: watches, why: "inotify's fs.inotify.max_user_watches" };
}

/** Every descendant of `pid`, from Linux's /proc/PID/task/TID/children (empty elsewhere). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        // the task ended meanwhile
      }
      for (const c of text.split(' ')) {
        if (c === '') continue;
        out.push(Number(c));
        todo.push(Number(c));
      }
    }
  }
  return out;
}

function statOrNull(path: string | Buffer): Stats | null {
  try {
    // No exception (and its stack) for the common miss: a long list of gone names stays fast.
    return statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** A directory watched under -d, with the names it had (new ones end the run with status 2). */
interface DirWatch { path: string; names: Set<string> }

function listDir(path: string, all: boolean): Set<string> {
  try {
    return new Set(readdirSync(path).filter((n) => all || !n.startsWith('.')));
  } catch {
    return new Set();
  }
}

/** The status script's command: sandboxed gawk, or awk after a check, as -x / -xx ask. */
function statusFilter(level: number): ChildProcess | string {
  const script = process.env.ENTR_STATUS_SCRIPT ?? `${homedir()}/.entr/status.awk`;
  if (!existsSync(script)) {
    try {
      mkdirSync(dirname(script), { recursive: true });
      writeFileSync(script, EXAMPLE_STATUS_SCRIPT);
    } catch (e) {
      return `cannot create status script '${script}': ${(e as Error).message}`;
    }
    warn(`created example status script ${script}`);
  }
  const text = readFileSync(script, 'utf8');
  if (level < 2) {
    // Refuse what a sandboxed awk refuses (commands, pipes, file output), whichever awk is here;
    // gawk, where installed, also runs with --sandbox.
    const code = text.replace(/#.*$/gm, '').replace(/"(?:[^"\\]|\\.)*"/g, '""');
    if (/\bsystem\s*\(/.test(code) || /\|\s*getline/.test(code) || /\bprintf?\b[^;\n}]*(>|\|)/.test(code)) {
      return `status script '${script}' runs commands or redirects output: unsafe without -xx (give -x twice to allow it)`;
    }
  }
  const gawk = level < 2 && spawnSync('gawk', ['--version'], { stdio: 'ignore' }).status === 0;
  const cmd = gawk ? 'gawk' : 'awk';
  const args = gawk ? ['--sandbox', '-f', script] : ['-f', script];
  const child = spawn(cmd, args, { stdio: ['pipe', 'inherit', 'inherit'] });
  child.on('error', () => {});
  return child;
}

export async function runMain(argv: string[]): Promise<never> {
  setProgram('kq run');
  // entr takes options only before the utility: everything after it is the utility's.
  let parsed;
  try {
    parsed = getopt(argv, 'acdnprsxz');
  } catch (e) {
    if (!(e instanceof GetoptError)) throw e;
    warn(e.message);
    return usage();
  }
  if (parsed.help) {
    process.stdout.write(RUN_HELP);
    return exit(0);
  }
  const opt: Options = {
    aggressive: count(parsed, 'a') > 0,
    clear: Math.min(2, count(parsed, 'c')),
    dirwatch: Math.min(2, count(parsed, 'd')),
    interactive: count(parsed, 'n') === 0,
    postpone: count(parsed, 'p') > 0,
    restart: count(parsed, 'r') > 0,
    shell: count(parsed, 's') > 0,
    status: Math.min(2, count(parsed, 'x')),
    oneshot: count(parsed, 'z') > 0,
  };
  const utility = parsed.operands;
  if (utility.length === 0) return usage();
  if (opt.status > 0 && opt.restart) return fail('-r and -x may not be combined');
  if (opt.shell && utility.length > 1) return fail('-s requires commands to be formatted as a single argument');

  let restartSignal: NodeJS.Signals = 'SIGTERM';
  const envSig = process.env.ENTR_RESTART_SIGNAL;
  if (envSig !== undefined) {
    const bare = envSig.startsWith('SIG') ? envSig.slice(3) : envSig;
    if (!RESTART_SIGNALS.includes(bare)) return fail(`unrecognized signal: ${bare} (${RESTART_SIGNALS.join(', ')})`);
    restartSignal = `SIG${bare}` as NodeJS.Signals;
  }

  let killAfterMs = KILL_AFTER_MS;
  const envKill = process.env.KQ_RUN_KILL_AFTER;
  if (envKill !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(envKill)) return fail(`KQ_RUN_KILL_AFTER takes a number of seconds, not '${visible(envKill)}'`);
    killAfterMs = Math.round(Number(envKill) * 1000);
  }

  // Prevent interactive utilities from paging, and make sure a shell is known.
  process.env.PAGER ??= '/bin/cat';
  const shell = process.env.SHELL ?? '/bin/sh';

  // The file list comes from a pipe or a file, never from a person typing.
  if (isatty(0)) return usage();
  // Bytes, not text: a name is whatever bytes a line holds (decoding as UTF-8 would replace
  // invalid bytes and name another file).
  let input: Buffer;
  try {
    input = readFileSync(0);
  } catch {
    input = await new Promise<Buffer>((res) => {
      const parts: Buffer[] = [];
      process.stdin.on('data', (d: Buffer) => parts.push(d)).on('end', () => res(Buffer.concat(parts)));
    });
  }

  const limit = watchLimit();
  // One write for the reports of a long list (100,000 missing names), not one each.
  let notes = '';
  const note = (message: string): void => {
    notes += `kq run: ${message}\n`;
    if (notes.length > 65536) flushNotes();
  };
  const flushNotes = (): void => {
    if (notes !== '') process.stderr.write(notes);
    notes = '';
  };
  const files: string[] = [];
  const dirs: string[] = [];
  const seen = new Set<string>();
  const seenDirs = new Set<string>();
  for (let at = 0; at < input.length;) {
    let nl = input.indexOf(0x0a, at);
    if (nl < 0) nl = input.length;
    const bytes = input.subarray(at, nl);
    at = nl + 1;
    if (bytes.length === 0) continue;
    if (bytes.length >= PATH_MAX) {
      flushNotes();
      return fail(`path too long: ${visible(bytes)}`);
    }
    const line = utf8(bytes);
    // A NUL cannot be in a name (entr's C string would stop there and watch a prefix).
    if (line === null || line.includes('\0')) {
      if (line === null && statOrNull(bytes) !== null) note(`unable to watch '${visible(bytes)}': not a UTF-8 name (Node takes names as UTF-8 text)`);
      else note(`unable to stat '${visible(bytes)}'`);
      continue;
    }
    const st = statOrNull(line);
    if (st === null) {
      note(`unable to stat '${visible(line)}'`);
      continue;
    }
    if (st.isFile()) {
      if (!seen.has(line)) files.push(line);
      seen.add(line);
      if (opt.dirwatch > 0) {
        const parent = dirname(line);
        if (!seenDirs.has(parent)) dirs.push(parent);
        seenDirs.add(parent);
      }
    } else if (st.isDirectory() && opt.dirwatch > 0) {
      if (!seenDirs.has(line)) dirs.push(line);
      seenDirs.add(line);
    }
    if (files.length + dirs.length + 1 > limit.max) {
      flushNotes();
      return fail(`Too many files listed; the hard limit for your login class is ${limit.max}. Please consult docs/cli.md (${limit.why})`);
    }
  }
  flushNotes();
  if (files.length === 0) return fail('No regular files to watch');

  // Keys: the controlling terminal, opened as entr opens /dev/tty.
  let tty: ReadStream | null = null;
  let ttyFd = -1;
  if (opt.interactive) {
    try {
      ttyFd = openSync('/dev/tty', 'r');
    } catch {
      ttyFd = -1;
    }
    if (ttyFd < 0 || !isatty(ttyFd)) return fail("unable to get terminal attributes, use '-n' to run non-interactively");
    tty = new ReadStream(ttyFd);
  }

  let filter: ChildProcess | null = null;
  if (opt.status > 0) {
    const f = statusFilter(opt.status);
    if (typeof f === 'string') return fail(f);
    filter = f;
  }
  const statusName = basename(opt.shell ? shell : utility[0]!);

  const kq = kqueue();
  const names = new NameSet(kq, FILE_NOTES);
  for (const f of files) {
    const r = names.add(f, true, 'file');
    if (!r.ok) return fail(`cannot open '${f}': ${strerror(r.errno)}`);
  }
  const dirWatches = new Map<string, DirWatch>();
  for (const d of dirs) {
    const r = names.add(d, true, 'dir');
    if (!r.ok) return fail(`cannot open '${d}': ${strerror(r.errno)}`);
    dirWatches.set(d, { path: d, names: listDir(d, opt.dirwatch === 2) });
  }

  // EV_TRACE, as entr's: what is watched and each file system event, on stderr.
  const trace = process.env.EV_TRACE !== undefined;
  if (trace) warn(`watching ${files.length} file${files.length === 1 ? '' : 's'}${dirs.length ? ` and ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'}` : ''}`);

  // ---- the terminal ----------------------------------------------------------------------
  let keysOn = false;
  /** Without the library's READ on streams (a branch without it), keys come through a user event. */
  let keyFallback: ((d: Buffer) => void) | null = null;
  const KEYS = 'keys';
  function keysStart(): void {
    if (tty === null || keysOn) return;
    keysOn = true;
    tty.setRawMode(true);
    if (keyFallback !== null) {
      tty.on('data', keyFallback);
      tty.resume();
      return;
    }
    if (change(kq, { ident: tty, filter: EVFILT_READ, flags: EV_ADD }) !== 0) {
      change(kq, { ident: KEYS, filter: EVFILT_USER, flags: EV_ADD });
      keyFallback = (d: Buffer) => {
        pendingKeys.push(d);
        kq.keventSync([{ ident: KEYS, filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 0);
      };
      tty.on('data', keyFallback);
      tty.resume();
    }
  }
  /** The utility gets the terminal as it was: cooked, and its keys are its own. */
  function keysStop(): void {
    if (tty === null || !keysOn) return;
    keysOn = false;
    if (keyFallback !== null) {
      tty.off('data', keyFallback);
      tty.pause();
    } else {
      change(kq, { ident: tty, filter: EVFILT_READ, flags: EV_DELETE });
    }
    tty.setRawMode(false);
  }
  const pendingKeys: Buffer[] = [];
  function readKeys(): string {
    let s = '';
    if (keyFallback !== null) {
      for (const b of pendingKeys.splice(0)) s += b.toString('latin1');
      return s;
    }
    for (;;) {
      const chunk = tty?.read() as Buffer | string | null;
      if (chunk === null || chunk === undefined) return s;
      s += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    }
  }

  // ---- the utility -----------------------------------------------------------------------
  let child: ChildProcess | null = null;
  let terminating = false;
  let leadingEdge: WatchedName = names.names.get(files[0]!)!;

  function argvFor(): string[] {
    let edge: string;
    try {
      edge = realpathSync(leadingEdge.name);
    } catch {
      edge = resolve(leadingEdge.name);
    }
    if (opt.shell) return [shell, '-c', utility[0]!, edge];
    let replaced = false;
    return utility.map((a) => {
      if (!replaced && a === '/_') {
        replaced = true;
        return edge;
      }
      return a;
    });
  }

  /** Starts the utility and registers its exit on the queue. */
  function start(): void {
    if (opt.clear === 1) process.stdout.write('\x1b[2J\x1b[H');
    else if (opt.clear === 2) process.stdout.write('\x1b[2J\x1b[3J\x1b[H');
    const [cmd, ...args] = argvFor();
    const stdio: StdioOptions = opt.restart ? ['ignore', 'inherit', 'inherit'] : [tty !== null ? ttyFd : 'inherit', 'inherit', 'inherit'];
    const c = spawn(cmd!, args, { stdio, detached: opt.restart });
    if (c.pid === undefined) {
      // The exec failed (ENOENT, EACCES, ...): Node says why in the 'error' event that follows,
      // as entr's child reports it before exiting 1.
      child = null;
      c.once('error', (e: NodeJS.ErrnoException) => {
        warn(`exec ${cmd}: ${codeText(e.code)}`);
        pendingExit = 1 << 8;
        kq.keventSync([{ ident: 'exec failed', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER }], 0);
      });
      return;
    }
    c.on('error', () => {}); // a signal to a process that is gone: nothing to report
    child = c;
    const errno = change(kq, { ident: c, filter: EVFILT_PROC, flags: EV_ADD, fflags: NOTE_EXIT });
    if (errno !== 0) {
      warn(`cannot watch the utility: ${strerror(errno)}`);
      c.kill('SIGKILL');
      void exit(1);
    }
  }
  let pendingExit: number | null = null;

  function signalUtility(sig: NodeJS.Signals): void {
    const c = child;
    if (c?.pid === undefined) return;
    try {
      // -r: the utility leads its own process group, so a wrapper script cannot mask the signal.
      if (opt.restart) process.kill(-c.pid, sig);
      else c.kill(sig);
    } catch {
      // already gone
    }
  }

  /**
   * Asks the utility to end (restartSignal) and arms the SIGKILL that follows when it has not
   * exited within killAfterMs: a utility that ignores SIGTERM cannot hold a restart or kq's own
   * exit forever. The grace period is a one-shot EVFILT_TIMER on the queue, deleted at the exit.
   */
  function stopUtility(): void {
    const c = child;
    if (c === null) return;
    signalUtility(restartSignal);
    if (killAfterMs > 0) change(kq, { ident: KILL, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: killAfterMs, udata: c });
  }

  /** The grace period is over: SIGKILL the utility (its whole process group under -r). */
  function killUtility(): void {
    const c = child;
    if (c === null) return;
    warn(`${basename(c.spawnfile)} (pid ${c.pid}) did not exit ${killAfterMs / 1000} s after ${restartSignal}: sending SIGKILL`);
    // Without -r the utility shares kq run's process group, so its own children (which may
    // ignore SIGTERM too) are found through /proc and killed with it, not left orphaned.
    const rest = opt.restart || c.pid === undefined ? [] : descendants(c.pid);
    signalUtility('SIGKILL');
    for (const pid of rest) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Reports an exit through the status script and records it. */
  function exited(status: number): void {
    const sig = status & 0x7f;
    if (trace) warn(`utility exited: ${sig === 0 ? `status ${(status >> 8) & 0xff}` : `signal ${sig}`}`);
    if (filter?.stdin !== null && filter !== null) {
      filter.stdin!.write(sig === 0 ? `exit|${(status >> 8) & 0xff}|${statusName}\n` : `signal|${sig}|${statusName}\n`);
    }
  }

  /** Ends the status filter (its input), waiting for it to print what it has. */
  async function endFilter(): Promise<void> {
    const f = filter;
    if (f === null) return;
    filter = null;
    f.stdin!.end();
    await new Promise<void>((res) => {
      if (f.exitCode !== null || f.signalCode !== null || f.pid === undefined) res();
      else f.on('exit', () => res());
    });
  }

  async function leave(status: number): Promise<never> {
    keysStop();
    await endFilter();
    return exit(status);
  }

  // ---- events ----------------------------------------------------------------------------
  /** Outcome of handling one event. */
  interface Seen { change: boolean; run: boolean; quit: boolean; childExit: number | null; newFile: boolean }

  function handle(ev: KEvent, s: Seen): void {
    if (ev.filter === EVFILT_PROC) {
      if (child !== null && ev.ident === child) {
        child = null;
        s.childExit = Number(ev.data);
        change(kq, { ident: KILL, filter: EVFILT_TIMER, flags: EV_DELETE });
      }
      return;
    }
    if (ev.filter === EVFILT_USER) {
      if (ev.ident === 'exec failed' && pendingExit !== null) {
        s.childExit = pendingExit;
        pendingExit = null;
      } else if (ev.ident === KEYS) {
        keys(s);
      }
      return;
    }
    if (ev.filter === EVFILT_READ) {
      keys(s);
      return;
    }
    if (ev.filter === EVFILT_TIMER && ev.ident === KILL) {
      if (ev.udata === child) killUtility();
      return;
    }
    if (ev.filter === EVFILT_TIMER) {
      // A deleted file's second to come back is over.
      const w = names.names.get(ev.udata as string);
      if (w !== undefined && !w.live) {
        warn(`cannot open '${w.name}': No such file or directory`);
        s.quit = true;
        quitStatus = 1;
      }
      return;
    }
    if (ev.filter !== EVFILT_VNODE || (ev.flags & EV_ERROR) !== 0) return;
    const r = names.handle(ev);
    if (r === null) return;
    if (trace && r.name !== null) warn(`event ${r.name.name} ${bitNames(ev.fflags, VNODE_NOTES).join('|')}`);
    for (const back of r.reappeared) {
      change(kq, { ident: `gone ${back.name}`, filter: EVFILT_TIMER, flags: EV_DELETE });
      if (back.tag === 'file') {
        s.change = true;
        if (!s.run) leadingEdge = back;
        s.run = true;
      }
    }
    const w = r.name;
    if (w === null) return;
    if (r.gone && w.persistent) {
      change(kq, { ident: `gone ${w.name}`, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: REOPEN_MS, udata: w.name });
    }
    if (w.tag === 'dir') {
      const d = dirWatches.get(w.name);
      if (d !== undefined) {
        const now = listDir(d.path, opt.dirwatch === 2);
        for (const n of now) if (!d.names.has(n)) s.newFile = true;
        d.names = now;
      }
      return;
    }
    s.change = true;
    if (!s.run) leadingEdge = w;
    s.run = true;
  }

  function keys(s: Seen): void {
    for (const c of readKeys()) {
      if (c === ' ') {
        s.run = true;
        s.change = true;
      } else if (c === 'q' || c === '\x03') {
        s.quit = true;
        quitStatus = 0;
      }
    }
  }

  let quitStatus = 0;
  const fresh = (): Seen => ({ change: false, run: false, quit: false, childExit: null, newFile: false });

  /** Ends kq run as entr's handle_exit does: the utility is stopped and waited for first. */
  let quitting = false;
  async function quit(status: number, raise?: NodeJS.Signals): Promise<never> {
    if (quitting) {
      // A second Ctrl-C (or SIGTERM) while the utility is being stopped: no more grace.
      signalUtility('SIGKILL');
    } else {
      quitting = true;
      if (child !== null) {
        terminating = true;
        stopUtility();
        // Another loop may be waiting on the queue too (a run in progress) and take the exit
        // event itself: poll, so either way this loop sees the utility gone.
        while (child !== null) {
          const s = fresh();
          for (const ev of await kq.kevent(null, 16, 50)) handle(ev, s);
        }
      }
      if (raise !== undefined) {
        await endFilter();
        keysStop();
        process.removeAllListeners(raise);
        process.kill(process.pid, raise);
      }
      await leave(status);
    }
    return new Promise<never>(() => {});
  }
  process.on('SIGINT', () => void quit(0));
  process.on('SIGHUP', () => void quit(0));
  process.on('SIGTERM', () => void quit(0, 'SIGTERM'));
  // The reader of our output went away: stop the utility as for SIGINT, then exit 0 quietly.
  whenPipeBreaks(() => void quit(0));

  /** Harvests until the burst is over: no event for SETTLE_MS, or SETTLE_MAX_MS in all. */
  async function settle(s: Seen): Promise<void> {
    const end = Date.now() + SETTLE_MAX_MS;
    for (;;) {
      const left = end - Date.now();
      if (left <= 0) return;
      const evs = await kq.kevent(null, 64, Math.min(SETTLE_MS, left));
      if (evs.length === 0) return;
      for (const ev of evs) handle(ev, s);
    }
  }

  /** Waits for the running utility to exit; what happens meanwhile is handled and returned. */
  async function waitChild(s: Seen): Promise<number> {
    for (;;) {
      for (const ev of await kq.kevent(null, 64, null)) handle(ev, s);
      if (s.quit) return quit(quitStatus);
      if (s.newFile) return dirExit();
      if (s.childExit !== null) {
        const st = s.childExit;
        s.childExit = null;
        return st;
      }
    }
  }

  async function dirExit(): Promise<never> {
    // entr: terminate the utility before exiting when -r is combined with -d.
    return quit(2);
  }

  /** One run: -r restarts the persistent utility; otherwise runs it to completion. */
  async function run(): Promise<void> {
    if (opt.restart) {
      if (child !== null) {
        terminating = true;
        stopUtility();
        const s = fresh();
        await waitChild(s);
        terminating = false;
      }
      start();
      return;
    }
    keysStop();
    start();
    const during = fresh();
    const status = await waitChild(during);
    exited(status);
    if (opt.oneshot) await leave(shellStatus(status));
    keysStart();
    // Without -a, what happened while the utility ran is consolidated away (it may have
    // written the files itself); with -a it runs the utility again.
    if (opt.aggressive && during.run) await run();
  }

  keysStart();
  if (!opt.postpone) await run();

  for (;;) {
    const s = fresh();
    for (const ev of await kq.kevent(null, 64, null)) handle(ev, s);
    if (s.run && !s.quit && !s.newFile) await settle(s);
    if (s.quit) await quit(quitStatus);
    if (s.newFile) await dirExit();
    if (s.childExit !== null) {
      // -r: the persistent utility ended on its own (not restarted by us).
      exited(s.childExit);
      if (opt.oneshot && !terminating) await quit(shellStatus(s.childExit));
    }
    if (s.run) await run();
  }
}
