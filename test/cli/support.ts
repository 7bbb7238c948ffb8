/**
 * Driving the real `kq` binary from tests: spawn `node dist/cli/main.js ...`, collect stdout and
 * stderr line by line, wait (with a generous timeout) for a line that matches, and for the exit.
 * Filter probes tell a test whether the library on this branch has the filter it needs yet.
 */
import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  EV_ADD, EV_DELETE, EV_RECEIPT, EVFILT_PROC, EVFILT_READ, EVFILT_SIGNAL, EVFILT_VNODE, kqueue,
  NOTE_EXIT, NOTE_WRITE,
} from '../../src/index.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const KQ = join(root, 'dist', 'cli', 'main.js');

/** A generous wait for anything the tool should do promptly. */
export const WAIT_MS = 10_000;

export interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Raw stdout, for byte-exact checks (escape sequences). */
  raw(): string;
  /** Resolves with the first line (of stdout, or stderr) matching `re`, after `from` lines. */
  line(re: RegExp, opts?: { stream?: 'stdout' | 'stderr'; from?: number; timeout?: number }): Promise<string>;
  /** Resolves with the exit status (128 + signal when killed). */
  exited: Promise<number>;
  status: number | null;
}

/**
 * Spawns `kq ARGS` (or, with `command`, that command instead, for wrappers such as script(1)),
 * killed when the test ends if still running.
 */
export function kq(t: TestContext, args: string[], opts: SpawnOptions & { input?: string } = {}, command?: string[]): Run {
  const [file, ...rest] = command ?? [process.execPath, KQ, ...args];
  const child = spawn(file!, rest, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  const run: Run = {
    child, stdout: [], stderr: [], status: null,
    raw: () => rawOut,
    line: (re, o = {}) => waitLine(run, re, o),
    exited: new Promise<number>((resolve) => {
      child.on('exit', (code, sig) => {
        run.status = code ?? 128 + (sig === null ? 0 : signalNumber(sig));
        resolve(run.status);
        wake();
      });
    }),
  };
  let rawOut = '';
  const split = (stream: NodeJS.ReadableStream | null, into: string[], raw: boolean): void => {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (d: string) => {
      if (raw) rawOut += d;
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      into.push(...parts);
      wake();
    });
    stream?.on('end', () => {
      if (buf !== '') into.push(buf);
      buf = '';
      wake();
    });
  };
  split(child.stdout, run.stdout, true);
  split(child.stderr, run.stderr, false);
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  t.after(async () => {
    if (run.status === null) {
      child.kill('SIGKILL');
      await run.exited;
    }
    // A grandchild that outlived it (a utility in its own process group) must not hold the
    // test process open through our ends of the pipes.
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.stdin?.destroy();
  });
  return run;
}

let wakeAll: (() => void)[] = [];
function wake(): void {
  const w = wakeAll;
  wakeAll = [];
  for (const f of w) f();
}

