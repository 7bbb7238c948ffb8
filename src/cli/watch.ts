/**
 * `kq watch`: everything a program can wait on, in one stream, from one kqueue. Paths
 * (EVFILT_VNODE, by name: see names.ts), process ids (EVFILT_PROC), signals (EVFILT_SIGNAL) and
 * periodic timers (EVFILT_TIMER) are registered on the same queue, and each event is printed as
 * one line (or one JSON object with --json) as it is harvested.
 */
import { type Dirent, readdirSync } from 'node:fs';
import { relative } from 'node:path';
import {
  EV_ADD, EV_EOF, EV_ERROR, EVFILT_PROC, EVFILT_SIGNAL, EVFILT_TIMER,
  EVFILT_VNODE, type KEvent, type Kqueue, KqueueError, kqueue, NOTE_EXEC, NOTE_EXIT, NOTE_FORK,
  NOTE_WRITE,
} from '../index.js';
import { msOption, parse } from './args.js';
import {
  CliError, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, exit,
  setProgram, warn,
} from './common.js';
import { Excludes } from './glob.js';
import { change } from './kev.js';
import { NameSet, type WatchedName } from './names.js';
import {
  bitNames, errnoName, FILTER_NAMES, FLAG_BITS, noteTable, PROC_NOTES, signalName, strerror,
  VNODE_NOTES, waitStatusText,
} from './notes.js';
import { colourOn, painter } from './output.js';

const USAGE = 'usage: kq watch [PATH...] [-r] [--pid PID]... [--signal SIG]... [--timer MS]... [--events LIST] [--exclude GLOB]... [--json] [-1] [--timeout MS]';

export const WATCH_HELP = `${USAGE}

Prints one line per event, as it happens, for every source on one kqueue:
  PATH          a file or directory (EVFILT_VNODE); the name stays watched when an
                editor or git replaces the file, and is waited for if it is deleted;
                a directory is watched with its entries (one level; -r for the tree),
                picking up entries created later
  --pid PID     a process (EVFILT_PROC: EXIT with its status, FORK, EXEC)
  --signal SIG  a signal, by name or number (EVFILT_SIGNAL, with a count); the
                signal is caught while watched, so its default action is not taken
  --timer MS    a periodic timer (EVFILT_TIMER, with the number of expirations)

Options:
  -r, --recursive     watch directory trees, picking up files and directories
                      created later (a directory is rescanned on its NOTE_WRITE)
  --exclude GLOB      skip matching entries (default: .git, node_modules;
                      giving --exclude replaces the defaults); a GLOB without a slash
                      matches an entry's name, one with a slash its path
  --events LIST       only these notes, comma-separated: delete, write, extend,
                      attrib, link, rename, revoke (paths); exit, fork, exec (pids)
  --json              one JSON object per line: time, filter, ident, flags, fflags, data
  -1, --once          exit after the first event
  --timeout MS        exit after MS milliseconds without any event
  --verbose           report on stderr what is watched ("kq watch: watching ...")
  -h, --help          this help

Line format: time, filter, ident (path, pid, signal name, period), notes; e.g.
  12:03:04.512 VNODE src/main.ts WRITE|EXTEND
  12:03:05.001 PROC 4242 EXIT status 3
  12:03:06.000 SIGNAL SIGUSR1 x2

Exit status: 0 after the first event with -1, when --timeout ends a run that saw
events, or when every source is gone (all watched processes exited); 124 when
--timeout ends a run that saw no event; 130 on Ctrl-C (SIGINT, unless watched);
1 when a path cannot be watched or another error occurs; 2 on a usage error.
`;

const VNODE_ALL = VNODE_NOTES.reduce((m, [b]) => m | b, 0);
const PROC_DEFAULT = NOTE_EXIT | NOTE_FORK | NOTE_EXEC;

interface Masks { vnode: number; proc: number }

