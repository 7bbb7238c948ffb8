/**
 * The kq tool against the tools a user would otherwise pick, on the same files: `kq run` vs
 * entr(1) and `kq watch` vs fswatch(1) (Debian packages, installed here with apt-get when
 * missing).
 *
 * - latency from a write to the command's start (run: the utility is printf(1), whose output we
 *   read; both tools watch the file at once, so each write is one sample for both) and from a
 *   write to the printed line (watch), median and p90;
 * - idle CPU with 10,000 watched files (a tree of 10,000 files, nothing changing): CPU time of
 *   each tool's process per second of wall time, after it has settled.
 */
import { type ChildProcess, execSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, main, median, now, QUICK } from './common.js';

const KQ = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'main.js');
const SAMPLES = QUICK ? 10 : 40;
const IDLE_FILES = QUICK ? 2000 : 10_000;
const IDLE_WINDOW_MS = QUICK ? 1000 : 3000;

function ensureTools(): void {
  const have = (c: string): boolean => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
  if (have('entr') && have('fswatch')) return;
  process.stderr.write('cli bench: installing entr and fswatch with apt-get\n');
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq entr fswatch', { stdio: 'ignore' });
}

function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)] ?? NaN;
}

interface Tool { name: string; child: ChildProcess; out: number; err: string }

function startTool(name: string, cmd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}): Tool {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const tool: Tool = { name, child, out: 0, err: '' };
  child.stdout!.on('data', (d: Buffer) => {
    tool.out += d.length;
    wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    tool.err += d;
    wake();
  });
  if (input !== undefined) child.stdin!.end(input);
  return tool;
}

let waiting: (() => void)[] = [];
function wake(): void {
  const w = waiting;
  waiting = [];
  for (const f of w) f();
}
function nextOutput(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    waiting.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `ok()` (checked on every output, and every 50 ms), failing after `ms`. */
async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  const end = now() + ms;
  while (!ok()) {
    if (now() > end) throw new Error(`timed out waiting for ${what}`);
    await nextOutput(50);
  }
}

/**
 * Each sample: append to `file`, then the time until every tool printed something new.
 * A tool that does not answer a write within 5 s fails the case.
 */
async function latencies(tools: Tool[], file: string): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const t of tools) out[t.name] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const before = tools.map((t) => t.out);
    const done: (number | undefined)[] = tools.map(() => undefined);
    const t0 = now();
    appendFileSync(file, 'x');
    while (done.some((d) => d === undefined)) {
      tools.forEach((t, k) => {
        if (done[k] === undefined && t.out > before[k]!) done[k] = now() - t0;
      });
      if (now() - t0 > 5000) throw new Error(`no answer to a write from ${tools.filter((_, k) => done[k] === undefined).map((t) => `${t.name} (${t.err.trim()})`).join(', ')}`);
      if (done.some((d) => d === undefined)) await nextOutput(5);
    }
    tools.forEach((t, k) => out[t.name]!.push(done[k]!));
    // Quiet time, so no tool's settle window or consolidation spans two samples.
    await sleep(150);
    const settled = tools.map((t) => t.out);
    await sleep(20);
    if (tools.some((t, k) => t.out !== settled[k])) await sleep(200);
  }
  return out;
}

/** CPU time (user + system, in ms) of a process, from /proc. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  return (Number(fields[11]) + Number(fields[12])) * tick;
}

/** Waits until a process has used no CPU for 1 s (it has set up its watches), at most 120 s. */
async function settledCpu(pid: number): Promise<void> {
  const end = now() + 120_000;
  let last = cpuOf(pid);
  for (;;) {
    await sleep(1000);
    const c = cpuOf(pid);
    if (c === last || now() > end) return;
    last = c;
  }
}

async function idleCpu(tool: Tool): Promise<number> {
  await settledCpu(tool.child.pid!);
  const c0 = cpuOf(tool.child.pid!);
  const t0 = now();
  await sleep(IDLE_WINDOW_MS);
  return ((cpuOf(tool.child.pid!) - c0) / (now() - t0)) * 1000;
}

async function stop(tools: Tool[]): Promise<void> {
  for (const t of tools) {
    if (t.child.exitCode === null) {
      const gone = new Promise((r) => t.child.once('exit', r));
      t.child.kill('SIGINT');
      const timer = setTimeout(() => t.child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    }
  }
}

main(async () => {
  ensureTools();
  const dir = mkdtempSync(join(tmpdir(), 'kq-bench-cli-'));
  const metrics: Record<string, number> = {};
  const record = (lat: Record<string, number[]>): void => {
    for (const [k, xs] of Object.entries(lat)) {
      metrics[`${k}_median_ms`] = median(xs);
      metrics[`${k}_p90_ms`] = p90(xs);
    }
  };
  // A part that fails is reported and fails the case (exit code 1), after the others ran.
  let failed = false;
  const section = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      process.stderr.write(`cli bench: ${what} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  };
  try {
    const file = join(dir, 'watched.txt');
    writeFileSync(file, '');

    // kq run vs entr: -n (no terminal here), -p (no run at start), printf x as the utility.
    await section('run latency', async () => {
    const tools = [
      startTool('kq_run', process.execPath, [KQ, 'run', '-np', 'printf', 'x'], `${file}\n`, { EV_TRACE: '1' }),
      startTool('entr', 'entr', ['-np', 'printf', 'x'], `${file}\n`),
    ];
    await until(() => tools[0]!.err.includes('watching'), 10_000, 'kq run to watch');
    await sleep(300); // entr has no readiness signal: give it time to register its one watch
    try {
      record(await latencies(tools, file));
    } finally {
      await stop(tools);
    }
    });

    // kq watch vs fswatch on the same file.
    await section('watch latency', async () => {
    const tools = [
      startTool('kq_watch', process.execPath, [KQ, 'watch', '--verbose', file]),
      startTool('fswatch', 'fswatch', ['--latency', '0.001', file]),
    ];
    await until(() => tools[0]!.err.includes('watching'), 10_000, 'kq watch to watch');
    await sleep(300);
    try {
      record(await latencies(tools, file));
    } finally {
      await stop(tools);
    }
    metrics.watch_over_ms = metrics.kq_watch_median_ms! - metrics.fswatch_median_ms!;
    });

    // Idle CPU with IDLE_FILES watched files: a tree of 100 directories.
    const tree = join(dir, 'tree');
    const list: string[] = [];
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < IDLE_FILES / 100; f++) {
        const p = join(tree, `d${d}`, `f${f}.txt`);
        writeFileSync(p, '');
        list.push(p);
      }
    }
    const input = `${list.join('\n')}\n`;
    const idle: [string, () => Tool][] = [
      ['kq_run', () => startTool('kq_run', process.execPath, [KQ, 'run', '-np', 'true'], input)],
      ['entr', () => startTool('entr', 'entr', ['-np', 'true'], input)],
      ['kq_watch', () => startTool('kq_watch', process.execPath, [KQ, 'watch', '-r', tree])],
      ['fswatch', () => startTool('fswatch', 'fswatch', ['--latency', '0.001', '-r', tree])],
    ];
    for (const [name, make] of idle) {
      await section(`${name} idle CPU`, async () => {
        const t = make();
        try {
          metrics[`${name}_idle_cpu_ms_per_s`] = await idleCpu(t);
          if (t.child.exitCode !== null) throw new Error(`${name} exited: ${t.err}`);
        } finally {
          await stop([t]);
        }
      });
    }
    metrics.idle_files = IDLE_FILES;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  emit(metrics);
  if (failed) process.exitCode = 1;
});
