// npm's prepare step: build unless dist/ is already newer than every source. `npm install` on a
// fresh clone builds; `npx kq`, which installs this very project into npm's exec cache and runs
// prepare again (in this directory), then costs nothing and does not pull the compiled files out
// from under anything else that is running.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const stamp = join('dist', 'cli', 'main.js');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const f of readdirSync(path)) t = Math.max(t, newest(join(path, f)));
  return t;
}

const inputs = ['src', 'test', 'bench', 'examples', 'package.json', 'tsconfig.base.json', 'tsconfig.build.json', 'tsconfig.json'];
const built = existsSync(stamp) && existsSync('build') ? statSync(stamp).mtimeMs : 0;
if (built === 0 || inputs.some((p) => existsSync(p) && newest(p) > built)) {
  execSync('npm run build', { stdio: 'inherit' });
}