function parseEvents(list: string | undefined): Masks {
  if (list === undefined) return { vnode: VNODE_ALL, proc: PROC_DEFAULT };
  let vnode = 0;
  let proc = 0;
  for (const raw of list.split(/[,|\s]+/).filter((s) => s !== '')) {
    const name = raw.toUpperCase().replace(/^NOTE_/, '');
    const v = VNODE_NOTES.find(([, n]) => n === name);
    const p = PROC_NOTES.slice(0, 3).find(([, n]) => n === name);
    if (v !== undefined) vnode |= v[0];
    else if (p !== undefined) proc = (proc | p[0]) >>> 0;
    else {
      const known = [...VNODE_NOTES.map(([, n]) => n), 'EXIT', 'FORK', 'EXEC'].map((n) => n.toLowerCase()).join(', ');
      throw new CliError(`unknown event '${raw}' in --events (known: ${known})`, EXIT_USAGE);
    }
  }
  return { vnode: vnode || VNODE_ALL, proc: proc || PROC_DEFAULT };
}

/**
 * What a tree member carries: its root (for --exclude paths) and how many levels below it are
 * still listed: Infinity under -r; 1 for a directory named without -r (its entries are watched,
 * as a user of `kq watch .` means, but not theirs).
 */
interface TreeTag { root: string; depth: number }

function childPath(dir: string, entry: string): string {
  return dir.endsWith('/') ? `${dir}${entry}` : `${dir}/${entry}`;
}

/** The -r bookkeeping: the entries each watched directory had at its last scan. */
class Trees {
  private readonly children = new Map<string, Set<string>>();

  /** Set by --verbose: told each entry found after the start. */
  onNew: ((path: string) => void) | null = null;

  constructor(private readonly names: NameSet, private readonly excludes: Excludes,
    private readonly onError: (path: string, errno: number) => void) {}

  /** Lists a directory that is already watched, and watches what is new in it (directories first watched, then listed). */
  scan(dir: WatchedName): void {
    const tag = dir.tag as TreeTag;
    if (tag.depth <= 0) return;
    const childTag: TreeTag = tag.depth === Infinity ? tag : { root: tag.root, depth: tag.depth - 1 };
    let entries: Dirent[];
    try {
      entries = readdirSync(dir.name, { withFileTypes: true });
    } catch {
      entries = [];
    }
    const known = this.children.get(dir.name) ?? new Set<string>();
    this.children.set(dir.name, known);
    const seen = new Set<string>();
    for (const e of entries) {
      const p = childPath(dir.name, e.name);
      if (this.excludes.matches(e.name, relative(tag.root, p))) continue;
      seen.add(p);
      if (known.has(p) && this.names.names.has(p)) continue;
      known.add(p);
      const r = this.names.add(p, false, childTag);
      if (!r.ok) {
        if (r.errno !== 2) this.onError(p, r.errno); // ENOENT: it went again before we looked
        known.delete(p);
        continue;
      }
      const w = this.names.names.get(p)!;
      this.onNew?.(p);
      if (w.kind === 'dir') this.scan(w);
    }
    for (const p of known) {
      if (seen.has(p)) continue;
      known.delete(p);
      // Not dropped yet: its own note (RENAME, DELETE), posted in the same turn as the
      // directory's WRITE, is still to be printed (see dropVanished).
      this.vanished.set(p, dir.name);
    }
  }

  /** Entries a listing found gone, dropped once their own last events were harvested. */
  readonly vanished = new Map<string, string>();

  /** Drops what is still gone (a later listing may have found an entry back). */
  dropVanished(): void {
    for (const [p, parent] of this.vanished) if (!this.children.get(parent)?.has(p)) this.drop(p);
    this.vanished.clear();
  }

  /** Forgets an entry and, for a directory, everything under it. */
  drop(p: string): void {
    this.names.remove(p);
    const sub = this.children.get(p);
    if (sub === undefined) return;
    this.children.delete(p);
    for (const c of sub) this.drop(c);
  }
}

interface Printer { (ev: KEvent, ident: string | number): void }

