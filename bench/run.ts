/**
 * The benchmark driver: runs every case (bench/<name>.ts, compiled to build/bench/<name>.js) in
 * several separate child processes and reports the median of each metric, one table per case,
 * with ratios against the alternative and the targets from the issue.
 *
 *   node build/bench/run.js [filter...] [--runs N] [--quick] [--json path]
 *
 * - filter: only cases whose name contains one of the given strings (e.g. `timers`, `scan`);
 * - --runs N: child processes per case (and per variant), default 5 (1 with --quick);
 * - --quick: short smoke run (smaller sizes and windows, about 20 s in all);
 * - --json path: also write the machine, the medians, every run's samples and the checks as JSON.
 *
 * Performance is measured here, never asserted in tests: a missed target is reported, and the
 * exit code stays 0 unless a case failed to run.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common.js';

type Metrics = Record<string, number>;

interface Row {
  key: string;
  label: string;
  unit: string;
  /** Scale applied for display (the JSON keeps raw values). */
  scale?: number;
  digits?: number;
}

interface Check {
  label: string;
  /** Ratio of two medians (num / den), their difference (num - minus), or the median of num itself. */
  num: string;
  den?: string;
  minus?: string;
  unit: string;
  op?: '>=' | '<=';
  target?: number;
  goal?: number;
}

interface CaseSpec {
  name: string;
  description: string;
  /** Each variant runs in its own child process (`--variant v`); metrics are prefixed `v.`. */
  variants?: string[];
  rows: Row[];
  checks: Check[];
}

const M = 1e6;

