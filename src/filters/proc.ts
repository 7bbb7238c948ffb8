import { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { types } from 'node:util';
import {
  EACCES, EBADF, ESRCH, EV_ADD, EV_CLEAR, EV_ENABLE, EV_EOF, EV_FLAG1, EV_NODATA, EV_ONESHOT,
  EVFILT_PROC, NOTE_CHILD, NOTE_EXEC, NOTE_EXIT, NOTE_FORK, NOTE_PCTRLMASK, NOTE_TRACK,
  NOTE_TRACKERR,
} from '../constants.js';
import { isInstance } from '../descriptors/source-hooks.js';
import { acquireChangeBuffer, releaseChangeBuffer } from '../engine/changes.js';
import type { FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import { KN_DETACHED, type Knote } from '../engine/knote.js';
import { errnoFromCode } from '../errno.js';
import { tunables } from '../tunables.js';
import {
  hasExited, isProcess, type NewProcess, outOfDescriptors, ownChild, plainChild, ProcessTable, type ProcStat,
  StatFile, ticksNow,
} from './proc-stat.js';

/**
 * EVFILT_PROC (the reference's filt_procattach / filt_proc): a knote on a process, named by its
 * pid or by a ChildProcess (two different knotes). EV_CLEAR is forced on. Exit is always
 * delivered (NOTE_EXIT in fflags only if asked) with `data` = the wait(2) status and
 * EV_EOF|EV_NODATA|EV_ONESHOT, after which the knote is detached (KN_DETACHED) and goes with its
 * delivery. NOTE_FORK and NOTE_EXEC are reported if asked; NOTE_TRACK registers a knote for each
 * new child (NOTE_CHILD, data = parent pid), or sets NOTE_TRACKERR when that fails.
 *
 * Where the news comes from: a child of this Node process tells its exit (and status) through
 * its 'exit' event. Anything else is read from /proc, polled every `tunables.proc_poll_ms`
 * milliseconds while some knote needs it: the exit of other processes (the status of a zombie
 * when Linux shows it, else 0), forks (a new process whose parent is watched) and execs (the
 * image's layout changed). One source per watched process, shared by every knote on it.
 */

/** The highest pid Linux can hand out (PID_MAX_LIMIT). */
const PID_MAX = 4194304;
/** Interest that needs /proc even for our own child. */
const FORKS = NOTE_FORK | NOTE_TRACK;
const POLLED_NOTES = FORKS | NOTE_EXEC;

/** The wait(2) status Node's 'exit' arguments stand for (no core-dump bit: Node does not say). */
function waitStatus(code: number | null, signal: string | null): number {
  if (code !== null) return (code & 0xff) << 8;
  const n = signal === null ? undefined : (os.constants.signals as Record<string, number>)[signal];
  return n ?? 0;
}

function childStatus(c: ChildProcess): number {
  return waitStatus(c.exitCode, c.signalCode);
}

/** One watched process: the reference's struct proc with its p_klist. */
class ProcSource {
  readonly klist = new Klist();
  /** The same knotes as the klist, read for the interest mask. */
  readonly knotes: Knote[] = [];
  /** Our own child: its 'exit' gives the exit and the status. */
  child: ChildProcess | null = null;
  /** OR of the knotes' interest masks when last computed. */
  interest = 0;
  /** Forks are reported for children started at this clock tick or later. */
  since = 0;
  exited = false;
  status = 0;
  /** During a NOTE_FORK post: the new child (NOTE_PDATAMASK's 20 bits cannot hold every Linux pid). */
  forked: NewProcess | null = null;
  private readonly onExit = (code: number | null, signal: string | null): void => this.exit(waitStatus(code, signal));

  constructor(readonly pid: number, private stat: StatFile | null, readonly start: number, public image: string) {}

  adopt(child: ChildProcess): void {
    if (this.child !== null) return;
    this.child = child;
    child.on('exit', this.onExit);
  }

  insert(kn: Knote): void {
    this.klist.insert(kn);
    this.knotes.push(kn);
  }

  remove(kn: Knote): void {
    this.klist.remove(kn);
    const i = this.knotes.indexOf(kn);
    if (i >= 0) this.knotes.splice(i, 1);
  }

  /** The current /proc reading, or null when the process is gone (or was never readable). */
  read(): ProcStat | null {
    const st = this.stat === null ? null : this.stat.read();
    return st !== null && st.start === this.start ? st : null;
  }

  /** One poll: exec, then exit (forks were posted before, from the scan of /proc). */
  poll(): void {
    const st = this.read();
    if (st === null) {
      // Reaped. Our own child's 'exit' brings the status (libuv reaps and emits together).
      if (this.child === null) this.exit(0);
      return;
    }
    if (st.state === 'Z' || st.state === 'X') {
      // A zombie has no image left to compare (its layout reads as 0).
      if (this.child === null) this.exit(st.exitStatus);
      return;
    }
    if (st.image !== this.image) {
      this.image = st.image;
      this.klist.post(NOTE_EXEC);
    }
  }

  fork(np: NewProcess): void {
    this.forked = np;
    try {
      this.klist.post(NOTE_FORK);
    } finally {
      this.forked = null;
    }
  }

  /** The process exited: every knote is told (and detaches itself), the source goes. */
  exit(status: number): void {
    if (this.exited) return;
    this.exited = true;
    this.status = status;
    this.release();
    this.klist.post(NOTE_EXIT);
  }

  /** Gives back everything the source holds: its map entry, poll slot, descriptor, listener. */
  release(): void {
    if (sources.get(this.pid) === this) sources.delete(this.pid);
    polled.delete(this);
    this.stat?.close();
    this.stat = null;
    if (this.child !== null) {
      this.child.removeListener('exit', this.onExit);
      this.child = null;
    }
    schedule();
  }
}

// ---- the poller ---------------------------------------------------------------------------

/** Watched processes by pid (one source per process). */
const sources = new Map<number, ProcSource>();
/** Sources that need /proc: not our child, or asking for forks or execs. */
const polled = new Set<ProcSource>();
/** The process table, while some polled source wants forks. */
let table: ProcessTable | null = null;
let timer: NodeJS.Timeout | null = null;

/** @internal what the poller holds, for leak checks in tests. */
export function procPollState(): { sources: number; polled: number; timer: boolean; table: boolean } {
  return { sources: sources.size, polled: polled.size, timer: timer !== null, table: table !== null };
}

/** @internal the source watching `pid`, for tests that reach inside (the start-time check). */
export function procSourceOf(pid: number): { start: number; image: string; poll(): void } | undefined {
  return sources.get(pid);
}

/** @internal runs one poll now, as the timer would. */
export function procPollNow(): void {
  if (timer !== null) clearTimeout(timer);
  tick();
}

/** Arms the next poll while anything is polled; nothing runs (and no timer exists) otherwise. */
function schedule(): void {
  if (polled.size === 0) {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    table = null;
    return;
  }
  if (timer !== null) return;
  timer = setTimeout(tick, Math.max(1, tunables.proc_poll_ms));
  timer.unref();
}

function tick(): void {
  timer = null;
  // A modification may have narrowed what the knotes ask (a widening is seen at once).
  for (const s of [...polled]) refresh(s);
  const list = [...polled];
  let forks = false;
  for (const s of list) if (s.interest & FORKS) forks = true;
  if (!forks) {
    table = null;
  } else {
    table ??= new ProcessTable();
    for (const np of table.scan()) {
      const parent = sources.get(np.ppid);
      // A source whose process is gone (its exit is for the poll below) is not the parent of a
      // process that reuses its pid and forks: that one's children are none of its knotes' news.
      if (parent !== undefined && (parent.interest & FORKS) && np.start >= parent.since && parent.read() !== null) {
        parent.fork(np);
      }
    }
  }
  for (const s of list) if (polled.has(s)) s.poll();
  schedule();
}

/** Recomputes a source's interest and whether it is polled. */
function refresh(src: ProcSource): void {
  let interest = 0;
  for (const kn of src.knotes) interest |= kn.sfflags;
  const gained = interest & ~src.interest;
  src.interest = interest;
  if (gained & FORKS) {
    // From now on: children started before are not forks this knote saw.
    if (table === null) table = new ProcessTable();
    else src.since = ticksNow();
  }
  if (src.child === null || (interest & POLLED_NOTES)) polled.add(src);
  else polled.delete(src);
  schedule();
}

// ---- the filter ---------------------------------------------------------------------------

/** During a NOTE_TRACK registration: the new child and the image its parent had at the fork. */
let trackOrigin: { pid: number; image: string } | null = null;

/** filt_proc's NOTE_TRACK branch: register the same watch on the child, in the same kqueue. */
function track(parent: Knote, src: ProcSource, np: NewProcess): void {
  const kq = parent.kq;
  if (kq === null) return;
  const ch = acquireChangeBuffer();
  let error: number;
  trackOrigin = { pid: np.pid, image: src.image };
  try {
    ch.ident[0] = np.pid;
    ch.filter[0] = EVFILT_PROC;
    ch.flags[0] = (parent.flags | EV_ADD | EV_ENABLE | EV_FLAG1) & 0xffff;
    ch.fflags[0] = parent.sfflags;
    ch.data[0] = src.pid;
    ch.udata[0] = parent.udata;
    ch.length = 1;
    error = kq.register(ch, 0);
  } finally {
    trackOrigin = null;
    releaseChangeBuffer(ch);
  }
  if (error !== 0) parent.fflags = (parent.fflags | NOTE_TRACKERR) >>> 0;
}

/** The exit as filt_proc records it: status, flags, detached (the knote goes with its delivery). */
function recordExit(kn: Knote, status: number): void {
  if (kn.sfflags & NOTE_EXIT) kn.fflags = (kn.fflags | NOTE_EXIT) >>> 0;
  kn.flags |= KN_DETACHED;
  kn.hook = null;
  kn.data = status;
  kn.flags |= EV_EOF | EV_NODATA | EV_ONESHOT;
}

/** The pid and ChildProcess an ident names, or the errno to answer. */
function target(ident: unknown): { pid: number; child: ChildProcess | null } | number {
  let pid: number;
  let child: ChildProcess | null = null;
  if (typeof ident === 'number') {
    pid = ident;
  } else if (typeof ident === 'bigint') {
    pid = ident >= 1n && ident <= BigInt(PID_MAX) ? Number(ident) : 0;
  } else if (typeof ident === 'object' && ident !== null) {
    // A Proxy's traps must not run (instanceof would): answered as descriptor filters answer it.
    if (types.isProxy(ident)) return EBADF;
    // Nor those of a Proxy further up the prototype chain: isInstance walks it without running any.
    if (!isInstance(ChildProcess, ident)) return ESRCH;
    child = ident as ChildProcess;
    // One whose pid or exit fields the caller made accessors cannot be read without running them
    // (and a getter that throws would leave the knote half made): no process we can name.
    if (!plainChild(child)) return ESRCH;
    pid = child.pid ?? 0;
  } else {
    return ESRCH;
  }
  if (!Number.isInteger(pid) || pid < 1 || pid > PID_MAX) return ESRCH;
  return { pid, child };
}

function attach(kn: Knote): number {
  const t = target(kn.ident);
  if (typeof t === 'number') {
    // A ChildProcess that exited before getting a pid cannot be one (spawn failed): ESRCH.
    return t;
  }
  const { pid } = t;
  const own = t.child ?? ownChild(pid);
  kn.flags |= EV_CLEAR;
  const tracked = (kn.flags & EV_FLAG1) !== 0;
  if (tracked) {
    // A registration made by NOTE_TRACK: report the child at once, with its parent's pid.
    kn.data = kn.sdata;
    kn.fflags = NOTE_CHILD;
    kn.flags &= ~EV_FLAG1;
  }
  // Our own child that exited is a zombie in Node's terms (libuv reaped it at once): as in the
  // reference, only a watch that asks for NOTE_EXIT may attach to it, and its exit fires now.
  if (t.child !== null && hasExited(t.child)) {
    if ((kn.sfflags & NOTE_EXIT) === 0) return ESRCH;
    recordExit(kn, childStatus(t.child));
    return 0;
  }

  let src = sources.get(pid);
  if (src !== undefined && src.child === null) {
    const st = src.read();
    if (st === null || st.state === 'Z' || st.state === 'X') {
      // Its process has exited (and the pid may be another's now): its knotes are told first.
      src.poll();
      src = sources.get(pid);
    }
  }
  if (src === undefined) {
    const file = StatFile.open(pid);
    if (typeof file === 'string') {
      if (file === 'EACCES' || file === 'EPERM') return EACCES;
      // The descriptor limit says nothing about the process: that error, not ESRCH.
      if (outOfDescriptors(file)) return errnoFromCode(file);
      return zombieOfOurs(kn, pid, own);
    }
    const st = file.read();
    const leader = st === null ? false : isProcess(pid);
    if (typeof leader === 'string') {
      file.close();
      return errnoFromCode(leader);
    }
    if (st === null || !leader) {
      file.close();
      return zombieOfOurs(kn, pid, own);
    }
    if (st.state === 'Z' || st.state === 'X') {
      file.close();
      if ((kn.sfflags & NOTE_EXIT) === 0) return ESRCH;
      recordExit(kn, own !== undefined && hasExited(own) ? childStatus(own) : st.exitStatus);
      return 0;
    }
    src = new ProcSource(pid, file, st.start, st.image);
    sources.set(pid, src);
  }
  // The live process with this pid is our child only if that child has not exited.
  if (own !== undefined && !hasExited(own)) src.adopt(own);
  if (tracked && trackOrigin !== null && trackOrigin.pid === pid && trackOrigin.image !== src.image
    && (kn.sfflags & NOTE_EXEC)) {
    // A child starts with its parent's image: a different one means it has exec'd since.
    kn.fflags = (kn.fflags | NOTE_EXEC) >>> 0;
  }
  kn.hook = src;
  src.insert(kn);
  refresh(src);
  if (tracked) src.since = Math.min(src.since, src.start);
  return 0;
}

/**
 * No such process in /proc, unless it is our own child that has exited (a zombie, with
 * NOTE_EXIT). A child of ours that /proc no longer shows but whose 'exit' Node has not emitted
 * yet has been reaped by libuv, which reaps every exited child before it runs the first exit
 * callback: code run by another child's 'exit' meets it so. Its 'exit' comes within the same
 * turn, so the knote waits for it on a source without /proc, rather than answering ESRCH for a
 * process whose status is about to be known.
 */
function zombieOfOurs(kn: Knote, pid: number, own: ChildProcess | undefined): number {
  if (own === undefined || (kn.sfflags & NOTE_EXIT) === 0) return ESRCH;
  if (hasExited(own)) {
    recordExit(kn, childStatus(own));
    return 0;
  }
  const src = new ProcSource(pid, null, 0, '');
  sources.set(pid, src);
  src.adopt(own);
  kn.hook = src;
  src.insert(kn);
  refresh(src);
  return 0;
}

export const procFilterOps: FilterOps = {
  isFd: false,
  attach,
  detach(kn: Knote): void {
    // An exited process's knote already left its source (filt_procdetach's KN_DETACHED check).
    if (kn.flags & KN_DETACHED) return;
    const src = kn.hook as ProcSource;
    src.remove(kn);
    if (src.knotes.length === 0) src.release();
    else refresh(src);
  },
  event(kn: Knote, hint: number): boolean {
    const ev = (hint & NOTE_PCTRLMASK) >>> 0;
    if (ev !== 0 && (kn.sfflags & ev) !== 0) kn.fflags = (kn.fflags | ev) >>> 0;
    const src = kn.hook as ProcSource | null;
    if (ev === NOTE_EXIT) {
      if ((kn.flags & KN_DETACHED) === 0) {
        src!.remove(kn);
        recordExit(kn, src!.status);
      }
      return true;
    }
    if (src !== null) {
      if (ev === NOTE_FORK && (kn.sfflags & NOTE_TRACK) && src.forked !== null) track(kn, src, src.forked);
      // A modification is followed by a re-check (hint 0): start polling for what it now asks.
      else if (hint === 0 && (kn.sfflags & ~src.interest & POLLED_NOTES) !== 0) refresh(src);
    }
    return kn.fflags !== 0 || (kn.flags & KN_DETACHED) !== 0;
  },
};
