import type { ChildProcess } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

/**
 * What EVFILT_PROC learns about processes from Linux: `/proc/<pid>/stat` (state, parent, start
 * time, the exit status of a zombie, and the layout of the image a process runs, which every
 * exec replaces) and the children this Node process spawned (the only processes whose exit
 * status Node is told).
 */

/** One reading of `/proc/<pid>/stat` (proc_pid_stat(5)). */
export interface ProcStat {
  /** R, S, D, T, t, Z (zombie), X (dead), ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks after boot: with the pid, the process's identity. */
  start: number;
  /**
   * What identifies the program image: the addresses of its code, stack, arguments and
   * environment, which exec(2) replaces (randomised, so even an exec of the same program with
   * the same arguments differs). When Linux hides them (another user's process without ptrace
   * access: all 0), the command name stands in.
   */
  image: string;
  /** A zombie's wait(2) status (0 while running, or when Linux hides it). */
  exitStatus: number;
}

const buf = Buffer.alloc(4096);

/** Parses a stat line; null if it is not one. */
export function parseStat(text: string): ProcStat | null {
  // The command name is in parentheses and may itself contain spaces and parentheses.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const f = text.slice(close + 2).split(' ');
  if (f.length < 20) return null;
  // Fields counted from 3 (state): startcode 26, endcode 27, startstack 28, arg_start 48 ...
  // env_end 51, exit_code 52 (Linux >= 3.5).
  const layout = [f[23], f[24], f[25], f[45], f[46], f[47], f[48]];
  const hidden = layout.every((x) => x === undefined || x === '0');
  return {
    state: f[0]!,
    ppid: Number(f[1]),
    start: Number(f[19]),
    image: hidden ? `comm ${text.slice(open + 1, close)}` : layout.join(' '),
    exitStatus: f[49] === undefined ? 0 : Number(f[49]) || 0,
  };
}

/**
 * An open `/proc/<pid>/stat`. The descriptor stays bound to the process it was opened for: once
 * that process is reaped, reading it fails (ESRCH) even if the pid is reused, so a reused pid is
 * never mistaken for the old process.
 */
export class StatFile {
  private fd: number;

  private constructor(fd: number, readonly pid: number) {
    this.fd = fd;
  }

  /** Opens it; the error code when the process is not visible (ENOENT: no such process). */
  static open(pid: number): StatFile | string {
    try {
      return new StatFile(openSync(`/proc/${pid}/stat`, 'r'), pid);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EIO';
    }
  }

  /** The current reading, or null once the process is gone (reaped). */
  read(): ProcStat | null {
    if (this.fd < 0) return null;
    try {
      const n = readSync(this.fd, buf, 0, buf.length, 0);
      return parseStat(buf.toString('latin1', 0, n));
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** The error codes that say "no descriptor to read /proc with", not "no such process". */
export function outOfDescriptors(code: string): boolean {
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * Whether `pid` is a process (a thread group leader), not another thread's id; the error code
 * when /proc could not be read for want of a descriptor (EMFILE, ENFILE).
 */
export function isProcess(pid: number): boolean | string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /\nTgid:\s*(\d+)/.exec(status);
    return m === null || Number(m[1]) === pid;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return outOfDescriptors(code) ? code : false;
  }
}

/** Clock ticks since boot now, on the clock of ProcStat.start (USER_HZ is 100 on Linux). */
export function ticksNow(): number {
  try {
    return Math.floor(parseFloat(readFileSync('/proc/uptime', 'latin1')) * 100);
  } catch {
    return 0;
  }
}

/** A new process seen by a scan of /proc. */
export interface NewProcess {
  pid: number;
  ppid: number;
  start: number;
  image: string;
}

/**
 * The process table as last scanned (pid -> start time), kept only while some knote wants
 * forks: each scan lists /proc and reads the stat of pids it had not seen, so a steady system
 * costs one directory listing per poll.
 */
export class ProcessTable {
  private known = new Map<number, number>();

  constructor() {
    this.scan();
  }

  /** New processes since the last scan, oldest first. */
  scan(): NewProcess[] {
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return [];
    }
    const next = new Map<number, number>();
    const found: NewProcess[] = [];
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      const start = this.known.get(pid);
      if (start !== undefined) {
        next.set(pid, start);
        continue;
      }
      let st: ProcStat | null = null;
      try {
        st = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
      } catch {
        // Gone between the listing and the read: nothing can be learnt about it.
      }
      if (st === null) continue;
      next.set(pid, st.start);
      found.push({ pid, ppid: st.ppid, start: st.start, image: st.image });
    }
    const first = this.known.size === 0;
    this.known = next;
    if (first) return [];
    return parentsFirst(found.sort((a, b) => a.start - b.start || a.pid - b.pid));
  }
}