function makePrinter(json: boolean): Printer {
  const paint = painter(colourOn(process.stdout));
  return (ev, ident) => {
    const now = new Date();
    const table = noteTable(ev.filter);
    const filter = FILTER_NAMES[ev.filter] ?? String(ev.filter);
    if (json) {
      const data = typeof ev.data === 'bigint' ? Number(ev.data) : ev.data;
      process.stdout.write(JSON.stringify({
        time: now.toISOString(), filter, ident,
        flags: bitNames(ev.flags, FLAG_BITS), fflags: bitNames(ev.fflags, table), data,
      }) + '\n');
      return;
    }
    let notes: string;
    if ((ev.flags & EV_ERROR) !== 0) notes = `ERROR ${errnoName(Number(ev.data))}`;
    else if (ev.filter === EVFILT_SIGNAL || ev.filter === EVFILT_TIMER) notes = `x${String(ev.data)}`;
    else if (ev.filter === EVFILT_PROC) {
      const names = bitNames(ev.fflags, table).map((n) => (n === 'EXIT' ? `EXIT ${waitStatusText(Number(ev.data))}` : n));
      if (names.length === 0 && (ev.flags & EV_EOF) !== 0) names.push(`EOF ${waitStatusText(Number(ev.data))}`);
      notes = names.join('|');
    } else {
      notes = bitNames(ev.fflags, table).join('|');
      if ((ev.flags & EV_EOF) !== 0) notes += notes === '' ? 'EOF' : '|EOF';
    }
    const hh = String(now.getHours()).padStart(2, '0');
    const mm = String(now.getMinutes()).padStart(2, '0');
    const ss = String(now.getSeconds()).padStart(2, '0');
    const ms = String(now.getMilliseconds()).padStart(3, '0');
    const colour = ev.filter === EVFILT_VNODE ? 'cyan' : ev.filter === EVFILT_PROC ? 'magenta' : ev.filter === EVFILT_SIGNAL ? 'yellow' : 'blue';
    process.stdout.write(`${paint('dim', `${hh}:${mm}:${ss}.${ms}`)} ${paint(colour, filter)} ${String(ident)} ${paint('bold', notes)}\n`);
  };
}

/** One registration: 0 or the change's errno. */
function register(kq: Kqueue, ident: unknown, filter: number, flags: number, fflags: number, data: number, udata: unknown): number {
  return change(kq, { ident: ident as string, filter, flags, fflags, data, udata });
}

