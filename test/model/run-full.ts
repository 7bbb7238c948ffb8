// The full model-based run (`npm run test:model`): 100,000 generated operation sequences, each
// compared step by step with the reference model. Usage:
//   node build/test/model/run-full.js [seed] [count]
// MODEL_COVERAGE=1 also prints how often each rule of the model fired.
import fc from 'fast-check';
import { modelProperty, showSequence } from './commands.js';
import { coverage } from './model.js';

const seedArg = process.argv[2];
const countArg = process.argv[3];
const seed = seedArg !== undefined && seedArg !== '' ? Number(seedArg) : Math.floor(Math.random() * 2 ** 31);
const count = countArg !== undefined && countArg !== '' ? Number(countArg) : 100_000;
if (!Number.isInteger(seed) || !Number.isInteger(count) || count <= 0) {
  console.error('usage: node build/test/model/run-full.js [seed] [count]');
  process.exit(2);
}

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const every = Math.max(1, Math.floor(count / 20));
let runs = 0;
let shrinking = false;
console.log(`model-based run: seed ${seed}, ${count} sequences`);
const details = await fc.check(
  modelProperty(() => {
    if (shrinking) return;
    runs++;
    if (runs % every === 0) console.log(`  ${runs} sequences (${elapsed()})`);
  }),
  {
    seed,
    numRuns: count,
    reporter: undefined,
  },
);
shrinking = true;
if (process.env.MODEL_COVERAGE) {
  for (const k of Object.keys(coverage).sort()) console.log(`  ${k.padEnd(44)} ${coverage[k]}`);
}
if (details.failed) {
  const err = details.errorInstance;
  console.error(`FAILED: sequence ${details.numRuns} of ${count} diverged (seed ${seed}, path "${details.counterexamplePath}", shrunk ${details.numShrinks} times, ${elapsed()})`);
  console.error(err instanceof Error ? err.message : String(err));
  if (details.counterexample !== null) console.error(`shrunk sequence:\n${showSequence(details.counterexample[0])}`);
  process.exitCode = 1;
} else {
  console.log(`ok: ${details.numRuns} sequences ran without a divergence in ${elapsed()} (seed ${seed})`);
}