/**
 * The same processes with each one after its parent when both are new. Start times have clock
 * tick resolution and pids wrap (at pid_max, back to 300), so a parent and the children it forked
 * in the same tick across the wrap sort children first: the parent's knote would not exist yet
 * when its children are looked at, and NOTE_TRACK would miss them.
 */
function parentsFirst(found: NewProcess[]): NewProcess[] {
  const byPid = new Map<number, NewProcess>();
  for (const np of found) byPid.set(np.pid, np);
  const done = new Set<number>();
  const out: NewProcess[] = [];
  const chain: NewProcess[] = [];
  for (const np of found) {
    for (let q: NewProcess | undefined = np; q !== undefined && !done.has(q.pid); q = byPid.get(q.ppid)) {
      done.add(q.pid);
      chain.push(q);
    }
    while (chain.length > 0) out.push(chain.pop()!);
  }
  return out;
}

// ---- children of this Node process ---------------------------------------------------------

/**
 * Every ChildProcess this process creates, seen through the 'child_process' diagnostics channel
 * (published as the object is constructed, before it has a pid), held weakly. It is how a pid
 * ident that names one of our own children finds the ChildProcess whose 'exit' carries the status.
 */
const unindexed: WeakRef<ChildProcess>[] = [];
const byPid = new Map<number, WeakRef<ChildProcess>>();
let sweepAt = 64;

function index(): void {
  for (const ref of unindexed) {
    const c = ref.deref();
    const pid = c === undefined ? undefined : dataField(c, 'pid');
    if (typeof pid === 'number') byPid.set(pid, ref);
  }
  unindexed.length = 0;
  if (byPid.size >= sweepAt) {
    for (const [pid, ref] of byPid) if (ref.deref() === undefined) byPid.delete(pid);
    sweepAt = Math.max(64, byPid.size * 2);
  }
}

let indexQueued = false;

diagnostics.subscribe('child_process', (message) => {
  const child = (message as { process?: ChildProcess }).process;
  if (child === undefined) return;
  unindexed.push(new WeakRef(child));
  if (!indexQueued) {
    indexQueued = true;
    queueMicrotask(() => {
      indexQueued = false;
      index();
    });
  }
});

/** The ChildProcess of ours that had `pid` most recently, if it is still referenced. */
export function ownChild(pid: number): ChildProcess | undefined {
  if (unindexed.length !== 0) index();
  const c = byPid.get(pid)?.deref();
  return c !== undefined && plainChild(c) && c.pid === pid ? c : undefined;
}

/**
 * A field Node sets on a ChildProcess as a data property, or undefined where the caller has put an
 * accessor in its place: its getter is the caller's code, which must not run here (in the middle
 * of a changelist, or in a microtask where its exception would be uncaught).
 */
function dataField(c: object, key: string): unknown {
  const d = Object.getOwnPropertyDescriptor(c, key);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

/** Whether pid, exitCode and signalCode of `c` are the data properties Node makes them. */
export function plainChild(c: object): boolean {
  for (const key of ['pid', 'exitCode', 'signalCode']) {
    const d = Object.getOwnPropertyDescriptor(c, key);
    if (d === undefined || !('value' in d)) return false;
  }
  return true;
}

/** A ChildProcess has exited once Node has emitted (or is emitting) its 'exit'. */
export function hasExited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}