export async function watchMain(argv: string[]): Promise<never> {
  setProgram('kq watch');
  const { values, positionals } = parse(argv, {
    recursive: { type: 'boolean', short: 'r' },
    pid: { type: 'string', multiple: true },
    signal: { type: 'string', multiple: true },
    timer: { type: 'string', multiple: true },
    events: { type: 'string' },
    exclude: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    once: { type: 'boolean', short: '1' },
    timeout: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  }, USAGE);
  if (values.help === true) {
    process.stdout.write(WATCH_HELP);
    return exit(EXIT_OK);
  }
  const masks = parseEvents(values.events as string | undefined);
  const pids = ((values.pid as string[] | undefined) ?? []).map((p) => {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new CliError(`--pid takes a process id, not '${p}'`, EXIT_USAGE);
    return Number(p);
  });
  const signals = ((values.signal as string[] | undefined) ?? []).map((s) => {
    const name = signalName(s);
    if (name === undefined) throw new CliError(`unknown signal '${s}'`, EXIT_USAGE);
    return name;
  });
  const timers = ((values.timer as string[] | undefined) ?? []).map((t) => msOption('--timer', t, 1));
  const timeout = values.timeout === undefined ? null : msOption('--timeout', values.timeout as string);
  const once = values.once === true;
  const verbose = values.verbose === true;
  const excludes = new Excludes((values.exclude as string[] | undefined) ?? ['.git', 'node_modules']);
  if (positionals.length === 0 && pids.length === 0 && signals.length === 0 && timers.length === 0) {
    throw new CliError(`nothing to watch: give a PATH, --pid, --signal or --timer (${USAGE})`, EXIT_USAGE);
  }

  const kq = kqueue();
  const names = new NameSet(kq, masks.vnode);
  const trees = new Trees(names, excludes, (p, errno) => warn(`${p}: ${strerror(errno)}`));
  const print = makePrinter(values.json === true);

  for (const path of positionals) {
    const r = names.add(path, true, { root: path, depth: values.recursive === true ? Infinity : 1 } satisfies TreeTag);
    if (!r.ok) throw new CliError(`${path}: ${strerror(r.errno)}`, EXIT_ERROR);
    const w = names.names.get(path)!;
    if (w.kind === 'dir') trees.scan(w);
  }
  const livePids = new Set<number>();
  for (const pid of pids) {
    const errno = register(kq, pid, EVFILT_PROC, EV_ADD, masks.proc, 0, null);
    if (errno !== 0) throw new CliError(`${pid}: ${strerror(errno)}`, EXIT_ERROR);
    livePids.add(pid);
  }
  let watchingSigint = false;
  for (const sig of signals) {
    const errno = register(kq, sig, EVFILT_SIGNAL, EV_ADD, 0, 0, null);
    if (errno !== 0) throw new CliError(`${sig}: ${strerror(errno)}`, EXIT_ERROR);
    // Caught while watched: a knote never changes the disposition, so without a listener
    // SIGTERM would end kq instead of being reported.
    try {
      process.on(sig as NodeJS.Signals, () => {});
    } catch {
      // SIGKILL, SIGSTOP: cannot be caught; the knote simply never fires.
    }
    if (sig === 'SIGINT') watchingSigint = true;
  }
  timers.forEach((ms, i) => {
    const errno = register(kq, `timer ${i}`, EVFILT_TIMER, EV_ADD, 0, Math.max(1, Math.round(ms)), ms);
    if (errno !== 0) throw new CliError(`--timer ${ms}: ${strerror(errno)}`, EXIT_ERROR);
  });

  if (!watchingSigint) {
    process.on('SIGINT', () => {
      kq.close();
      void exit(EXIT_INTERRUPTED);
    });
  }
  if (verbose) {
    trees.onNew = (p) => warn(`watching new ${p}`);
    const parts = [`${names.size} path${names.size === 1 ? '' : 's'}`];
    if (pids.length) parts.push(`${pids.length} process${pids.length === 1 ? '' : 'es'}`);
    if (signals.length) parts.push(`${signals.length} signal${signals.length === 1 ? '' : 's'}`);
    if (timers.length) parts.push(`${timers.length} timer${timers.length === 1 ? '' : 's'}`);
    warn(`watching ${parts.join(', ')}`);
  }

  let seen = false;
  for (;;) {
    let batch: KEvent[];
    if (trees.vanished.size !== 0) {
      // A listing found entries gone. Their own notes come from the same inotify read as the
      // directory's WRITE, handled later in this turn: take them before the names are dropped.
      await new Promise<void>((resolve) => setImmediate(resolve));
      batch = kq.closed ? [] : kq.keventSync(null, 64);
      if (batch.length === 0) {
        trees.dropVanished();
        continue;
      }
    } else {
      try {
        batch = await kq.kevent(null, 64, timeout);
      } catch (e) {
        if (e instanceof KqueueError && kq.closed) return exit(EXIT_INTERRUPTED);
        throw e;
      }
      if (batch.length === 0) return exit(seen ? EXIT_OK : EXIT_TIMEOUT);
    }
    for (const ev of batch) {
      let ident: string | number;
      if (ev.filter === EVFILT_VNODE) {
        const r = names.handle(ev);
        if (r === null) continue;
        for (const back of r.reappeared) {
          if (verbose) warn(`${back.name}: exists again, watching it`);
          if (back.tag !== null && back.kind === 'dir') trees.scan(back);
        }
        if (r.name === null) continue;
        const w = r.name;
        if (r.rewatched && verbose) warn(`${w.name}: replaced, watching the new file`);
        if (r.gone && verbose && w.persistent) warn(`${w.name}: gone, waiting for it to reappear`);
        if (r.gone && !w.persistent) trees.drop(w.name);
        if (w.tag !== null && w.kind === 'dir' && (ev.fflags & NOTE_WRITE) !== 0 && names.names.get(w.name) === w) trees.scan(w);
        ident = w.name;
      } else if (ev.filter === EVFILT_PROC) {
        ident = ev.ident as number;
        if ((ev.flags & EV_EOF) !== 0) livePids.delete(ident);
      } else if (ev.filter === EVFILT_TIMER) {
        ident = ev.udata as number;
      } else {
        ident = String(ev.ident);
      }
      print(ev, ident);
      seen = true;
      if (once) return exit(EXIT_OK);
    }
    if (names.size === 0 && livePids.size === 0 && signals.length === 0 && timers.length === 0) {
      kq.close();
      return exit(EXIT_OK);
    }
  }
}

