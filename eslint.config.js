// Lint configuration: typescript-eslint's recommended rules on all TypeScript sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The layers check themselves: the engine and the clocks know no Node resource, the clocks
  // know no knote, and the kq tool is a client of the public entry like any other.
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*'], message: 'the engine knows no Node resource' },
        { group: ['../descriptors/*', '../filters/*', '../cli/*', '../sysfilt.js', '../kqueue.js'], message: 'the engine knows filters and descriptors only through the FilterTable it is given' },
      ] }],
    },
  },
  {
    files: ['src/clock/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*'], message: 'clocks use only the globals every JavaScript host has' },
        { group: ['../engine/*'], message: 'clocks arm generic entries: they know no knote' },
      ] }],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['../*', '!../index.js'], message: 'the kq tool uses only the public entry (../index.js)' },
      ] }],
    },
  },
);
