/**
 * POSIX getopt(3) as BSD tools use it, for the commands that copy one (`kq run` is entr,
 * `kq wait` is pwait): options come first and end at the first operand or `--`, letters
 * combine (`-cc`, `-rz`), an option's value may be attached (`-t5`) or follow (`-t 5`).
 * util.parseArgs cannot stop at the first operand, which entr needs: `kq run echo -n hi`
 * passes `-n` to echo.
 */
export interface GetoptResult {
  /** Each option letter with its occurrences (values for options that take one). */
  opts: Map<string, string[]>;
  operands: string[];
  /** `--help` as the first argument (our addition; BSD getopt has no long options). */
  help: boolean;
}

export class GetoptError extends Error {
  constructor(message: string, readonly letter: string) {
    super(message);
  }
}

/** `spec` as getopt's optstring: `"acdnprsxz"`, `"ot:v"` (a colon: the letter takes a value). */
export function getopt(argv: string[], spec: string): GetoptResult {
  const opts = new Map<string, string[]>();
  let i = 0;
  if (argv[0] === '--help') return { opts, operands: argv.slice(1), help: true };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a.length < 2 || a[0] !== '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const at = spec.indexOf(c);
      if (at < 0 || c === ':') throw new GetoptError(`invalid option -- '${c}'`, c);
      const list = opts.get(c) ?? [];
      opts.set(c, list);
      if (spec[at + 1] === ':') {
        let value: string | undefined = a.slice(j + 1);
        if (value === '') value = argv[++i];
        if (value === undefined) throw new GetoptError(`option requires an argument -- '${c}'`, c);
        list.push(value);
        break;
      }
      list.push('');
    }
  }
  return { opts, operands: argv.slice(i), help: false };
}

export function count(r: GetoptResult, letter: string): number {
  return r.opts.get(letter)?.length ?? 0;
}
