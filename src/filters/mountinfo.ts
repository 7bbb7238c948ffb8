import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { VQ_MOUNT, VQ_UNMOUNT } from '../constants.js';
import { tunables } from '../tunables.js';

/**
 * Mounts and unmounts in this process's mount namespace, for EVFILT_FS. Linux announces a change
 * of the mount table by marking `/proc/self/mountinfo` with POLLPRI, which JavaScript cannot wait
 * for (and inotify does not report /proc), so two observers work together while FS knotes exist:
 *
 * - `findmnt --poll` (util-linux), when it is installed: it waits for POLLPRI in its own process
 *   and prints one line per mount, unmount, remount or move as it happens, so even a mount and an
 *   unmount that both happen while our event loop is busy are each seen. A small shell around it
 *   stops it when its standard input closes, so it never outlives this process.
 * - a read of `/proc/self/mountinfo` every `tunables.fs_poll_ms`, compared with the previous one
 *   by mount ID: the whole mechanism where findmnt is missing, and the safety net for the instant
 *   before findmnt has read its first table.
 *
 * Both update one belief of the table (mount ID -> what is mounted there), so a change seen by
 * both is reported once.
 */

/** A mount as the comparison sees it: ID, parent, device, root, mount point, type, source. */
type MountKey = string;
/** Known to be mounted from findmnt's report, not yet read from mountinfo. */
const REPORTED = '';

/** Mount ID -> key, from one read of mountinfo (null if it cannot be read). */
function readTable(): Map<string, MountKey> | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'latin1');
  } catch {
    return null;
  }
  const table = new Map<string, MountKey>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    // Options (f[5]), propagation fields and superblock options change on a remount: left out.
    table.set(f[0]!, `${f[1]} ${f[2]} ${f[3]} ${f[4]} ${dash > 0 ? `${f[dash + 1]} ${f[dash + 2]}` : ''}`);
  }
  return table;
}

const HELPER_SCRIPT =
  // Our pipe moves to fd 3 (a background list's stdin would be /dev/null); a reader on it stops
  // findmnt when it closes (we are done, or gone), and the shell says when findmnt ended.
  'exec 3<&0 </dev/null; "$1" --poll --noheadings --raw --output ACTION,ID 3<&- & p=$!; '
  + '{ read _ <&3; kill $p; } 2>/dev/null & exec 3<&-; wait $p; echo "end $?"';

/** How long the first FS knote may wait for findmnt to read its first table. */
const READY_WAIT_MS = 500;

let findmntPath: string | null | undefined;

/** findmnt's path on PATH, looked up once; null when it is not installed. */
function findmnt(): string | null {
  if (findmntPath === undefined) {
    findmntPath = null;
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      if (dir === '') continue;
      try {
        accessSync(join(dir, 'findmnt'), constants.X_OK);
        findmntPath = join(dir, 'findmnt');
        break;
      } catch {
        // Not here.
      }
    }
  }
  return findmntPath;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Whether `pid` is a child of `ppid` named `comm`. */
function isChildNamed(pid: number, ppid: number, comm: string): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const tail = `(${comm}) `;
    const at = st.indexOf(tail);
    return at > 0 && Number(st.slice(at + tail.length + 2).split(' ', 1)[0]) === ppid;
  } catch {
    return false;
  }
}

/**
 * The pid of a child of `ppid` named `comm`; 0 if none yet. Pids are handed out upwards, so the
 * next few after the parent's are tried first; a full scan of /proc only every `full`-th call.
 */
function childNamed(ppid: number, comm: string, full: boolean): number {
  for (let pid = ppid + 1; pid <= ppid + 16; pid++) if (isChildNamed(pid, ppid, comm)) return pid;
  if (!full) return 0;
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57 && isChildNamed(Number(name), ppid, comm)) return Number(name);
  }
  return 0;
}

