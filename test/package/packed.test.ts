// The package as users get it: `npm pack`'s tarball, installed into a fresh project, imported
// from JavaScript, and its declarations compiled by a strict TypeScript user (skipLibCheck off,
// tsc's default) under both module resolutions people use.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let work: string;
let project: string;
let installed: string;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'kqueue-pack-'));
  // --ignore-scripts: the tarball is packed from the dist/ this test run built; a prepare script
  // rebuilding it here would pull the compiled tests out from under the running suite.
  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work],
    { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
  project = join(work, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', join(work, name)], { cwd: project });
  installed = join(project, 'node_modules', 'kqueue');
});

after(() => rmSync(work, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test('the tarball has a LICENSE, and every source map points at a file it ships', () => {
  assert.ok(existsSync(join(installed, 'LICENSE')));
  const maps = files(installed).filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 0);
  for (const map of maps) {
    for (const source of JSON.parse(readFileSync(map, 'utf8')).sources as string[]) {
      const target = resolve(dirname(map), source);
      assert.ok(existsSync(target), `${relative(installed, map)} points at missing ${source}`);
    }
  }
});

test('an installed package is imported from JavaScript by its name', () => {
  writeFileSync(join(project, 'use.js'), `
    import { kqueue, EVFILT_USER, EV_ADD, NOTE_TRIGGER } from 'kqueue';
    const kq = kqueue();
    kq.keventSync([{ ident: 1, filter: EVFILT_USER, flags: EV_ADD }], 0);
    const [ev] = kq.keventSync([{ ident: 1, filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 1);
    kq.close();
    console.log(JSON.stringify({ ident: ev.ident, filter: ev.filter }));
  `);
  const out = execFileSync(process.execPath, ['use.js'], { cwd: project, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { ident: 1, filter: -9 });
});

for (const [module, moduleResolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler']] as const) {
  test(`its declarations compile for a strict TypeScript user (module ${module}, moduleResolution ${moduleResolution}, skipLibCheck off)`, () => {
    const dir = join(project, `ts-${moduleResolution}`);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'use.ts'), `
      import { kqueue, Kqueue, KqueueError, VirtualClock, EVFILT_TIMER, EV_ADD, type KEvent } from 'kqueue';
      const kq: Kqueue = kqueue({ clock: new VirtualClock() });
      const events: Promise<KEvent[]> = kq.kevent([{ ident: 't', filter: EVFILT_TIMER, flags: EV_ADD, data: 5 }], 8, 0);
      const e: KqueueError | undefined = undefined;
      void events; void e;
      // @ts-expect-error the engine is not part of the published surface
      void kq.collect;
    `);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, skipLibCheck: false, noEmit: true, module, moduleResolution, target: 'ES2022',
        lib: ['ES2022'], types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['use.ts'],
    }));
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
    } catch (err) {
      assert.fail(`tsc failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
    }
  });
}