const CASES: CaseSpec[] = [
  {
    name: 'user-harvest',
    description: 'EVFILT_USER trigger + harvest in one keventSync call vs EventEmitter (events/s)',
    rows: [
      { key: 'sync_1', label: 'kqueue keventSync, batch 1', unit: 'M events/s', scale: 1 / M, digits: 2 },
      { key: 'sync_64', label: 'kqueue keventSync, batch 64', unit: 'M events/s', scale: 1 / M, digits: 2 },
      { key: 'sync_1024', label: 'kqueue keventSync, batch 1024', unit: 'M events/s', scale: 1 / M, digits: 2 },
      { key: 'async_1024', label: 'kqueue await kevent(.., 0), batch 1024', unit: 'M events/s', scale: 1 / M, digits: 2 },
      { key: 'emit', label: 'EventEmitter emit, 1 listener', unit: 'M events/s', scale: 1 / M, digits: 2 },
      { key: 'events_on', label: 'events.on() async iteration (1024 emits, drain)', unit: 'M events/s', scale: 1 / M, digits: 2 },
    ],
    checks: [
      { label: 'kqueue batch 1024 / events.on', num: 'sync_1024', den: 'events_on', unit: 'x', op: '>=', target: 1.5, goal: 2 },
      { label: 'kqueue batch 64 / events.on', num: 'sync_64', den: 'events_on', unit: 'x' },
      { label: 'kqueue batch 1 / events.on', num: 'sync_1', den: 'events_on', unit: 'x' },
      { label: 'kqueue async batch 1024 / events.on', num: 'async_1024', den: 'events_on', unit: 'x' },
      { label: 'kqueue batch 1024 / emit', num: 'sync_1024', den: 'emit', unit: 'x' },
    ],
  },
  {
    name: 'scan-cost',
    description: 'keventSync([], 1) harvesting 1 ready level-triggered knote among N idle knotes (ns/call)',
    rows: [
      { key: 'ns_10', label: 'N = 10', unit: 'ns/call', digits: 0 },
      { key: 'ns_1000', label: 'N = 1e3', unit: 'ns/call', digits: 0 },
      { key: 'ns_100000', label: 'N = 1e5', unit: 'ns/call', digits: 0 },
      { key: 'ns_1000000', label: 'N = 1e6', unit: 'ns/call', digits: 0 },
    ],
    checks: [
      { label: 'time(N=1e6) / time(N=10)', num: 'ns_1000000', den: 'ns_10', unit: 'x', op: '<=', target: 1.1 },
      { label: 'time(N=1e5) / time(N=10)', num: 'ns_100000', den: 'ns_10', unit: 'x' },
    ],
  },
  {
    name: 'register',
    description: 'EV_ADD then EV_DELETE of EVFILT_USER knotes in keventSync batches; heap per idle knote',
    rows: [
      { key: 'changes_64', label: 'add+delete, batch 64', unit: 'M changes/s', scale: 1 / M, digits: 2 },
      { key: 'changes_1024', label: 'add+delete, batch 1024', unit: 'M changes/s', scale: 1 / M, digits: 2 },
      { key: 'map_1024', label: 'reference: bare Map set+delete, 1024', unit: 'M ops/s', scale: 1 / M, digits: 2 },
      { key: 'bytes_per_knote', label: 'heap per idle knote (1e6 registered)', unit: 'B', digits: 1 },
    ],
    checks: [
      { label: 'add+delete rate, batch 1024', num: 'changes_1024', unit: 'M changes/s', op: '>=', target: 5 * M },
      { label: 'kqueue add+delete / bare Map set+delete (1024)', num: 'changes_1024', den: 'map_1024', unit: 'x' },
      { label: 'heap per idle knote', num: 'bytes_per_knote', unit: 'B', op: '<=', target: 200 },
    ],
  },
  {
    name: 'timers',
    description: '1M (200k with --quick) one-shot timers (period 1 + i % 1000 ms) on the real clock: EVFILT_TIMER vs setTimeout',
    variants: ['kqueue', 'setTimeout', 'floor'],
    rows: [
      { key: 'kqueue.bytes_per_timer', label: 'kqueue: heap per timer', unit: 'B', digits: 1 },
      { key: 'setTimeout.bytes_per_timer', label: 'setTimeout: heap per timer', unit: 'B', digits: 1 },
      { key: 'kqueue.ext_bytes_per_timer', label: 'kqueue: heap+external per timer', unit: 'B', digits: 1 },
      { key: 'setTimeout.ext_bytes_per_timer', label: 'setTimeout: heap+external per timer', unit: 'B', digits: 1 },
      { key: 'kqueue.cpu_ms', label: 'kqueue: CPU to register + fire all', unit: 'ms', digits: 0 },
      { key: 'setTimeout.cpu_ms', label: 'setTimeout: CPU to register + fire all', unit: 'ms', digits: 0 },
      { key: 'floor.cpu_ms', label: 'floor: CPU to make and drop 1 knote + 1 event per timer', unit: 'ms', digits: 0 },
      { key: 'kqueue.reg_ms', label: 'kqueue: wall time to register', unit: 'ms', digits: 0 },
      { key: 'setTimeout.reg_ms', label: 'setTimeout: wall time to register', unit: 'ms', digits: 0 },
      { key: 'floor.reg_ms', label: 'floor: wall time to make the knotes', unit: 'ms', digits: 0 },
      { key: 'kqueue.wall_past_floor_ms', label: 'kqueue: wall past the 1000 ms floor', unit: 'ms', digits: 0 },
      { key: 'setTimeout.wall_past_floor_ms', label: 'setTimeout: wall past the 1000 ms floor', unit: 'ms', digits: 0 },
    ],
    checks: [
      { label: 'heap per timer, kqueue / setTimeout', num: 'kqueue.bytes_per_timer', den: 'setTimeout.bytes_per_timer', unit: 'x', op: '<=', target: 1 },
      { label: 'heap+external per timer, kqueue / setTimeout', num: 'kqueue.ext_bytes_per_timer', den: 'setTimeout.ext_bytes_per_timer', unit: 'x' },
      { label: 'CPU, kqueue / setTimeout', num: 'kqueue.cpu_ms', den: 'setTimeout.cpu_ms', unit: 'x', op: '<=', target: 0.5 },
      { label: 'CPU, floor / setTimeout (no design with a knote object per timer goes below)', num: 'floor.cpu_ms', den: 'setTimeout.cpu_ms', unit: 'x' },
      { label: 'CPU, kqueue / floor', num: 'kqueue.cpu_ms', den: 'floor.cpu_ms', unit: 'x' },
      { label: 'wall past floor, kqueue / setTimeout', num: 'kqueue.wall_past_floor_ms', den: 'setTimeout.wall_past_floor_ms', unit: 'x' },
    ],
  },
  {
    name: 'vnode',
    description: '10,000 watched files (2,000 with --quick): EVFILT_VNODE path knotes vs raw fs.watch vs chokidar',
    variants: ['kqueue', 'fswatch', 'chokidar'],
    rows: [
      { key: 'kqueue.lat_p50_ms', label: 'kqueue: write -> event in hand, median', unit: 'ms', digits: 3 },
      { key: 'fswatch.lat_p50_ms', label: 'fs.watch: write -> listener, median', unit: 'ms', digits: 3 },
      { key: 'chokidar.lat_p50_ms', label: 'chokidar: write -> change, median', unit: 'ms', digits: 3 },
      { key: 'kqueue.lat_p99_ms', label: 'kqueue: write -> event in hand, p99', unit: 'ms', digits: 3 },
      { key: 'fswatch.lat_p99_ms', label: 'fs.watch: write -> listener, p99', unit: 'ms', digits: 3 },
      { key: 'chokidar.lat_p99_ms', label: 'chokidar: write -> change, p99', unit: 'ms', digits: 3 },
      { key: 'kqueue.idle_cpu_ms_per_s', label: 'kqueue: CPU while idle', unit: 'ms/s', digits: 3 },
      { key: 'fswatch.idle_cpu_ms_per_s', label: 'fs.watch: CPU while idle', unit: 'ms/s', digits: 3 },
      { key: 'chokidar.idle_cpu_ms_per_s', label: 'chokidar: CPU while idle', unit: 'ms/s', digits: 3 },
      { key: 'kqueue.bytes_per_file', label: 'kqueue: heap per watched file', unit: 'B', digits: 0 },
      { key: 'fswatch.bytes_per_file', label: 'fs.watch: heap per watched file', unit: 'B', digits: 0 },
      { key: 'chokidar.bytes_per_file', label: 'chokidar: heap per watched file', unit: 'B', digits: 0 },
      { key: 'kqueue.ext_bytes_per_file', label: 'kqueue: heap+external per watched file', unit: 'B', digits: 0 },
      { key: 'fswatch.ext_bytes_per_file', label: 'fs.watch: heap+external per watched file', unit: 'B', digits: 0 },
      { key: 'chokidar.ext_bytes_per_file', label: 'chokidar: heap+external per watched file', unit: 'B', digits: 0 },
      { key: 'kqueue.setup_ms', label: 'kqueue: time to watch them all', unit: 'ms', digits: 0 },
      { key: 'fswatch.setup_ms', label: 'fs.watch: time to watch them all', unit: 'ms', digits: 0 },
      { key: 'chokidar.setup_ms', label: 'chokidar: time to watch them all', unit: 'ms', digits: 0 },
      { key: 'kqueue.lost', label: 'kqueue: writes not reported within 1 s', unit: '', digits: 0 },
      { key: 'fswatch.lost', label: 'fs.watch: writes not reported within 1 s', unit: '', digits: 0 },
      { key: 'chokidar.lost', label: 'chokidar: writes not reported within 1 s', unit: '', digits: 0 },
    ],
    checks: [
      { label: 'median latency, kqueue - fs.watch', num: 'kqueue.lat_p50_ms', minus: 'fswatch.lat_p50_ms', unit: 'ms', op: '<=', target: 0.05 },
      { label: 'p99 latency, kqueue', num: 'kqueue.lat_p99_ms', unit: 'ms', op: '<=', target: 1 },
      { label: 'p99 latency, kqueue / chokidar', num: 'kqueue.lat_p99_ms', den: 'chokidar.lat_p99_ms', unit: 'x', op: '<=', target: 1 },
      { label: 'idle CPU, kqueue - fs.watch', num: 'kqueue.idle_cpu_ms_per_s', minus: 'fswatch.idle_cpu_ms_per_s', unit: 'ms/s' },
      { label: 'heap per watched file, kqueue / fs.watch', num: 'kqueue.bytes_per_file', den: 'fswatch.bytes_per_file', unit: 'x', op: '<=', target: 2 },
      { label: 'heap+external per watched file, kqueue / fs.watch', num: 'kqueue.ext_bytes_per_file', den: 'fswatch.ext_bytes_per_file', unit: 'x' },
      { label: 'p99 latency, chokidar', num: 'chokidar.lat_p99_ms', unit: 'ms' },
    ],
  },
  {
    name: 'proc',
    description: 'EVFILT_PROC: a child\'s exit to the event in hand, vs its \'exit\' event (ms; children are /bin/true, timed from spawn())',
    rows: [
      { key: 'spawn_exit_p50', label: '\'exit\' listener, median', unit: 'ms', digits: 3 },
      { key: 'spawn_exit_p99', label: '\'exit\' listener, p99', unit: 'ms', digits: 3 },
      { key: 'spawn_once_p50', label: 'await once(child, \'exit\'), median', unit: 'ms', digits: 3 },
      { key: 'spawn_once_p99', label: 'await once(child, \'exit\'), p99', unit: 'ms', digits: 3 },
      { key: 'spawn_kq_p50', label: 'await kq.kevent(), median', unit: 'ms', digits: 3 },
      { key: 'spawn_kq_p99', label: 'await kq.kevent(), p99', unit: 'ms', digits: 3 },
      { key: 'once_added_p50', label: 'once(): after the listener, median', unit: 'ms', digits: 3 },
      { key: 'once_added_p99', label: 'once(): after the listener, p99', unit: 'ms', digits: 3 },
      { key: 'kq_added_p50', label: 'kevent(): after the listener, median', unit: 'ms', digits: 3 },
      { key: 'kq_added_p99', label: 'kevent(): after the listener, p99', unit: 'ms', digits: 3 },
      { key: 'poll_p50', label: 'not our child: kill -> event, median', unit: 'ms', digits: 2 },
      { key: 'poll_p99', label: 'not our child: kill -> event, p99', unit: 'ms', digits: 2 },
      { key: 'poll_ms', label: 'tunables.proc_poll_ms', unit: 'ms', digits: 0 },
    ],
    checks: [
      { label: 'median spawn->event, kevent / once(\'exit\')', num: 'spawn_kq_p50', den: 'spawn_once_p50', unit: 'x' },
      { label: 'kevent after the \'exit\' listener, median', num: 'kq_added_p50', unit: 'ms' },
      { label: 'kevent after the \'exit\' listener, p99', num: 'kq_added_p99', unit: 'ms' },
      { label: 'not our child, median / proc_poll_ms', num: 'poll_p50', den: 'poll_ms', unit: 'x' },
      ],
    },
    {
    name: 'echo-server',
    description: 'TCP echo, 100 connections doing 64-byte ping-pong, servers in their own processes, measured interleaved: one kevent loop (examples/echo-server.ts) vs \'data\' -> write (round trips/s)',
    rows: [
      { key: 'kqueue_rps', label: 'kqueue: one kevent loop', unit: 'k round trips/s', scale: 1e-3, digits: 1 },
      { key: 'node_rps', label: 'Node: \'data\' -> write', unit: 'k round trips/s', scale: 1e-3, digits: 1 },
      { key: 'ratio', label: 'kqueue / Node, paired slices', unit: 'x', digits: 2 },
    ],
    checks: [
      { label: 'round trips/s, kqueue / Node (paired slices)', num: 'ratio', unit: 'x', op: '>=', target: 0.9 },
      { label: 'round trips/s, median kqueue / median Node', num: 'kqueue_rps', den: 'node_rps', unit: 'x' },
    ],
  },
  {
    name: 'idle-sockets',
    description: 'keventSync([], 1) harvesting 1 ready socket among N idle registered sockets (ns/call)',
    rows: [
      { key: 'ns_small', label: 'N = 10', unit: 'ns/call', digits: 0 },
      { key: 'ns_large', label: 'N = as many as the fd limit allows', unit: 'ns/call', digits: 0 },
      { key: 'n_large', label: 'that N', unit: 'sockets', digits: 0 },
    ],
    checks: [
      { label: 'time(N = fd limit) / time(N = 10)', num: 'ns_large', den: 'ns_small', unit: 'x', op: '<=', target: 1.1 },
      ],
    },
    {
    name: 'cli',
    description: 'the kq tool vs entr and fswatch on the same files: write-to-start latency (ms) and idle CPU with 10,000 watched files',
    rows: [
      { key: 'kq_run_median_ms', label: 'kq run: write -> utility start, median', unit: 'ms', digits: 1 },
      { key: 'kq_run_p90_ms', label: 'kq run: same, p90', unit: 'ms', digits: 1 },
      { key: 'entr_median_ms', label: 'entr: write -> utility start, median', unit: 'ms', digits: 1 },
      { key: 'entr_p90_ms', label: 'entr: same, p90', unit: 'ms', digits: 1 },
      { key: 'kq_watch_median_ms', label: 'kq watch: write -> printed line, median', unit: 'ms', digits: 2 },
      { key: 'kq_watch_p90_ms', label: 'kq watch: same, p90', unit: 'ms', digits: 2 },
      { key: 'fswatch_median_ms', label: 'fswatch: write -> printed line, median', unit: 'ms', digits: 2 },
      { key: 'fswatch_p90_ms', label: 'fswatch: same, p90', unit: 'ms', digits: 2 },
      { key: 'kq_run_idle_cpu_ms_per_s', label: 'kq run: idle CPU, 10k files', unit: 'ms CPU/s', digits: 2 },
      { key: 'entr_idle_cpu_ms_per_s', label: 'entr: idle CPU, 10k files', unit: 'ms CPU/s', digits: 2 },
      { key: 'kq_watch_idle_cpu_ms_per_s', label: 'kq watch -r: idle CPU, 10k files', unit: 'ms CPU/s', digits: 2 },
      { key: 'fswatch_idle_cpu_ms_per_s', label: 'fswatch -r: idle CPU, 10k files', unit: 'ms CPU/s', digits: 2 },
    ],
    checks: [
      { label: 'kq run / entr latency (median)', num: 'kq_run_median_ms', den: 'entr_median_ms', unit: 'x', op: '<=', target: 1 },
      { label: 'kq watch / fswatch latency (median)', num: 'kq_watch_median_ms', den: 'fswatch_median_ms', unit: 'x', op: '<=', target: 2 },
      { label: 'kq watch - fswatch latency (median; either this or the ratio)', num: 'watch_over_ms', unit: 'ms', op: '<=', target: 2 },
      { label: 'kq run / entr idle CPU', num: 'kq_run_idle_cpu_ms_per_s', den: 'entr_idle_cpu_ms_per_s', unit: 'x' },
      { label: 'kq watch / fswatch idle CPU', num: 'kq_watch_idle_cpu_ms_per_s', den: 'fswatch_idle_cpu_ms_per_s', unit: 'x' },
    ],
  },
];

