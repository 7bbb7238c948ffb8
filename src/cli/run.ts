import { CliError, EXIT_ERROR, exit } from './common.js';

export const RUN_HELP = `usage: kq run [-acdnprsxz] utility [argument [/_] ...] < filenames

Runs utility when any of the files named on standard input changes (entr(1)).
`;

export async function runMain(argv: string[]): Promise<never> {
  if (argv[0] === '--help') {
    process.stdout.write(RUN_HELP);
    return exit(0);
  }
  throw new CliError('not implemented yet', EXIT_ERROR);
}
