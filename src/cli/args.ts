/**
 * util.parseArgs for kq's own commands (watch, tail), with its errors as one short line each
 * (`unknown option --bogus`, `option --pid needs a value`) and the usage hint after it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT_USAGE } from './common.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, usageLine: string): {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[];
} {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: r.positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    let msg = err.message;
    const opt = /'(-[^' ]+)/.exec(msg)?.[1];
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') msg = `unknown option ${opt ?? ''}`.trim();
    else if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      msg = /argument missing/.test(msg) ? `option ${opt ?? ''} needs a value` : `option ${opt ?? ''} takes no value`;
    } else if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') msg = 'unexpected argument';
    throw new CliError(`${msg} (${usageLine})`, EXIT_USAGE);
  }
}

/** A non-negative number of milliseconds from an option, or a usage error naming it. */
export function msOption(name: string, text: string, min = 0): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw new CliError(`${name} takes a number of milliseconds, not '${text}'`, EXIT_USAGE);
  const v = Number(text);
  if (v < min) throw new CliError(`${name} must be at least ${min}`, EXIT_USAGE);
  return v;
}