// ---- command line ---------------------------------------------------------------------------

interface Options {
  runs: number;
  quick: boolean;
  json: string | undefined;
  filters: string[];
}

function usage(msg: string): never {
  console.error(`${msg}\nusage: node build/bench/run.js [filter...] [--runs N] [--quick] [--json path]`);
  console.error(`cases: ${CASES.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  let runs: number | undefined;
  let quick = false;
  let json: string | undefined;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const v = a === '--runs' ? argv[++i] : a.slice('--runs='.length);
      runs = Number(v);
      if (!Number.isInteger(runs) || runs < 1) usage(`--runs takes a positive integer, not ${v}`);
    } else if (a === '--json' || a.startsWith('--json=')) {
      json = a === '--json' ? argv[++i] : a.slice('--json='.length);
      if (!json) usage('--json takes a path');
    } else if (a === '--help' || a === '-h') usage('');
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else filters.push(a);
  }
  return { runs: runs ?? (quick ? 1 : 5), quick, json, filters };
}

// ---- running cases --------------------------------------------------------------------------

const here = dirname(fileURLToPath(import.meta.url));
/** No case should come near this; a stuck child is killed (by its pid) after it. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

function runChild(caseName: string, args: string[]): Promise<Metrics> {
  const file = join(here, `${caseName}.js`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${caseName} ${args.join(' ')} exited with ${signal ?? code}\n${err}${out}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as Metrics);
      } catch (e) {
        reject(new Error(`${caseName}: bad output ${line}: ${String(e)}`));
      }
    });
  });
}

interface CaseResult {
  description: string;
  runs: Metrics[];
  medians: Metrics;
  checks: { label: string; value: number; unit: string; target?: string; met?: boolean; goalMet?: boolean }[];
  seconds: number;
}

async function runCase(spec: CaseSpec, opts: Options): Promise<CaseResult> {
  const t0 = Date.now();
  const extra = opts.quick ? ['--quick'] : [];
  const runs: Metrics[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const metrics: Metrics = {};
    if (spec.variants === undefined) {
      Object.assign(metrics, await runChild(spec.name, extra));
    } else {
      // Alternate which variant goes first, so neither always runs on the cooler machine.
      const order = r % 2 === 0 ? spec.variants : [...spec.variants].reverse();
      for (const v of order) {
        const m = await runChild(spec.name, [...extra, '--variant', v]);
        for (const [k, x] of Object.entries(m)) metrics[`${v}.${k}`] = x;
      }
    }
    runs.push(metrics);
    process.stderr.write(`  ${spec.name}: run ${r + 1}/${opts.runs} done\n`);
  }
  const keys = new Set(runs.flatMap((m) => Object.keys(m)));
  const medians: Metrics = {};
  for (const k of keys) medians[k] = median(runs.map((m) => m[k]!).filter((x) => typeof x === 'number'));
  const checks = spec.checks.map((c) => {
    const value = c.den !== undefined ? medians[c.num]! / medians[c.den]!
      : c.minus !== undefined ? medians[c.num]! - medians[c.minus]! : medians[c.num]!;
    const res: CaseResult['checks'][number] = { label: c.label, value, unit: c.unit };
    if (c.op !== undefined && c.target !== undefined) {
      res.target = `${c.op} ${fmtCheck(c, c.target)}${c.goal !== undefined ? ` (goal ${fmtCheck(c, c.goal)})` : ''}`;
      res.met = c.op === '>=' ? value >= c.target : value <= c.target;
      if (c.goal !== undefined) res.goalMet = c.op === '>=' ? value >= c.goal : value <= c.goal;
    }
    return res;
  });
  return { description: spec.description, runs, medians, checks, seconds: (Date.now() - t0) / 1000 };
}

// ---- reporting ------------------------------------------------------------------------------

function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtCheck(c: Check, v: number): string {
  if (c.unit === 'x') return `${fmt(v, 2)}x`;
  if (c.unit.startsWith('M ')) return `${fmt(v / M, 2)} ${c.unit}`;
  if (c.unit.startsWith('ms')) return `${fmt(v, 3)} ${c.unit}`;
  return `${fmt(v, 1)} ${c.unit}`;
}

function table(header: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (alignRight[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function report(spec: CaseSpec, res: CaseResult): string {
  const n = res.runs.length;
  const rows = spec.rows.map((row) => {
    const s = row.scale ?? 1;
    const d = row.digits ?? 2;
    const xs = res.runs.map((m) => m[row.key]!).filter((x) => typeof x === 'number');
    return [
      row.label,
      fmt(res.medians[row.key]! * s, d),
      fmt(Math.min(...xs) * s, d),
      fmt(Math.max(...xs) * s, d),
      row.unit,
    ];
  });
  const out = [`## ${spec.name}: ${spec.description}`, `median of ${n} run${n === 1 ? '' : 's'} (${fmt(res.seconds, 1)} s)`, ''];
  out.push(table(['', 'median', 'min', 'max', 'unit'], rows, [false, true, true, true, false]));
  out.push('');
  for (const c of res.checks) {
    const spec2 = spec.checks.find((x) => x.label === c.label)!;
    let line = `  ${c.label} = ${fmtCheck(spec2, c.value)}`;
    if (c.target !== undefined) {
      line += `   target ${c.target}: ${c.met ? 'MET' : 'MISSED'}`;
      if (c.goalMet !== undefined && c.met) line += c.goalMet ? ', goal met' : ', goal not met';
    }
    out.push(line);
  }
  return out.join('\n');
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    date: new Date().toISOString(),
  };
}