async function waitLine(run: Run, re: RegExp, o: { stream?: 'stdout' | 'stderr'; from?: number; timeout?: number }): Promise<string> {
  const lines = o.stream === 'stderr' ? run.stderr : run.stdout;
  const deadline = Date.now() + (o.timeout ?? WAIT_MS);
  for (;;) {
    const hit = lines.slice(o.from ?? 0).find((l) => re.test(l));
    if (hit !== undefined) return hit;
    if (run.status !== null) {
      await new Promise((r) => setTimeout(r, 20)); // let the last output arrive
      const late = lines.slice(o.from ?? 0).find((l) => re.test(l));
      if (late !== undefined) return late;
      throw new Error(`kq exited (${run.status}) before printing ${re}\nstdout: ${run.stdout.join('\n')}\nstderr: ${run.stderr.join('\n')}`);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no line matching ${re} within ${o.timeout ?? WAIT_MS} ms\nstdout: ${run.stdout.join('\n')}\nstderr: ${run.stderr.join('\n')}`);
    await new Promise<void>((r) => {
      const timer = setTimeout(r, Math.min(left, 200));
      wakeAll.push(() => {
        clearTimeout(timer);
        r();
      });
    });
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 } as Record<string, number>)[sig] ?? 0;
}

/** Resolves with the status once the run exits, failing after `ms`. */
export async function exitOf(run: Run, ms = WAIT_MS): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`kq did not exit within ${ms} ms\nstdout: ${run.stdout.join('\n')}\nstderr: ${run.stderr.join('\n')}`)), ms);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A temp directory removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kq-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(path: string, text: string): void {
  writeFileSync(path, text);
}

/** The errno a registration of `filter` on `ident` answers on this branch (0: it works). */
function probe(ident: unknown, filter: number, fflags: number): number {
  const q = kqueue();
  try {
    const [r] = q.keventSync([{ ident: ident as number, filter, flags: EV_ADD | EV_RECEIPT, fflags }], 1);
    q.keventSync([{ ident: ident as number, filter, flags: EV_DELETE | EV_RECEIPT }], 1);
    return r === undefined ? 0 : Number(r.data);
  } finally {
    q.close();
  }
}

let vnode: boolean | undefined;
let proc: boolean | undefined;
let signal: boolean | undefined;
let stdinRead: boolean | undefined;

export function haveVnode(): boolean {
  if (vnode === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'kq-probe-'));
    try {
      writeFileSync(join(dir, 'f'), '');
      vnode = probe(join(dir, 'f'), EVFILT_VNODE, NOTE_WRITE) === 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return vnode;
}

export function haveProc(): boolean {
  proc ??= probe(process.pid, EVFILT_PROC, NOTE_EXIT) === 0;
  return proc;
}

export function haveSignal(): boolean {
  signal ??= probe('SIGUSR2', EVFILT_SIGNAL, 0) === 0;
  return signal;
}

/** READ on a stream (a pipe's readable end): what kq run uses for keys on a terminal. */
export function haveStreamRead(): boolean {
  if (stdinRead === undefined) {
    const child = spawn(process.execPath, ['-e', ''], { stdio: ['ignore', 'pipe', 'ignore'] });
    stdinRead = probe(child.stdout, EVFILT_READ, 0) === 0;
    child.kill();
  }
  return stdinRead;
}

/** Skips the test, naming the missing filter, unless every one it needs is on this branch. */
export function needs(t: TestContext, ...filters: ('VNODE' | 'PROC' | 'SIGNAL' | 'READ')[]): boolean {
  const missing = filters.filter((f) => !({ VNODE: haveVnode, PROC: haveProc, SIGNAL: haveSignal, READ: haveStreamRead })[f]());
  if (missing.length === 0) return true;
  t.skip(missing.map((f) => `EVFILT_${f} not on this branch yet`).join('; '));
  return false;
}

/**
 * A process that is not ours and that nobody reaps when it exits: its parent shell has exec'd
 * sleep. Linux keeps its exit status visible (a zombie), so kq reports the real status; a
 * process reaped by its parent at once leaves only "status 0" (the contract's documented
 * limit). Resolves with its pid; `go()` lets it run its script (it waits for a line first).
 */
export async function unreaped(t: TestContext, script: string): Promise<{ pid: number; go: () => void }> {
  const fifo = join(mkdtempSync(join(tmpdir(), 'kq-unreaped-')), 'go');
  execFileSync('mkfifo', [fifo]);
  const parent = spawn('sh', ['-c', `(read x < ${fifo}; ${script}) & echo $!; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => {
    parent.kill('SIGKILL');
    rmSync(dirname(fifo), { recursive: true, force: true });
  });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { pid, go: () => writeFileSync(fifo, 'go\n') };
}

/** Is `pid` a live process (not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone (exited, or a zombie), failing after `ms`. */
export async function gone(pid: number, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
