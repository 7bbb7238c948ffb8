// Phase J: the hostile-ident fuzz (test/fuzz/hostile-idents.test.ts) at soak size, in its own
// process under the test runner, since it is a node:test file with its own leak checks; KQ_FUZZ_RUNS
// sets its number of random runs (1,500 in `npm test`), KQ_FUZZ_SEED their seed.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { failures, log, turn } from './harness.js';

const FILE = fileURLToPath(new URL('../fuzz/hostile-idents.test.js', import.meta.url));

export async function phaseHostileFuzz(runs: number): Promise<void> {
  // A new seed each soak (printed, so a failure can be replayed with KQ_FUZZ_SEED).
  const seed = Math.floor(Math.random() * 0x7fffffff);
  log(`\n== J. hostile idents on every filter, ${runs} random runs, seed ${seed} (test/fuzz/hostile-idents.test.ts)`);
  const t0 = performance.now();
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', FILE], {
      env: { ...process.env, KQ_FUZZ_RUNS: String(runs), KQ_FUZZ_SEED: String(seed) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { text += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { text += d; });
    child.on('close', (c) => resolve({ code: c, out: text }));
  });
  // The child's process handle is closed on a later turn than its 'close' event.
  await turn();
  await turn();
  const pass = /^# pass (\d+)/m.exec(out)?.[1] ?? '?';
  const fail = /^# fail (\d+)/m.exec(out)?.[1] ?? '?';
  log(`   ${pass} tests passed, ${fail} failed, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (code !== 0) failures.push(`J. hostile fuzz at ${runs} runs failed (exit ${code}):\n${out.slice(-4000)}`);
}