/** Whether `pid` sleeps in poll(2) on its mountinfo: it has read its first table. */
function pollingMountinfo(pid: number): boolean {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`);
    if (!fds.some((fd) => readlinkSafe(`/proc/${pid}/fd/${fd}`).endsWith('/mountinfo'))) return false;
    const wchan = readFileSync(`/proc/${pid}/wchan`, 'latin1');
    // Without kallsyms wchan reads "0": having opened the table is then the best sign.
    return wchan === '0' || wchan.includes('poll');
  } catch {
    return false;
  }
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/**
 * Blocks (briefly: a few milliseconds) until the helper's findmnt sleeps on the table, so that a
 * change made right after the registration is one findmnt sees. Gives up after READY_WAIT_MS or
 * when the helper ends; the periodic reads cover what it would miss.
 */
function awaitReady(helper: ChildProcess): void {
  const shell = helper.pid;
  if (shell === undefined) return;
  const deadline = Date.now() + READY_WAIT_MS;
  let pid = 0;
  for (let round = 1; Date.now() < deadline && helper.exitCode === null; round++) {
    if (pid === 0) pid = childNamed(shell, 'findmnt', round % 32 === 0);
    if (pid !== 0 && pollingMountinfo(pid)) return;
    try {
      if (readFileSync(`/proc/${shell}/stat`, 'latin1').includes(') Z')) return;
    } catch {
      return;
    }
    Atomics.wait(pause, 0, 0, 1);
  }
}

/** Watches the mount table while started; `post` receives VQ_MOUNT and/or VQ_UNMOUNT. */
export class MountWatcher {
  private table: Map<string, MountKey> | null = null;
  /** IDs whose unmount the read already reported, until findmnt reports it too. */
  private readonly unmountedByRead = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private helper: ChildProcess | null = null;
  private partial = '';
  private running = false;

  constructor(private readonly post: (vq: number) => void) {}

  get active(): boolean {
    return this.running;
  }

  /** @internal the findmnt helper while it runs, for tests. */
  get helperProcess(): ChildProcess | null {
    return this.helper;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.table = readTable();
    this.unmountedByRead.clear();
    if (tunables.fs_findmnt) this.startHelper();
    this.arm();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.table = null;
    this.unmountedByRead.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.stopHelper();
  }

  /** Reads and compares now (as the timer does). */
  check(): void {
    if (!this.running) return;
    const next = readTable();
    if (next === null) return;
    const prev = this.table;
    this.table = next;
    if (prev === null) return;
    let vq = 0;
    for (const [id, key] of next) {
      const was = prev.get(id);
      if (was === undefined) {
        vq |= VQ_MOUNT;
        this.unmountedByRead.delete(id);
      } else if (was !== key && was !== REPORTED) {
        // The ID was reused by a new mount since the last read (Linux reuses the smallest free).
        vq |= VQ_MOUNT | VQ_UNMOUNT;
      }
    }
    for (const id of prev.keys()) {
      if (!next.has(id)) {
        vq |= VQ_UNMOUNT;
        if (this.helper !== null) this.unmountedByRead.add(id);
      }
    }
    if (vq !== 0) this.post(vq);
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.check();
      if (this.running) this.arm();
    }, Math.max(1, tunables.fs_poll_ms));
    this.timer.unref();
  }

  private startHelper(): void {
    const path = findmnt();
    if (path === null) return;
    let child: ChildProcess;
    try {
      child = spawn('sh', ['-c', HELPER_SCRIPT, 'sh', path], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      return;
    }
    this.helper = child;
    // The helper must neither keep this process alive nor crash it.
    child.unref();
    child.on('error', () => this.helperGone(child));
    child.on('exit', () => this.helperGone(child));
    child.stdin!.on('error', () => {});
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    const out = child.stdout!;
    (out as unknown as { unref?: () => void }).unref?.();
    out.setEncoding('latin1');
    out.on('data', (chunk: string) => this.lines(child, chunk));
    out.on('error', () => {});
    awaitReady(child);
  }

  private stopHelper(): void {
    const child = this.helper;
    if (child === null) return;
    this.helper = null;
    this.partial = '';
    // Closing its input makes the shell stop findmnt; nothing else of ours is left on it.
    child.stdin!.end();
    child.stdout!.destroy();
  }

  private helperGone(child: ChildProcess): void {
    if (this.helper !== child) return;
    // findmnt is missing or ended: the reads alone go on.
    this.helper = null;
    this.partial = '';
    this.unmountedByRead.clear();
    child.stdin!.end();
  }

  /** findmnt's lines: `mount <id>`, `umount <id>`, `remount <id>`, `move <id>`; `end <status>`. */
  private lines(child: ChildProcess, chunk: string): void {
    if (this.helper !== child || this.table === null) return;
    const text = this.partial + chunk;
    const last = text.lastIndexOf('\n');
    this.partial = text.slice(last + 1);
    if (last < 0) return;
    const table = this.table;
    let vq = 0;
    for (const line of text.slice(0, last).split('\n')) {
      const [action, id] = line.split(' ');
      if (id === undefined) continue;
      if (action === 'end') {
        this.helperGone(child);
        break;
      }
      if (action === 'mount') {
        // Already read as mounted: reported then.
        if (table.has(id)) continue;
        table.set(id, REPORTED);
        vq |= VQ_MOUNT;
      } else if (action === 'umount') {
        if (this.unmountedByRead.delete(id)) continue;
        // A mount no read saw (it came and went between two reads, before findmnt's first table)
        // is reported with its unmount.
        vq |= table.delete(id) ? VQ_UNMOUNT : VQ_MOUNT | VQ_UNMOUNT;
      } else if (action === 'move') {
        // Same mount, another place: neither a new mount nor an unmount (DragonFly has no move).
        if (table.has(id)) table.set(id, REPORTED);
      }
      // 'remount' changes options only: DragonFly posts nothing for MNT_UPDATE.
    }
    if (vq !== 0) this.post(vq);
  }
}