async function mainDriver(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const selected = CASES.filter((c) => opts.filters.length === 0 || opts.filters.some((f) => c.name.includes(f)));
  if (selected.length === 0) usage(`no case matches ${opts.filters.join(', ')}`);
  const mach = machine();
  console.log(`kqueue benchmarks: ${mach.cpu}, ${mach.cores} cores, Node ${mach.node} (V8 ${mach.v8}), ${mach.os}`);
  console.log(`load average at start: ${mach.loadavg} (other processes on the machine skew absolute numbers; ratios are measured interleaved)`);
  console.log(`${opts.runs} run${opts.runs === 1 ? '' : 's'} per case in separate processes${opts.quick ? ', --quick' : ''}; medians reported\n`);
  const results: Record<string, CaseResult> = {};
  let failed = false;
  for (const spec of selected) {
    try {
      const res = await runCase(spec, opts);
      results[spec.name] = res;
      console.log(report(spec, res) + '\n');
    } catch (e) {
      failed = true;
      console.error(`## ${spec.name}: FAILED\n${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const checks = Object.values(results).flatMap((r) => r.checks.filter((c) => c.met !== undefined));
  const missed = checks.filter((c) => !c.met);
  console.log(`targets: ${checks.length - missed.length} of ${checks.length} met${missed.length ? `; missed: ${missed.map((c) => c.label).join('; ')}` : ''}`);
  if (opts.json !== undefined) {
    writeFileSync(opts.json, JSON.stringify({ machine: mach, runs: opts.runs, quick: opts.quick, cases: results }, null, 2) + '\n');
    console.log(`results written to ${opts.json}`);
  }
  if (failed) process.exitCode = 1;
}

await mainDriver();
