import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** The built library's entry, for scripts run in a child Node process. */
export const LIBRARY = new URL('../../src/index.js', import.meta.url).href;

export interface NodeResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Node options before the script (`--expose-gc`). */
  nodeArgs?: string[];
  /** A command the child Node runs under (`['unshare', '-fp', '--mount-proc']`). */
  wrap?: string[];
}

/** The URL of a built module of the library, for scripts that reach inside (`filters/proc.js`). */
export function libraryModule(path: string): string {
  return new URL(path, LIBRARY).href;
}

/**
 * Runs an ES module script in a child Node process (`import ... from LIBRARY` works in it) and
 * resolves with how it ended. `onLine` sees each stdout line as it arrives (to signal the child
 * once it is ready). The child is killed if it outlives `timeoutMs` (then the result shows it).
 */
export function runNode(t: TestContext, script: string,
  onLine?: (line: string, child: ChildProcess) => void, timeoutMs = 20_000, options: RunOptions = {}): Promise<NodeResult> {
  const node = [process.execPath, ...(options.nodeArgs ?? []), '--input-type=module', '-e', script];
  const argv = [...(options.wrap ?? []), ...node];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let partial = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      partial += d;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        onLine?.(line, child);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves once `c` has exited (at once if it already has). */
export function exited(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.once('exit', () => resolve());
  });
}

/** The state letter of /proc/<pid>/stat, or null once the process is gone. */
export function stateOf(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.charAt(s.lastIndexOf(')') + 2);
  } catch {
    return null;
  }
}
